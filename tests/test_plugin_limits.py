"""A plugin that hangs is stopped after `[plugins] timeout_seconds` (a message, a timer, an
event), logged and counted; on a message a person takes the ticket. A run keeps its ticket's
lease while it lasts; the platform's retries are not cut; a shutdown gives a recovery run its
grace; a ticket held up says whose run holds it (a developer's trial read "another hub")."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conversation.model import utcnow
from hub.app import Hub
from hub.plugin_limits import timer_limit
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


async def handed_to_person(hub: Hub, conversation_id: str) -> bool:
    found = await hub.store.tickets.get_conversation(conversation_id)
    return found is not None and found.human_owned


def counted(hub: Hub, name: str) -> tuple[float, float]:
    return (
        hub.metrics.plugin_timeouts.labels(name)._value.get(),
        hub.metrics.plugin_errors.labels(name)._value.get(),
    )


async def test_a_plugin_hanging_on_a_message_is_stopped_and_a_person_takes_the_ticket(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It may have stopped half-way (an account locked, nothing said yet): the bots after it do
    not answer over it; the ticket is handed to a person, saying why in each agent's language."""
    from conversation.model import MessageKind
    from hub.api.serialize import shown_text

    async with running_hub(config(tmp_path)) as hub:
        hub.pipeline.plugins = [Hangs("hangs", {}), Answers("answers", {})]
        with caplog.at_level(logging.ERROR, logger="hub.pipeline"):
            record = await hub.ingest(customer_message("m1", "please hang"))

            await eventually(lambda: handed_to_person(hub, record.conversation.id), timeout=TIMEOUT + 4)
        assert counted(hub, "hangs") == (1, 1)
        # one plain line, no traceback of the hub's timer (a trial read a verbless line and a trace)
        [line] = [r.getMessage() for r in caplog.records if "ran longer" in r.getMessage()]
        assert line.startswith("plugin hangs ran longer than 1 s on ticket #1000 and was stopped")
        assert line.endswith("; the ticket goes to a person") and "Traceback" not in caplog.text
        thread = await hub.store.tickets.list_messages(record.conversation.id)
        [event] = [m for m in thread if m.kind is MessageKind.EVENT and "hangs" in m.text]
        assert shown_text(event, "en") == "Handed to a person by hangs: it did not finish within 1 s and was stopped"
        assert shown_text(event, "zh-CN") == "hangs 已转交人工处理：未在 1 秒内完成，已被中止"
        sent = hub.adapters["chat"].sent  # type: ignore[attr-defined]
        # its ticket is free again at once (not left for recovery), and no bot talks over the person
        second = await hub.ingest(customer_message("m2", "anyone?"))

        async def done() -> bool:
            found = await hub.store.tickets.get_message(second.message.id)
            return found is not None and found.plugins_done

        await eventually(done)
        assert [o.message.text for o in sent] == []


class Raises(Plugin):
    """Fails on every message (a bug, a service answering what it never did)."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        raise KeyError("order")


async def test_a_plugin_raising_on_a_message_hands_the_ticket_to_a_person(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As after a timeout: a customer whose message only a crashed bot read waited unseen, the
    thread saying nothing (a developer's trial)."""
    from conversation.model import MessageKind
    from hub.api.serialize import shown_text

    async with running_hub(config(tmp_path)) as hub:
        hub.pipeline.plugins = [Raises("boom", {}), Answers("answers", {})]
        with caplog.at_level(logging.ERROR, logger="hub.pipeline"):
            record = await hub.ingest(customer_message("m1", "订单 12345 到哪了"))

            await eventually(lambda: handed_to_person(hub, record.conversation.id))
        assert counted(hub, "boom") == (0, 1)
        assert "plugin boom failed on conversation" in caplog.text and "KeyError: 'order'" in caplog.text
        thread = await hub.store.tickets.list_messages(record.conversation.id)
        [event] = [m for m in thread if m.kind is MessageKind.EVENT and "boom" in m.text]
        assert shown_text(event, "en") == "Handed to a person by boom: it failed (an error, in the hub's log)"
        assert shown_text(event, "zh-CN") == "boom 已转交人工处理：运行出错（详见服务日志）"
        assert hub.adapters["chat"].sent == []  # type: ignore[attr-defined]  # no bot answers over the person


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
            await eventually(lambda: "they run when that run ends" in caplog.text)
        assert "this hub is still running plugins on an earlier message of its ticket (a slow plugin?)" in caplog.text
        assert "another hub" not in caplog.text


