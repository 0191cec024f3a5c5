"""MongoDB: callback tasks; closing and raising are single-document compare-and-set updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from conversation.areas.callbacks import Callbacks
from conversation.callbacks import Callback, CallbackStatus, callback_from_doc, callback_to_doc
from conversation.mongo.db import Area, _unavailable_when_unreachable

SOONEST = [("due_at", ASCENDING), ("_id", ASCENDING)]


class MongoCallbacks(Area, Callbacks):
    @_unavailable_when_unreachable
    async def add_callback(self, callback: Callback) -> bool:
        try:
            await self._db.callbacks.insert_one({"_id": callback.id, **callback_to_doc(callback)})
        except DuplicateKeyError:
            return False
        return True

    @_unavailable_when_unreachable
    async def get_callback(self, callback_id: str) -> Callback | None:
        doc = await self._db.callbacks.find_one({"_id": callback_id}, {"_id": 0})
        return callback_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_callbacks(
        self, *, status: CallbackStatus | None = CallbackStatus.OPEN, owner_id: str | None = None, limit: int = 200
    ) -> list[Callback]:
        query: dict[str, Any] = {}
        if status is not None:
            query["status"] = status.value
        if owner_id is not None:
            query["owner_id"] = owner_id
        cursor = self._db.callbacks.find(query, {"_id": 0}).sort(SOONEST).limit(limit)
        return [callback_from_doc(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def close_callback(
        self, callback_id: str, status: CallbackStatus, *, by: str, now: datetime
    ) -> Callback | None:
        doc = await self._db.callbacks.find_one_and_update(
            {"_id": callback_id, "status": CallbackStatus.OPEN.value},
            {"$set": {"status": status.value, "closed_at": now, "closed_by": by}},
            projection={"_id": 0},
            return_document=ReturnDocument.AFTER,
        )
        return callback_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def due_callbacks(self, now: datetime, *, limit: int = 200) -> list[Callback]:
        query = {"status": CallbackStatus.OPEN.value, "raised_at": None, "due_at": {"$lte": now}}
        cursor = self._db.callbacks.find(query, {"_id": 0}).sort(SOONEST).limit(limit)
        return [callback_from_doc(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def mark_raised(self, callback_id: str, now: datetime) -> bool:
        result = await self._db.callbacks.update_one(
            {"_id": callback_id, "raised_at": None}, {"$set": {"raised_at": now}}
        )
        return result.modified_count == 1
