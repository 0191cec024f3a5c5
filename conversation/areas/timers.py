"""Durable plugin timers (see conversation/timers.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from conversation.timers import Timer


class Timers(ABC):
    @abstractmethod
    async def schedule_timer(self, timer: Timer) -> None:
        """Store the timer, replacing one with the same key (unclaimed, attempts reset)."""

    @abstractmethod
    async def cancel_timer(self, key: str) -> bool:
        """Remove the timer; False when there was none."""

    @abstractmethod
    async def get_timer(self, key: str) -> Timer | None: ...

    @abstractmethod
    async def claim_due_timers(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Timer]:
        """Atomically take up to `limit` timers due by `now` that nobody holds (or whose
        holder's lease is over) for `owner` until `now + lease`; each claim counts an attempt."""

    @abstractmethod
    async def finish_timer(self, timer: Timer) -> bool:
        """Remove the fired timer unless it was scheduled again since it was claimed."""

    @abstractmethod
    async def retry_timer(self, timer: Timer, *, at: datetime) -> None:
        """Release a claimed timer to fire again at `at` (its plugin failed)."""

    @abstractmethod
    async def release_timer(self, timer: Timer, owner: str) -> None:
        """Give back a timer `owner` claimed, unfired and due as it was: its claim is no
        attempt. Nothing when another holds it now."""
