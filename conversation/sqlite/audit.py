"""SQLite: the audit log (append-only; indexed by time, actor, target and action)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from conversation.areas.audit import Audit
from conversation.audit import AuditEntry, AuditQuery
from conversation.codec import from_epoch_ms, to_epoch_ms
from conversation.sqlite.db import Area


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=from_epoch_ms(row["at"]),  # type: ignore[arg-type]
        actor_id=row["actor_id"],
        actor_name=row["actor_name"],
        via=row["via"],
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        before=json.loads(row["before"]),
        after=json.loads(row["after"]),
    )


class SQLiteAudit(Area, Audit):
    async def append(self, entry: AuditEntry) -> None:
        values = (
            entry.id,
            to_epoch_ms(entry.at),
            entry.actor_id,
            entry.actor_name,
            entry.via,
            entry.action,
            entry.target_type,
            entry.target_id,
            json.dumps(entry.before, ensure_ascii=False),
            json.dumps(entry.after, ensure_ascii=False),
        )
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO audit (id, at, actor_id, actor_name, via, action, target_type, target_id, before, after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        )

    async def list_entries(self, query: AuditQuery) -> list[AuditEntry]:
        where: list[str] = ["1"]
        params: list[Any] = []
        for column, value in (("actor_id", query.actor_id), ("target_id", query.target_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        prefix = query.action_prefix
        if prefix is not None:
            where.append("action >= ? AND action < ?")  # a range the index serves (no LIKE escaping)
            params += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        elif query.action is not None:
            where.append("action = ?")
            params.append(query.action)
        if query.since is not None:
            where.append("at >= ?")
            params.append(to_epoch_ms(query.since))
        if query.until is not None:
            where.append("at < ?")
            params.append(to_epoch_ms(query.until))
        sql = f"SELECT * FROM audit WHERE {' AND '.join(where)} ORDER BY at DESC, seq DESC LIMIT ? OFFSET ?"
        args: tuple[Any, ...] = (*params, query.limit, query.offset)
        return await self._call(lambda conn: [_entry(r) for r in conn.execute(sql, args).fetchall()], write=False)
