"""SQLite: callback tasks (a JSON document each; status, owner and due time in columns to query)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime

from conversation.areas.callbacks import Callbacks
from conversation.callbacks import Callback, CallbackStatus, callback_from_doc, callback_to_doc
from conversation.codec import state_from_doc, state_to_doc, to_epoch_ms
from conversation.sqlite.db import Area


def _encoded(callback: Callback) -> str:
    return json.dumps(state_to_doc(callback_to_doc(callback)), ensure_ascii=False)


def _decoded(row: sqlite3.Row | tuple[str]) -> Callback:
    return callback_from_doc(state_from_doc(json.loads(row[0])))


def _rewrite(conn: sqlite3.Connection, callback: Callback) -> None:
    conn.execute(
        "UPDATE callbacks SET status = ?, raised = ?, doc = ? WHERE id = ?",
        (callback.status.value, int(callback.raised_at is not None), _encoded(callback), callback.id),
    )


class SQLiteCallbacks(Area, Callbacks):
    async def add_callback(self, callback: Callback) -> bool:
        params = (
            callback.id,
            callback.status.value,
            callback.owner_id,
            to_epoch_ms(callback.due_at),
            int(callback.raised_at is not None),
            _encoded(callback),
        )
        sql = "INSERT INTO callbacks VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
        return bool(await self._call(lambda conn: conn.execute(sql, params).rowcount))

    async def get_callback(self, callback_id: str) -> Callback | None:
        def job(conn: sqlite3.Connection) -> Callback | None:
            row = conn.execute("SELECT doc FROM callbacks WHERE id = ?", (callback_id,)).fetchone()
            return _decoded(row) if row else None

        return await self._call(job, write=False)

    async def list_callbacks(
        self, *, status: CallbackStatus | None = CallbackStatus.OPEN, owner_id: str | None = None, limit: int = 200
    ) -> list[Callback]:
        where, params = ["1"], []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if owner_id is not None:
            where.append("owner_id = ?")
            params.append(owner_id)
        sql = f"SELECT doc FROM callbacks WHERE {' AND '.join(where)} ORDER BY due_at, id LIMIT ?"  # fixed clauses

        def job(conn: sqlite3.Connection) -> list[Callback]:
            return [_decoded(row) for row in conn.execute(sql, (*params, limit))]

        return await self._call(job, write=False)

    async def close_callback(
        self, callback_id: str, status: CallbackStatus, *, by: str, now: datetime
    ) -> Callback | None:
        def job(conn: sqlite3.Connection) -> Callback | None:
            row = conn.execute("SELECT doc FROM callbacks WHERE id = ? AND status = 'open'", (callback_id,)).fetchone()
            if row is None:
                return None
            closed = replace(_decoded(row), status=status, closed_at=now, closed_by=by)
            _rewrite(conn, closed)
            return closed

        return await self._call(job)

    async def due_callbacks(self, now: datetime, *, limit: int = 200) -> list[Callback]:
        sql = "SELECT doc FROM callbacks WHERE status = 'open' AND raised = 0 AND due_at <= ? ORDER BY due_at LIMIT ?"

        def job(conn: sqlite3.Connection) -> list[Callback]:
            return [_decoded(row) for row in conn.execute(sql, (to_epoch_ms(now), limit))]

        return await self._call(job, write=False)

    async def mark_raised(self, callback_id: str, now: datetime) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT doc FROM callbacks WHERE id = ? AND raised = 0", (callback_id,)).fetchone()
            if row is None:
                return False
            _rewrite(conn, replace(_decoded(row), raised_at=now))
            return True

        return await self._call(job)
