"""SQLite: webhook subscriptions (one JSON document each) and their deliveries (queue and log)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from conversation.areas.webhooks import Webhooks
from conversation.codec import from_epoch_ms, to_epoch_ms
from conversation.sqlite.db import Area
from conversation.store import NotFound
from conversation.webhooks import (
    Subscription,
    WebhookDelivery,
    WebhookStatus,
    check_redeliver,
    subscription_from_doc,
    subscription_to_doc,
)


def _subscription(row: sqlite3.Row) -> Subscription:
    doc = json.loads(row["doc"])
    doc["created_at"] = from_epoch_ms(doc.get("created_at"))
    return subscription_from_doc(doc)


def _delivery(row: sqlite3.Row) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        subscription_id=row["subscription_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        payload=json.loads(row["payload"]),
        created_at=from_epoch_ms(row["created_at"]),  # type: ignore[arg-type]
        status=WebhookStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=from_epoch_ms(row["next_attempt_at"]),
        response_code=row["response_code"],
        last_error=row["last_error"],
        finished_at=from_epoch_ms(row["finished_at"]),
    )


class SQLiteWebhooks(Area, Webhooks):
    async def save_subscription(self, subscription: Subscription) -> None:
        doc = subscription_to_doc(subscription)
        doc["created_at"] = to_epoch_ms(subscription.created_at)
        text = json.dumps(doc, ensure_ascii=False)
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO webhooks VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                (subscription.id, text),
            )
        )

    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        return await self._one("SELECT doc FROM webhooks WHERE id = ?", (subscription_id,), _subscription)

    async def list_subscriptions(self) -> list[Subscription]:
        return await self._call(
            lambda conn: [_subscription(r) for r in conn.execute("SELECT doc FROM webhooks ORDER BY id").fetchall()],
            write=False,
        )

    async def delete_subscription(self, subscription_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM webhook_deliveries WHERE subscription_id = ?", (subscription_id,))
            return conn.execute("DELETE FROM webhooks WHERE id = ?", (subscription_id,)).rowcount == 1

        return await self._call(job)

    async def enqueue(self, deliveries: list[WebhookDelivery]) -> None:
        rows = [
            (
                d.id,
                d.subscription_id,
                d.event_id,
                d.event_type,
                json.dumps(d.payload, ensure_ascii=False),
                to_epoch_ms(d.created_at),
                d.status.value,
                d.attempts,
                to_epoch_ms(d.next_attempt_at),
            )
            for d in deliveries
        ]
        if rows:
            await self._call(
                lambda conn: conn.executemany(
                    "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, payload, created_at,"
                    " status, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            )

    async def claim(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[WebhookDelivery]:
        now_ms = to_epoch_ms(now)

        def job(conn: sqlite3.Connection) -> list[WebhookDelivery]:
            rows = conn.execute(
                "UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE seq IN ("
                " SELECT seq FROM webhook_deliveries WHERE status = 'queued' AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at LIMIT ?)"
                " RETURNING *",
                (owner, to_epoch_ms(now + lease), now_ms, now_ms, limit),
            ).fetchall()
            return sorted((_delivery(r) for r in rows), key=lambda d: d.id)

        return await self._call(job)

    async def finish(
        self,
        delivery_id: str,
        owner: str,
        *,
        status: WebhookStatus,
        next_attempt_at: datetime | None,
        response_code: int | None,
        error: str,
        now: datetime,
    ) -> bool:
        finished = None if status is WebhookStatus.QUEUED else to_epoch_ms(now)
        values: tuple[Any, ...] = (
            status.value,
            to_epoch_ms(next_attempt_at),
            response_code,
            error,
            finished,
            delivery_id,
            owner,
        )
        return await self._call(
            lambda conn: (
                conn.execute(
                    "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
                    " response_code = ?, last_error = ?, finished_at = ?, lease_owner = '', lease_until = NULL"
                    " WHERE id = ? AND status = 'queued' AND lease_owner = ?",
                    values,
                ).rowcount
                == 1
            )
        )

    async def release(self, owner: str) -> int:
        return await self._call(
            lambda conn: (
                conn.execute(
                    "UPDATE webhook_deliveries SET lease_owner = '', lease_until = NULL"
                    " WHERE status = 'queued' AND lease_owner = ?",
                    (owner,),
                ).rowcount
            )
        )

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        return await self._one("SELECT * FROM webhook_deliveries WHERE id = ?", (delivery_id,), _delivery)

    async def list_deliveries(
        self, subscription_id: str, *, status: WebhookStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[WebhookDelivery]:
        sql = "SELECT * FROM webhook_deliveries WHERE subscription_id = ?"
        params: list[Any] = [subscription_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status.value)
        sql += " ORDER BY seq DESC LIMIT ? OFFSET ?"
        params += [limit, offset]
        return await self._call(lambda conn: [_delivery(r) for r in conn.execute(sql, params).fetchall()], write=False)

    async def prune(self, finished_before: datetime) -> int:
        return await self._call(
            lambda conn: (
                conn.execute(
                    "DELETE FROM webhook_deliveries WHERE status != 'queued' AND finished_at < ?",
                    (to_epoch_ms(finished_before),),
                ).rowcount
            )
        )

    async def redeliver(self, delivery_id: str, *, now: datetime) -> WebhookDelivery:
        def job(conn: sqlite3.Connection) -> WebhookDelivery:
            row = conn.execute("SELECT * FROM webhook_deliveries WHERE id = ?", (delivery_id,)).fetchone()
            if row is None:
                raise NotFound(f"delivery {delivery_id}")
            check_redeliver(WebhookStatus(row["status"]))
            conn.execute(
                "UPDATE webhook_deliveries SET status = 'queued', attempts = 0, next_attempt_at = ?,"
                " finished_at = NULL, lease_owner = '', lease_until = NULL WHERE id = ?",
                (to_epoch_ms(now), delivery_id),
            )
            return _delivery(conn.execute("SELECT * FROM webhook_deliveries WHERE id = ?", (delivery_id,)).fetchone())

        return await self._call(job)
