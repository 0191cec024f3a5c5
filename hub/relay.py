"""Live events across hub processes that share one store (MongoDB).

Each process keeps its in-process `EventBus`; the relay copies what is published there
into the store's event log (`store.cluster`, numbered in one order for everyone) and
reads the other processes' events back, in that order, for the sockets it holds. An
event carries its origin, so a process skips its own (it delivered them already).

A number can be missing for a moment (another process took it and has not written yet,
or died in between): each batch carries a copy of the batch numbered just before it (the
store hands it to the next taker), so a reader takes the missing one from the next at
once instead of waiting. One missing with nothing carrying it is waited for up to
`gap_grace`; still missing then (the events were pruned while this process could not read,
or two writers in a row died) it is a gap: the watching sockets are told to reload
(`resync`), and reading goes on. A reader that lost the store resumes from the last
number it read.

Hand-overs ride on the same log: a process that must deliver to a socket held by another
asks that one (`hand_over`) and waits for its answer, so nothing is marked delivered
that no socket took.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from conversation.areas.cluster import RelayedBatch
from conversation.model import utcnow
from conversation.store import Store, StoreUnavailable
from hub.events import Event, EventBus
from hub.supervise import log_task_failure

log = logging.getLogger(__name__)

POLL_SECONDS = 0.01  # how often a reader asks for new events when there were none
GAP_GRACE_SECONDS = 2.0  # how long a missing number is waited for before it counts as lost
BATCH = 500  # events written or read in one round trip
MAX_PENDING = 10_000  # events waiting for the store; beyond, the oldest are dropped (logged)
# How long events stay in the log: they are hints for what is on screen, so a reader away
# longer than this sees a gap (its views reload), and the log stays small.
KEEP = timedelta(seconds=60)
PRUNE_SECONDS = 10.0
RESYNC = "resync"  # the event a gap turns into: what is shown must be reloaded
HANDOVER, ANSWER = "relay.handover", "relay.answer"
SOCKET_HOLD = timedelta(seconds=90)  # a socket hold is deleted this long after its process stopped renewing it
SOCKET_RENEW_SECONDS = SOCKET_HOLD.total_seconds() / 3
# A process's holds count only while it beats: one killed is no longer handed its visitors'
# replies this soon after its last beat ([storage] hub_lapse_seconds), beating 3 times as often.
HUB_LAPSE = timedelta(seconds=6)

Taker = Callable[[dict[str, Any]], Awaitable[bool]]
Catcher = Callable[[], Awaitable[None]]


class Relay:
    """Carries live events between the hub processes of one store."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        origin: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll: float = POLL_SECONDS,
        gap_grace: float = GAP_GRACE_SECONDS,
        lapse: timedelta = HUB_LAPSE,
    ) -> None:
        self.store, self.bus, self.origin, self.clock = store, bus, origin, clock
        self.poll, self.gap_grace, self.lapse = poll, gap_grace, lapse
        self.catchers: list[Catcher] = []  # what puts this process's windows right after its beat lapsed
        self._beaten: float | None = None  # when (monotonic) the last beat was written
        self.keep, self.prune_every = KEEP, PRUNE_SECONDS
        self.takers: dict[str, Taker] = {}  # hand-over kind -> what delivers it here
        self.gaps = 0  # how many times events were lost to this reader (each told to reload)
        self.cursor: int | None = None  # the last number read (None: not started)
        self._pending: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._hole_since: float | None = None
        self._answers: dict[str, tuple[asyncio.Future[bool], set[str]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # hand-overs being delivered here
        self._writes: set[asyncio.Task[None]] = set()  # numbered batches being written

    # -- out ------------------------------------------------------------------------------
    def forward(self, event: Event) -> None:
        """The bus's hook: this process published `event`; the others get it too."""
        self._send({"type": event.type, "conversation_id": event.conversation_id, "data": jsonable(event.data)})

    def _send(self, payload: dict[str, Any]) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            log.warning("live events: the store is behind; the oldest unsent event was dropped")
        self._pending.append(payload)
        self._wake.set()

    async def write_step(self) -> None:
        """Number what is waiting as one batch and write it. One batch at a time: what comes
        meanwhile waits and goes in the next batch, so a busy store gets fewer, larger writes."""
        await self._wake.wait()
        batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
        if not self._pending:
            self._wake.clear()
        now = self.clock()
        try:
            seq, before = await self.store.cluster.take_event_seq(self.origin, batch, now=now)
        except StoreUnavailable:
            self._pending.extendleft(reversed(batch))  # kept, in order, for the next try
            self._wake.set()
            await asyncio.sleep(self.poll * 25)
            return
        await self._write(RelayedBatch(seq, self.origin, batch, now), self._carry(before, now))

    def _carry(self, before: RelayedBatch | None, now: datetime) -> RelayedBatch | None:
        """The batch that took the number before this one, carried with it: should its own
        writer have died between taking the number and writing, readers take it from here
        rather than wait. Not when older than the log keeps (written and pruned long ago)."""
        return before if before is not None and before.at >= now - self.keep else None

    async def _write(self, batch: RelayedBatch, carry: RelayedBatch | None) -> None:
        """Write a numbered batch, again under the same number until the store has it (a write
        whose answer was lost is not written twice); readers wait for it meanwhile."""
        deadline = time.monotonic() + self.keep.total_seconds()
        while True:
            try:
                await self.store.cluster.write_events(batch, carry=carry)
                return
            except StoreUnavailable:
                if time.monotonic() > deadline:  # the readers have reported it lost by now
                    log.warning(
                        "live events: %d event(s) could not be passed on to other hub processes", len(batch.payloads)
                    )
                    return
                await asyncio.sleep(self.poll * 25)

    async def flush(self) -> None:
        """On the way down: what is still waiting goes out (if the store answers)."""
        if self._pending:
            batch, self._pending = list(self._pending), deque()
            now = self.clock()
            try:
                seq, before = await self.store.cluster.take_event_seq(self.origin, batch, now=now)
            except StoreUnavailable:
                log.warning("live events: %d event(s) not passed on to other hub processes at shutdown", len(batch))
            else:
                written = self._write(RelayedBatch(seq, self.origin, batch, now), self._carry(before, now))
                self._spawn(written, writes=True)
        if self._writes:
            await asyncio.wait(self._writes, timeout=self.gap_grace)
            for task in tuple(self._writes):  # the store closes next
                task.cancel()

    # -- in -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Where reading begins, taken before the hub serves its first socket: an event
        numbered after a socket opened is then never mistaken for one from before.

        The other processes' open views are told to reload: a hub killed while its last
        events waited for their write took them along (the tickets and messages are in the
        store, only their live events are gone), and this may be the process that replaces it."""
        await self.beat()  # its windows' holds count from the first
        try:
            self.cursor = await self.store.cluster.last_event_seq()
        except StoreUnavailable:
            pass  # the first read takes it (the store being down, no socket sees events anyway)
        self._send({"type": RESYNC, "conversation_id": "", "data": {"started": self.origin}})

    async def read_step(self) -> None:
        """Read and deliver the next events; wait a little when there are none."""
        try:
            if self.cursor is None:
                self.cursor = await self.store.cluster.last_event_seq()  # what came before is not ours to show
            events = await self.store.cluster.events_after(self.cursor, limit=BATCH)
            if events and events[0].seq == self.cursor + 2:  # one number missing: the next batch carries it
                carried = await self.store.cluster.carried(events[0].seq)
                if carried is not None and carried.seq == self.cursor + 1:
                    events.insert(0, carried)
        except StoreUnavailable:
            await asyncio.sleep(self.poll * 25)  # resumed from the cursor once the store answers
            return
        self.take(events)
        if len(events) < BATCH:  # caught up (or waiting for a missing number): ask again shortly
            await asyncio.sleep(self.poll)

    def take(self, batches: list[RelayedBatch]) -> bool:
        """Deliver batches in order up to the first missing number; whether any was taken."""
        assert self.cursor is not None
        taken = False
        for batch in batches:
            if batch.seq <= self.cursor:
                continue
            if batch.seq > self.cursor + 1:  # a hole before this one
                now = time.monotonic()
                if self._hole_since is None:
                    self._hole_since = now
                if now - self._hole_since < self.gap_grace:
                    break  # wait for it: its writer may be about to write it
                self._lost(batch.seq - self.cursor - 1)
            self._hole_since = None
            self.cursor = batch.seq
            taken = True
            if batch.origin != self.origin:
                for payload in batch.payloads:
                    self._deliver(batch.origin, payload)
        return taken

    def _lost(self, count: int) -> None:
        self.gaps += 1
        log.warning("live events: %d batch(es) from other hub processes were lost; open views reload", count)
        self.bus.publish_remote(Event(RESYNC, "", {"lost": count}))

    def _deliver(self, origin: str, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == HANDOVER:
            if self.origin in payload.get("to", ()):
                self._spawn(self._take_handover(origin, payload))
        elif kind == ANSWER:
            if self.origin in payload.get("to", ()):
                self._answered(payload.get("id", ""), origin, bool(payload.get("ok")))
        elif isinstance(kind, str):
            data = payload.get("data")
            self.bus.publish_remote(
                Event(kind, str(payload.get("conversation_id", "")), data if isinstance(data, dict) else {})
            )

    # -- hand-overs -----------------------------------------------------------------------
    async def hand_over(self, to: list[str], kind: str, body: dict[str, Any], *, timeout: float) -> bool:
        """Ask the processes `to` to deliver `body` to a socket they hold; True once one
        says it did, False when all say they could not or none answers in time."""
        if not to:
            return False
        ask = secrets.token_hex(8)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._answers[ask] = (future, set(to))
        self._send({"type": HANDOVER, "id": ask, "to": list(to), "kind": kind, "body": body})
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        finally:
            self._answers.pop(ask, None)

    def _answered(self, ask: str, by: str, ok: bool) -> None:
        waiting = self._answers.get(ask)
        if waiting is None or waiting[0].done():
            return  # late: the asker gave up (and retries the delivery later)
        future, left = waiting
        left.discard(by)
        if ok:
            future.set_result(True)
        elif not left:
            future.set_result(False)

    async def _take_handover(self, asker: str, payload: dict[str, Any]) -> None:
        taker = self.takers.get(str(payload.get("kind", "")))
        ok = False
        if taker is not None:
            try:
                ok = await taker(dict(payload.get("body") or {}))
            except Exception:
                log.exception("live events: a hand-over from %s could not be delivered here", asker)
        self._send({"type": ANSWER, "id": payload.get("id", ""), "to": [asker], "ok": ok})

    def _spawn(self, work: Awaitable[None], *, writes: bool = False) -> None:
        task = asyncio.ensure_future(work)
        kept = self._writes if writes else self._tasks
        kept.add(task)
        task.add_done_callback(kept.discard)
        task.add_done_callback(log_task_failure)

    # -- being alive ----------------------------------------------------------------------
    async def beat_step(self) -> None:
        """Say this process is alive for `lapse` more, three times per lapse.

        A beat that comes too late (the store was out of reach) means the others counted this
        process as gone meanwhile, and a reply to a visitor whose window is open here may have
        been kept for their return instead of handed over: the windows catch up (`catchers`)."""
        await self.beat()
        await asyncio.sleep(self.lapse.total_seconds() / 3)

    async def beat(self) -> None:
        started = time.monotonic()
        try:
            await self.store.cluster.beat(self.origin, until=self.clock() + self.lapse)
        except StoreUnavailable:
            return  # the next step tries again
        lapsed = self._beaten is not None and time.monotonic() - self._beaten > self.lapse.total_seconds()
        self._beaten = started
        if lapsed:
            log.warning(
                "live events: this hub process could not say it was alive in time; its web-chat windows catch up"
            )
            for catch_up in self.catchers:  # not waited for: the beats go on meanwhile
                self._spawn(catch_up())

    # -- housekeeping ---------------------------------------------------------------------
    async def prune_step(self) -> None:
        """Old events, expired counters and socket holds go, by one process at a time."""
        now = self.clock()
        try:
            if await self.store.coordination.acquire_lease(
                "relay-prune", self.origin, now=now, ttl=timedelta(seconds=self.prune_every * 3)
            ):
                await self.store.cluster.prune_events(now - self.keep)
                await self.store.cluster.prune_counters(now)
        except StoreUnavailable:
            pass  # the next round does it
        await asyncio.sleep(self.prune_every)


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Event data as JSON carries it (a datetime becomes its ISO text, as the sockets send it)."""
    return json.loads(json.dumps(data, default=str))
