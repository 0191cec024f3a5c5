"""The Store contract, run against both backends (embedded SQLite and MongoDB over the wire)."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from conversation.errors import InvalidInput
from conversation.inbound import Inbound, Sender
from conversation.model import (
    Agent,
    AuthorType,
    ConversationQuery,
    Delivery,
    DeliveryStatus,
    Direction,
    Message,
    MessageKind,
    Role,
    Status,
    new_id,
    utcnow,
)
from conversation.routing import Route
from conversation.search_text import SearchRejected, SearchTimedOut
from conversation.store import (
    SCHEMA_VERSION,
    AlreadyExists,
    NotFound,
    SchemaMismatch,
    Store,
    Ticketing,
)
from tests.helpers import poison_message

POLICY = Ticketing(reopen_window=timedelta(days=3), first_number=1000)


def inbound(external_id: str, thread: str = "chat-1", text: str = "my order never arrived", **kw: object) -> Inbound:
    sender = kw.pop("sender", Sender(address="user-42", display_name="Wang Fang"))
    return Inbound(
        channel=str(kw.pop("channel", "telegram")),
        external_id=external_id,
        sender=sender,  # type: ignore[arg-type]
        thread_key=thread,
        text=text,
        **kw,  # type: ignore[arg-type]
    )


def outbound(conversation_id: str, text: str = "We are on it", *, author: AuthorType = AuthorType.AGENT) -> Message:
    return Message(
        id=new_id(),
        conversation_id=conversation_id,
        channel="telegram",
        direction=Direction.OUTBOUND,
        kind=MessageKind.MESSAGE,
        author_type=author,
        author_id="agent-1",
        text=text,
        delivery=Delivery(next_attempt_at=utcnow()),
    )


async def test_first_message_creates_contact_identity_ticket_and_message(store: Store) -> None:
    now = utcnow()
    record = await store.record_inbound(inbound("m1"), now=now, policy=POLICY)

    assert not record.duplicate and record.route is Route.OPEN_NEW
    conv = record.conversation
    assert conv.number == 1000 and conv.status is Status.OPEN and conv.channel == "telegram"
    assert conv.subject == "my order never arrived"
    assert conv.created_at == now and conv.created_at.tzinfo is not None
    assert record.contact.name == "Wang Fang"
    assert [(i.channel, i.address) for i in record.contact.identities] == [("telegram", "user-42")]

    thread = await store.list_messages(conv.id)
    assert [(m.text, m.direction, m.author_type, m.author_id) for m in thread] == [
        ("my order never arrived", Direction.INBOUND, AuthorType.CONTACT, record.contact.id)
    ]
    assert thread[0].created_at == now and thread[0].created_at.utcoffset() == timedelta(0)
    assert thread[0].plugins_done is False
    assert await store.get_conversation_by_number(1000) == conv


async def test_messages_on_one_thread_share_a_ticket_other_threads_get_new_numbers(store: Store) -> None:
    first = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    again = await store.record_inbound(inbound("m2", text="any news?"), now=utcnow(), policy=POLICY)
    other = await store.record_inbound(inbound("m3", thread="chat-2"), now=utcnow(), policy=POLICY)

    assert again.route is Route.APPEND and again.conversation.id == first.conversation.id
    assert other.conversation.number == 1001
    assert other.contact.id == first.contact.id  # same person, same identity
    assert [m.text for m in await store.list_messages(first.conversation.id)] == [
        "my order never arrived",
        "any news?",
    ]


async def test_a_retried_message_is_stored_once(store: Store) -> None:
    first = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    retry = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)

    assert retry.duplicate and retry.route is None
    assert retry.message.id == first.message.id
    assert len(await store.list_messages(first.conversation.id)) == 1


async def test_concurrent_copies_of_one_message_store_it_once(store: Store) -> None:
    records = await asyncio.gather(
        *(store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY) for _ in range(8))
    )

    assert sum(not r.duplicate for r in records) == 1
    assert len({r.message.id for r in records}) == 1
    assert len({r.conversation.id for r in records}) == 1
    assert len(await store.list_messages(records[0].conversation.id)) == 1
    assert await store.get_conversation_by_number(1001) is None


async def test_concurrent_messages_on_a_new_thread_open_one_ticket(store: Store) -> None:
    records = await asyncio.gather(
        *(store.record_inbound(inbound(f"m{i}", text=f"part {i}"), now=utcnow(), policy=POLICY) for i in range(6))
    )

    assert len({r.conversation.id for r in records}) == 1
    assert len(await store.list_messages(records[0].conversation.id)) == 6


async def test_a_resolved_ticket_reopens_within_the_window(store: Store) -> None:
    first = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    resolved = await store.update_conversation(first.conversation.id, {"status": "resolved"}, now=utcnow())
    assert resolved.status is Status.RESOLVED and resolved.resolved_at is not None

    again = await store.record_inbound(inbound("m2", text="it broke again"), now=utcnow(), policy=POLICY)

    assert again.route is Route.REOPEN and again.conversation.id == first.conversation.id
    assert again.conversation.status is Status.OPEN
    thread = await store.list_messages(first.conversation.id)
    assert [m.kind for m in thread] == [MessageKind.MESSAGE, MessageKind.EVENT, MessageKind.MESSAGE]
    assert "reopened" in thread[1].text


async def test_after_the_window_a_new_ticket_links_the_old_one(store: Store) -> None:
    first = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.update_conversation(first.conversation.id, {"status": "resolved"}, now=utcnow())

    later = utcnow() + timedelta(days=4)
    again = await store.record_inbound(inbound("m2"), now=later, policy=POLICY)

    assert again.route is Route.OPEN_NEW and again.conversation.number == 1001
    assert again.conversation.previous_id == first.conversation.id
    assert (await store.get_conversation(first.conversation.id)).status is Status.RESOLVED  # type: ignore[union-attr]


async def test_a_closed_ticket_never_reopens(store: Store) -> None:
    first = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.update_conversation(first.conversation.id, {"status": Status.CLOSED}, now=utcnow())

    again = await store.record_inbound(inbound("m2"), now=utcnow(), policy=POLICY)

    assert again.route is Route.OPEN_NEW and again.conversation.id != first.conversation.id


async def test_a_customer_reply_wakes_a_pending_ticket(store: Store) -> None:
    first = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.update_conversation(first.conversation.id, {"status": "pending"}, now=utcnow())

    again = await store.record_inbound(inbound("m2"), now=utcnow(), policy=POLICY)

    assert again.conversation.status is Status.OPEN


async def test_update_conversation_validates_before_writing(store: Store) -> None:
    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation

    updated = await store.update_conversation(
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
            await store.update_conversation(conv.id, bad, now=utcnow())
    assert await store.get_conversation(conv.id) == updated
    with pytest.raises(NotFound):
        await store.update_conversation("nope", {"category": "x"}, now=utcnow())


async def test_agent_reply_sets_first_response_and_enters_the_outbox(store: Store) -> None:
    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    reply = await store.add_message(outbound(conv.id))

    stored = await store.get_conversation(conv.id)
    assert stored is not None and stored.first_response_at == reply.created_at
    assert await store.count_queued() == 1
    with pytest.raises(NotFound):
        await store.add_message(outbound("missing"))


async def test_each_delivery_is_claimed_by_one_owner(store: Store) -> None:
    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    ids = {(await store.add_message(outbound(conv.id, f"r{i}"))).id for i in range(6)}

    now = utcnow()
    batches = await asyncio.gather(
        *(store.claim_deliveries(f"hub-{n}", now=now, lease=timedelta(seconds=30), limit=6) for n in range(3))
    )
    claimed = [m.id for batch in batches for m in batch]
    assert sorted(claimed) == sorted(ids)  # every one claimed, none twice

    assert await store.claim_deliveries("hub-9", now=now, lease=timedelta(seconds=30), limit=6) == []
    after_expiry = now + timedelta(seconds=31)
    assert len(await store.claim_deliveries("hub-9", now=after_expiry, lease=timedelta(seconds=30), limit=6)) == 6


async def test_an_unreadable_delivery_is_quarantined_and_its_batch_still_claimed(store: Store) -> None:
    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    poison = await store.add_message(outbound(conv.id, "from a newer version"))
    good = await store.add_message(outbound(conv.id, "a normal reply"))
    await poison_message(store, poison.id)

    claimed = await store.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(seconds=30), limit=5)

    assert [m.id for m in claimed] == [good.id]
    assert await store.count_queued() == 1  # the poisoned one is failed, not retried forever
    later = await store.claim_deliveries(
        "hub-b", now=utcnow() + timedelta(hours=1), lease=timedelta(seconds=30), limit=5
    )
    assert [m.id for m in later] == [good.id]


async def test_finishing_a_delivery_needs_the_lease(store: Store) -> None:
    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    msg = await store.add_message(outbound(conv.id))
    [claimed] = await store.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(seconds=30), limit=5)
    assert claimed.delivery is not None and claimed.delivery.lease_owner == "hub-a"

    assert not await store.finish_delivery(msg.id, "hub-b", sent_at=utcnow())
    retry_at = utcnow() + timedelta(seconds=10)
    assert await store.finish_delivery(msg.id, "hub-a", error="429 slow down", retry_at=retry_at)
    waiting = await store.get_message(msg.id)
    assert waiting is not None and waiting.delivery is not None
    assert (waiting.delivery.status, waiting.delivery.attempts, waiting.delivery.next_attempt_at) == (
        DeliveryStatus.QUEUED,
        1,
        retry_at,
    )
    assert await store.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(seconds=30), limit=5) == []

    [again] = await store.claim_deliveries("hub-a", now=retry_at, lease=timedelta(seconds=30), limit=5)
    sent_at = utcnow()
    assert await store.finish_delivery(again.id, "hub-a", sent_at=sent_at, external_id="tg-77")
    sent = await store.get_message(msg.id)
    assert sent is not None and sent.delivery is not None
    assert (sent.delivery.status, sent.delivery.attempts, sent.delivery.sent_at, sent.external_id) == (
        DeliveryStatus.SENT,
        2,
        sent_at,
        "tg-77",
    )
    assert await store.count_queued() == 0


async def test_merges_and_agent_changes_the_rules_refuse_raise_invalid_input_and_change_nothing(store: Store) -> None:
    """Both backends signal a refused request with InvalidInput (the API's 422), never a bare ValueError."""
    first = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    conversation, contact = first.conversation, first.conversation.contact_id
    with pytest.raises(InvalidInput):
        await store.merge_conversations(conversation.id, conversation.id, now=utcnow())
    with pytest.raises(InvalidInput):
        await store.merge_contacts(contact, contact)
    agent = await store.add_agent(Agent(id=new_id(), email="li@example.com", role=Role.AGENT, password_hash="h"))
    with pytest.raises(InvalidInput):
        await store.update_agent(agent.id, {"email": "other@example.com"})
    assert await store.get_conversation(conversation.id) == conversation
    assert await store.get_agent(agent.id) == agent


async def test_a_failed_delivery_keeps_its_error_and_can_be_requeued(store: Store) -> None:
    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    msg = await store.add_message(outbound(conv.id))
    await store.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(seconds=30), limit=5)
    assert await store.finish_delivery(msg.id, "hub-a", error="403: bot was blocked by the user")

    failed = await store.get_message(msg.id)
    assert failed is not None and failed.delivery is not None
    assert (failed.delivery.status, failed.delivery.error) == (
        DeliveryStatus.FAILED,
        "403: bot was blocked by the user",
    )

    requeued = await store.requeue_delivery(msg.id, now=utcnow())
    assert requeued.delivery is not None and requeued.delivery.status is DeliveryStatus.QUEUED
    with pytest.raises(InvalidInput):
        await store.requeue_delivery(msg.id, now=utcnow())
    with pytest.raises(NotFound):
        await store.requeue_delivery("missing", now=utcnow())


