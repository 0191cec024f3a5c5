"""Rate limits: sliding-window counters in this process, or shared through the store.

`SlidingWindow` is one process's view of its own traffic (per socket, or for a store no
other process uses); `limiter_for` gives the limit a hub applies to people: counted in
the store's atomic counters when several hub processes share it, so a limit reached
through one holds on all of them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from conversation.store import Store


class SlidingWindow:
    """At most `limit` events per key in the last `window` seconds.

    Keys that fell idle are swept at most once per window, whichever key is asked next,
    so one-off visitors and addresses do not accumulate (memory stays proportional to
    the keys active in the last two windows).
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}
        self._swept_at = clock()

    def __len__(self) -> int:
        """How many keys are held now."""
        return len(self._events)

    def retry_after(self, key: str) -> float | None:
        """Seconds until the key may act again, or None if it may now."""
        now = self.clock()
        if now - self._swept_at >= self.window:
            self.sweep(now)
        events = self._events.get(key)
        if not events:
            return None
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]  # idle keys do not accumulate
            return None
        if len(events) < self.limit:
            return None
        return events[0] + self.window - now

    def sweep(self, now: float | None = None) -> int:
        """Forget every key with no event in the window; returns how many were dropped."""
        now = self.clock() if now is None else now
        self._swept_at = now
        idle = [key for key, events in self._events.items() if not events or events[-1] <= now - self.window]
        for key in idle:
            del self._events[key]
        return len(idle)

    def hit(self, key: str) -> None:
        self._events.setdefault(key, deque()).append(self.clock())

    def take(self, key: str) -> float | None:
        """Count one event if allowed; otherwise return how long to wait."""
        wait = self.retry_after(key)
        if wait is None:
            self.hit(key)
        return wait

    def give_back(self, key: str) -> None:
        """Uncount the newest event of the key (counted in advance; the action did not happen,
        or it turned out fine and should cost nothing)."""
        events = self._events.get(key)
        if events:
            events.pop()

    def reset(self, key: str) -> None:
        self._events.pop(key, None)


class RateLimit(Protocol):
    """A limit of `limit` events per key in a sliding `window` of seconds, asked with awaits
    (it may be counted in the store, for every hub process together)."""

    async def take(self, key: str) -> float | None:
        """Count one event if allowed; otherwise how many seconds to wait."""
        ...

    async def give_back(self, key: str) -> None:
        """Uncount one event of the key (counted in advance; it did not happen or costs nothing)."""
        ...

    async def reset(self, key: str) -> None: ...

    def sweep(self) -> int:
        """Forget idle keys held in this process; how many went."""
        ...


class LocalLimit:
    """The in-process fast path: for a store that no other process shares (embedded SQLite)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.counts = SlidingWindow(limit, window, clock)

    async def take(self, key: str) -> float | None:
        return self.counts.take(key)

    async def give_back(self, key: str) -> None:
        self.counts.give_back(key)

    async def reset(self, key: str) -> None:
        self.counts.reset(key)

    def sweep(self) -> int:
        return self.counts.sweep()


class SharedLimit:
    """Counted in the store's atomic counters, so a limit reached through one hub process
    holds on the others. The window slides by estimate (as most shared limiters do): the
    current fixed window's count plus the previous one's, weighted by how much of it the
    sliding window still covers. Counts are taken before anything else happens, so parallel
    requests through different processes cannot all pass."""

    def __init__(
        self, store: Store, name: str, limit: int, window: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.store, self.name, self.limit, self.window, self.clock = store, name, limit, window, clock

    def _key(self, key: str, index: int) -> str:
        return f"{self.name}\x1f{key}\x1f{index}"

    def _expiry(self, index: int) -> datetime:
        return datetime.fromtimestamp((index + 2) * self.window, UTC)  # still read as the previous window

    async def take(self, key: str) -> float | None:
        now = self.clock()
        index = int(now // self.window)
        into = now / self.window - index  # how far into the current window, 0..1
        current = await self.store.cluster.add_to_counter(self._key(key, index), 1, expires_at=self._expiry(index))
        previous = await self.store.cluster.counter(self._key(key, index - 1))
        if previous * (1 - into) + current <= self.limit:
            return None
        await self.store.cluster.add_to_counter(self._key(key, index), -1, expires_at=self._expiry(index))
        return sliding_wait(previous, current - 1, self.limit, into) * self.window

    async def give_back(self, key: str) -> None:
        index = int(self.clock() // self.window)
        counter = self._key(key, index)
        if await self.store.cluster.add_to_counter(counter, -1, expires_at=self._expiry(index)) < 0:
            await self.store.cluster.add_to_counter(counter, 1, expires_at=self._expiry(index))  # nothing to give

    async def reset(self, key: str) -> None:
        index = int(self.clock() // self.window)
        for i in (index - 1, index):
            total = await self.store.cluster.counter(self._key(key, i))
            if total:
                await self.store.cluster.add_to_counter(self._key(key, i), -total, expires_at=self._expiry(i))

    def sweep(self) -> int:
        return 0  # expired counters are pruned in the store (hub/relay.py)


def sliding_wait(previous: int, current: int, limit: int, into: float) -> float:
    """Windows (fractions of one) until one more event fits under `limit`, given the
    previous and current windows' counts and how far into the current one it is."""
    if current + 1 <= limit:  # the previous window's weight must fall far enough
        needed = 1 - (limit - current - 1) / previous if previous else 0.0
        return max(needed - into, 0.0) or 1 / 1000
    # not before the next window, where this one's count is the previous one's
    needed = max(0.0, 1 - (limit - 1) / current) if current else 0.0
    return (1 - into) + needed


def limiter_for(store: Store, name: str, limit: int, window: float) -> RateLimit:
    """Counted in the store when several hub processes share it; in this process otherwise."""
    return SharedLimit(store, name, limit, window) if store.cluster.shared else LocalLimit(limit, window)