async def test_messages_that_waited_for_a_slow_run_run_in_order_the_moment_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial's 30 s plugin left the ticket's next message for recovery: answered 2 min 45 s
    later. They run when the slow run ends, oldest first, each once."""
    import hub.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "TICKET_LEASE_WAIT", 1.0)

    class SlowThenAnswers(Answers):
        async def on_message(self, ctx: PluginContext) -> Outcome | None:
            if ctx.message.text == "slow":
                await asyncio.sleep(1.5)
            return await super().on_message(ctx)

    async with running_hub(config(tmp_path, timeout=5)) as hub:
        hub.pipeline.plugins = [SlowThenAnswers("answers", {})]
        await hub.ingest(customer_message("m1", "slow"))
        await asyncio.sleep(0.1)
        await hub.ingest(customer_message("m2", "two"))
        await asyncio.sleep(1.1)  # m2 gave up waiting (1 s); m3, late in the slow run, still waits (a review)
        await hub.ingest(customer_message("m3", "three"))
        sent = hub.adapters["chat"].sent  # type: ignore[attr-defined]
        expected = ["answered: slow", "answered: two", "answered: three"]
        await eventually(lambda: [o.message.text for o in sent] == expected, timeout=4)  # recovery: 2 minutes
        await asyncio.sleep(0.5)
        assert [o.message.text for o in sent] == expected  # each once
        left = await hub.store.tickets.messages_awaiting_plugins(before=utcnow(), limit=10, max_attempts=5)
        assert left == []


async def test_a_held_message_waiting_behind_a_slow_run_keeps_its_live_events_until_it_has_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: a message queued behind its ticket's run keeps its live-event hold (a complaint
    about an agent must not reach that agent's feed before the plugin has moved it)."""
    import hub.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "TICKET_LEASE_WAIT", 1.0)
    ran: list[str] = []

    class SlowAndHolds(Answers):
        def holds_live(self, inbound: Any) -> bool:
            return bool(inbound.text == "held")

        async def on_message(self, ctx: PluginContext) -> Outcome | None:
            if ctx.message.text == "slow":
                await asyncio.sleep(1.0)
            ran.append(ctx.message.text)
            return await super().on_message(ctx)

    async with running_hub(config(tmp_path, timeout=5)) as hub:
        hub.pipeline.plugins = [SlowAndHolds("answers", {})]
        feed = hub.bus.subscribe()
        await hub.ingest(customer_message("m1", "slow"))
        await asyncio.sleep(0.1)
        held = await hub.ingest(customer_message("m2", "held"))
        arrived: list[tuple[str, bool]] = []  # (message id, whether "held" had run by then)
        while not any(i == held.message.id for i, _ in arrived):
            event = await asyncio.wait_for(feed.queue.get(), 5)
            arrived.append((event.data.get("message_id", ""), "held" in ran))
        assert (held.message.id, True) in arrived  # only once its plugins had run on it
        assert ran == ["slow", "held"]


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


def test_a_plugin_time_limit_above_ten_minutes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"plugins.timeout_seconds: must be at most 600"):
        config(tmp_path, timeout=3600)


def test_a_timers_limit_is_at_most_half_its_lease() -> None:
    """Past its lease, another hub would fire it again while it still runs."""
    assert timer_limit(120, 120) == 60 and timer_limit(20, 120) == 20


async def test_a_run_longer_than_the_tickets_lease_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each plugin is bounded, not the run: a run of slow plugins outlasted its ticket's lease
    (a minute) and another hub could have started on the ticket meanwhile (a review)."""
    import hub.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "TICKET_LEASE_TTL", timedelta(seconds=0.3))
    taken: list[bool] = []

    class Slow(Plugin):
        async def on_message(self, ctx: PluginContext) -> Outcome | None:
            for _ in range(4):  # 1.2 s: four times the lease
                await asyncio.sleep(0.3)
                taken.append(
                    await hub.store.coordination.acquire_lease(
                        f"plugins:ticket:{ctx.conversation.id}", "another-hub", now=utcnow(), ttl=timedelta(minutes=1)
                    )
                )
            return None

    async with running_hub(config(tmp_path, timeout=5)) as hub:
        hub.pipeline.plugins = [Slow("slow", {})]
        await hub.ingest(customer_message("m1", "hello"))
        await eventually(lambda: len(taken) == 4, timeout=5)
    assert taken == [False, False, False, False]


async def test_a_message_waiting_behind_a_run_that_waits_for_another_hub_blames_that_hub(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The earlier run of this hub is not slow: it waits for another hub process's run."""
    import hub.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "TICKET_LEASE_WAIT", 0.5)
    async with running_hub(config(tmp_path)) as hub:
        hub.pipeline.plugins = [Answers("answers", {})]
        first = await hub.ingest(customer_message("m0", "hello"))
        await hub.store.coordination.acquire_lease(
            f"plugins:ticket:{first.conversation.id}", "another-hub", now=utcnow(), ttl=timedelta(minutes=1)
        )
        with caplog.at_level(logging.INFO, logger="hub.pipeline"):
            await hub.ingest(customer_message("m1", "one"))
            await asyncio.sleep(0.1)
            await hub.ingest(customer_message("m2", "two"))
            await eventually(lambda: caplog.text.count("recovery runs them") == 2, timeout=5)
        assert "a slow plugin" not in caplog.text
        assert caplog.text.count("another hub process is running plugins on its ticket") == 2


