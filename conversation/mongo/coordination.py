"""MongoDB: work shared by hub processes: leases, small key-value state, per-plugin state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from conversation.areas.coordination import Coordination
from conversation.codec import state_from_doc, state_to_doc
from conversation.mongo.db import (
    Area,
    _unavailable_when_unreachable,
)


class MongoCoordination(Area, Coordination):
    @_unavailable_when_unreachable
    async def load_plugin_state(self, conversation_id: str, plugin: str) -> tuple[dict[str, Any], int]:
        doc = await self._plugin_state.find_one({"_id": f"{conversation_id}\x1f{plugin}"})
        return (state_from_doc(dict(doc["state"])), int(doc.get("version", 1))) if doc else ({}, 0)

    @_unavailable_when_unreachable
    async def set_plugin_state(
        self, conversation_id: str, plugin: str, state: dict[str, Any], *, version: int | None = None
    ) -> bool:
        key = f"{conversation_id}\x1f{plugin}"
        values = {"state": state_to_doc(state), "conversation_id": conversation_id, "plugin": plugin}
        if version is None:
            await self._plugin_state.update_one({"_id": key}, {"$set": values, "$inc": {"version": 1}}, upsert=True)
            return True
        if version == 0:
            try:
                await self._plugin_state.insert_one({"_id": key, **values, "version": 1})
            except DuplicateKeyError:
                return False
            return True
        result = await self._plugin_state.update_one(
            {"_id": key, "version": version}, {"$set": values, "$inc": {"version": 1}}
        )
        return result.modified_count == 1

    @_unavailable_when_unreachable
    async def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        try:
            await self._leases.update_one(
                {"_id": name, "$or": [{"owner": owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": owner, "expires_at": now + ttl}},
                upsert=True,
            )
        except DuplicateKeyError:  # the lease exists, held by someone else, unexpired
            return False
        return True

    @_unavailable_when_unreachable
    async def release_lease(self, name: str, owner: str) -> None:
        await self._leases.delete_one({"_id": name, "owner": owner})

    @_unavailable_when_unreachable
    async def get_value(self, key: str) -> Any:
        doc = await self._db.channel_state.find_one({"_id": key})
        return state_from_doc(doc["value"]) if doc else None

    @_unavailable_when_unreachable
    async def set_value(self, key: str, value: Any) -> None:
        await self._db.channel_state.update_one({"_id": key}, {"$set": {"value": state_to_doc(value)}}, upsert=True)
