"""The Store contract for the audit log (both backends): append-only, newest first,
filtered by actor, target, action (exact or family) and period, paged."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conversation.audit import AuditEntry, AuditQuery
from conversation.errors import InvalidInput
from conversation.model import new_id, utcnow
from conversation.store import Store


def entry(action: str, *, actor: str = "a1", target: str = "t1", minutes: int = 0, **kw: object) -> AuditEntry:
    return AuditEntry(
        id=new_id(),
        at=utcnow().replace(year=2026, month=5, day=1, hour=8, minute=0, second=0, microsecond=0)
        + timedelta(minutes=minutes),
        actor_id=actor,
        actor_name=f"{actor}@example.com",
        via="session",
        action=action,
        target_type=action.split(".")[0],
        target_id=target,
        before=kw.get("before", {}),  # type: ignore[arg-type]
        after=kw.get("after", {}),  # type: ignore[arg-type]
    )


async def test_entries_come_back_newest_first_with_before_and_after(store: Store) -> None:
    first = entry(
        "ticket.update",
        minutes=1,
        before={"status": "open", "fields": {"order.no": "A-1", "$amount": 5}},
        after={"status": "resolved", "tags": ["a"], "fields": {"order.no": "A-2", "$amount": 7}},
    )
    second = entry("agent.update", minutes=2, target="agent-7", before={"role": "agent"}, after={"role": "admin"})
    same_time = entry("token.create", minutes=2, target="tok-1", after={"name": "deploy"})
    for item in (first, second, same_time):
        await store.audit.append(item)
    items = await store.audit.list_entries(AuditQuery())
    assert [e.id for e in items] == [same_time.id, second.id, first.id]  # ties: the later append first
    assert items[2] == first


async def test_filters_by_actor_target_action_family_and_period(store: Store) -> None:
    entries = [
        entry("ticket.update", actor="a1", target="t1", minutes=0),
        entry("ticket.merge", actor="a2", target="t1", minutes=10),
        entry("agent.update", actor="a1", target="a2", minutes=20),
        entry("tickets.bogus", actor="a1", target="t9", minutes=30),  # not of the ticket. family
    ]
    for item in entries:
        await store.audit.append(item)

    async def ids(**query: object) -> list[str]:
        return [e.id for e in await store.audit.list_entries(AuditQuery(**query))]  # type: ignore[arg-type]

    assert await ids(actor_id="a2") == [entries[1].id]
    assert await ids(target_id="t1") == [entries[1].id, entries[0].id]
    assert await ids(action="ticket.*") == [entries[1].id, entries[0].id]
    assert await ids(action="ticket.") == [entries[1].id, entries[0].id]
    assert await ids(action="ticket.update") == [entries[0].id]
    assert await ids(actor_id="a1", action="agent.update") == [entries[2].id]
    start = entries[0].at
    assert await ids(since=start + timedelta(minutes=10), until=start + timedelta(minutes=30)) == [
        entries[2].id,
        entries[1].id,
    ]
    assert await ids(limit=2, offset=1) == [entries[2].id, entries[1].id]
    assert await ids(actor_id="nobody") == []


def test_a_query_out_of_bounds_is_refused() -> None:
    with pytest.raises(InvalidInput):
        AuditQuery(limit=0)
    with pytest.raises(InvalidInput):
        AuditQuery(offset=-1)


def test_the_audit_area_has_no_way_to_change_or_remove_an_entry() -> None:
    from conversation.areas.audit import Audit

    public = {name for name in vars(Audit) if not name.startswith("_")}
    assert public == {"append", "list_entries"}
