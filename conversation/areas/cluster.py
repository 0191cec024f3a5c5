"""What hub processes sharing one store tell each other: live events, who holds which
socket, and counters that limit traffic wherever it arrives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class RelayedBatch:
    """Events one hub process wrote together, in its order: one row or document each
    batch (not each event), so the log stays short and a write is one insert."""

    seq: int  # the store's order: every hub reads the batches in it
    origin: str  # the hub process that published them (which skips its own)
    payloads: list[dict[str, Any]]
    at: datetime


class Cluster(ABC):
    """Live events, socket holders and shared counters (both backends; only a store that
    several processes share needs the first two, see `shared`)."""

    shared: bool = False  # True: several hub processes may use this store at once

    # -- the event log ----------------------------------------------------------------------
    async def append_events(self, origin: str, payloads: list[dict[str, Any]], *, now: datetime) -> int:
        """Append events (JSON objects) as one batch; the batch's sequence number."""
        seq, before = await self.take_event_seq(origin, payloads, now=now)
        await self.write_events(RelayedBatch(seq, origin, payloads, now), carry=before)
        return seq

    @abstractmethod
    async def take_event_seq(
        self, origin: str, payloads: list[dict[str, Any]], *, now: datetime
    ) -> tuple[int, RelayedBatch | None]:
        """Take the next sequence number for this batch (numbers never go back, even after
        pruning), leaving the batch with it. Returns the number and the batch that took the
        number before (None when there is nothing to carry: written at once), which this
        batch carries (`write_events`), so a writer killed between taking its number and
        writing leaves no hole that readers wait for: the next batch brings it (`carried`)."""

    @abstractmethod
    async def write_events(self, batch: RelayedBatch, *, carry: RelayedBatch | None = None) -> None:
        """Write the batch under the number taken for it, with a copy of the batch numbered
        just before; writing it again changes nothing (a retry after a lost answer is not a
        second batch)."""

    @abstractmethod
    async def events_after(self, seq: int, *, limit: int) -> list[RelayedBatch]:
        """The batches after `seq`, in sequence order. A number may be missing for a moment
        (a writer between taking it and writing; the next batch carries it), or for good
        (pruned, or its writer and the next one both died)."""

    @abstractmethod
    async def carried(self, seq: int) -> RelayedBatch | None:
        """The copy batch `seq` carries of the batch numbered just before it (None: none)."""

    @abstractmethod
    async def last_event_seq(self) -> int:
        """The highest sequence number taken so far (0 when none): a new reader starts there."""

    @abstractmethod
    async def prune_events(self, before: datetime) -> int:
        """Delete events older than `before`; how many went."""

    # -- socket holders -----------------------------------------------------------------------
    @abstractmethod
    async def beat(self, holder: str, *, until: datetime) -> None:
        """`holder` (a hub process) is alive until then: its holds count only while it beats,
        so a process that was killed stops being asked within seconds, not when its holds end."""

    @abstractmethod
    async def hold(self, key: str, holder: str, *, until: datetime) -> None:
        """Record (or extend) that `holder` keeps a connection for `key` until then."""

    @abstractmethod
    async def release(self, key: str, holder: str) -> None: ...

    @abstractmethod
    async def holders(self, key: str, *, now: datetime) -> list[str]:
        """Who holds a connection for `key` now (the hold unexpired and its holder still
        beating), sorted."""

    # -- counters -----------------------------------------------------------------------------
    @abstractmethod
    async def add_to_counter(self, key: str, amount: int, *, expires_at: datetime) -> int:
        """Add atomically (a negative amount gives back) and return the new total; the
        counter may be deleted after `expires_at` (the latest one given is kept)."""

    @abstractmethod
    async def counter(self, key: str) -> int:
        """The counter's total (0 when none)."""

    @abstractmethod
    async def prune_counters(self, now: datetime) -> int:
        """Delete expired counters, socket holds and beats; how many went."""
