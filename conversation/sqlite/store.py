"""The embedded default backend: one SQLite file in the data directory, no server.

Each area is a module of this package over one shared connection (db.py): the writer
thread and its group commit serve them all.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from conversation.sqlite.accounts import SQLiteAccounts
from conversation.sqlite.audit import SQLiteAudit
from conversation.sqlite.calendars import SQLiteCalendars
from conversation.sqlite.callbacks import SQLiteCallbacks
from conversation.sqlite.calls import SQLiteCalls
from conversation.sqlite.cluster import SQLiteCluster
from conversation.sqlite.contacts import SQLiteContacts
from conversation.sqlite.coordination import SQLiteCoordination
from conversation.sqlite.db import (
    CHECKPOINT_EVERY,
    MIGRATIONS,
    SCHEMA,
    SEARCH_INTERVAL,
    SQLiteDB,
    _add_missing_columns,
    _analyze,
    _index_for_search,
    _renew_stale_search_index,
    log,
)
from conversation.sqlite.deliveries import SQLiteDeliveries
from conversation.sqlite.desk import SQLiteDesk
from conversation.sqlite.fields import SQLiteFieldDefinitions
from conversation.sqlite.inbox import SQLiteInbox
from conversation.sqlite.knowledge import SQLiteKnowledge
from conversation.sqlite.quality import SQLiteQuality
from conversation.sqlite.records import SQLiteRecords
from conversation.sqlite.reports import SQLiteReports
from conversation.sqlite.roster import SQLiteRoster
from conversation.sqlite.tickets import SQLiteTickets
from conversation.sqlite.timers import SQLiteTimers
from conversation.sqlite.webhooks import SQLiteWebhooks
from conversation.store import (
    SCHEMA_VERSION,
    Store,
    StoreUnavailable,
    migrations_to_run,
)


class SQLiteStore(Store):
    serves_one_process = True  # README: "The embedded SQLite store serves one process"

    def __init__(self, path: Path, *, timeout: float | None = 5.0) -> None:
        self._db = SQLiteDB(path, timeout=timeout)
        self.path = path
        self.url = self._db.url
        self._worker = self._db.worker
        self._indexer: asyncio.Task[None] | None = None
        self.tickets = SQLiteTickets(self._db)
        self.contacts = SQLiteContacts(self._db)
        self.deliveries = SQLiteDeliveries(self._db)
        self.accounts = SQLiteAccounts(self._db)
        self.coordination = SQLiteCoordination(self._db)
        self.inbox = SQLiteInbox(self._db)
        self.desk = SQLiteDesk(self._db)
        self.records = SQLiteRecords(self._db)
        self.timers = SQLiteTimers(self._db)
        self.calls = SQLiteCalls(self._db)
        self.callbacks = SQLiteCallbacks(self._db)
        self.calendars = SQLiteCalendars(self._db)
        self.fields = SQLiteFieldDefinitions(self._db)
        self.audit = SQLiteAudit(self._db)
        self.webhooks = SQLiteWebhooks(self._db)
        self.roster = SQLiteRoster(self._db)
        self.knowledge = SQLiteKnowledge(self._db)
        self.reports = SQLiteReports(self._db)
        self.quality = SQLiteQuality(self._db)
        self.cluster = SQLiteCluster(self._db)

    @property
    def search_seconds(self) -> float:
        """How long one search may run (tests lower it)."""
        return self._db.search_seconds

    @search_seconds.setter
    def search_seconds(self, seconds: float) -> None:
        self._db.search_seconds = seconds

    async def _call(self, job: Any, *, write: bool = True, deadline: bool = True) -> Any:
        return await self._db.call(job, write=write, deadline=deadline)

    async def _maintain(self) -> None:
        """Behind the writes: fill the search index, checkpoint the WAL."""
        rounds = 0
        while True:
            await asyncio.sleep(SEARCH_INTERVAL)
            rounds += 1
            try:
                await self._call(_index_for_search, deadline=False)
                if rounds % CHECKPOINT_EVERY == 0:
                    await self._worker.checkpoint()
            except (StoreUnavailable, sqlite3.Error) as exc:
                log.warning("SQLite maintenance postponed: %s", exc)  # the next round catches up
            except Exception:  # a bug must not end search indexing for good
                log.exception("SQLite maintenance failed; trying again in the next round")

    async def refresh_search(self) -> None:
        """Index everything stored so far (a search then sees every message)."""
        while await self._call(_index_for_search, deadline=False):
            pass

    async def open(self) -> None:
        try:
            await self._worker.start()
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        await self._call(self._migrate, deadline=False)  # start-up work may take its time
        await self.refresh_search()
        await self._call(_analyze, deadline=False)
        self._indexer = asyncio.create_task(self._maintain(), name="helpline-sqlite-maintenance")

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        version = None
        if has_meta:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else None
        for migration in migrations_to_run(version, MIGRATIONS):
            for statement in migration.split(";\n"):
                conn.execute(statement)
        for statement in SCHEMA.split(";\n"):
            if statement.strip():
                conn.execute(statement)
        _add_missing_columns(conn)
        conn.execute(
            "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
        _renew_stale_search_index(conn)

    async def close(self) -> None:
        if self._indexer is not None:
            self._indexer.cancel()
            await asyncio.gather(self._indexer, return_exceptions=True)
            self._indexer = None
            try:
                await self.refresh_search()
            except StoreUnavailable:
                pass  # indexed at the next open
        await self._worker.stop()
        if self.path.exists():
            await self._worker.checkpoint()

    async def ping(self) -> None:
        await self._call(lambda conn: conn.execute("SELECT 1").fetchone(), write=False)

    async def write_failure(self) -> str:
        return self._worker.write_error
