"""SQLite: durable plugin timers. A claim is one UPDATE ... RETURNING on the writer
thread, so two hubs on one database file never take the same timer."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

from conversation.areas.timers import Timers
from conversation.codec import from_epoch_ms, state_from_doc, state_to_doc, to_epoch_ms
from conversation.sqlite.db import Area
from conversation.timers import Timer

COLUMNS = "key, plugin, name, data, conversation_id, due_at, generation, attempts"


def _timer(row: sqlite3.Row) -> Timer:
    return Timer(
        key=row["key"],
        plugin=row["plugin"],
        name=row["name"],
        data=state_from_doc(json.loads(row["data"])),
        conversation_id=row["conversation_id"],
        due_at=from_epoch_ms(row["due_at"]),  # type: ignore[arg-type]
        generation=row["generation"],
        attempts=row["attempts"],
    )


class SQLiteTimers(Area, Timers):
    async def schedule_timer(self, timer: Timer) -> None:
        data = json.dumps(state_to_doc(timer.data), ensure_ascii=False)  # refused here, before the write
        row = (timer.key, timer.plugin, timer.name, data, timer.conversation_id, to_epoch_ms(timer.due_at))
        sql = (
            f"INSERT INTO timers ({COLUMNS}, owner, lease_until) VALUES (?,?,?,?,?,?,?,0,'',0)"
            " ON CONFLICT (key) DO UPDATE SET plugin = excluded.plugin, name = excluded.name, data = excluded.data,"
            " conversation_id = excluded.conversation_id, due_at = excluded.due_at,"
            " generation = excluded.generation, attempts = 0, owner = '', lease_until = 0"
        )
        await self._call(lambda conn: conn.execute(sql, (*row, timer.generation)))

    async def cancel_timer(self, key: str) -> bool:
        return bool(await self._call(lambda conn: conn.execute("DELETE FROM timers WHERE key = ?", (key,)).rowcount))

    async def get_timer(self, key: str) -> Timer | None:
        def job(conn: sqlite3.Connection) -> Timer | None:
            row = conn.execute(f"SELECT {COLUMNS} FROM timers WHERE key = ?", (key,)).fetchone()
            return _timer(row) if row else None

        return await self._call(job, write=False)

    async def claim_due_timers(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Timer]:
        at = to_epoch_ms(now)
        sql = (
            "UPDATE timers SET owner = ?, lease_until = ?, attempts = attempts + 1 WHERE key IN"
            " (SELECT key FROM timers WHERE due_at <= ? AND lease_until <= ? ORDER BY due_at LIMIT ?)"
            f" RETURNING {COLUMNS}"
        )
        params = (owner, to_epoch_ms(now + lease), at, at, limit)

        def job(conn: sqlite3.Connection) -> list[Timer]:
            return sorted((_timer(row) for row in conn.execute(sql, params).fetchall()), key=lambda t: t.due_at)

        return await self._call(job)

    async def finish_timer(self, timer: Timer) -> bool:
        sql = "DELETE FROM timers WHERE key = ? AND generation = ?"
        return bool(await self._call(lambda conn: conn.execute(sql, (timer.key, timer.generation)).rowcount))

    async def release_timer(self, timer: Timer, owner: str) -> None:
        sql = (
            "UPDATE timers SET owner = '', lease_until = 0, attempts = MAX(attempts - 1, 0)"
            " WHERE key = ? AND generation = ? AND owner = ?"
        )
        await self._call(lambda conn: conn.execute(sql, (timer.key, timer.generation, owner)))

    async def retry_timer(self, timer: Timer, *, at: datetime) -> None:
        sql = "UPDATE timers SET owner = '', lease_until = 0, due_at = ? WHERE key = ? AND generation = ?"
        await self._call(lambda conn: conn.execute(sql, (to_epoch_ms(at), timer.key, timer.generation)))
