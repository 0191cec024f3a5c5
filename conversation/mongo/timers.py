"""MongoDB: durable plugin timers. Each claim is one find_one_and_update on a timer that
is due and unheld, so two hubs never take the same timer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument

from conversation.areas.timers import Timers
from conversation.codec import as_utc, state_from_doc, state_to_doc
from conversation.mongo.db import Area, _unavailable_when_unreachable
from conversation.timers import Timer

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "never held": before every lease


async def create_timer_indexes(db: Any) -> None:
    await db.timers.create_index([("due_at", ASCENDING)], name="due")


def _timer(doc: dict[str, Any]) -> Timer:
    return Timer(
        key=doc["_id"],
        plugin=doc["plugin"],
        name=doc["name"],
        data=state_from_doc(dict(doc["data"])),
        conversation_id=doc["conversation_id"],
        due_at=as_utc(doc["due_at"]),  # type: ignore[arg-type]
        generation=doc["generation"],
        attempts=int(doc.get("attempts", 0)),
    )


class MongoTimers(Area, Timers):
    @_unavailable_when_unreachable
    async def schedule_timer(self, timer: Timer) -> None:
        fields = {
            "plugin": timer.plugin,
            "name": timer.name,
            "data": state_to_doc(timer.data),
            "conversation_id": timer.conversation_id,
            "due_at": timer.due_at,
            "generation": timer.generation,
            "attempts": 0,
            "owner": "",
            "lease_until": EPOCH,
        }
        await self._db.timers.update_one({"_id": timer.key}, {"$set": fields}, upsert=True)

    @_unavailable_when_unreachable
    async def cancel_timer(self, key: str) -> bool:
        return (await self._db.timers.delete_one({"_id": key})).deleted_count == 1

    @_unavailable_when_unreachable
    async def get_timer(self, key: str) -> Timer | None:
        doc = await self._db.timers.find_one({"_id": key})
        return _timer(doc) if doc else None

    @_unavailable_when_unreachable
    async def claim_due_timers(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Timer]:
        claimed: list[Timer] = []
        while len(claimed) < limit:
            doc = await self._db.timers.find_one_and_update(
                {"due_at": {"$lte": now}, "lease_until": {"$lte": now}},
                {"$set": {"owner": owner, "lease_until": now + lease}, "$inc": {"attempts": 1}},
                sort=[("due_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            claimed.append(_timer(doc))
        return claimed

    @_unavailable_when_unreachable
    async def finish_timer(self, timer: Timer) -> bool:
        result = await self._db.timers.delete_one({"_id": timer.key, "generation": timer.generation})
        return result.deleted_count == 1

    @_unavailable_when_unreachable
    async def release_timer(self, timer: Timer, owner: str) -> None:
        await self._db.timers.update_one(
            {"_id": timer.key, "generation": timer.generation, "owner": owner},
            {"$set": {"owner": "", "lease_until": EPOCH}, "$inc": {"attempts": -1}},
        )

    @_unavailable_when_unreachable
    async def retry_timer(self, timer: Timer, *, at: datetime) -> None:
        await self._db.timers.update_one(
            {"_id": timer.key, "generation": timer.generation},
            {"$set": {"owner": "", "lease_until": EPOCH, "due_at": at}},
        )