async def test_released_deliveries_are_claimable_at_once(store: Store) -> None:
    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    await store.add_message(outbound(conv.id))
    await store.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(minutes=5), limit=5)

    assert await store.release_deliveries("hub-a") == 1
    [claimed] = await store.claim_deliveries("hub-b", now=utcnow(), lease=timedelta(minutes=5), limit=5)
    assert claimed.delivery is not None and claimed.delivery.attempts == 0


async def test_plugin_state_and_pending_plugin_runs(store: Store) -> None:
    record = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    conv_id = record.conversation.id
    assert await store.get_plugin_state(conv_id, "faq") == {}
    await store.set_plugin_state(conv_id, "faq", {"step": 2, "asked": ["a", "b"]})
    await store.set_plugin_state(conv_id, "faq", {"step": 3, "asked": ["a", "b"]})
    assert await store.get_plugin_state(conv_id, "faq") == {"step": 3, "asked": ["a", "b"]}
    assert await store.get_plugin_state(conv_id, "greeting") == {}

    later = utcnow() + timedelta(seconds=1)
    assert [m.id for m in await store.messages_awaiting_plugins(before=later, limit=10)] == [record.message.id]
    await store.mark_plugins_done(record.message.id)
    assert await store.messages_awaiting_plugins(before=later, limit=10) == []


