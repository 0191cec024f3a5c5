"""Background work that outlives its own errors, and whose errors are never silent.

Every background loop of the hub (the outbox runner, plugin recovery, a channel's event
router) runs one *step* at a time under `Supervisor.run`: an unexpected exception is
logged with the loop's name, the loop backs off (exponentially, with jitter) and carries
on with the next step. Its state (running, failing, dead) is what `/healthz` shows, so a
loop that keeps failing is seen without reading logs. Fire-and-forget tasks get
`log_task_failure` as a done-callback: an exception nobody awaits is still logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hub.backoff import backoff

log = logging.getLogger(__name__)

FAILING_AFTER = 3  # consecutive failures before a loop counts as unhealthy


@dataclass
class LoopState:
    """What one supervised loop is doing, as `/healthz` reports it."""

    name: str
    failures: int = 0  # consecutive; reset by a step that succeeds
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    finished: bool = False  # ended as asked (stopped), not by an error

    @property
    def status(self) -> str:
        if self.task is not None and self.task.done() and not self.finished:
            return "dead"
        if self.finished:
            return "stopped"
        return "failing" if self.failures >= FAILING_AFTER else "running"

    @property
    def healthy(self) -> bool:
        return self.status in ("running", "stopped")


class Supervisor:
    """Runs named loops step by step; one step's exception never ends its loop."""

    def __init__(self, *, base_delay: float = 0.5, max_delay: float = 30.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.loops: dict[str, LoopState] = {}

    def run(
        self,
        name: str,
        step: Callable[[], Awaitable[Any]],
        *,
        until: Callable[[], bool] = lambda: False,
    ) -> asyncio.Task[None]:
        """Call `step` again and again until `until()` holds or the task is cancelled."""
        state = LoopState(name)
        self.loops[name] = state
        state.task = asyncio.create_task(self._supervise(state, step, until), name=f"helpline-{name}")
        state.task.add_done_callback(log_task_failure)
        return state.task

    async def _supervise(self, state: LoopState, step: Callable[[], Awaitable[Any]], until: Callable[[], bool]) -> None:
        try:
            while not until():
                try:
                    await step()
                except Exception:  # anything a step raises: log, back off, carry on
                    state.failures += 1
                    delay = backoff(state.failures, base=self.base_delay, cap=self.max_delay)
                    log.exception("%s: step failed (%d in a row); next try in %.1fs", state.name, state.failures, delay)
                    await asyncio.sleep(delay)
                else:
                    if state.failures:
                        log.info("%s: working again after %d failure(s)", state.name, state.failures)
                        state.failures = 0
            state.finished = True
        except asyncio.CancelledError:
            state.finished = True  # stopped by its owner
            raise

    def report(self) -> dict[str, dict[str, Any]]:
        """Per loop: status and consecutive failures (the errors themselves are in the log, not public)."""
        return {name: {"status": s.status, "failures": s.failures} for name, s in sorted(self.loops.items())}

    @property
    def healthy(self) -> bool:
        return all(state.healthy for state in self.loops.values())


def log_task_failure(task: asyncio.Task[Any]) -> None:
    """Done-callback: log the exception of a task whose result nobody reads."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task %s failed", task.get_name(), exc_info=exc)
