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
        seq = await self.reserve_event_seq()
        await self.write_events(seq, origin, payloads, now=now)
        return seq

    @abstractmethod
    async def reserve_event_seq(self) -> int:
        """Take the next sequence number for a batch (numbers never go back, even after pruning)."""

    @abstractmethod
    async def write_events(self, seq: int, origin: str, payloads: list[dict[str, Any]], *, now: datetime) -> None:
        """Write the batch under the number taken for it; writing it again changes nothing (a
        retry after a lost answer is not a second batch)."""

    @abstractmethod
    async def events_after(self, seq: int, *, limit: int) -> list[RelayedBatch]:
        """The batches after `seq`, in sequence order. A number may be missing for a moment
        (a writer between taking it and writing) or for good (that writer died)."""

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
