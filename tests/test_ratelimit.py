"""The in-process sliding-window limiter: limits, and idle keys do not pile up."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation.sqlite import SQLiteStore
from hub.ratelimit import SharedLimit, SlidingWindow, sliding_wait


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_over_its_limit_waits_until_its_oldest_event_leaves_the_window() -> None:
    clock = Clock()
    window = SlidingWindow(limit=2, window=60, clock=clock)
    assert window.take("a") is None and window.take("a") is None
    clock.now += 10
    assert window.take("a") == 50
    assert window.take("b") is None  # other keys are not affected
    clock.now += 50
    assert window.take("a") is None


def test_idle_keys_are_swept_without_being_asked_again() -> None:
    clock = Clock()
    window = SlidingWindow(limit=5, window=60, clock=clock)
    for i in range(100_000):
        window.take(f"visitor-{i}")
    assert len(window) == 100_000
    clock.now += 3600  # an hour later, one other visitor writes
    window.take("someone else")
    assert len(window) == 1
    clock.now += 30  # keys still inside their window are kept
    window.take("a third")
    assert len(window) == 2


async def test_a_shared_limit_counts_in_the_store_and_slides_over_two_windows(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "helpline.sqlite3")
    await store.open()
    try:
        clock = Clock()
        clock.now = 6000.0  # the start of a 60 s window
        first = SharedLimit(store, "signin", limit=3, window=60, clock=clock)
        second = SharedLimit(store, "signin", limit=3, window=60, clock=clock)  # another hub process
        assert await first.take("a") is None and await second.take("a") is None and await first.take("a") is None
        clock.now += 30
        wait = await second.take("a")  # counted by either, refused by both
        assert wait == pytest.approx(50)  # 20 s into the next window: 3 * (1 - 1/3) + 1 <= 3
        assert await second.take("b") is None
        await first.give_back("a")
        assert await second.take("a") is None  # the given-back event made room
        clock.now += 45  # 15 s into the next window: the previous one still weighs 3 * 0.75
        assert await first.take("a") is not None
        clock.now += 20  # 35 s in: 3 * 0.42 + 1 <= 3
        assert await first.take("a") is None
        await first.reset("a")
        assert all([await second.take("a") is None for _ in range(3)])
    finally:
        await store.close()


def test_the_wait_is_until_one_more_event_fits_the_sliding_estimate() -> None:
    assert sliding_wait(previous=0, current=3, limit=3, into=0.5) == pytest.approx(0.5 + 1 / 3)
    assert sliding_wait(previous=4, current=1, limit=3, into=0.25) == 0.5  # 4 * (1 - 0.75) + 1 + 1 <= 3
