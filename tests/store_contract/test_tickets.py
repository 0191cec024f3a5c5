"""The Store contract for tickets and messages: ingest, routing, edits, merges, plugin runs (both backends)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conversation.errors import InvalidInput
from conversation.inbound import Inbound, Sender
from conversation.model import (
    Attachment,
    AuthorType,
    Choice,
    ConversationQuery,
    Delivery,
    DeliveryStatus,
    Direction,
    Message,
    MessageKind,
    Priority,
    Status,
    new_id,
    utcnow,
)
from conversation.priority_rules import KeywordRules
from conversation.routing import Route, shown_thread
from conversation.store import (
    NotFound,
    Store,
)
from tests.store_contract.common import POLICY, inbound, three_tickets


async def test_first_message_creates_contact_identity_ticket_and_message(store: Store) -> None:
    now = utcnow()
    record = await store.tickets.record_inbound(inbound("m1"), now=now, policy=POLICY)

    assert not record.duplicate and record.route is Route.OPEN_NEW
    conv = record.conversation
    assert conv.number == 1000 and conv.status is Status.OPEN and conv.channel == "telegram"
    assert conv.subject == "my order never arrived"
    assert conv.created_at == now and conv.created_at.tzinfo is not None
    assert record.contact.name == "Wang Fang"
    assert [(i.channel, i.address) for i in record.contact.identities] == [("telegram", "user-42")]

    thread = await store.tickets.list_messages(conv.id)
    assert [(m.text, m.direction, m.author_type, m.author_id) for m in thread] == [
        ("my order never arrived", Direction.INBOUND, AuthorType.CONTACT, record.contact.id)
    ]
    assert thread[0].created_at == now and thread[0].created_at.utcoffset() == timedelta(0)
    assert thread[0].plugins_done is False
    assert await store.tickets.get_conversation_by_number(1000) == conv


async def test_messages_on_one_thread_share_a_ticket_other_threads_get_new_numbers(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    again = await store.tickets.record_inbound(inbound("m2", text="any news?"), now=utcnow(), policy=POLICY)
    other = await store.tickets.record_inbound(inbound("m3", thread="chat-2"), now=utcnow(), policy=POLICY)

    assert again.route is Route.APPEND and again.conversation.id == first.conversation.id
    assert other.conversation.number == 1001
    assert other.contact.id == first.contact.id  # same person, same identity
    assert [m.text for m in await store.tickets.list_messages(first.conversation.id)] == [
        "my order never arrived",
        "any news?",
    ]


async def test_an_own_threads_sender_never_joins_another_senders_ticket(store: Store) -> None:
    """A thread is its sender's (Inbound.own_threads): another sender naming it gets one of
    their own. A third who named that sender's "<thread>~<id>" first, to catch their messages,
    does not: the sender goes to a key no one else can name, and stays there."""

    def says(external_id: str, thread: str, who: str) -> Inbound:
        return inbound(external_id, thread=thread, sender=Sender(address=who), own_threads=True)

    owner = await store.tickets.record_inbound(says("m1", "order-9", "seller"), now=utcnow(), policy=POLICY)
    squat = await store.tickets.record_inbound(says("m2", "order-9~buyer", "mallory"), now=utcnow(), policy=POLICY)
    buyer = await store.tickets.record_inbound(says("m3", "order-9", "buyer"), now=utcnow(), policy=POLICY)
    # The platform names back the thread its callback said ("order-9~buyer"): the same ticket.
    again = await store.tickets.record_inbound(says("m4", "order-9~buyer", "buyer"), now=utcnow(), policy=POLICY)
    mallory = await store.tickets.record_inbound(says("m5", "order-9~buyer", "mallory"), now=utcnow(), policy=POLICY)

    assert buyer.route is Route.OPEN_NEW
    tickets = {owner.conversation.id, squat.conversation.id, buyer.conversation.id}
    assert len(tickets) == 3
    assert buyer.conversation.customer_address == "buyer"
    assert shown_thread(buyer.conversation.thread_key) == "order-9~buyer"
    assert again.conversation.id == buyer.conversation.id and again.route is Route.APPEND
    assert mallory.conversation.id == squat.conversation.id
    assert [m.text for m in await store.tickets.list_messages(squat.conversation.id)] == [
        "my order never arrived"
    ] * 2  # mallory's two, none of the buyer's


async def test_an_own_thread_stays_its_senders_after_their_ticket_is_closed(store: Store) -> None:
    """A closed ticket still says whose thread it is: the buyer writing on the seller's thread
    after the seller's ticket closed goes to their own, not to the thread's new ticket, and the
    seller's next message opens theirs where it was; a squatter's closed ticket on
    "<thread>~<buyer>" does not split the buyer's open ticket in two."""

    def says(external_id: str, thread: str, who: str) -> Inbound:
        return inbound(external_id, thread=thread, sender=Sender(address=who), own_threads=True)

    async def record(external_id: str, thread: str, who: str) -> Any:
        return await store.tickets.record_inbound(says(external_id, thread, who), now=utcnow(), policy=POLICY)

    async def close(record: Any) -> None:
        await store.tickets.update_conversation(record.conversation.id, {"status": Status.CLOSED}, now=utcnow())

    seller = await record("m1", "order-9", "seller")
    await close(seller)
    buyer = await record("m2", "order-9", "buyer")
    assert buyer.route is Route.OPEN_NEW and shown_thread(buyer.conversation.thread_key) == "order-9~buyer"
    seller_again = await record("m3", "order-9", "seller")
    assert seller_again.conversation.thread_key == "order-9" and seller_again.conversation.customer_address == "seller"

    squat = await record("m4", "order-7~ann", "mallory")
    await record("m5", "order-7", "owner")
    ann = await record("m6", "order-7", "ann")  # sealed: mallory holds "order-7~ann"
    await close(squat)
    ann_again = await record("m7", "order-7", "ann")
    assert ann_again.conversation.id == ann.conversation.id and ann_again.route is Route.APPEND


