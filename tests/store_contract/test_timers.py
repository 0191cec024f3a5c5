"""The Store contract for durable plugin timers (both backends)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from conversation.model import utcnow
from conversation.store import Store
from conversation.timers import Timer

LEASE = timedelta(minutes=2)


def timer(key: str = "survey:c-1", minutes: int = -1, **kw: object) -> Timer:
    return Timer(key=key, plugin="survey", name="send", due_at=utcnow() + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


async def test_a_due_timer_is_claimed_once_until_its_lease_ends(store: Store) -> None:
    now = utcnow()
    await store.timers.schedule_timer(timer(data={"n": 1, "at": now}, conversation_id="c-1"))
    await store.timers.schedule_timer(timer("survey:later", minutes=30))
    claims = await asyncio.gather(
        *(store.timers.claim_due_timers(f"hub-{i}", now=now, lease=LEASE, limit=10) for i in range(4))
    )
    won = [c for c in claims if c]
    assert len(won) == 1 and [t.key for t in won[0]] == ["survey:c-1"]
    fired = won[0][0]
    assert fired.data == {"n": 1, "at": now} and fired.conversation_id == "c-1" and fired.attempts == 1

    assert await store.timers.claim_due_timers("hub-9", now=now + LEASE / 2, lease=LEASE, limit=10) == []
    # its hub died: once the lease is over another hub takes it (at least once)
    again = await store.timers.claim_due_timers("hub-9", now=now + LEASE * 2, lease=LEASE, limit=10)
    assert [(t.key, t.attempts) for t in again] == [("survey:c-1", 2)]
    assert await store.timers.finish_timer(again[0])
    assert await store.timers.get_timer("survey:c-1") is None
    assert not await store.timers.finish_timer(fired)  # the first hub's late finish is harmless


async def test_rescheduling_while_claimed_is_not_lost_by_the_finish(store: Store) -> None:
    now = utcnow()
    await store.timers.schedule_timer(timer())
    [claimed] = await store.timers.claim_due_timers("hub-1", now=now, lease=LEASE, limit=10)
    await store.timers.schedule_timer(timer(minutes=60))  # on_timer re-arms itself under the same key
    assert not await store.timers.finish_timer(claimed)
    pending = await store.timers.get_timer("survey:c-1")
    assert pending is not None and pending.generation != claimed.generation and pending.attempts == 0
    assert await store.timers.claim_due_timers("hub-1", now=now, lease=LEASE, limit=10) == []  # not due yet


async def test_cancel_and_retry(store: Store) -> None:
    now = utcnow()
    await store.timers.schedule_timer(timer("survey:a"))
    await store.timers.schedule_timer(timer("survey:b"))
    assert await store.timers.cancel_timer("survey:a")
    assert not await store.timers.cancel_timer("survey:a")
    [claimed] = await store.timers.claim_due_timers("hub-1", now=now, lease=LEASE, limit=10)
    await store.timers.retry_timer(claimed, at=now + timedelta(minutes=1))
    assert await store.timers.claim_due_timers("hub-2", now=now, lease=LEASE, limit=10) == []
    [retried] = await store.timers.claim_due_timers("hub-2", now=now + timedelta(minutes=1), lease=LEASE, limit=10)
    assert retried.key == "survey:b" and retried.attempts == 2


async def test_a_released_timer_is_due_as_it_was_and_its_claim_is_no_attempt(store: Store) -> None:
    """A hub lets go of the timers left in a batch whose lease is half spent: another claims
    them at once, as first attempts (a plugin reads attempts > 1 as a possible repeat)."""
    now = utcnow()
    await store.timers.schedule_timer(timer())
    [claimed] = await store.timers.claim_due_timers("hub-1", now=now, lease=LEASE, limit=10)
    await store.timers.release_timer(claimed, "hub-1")
    [again] = await store.timers.claim_due_timers("hub-2", now=now, lease=LEASE, limit=10)
    assert (again.key, again.attempts, again.due_at) == (claimed.key, 1, claimed.due_at)
    await store.timers.release_timer(claimed, "hub-1")  # a late release by the first hub: not theirs now
    assert await store.timers.claim_due_timers("hub-3", now=now, lease=LEASE, limit=10) == []


async def test_claims_come_oldest_first_within_the_limit(store: Store) -> None:
    now = utcnow()
    for i in (3, 1, 2):
        await store.timers.schedule_timer(replace(timer(f"survey:{i}"), due_at=now - timedelta(minutes=i)))
    first = await store.timers.claim_due_timers("hub-1", now=now, lease=LEASE, limit=2)
    assert [t.key for t in first] == ["survey:3", "survey:2"]