async def test_plugin_state_is_written_by_compare_and_set(store: Store) -> None:
    conv_id = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation.id
    assert await store.load_plugin_state(conv_id, "greeting") == ({}, 0)

    # Two hubs both read "nothing stored yet": only the first write counts.
    assert await store.set_plugin_state(conv_id, "greeting", {"greeted": True}, version=0)
    assert not await store.set_plugin_state(conv_id, "greeting", {"greeted": True, "by": "b"}, version=0)
    assert await store.load_plugin_state(conv_id, "greeting") == ({"greeted": True}, 1)

    assert not await store.set_plugin_state(conv_id, "greeting", {"stale": True}, version=7)
    assert await store.set_plugin_state(conv_id, "greeting", {"greeted": True, "told": "mon"}, version=1)
    assert await store.set_plugin_state(conv_id, "greeting", {"forced": True})  # no version: unconditional
    assert await store.load_plugin_state(conv_id, "greeting") == ({"forced": True}, 3)


async def test_recovery_tries_the_least_tried_first_and_parks_what_keeps_failing(store: Store) -> None:
    first = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).message
    second = (await store.record_inbound(inbound("m2"), now=utcnow(), policy=POLICY)).message
    later = utcnow() + timedelta(seconds=1)
    assert [m.id for m in await store.messages_awaiting_plugins(before=later, limit=1, max_attempts=3)] == [first.id]
    assert await store.count_plugin_attempt(first.id) == 1
    # the oldest was tried once and still waits: the next round takes the other one first
    assert [m.id for m in await store.messages_awaiting_plugins(before=later, limit=1, max_attempts=3)] == [second.id]
    assert await store.count_plugin_attempt(first.id) == 2
    assert await store.count_plugin_attempt(first.id) == 3
    assert [m.id for m in await store.messages_awaiting_plugins(before=later, limit=10, max_attempts=3)] == [
        second.id
    ]  # tried three times: parked
    assert len(await store.messages_awaiting_plugins(before=later, limit=10)) == 2  # without a cap: all
    assert await store.count_plugin_attempt("missing") == 0