async def test_mongo_routes_a_thread_whose_ticket_is_not_inserted_yet_by_whose_it_is(mongo_db_uri: str) -> None:
    """MongoDB swaps a thread's pointer to a draft before it inserts the ticket: a message
    meeting that draft (its opener slow, or crashed) inserts it and is routed like any ticket,
    so another sender's goes to one of their own (a review: it joined the seller's)."""
    from conversation.mongo import MongoStore

    store = MongoStore(mongo_db_uri, timeout=5)
    await store.open()
    try:

        def says(external_id: str, who: str) -> Inbound:
            return inbound(external_id, thread="order-9", sender=Sender(address=who), own_threads=True)

        seller = await store.tickets.record_inbound(says("m1", "seller"), now=utcnow(), policy=POLICY)
        db = store.tickets._conn.db  # the state between another process's pointer swap and its insert
        await db.conversations.delete_one({"_id": seller.conversation.id})
        await db.messages.delete_many({"conversation_id": seller.conversation.id})
        buyer = await store.tickets.record_inbound(says("m2", "buyer"), now=utcnow(), policy=POLICY)
        assert buyer.conversation.id != seller.conversation.id
        assert (buyer.conversation.customer_address, shown_thread(buyer.conversation.thread_key)) == (
            "buyer",
            "order-9~buyer",
        )
        drafted = await store.tickets.get_conversation(seller.conversation.id)
        assert drafted is not None and drafted.customer_address == "seller"  # the draft, inserted as it was
    finally:
        await store.close()


async def test_a_retried_message_is_stored_once(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    retry = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)

    assert retry.duplicate and retry.route is None
    assert retry.message.id == first.message.id
    assert len(await store.tickets.list_messages(first.conversation.id)) == 1


