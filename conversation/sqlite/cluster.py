"""SQLite: live events, socket holders and shared counters (one process uses this store, so
the hub keeps its events in memory; the contract is kept all the same)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from conversation.areas.cluster import Cluster, RelayedBatch
from conversation.codec import from_epoch_ms, to_epoch_ms
from conversation.sqlite.db import Area

INSERT_BATCH = "INSERT INTO relay_events (seq, origin, at, payload) VALUES (?,?,?,?) ON CONFLICT (seq) DO NOTHING"


class SQLiteCluster(Area, Cluster):
    shared = False

    async def take_event_seq(
        self, origin: str, payloads: list[dict[str, Any]], *, now: datetime
    ) -> tuple[int, RelayedBatch | None]:
        encoded = json.dumps(payloads)

        def job(conn: sqlite3.Connection) -> int:  # one transaction: numbered and written at once
            sql = (
                "INSERT INTO counters (name, value) VALUES ('relay_events', 1)"
                " ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
            )
            seq = int(conn.execute(sql).fetchone()[0])
            conn.execute(INSERT_BATCH, (seq, origin, to_epoch_ms(now), encoded))
            return seq

        return await self._call(job), None  # nothing can be left unwritten

    async def write_events(self, batch: RelayedBatch, *, carry: RelayedBatch | None = None) -> None:
        row = (batch.seq, batch.origin, to_epoch_ms(batch.at), json.dumps(batch.payloads))
        await self._call(lambda conn: conn.execute(INSERT_BATCH, row))  # no carry: nothing is left unwritten

    async def carried(self, seq: int) -> RelayedBatch | None:
        return None

    async def events_after(self, seq: int, *, limit: int) -> list[RelayedBatch]:
        def job(conn: sqlite3.Connection) -> list[RelayedBatch]:
            rows = conn.execute(
                "SELECT seq, origin, at, payload FROM relay_events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
            return [RelayedBatch(r[0], r[1], json.loads(r[3]), from_epoch_ms(r[2])) for r in rows]  # type: ignore[arg-type]

        return await self._call(job, write=False)

    async def last_event_seq(self) -> int:
        return int(await self._one("SELECT value FROM counters WHERE name = 'relay_events'", (), lambda r: r[0]) or 0)

    async def prune_events(self, before: datetime) -> int:
        sql = "DELETE FROM relay_events WHERE at < ?"
        return await self._call(lambda conn: conn.execute(sql, (to_epoch_ms(before),)).rowcount)

    async def beat(self, holder: str, *, until: datetime) -> None:
        sql = "INSERT INTO hub_beats VALUES (?,?) ON CONFLICT (holder) DO UPDATE SET until = excluded.until"
        await self._call(lambda conn: conn.execute(sql, (holder, to_epoch_ms(until))))

    async def hold(self, key: str, holder: str, *, until: datetime) -> None:
        sql = "INSERT INTO socket_holds VALUES (?,?,?) ON CONFLICT (key, holder) DO UPDATE SET until = excluded.until"
        await self._call(lambda conn: conn.execute(sql, (key, holder, to_epoch_ms(until))))

    async def release(self, key: str, holder: str) -> None:
        sql = "DELETE FROM socket_holds WHERE key = ? AND holder = ?"
        await self._call(lambda conn: conn.execute(sql, (key, holder)))

    async def holders(self, key: str, *, now: datetime) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            sql = (
                "SELECT h.holder FROM socket_holds h JOIN hub_beats b ON b.holder = h.holder"
                " WHERE h.key = ? AND h.until > ? AND b.until > ? ORDER BY h.holder"
            )
            moment = to_epoch_ms(now)
            return [r[0] for r in conn.execute(sql, (key, moment, moment)).fetchall()]

        return await self._call(job, write=False)

    async def add_to_counter(self, key: str, amount: int, *, expires_at: datetime) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "INSERT INTO shared_counters VALUES (?,?,?) ON CONFLICT (key) DO UPDATE"
                " SET total = total + excluded.total, expires_at = MAX(expires_at, excluded.expires_at)"
                " RETURNING total",
                (key, amount, to_epoch_ms(expires_at)),
            ).fetchone()
            return int(row[0])

        return await self._call(job)

    async def counter(self, key: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT total FROM shared_counters WHERE key = ?", (key,)).fetchone()
            return int(row[0]) if row else 0

        return await self._call(job, write=False)

    async def prune_counters(self, now: datetime) -> int:
        moment = to_epoch_ms(now)

        def job(conn: sqlite3.Connection) -> int:
            gone = conn.execute("DELETE FROM shared_counters WHERE expires_at < ?", (moment,)).rowcount
            gone += conn.execute("DELETE FROM socket_holds WHERE until < ?", (moment,)).rowcount
            return gone + conn.execute("DELETE FROM hub_beats WHERE until < ?", (moment,)).rowcount

        return await self._call(job)
