"""Sliding-window counters, kept in this process (one hub's view of its own traffic)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


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
