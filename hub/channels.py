"""Channel start-up and health: a provider that is down never takes the hub down.

Each channel is started on its own. One that cannot start (Telegram's getMe or Slack's
auth.test unreachable, a token the provider rejects) is marked degraded with a clear
reason and started again with exponential backoff, while the inbox and every other
channel run. Adapters report trouble they meet later (a polling loop told the token is
wrong) through `HubPort.report_channel`. The state shows in /healthz, in
`helpline_channel_up{channel=...}` and on the inbox's admin screen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversation.model import utcnow
from hub.backoff import backoff
from hub.metrics import Metrics
from hub.sdk import Adapter, ConfigError, HubPort
from hub.settings import declared_fields, setting_value

log = logging.getLogger(__name__)

START_RETRY_BASE = 2.0
START_RETRY_CAP = 300.0
START_TIMEOUT = 20.0  # one start attempt; a provider that hangs must not hold up the hub's own start


@dataclass
class ChannelState:
    up: bool = False
    state: str = "starting"  # starting, up, degraded
    reason: str = ""
    started: bool = False  # its start() completed (a started channel may be degraded later, and still receives)
    since: datetime | None = None


def start_error_reason(adapter: Adapter, exc: BaseException) -> str:
    """One line an operator can act on; never a secret (some client libraries quote the token)."""
    text = f"{exc.__class__.__name__}: {exc}".strip()
    for name, field in declared_fields(type(adapter)).items():
        value = setting_value(adapter.settings, name)
        if field.secret and isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, "[secret]")
    lowered = text.lower()
    if "rejected" not in lowered and any(
        word in lowered for word in ("invalid token", "invalid_auth", "not_authed", "unauthorized", " 401")
    ):
        return f"the provider rejected the token ({text}); check the channel's token in hub.toml"
    return text


class ChannelSupervisor:
    """Starts every channel, restarts the ones that failed, and keeps their state."""

    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        metrics: Metrics,
        *,
        base_delay: float = START_RETRY_BASE,
        max_delay: float = START_RETRY_CAP,
        start_timeout: float = START_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.adapters = adapters
        self.metrics = metrics
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.start_timeout = start_timeout
        self.clock = clock
        self.states: dict[str, ChannelState] = {name: ChannelState() for name in adapters}
        self._retries: dict[str, asyncio.Task[None]] = {}
        for name in adapters:
            metrics.channel_up.labels(name).set(0)

    def report(self, channel: str, *, up: bool, reason: str = "") -> None:
        state = self.states.setdefault(channel, ChannelState())
        new_state = "up" if up else "degraded"
        if state.state != new_state:
            state.since = self.clock()
        if state.state != new_state or state.reason != reason:
            if up:
                log.info("channel %s is up", channel)
            else:
                log.warning("channel %s is degraded: %s", channel, reason)
        state.up, state.state, state.reason = up, new_state, reason
        self.metrics.channel_up.labels(channel).set(1 if up else 0)

    async def start_all(self, hub: HubPort) -> None:
        """Start each channel; a configuration error stops the hub, anything else degrades one channel."""
        for name, adapter in self.adapters.items():
            if not await self._try_start(name, adapter, hub, attempt=1):
                self._retries[name] = asyncio.create_task(
                    self._keep_starting(name, adapter, hub), name=f"helpline-{name}-start"
                )

    async def _try_start(self, name: str, adapter: Adapter, hub: HubPort, *, attempt: int) -> bool:
        try:
            await asyncio.wait_for(adapter.start(hub), timeout=self.start_timeout)
        except ConfigError:
            raise
        except TimeoutError:
            reason = f"no answer within {self.start_timeout:g}s"
            self.report(name, up=False, reason=f"not started (attempt {attempt}): {reason}")
            return False
        except Exception as exc:
            reason = start_error_reason(adapter, exc)
            self.report(name, up=False, reason=f"not started (attempt {attempt}): {reason}")
            return False
        self.states.setdefault(name, ChannelState()).started = True
        self.report(name, up=True)
        return True

    async def _keep_starting(self, name: str, adapter: Adapter, hub: HubPort) -> None:
        attempt = 1
        while True:
            await asyncio.sleep(backoff(attempt, base=self.base_delay, cap=self.max_delay))
            attempt += 1
            try:
                if await self._try_start(name, adapter, hub, attempt=attempt):
                    return
            except ConfigError as exc:  # found only now (a provider's answer): say so, stop trying
                self.report(name, up=False, reason=str(exc))
                return

    async def stop(self) -> None:
        for task in self._retries.values():
            task.cancel()
        await asyncio.gather(*self._retries.values(), return_exceptions=True)  # cancelled: nothing to report

    def started(self, channel: str) -> bool:
        """Whether the channel's start() completed: before that its web routes answer 503."""
        state = self.states.get(channel)
        return state is not None and state.started

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "state": state.state,
                "up": state.up,
                "reason": state.reason,
                "since": state.since.isoformat() if state.since else None,
            }
            for name, state in sorted(self.states.items())
        }
