"""MongoDB: the outbox: outbound messages waiting for, or in, delivery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument

from conversation.areas.deliveries import Deliveries
from conversation.codec import (
    as_utc,
    message_from_doc,
)
from conversation.delivery_order import holds_back_later
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
        # A quarantined document no longer holds back the replies after it: look again for them.
        while len(claimed) < limit:
            readable, quarantined = await self._claim_in_order(owner, now, lease, limit - len(claimed))
            claimed += readable
            if not quarantined:
                break
        return sorted(claimed, key=lambda m: m.id)

    async def _claim_in_order(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> tuple[list[Message], int]:
        """Due, unleased deliveries, the soonest due first, each claimed unless an earlier queued
        delivery of its conversation and channel holds it back; (claimed, quarantined)."""
        due = {
            "delivery.status": DeliveryStatus.QUEUED.value,
            "delivery.next_attempt_at": {"$lte": now},
            "$or": [{"delivery.lease_until": None}, {"delivery.lease_until": {"$lt": now}}],
        }
        # Per conversation and channel: the first queued delivery that holds the later ones back
        # ("" when none does). Claiming one makes it that, for this round.
        first_holding: dict[tuple[str, str], str] = {}
        claimed: list[Message] = []
        quarantined = 0
        # In the outbox index's order; whichever of one ticket's replies comes first, the earlier
        # queued one is found by _first_holding_back.
        candidates = self._messages.find(due, {"conversation_id": 1, "channel": 1}).sort(
            "delivery.next_attempt_at", ASCENDING
        )
        async for candidate in candidates:
            pair = (candidate.get("conversation_id", ""), candidate.get("channel", ""))
            if pair not in first_holding:
                first_holding[pair] = await self._first_holding_back(*pair, now)
            holding = first_holding[pair]
            if holding and holding < candidate["_id"]:
                continue
            # Still due and unleased: of two hubs racing for it, one gets it.
            doc = await self._messages.find_one_and_update(
                {"_id": candidate["_id"], **due},
                {"$set": {"delivery.lease_owner": owner, "delivery.lease_until": now + lease}},
                return_document=ReturnDocument.AFTER,
            )
            # Whoever has it now (this claimer or a racing one), it is in flight: the later ones wait.
            first_holding[pair] = min(holding, candidate["_id"]) if holding else candidate["_id"]
            if doc is None:
                continue
            try:
                claimed.append(message_from_doc(doc))
            except Exception as exc:  # one unreadable document must not stop every delivery behind it
                await self._quarantine(doc, exc)
                quarantined += 1
                del first_holding[pair]
                continue
            if len(claimed) == limit:
                break
        await candidates.close()
        return claimed, quarantined

    async def _first_holding_back(self, conversation_id: str, channel: str, now: datetime) -> str:
        """The earliest queued delivery of a conversation on a channel that holds the later ones
        back (conversation.delivery_order), or "" when none does."""
        queued = self._messages.find(
            {"conversation_id": conversation_id, "channel": channel, "delivery.status": DeliveryStatus.QUEUED.value},
            {"delivery.attempts": 1, "delivery.next_attempt_at": 1, "delivery.lease_until": 1},
        ).sort("_id", ASCENDING)
        async for doc in queued:
            delivery = doc.get("delivery") or {}
            if holds_back_later(
                delivery.get("attempts") or 0,
                as_utc(delivery.get("next_attempt_at")),
                as_utc(delivery.get("lease_until")),
                now,
            ):
                await queued.close()
                return str(doc["_id"])
        return ""

    async def _quarantine(self, doc: dict[str, Any], exc: Exception) -> None:
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
