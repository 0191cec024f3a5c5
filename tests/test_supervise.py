"""The supervisor every background loop runs under."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.supervise import Supervisor, log_task_failure
from tests.helpers import eventually


async def test_a_failing_step_is_logged_backed_off_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor(base_delay=0.001, max_delay=0.005)
    outcomes: list[BaseException | None] = [KeyError("a"), ValueError("b"), TypeError("c"), None]
    done = asyncio.Event()

    async def step() -> None:
        if outcomes:
            outcome = outcomes.pop(0)
            if outcome is not None:
                raise outcome
            done.set()
        await asyncio.sleep(0.001)

    seen: list[str] = []

    async def watch() -> None:
        while not done.is_set():
            seen.append(supervisor.report()["demo"]["status"])
            await asyncio.sleep(0)

    task = supervisor.run("demo", step)
    await asyncio.gather(watch(), done.wait())
    assert "failing" in seen  # three failures in a row: unhealthy until a step works again
    await eventually(lambda: supervisor.report()["demo"] == {"status": "running", "failures": 0})
    assert supervisor.healthy
    failures = [r for r in caplog.records if r.levelno == logging.ERROR and "demo" in r.getMessage()]
    assert len(failures) == 3 and all(r.exc_info for r in failures)

    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert supervisor.report()["demo"]["status"] == "stopped" and supervisor.healthy


async def test_a_loop_that_ends_by_an_error_it_cannot_handle_shows_as_dead() -> None:
    supervisor = Supervisor()
    stop = {"now": False}

    def until() -> bool:
        if stop["now"]:
            raise RuntimeError("broken stop condition")
        return False

    task = supervisor.run("demo", lambda: asyncio.sleep(0.001), until=until)
    stop["now"] = True
    await asyncio.gather(task, return_exceptions=True)
    assert supervisor.report()["demo"]["status"] == "dead" and not supervisor.healthy


async def test_a_fire_and_forget_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("nobody awaits me")

    task = asyncio.create_task(boom(), name="helpline-demo")
    task.add_done_callback(log_task_failure)
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    [record] = [r for r in caplog.records if "helpline-demo" in r.getMessage()]
    assert record.levelno == logging.ERROR and record.exc_info is not None
