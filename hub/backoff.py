"""Exponential backoff with jitter, shared by the outbox and the channels' retry loops."""

from __future__ import annotations

import random


def backoff(attempt: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    delay = min(cap, base * 2 ** (max(attempt, 1) - 1)) * random.uniform(1.0, 1.2)  # jitter spreads a burst out
    if retry_after is not None:
        delay = max(delay, retry_after)  # never earlier than the provider asked
    return delay