async def test_a_retry_after_its_ticket_closed_is_a_copy_and_changes_nothing(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"status": "closed"}, now=utcnow())
    # As new, it would open a ticket and rename and rank its sender: as a copy, none of it.
    renamed = Sender(address="user-42", display_name="Fang W.", tier="gold")
    retry = await store.tickets.record_inbound(inbound("m1", sender=renamed), now=utcnow(), policy=POLICY)

    assert retry.duplicate and retry.message.id == first.message.id
    assert retry.conversation.id == first.conversation.id and retry.conversation.status is Status.CLOSED
    assert await store.tickets.get_conversation_by_number(1001) is None
    contact = await store.contacts.get_contact(first.contact.id)
    assert contact is not None and contact.tier == "" and contact.identities[0].display_name == "Wang Fang"


async def test_concurrent_copies_of_one_message_store_it_once(store: Store) -> None:
    records = await asyncio.gather(
        *(store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY) for _ in range(8))
    )

    assert sum(not r.duplicate for r in records) == 1
    assert len({r.message.id for r in records}) == 1
    assert len({r.conversation.id for r in records}) == 1
    assert len(await store.tickets.list_messages(records[0].conversation.id)) == 1
    assert await store.tickets.get_conversation_by_number(1001) is None


async def test_concurrent_messages_on_a_new_thread_open_one_ticket(store: Store) -> None:
    records = await asyncio.gather(
        *(
            store.tickets.record_inbound(inbound(f"m{i}", text=f"part {i}"), now=utcnow(), policy=POLICY)
            for i in range(6)
        )
    )

    assert len({r.conversation.id for r in records}) == 1
    assert len(await store.tickets.list_messages(records[0].conversation.id)) == 6


async def test_a_resolved_ticket_reopens_within_the_window(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    resolved = await store.tickets.update_conversation(first.conversation.id, {"status": "resolved"}, now=utcnow())
    assert resolved.status is Status.RESOLVED and resolved.resolved_at is not None

    again = await store.tickets.record_inbound(inbound("m2", text="it broke again"), now=utcnow(), policy=POLICY)

    assert again.route is Route.REOPEN and again.conversation.id == first.conversation.id
    assert again.conversation.status is Status.OPEN
    thread = await store.tickets.list_messages(first.conversation.id)
    assert [m.kind for m in thread] == [MessageKind.MESSAGE, MessageKind.EVENT, MessageKind.MESSAGE]
    assert "reopened" in thread[1].text


async def test_after_the_window_a_new_ticket_links_the_old_one(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"status": "resolved"}, now=utcnow())

    later = utcnow() + timedelta(days=4)
    again = await store.tickets.record_inbound(inbound("m2"), now=later, policy=POLICY)

    assert again.route is Route.OPEN_NEW and again.conversation.number == 1001
    assert again.conversation.previous_id == first.conversation.id
    assert (await store.tickets.get_conversation(first.conversation.id)).status is Status.RESOLVED  # type: ignore[union-attr]


async def test_the_newest_ticket_on_a_thread_is_the_one_its_next_message_is_routed_by(store: Store) -> None:
    assert await store.tickets.latest_on_thread("telegram", "chat-1") is None
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.record_inbound(inbound("m2", thread="chat-2"), now=utcnow(), policy=POLICY)
    assert (await store.tickets.latest_on_thread("telegram", "chat-1")).id == first.conversation.id  # type: ignore[union-attr]
    await store.tickets.update_conversation(first.conversation.id, {"status": Status.CLOSED}, now=utcnow())
    again = await store.tickets.record_inbound(inbound("m3"), now=utcnow(), policy=POLICY)
    assert (await store.tickets.latest_on_thread("telegram", "chat-1")).id == again.conversation.id  # type: ignore[union-attr]
    assert await store.tickets.latest_on_thread("slack", "chat-1") is None  # threads are per channel


async def test_a_closed_ticket_never_reopens(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"status": Status.CLOSED}, now=utcnow())

    again = await store.tickets.record_inbound(inbound("m2"), now=utcnow(), policy=POLICY)

    assert again.route is Route.OPEN_NEW and again.conversation.id != first.conversation.id


async def test_a_customer_reply_wakes_a_pending_ticket(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"status": "pending"}, now=utcnow())

    again = await store.tickets.record_inbound(inbound("m2"), now=utcnow(), policy=POLICY)

    assert again.conversation.status is Status.OPEN


