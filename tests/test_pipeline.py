"""ingest(): validation, idempotency, live events, and the plugin SDK in the pipeline."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from conversation.inbound import InvalidInbound, Sender
from conversation.model import AuthorType, Choice, MessageKind, Priority, Status
from conversation.store import InboundRecord
from hub.app import Hub
from hub.sdk import IngestUnavailable
from plugins.greeting import GreetingPlugin
from tests.helpers import GatePlugin, customer_message, eventually, make_config, running_hub


async def test_ingest_stores_then_publishes_then_runs_plugins(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})
    async with running_hub(config) as hub:
        events = hub.bus.subscribe()
        record = await hub.ingest(customer_message("m1", "我无法登录"))

        assert not record.duplicate and record.conversation.number == 1000
        first = await asyncio.wait_for(events.queue.get(), 1)
        second = await asyncio.wait_for(events.queue.get(), 1)
        assert (first.type, second.type) == ("conversation.created", "message.created")
        assert second.data["message_id"] == record.message.id

        await eventually(lambda: hub.adapters["chat"].sent)  # the bot's reply went out
        [reply] = hub.adapters["chat"].sent
        assert reply.message.text == "echo 1: 我无法登录" and reply.message.author_type is AuthorType.BOT
        assert reply.address == "user-1" and reply.conversation.id == record.conversation.id
        stored = await hub.store.tickets.get_message(record.message.id)
        assert stored is not None and stored.plugins_done


async def test_a_retried_message_is_stored_and_answered_once(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})
    async with running_hub(config) as hub:
        records = await asyncio.gather(*(hub.ingest(customer_message("m1")) for _ in range(5)))
        assert [r.duplicate for r in records].count(False) == 1
        await eventually(lambda: hub.adapters["chat"].sent)
        await asyncio.sleep(0.2)
        assert len(hub.adapters["chat"].sent) == 1
        thread = await hub.store.tickets.list_messages(records[0].conversation.id)
        assert [m.direction.value for m in thread] == ["inbound", "outbound"]


@pytest.mark.parametrize(
    ("inbound", "problem"),
    [
        (customer_message("", "hi"), "external_id is required"),
        (customer_message("m1", ""), "no text"),
        (customer_message("m1", "x" * 70_000), "longer than"),
        (customer_message("m1", "hi", sender=Sender(address=" ")), "sender.address"),
        (customer_message("m1", "hi", thread=""), "thread_key"),
    ],
)
async def test_invalid_input_is_refused_and_nothing_is_stored(tmp_path: Path, inbound: object, problem: str) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        with pytest.raises(InvalidInbound, match=problem):
            await hub.ingest(inbound)  # type: ignore[arg-type]
        assert await hub.store.tickets.get_conversation_by_number(1000) is None
        assert await hub.store.contacts.find_identity_contact("chat", "user-1") is None


async def test_plugins_ask_classify_hand_off_and_stop(tmp_path: Path) -> None:
    channels = {"chat": {"type": "recording", "buttons": True}}
    config = make_config(tmp_path, {"channels": channels, "plugins": {"enabled": ["triage", "echo"]}})
    async with running_hub(config) as hub:
        record = await hub.ingest(customer_message("m1", "hello"))
        await eventually(lambda: hub.adapters["chat"].sent)
        [question] = hub.adapters["chat"].sent
        assert question.message.text == "What is it about?"
        assert question.message.choices == [Choice("refund", "refund"), Choice("login", "login")]

        await hub.ingest(customer_message("m2", "", choice_id="refund"))
        conv_id = record.conversation.id

        async def handed_off() -> bool:
            conv = await hub.store.tickets.get_conversation(conv_id)
            return conv is not None and conv.handed_off_at is not None

        await eventually(handed_off)
        conv = await hub.store.tickets.get_conversation(conv_id)
        assert conv is not None
        assert (conv.category, conv.priority, conv.tags, conv.team) == ("dispute", Priority.HIGH, ["money"], "finance")
        thread = await hub.store.tickets.list_messages(conv_id)
        assert any(m.kind is MessageKind.EVENT and "refunds need a person" in m.text for m in thread)
        sent = "Category Transaction dispute sent this to team Finance / refunds"
        assert any(m.kind is MessageKind.EVENT and m.text == sent for m in thread)
        # echo ran neither time: triage stopped it first, then handed off (which stops too)
        assert all(not m.text.startswith("echo") for m in thread)

        await hub.ingest(customer_message("m3", "still there?"))
        await asyncio.sleep(0.3)  # bots stay quiet once a person owns the ticket
        assert len(hub.adapters["chat"].sent) == 1


async def test_a_plugin_that_always_runs_still_runs_after_hand_off(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"plugins": {"enabled": ["always", "echo"]}})
    async with running_hub(config) as hub:
        record = await hub.ingest(customer_message("m1", "first"))
        await eventually(lambda: hub.adapters["chat"].sent)
        await hub.actions.update_conversation(record.conversation, {"assignee_id": "agent-7"})
        done = await hub.ingest(customer_message("m2", "second"))

        async def processed() -> bool:
            message = await hub.store.tickets.get_message(done.message.id)
            return message is not None and message.plugins_done

        await eventually(processed)
        notes = [
            m.text for m in await hub.store.tickets.list_messages(record.conversation.id) if m.kind is MessageKind.NOTE
        ]
        assert notes == ["seen by always: first", "seen by always: second"]
        assert len(hub.adapters["chat"].sent) == 1  # echo did not answer the assigned ticket


async def test_a_raising_plugin_is_logged_with_the_conversation_and_a_person_takes_the_ticket(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, {"plugins": {"enabled": ["broken", "echo"]}})
    async with running_hub(config) as hub:
        with caplog.at_level(logging.ERROR, logger="hub.pipeline"):
            record = await hub.ingest(customer_message("m1", "hi"))

            async def handed_off() -> bool:
                found = await hub.store.tickets.get_conversation(record.conversation.id)
                return found is not None and found.human_owned

            await eventually(handed_off)
        assert hub.adapters["chat"].sent == []  # it may have failed half-way: no bot answers over it
        failure = next(r for r in caplog.records if "broken" in r.getMessage())
        assert record.conversation.id in failure.getMessage() and failure.exc_info is not None
        assert 'plugin_errors_total{plugin="broken"} 1.0' in hub.metrics.render().decode()


async def test_plugin_state_survives_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})
    async with running_hub(config) as hub:
        await hub.ingest(customer_message("m1", "one"))
        await eventually(lambda: hub.adapters["chat"].sent)
    async with running_hub(config) as hub:
        await hub.ingest(customer_message("m2", "two"))
        await eventually(lambda: hub.adapters["chat"].sent)
        assert hub.adapters["chat"].sent[0].message.text == "echo 2: two"


async def test_plugins_left_unrun_by_a_crash_run_on_recovery(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})
    stopped_early = make_config(tmp_path, {"plugins": {"enabled": ["hang"]}, "hub": {"shutdown_grace_seconds": 0.1}})
    async with running_hub(stopped_early) as hub:  # it stops while plugins still run
        record = await hub.ingest(customer_message("m1", "lost?"))
        await asyncio.sleep(0.05)
    async with running_hub(config) as hub:
        # The embedded store serves one process: what it left is run as the next one starts,
        # not two minutes later (README: a restart made bots answer up to two minutes late).
        assert hub.store.serves_one_process
        await eventually(lambda: hub.adapters["chat"].sent, timeout=3)
        assert hub.adapters["chat"].sent[0].message.text == "echo 1: lost?"
        hub.pipeline.clock = lambda: record.message.created_at + timedelta(minutes=5)
        assert await hub.pipeline.recover() == 0  # once


async def test_a_shutting_down_hub_refuses_with_a_retryable_error(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        hub.pipeline.accepting = False
        with pytest.raises(IngestUnavailable):
            await hub.ingest(customer_message("m1"))
        hub.pipeline.accepting = True


async def test_a_resolved_ticket_reopens_through_the_pipeline(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        events = hub.bus.subscribe()
        first = await hub.ingest(customer_message("m1"))
        await hub.actions.update_conversation(first.conversation, {"status": "resolved"})
        again = await hub.ingest(customer_message("m2", "again"))
        assert again.conversation.id == first.conversation.id and again.conversation.status is Status.OPEN
        seen = [events.queue.get_nowait().type for _ in range(events.queue.qsize())]
        assert seen.count("conversation.updated") == 2  # resolved, then reopened


async def test_plugins_run_in_a_bounded_pool_and_the_overflow_waits_for_recovery(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"plugins": {"enabled": ["gate"], "concurrency": 2, "backlog": 3}})
    async with running_hub(config) as hub:
        gate = hub.plugins[0]
        assert isinstance(gate, GatePlugin)
        records = [await hub.ingest(customer_message(f"m{n}", f"burst {n}", thread=f"t{n}")) for n in range(20)]
        await eventually(lambda: gate.running == 2)
        await asyncio.sleep(0.05)
        assert gate.running == 2 and len(hub.pipeline._tasks) == 5  # 2 running, 3 waiting, 15 left stored
        assert "helpline_plugin_runs_deferred_total 15.0" in hub.metrics.render().decode()

        gate.gate.set()
        await eventually(lambda: len(gate.seen) == 5)
        assert gate.peak == 2
        pending = await hub.store.tickets.messages_awaiting_plugins(
            before=records[-1].message.created_at + timedelta(1), limit=50
        )
        assert sorted(m.text for m in pending) == sorted(f"burst {n}" for n in range(5, 20))

        # stored since this process started: young ones wait (on a shared store another process
        # may have them in hand), even on the embedded store
        assert await hub.pipeline.recover() == 0
        hub.pipeline.clock = lambda: records[-1].message.created_at + timedelta(minutes=5)
        assert await hub.pipeline.recover() == 15  # nothing accepted is lost
        assert sorted(gate.seen) == sorted(f"burst {n}" for n in range(20))


async def greetings_per_ticket(hub: Hub, records: list[InboundRecord]) -> list[int]:
    tickets = sorted({record.conversation.id for record in records})
    return [
        sum(m.author_type is AuthorType.BOT for m in await hub.store.tickets.list_messages(ticket))
        for ticket in tickets
    ]


async def test_back_to_back_first_messages_get_one_greeting(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, {"plugins": {"enabled": ["greeting"], "greeting": {"days": [], "hours": "00:00-23:59"}}}
    )
    async with running_hub(config) as hub:
        tickets = 20
        records = await asyncio.gather(
            *(
                hub.ingest(customer_message(f"m{n}-{i}", f"hello {i}", thread=f"t{n}"))
                for n in range(tickets)
                for i in (1, 2)
            )
        )
        for record in records:
            await eventually(lambda record=record: _plugins_done(hub, record.message.id))
        assert await greetings_per_ticket(hub, records) == [1] * tickets


@pytest.mark.mongo
async def test_two_hubs_on_one_database_greet_a_new_ticket_once(tmp_path: Path, mongo_db_uri: str) -> None:
    config = make_config(
        tmp_path,
        {"plugins": {"enabled": ["greeting"], "greeting": {"days": [], "hours": "00:00-23:59"}}},
        storage_url=mongo_db_uri,
    )
    async with running_hub(config) as first, running_hub(config) as second:
        for hub in (first, second):
            assert isinstance(hub.plugins[0], GreetingPlugin)
        tickets = 30
        records = await asyncio.gather(
            *(
                hub.ingest(customer_message(f"m{n}-{i}", f"hello {i}", thread=f"t{n}"))
                for n in range(tickets)
                for i, hub in ((1, first), (2, second))
            )
        )
        for record in records:
            await eventually(lambda record=record: _plugins_done(first, record.message.id))
        assert await greetings_per_ticket(first, records) == [1] * tickets


async def _plugins_done(hub: Hub, message_id: str) -> bool:
    message = await hub.store.tickets.get_message(message_id)
    return message is not None and message.plugins_done


async def test_a_plugin_task_that_fails_unexpectedly_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_hub(make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})) as hub:

        async def bug(*args: object, **kwargs: object) -> None:
            raise RuntimeError("bookkeeping bug")

        hub.pipeline.run_plugins = bug  # type: ignore[method-assign]
        record = await hub.ingest(customer_message("m1"))
        await eventually(lambda: not hub.pipeline._tasks)
        [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert record.message.id in failure.getMessage() and "bookkeeping bug" in str(failure.exc_info[1])


async def test_a_button_no_bot_offered_on_the_ticket_is_read_as_its_text(tmp_path: Path) -> None:
    """Any client can send any button id (the webhook's `choice`, a forged widget frame):
    one no bot offered must not answer a question never asked."""
    channels = {"chat": {"type": "recording", "buttons": True}}
    config = make_config(tmp_path, {"channels": channels, "plugins": {"enabled": ["triage"]}})
    async with running_hub(config) as hub:
        record = await hub.ingest(customer_message("m1", "refund", choice_id="refund"))  # before any question
        await eventually(lambda: hub.adapters["chat"].sent)
        [question] = hub.adapters["chat"].sent
        assert question.message.text == "What is it about?"  # asked, not handed off as a refund
        conv = await hub.store.tickets.get_conversation(record.conversation.id)
        assert conv is not None and conv.handed_off_at is None and conv.category == ""
        stored = await hub.store.tickets.get_message(record.message.id)
        assert stored is not None and (stored.text, stored.choice_id) == ("refund", "")  # its text alone

        await hub.ingest(customer_message("m2", "refund", choice_id="refund"))  # now it was offered
        await eventually(lambda: handed_to_finance(hub, record.conversation.id))


async def test_a_button_offered_before_the_ticket_was_closed_still_counts_on_the_ticket_that_follows(
    tmp_path: Path,
) -> None:
    """A closed ticket never reopens: the customer's late tap opens a new ticket linked to
    it, and the button was offered there."""
    channels = {"chat": {"type": "recording", "buttons": True}}
    config = make_config(tmp_path, {"channels": channels, "plugins": {"enabled": ["triage"]}})
    async with running_hub(config) as hub:
        first = await hub.ingest(customer_message("m1", "hello"))
        await eventually(lambda: hub.adapters["chat"].sent)  # "What is it about?"
        await hub.actions.update_conversation(first.conversation, {"status": "closed"})
        late = await hub.ingest(customer_message("m2", "refund", choice_id="refund"))
        assert late.conversation.id != first.conversation.id
        assert late.conversation.previous_id == first.conversation.id
        await eventually(lambda: handed_to_finance(hub, late.conversation.id))


async def test_a_button_offered_on_a_ticket_merged_away_still_counts(tmp_path: Path) -> None:
    """A merge moves a ticket's messages into the other one: a later tap on the merged
    ticket's thread goes on in that one (the same customer's), where the offer now is."""
    channels = {"chat": {"type": "recording", "buttons": True}}
    config = make_config(tmp_path, {"channels": channels, "plugins": {"enabled": ["triage"]}})
    async with running_hub(config) as hub:
        asked = await hub.ingest(customer_message("m1", "hello", thread="a"))
        await eventually(lambda: hub.adapters["chat"].sent)  # "What is it about?" on thread a
        other = await hub.ingest(customer_message("m2", "another thing", thread="b"))
        await eventually(lambda: len(hub.adapters["chat"].sent) >= 2)
        await hub.services.conversations.merge(asked.conversation, other.conversation, who="Li Na")
        late = await hub.ingest(customer_message("m3", "refund", thread="a", choice_id="refund"))
        assert late.conversation.id == other.conversation.id
        await eventually(lambda: handed_to_finance(hub, late.conversation.id))


async def test_a_message_on_a_merged_tickets_thread_goes_on_in_the_ticket_it_was_merged_into(
    tmp_path: Path,
) -> None:
    """As an email reply or the chat window does: a trial's follow-up on a merged webhook
    thread opened a new ticket, which the agent had to merge again. Merged into another
    customer's ticket, it opens one of its own (replies there go to that customer)."""
    async with running_hub(make_config(tmp_path)) as hub:
        merged = await hub.ingest(customer_message("m1", "改收货地址", thread="o-10"))
        kept = await hub.ingest(customer_message("m2", "订单没到", thread="o-1"))
        resolved = await hub.actions.update_conversation(kept.conversation, {"status": "resolved"})
        # an open question merged into a resolved ticket reopens it (it left every waiting view, a trial)
        survivor = await hub.services.conversations.merge(merged.conversation, resolved, who="Li Na")
        assert survivor.status is Status.OPEN
        await hub.actions.update_conversation(survivor, {"status": "resolved"})
        follow_up = await hub.ingest(customer_message("m3", "地址改好了吗？", thread="o-10"))
        assert follow_up.conversation.id == kept.conversation.id  # reopened there
        assert follow_up.conversation.status is Status.OPEN

        # a platform user on their own "<thread>~<id>" of another's thread follows their merge too
        owner = Sender(address="seller-1")
        await hub.ingest(customer_message("s1", "订单 9 的问题", thread="order-9", sender=owner, own_threads=True))
        buyer = Sender(address="buyer-1")
        named = await hub.ingest(customer_message("b1", "卖家不发货", thread="order-9", sender=buyer, own_threads=True))
        own = await hub.ingest(customer_message("b2", "另一个问题", thread="buyer-1", sender=buyer, own_threads=True))
        assert named.conversation.thread_key == "order-9~buyer-1"
        await hub.services.conversations.merge(named.conversation, own.conversation, who="Li Na")
        again = await hub.ingest(customer_message("b3", "还在等", thread="order-9", sender=buyer, own_threads=True))
        assert again.conversation.id == own.conversation.id

        strangers = await hub.ingest(customer_message("m4", "退款", thread="s-1", sender=Sender(address="user-2")))
        await hub.services.conversations.merge(strangers.conversation, kept.conversation, who="Li Na")
        again = await hub.ingest(customer_message("m5", "还有问题", thread="s-1", sender=Sender(address="user-2")))
        assert again.conversation.id not in (kept.conversation.id, strangers.conversation.id)
        assert again.conversation.customer_address == "user-2"


async def test_a_forged_yes_tap_opens_an_ordinary_ticket_not_a_hidden_one(tmp_path: Path) -> None:
    """A tap answering a bot is filed quietly (no reopened or new open ticket): a "yes" id
    that no bot offered, as a new thread's first message, must open a ticket agents see."""
    channels = {"chat": {"type": "recording", "buttons": True}}
    config = make_config(tmp_path, {"channels": channels, "plugins": {"enabled": ["faq"]}})
    async with running_hub(config) as hub:
        record = await hub.ingest(customer_message("m1", "Yes", thread="new", choice_id="faq:yes"))
        assert record.conversation.status is Status.OPEN and record.message.choice_id == ""


async def handed_to_finance(hub: Hub, conversation_id: str) -> bool:
    """Whether the triage plugin took the "refund" tap: handed off as a dispute."""
    conv = await hub.store.tickets.get_conversation(conversation_id)
    return conv is not None and conv.handed_off_at is not None and conv.category == "dispute"
