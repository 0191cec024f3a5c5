"""The Store contract for what hub processes share: the event log, socket holders and
counters (both backends)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from conversation.areas.cluster import RelayedBatch
from conversation.model import utcnow
from conversation.store import Store


async def test_batches_of_events_are_read_in_order_after_a_sequence_number(store: Store) -> None:
    now = utcnow()
    start = await store.cluster.last_event_seq()
    first = await store.cluster.append_events("hub-a", [{"type": "x", "n": 1}, {"type": "x", "n": 2}], now=now)
    assert first == start + 1 == await store.cluster.last_event_seq()
    assert await store.cluster.append_events("hub-b", [{"type": "y", "text": "你好"}], now=now) == start + 2
    batches = await store.cluster.events_after(start, limit=10)
    assert [(b.seq, b.origin, b.payloads) for b in batches] == [
        (start + 1, "hub-a", [{"type": "x", "n": 1}, {"type": "x", "n": 2}]),
        (start + 2, "hub-b", [{"type": "y", "text": "你好"}]),
    ]
    assert [b.seq for b in await store.cluster.events_after(start, limit=1)] == [start + 1]


async def test_a_batch_written_again_under_its_number_is_kept_once(store: Store) -> None:
    now = utcnow()
    start = await store.cluster.last_event_seq()
    seq, _ = await store.cluster.take_event_seq("hub-a", [{"n": 1}], now=now)
    assert seq == start + 1 == await store.cluster.last_event_seq()
    mine = RelayedBatch(seq, "hub-a", [{"n": 1}], now)
    await store.cluster.write_events(mine)
    await store.cluster.write_events(mine)  # a retry after a lost answer
    assert [(b.seq, b.payloads) for b in await store.cluster.events_after(start, limit=10)] == [(seq, [{"n": 1}])]


async def test_a_batch_whose_writer_died_after_taking_its_number_is_carried_by_the_next(store: Store) -> None:
    now = utcnow()
    start = await store.cluster.last_event_seq()
    await store.cluster.take_event_seq("hub-a", [{"n": 1}], now=now)  # hub-a is killed here
    seq, before = await store.cluster.take_event_seq("hub-b", [{"n": 2}], now=now)
    await store.cluster.write_events(RelayedBatch(seq, "hub-b", [{"n": 2}], now), carry=before)
    batches = await store.cluster.events_after(start, limit=10)
    if batches[0].seq == seq:  # its number is missing (MongoDB): the next batch carries it
        carried = await store.cluster.carried(seq)
        assert carried is not None
        batches.insert(0, carried)
    assert [(b.seq, b.origin, b.payloads) for b in batches] == [
        (start + 1, "hub-a", [{"n": 1}]),
        (start + 2, "hub-b", [{"n": 2}]),
    ]


async def test_concurrent_writers_get_distinct_numbers(store: Store) -> None:
    now = utcnow()
    start = await store.cluster.last_event_seq()
    batch = [{"n": n} for n in range(3)]
    await asyncio.gather(*(store.cluster.append_events(f"hub-{i}", batch, now=now) for i in range(5)))
    batches = await store.cluster.events_after(start, limit=100)
    assert [b.seq for b in batches] == list(range(start + 1, start + 6))
    assert sorted(b.origin for b in batches) == [f"hub-{i}" for i in range(5)]
    assert all(b.payloads == batch for b in batches)  # each writer's batch keeps its order


async def test_pruning_drops_old_events_and_numbers_never_go_back(store: Store) -> None:
    old, now = utcnow() - timedelta(minutes=30), utcnow()
    await store.cluster.append_events("hub-a", [{"n": 1}, {"n": 2}], now=old)
    last = await store.cluster.append_events("hub-a", [{"n": 3}], now=now)
    assert await store.cluster.prune_events(now - timedelta(minutes=10)) == 1
    assert [b.payloads for b in await store.cluster.events_after(0, limit=10)] == [[{"n": 3}]]
    await store.cluster.prune_events(now + timedelta(minutes=1))
    assert await store.cluster.append_events("hub-a", [{"n": 4}], now=now) == last + 1


async def test_socket_holders_expire_and_release(store: Store) -> None:
    now = utcnow()
    for alive in ("hub-a", "hub-b"):
        await store.cluster.beat(alive, until=now + timedelta(minutes=5))
    await store.cluster.hold("webchat:v_1", "hub-b", until=now + timedelta(seconds=60))
    await store.cluster.hold("webchat:v_1", "hub-a", until=now + timedelta(seconds=60))
    await store.cluster.hold("webchat:v_2", "hub-a", until=now + timedelta(seconds=1))
    assert await store.cluster.holders("webchat:v_1", now=now) == ["hub-a", "hub-b"]
    assert await store.cluster.holders("webchat:v_2", now=now + timedelta(seconds=2)) == []
    await store.cluster.hold("webchat:v_2", "hub-a", until=now + timedelta(seconds=90))  # extended
    assert await store.cluster.holders("webchat:v_2", now=now + timedelta(seconds=2)) == ["hub-a"]
    await store.cluster.release("webchat:v_1", "hub-b")
    assert await store.cluster.holders("webchat:v_1", now=now) == ["hub-a"]
    assert await store.cluster.prune_counters(now + timedelta(seconds=120)) == 2
    assert await store.cluster.holders("webchat:v_1", now=now) == []


async def test_a_hold_counts_only_while_its_holder_beats(store: Store) -> None:
    now = utcnow()
    await store.cluster.beat("hub-a", until=now + timedelta(seconds=6))
    await store.cluster.beat("hub-b", until=now + timedelta(seconds=6))
    await store.cluster.hold("webchat:v_3", "hub-a", until=now + timedelta(seconds=90))
    await store.cluster.hold("webchat:v_3", "hub-b", until=now + timedelta(seconds=90))
    await store.cluster.hold("webchat:v_3", "hub-never-beat", until=now + timedelta(seconds=90))
    assert await store.cluster.holders("webchat:v_3", now=now) == ["hub-a", "hub-b"]
    await store.cluster.beat("hub-b", until=now + timedelta(seconds=12))  # hub-a was killed: only hub-b beats on
    assert await store.cluster.holders("webchat:v_3", now=now + timedelta(seconds=7)) == ["hub-b"]
    assert await store.cluster.prune_counters(now + timedelta(seconds=7)) == 1  # hub-a's beat; the holds stay
    assert await store.cluster.holders("webchat:v_3", now=now + timedelta(seconds=13)) == []


async def test_counters_add_atomically_and_expire(store: Store) -> None:
    now = utcnow()
    until = now + timedelta(minutes=1)
    totals = await asyncio.gather(*(store.cluster.add_to_counter("signin:1", 1, expires_at=until) for _ in range(10)))
    assert sorted(totals) == list(range(1, 11))  # no two callers saw the same total
    assert await store.cluster.add_to_counter("signin:1", -1, expires_at=now) == 9  # given back
    assert await store.cluster.counter("signin:1") == 9
    assert await store.cluster.counter("signin:2") == 0
    await store.cluster.add_to_counter("signin:2", 1, expires_at=now)
    assert await store.cluster.prune_counters(now + timedelta(seconds=1)) == 1  # the later expiry was kept for 1
    assert await store.cluster.counter("signin:1") == 9
    assert await store.cluster.counter("signin:2") == 0