async def test_update_conversation_validates_before_writing(store: Store) -> None:
    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation

    updated = await store.tickets.update_conversation(
        conv.id,
        {"priority": "urgent", "category": "refund", "tags": ["VIP", "refund", "vip"], "team": "billing"},
        now=utcnow(),
    )
    assert (updated.priority.value, updated.category, updated.tags, updated.team) == (
        "urgent",
        "refund",
        ["refund", "vip"],
        "billing",
    )
    for bad in ({"colour": "red"}, {"status": "deleted"}, {"priority": 3}, {"tags": [""]}, {"tags": "vip"}):
        with pytest.raises(InvalidInput):
            await store.tickets.update_conversation(conv.id, bad, now=utcnow())
    assert await store.tickets.get_conversation(conv.id) == updated
    with pytest.raises(NotFound):
        await store.tickets.update_conversation("nope", {"category": "x"}, now=utcnow())


async def test_merging_conversations_moves_every_message_and_closes_the_source(store: Store) -> None:
    first, second, third = await three_tickets(store)
    merged = await store.tickets.merge_conversations(second, first, now=utcnow())
    assert merged.id == first
    moved = await store.tickets.list_messages(first)
    assert [m.text for m in moved] == ["refund please", "登录失败"]
    # each says where it came from, the first ticket's number kept when merged on again
    numbers = {c: (await store.tickets.get_conversation(c)).number for c in (first, second)}  # type: ignore[union-attr]
    assert [(m.raw or {}).get("merged_from") for m in moved] == [None, numbers[second]]
    assert await store.tickets.list_messages(second) == []
    await store.tickets.merge_conversations(first, third, now=utcnow())
    origins = {m.text: (m.raw or {}).get("merged_from") for m in await store.tickets.list_messages(third)}
    assert origins == {"refund please": numbers[first], "登录失败": numbers[second], "hello": None}
    source = await store.tickets.get_conversation(second)
    assert source is not None and source.status is Status.CLOSED and source.merged_into == first
    assert [c.id for c in (await store.inbox.list_conversations(ConversationQuery()))[0]].count(second) == 0
    with pytest.raises(ValueError):
        await store.tickets.merge_conversations(second, first, now=utcnow())
    with pytest.raises(NotFound):
        await store.tickets.merge_conversations("nope", first, now=utcnow())


async def test_a_message_moves_to_another_conversation(store: Store) -> None:
    first, second, _ = await three_tickets(store)
    [message] = await store.tickets.list_messages(second)
    moved = await store.tickets.move_message(message.id, first)
    assert moved.conversation_id == first
    assert [m.id for m in await store.tickets.list_messages(first)][-1] == message.id
    with pytest.raises(NotFound):
        await store.tickets.move_message("nope", first)
    with pytest.raises(NotFound):
        await store.tickets.move_message(message.id, "nope")


async def test_messages_after_a_given_one(store: Store) -> None:
    ids = [
        (await store.tickets.record_inbound(inbound(f"m{i}"), now=utcnow(), policy=POLICY)).message.id for i in range(3)
    ]
    conv_id = (await store.tickets.get_message(ids[0])).conversation_id  # type: ignore[union-attr]
    assert [m.id for m in await store.tickets.list_messages(conv_id, after=ids[0])] == ids[1:]
    assert await store.tickets.list_messages(conv_id, after=ids[2]) == []
    assert [m.id for m in await store.tickets.list_messages(conv_id, limit=2)] == ids[:2]
    assert [m.id for m in await store.tickets.list_messages(conv_id, after=ids[0], limit=1)] == ids[1:2]


