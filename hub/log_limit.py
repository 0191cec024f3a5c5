"""A log line that a stranger can cause, let through at most once in a while."""

from __future__ import annotations

import time
from collections.abc import Callable


class LogLimit:
    """Lets one line through per `seconds` and counts the ones held back meanwhile, so a flood
    (an address-guessing sender, say) costs one line a minute, not one a request."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._next = float("-inf")
        self._held = 0

    def allow(self) -> int | None:
        """None while held back; else how many lines were held back since the last one."""
        now = self.clock()
        if now < self._next:
            self._held += 1
            return None
        held, self._held, self._next = self._held, 0, now + self.seconds
        return held
