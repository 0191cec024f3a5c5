"""The Store contract for ticket lists, view counts, read markers (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conversation.model import (
    AuthorType,
    ConversationQuery,
    MessageKind,
    Priority,
    Status,
    utcnow,
)
from conversation.store import (
    Store,
)
from tests.store_contract.common import POLICY, inbound, outbound, three_tickets


@pytest.fixture(params=["planner", "newest-first"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SQLite store walks tickets newest first when filters are common: test both ways."""
    if request.param == "newest-first":
        import conversation.sqlite.db

        monkeypatch.setattr(conversation.sqlite.db, "COMMON", 1)
    return str(request.param)


async def test_the_inbox_filters_pages_and_counts(store: Store, walk: str) -> None:
    first, second, third = await three_tickets(store)
    await store.tickets.update_conversation(
        first,
        {"assignee_id": "ag1", "priority": "high", "tags": ["vip"], "category": "refund", "team": "billing"},
        now=utcnow(),
    )
    await store.tickets.update_conversation(second, {"status": "pending"}, now=utcnow())

    async def ids(**kw: object) -> tuple[list[str], int]:
        items, total = await store.inbox.list_conversations(ConversationQuery(**kw))  # type: ignore[arg-type]
        return [c.id for c in items], total

    assert await ids() == ([third, second, first], 3)  # newest activity first
    assert await ids(status=Status.OPEN) == ([third, first], 2)
    assert await ids(channel="email") == ([third, first], 2)
    assert await ids(assignee_id="ag1") == ([first], 1)
    assert await ids(assignee_id="") == ([third, second], 2)
    assert await ids(team="billing", priority=Priority.HIGH, category="refund", tag="VIP") == ([first], 1)
    assert await ids(search="refund") == ([first], 1)
    assert await ids(search="登录") == ([second], 1)
    assert await ids(limit=2) == ([third, second], 3)
    assert await ids(limit=2, offset=2) == ([first], 3)


async def test_unread_markers_follow_the_customers_last_message(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    conv = record.conversation
    assert conv.last_inbound_at == record.message.created_at
    assert await store.inbox.read_markers("ag1", [conv.id]) == {}
    seen = utcnow()
    await store.inbox.mark_read("ag1", conv.id, seen)
    await store.inbox.mark_read("ag1", conv.id, seen - timedelta(minutes=1))  # an older mark never moves it back
    assert await store.inbox.read_markers("ag1", [conv.id, "other"]) == {conv.id: seen}
    later = await store.tickets.record_inbound(inbound("m2"), now=seen + timedelta(seconds=5), policy=POLICY)
    assert later.conversation.last_inbound_at is not None and later.conversation.last_inbound_at > seen


async def test_view_counts_leave_merged_tickets_out(store: Store) -> None:
    first, second, third = await three_tickets(store)
    await store.tickets.update_conversation(first, {"assignee_id": "ag1"}, now=utcnow())
    await store.tickets.update_conversation(third, {"status": "pending"}, now=utcnow())
    await store.tickets.merge_conversations(second, first, now=utcnow())
    assert await store.inbox.count_views("ag1") == {
        "open": 1,
        "pending": 1,
        "snoozed": 0,
        "resolved": 0,
        "closed": 0,
        "mine": 1,
        "unassigned": 0,
        "all": 2,
    }


async def test_newest_messages_are_each_tickets_newest_messages_and_notes_not_events(store: Store) -> None:
    first = await store.tickets.record_inbound(
        inbound("p1", thread="a", text="first question"), now=utcnow(), policy=POLICY
    )
    other = await store.tickets.record_inbound(
        inbound("p2", thread="b", text="other ticket"), now=utcnow(), policy=POLICY
    )
    await store.tickets.add_message(outbound(first.conversation.id, "our answer"))
    event = outbound(first.conversation.id, "Wang set the status to pending")
    event.kind, event.author_type, event.delivery = MessageKind.EVENT, AuthorType.SYSTEM, None
    await store.tickets.add_message(event)
    await store.tickets.add_message(outbound(first.conversation.id, "and one more"))
    ids = [first.conversation.id, other.conversation.id, "no-such-ticket"]
    newest = await store.inbox.newest_messages(ids, 2)
    assert {k: [m.text for m in found] for k, found in newest.items()} == {
        first.conversation.id: ["and one more", "our answer"],  # newest first, the event left out
        other.conversation.id: ["other ticket"],
    }
    assert await store.inbox.newest_messages([], 2) == {}
