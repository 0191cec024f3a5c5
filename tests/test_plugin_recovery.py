"""Plugin recovery renews its lease and parks what keeps failing (issue 10, point 4)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import hub.pipeline as pipeline_module
from conversation.model import utcnow
from hub.app import Hub
from hub.pipeline import RECOVERY_LEASE
from hub.sdk import Outcome, Plugin, PluginContext
from tests.helpers import customer_message, eventually, make_config, running_hub


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class PoisonPlugin(Plugin):
    """Answers every message, but cannot save its state for a message that says "poison"."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.message.text == "poison":
            ctx.state["bad"] = object()  # not JSON: saving the state raises, every time
            return None
        await ctx.reply(f"answered: {ctx.message.text}")
        return None


async def leave_unprocessed(hub: Hub, *texts: str) -> None:
    """Messages stored as a crashed hub leaves them: their plugins never ran."""
    for number, text in enumerate(texts):
        await hub.store.tickets.record_inbound(
            customer_message(f"m{number}", text, thread=f"t{number}"), now=utcnow(), policy=hub.pipeline.ticketing
        )


async def test_a_poison_message_is_parked_and_does_not_starve_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(
        pipeline_module, "RECOVERY_BATCH", 1, raising=False
    )  # one message a round: the oldest is poison
    async with running_hub(make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})) as hub:
        hub.pipeline.plugins = [PoisonPlugin("poison", {})]
        await leave_unprocessed(hub, "poison", "my order is late")
        hub.pipeline.clock = Clock(utcnow() + timedelta(minutes=5))
        with caplog.at_level(logging.WARNING, logger="hub.pipeline"):
            for _ in range(10):
                await hub.pipeline.recover()  # a round never raises, whatever a message does
        await eventually(lambda: [o.message.text for o in hub.adapters["chat"].sent] == ["answered: my order is late"])
        assert await hub.pipeline.recover() == 0  # the poison message is parked, not retried forever
        assert any("parked after 5 failed attempts" in r.getMessage() for r in caplog.records)


async def test_a_long_recovery_round_keeps_its_lease(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})) as hub:
        clock = Clock(utcnow() + timedelta(minutes=5))
        seen: list[bool] = []

        class SlowPlugin(Plugin):
            async def on_message(self, ctx: PluginContext) -> Outcome | None:
                clock.now += timedelta(minutes=4)  # each message takes four minutes
                taken = await hub.store.coordination.acquire_lease(
                    RECOVERY_LEASE, "another-hub", now=clock.now, ttl=timedelta(1)
                )
                seen.append(taken)
                return None

        hub.pipeline.plugins = [SlowPlugin("slow", {})]
        await leave_unprocessed(hub, "one", "two", "three")
        hub.pipeline.clock = clock
        assert await hub.pipeline.recover() == 3
        assert seen == [False, False, False]  # twelve minutes in, no other hub took the five-minute lease