async def test_a_platform_retry_runs_to_its_end_past_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored side effect's retry (a refund, a lock) is bounded by the platform client's own
    time-outs and must end in a done or failed report: the plugin limit does not cut it (a
    review: cut, it was dropped after five rounds and nobody was told)."""
    from hub.platform import PLATFORM_TIMER
    from hub.plugin_host import PluginHost

    reported: list[str] = []

    async def slow_retry(plugin: Plugin, ctx: TimerContext, bounded: Any) -> None:
        await asyncio.sleep(TIMEOUT + 0.5)  # the platform answered late, within its own bounds
        reported.append(ctx.timer.name)
        await bounded(plugin.on_timer(ctx))  # the plugin's report hook: bounded (Answers returns at once)

    monkeypatch.setattr(PluginHost, "_platform_retry", staticmethod(slow_retry))
    async with running_hub(config(tmp_path)) as hub:
        assert await fire_a_platform_retry(hub, Answers("answers", {})) == 1
        assert reported == [PLATFORM_TIMER] and counted(hub, "answers") == (0, 0)


async def test_a_recovery_run_that_fails_after_its_round_was_cancelled_is_still_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class SlowPoison(Plugin):
        async def on_message(self, ctx: PluginContext) -> Outcome | None:
            await asyncio.sleep(0.3)
            ctx.state["bad"] = object()  # not JSON: saving the state raises after the plugin returns
            return None

    async with running_hub(config(tmp_path, timeout=5)) as hub:
        hub.pipeline.plugins = [SlowPoison("poison", {})]
        await leave_unprocessed(hub, "left by a crash")
        hub.pipeline.clock = Clock(utcnow() + timedelta(minutes=5))
        with caplog.at_level(logging.ERROR):
            round_ = asyncio.create_task(hub.pipeline.recover())
            await asyncio.sleep(0.1)
            round_.cancel()  # as a shutdown cancels the recovery loop; the run goes on
            await asyncio.gather(round_, return_exceptions=True)
            await eventually(lambda: "background task helpline-plugins-" in caplog.text, timeout=3)
        assert "cannot be stored in plugin or channel state" in caplog.text


async def test_a_message_whose_run_begins_after_an_earlier_hand_off_sees_it(tmp_path: Path) -> None:
    """The next message was stored while the earlier one's run was handing the ticket to a
    person; its own run began once that ended, on the copy read at ingest, and the bot
    answered over the person (a trial: 4 tickets in 85)."""

    class HandsOff(Plugin):
        async def on_message(self, ctx: PluginContext) -> Outcome | None:
            if ctx.message.text == "first":
                await asyncio.sleep(0.3)
                await ctx.hand_off("a person should answer")
            else:
                await ctx.reply(f"bot: {ctx.message.text}")
            return None

    raw = {"plugins": {"enabled": ["echo"], "concurrency": 1}}  # the second waits for a slot, not the ticket
    async with running_hub(make_config(tmp_path, raw)) as hub:
        hub.pipeline.plugins = [HandsOff("handsoff", {})]
        await hub.ingest(customer_message("m1", "first"))
        await asyncio.sleep(0.1)
        second = await hub.ingest(customer_message("m2", "second"))
        assert not second.conversation.human_owned  # the copy it was stored with

        async def done() -> bool:
            found = await hub.store.tickets.get_message(second.message.id)
            return found is not None and found.plugins_done

        await eventually(done)
        assert [o.message.text for o in hub.adapters["chat"].sent] == []  # type: ignore[attr-defined]


async def test_recovery_does_not_count_a_ticket_held_by_a_long_run_as_a_failed_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message waiting behind a long run was counted a failed attempt at each recovery round
    and parked after five, its bots never answering (a review)."""
    import hub.pipeline as pipeline_module
    from hub.pipeline import MAX_PLUGIN_ATTEMPTS, RECOVERY_AGE

    monkeypatch.setattr(pipeline_module, "TICKET_LEASE_WAIT", 0.1)
    async with running_hub(config(tmp_path, timeout=60)) as hub:
        hub.pipeline.plugins = [Hangs("hangs", {})]
        await hub.ingest(customer_message("m1", "hang on", thread="t1"))  # its run holds the ticket
        await asyncio.sleep(0.1)
        waiting = await hub.store.tickets.record_inbound(
            customer_message("m2", "still there?", thread="t1"), now=utcnow(), policy=hub.pipeline.ticketing
        )
        later = Clock(utcnow() + timedelta(minutes=5))
        hub.pipeline.clock = later
        for _ in range(MAX_PLUGIN_ATTEMPTS + 2):
            await hub.pipeline.recover()
        left = await hub.store.tickets.messages_awaiting_plugins(
            before=later() - RECOVERY_AGE, limit=10, max_attempts=MAX_PLUGIN_ATTEMPTS
        )
        assert waiting.message.id in [m.id for m in left]  # still waiting its turn, not parked


