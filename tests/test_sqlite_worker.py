"""The embedded store's writer thread: deadlines, backpressure, and knowing when writes fail."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from conversation.sqlite.worker import SQLiteWorker
from tests.helpers import eventually


async def test_a_full_queue_answers_busy_and_jobs_past_their_deadline_are_not_run(tmp_path: Path) -> None:
    worker = SQLiteWorker(tmp_path / "w.sqlite3", timeout=0.2, max_queued=2)
    await worker.start()
    try:
        await worker.call(lambda conn: conn.execute("CREATE TABLE t (x INTEGER)"))
        slow = asyncio.create_task(worker.call(lambda conn: time.sleep(1.0), deadline=False))  # holds the thread
        await asyncio.sleep(0.05)

        def insert(value: int) -> object:
            return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (value,))

        waiting = [asyncio.create_task(worker.call(insert(n))) for n in (1, 2)]
        await asyncio.sleep(0)
        with pytest.raises(sqlite3.OperationalError, match="busy"):
            await worker.call(insert(3))  # no room: told at once, not queued
        # Ordered by what happened, not by wall-clock bounds a loaded machine can break: the
        # refusal came while the queued callers still waited, and they gave up at their
        # deadline while the slow job still held the thread (not when it ended).
        assert not any(task.done() for task in waiting)
        for task in waiting:
            with pytest.raises(sqlite3.OperationalError, match="did not answer within 0.2s"):
                await task
        assert not slow.done()

        await slow
        # The thread skips the two given-up jobs just after the slow one: their places in the
        # queue are free once it has taken them, which may be a moment after `slow` returns.
        await eventually(worker._jobs.empty)
        rows = await worker.call(lambda conn: conn.execute("SELECT COUNT(*) FROM t").fetchone()[0], write=False)
        assert rows == 0  # their callers had given up: they never ran
    finally:
        await worker.stop()
