"""One thread owns the SQLite connection and commits work in groups.

Every store call becomes a job (a plain function of the connection). The thread takes
whatever jobs are waiting, runs each inside its own SAVEPOINT (one failing job rolls
back alone) and commits them together: one fsync for many messages, so the embedded
store can stay `synchronous=FULL` (an acknowledged message survives a power cut) and
still take thousands of messages a second. A job's future resolves only after COMMIT.

`[storage] timeout_seconds` holds end to end: a caller waits at most that long, the queue
of jobs is bounded (a full queue answers "busy" at once instead of growing), a job whose
deadline passed while it waited is not run, and SQLite's own lock wait is no longer.
The worker also remembers whether writes are failing (disk full, I/O errors) so that
health checks, which only read, can say so.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
# (job, write, loop, future, deadline on time.monotonic() or None)
Job = tuple[Callable[[sqlite3.Connection], Any], bool, asyncio.AbstractEventLoop, asyncio.Future[Any], float | None]

MAX_GROUP = 256


class KeptNamesConnection(sqlite3.Connection):
    """The writer's connection, which keeps the column names of the statements read through
    db.named_rows: each read's dict then has keys whose hashes are known and which the
    codec's names match by identity, not new strings to hash and compare on every message.
    Per connection: an upgraded database may order a table's columns otherwise than a new one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.column_names: dict[str, tuple[str, ...]] = {}


MAX_QUEUED = 10_000  # jobs waiting for the thread; beyond that callers are told "busy" at once

# Errors that mean the database cannot take writes (as opposed to a busy lock).
WRITE_FAILURES = {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CORRUPT,
    sqlite3.SQLITE_NOTADB,
    sqlite3.SQLITE_CANTOPEN,
}


def is_write_failure(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and code & 0xFF in WRITE_FAILURES


class SQLiteWorker:
    def __init__(self, path: Path, *, timeout: float | None = 5.0, max_queued: int = MAX_QUEUED) -> None:
        self._path = path
        self.timeout = timeout
        self._jobs: queue.Queue[Job | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._opened: asyncio.Future[None] | None = None
        self.write_error = ""  # why the last write failed, until a write succeeds again

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(loop,), name="helpline-sqlite", daemon=True)
        self._thread.start()
        await self._opened

    async def call(self, job: Callable[[sqlite3.Connection], T], *, write: bool = True, deadline: bool = True) -> T:
        """Run `job` on the connection; a read-only job (write=False) skips its savepoint.

        With `deadline` (the default), raise sqlite3.OperationalError once `timeout` has passed;
        a job not started by then is never run. Start-up and maintenance jobs pass False.
        """
        if self._thread is None or not self._thread.is_alive():
            raise sqlite3.OperationalError("the SQLite store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        timeout = self.timeout if deadline else None
        try:
            self._jobs.put_nowait((job, write, loop, future, None if timeout is None else time.monotonic() + timeout))
        except queue.Full:
            raise sqlite3.OperationalError("the database is busy: too many operations are waiting") from None
        if timeout is None:
            return await future
        # One timer that fails the future, not asyncio.wait_for: that wraps every store call
        # (several per message) in a timeout context of a dozen calls. Cancelling the caller
        # still cancels the future, as awaiting it directly does.
        timer = loop.call_later(timeout, _expire, future, timeout)
        try:
            return await future
        finally:
            timer.cancel()

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
        await asyncio.to_thread(self._jobs.put, None)  # may wait for room in a full queue
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, factory=KeptNamesConnection)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Another process holding the write lock is waited for no longer than a caller waits.
        conn.execute(f"PRAGMA busy_timeout={int((self.timeout or 5.0) * 1000)}")
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

    def _run_group(self, conn: sqlite3.Connection, group: list[Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        changes = conn.total_changes
        write_failure: BaseException | None = None
        committed = False
        try:
            conn.execute("BEGIN IMMEDIATE")
            now = time.monotonic()
            for job, write, _loop, _future, deadline in group:
                if deadline is not None and now > deadline:  # its caller has given up: do not run it
                    outcomes.append((None, sqlite3.OperationalError("the database was too busy to run this in time")))
                    continue
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
                    if not conn.in_transaction:  # SQLite rolled back everything (disk full, I/O error)
                        raise
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((None, exc))
                    if is_write_failure(exc):
                        write_failure = exc
            conn.execute("COMMIT")
            committed = True
        except Exception as exc:  # the transaction failed as a whole: nothing in the group stands
            log.error("SQLite transaction failed: %s", exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(None, exc)] * len(group)
            if is_write_failure(exc):
                write_failure = exc
        if write_failure is not None:
            if not self.write_error:
                log.error("SQLite: writes are failing (%s)", write_failure)
            self.write_error = str(write_failure)
        elif self.write_error and committed and conn.total_changes > changes:  # something new was stored
            log.info("SQLite: writes work again")
            self.write_error = ""
        # One wake-up of the event loop per group, not per job.
        settled: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for (_job, _write, loop, future, _deadline), (result, error) in zip(group, outcomes, strict=True):
            settled.setdefault(loop, []).append((future, result, error))
        for loop, results in settled.items():
            loop.call_soon_threadsafe(_settle_all, results)


def _settle_all(results: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in results:
        _settle(future, result, error)


def _expire(future: asyncio.Future[Any], timeout: float) -> None:
    if not future.done():
        future.set_exception(sqlite3.OperationalError(f"the database did not answer within {timeout:g}s"))


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # its caller gave up (cancelled, or past its deadline)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
