"""The in-process sliding-window limiter: limits, and idle keys do not pile up."""

from __future__ import annotations

from hub.ratelimit import SlidingWindow


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
