"""The relay between hub processes (hub/relay.py): events in the store's order, its own
skipped, a missing number waited for and then reported (views reload), and a reader or
writer that lost the store resumes without losing or reordering anything."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from conversation.areas.cluster import RelayedBatch
from conversation.model import utcnow
from conversation.sqlite import SQLiteStore
from conversation.store import StoreUnavailable
from hub.events import Event, EventBus
from hub.relay import RESYNC, Relay


def relayed(seq: int, origin: str, kind: str = "message.created", conversation: str = "c1") -> RelayedBatch:
    return RelayedBatch(seq, origin, [{"type": kind, "conversation_id": conversation, "data": {"n": seq}}], utcnow())


def drained(subscription: Any) -> list[tuple[str, Any]]:
    events = []
    while not subscription.queue.empty():
        event = subscription.queue.get_nowait()
        events.append((event.type, event.data.get("n", event.data.get("lost"))))
    return events


async def test_events_come_in_order_without_this_hubs_own_and_a_lost_one_makes_views_reload() -> None:
    bus = EventBus()
    sockets, worker = bus.subscribe(remote=True), bus.subscribe()
    relay = Relay(None, bus, "me", gap_grace=0.05)  # type: ignore[arg-type]  (take() needs no store)
    relay.cursor = 0
    assert relay.take([relayed(1, "other"), relayed(2, "me"), relayed(4, "other")])
    assert drained(sockets) == [("message.created", 1)]  # 2 is its own; 4 waits for 3
    assert not relay.take([relayed(4, "other")]) and drained(sockets) == []
    await asyncio.sleep(0.06)  # 3 never came: its writer died
    assert relay.take([relayed(4, "other")])
    assert drained(sockets) == [(RESYNC, 1), ("message.created", 4)] and relay.gaps == 1
    assert not relay.take([relayed(3, "other")])  # too late: already reported, never shown out of order
    assert drained(worker) == []  # other processes' events are for sockets, never this hub's own workers


class FlakyCluster:
    """The store's cluster area, down for the next `down` calls (`write_down`: writes only)."""

    def __init__(self, store: SQLiteStore) -> None:
        self.real = store.cluster
        self.down = 0
        self.write_down = 0

    def _check(self) -> None:
        if self.down:
            self.down -= 1
            raise StoreUnavailable("down")

    async def take_event_seq(self, origin: str, payloads: list[dict[str, Any]], *, now: datetime) -> Any:
        self._check()
        return await self.real.take_event_seq(origin, payloads, now=now)

    async def write_events(self, batch: RelayedBatch, *, carry: RelayedBatch | None = None) -> None:
        if self.write_down:
            self.write_down -= 1
            raise StoreUnavailable("down")
        await self.real.write_events(batch, carry=carry)

    async def events_after(self, seq: int, *, limit: int) -> list[RelayedBatch]:
        self._check()
        return await self.real.events_after(seq, limit=limit)

    async def carried(self, seq: int) -> RelayedBatch | None:
        return await self.real.carried(seq)

    async def last_event_seq(self) -> int:
        return await self.real.last_event_seq()


class FlakyStore:
    def __init__(self, store: SQLiteStore) -> None:
        self.cluster = FlakyCluster(store)


async def test_a_writer_and_a_reader_that_lost_the_store_resume_without_loss(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "helpline.sqlite3")
    await store.open()
    try:
        flaky: Any = FlakyStore(store)
        writer_bus, reader_bus = EventBus(), EventBus()
        writer = Relay(flaky, writer_bus, "a", poll=0.001)
        reader = Relay(flaky, reader_bus, "b", poll=0.001)
        writer_bus.forward = writer.forward
        sockets = reader_bus.subscribe(remote=True)
        await reader.read_step()  # starts at the end of the log
        for n in range(3):
            writer_bus.publish(Event("message.created", "c1", {"n": n}))
        flaky.cluster.down = 1
        await writer.write_step()  # the store is down: kept, in order
        await writer.write_step()
        await writer.flush()
        for n in range(3, 5):
            writer_bus.publish(Event("message.created", "c1", {"n": n}))
        flaky.cluster.write_down = 1  # numbered, then its write fails once: written again under that number
        await writer.write_step()
        await writer.flush()
        flaky.cluster.down = 1
        await reader.read_step()  # down: the cursor stays
        await reader.read_step()
        assert [n for _, n in drained(sockets)] == [0, 1, 2, 3, 4] and reader.gaps == 0
    finally:
        await store.close()


async def test_events_still_waiting_at_shutdown_are_passed_on(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "helpline.sqlite3")
    await store.open()
    try:
        bus = EventBus()
        relay = Relay(store, bus, "a")
        bus.forward = relay.forward
        bus.publish(Event("conversation.updated", "c1", {"changes": ["status"]}))
        await relay.flush()  # the writer loop was stopped before it wrote this
        [batch] = await store.cluster.events_after(0, limit=10)
        assert batch.origin == "a" and batch.payloads[0]["data"] == {"changes": ["status"]}
    finally:
        await store.close()


class KilledAfter:
    """The cluster area as a hub process uses it that is killed (kill -9) after `calls` more
    calls: the later ones never return."""

    def __init__(self, real: Any, calls: int) -> None:
        self.real, self.calls = real, calls

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.calls <= 0:
                await asyncio.Event().wait()  # killed: no answer, ever
            self.calls -= 1
            return await method(*args, **kwargs)

        return call


class StoreOf:
    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster


async def hub_killed_between_numbering_and_writing_then_another_writes(store: Any) -> list[tuple[str, Any]]:
    """What a reader sees within 3 s: one hub's batch numbered, its hub killed before writing
    it, then another hub's batch; the reader waits for a missing number the usual 2 s."""
    start = await store.cluster.last_event_seq()
    dying: Any = KilledAfter(store.cluster, calls=1)
    killed, killed_bus = Relay(StoreOf(dying), EventBus(), "killed"), EventBus()  # type: ignore[arg-type]
    other, other_bus = Relay(store, EventBus(), "other"), EventBus()
    reader_bus = EventBus()
    reader = Relay(store, reader_bus, "reader")
    sockets = reader_bus.subscribe(remote=True)
    killed_bus.forward, other_bus.forward = killed.forward, other.forward
    killed.cursor = other.cursor = reader.cursor = start
    killed_bus.publish(Event("message.created", "c1", {"n": 1}))
    writing = asyncio.create_task(killed.write_step())
    while dying.calls:  # its number is taken; then it is killed
        await asyncio.sleep(0.001)
    other_bus.publish(Event("message.created", "c2", {"n": 2}))
    await other.write_step()
    began = time.monotonic()
    seen: list[tuple[str, Any]] = []
    while ("message.created", 2) not in seen and time.monotonic() - began < 3:
        await reader.read_step()
        seen += drained(sockets)
    writing.cancel()
    assert time.monotonic() - began < 0.5, seen  # not held up by the gap wait
    assert reader.gaps == 0
    return seen


async def test_a_hub_killed_between_numbering_and_writing_holds_no_other_hubs_events_up(store: Any) -> None:
    # The next batch carries the one numbered before it (MongoDB), or numbering and writing are
    # one transaction (the embedded store): the killed hub's events are not even lost.
    seen = await hub_killed_between_numbering_and_writing_then_another_writes(store)
    assert seen == [("message.created", 1), ("message.created", 2)]
