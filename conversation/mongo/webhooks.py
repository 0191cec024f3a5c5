"""MongoDB: webhook subscriptions and their deliveries (queue and log); claims are
find-and-modify with a lease expiry in the filter, as in the message outbox."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from conversation.areas.webhooks import Webhooks
from conversation.codec import as_utc
from conversation.mongo.db import Area, _unavailable_when_unreachable
from conversation.store import NotFound
from conversation.webhooks import (
    Subscription,
    WebhookDelivery,
    WebhookStatus,
    check_redeliver,
    delivery_from_doc,
    delivery_to_doc,
    subscription_from_doc,
    subscription_to_doc,
)

TIMES = ("created_at", "next_attempt_at", "finished_at")


def _delivery(doc: dict[str, Any]) -> WebhookDelivery:
    # The payload is kept as JSON text: its keys come from tickets and plugins' records,
    # which may hold characters MongoDB does not take in field names.
    values = {**doc, "payload": json.loads(doc["payload"]), **{k: as_utc(doc.get(k)) for k in TIMES}}
    return delivery_from_doc(values)


class MongoWebhooks(Area, Webhooks):
    @_unavailable_when_unreachable
    async def save_subscription(self, subscription: Subscription) -> None:
        doc = {"_id": subscription.id, **subscription_to_doc(subscription)}
        await self._db.webhooks.replace_one({"_id": subscription.id}, doc, upsert=True)

    @_unavailable_when_unreachable
    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        doc = await self._db.webhooks.find_one({"_id": subscription_id}, {"_id": 0})
        return subscription_from_doc({**doc, "created_at": as_utc(doc.get("created_at"))}) if doc else None

    @_unavailable_when_unreachable
    async def list_subscriptions(self) -> list[Subscription]:
        return [
            subscription_from_doc({**doc, "created_at": as_utc(doc.get("created_at"))})
            async for doc in self._db.webhooks.find({}, {"_id": 0}).sort("id", ASCENDING)
        ]

    @_unavailable_when_unreachable
    async def delete_subscription(self, subscription_id: str) -> bool:
        found = (await self._db.webhooks.delete_one({"_id": subscription_id})).deleted_count == 1
        await self._db.webhook_deliveries.delete_many({"subscription_id": subscription_id})
        return found

    @_unavailable_when_unreachable
    async def enqueue(self, deliveries: list[WebhookDelivery]) -> None:
        docs = [
            {
                "_id": d.id,
                **delivery_to_doc(d),
                "payload": json.dumps(d.payload, ensure_ascii=False),
                "lease_owner": "",
                "lease_until": None,
            }
            for d in deliveries
        ]
        if docs:
            await self._db.webhook_deliveries.insert_many(docs)

    @_unavailable_when_unreachable
    async def claim(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[WebhookDelivery]:
        claimed = []
        for _ in range(limit):
            doc = await self._db.webhook_deliveries.find_one_and_update(
                {
                    "status": WebhookStatus.QUEUED.value,
                    "next_attempt_at": {"$lte": now},
                    "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}],
                },
                {"$set": {"lease_owner": owner, "lease_until": now + lease}},
                sort=[("next_attempt_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            claimed.append(_delivery(doc))
        return sorted(claimed, key=lambda d: d.id)

    @_unavailable_when_unreachable
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
        result = await self._db.webhook_deliveries.update_one(
            {"_id": delivery_id, "status": WebhookStatus.QUEUED.value, "lease_owner": owner},
            {
                "$set": {
                    "status": status.value,
                    "next_attempt_at": next_attempt_at,
                    "response_code": response_code,
                    "last_error": error,
                    "finished_at": None if status is WebhookStatus.QUEUED else now,
                    "lease_owner": "",
                    "lease_until": None,
                },
                "$inc": {"attempts": 1},
            },
        )
        return result.modified_count == 1

    @_unavailable_when_unreachable
    async def release(self, owner: str) -> int:
        result = await self._db.webhook_deliveries.update_many(
            {"status": WebhookStatus.QUEUED.value, "lease_owner": owner},
            {"$set": {"lease_owner": "", "lease_until": None}},
        )
        return result.modified_count

    @_unavailable_when_unreachable
    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        doc = await self._db.webhook_deliveries.find_one({"_id": delivery_id})
        return _delivery(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_deliveries(
        self, subscription_id: str, *, status: WebhookStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[WebhookDelivery]:
        where: dict[str, Any] = {"subscription_id": subscription_id}
        if status is not None:
            where["status"] = status.value
        cursor = self._db.webhook_deliveries.find(where).sort("_id", DESCENDING).skip(offset).limit(limit)
        return [_delivery(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def prune(self, finished_before: datetime) -> int:
        result = await self._db.webhook_deliveries.delete_many(
            {"status": {"$ne": WebhookStatus.QUEUED.value}, "finished_at": {"$lt": finished_before}}
        )
        return result.deleted_count

    @_unavailable_when_unreachable
    async def redeliver(self, delivery_id: str, *, now: datetime) -> WebhookDelivery:
        found = await self.get_delivery(delivery_id)
        if found is None:
            raise NotFound(f"delivery {delivery_id}")
        check_redeliver(found.status)
        doc = await self._db.webhook_deliveries.find_one_and_update(
            {"_id": delivery_id, "status": WebhookStatus.FAILED.value},
            {
                "$set": {
                    "status": WebhookStatus.QUEUED.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "finished_at": None,
                    "lease_owner": "",
                    "lease_until": None,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:  # retried by someone else in between
            raise NotFound(f"delivery {delivery_id}")
        return _delivery(doc)