async def test_delivered_parts_are_kept_on_the_delivery_for_the_lease_holder(store: Store) -> None:
    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    msg = await store.add_message(outbound(conv.id))
    [claimed] = await store.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(minutes=5), limit=5)
    assert claimed.delivery is not None and claimed.delivery.parts_sent == 0
    assert await store.record_delivery_parts(msg.id, "hub-a", 2)
    assert not await store.record_delivery_parts(msg.id, "hub-b", 3)  # not its lease: nothing changes
    assert await store.record_delivery_parts(msg.id, "hub-a", 1)  # never goes back
    assert await store.finish_delivery(msg.id, "hub-a", error="timeout", retry_at=utcnow())
    [again] = await store.claim_deliveries("hub-b", now=utcnow(), lease=timedelta(minutes=5), limit=5)
    assert again.delivery is not None and again.delivery.parts_sent == 2


async def test_a_lease_has_one_holder_until_it_expires(store: Store) -> None:
    now = utcnow()
    ttl = timedelta(seconds=30)
    assert await store.acquire_lease("imap:support", "hub-a", now=now, ttl=ttl)
    assert not await store.acquire_lease("imap:support", "hub-b", now=now, ttl=ttl)
    assert await store.acquire_lease("imap:support", "hub-a", now=now + timedelta(seconds=20), ttl=ttl)  # renew
    assert not await store.acquire_lease("imap:support", "hub-b", now=now + timedelta(seconds=40), ttl=ttl)
    assert await store.acquire_lease("imap:support", "hub-b", now=now + timedelta(seconds=51), ttl=ttl)
    await store.release_lease("imap:support", "hub-a")  # not the holder: no effect
    assert not await store.acquire_lease("imap:support", "hub-a", now=now + timedelta(seconds=52), ttl=ttl)
    await store.release_lease("imap:support", "hub-b")
    assert await store.acquire_lease("imap:support", "hub-a", now=now + timedelta(seconds=52), ttl=ttl)


