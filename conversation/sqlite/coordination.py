"""SQLite: work shared by hub processes: leases, small key-value state, per-plugin state."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from conversation.areas.coordination import Coordination
from conversation.codec import (
    state_from_doc,
    state_to_doc,
    to_epoch_ms,
)
from conversation.sqlite.db import (
    Area,
)


class SQLiteCoordination(Area, Coordination):
    async def load_plugin_state(self, conversation_id: str, plugin: str) -> tuple[dict[str, Any], int]:
        def job(conn: sqlite3.Connection) -> tuple[dict[str, Any], int]:
            row = conn.execute(
                "SELECT state, version FROM plugin_state WHERE conversation_id = ? AND plugin = ?",
                (conversation_id, plugin),
            ).fetchone()
            return (state_from_doc(json.loads(row[0])), row[1]) if row else ({}, 0)

        return await self._call(job, write=False)

    async def set_plugin_state(
        self, conversation_id: str, plugin: str, state: dict[str, Any], *, version: int | None = None
    ) -> bool:
        encoded = json.dumps(state_to_doc(state))  # refused here, in the caller, before any write

        def job(conn: sqlite3.Connection) -> bool:
            if version is None:
                sql = (
                    "INSERT INTO plugin_state VALUES (?,?,?,1) ON CONFLICT (conversation_id, plugin)"
                    " DO UPDATE SET state = excluded.state, version = plugin_state.version + 1"
                )
                return conn.execute(sql, (conversation_id, plugin, encoded)).rowcount == 1
            if version == 0:
                sql = "INSERT INTO plugin_state VALUES (?,?,?,1) ON CONFLICT (conversation_id, plugin) DO NOTHING"
                return conn.execute(sql, (conversation_id, plugin, encoded)).rowcount == 1
            sql = (
                "UPDATE plugin_state SET state = ?, version = version + 1"
                " WHERE conversation_id = ? AND plugin = ? AND version = ?"
            )
            return conn.execute(sql, (encoded, conversation_id, plugin, version)).rowcount == 1

        return await self._call(job)

    async def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "INSERT INTO leases VALUES (?,?,?) ON CONFLICT (name) DO UPDATE"
                " SET owner = excluded.owner, expires_at = excluded.expires_at"
                " WHERE leases.owner = excluded.owner OR leases.expires_at < ? RETURNING owner",
                (name, owner, to_epoch_ms(now + ttl), to_epoch_ms(now)),
            ).fetchone()
            return row is not None

        return await self._call(job)

    async def release_lease(self, name: str, owner: str) -> None:
        await self._call(lambda conn: conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner)))

    async def get_value(self, key: str) -> Any:
        def job(conn: sqlite3.Connection) -> Any:
            row = conn.execute("SELECT value FROM channel_state WHERE key = ?", (key,)).fetchone()
            return state_from_doc(json.loads(row[0])) if row else None

        return await self._call(job, write=False)

    async def set_value(self, key: str, value: Any) -> None:
        encoded = json.dumps(state_to_doc(value))
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO channel_state VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, encoded),
            )
        )