async def test_a_hint_routes_to_the_named_ticket_and_participants_accumulate(store: Store) -> None:
    chat = await store.tickets.record_inbound(
        inbound("w1", channel="webchat", thread="v1"), now=utcnow(), policy=POLICY
    )
    mail = await store.tickets.record_inbound(
        inbound(
            "<a@mail>",
            channel="email",
            thread="<a@mail>",
            conversation_hint=chat.conversation.id,
            participants=("cc@example.com", "cc@example.com"),
        ),
        now=utcnow(),
        policy=POLICY,
    )
    assert mail.conversation.id == chat.conversation.id and mail.route.value == "append"  # type: ignore[union-attr]
    assert mail.conversation.participants == ["cc@example.com"]
    again = await store.tickets.record_inbound(
        inbound(
            "<b@mail>",
            channel="email",
            thread="<b@mail>",
            conversation_hint=chat.conversation.id,
            participants=("boss@example.com", "cc@example.com"),
        ),
        now=utcnow(),
        policy=POLICY,
    )
    assert again.conversation.participants == ["cc@example.com", "boss@example.com"]
    assert (await store.tickets.find_inbound("email", "<a@mail>")).id == mail.message.id  # type: ignore[union-attr]
    assert await store.tickets.find_inbound("email", "<nope@mail>") is None

    await store.tickets.update_conversation(chat.conversation.id, {"status": "closed"}, now=utcnow())
    follow = await store.tickets.record_inbound(
        inbound("<c@mail>", channel="email", thread="<c@mail>", conversation_hint=chat.conversation.id),
        now=utcnow(),
        policy=POLICY,
    )
    assert follow.conversation.id != chat.conversation.id and follow.conversation.previous_id == chat.conversation.id
    assert (follow.conversation.channel, follow.conversation.thread_key) == ("email", "<c@mail>")


async def test_edits_and_deletions_change_the_message_and_keep_what_it_said(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("m1", text="my order 55"), now=utcnow(), policy=POLICY)
    edited = await store.tickets.edit_inbound("telegram", "m1", text="my order 56", deleted=False, at=utcnow())
    assert edited is not None and edited.id == record.message.id and edited.text == "my order 56"
    assert edited.raw is not None and edited.raw["edits"][0]["previous_text"] == "my order 55"
    gone = await store.tickets.edit_inbound("telegram", "m1", text=None, deleted=True, at=utcnow())
    assert gone is not None and gone.text == "my order 56" and "deleted_at" in gone.raw  # type: ignore[operator]
    assert await store.tickets.edit_inbound("telegram", "never", text="x", deleted=False, at=utcnow()) is None
    assert len(await store.tickets.list_messages(record.conversation.id)) == 1


async def test_recovery_tries_the_least_tried_first_and_parks_what_keeps_failing(store: Store) -> None:
    first = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).message
    second = (await store.tickets.record_inbound(inbound("m2"), now=utcnow(), policy=POLICY)).message
    later = utcnow() + timedelta(seconds=1)
    assert [m.id for m in await store.tickets.messages_awaiting_plugins(before=later, limit=1, max_attempts=3)] == [
        first.id
    ]
    assert await store.tickets.count_plugin_attempt(first.id) == 1
    # the oldest was tried once and still waits: the next round takes the other one first
    assert [m.id for m in await store.tickets.messages_awaiting_plugins(before=later, limit=1, max_attempts=3)] == [
        second.id
    ]
    assert await store.tickets.count_plugin_attempt(first.id) == 2
    assert await store.tickets.count_plugin_attempt(first.id) == 3
    assert [m.id for m in await store.tickets.messages_awaiting_plugins(before=later, limit=10, max_attempts=3)] == [
        second.id
    ]  # tried three times: parked
    assert len(await store.tickets.messages_awaiting_plugins(before=later, limit=10)) == 2  # without a cap: all
    assert await store.tickets.count_plugin_attempt("missing") == 0


async def test_messages_racing_onto_a_resolved_ticket_reopen_it_once(store: Store) -> None:
    """One ingest algorithm on both backends: the reopen event is written by the message
    whose status change took effect, so racing messages (and copies) leave one event."""
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"status": "resolved"}, now=utcnow())
    messages = [inbound(f"r{i % 3}", text=f"still broken {i % 3}") for i in range(6)]  # three, each sent twice
    records = await asyncio.gather(*(store.tickets.record_inbound(m, now=utcnow(), policy=POLICY) for m in messages))
    assert {r.conversation.id for r in records} == {first.conversation.id}
    assert sum(not r.duplicate for r in records) == 3
    thread = await store.tickets.list_messages(first.conversation.id)
    assert [m.kind for m in thread].count(MessageKind.EVENT) == 1
    assert len([m for m in thread if m.kind is MessageKind.MESSAGE]) == 4
    assert (await store.tickets.get_conversation(first.conversation.id)).status is Status.OPEN  # type: ignore[union-attr]