async def test_agents_are_unique_by_email_whatever_the_case(store: Store) -> None:
    agent = Agent(id=new_id(), email="Li.Na@Example.com", role=Role.ADMIN, password_hash="$argon2id$x")
    await store.add_agent(agent)
    with pytest.raises(AlreadyExists):
        await store.add_agent(Agent(id=new_id(), email="li.na@example.COM", role=Role.AGENT, password_hash="h"))
    found = await store.get_agent_by_email("LI.NA@example.com")
    assert found == agent and found.created_at.tzinfo == UTC or found.created_at.utcoffset() == timedelta(0)
    assert await store.count_agents() == 1


async def test_contacts_are_found_by_identity(store: Store) -> None:
    record = await store.record_inbound(
        inbound("m1", sender=Sender(address="u7", display_name="Ana", email="ana@example.org")),
        now=utcnow(),
        policy=POLICY,
    )
    contact = await store.find_identity_contact("telegram", "u7")
    assert contact is not None and contact.id == record.contact.id and contact.email == "ana@example.org"
    assert await store.find_identity_contact("telegram", "nobody") is None
    renamed = await store.record_inbound(
        inbound("m2", sender=Sender(address="u7", display_name="Ana B.")), now=utcnow(), policy=POLICY
    )
    assert renamed.contact.identities[0].display_name == "Ana B."


async def test_a_contact_keeps_the_first_language_known_until_an_agent_corrects_it(store: Store) -> None:
    first = await store.record_inbound(
        inbound("m1", sender=Sender(address="u8", language="zh-Hans")), now=utcnow(), policy=POLICY
    )
    assert first.contact.language == "zh-Hans"
    later = await store.record_inbound(
        inbound("m2", sender=Sender(address="u8", language="en")), now=utcnow(), policy=POLICY
    )
    assert later.contact.language == "zh-Hans"  # a channel's word never replaces a known language

    silent = await store.record_inbound(inbound("m3", sender=Sender(address="u9")), now=utcnow(), policy=POLICY)
    assert silent.contact.language == ""
    filled = await store.record_inbound(
        inbound("m4", sender=Sender(address="u9", language="en-GB")), now=utcnow(), policy=POLICY
    )
    assert filled.contact.language == "en-GB"  # an unknown language is filled

    corrected = await store.update_contact(first.contact.id, language="en")
    assert corrected.language == "en"
    again = await store.record_inbound(
        inbound("m5", sender=Sender(address="u8", language="zh-Hans")), now=utcnow(), policy=POLICY
    )
    assert again.contact.language == "en"
    assert (await store.get_contact(first.contact.id)).language == "en"  # type: ignore[union-attr]

    # merging: a contact of unknown language takes the other's; a known one keeps its own
    merged = await store.merge_contacts(first.contact.id, silent.contact.id)
    assert merged.language == "en-GB"
    unknown = await store.record_inbound(inbound("m6", sender=Sender(address="u10")), now=utcnow(), policy=POLICY)
    assert (await store.merge_contacts(silent.contact.id, unknown.contact.id)).language == "en-GB"


async def test_a_database_from_a_newer_helpline_is_refused(store: Store) -> None:
    from conversation.mongo_store import MongoStore
    from conversation.sqlite_store import SQLiteStore

    await store.close()
    if isinstance(store, SQLiteStore):
        import sqlite3

        def set_version(version: int) -> None:
            with sqlite3.connect(store.path) as conn:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))

        again: Store = SQLiteStore(store.path)
    else:
        assert isinstance(store, MongoStore)
        from pymongo import MongoClient

        def set_version(version: int) -> None:
            with MongoClient(store.url) as client:
                client.get_default_database().meta.update_one({"_id": "schema"}, {"$set": {"version": version}})

        again = MongoStore(store.url)
    set_version(99)
    with pytest.raises(SchemaMismatch, match="schema version 99"):
        await again.open()
    await again.close()
    set_version(SCHEMA_VERSION)
    await store.open()  # the current version opens; the fixture closes it


