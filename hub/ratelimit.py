"""Sliding-window counters, kept in this process (one hub's view of its own traffic)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most `limit` events per key in the last `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float | None:
        """Seconds until the key may act again, or None if it may now."""
        events = self._events.get(key)
        if not events:
            return None
        now = self.clock()
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]  # idle keys do not accumulate
            return None
        if len(events) < self.limit:
            return None
        return events[0] + self.window - now

    def hit(self, key: str) -> None:
        self._events.setdefault(key, deque()).append(self.clock())

    def take(self, key: str) -> float | None:
        """Count one event if allowed; otherwise return how long to wait."""
        wait = self.retry_after(key)
        if wait is None:
            self.hit(key)
        return wait

    def give_back(self, key: str) -> None:
        """Undo the latest `take` (the action it allowed did not happen after all)."""
        events = self._events.get(key)
        if events:
            events.pop()

    def reset(self, key: str) -> None:
        self._events.pop(key, None)