async def test_every_field_of_a_message_and_its_delivery_is_kept(store: Store) -> None:
    """Both backends store what the shared codec says (no column list of their own)."""
    ticket = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    at = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    message = Message(
        id=new_id(),
        conversation_id=ticket.conversation.id,
        channel="telegram",
        direction=Direction.OUTBOUND,
        kind=MessageKind.MESSAGE,
        author_type=AuthorType.BOT,
        author_id="faq",
        text="Pick one",
        html="<p>Pick one</p>",
        attachments=[Attachment(name="a.pdf", content_type="application/pdf", size=3, blob_ref="blob-1")],
        choices=[Choice(id="yes", label="Yes"), Choice(id="no", label="No")],
        external_id="tg-55",
        created_at=at,
        delivery=Delivery(
            status=DeliveryStatus.QUEUED,
            attempts=2,
            error="timeout",
            next_attempt_at=at,
            sent_at=None,
            lease_owner="",
            lease_until=None,
            parts_sent=1,
        ),
        plugins_done=True,
        raw={"k": [1, "two"]},
        automatic=True,
        customer_address="user-42",
    )
    await store.tickets.add_message(message)
    assert await store.tickets.get_message(message.id) == message


async def test_a_snooze_time_is_kept_and_cleared(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("s1"), now=utcnow(), policy=POLICY)
    until = (utcnow() + timedelta(hours=5)).replace(microsecond=0)
    snoozed = await store.tickets.update_conversation(
        record.conversation.id, {"status": Status.SNOOZED, "snoozed_until": until}, now=utcnow()
    )
    assert snoozed.status is Status.SNOOZED and snoozed.snoozed_until == until
    listed, _ = await store.inbox.list_conversations(ConversationQuery(status=Status.SNOOZED))
    assert [c.snoozed_until for c in listed] == [until]
    cleared = await store.tickets.update_conversation(
        record.conversation.id, {"status": Status.OPEN, "snoozed_until": None}, now=utcnow()
    )
    assert cleared.snoozed_until is None
    with pytest.raises(ValueError):
        await store.tickets.update_conversation(record.conversation.id, {"snoozed_until": "tomorrow"}, now=utcnow())


async def test_a_keyword_opens_the_ticket_at_its_priority_in_the_same_write(store: Store) -> None:
    """The ticket is stored at the raised priority with its event after the customer's
    message, in the ingest itself: no moment at normal priority, and a retried copy of the
    message adds no second event."""
    policy = replace(POLICY, keywords=KeywordRules(urgent=("被盗",), high=("refund",)))
    now = utcnow()
    record = await store.tickets.record_inbound(inbound("k1", text="我的账号被盗了"), now=now, policy=policy)
    again = await store.tickets.record_inbound(inbound("k1", text="我的账号被盗了"), now=now, policy=policy)
    assert again.duplicate
    stored = await store.tickets.get_conversation(record.conversation.id)
    assert stored is not None and stored.priority is Priority.URGENT is record.conversation.priority
    thread = await store.tickets.list_messages(stored.id)
    assert [(m.kind, m.raw and m.raw.get("event", {}).get("key")) for m in thread] == [
        (MessageKind.MESSAGE, None),
        (MessageKind.EVENT, "event.keyword_priority"),
    ]
    assert thread[1].raw == {
        "event": {"key": "event.keyword_priority", "params": {"keyword": "被盗", "priority": "urgent"}}
    }

    later = await store.tickets.record_inbound(inbound("k2", text="also a refund please"), now=now, policy=policy)
    assert later.route is Route.APPEND and later.conversation.priority is Priority.URGENT  # only a new ticket is raised
    calm = await store.tickets.record_inbound(inbound("k3", thread="t2", text="hello"), now=now, policy=policy)
    assert calm.conversation.priority is Priority.NORMAL
    assert [m.kind for m in await store.tickets.list_messages(calm.conversation.id)] == [MessageKind.MESSAGE]


