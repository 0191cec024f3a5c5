"""A plugin that hangs is stopped after `[plugins] timeout_seconds` (a message, a timer, an
event), logged and counted, and breaks nothing else; a shutdown gives a recovery run its
grace; a ticket held up by a slow plugin says so (a developer's trial read "another hub")."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conversation.model import utcnow
from hub.app import Hub
from hub.sdk import EventContext, Outcome, Plugin, PluginContext, TimerContext
from hub.settings import ConfigError
from tests.helpers import customer_message, eventually, make_config, running_hub
from tests.test_plugin_recovery import Clock, leave_unprocessed

TIMEOUT = 1.0


class Hangs(Plugin):
    """Never returns on a message that says "hang" (a forgotten await on a dead service)."""

    events = frozenset({"status"})

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if "hang" in ctx.message.text:
            await asyncio.sleep(3600)
        return None

    async def on_timer(self, ctx: TimerContext) -> None:
        await asyncio.sleep(3600)

    async def on_event(self, ctx: EventContext) -> None:
        await asyncio.sleep(3600)


class Answers(Plugin):
    """Answers every message and fires its timers: what must keep working beside a hung plugin."""

    def __init__(self, name: str, settings: Any) -> None:
        super().__init__(name, settings)
        self.fired: list[str] = []

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        await ctx.reply(f"answered: {ctx.message.text}")
        return None

    async def on_timer(self, ctx: TimerContext) -> None:
        self.fired.append(ctx.timer.name)


def config(tmp_path: Path, timeout: float = TIMEOUT) -> Any:
    # "echo" enabled: a hub with plugins marks each message's plugins as yet to run (recovery
    # looks for those); the tests put their own plugins in its place
    return make_config(tmp_path, {"plugins": {"enabled": ["echo"], "timeout_seconds": timeout}})


def counted(hub: Hub, name: str) -> tuple[float, float]:
    return (
        hub.metrics.plugin_timeouts.labels(name)._value.get(),
        hub.metrics.plugin_errors.labels(name)._value.get(),
    )


async def test_a_plugin_hanging_on_a_message_is_stopped_and_the_next_plugins_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_hub(config(tmp_path)) as hub:
        hub.pipeline.plugins = [Hangs("hangs", {}), Answers("answers", {})]
        with caplog.at_level(logging.ERROR, logger="hub.pipeline"):
            await hub.ingest(customer_message("m1", "please hang"))
            sent = hub.adapters["chat"].sent  # type: ignore[attr-defined]
            await eventually(lambda: [o.message.text for o in sent] == ["answered: please hang"], timeout=TIMEOUT + 4)
        assert counted(hub, "hangs") == (1, 1)
        assert "plugin hangs ran longer than 1 s on ticket #1000 and was stopped" in caplog.text
        # its ticket is free again: the next message is answered at once, not left for recovery
        await hub.ingest(customer_message("m2", "thanks"))
        await eventually(lambda: [o.message.text for o in sent][-1:] == ["answered: thanks"])


async def test_a_plugin_hanging_on_a_timer_does_not_hold_up_the_timers_after_it(tmp_path: Path) -> None:
    async with running_hub(config(tmp_path)) as hub:
        answers = Answers("answers", {})
        host = hub.plugin_host
        host.plugins = {"hangs": Hangs("hangs", {}), "answers": answers}
        for plugin, name in (("hangs", "stuck"), ("answers", "reminder")):
            ctx = TimerContext(plugin, None, None, None, {}, hub.actions, host)  # type: ignore[arg-type]
            await ctx.schedule(utcnow() - timedelta(minutes=2 if plugin == "hangs" else 1), name)
        assert await asyncio.wait_for(host.fire_due_timers(), TIMEOUT + 4) == 2
        assert answers.fired == ["reminder"]
        assert counted(hub, "hangs") == (1, 1)


async def test_a_plugin_hanging_on_a_ticket_event_is_stopped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with running_hub(config(tmp_path)) as hub:
        hub.plugin_host.plugins = {"hangs": Hangs("hangs", {})}
        record = await hub.ingest(customer_message("m1", "hello"))
        with caplog.at_level(logging.ERROR, logger="hub.plugin_host"):
            await hub.actions.update_conversation(record.conversation, {"status": "resolved"})
            await asyncio.wait_for(hub.plugin_host.settle(), TIMEOUT + 4)
        assert counted(hub, "hangs") == (1, 1)
        assert "ran longer than 1 s on the status change of ticket #1000" in caplog.text


async def test_a_ticket_held_by_a_slow_plugin_in_this_hub_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "TICKET_LEASE_WAIT", 0.2)
    async with running_hub(config(tmp_path, timeout=3)) as hub:
        hub.pipeline.plugins = [Hangs("hangs", {})]
        with caplog.at_level(logging.INFO, logger="hub.pipeline"):
            await hub.ingest(customer_message("m1", "hang on"))
            await hub.ingest(customer_message("m2", "anyone there?"))
            await eventually(lambda: "postponed for recovery" in caplog.text)
        assert "this hub is still running plugins on an earlier message of its ticket (a slow plugin?)" in caplog.text
        assert "another hub" not in caplog.text


async def test_a_recovery_run_under_way_at_shutdown_gets_the_grace_to_finish(tmp_path: Path) -> None:
    finished: list[str] = []

    class Slow(Plugin):
        async def on_message(self, ctx: PluginContext) -> Outcome | None:
            await asyncio.sleep(0.5)
            finished.append(ctx.message.text)
            return None

    hub = Hub(config(tmp_path, timeout=5))  # shutdown_grace_seconds = 2 (make_config)
    await hub.start()
    try:
        hub.pipeline.plugins = [Slow("slow", {})]
        await leave_unprocessed(hub, "left by a crash")
        hub.pipeline.clock = Clock(utcnow() + timedelta(minutes=5))
        recovering = asyncio.create_task(hub.pipeline.recover())
        await asyncio.sleep(0.1)  # the run has begun
        hub._background.append(recovering)  # as the hub's recovery loop: stop() cancels it first
    finally:
        await hub.stop()
    assert finished == ["left by a crash"]


def test_a_plugin_time_limit_past_the_tickets_hold_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"plugins.timeout_seconds: must be at most 50"):
        config(tmp_path, timeout=120)
