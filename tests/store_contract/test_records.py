"""The Store contract for plugin records (both backends)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from conversation.model import new_id, utcnow
from conversation.records import Record, RecordKind, RecordQuery, changed, keyed_id
from conversation.store import AlreadyExists, Store

DISPUTE = RecordKind(
    "dispute",
    {
        "type": "object",
        "properties": {"order": {"type": "string"}, "amount": {"type": "integer"}, "paid": {"type": "boolean"}},
    },
    queries=("order", "amount", "paid"),
    plugin="disputes",
)


def dispute(conversation_id: str = "c-1", **data: object) -> Record:
    now = utcnow()
    return Record(
        id=new_id(),
        plugin="disputes",
        kind="dispute",
        conversation_id=conversation_id,
        contact_id="contact-1",
        status="open",
        data={"order": "A-1", "amount": 100, "paid": False, **data},
        deadline=now + timedelta(days=2),
        created_at=now,
        updated_at=now,
    )


async def test_a_record_is_created_read_and_changed_with_its_timeline(store: Store) -> None:
    await store.records.ensure_indexes([DISPUTE])
    record = dispute()
    await store.records.create_record(record)
    assert await store.records.get_record("disputes", "dispute", record.id) == record
    assert await store.records.get_record("disputes", "other", record.id) is None  # a kind sees only its own

    later = changed(record, data={"amount": 80}, status="done", deadline=None, who="agent Li", now=utcnow())
    assert await store.records.replace_record(later, version=record.version)
    stored = await store.records.get_record("disputes", "dispute", record.id)
    assert stored == later
    assert stored is not None and stored.version == 2 and stored.deadline is None
    assert [c.changes for c in stored.timeline] == [
        {"data.amount": [100, 80], "status": ["open", "done"], "deadline": [record.deadline.isoformat(), None]}
    ]
    assert stored.timeline[0].who == "agent Li"

    with pytest.raises(AlreadyExists):
        await store.records.create_record(record)


async def test_a_stale_version_changes_nothing(store: Store) -> None:
    record = dispute()
    await store.records.create_record(record)
    first = changed(record, data={"amount": 1}, status=None, deadline=False, who="a", now=utcnow())
    second = changed(record, data={"amount": 2}, status=None, deadline=False, who="b", now=utcnow())
    assert await store.records.replace_record(first, version=1)
    assert not await store.records.replace_record(second, version=1)
    assert (await store.records.get_record("disputes", "dispute", record.id)) == first


async def test_queries_filter_by_declared_fields_ticket_contact_and_status(store: Store) -> None:
    await store.records.ensure_indexes([DISPUTE])
    await store.records.ensure_indexes([DISPUTE])  # every start: idempotent
    a = dispute("c-1", order="A-1", amount=100)
    b = replace(dispute("c-2", order="B-2", amount=250, paid=True), created_at=a.created_at + timedelta(seconds=1))
    c = replace(dispute("c-1", order="C-3", amount=100), status="done", created_at=a.created_at + timedelta(seconds=2))
    for record in (a, b, c):
        await store.records.create_record(record)
    other_kind = replace(dispute("c-1"), kind="refund")
    await store.records.create_record(other_kind)

    def ids(records: list[Record]) -> list[str]:
        return [r.id for r in records]

    assert ids(await store.records.query_records(RecordQuery("disputes", "dispute"))) == [c.id, b.id, a.id]
    assert ids(await store.records.query_records(RecordQuery("disputes", "dispute", {"order": "B-2"}))) == [b.id]
    assert ids(await store.records.query_records(RecordQuery("disputes", "dispute", {"amount": 100}))) == [c.id, a.id]
    assert ids(await store.records.query_records(RecordQuery("disputes", "dispute", {"paid": True}))) == [b.id]
    query = RecordQuery("disputes", "dispute", {"amount": 100}, conversation_id="c-1", status="open")
    assert ids(await store.records.query_records(query)) == [a.id]
    assert ids(await store.records.query_records(RecordQuery("disputes", "dispute", contact_id="contact-1", limit=1)))
    assert await store.records.query_records(RecordQuery("disputes", "dispute", {"order": "nope"})) == []


async def test_records_are_counted_by_a_query_field_and_status(store: Store) -> None:
    await store.records.ensure_indexes([DISPUTE])
    assert await store.records.count_records(RecordQuery("disputes", "dispute"), "order") == {}
    for order, status in (("A-1", "open"), ("A-1", "open"), ("A-1", "done"), ("B-2", "done"), ("B-2", "cancelled")):
        await store.records.create_record(replace(dispute(order=order), status=status))
    other_kind = replace(dispute(), id=new_id(), kind="other")
    await store.records.create_record(other_kind)  # another kind is not counted

    counts = await store.records.count_records(RecordQuery("disputes", "dispute"), "order")
    assert counts == {("A-1", "open"): 2, ("A-1", "done"): 1, ("B-2", "done"): 1, ("B-2", "cancelled"): 1}
    one = await store.records.count_records(RecordQuery("disputes", "dispute", {"order": "B-2"}), "order")
    assert one == {("B-2", "done"): 1, ("B-2", "cancelled"): 1}
    done = await store.records.count_records(RecordQuery("disputes", "dispute", status="done", limit=1), "order")
    assert done == {("A-1", "done"): 1, ("B-2", "done"): 1}  # a count knows no limit
    by_amount = await store.records.count_records(RecordQuery("disputes", "dispute"), "amount")
    assert by_amount == {(100, "open"): 2, (100, "done"): 2, (100, "cancelled"): 1}


async def test_a_keyed_record_is_made_once_when_two_writers_race(store: Store) -> None:
    """Check-then-create lets two writers both find nothing and both create; a keyed create
    is one atomic step: of many at the same instant, one makes the record, the rest get it."""
    key = keyed_id("disputes", "dispute", "order:A-1")
    attempts = [replace(dispute(order="A-1", amount=n), id=key) for n in range(6)]
    results = await asyncio.gather(*(store.records.create_record_once(r) for r in attempts))
    assert sum(made for _, made in results) == 1
    [winner] = [record for record, made in results if made]
    assert {record.id for record, _ in results} == {key}
    assert all(record.data == winner.data for record, _ in results)  # the losers get the winner's record
    assert len(await store.records.query_records(RecordQuery("disputes", "dispute", {"order": "A-1"}))) == 1
    stored = await store.records.get_record("disputes", "dispute", key)
    assert stored is not None and stored.data == winner.data

    again, made = await store.records.create_record_once(replace(dispute(order="A-1", amount=999), id=key))
    assert not made and again.data == winner.data  # later too: the first stays, unchanged
    other, made = await store.records.create_record_once(replace(dispute(), id=keyed_id("disputes", "dispute", "B")))
    assert made and other.id != key  # another key is another record
