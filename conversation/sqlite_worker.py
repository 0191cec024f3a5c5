"""One thread owns the SQLite connection and commits work in groups.

Every store call becomes a job (a plain function of the connection). The thread takes
whatever jobs are waiting, runs each inside its own SAVEPOINT (one failing job rolls
back alone) and commits them together: one fsync for many messages, so the embedded
store can stay `synchronous=FULL` (an acknowledged message survives a power cut) and
still take thousands of messages a second. A job's future resolves only after COMMIT.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]]

MAX_GROUP = 256


class SQLiteWorker:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._opened: asyncio.Future[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(loop,), name="helpline-sqlite", daemon=True)
        self._thread.start()
        await self._opened

    async def call(self, job: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None or not self._thread.is_alive():
            raise sqlite3.OperationalError("the SQLite store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, loop, future))
        return await future

    async def stop(self) -> None:
        if self._thread is None:
            return
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._opened is not None
        try:
            conn = self._connect()
        except Exception as exc:  # reported to start(), which raises it
            loop.call_soon_threadsafe(_settle, self._opened, None, exc)
            return
        loop.call_soon_threadsafe(_settle, self._opened, None, None)
        try:
            while (first := self._jobs.get()) is not None:
                group = [first]
                stop = False
                while len(group) < MAX_GROUP:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    group.append(job)
                self._run_group(conn, group)
                if stop:
                    break
        finally:
            conn.close()

    @staticmethod
    def _run_group(conn: sqlite3.Connection, group: list[Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, _loop, _future in group:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((job(conn), None))
                    conn.execute("RELEASE job")
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((None, exc))
            conn.execute("COMMIT")
        except Exception as exc:  # the commit itself failed: nothing in the group stands
            log.error("SQLite commit failed: %s", exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(None, exc)] * len(group)
        for (_job, loop, future), (result, error) in zip(group, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