async def test_reopening_keeps_everything_and_is_idempotent(store: Store) -> None:
    record = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.close()
    await store.open()
    assert await store.get_conversation(record.conversation.id) == record.conversation
    again = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    assert again.duplicate


async def test_search_finds_words_in_english_and_chinese_newest_first(store: Store) -> None:
    texts = ["My order #5531 never arrived", "我无法登录我的账户", "Refund for order 77 please", "密码 重置 100%_done"]
    for i, text in enumerate(texts):
        await store.record_inbound(inbound(f"m{i}", thread=f"t{i}", text=text), now=utcnow(), policy=POLICY)

    assert [m.text for m in await store.search_messages("order")] == [texts[2], texts[0]]
    assert [m.text for m in await store.search_messages("ORDER never")] == [texts[0]]
    assert [m.text for m in await store.search_messages("无法登录")] == [texts[1]]
    assert [m.text for m in await store.search_messages("登录")] == [texts[1]]
    assert [m.text for m in await store.search_messages("密码")] == [texts[3]]
    assert await store.search_messages("d_n") == []  # "_" is no wildcard: it does not match the "o" of "done"
    assert await store.search_messages("%") == []  # punctuation is not a word
    assert await store.search_messages("   ") == []
    assert await store.search_messages("nothing-like-this") == []


@pytest.mark.parametrize("query", ['"', "*", "%", "\\", '" *', "% \\ ..."])
async def test_a_search_of_punctuation_alone_lists_no_ticket(store: Store, query: str) -> None:
    await store.record_inbound(
        inbound("m1", thread="t1", text='order 5531 \\ "late" 100%*'), now=utcnow(), policy=POLICY
    )
    assert await store.search_messages(query) == []
    assert await store.list_conversations(ConversationQuery(search=query)) == ([], 0)  # never "every ticket"
    assert (await store.list_conversations(ConversationQuery(search="  ")))[1] == 1  # blank: no search at all


async def test_an_embedded_database_of_schema_1_gains_plugin_state_versions(tmp_path: Path) -> None:
    import sqlite3

    from conversation.sqlite_store import SQLiteStore

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # what version 1 wrote
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        conn.execute(
            "CREATE TABLE plugin_state (conversation_id TEXT NOT NULL, plugin TEXT NOT NULL, state TEXT NOT NULL,"
            " PRIMARY KEY (conversation_id, plugin))"
        )
        conn.execute("INSERT INTO plugin_state VALUES ('c1', 'greeting', '{\"greeted\": true}')")
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.load_plugin_state("c1", "greeting") == ({"greeted": True}, 1)
        assert await store.set_plugin_state("c1", "greeting", {"greeted": True, "x": 1}, version=1)
    finally:
        await store.close()


async def test_one_cjk_character_finds_the_words_it_is_part_of(store: Store) -> None:
    texts = ["我的订单还没到", "单号是 5531", "账单", "订"]
    for i, text in enumerate(texts):
        await store.record_inbound(inbound(f"m{i}", thread=f"t{i}", text=text), now=utcnow(), policy=POLICY)
    assert [m.text for m in await store.search_messages("单")] == [texts[2], texts[1], texts[0]]  # end, start, middle
    assert [m.text for m in await store.search_messages("订")] == [texts[3], texts[0]]
    assert [m.text for m in await store.search_messages("到")] == [texts[0]]  # the last character of a run
    assert [m.text for m in await store.search_messages("单 5531")] == [texts[1]]


async def test_searches_over_the_limits_are_refused_clearly(store: Store) -> None:
    await store.record_inbound(inbound("m1", text="the parcel arrived broken"), now=utcnow(), policy=POLICY)
    with pytest.raises(SearchRejected, match="at most 8 words"):
        await store.search_messages(" ".join("abcdefghijklmnopqrstuvwxyz"))  # 26 one-letter words
    with pytest.raises(SearchRejected, match="at least 2"):
        await store.search_messages("parcel b")
    with pytest.raises(SearchRejected):
        await store.list_conversations(ConversationQuery(search="a b c d e f g h i"))
    assert [m.text for m in await store.search_messages("parcel arrived")] == ["the parcel arrived broken"]
    assert await store.search_messages("pa") == []  # two letters: a whole word, not a prefix


