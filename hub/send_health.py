"""Whether each channel's replies are getting through, as this hub process sees its own
delivery attempts: a channel can be "up" (started, its provider answering our checks) while
every reply to it fails (a platform's callback receiver down, a relay refusing mail), and an
operator watching /healthz saw "ok" while replies were being given up on (a trial)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.metrics import Metrics

log = logging.getLogger(__name__)

# Failing this long without one reply getting through: said in /healthz and the log. Shorter
# failures are a retry's ordinary business.
FAILING_AFTER = timedelta(minutes=1)


@dataclass
class Sending:
    failing_since: datetime | None = None  # the first failed attempt since the last success
    last_error: str = ""
    said: bool = False  # the warning is logged once per failing stretch


class SendHealth:
    def __init__(self, metrics: Metrics, clock: Callable[[], datetime]) -> None:
        self.metrics = metrics
        self.clock = clock
        self._channels: dict[str, Sending] = {}

    def watch(self, channels: Iterable[str]) -> None:
        """Give each channel its `helpline_channel_sending` series from the start (1: nothing has
        failed yet), so an alert on it sees a channel that has sent nothing so far."""
        for channel in channels:
            if channel not in self._channels:
                self.metrics.channel_sending.labels(channel).set(1)

    def delivered(self, channel: str) -> None:
        sending = self._channels.get(channel)
        if sending is not None and sending.failing_since is not None and sending.said:
            log.info("channel %s: replies get through again", channel)
        self._channels[channel] = Sending()
        self.metrics.channel_sending.labels(channel).set(1)

    def failed(self, channel: str, error: str) -> None:
        """An attempt that will be retried, or given up on, for a reason of the channel's."""
        sending = self._channels.setdefault(channel, Sending())
        now = self.clock()
        sending.failing_since = sending.failing_since or now
        sending.last_error = error
        if self.failing(channel):
            self.metrics.channel_sending.labels(channel).set(0)
            if not sending.said:
                sending.said = True
                log.warning(
                    "channel %s: no reply has got through since %s (%s); they are retried",
                    channel,
                    sending.failing_since.isoformat(timespec="seconds"),
                    error,
                )

    def failing(self, channel: str) -> bool:
        sending = self._channels.get(channel)
        since = sending.failing_since if sending is not None else None
        return since is not None and self.clock() - since >= FAILING_AFTER

    def report(self) -> dict[str, dict[str, object]]:
        """For /healthz: each channel this hub has sent on, whether replies get through. Not the
        error itself, which may quote a receiver's answer (and so a reply's words): the log has it."""
        return {
            channel: {
                "failing": self.failing(channel),
                "failing_since": sending.failing_since.isoformat() if sending.failing_since else None,
            }
            for channel, sending in sorted(self._channels.items())
        }

    def last_error(self, channel: str) -> str:
        sending = self._channels.get(channel)
        return sending.last_error if sending is not None else ""