async def test_after_a_timeout_the_plugins_that_always_run_still_do_and_one_hand_off_is_said(tmp_path: Path) -> None:
    """A review: the hand-off's `break` also skipped the plugins meant to run on a person's
    tickets (status answers, surveys), and a ticket a person had was handed off again."""
    from conversation.model import MessageKind

    class AlwaysAnswers(Answers):
        always_run = True

    async with running_hub(config(tmp_path)) as hub:
        hub.pipeline.plugins = [Hangs("hangs", {}), AlwaysAnswers("always", {})]
        record = await hub.ingest(customer_message("m1", "please hang"))
        sent = hub.adapters["chat"].sent  # type: ignore[attr-defined]
        await eventually(lambda: [o.message.text for o in sent] == ["answered: please hang"], timeout=TIMEOUT + 4)
        await hub.ingest(customer_message("m2", "hang again"))  # a person has it now: no second hand-off
        await eventually(lambda: len(sent) == 2, timeout=TIMEOUT + 4)
        thread = await hub.store.tickets.list_messages(record.conversation.id)
        handed = [m for m in thread if m.kind is MessageKind.EVENT and "Handed to a person" in m.text]
        assert len(handed) == 1


async def test_a_platform_retrys_plugin_hook_that_hangs_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform's call is bounded by its client; the plugin's report hook after it is not
    the platform's, and a hanging one held every timer behind it (a review)."""
    from hub.plugin_host import PluginHost

    async def quick_retry(plugin: Plugin, ctx: TimerContext, bounded: Any) -> None:
        await bounded(plugin.on_timer(ctx))  # as on_platform_done would be called: Hangs never returns

    monkeypatch.setattr(PluginHost, "_platform_retry", staticmethod(quick_retry))
    async with running_hub(config(tmp_path)) as hub:
        assert await asyncio.wait_for(fire_a_platform_retry(hub, Hangs("hangs", {})), TIMEOUT + 4) == 1
        assert counted(hub, "hangs") == (1, 1)


async def fire_a_platform_retry(hub: Any, plugin: Plugin) -> int:
    """A stored platform side effect of `plugin` come due, fired: the timers claimed."""
    from hub.platform import PLATFORM_TIMER

    host = hub.plugin_host
    host.plugins = {plugin.name: plugin}
    ctx = TimerContext(plugin.name, None, None, None, {}, hub.actions, host)
    await ctx.schedule(utcnow() - timedelta(minutes=1), PLATFORM_TIMER, {"operation": "refund"})
    return int(await host.fire_due_timers())


async def test_timers_left_in_a_batch_past_half_its_lease_are_let_go_not_fired_late(tmp_path: Path) -> None:
    """The timers of one claimed batch fire one after another under one lease: after slow ones,
    a timer begun late could outlive the lease and be fired again by another hub (a review)."""
    async with running_hub(config(tmp_path)) as hub:
        loop = hub.supervisor.loops["plugin-timers"].task
        assert loop is not None
        loop.cancel()  # the hub's own rounds would claim the timers between this test's
        await asyncio.wait([loop])
        host = hub.plugin_host
        clock = [utcnow()]
        host.clock = lambda: clock[0]

        attempts: list[int] = []

        class Slow(Answers):
            async def on_timer(self, ctx: TimerContext) -> None:
                await super().on_timer(ctx)
                attempts.append(ctx.timer.attempts)
                clock[0] += timedelta(seconds=70)  # more than half the two-minute lease

        slow = Slow("slow", {})
        host.plugins = {"slow": slow}
        for minutes, name in ((3, "first"), (2, "second"), (1, "third")):
            ctx = TimerContext("slow", None, None, None, {}, hub.actions, host)  # type: ignore[arg-type]
            await ctx.schedule(clock[0] - timedelta(minutes=minutes), name)
        assert await host.fire_due_timers() == 3
        assert slow.fired == ["first"]  # the other two were let go, not fired past the lease
        assert await host.fire_due_timers() == 2  # free at once: the next round claims them
        assert slow.fired == ["first", "second"]
        assert await host.fire_due_timers() == 1
        assert slow.fired == ["first", "second", "third"]
        assert attempts == [1, 1, 1]  # a claim given back was no attempt