async def test_a_search_that_runs_too_long_is_stopped(store: Store) -> None:
    for i in range(300):
        text = f"order {i} refund parcel 订单 number {i % 7}"
        await store.record_inbound(inbound(f"m{i}", thread=f"t{i}", text=text), now=utcnow(), policy=POLICY)
    assert len(await store.search_messages("订单 order", limit=500)) == 300
    store.search_seconds = 0.0  # type: ignore[attr-defined]
    with pytest.raises(SearchTimedOut, match="took longer than"):
        await store.search_messages("订单 order", limit=500)
    with pytest.raises(SearchTimedOut):
        await store.list_conversations(ConversationQuery(search="订单 order"))


async def test_an_embedded_search_index_of_an_older_format_is_rebuilt(tmp_path: Path) -> None:
    """Databases indexed before single CJK characters were searchable find them after the upgrade."""
    import sqlite3

    from conversation.sqlite_store import SQLiteStore

    store = SQLiteStore(tmp_path / "old.sqlite3")
    await store.open()
    await store.record_inbound(inbound("m1", text="我的订单"), now=utcnow(), policy=POLICY)
    await store.close()
    with sqlite3.connect(store.path) as conn:  # as an older Helpline left it: bigrams only
        conn.execute("DELETE FROM meta WHERE key = 'search_index_format'")
        conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")
        conn.execute("INSERT INTO messages_fts (rowid, body) SELECT seq, '我的 的订 订单' FROM messages")
    await store.open()
    try:
        assert [m.text for m in await store.search_messages("单")] == ["我的订单"]
    finally:
        await store.close()


async def test_an_agents_inbox_language_is_kept_and_changed(store: Store) -> None:
    agent = await store.add_agent(Agent(id=new_id(), email="wang@example.com", role=Role.AGENT, password_hash="h"))
    assert (await store.get_agent(agent.id)).language == ""  # type: ignore[union-attr]
    changed = await store.update_agent(agent.id, {"language": "zh-CN"})
    assert changed.language == "zh-CN"
    assert (await store.get_agent_by_email("wang@example.com")).language == "zh-CN"  # type: ignore[union-attr]


async def test_a_snooze_time_is_kept_and_cleared(store: Store) -> None:
    record = await store.record_inbound(inbound("s1"), now=utcnow(), policy=POLICY)
    until = (utcnow() + timedelta(hours=5)).replace(microsecond=0)
    snoozed = await store.update_conversation(
        record.conversation.id, {"status": Status.SNOOZED, "snoozed_until": until}, now=utcnow()
    )
    assert snoozed.status is Status.SNOOZED and snoozed.snoozed_until == until
    listed, _ = await store.list_conversations(ConversationQuery(status=Status.SNOOZED))
    assert [c.snoozed_until for c in listed] == [until]
    cleared = await store.update_conversation(
        record.conversation.id, {"status": Status.OPEN, "snoozed_until": None}, now=utcnow()
    )
    assert cleared.snoozed_until is None
    with pytest.raises(ValueError):
        await store.update_conversation(record.conversation.id, {"snoozed_until": "tomorrow"}, now=utcnow())


async def test_latest_messages_are_each_tickets_newest_message_or_note_not_events(store: Store) -> None:
    first = await store.record_inbound(inbound("p1", thread="a", text="first question"), now=utcnow(), policy=POLICY)
    other = await store.record_inbound(inbound("p2", thread="b", text="other ticket"), now=utcnow(), policy=POLICY)
    await store.add_message(outbound(first.conversation.id, "our answer"))
    event = outbound(first.conversation.id, "Wang set the status to pending")
    event.kind, event.author_type, event.delivery = MessageKind.EVENT, AuthorType.SYSTEM, None
    await store.add_message(event)
    latest = await store.latest_messages([first.conversation.id, other.conversation.id, "no-such-ticket"])
    assert {k: m.text for k, m in latest.items()} == {
        first.conversation.id: "our answer",
        other.conversation.id: "other ticket",
    }
    assert await store.latest_messages([]) == {}
