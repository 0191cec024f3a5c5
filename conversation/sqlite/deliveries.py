"""SQLite: the outbox: outbound messages waiting for, or in, delivery."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from conversation.areas.deliveries import Deliveries
from conversation.codec import (
    to_epoch_ms,
)
from conversation.delivery_order import holds_back_later
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
            conn.create_function("holds_back_later", 4, holds_back_later, deterministic=True)
            claimed: list[Message] = []
            # A quarantined row no longer holds back the replies after it: claim again for them.
            while len(claimed) < limit:
                rows = _claim(conn, owner, now, lease, limit - len(claimed))
                readable = _quarantine_unreadable(conn, rows)
                claimed += readable
                if len(readable) == len(rows):
                    break
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


def _claim(conn: sqlite3.Connection, owner: str, now: datetime, lease: timedelta, limit: int) -> list[sqlite3.Row]:
    """Lease up to `limit` due deliveries, the soonest due first, none that an earlier queued
    delivery of its conversation and channel holds back (the partial index messages_queued_order
    finds those)."""
    now_ms = to_epoch_ms(now)
    return conn.execute(
        "UPDATE messages SET d_lease_owner = ?, d_lease_until = ? WHERE seq IN ("
        " SELECT m.seq FROM messages m WHERE m.d_status = 'queued' AND m.d_next_attempt_at <= ?"
        " AND (m.d_lease_until IS NULL OR m.d_lease_until < ?)"
        " AND NOT EXISTS (SELECT 1 FROM messages e WHERE e.conversation_id = m.conversation_id"
        " AND e.channel = m.channel AND e.d_status = 'queued' AND e.seq < m.seq"
        " AND holds_back_later(e.d_attempts, e.d_next_attempt_at, e.d_lease_until, ?))"
        " ORDER BY m.d_next_attempt_at LIMIT ?)"
        " RETURNING *",
        (owner, to_epoch_ms(now + lease), now_ms, now_ms, now_ms, limit),
    ).fetchall()


def _quarantine_unreadable(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Message]:
    """The claimed rows as messages; one that cannot be read is failed with the reason, so it
    does not stop every delivery behind it."""
    claimed = []
    for row in rows:
        try:
            claimed.append(_message(row))
        except Exception as exc:
            error = quarantine_error(exc)
            log.error("outbox: message %s %s", row["id"], error)
            conn.execute(
                "UPDATE messages SET d_status = 'failed', d_error = ?, d_lease_owner = '',"
                " d_lease_until = NULL WHERE seq = ?",
                (error, row["seq"]),
            )
    return claimed
