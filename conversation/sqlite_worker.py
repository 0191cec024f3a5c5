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
Job = tuple[Callable[[sqlite3.Connection], Any], bool, asyncio.AbstractEventLoop, asyncio.Future[Any]]

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

    async def call(self, job: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """Run `job` on the connection; a read-only job (write=False) skips its savepoint."""
        if self._thread is None or not self._thread.is_alive():
            raise sqlite3.OperationalError("the SQLite store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, write, loop, future))
        return await future

    async def checkpoint(self) -> None:
        """Move the WAL into the database file from another connection, beside the writer."""

        def run() -> None:
            conn = sqlite3.connect(self._path, isolation_level=None)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()

        await asyncio.to_thread(run)

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
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages of a busy inbox stay in memory
        # Checkpoints copy the WAL into the database file and fsync it: tens of ms that
        # would stall every waiting job. A separate connection does them (see checkpoint).
        conn.execute("PRAGMA wal_autocheckpoint=0")
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
            for job, write, _loop, _future in group:
                if not write:
                    try:
                        outcomes.append((job(conn), None))
                    except Exception as exc:
                        outcomes.append((None, exc))
                    continue
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
        # One wake-up of the event loop per group, not per job.
        settled: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for (_job, _write, loop, future), (result, error) in zip(group, outcomes, strict=True):
            settled.setdefault(loop, []).append((future, result, error))
        for loop, results in settled.items():
            loop.call_soon_threadsafe(_settle_all, results)


def _settle_all(results: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in results:
        _settle(future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
