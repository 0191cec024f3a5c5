"""The Store contract for leases, plugin state, channel state (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conversation.errors import InvalidInput
from conversation.model import (
    utcnow,
)
from conversation.store import (
    Store,
)
from tests.store_contract.common import POLICY, inbound


async def test_plugin_state_and_pending_plugin_runs(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    conv_id = record.conversation.id
    assert await store.coordination.get_plugin_state(conv_id, "faq") == {}
    await store.coordination.set_plugin_state(conv_id, "faq", {"step": 2, "asked": ["a", "b"]})
    await store.coordination.set_plugin_state(conv_id, "faq", {"step": 3, "asked": ["a", "b"]})
    assert await store.coordination.get_plugin_state(conv_id, "faq") == {"step": 3, "asked": ["a", "b"]}
    assert await store.coordination.get_plugin_state(conv_id, "greeting") == {}

    later = utcnow() + timedelta(seconds=1)
    assert [m.id for m in await store.tickets.messages_awaiting_plugins(before=later, limit=10)] == [record.message.id]
    await store.tickets.mark_plugins_done(record.message.id)
    assert await store.tickets.messages_awaiting_plugins(before=later, limit=10) == []


async def test_plugin_state_is_written_by_compare_and_set(store: Store) -> None:
    conv_id = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation.id
    assert await store.coordination.load_plugin_state(conv_id, "greeting") == ({}, 0)

    # Two hubs both read "nothing stored yet": only the first write counts.
    assert await store.coordination.set_plugin_state(conv_id, "greeting", {"greeted": True}, version=0)
    assert not await store.coordination.set_plugin_state(conv_id, "greeting", {"greeted": True, "by": "b"}, version=0)
    assert await store.coordination.load_plugin_state(conv_id, "greeting") == ({"greeted": True}, 1)

    assert not await store.coordination.set_plugin_state(conv_id, "greeting", {"stale": True}, version=7)
    assert await store.coordination.set_plugin_state(conv_id, "greeting", {"greeted": True, "told": "mon"}, version=1)
    assert await store.coordination.set_plugin_state(conv_id, "greeting", {"forced": True})  # no version: unconditional
    assert await store.coordination.load_plugin_state(conv_id, "greeting") == ({"forced": True}, 3)


async def test_a_shared_value_is_written_by_compare_and_set(store: Store) -> None:
    """Hub-wide state two processes may change at once (a person's page digest)."""
    coordination = store.coordination
    assert await coordination.load_shared("paging:digest:li") == ({}, 0)
    assert await coordination.save_shared("paging:digest:li", {"held": ["a"]}, version=0)
    assert not await coordination.save_shared("paging:digest:li", {"held": ["b"]}, version=0)  # read the same
    assert await coordination.load_shared("paging:digest:li") == ({"held": ["a"]}, 1)
    assert await coordination.save_shared("paging:digest:li", {"held": ["a", "b"]}, version=1)
    assert not await coordination.save_shared("paging:digest:li", {"held": []}, version=1)
    assert await coordination.load_shared("paging:digest:li") == ({"held": ["a", "b"]}, 2)
    assert await coordination.load_shared("paging:digest:wang") == ({}, 0)  # one value per key


async def test_a_lease_has_one_holder_until_it_expires(store: Store) -> None:
    now = utcnow()
    ttl = timedelta(seconds=30)
    assert await store.coordination.acquire_lease("imap:support", "hub-a", now=now, ttl=ttl)
    assert not await store.coordination.acquire_lease("imap:support", "hub-b", now=now, ttl=ttl)
    assert await store.coordination.acquire_lease(
        "imap:support", "hub-a", now=now + timedelta(seconds=20), ttl=ttl
    )  # renew
    assert not await store.coordination.acquire_lease("imap:support", "hub-b", now=now + timedelta(seconds=40), ttl=ttl)
    assert await store.coordination.acquire_lease("imap:support", "hub-b", now=now + timedelta(seconds=51), ttl=ttl)
    await store.coordination.release_lease("imap:support", "hub-a")  # not the holder: no effect
    assert not await store.coordination.acquire_lease("imap:support", "hub-a", now=now + timedelta(seconds=52), ttl=ttl)
    await store.coordination.release_lease("imap:support", "hub-b")
    assert await store.coordination.acquire_lease("imap:support", "hub-a", now=now + timedelta(seconds=52), ttl=ttl)


async def test_plugin_and_channel_state_keep_datetimes(store: Store) -> None:
    """One encoding on both backends: a datetime comes back as the same aware datetime."""
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    due = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    state = {"remind_at": due, "history": [{"at": due, "step": 1}], "note": "x"}
    assert await store.coordination.set_plugin_state(record.conversation.id, "reminder", state)
    assert await store.coordination.load_plugin_state(record.conversation.id, "reminder") == (state, 1)
    await store.coordination.set_value("imap:support", {"checked_at": due, "uid": 7})
    assert await store.coordination.get_value("imap:support") == {"checked_at": due, "uid": 7}


async def test_state_that_cannot_be_stored_is_refused_and_changes_nothing(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    conv_id = record.conversation.id
    await store.coordination.set_plugin_state(conv_id, "faq", {"step": 1})
    for bad in ({"seen": {"a", "b"}}, {"blob": b"\x00"}, {"at": datetime(2026, 5, 1)}, {"x": {1: "numeric key"}}):
        with pytest.raises(InvalidInput):
            await store.coordination.set_plugin_state(conv_id, "faq", bad)
        with pytest.raises(InvalidInput):
            await store.coordination.set_value("imap:support", bad)
    assert await store.coordination.load_plugin_state(conv_id, "faq") == ({"step": 1}, 1)
    assert await store.coordination.get_value("imap:support") is None