async def test_a_message_stored_once_by_key_is_not_stored_again_even_by_racing_calls(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("once-1"), now=utcnow(), policy=POLICY)
    conv_id = record.conversation.id

    def event(text: str) -> Message:
        return Message(
            id=new_id(),
            conversation_id=conv_id,
            channel="telegram",
            direction=Direction.OUTBOUND,
            kind=MessageKind.EVENT,
            author_type=AuthorType.SYSTEM,
            text=text,
            raw={"event": {"key": "event.x", "params": {}}},
        )

    first, stored = await store.tickets.add_message_once(event("first"), "sla:c1:warn")
    assert stored and first.raw == {"event": {"key": "event.x", "params": {}}, "once": "sla:c1:warn"}
    again, stored_again = await store.tickets.add_message_once(event("again"), "sla:c1:warn")
    assert not stored_again and again.id == first.id and again.text == "first"
    raced = await asyncio.gather(
        *(store.tickets.add_message_once(event(f"race {i}"), "sla:c1:breach") for i in range(4))
    )
    assert sum(stored for _, stored in raced) == 1 and len({m.id for m, _ in raced}) == 1
    # a key of its own never meets an inbound message's idempotency key, nor another key
    other, other_stored = await store.tickets.add_message_once(event("other"), "telegram\x1fonce-1")
    assert other_stored
    texts = [m.text for m in await store.tickets.list_messages(conv_id) if m.kind is MessageKind.EVENT]
    assert texts[0] == "first" and len(texts) == 3 and texts[2] == "other"


async def test_a_held_message_stores_its_ticket_in_the_hold_team_unless_kept_to_supervisors_already(
    store: Store,
) -> None:
    """A message that may complain about an agent (Ticketing.hold_team): its ticket is opened in,
    or moved to, the hold team in the same step as it is stored; one already in a team kept to
    supervisors (held_teams) stays there."""
    held = replace(POLICY, hold_team="supervisors", held_teams=frozenset({"supervisors", "managers"}))
    opened = await store.tickets.record_inbound(inbound("h1", thread="h1"), now=utcnow(), policy=held)
    assert opened.conversation.team == "supervisors"
    assert (await store.tickets.get_conversation(opened.conversation.id)).team == "supervisors"  # type: ignore[union-attr]

    first = await store.tickets.record_inbound(inbound("h2", thread="h2"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"team": "sales"}, now=utcnow())
    again = await store.tickets.record_inbound(inbound("h3", thread="h2", text="complaint"), now=utcnow(), policy=held)
    assert again.conversation.id == first.conversation.id and again.conversation.team == "supervisors"
    assert (await store.tickets.get_conversation(first.conversation.id)).team == "supervisors"  # type: ignore[union-attr]

    await store.tickets.update_conversation(first.conversation.id, {"team": "managers"}, now=utcnow())
    await store.tickets.record_inbound(inbound("h4", thread="h2", text="again"), now=utcnow(), policy=held)
    assert (await store.tickets.get_conversation(first.conversation.id)).team == "managers"  # type: ignore[union-attr]


async def test_a_ticket_opened_by_files_alone_is_named_by_them(store: Store) -> None:
    """A trial's web-chat photo with no words was listed as "#1012 —"."""
    from conversation.model import Attachment

    photo = Attachment(name="破损.jpg", content_type="image/jpeg", size=10, blob_ref="b1")
    record = await store.tickets.record_inbound(
        inbound("m1", text="", attachments=[photo]), now=utcnow(), policy=POLICY
    )
    assert record.conversation.subject == "📎 破损.jpg"
    words = await store.tickets.record_inbound(
        inbound("m2", thread="t2", text="箱子破了", attachments=[photo]), now=utcnow(), policy=POLICY
    )
    assert words.conversation.subject == "箱子破了"  # words name it first
