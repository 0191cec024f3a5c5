"""MongoDB: the outbox: outbound messages waiting for, or in, delivery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument

from conversation.areas.deliveries import Deliveries
from conversation.codec import (
    message_from_doc,
)
from conversation.errors import InvalidInput
from conversation.model import (
    DeliveryStatus,
    Message,
)
from conversation.mongo.db import (
    Area,
    _unavailable_when_unreachable,
    log,
)
from conversation.rules import check_requeue, delivery_after_attempt
from conversation.store import (
    NotFound,
    quarantine_error,
)


class MongoDeliveries(Area, Deliveries):
    @_unavailable_when_unreachable
    async def claim_deliveries(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Message]:
        claimed: list[Message] = []
        for _ in range(limit):
            doc = await self._messages.find_one_and_update(
                {
                    "delivery.status": DeliveryStatus.QUEUED.value,
                    "delivery.next_attempt_at": {"$lte": now},
                    "$or": [{"delivery.lease_until": None}, {"delivery.lease_until": {"$lt": now}}],
                },
                {"$set": {"delivery.lease_owner": owner, "delivery.lease_until": now + lease}},
                sort=[("delivery.next_attempt_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            try:
                claimed.append(message_from_doc(doc))
            except Exception as exc:  # one unreadable document must not stop every delivery behind it
                error = quarantine_error(exc)
                log.error("outbox: message %s %s", doc.get("_id"), error)
                await self._messages.update_one(
                    {"_id": doc["_id"]},
                    {
                        "$set": {
                            "delivery.status": DeliveryStatus.FAILED.value,
                            "delivery.error": error,
                            "delivery.lease_owner": "",
                            "delivery.lease_until": None,
                        }
                    },
                )
        return claimed

    @_unavailable_when_unreachable
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
        values: dict[str, Any] = {
            "delivery.status": status.value,
            "delivery.error": error,
            "delivery.next_attempt_at": next_at,
            "delivery.sent_at": sent_at,
            "delivery.lease_owner": "",
            "delivery.lease_until": None,
        }
        if external_id:
            values["external_id"] = external_id
        result = await self._messages.update_one(
            {"_id": message_id, "delivery.status": DeliveryStatus.QUEUED.value, "delivery.lease_owner": owner},
            {"$set": values, "$inc": {"delivery.attempts": 1}},
        )
        return result.modified_count == 1

    @_unavailable_when_unreachable
    async def record_delivery_parts(self, message_id: str, owner: str, parts: int) -> bool:
        result = await self._messages.update_one(
            {"_id": message_id, "delivery.status": DeliveryStatus.QUEUED.value, "delivery.lease_owner": owner},
            {"$max": {"delivery.parts_sent": parts}},
        )
        return result.matched_count == 1

    @_unavailable_when_unreachable
    async def release_deliveries(self, owner: str) -> int:
        result = await self._messages.update_many(
            {"delivery.status": DeliveryStatus.QUEUED.value, "delivery.lease_owner": owner},
            {"$set": {"delivery.lease_owner": "", "delivery.lease_until": None}},
        )
        return result.modified_count

    @_unavailable_when_unreachable
    async def requeue_delivery(self, message_id: str, *, now: datetime) -> Message:
        doc = await self._messages.find_one_and_update(
            {"_id": message_id, "delivery.status": DeliveryStatus.FAILED.value},
            {
                "$set": {
                    "delivery.status": DeliveryStatus.QUEUED.value,
                    "delivery.attempts": 0,
                    "delivery.error": "",
                    "delivery.next_attempt_at": now,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return message_from_doc(doc)
        current = await self._messages.find_one({"_id": message_id}, {"delivery.status": 1})
        if current is None:
            raise NotFound(f"message {message_id}")
        check_requeue((current.get("delivery") or {}).get("status"))
        raise InvalidInput("only a failed delivery can be retried")  # it failed, and was retried meanwhile

    @_unavailable_when_unreachable
    async def count_queued(self) -> int:
        return await self._messages.count_documents({"delivery.status": DeliveryStatus.QUEUED.value})

    @_unavailable_when_unreachable
    async def mark_undelivered(self, message_id: str, error: str) -> Message | None:
        doc = await self._messages.find_one_and_update(
            {"_id": message_id, "delivery": {"$ne": None}},
            {
                "$set": {
                    "delivery.status": DeliveryStatus.FAILED.value,
                    "delivery.error": error,
                    "delivery.lease_owner": "",
                    "delivery.lease_until": None,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self._messages.find_one({"_id": message_id})
        return message_from_doc(doc) if doc else None
