"""SQLite: the outbox: outbound messages waiting for, or in, delivery."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from conversation.areas.deliveries import Deliveries
from conversation.codec import (
    to_epoch_ms,
)
from conversation.model import (
    Message,
)
from conversation.rules import check_requeue, delivery_after_attempt
from conversation.sqlite.db import (
    Area,
    _message,
    log,
)
from conversation.store import (
    NotFound,
    quarantine_error,
)


class SQLiteDeliveries(Area, Deliveries):
    async def claim_deliveries(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Message]:
        def job(conn: sqlite3.Connection) -> list[Message]:
            now_ms = to_epoch_ms(now)
            rows = conn.execute(
                "UPDATE messages SET d_lease_owner = ?, d_lease_until = ? WHERE seq IN ("
                " SELECT seq FROM messages WHERE d_status = 'queued' AND d_next_attempt_at <= ?"
                " AND (d_lease_until IS NULL OR d_lease_until < ?) ORDER BY d_next_attempt_at LIMIT ?)"
                " RETURNING *",
                (owner, to_epoch_ms(now + lease), now_ms, now_ms, limit),
            ).fetchall()
            claimed = []
            for row in rows:
                try:
                    claimed.append(_message(row))
                except Exception as exc:  # one unreadable row must not stop every delivery behind it
                    error = quarantine_error(exc)
                    log.error("outbox: message %s %s", row["id"], error)
                    conn.execute(
                        "UPDATE messages SET d_status = 'failed', d_error = ?, d_lease_owner = '',"
                        " d_lease_until = NULL WHERE seq = ?",
                        (error, row["seq"]),
                    )
            return sorted(claimed, key=lambda m: m.id)

        return await self._call(job)

    async def finish_delivery(
        self,
        message_id: str,
        owner: str,
        *,
        sent_at: datetime | None = None,
        external_id: str = "",
        error: str = "",
        retry_at: datetime | None = None,
    ) -> bool:
        status, next_at = delivery_after_attempt(sent_at, retry_at)

        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE messages SET d_status = ?, d_attempts = d_attempts + 1, d_error = ?,"
                " d_next_attempt_at = ?, d_sent_at = ?, external_id = CASE WHEN ? != '' THEN ? ELSE external_id END,"
                " d_lease_owner = '', d_lease_until = NULL"
                " WHERE id = ? AND d_status = 'queued' AND d_lease_owner = ?",
                (
                    status.value,
                    error,
                    to_epoch_ms(next_at),
                    to_epoch_ms(sent_at),
                    external_id,
                    external_id,
                    message_id,
                    owner,
                ),
            )
            return cursor.rowcount == 1

        return await self._call(job)

    async def record_delivery_parts(self, message_id: str, owner: str, parts: int) -> bool:
        return await self._call(
            lambda conn: (
                conn.execute(
                    "UPDATE messages SET d_parts = MAX(d_parts, ?)"
                    " WHERE id = ? AND d_status = 'queued' AND d_lease_owner = ?",
                    (parts, message_id, owner),
                ).rowcount
                == 1
            )
        )

    async def release_deliveries(self, owner: str) -> int:
        return await self._call(
            lambda conn: (
                conn.execute(
                    "UPDATE messages SET d_lease_owner = '', d_lease_until = NULL"
                    " WHERE d_status = 'queued' AND d_lease_owner = ?",
                    (owner,),
                ).rowcount
            )
        )

    async def requeue_delivery(self, message_id: str, *, now: datetime) -> Message:
        def job(conn: sqlite3.Connection) -> Message:
            row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise NotFound(f"message {message_id}")
            check_requeue(row["d_status"])
            conn.execute(
                "UPDATE messages SET d_status = 'queued', d_attempts = 0, d_error = '', d_next_attempt_at = ?"
                " WHERE id = ?",
                (to_epoch_ms(now), message_id),
            )
            return _message(conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone())

        return await self._call(job)

    async def count_queued(self) -> int:
        return await self._call(
            lambda conn: conn.execute("SELECT COUNT(*) FROM messages WHERE d_status = 'queued'").fetchone()[0],
            write=False,
        )

    async def mark_undelivered(self, message_id: str, error: str) -> Message | None:
        def job(conn: sqlite3.Connection) -> Message | None:
            conn.execute(
                "UPDATE messages SET d_status = 'failed', d_error = ?, d_lease_owner = '', d_lease_until = NULL"
                " WHERE id = ? AND d_status IS NOT NULL",
                (error, message_id),
            )
            row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
            return _message(row) if row else None

        return await self._call(job)
