"""MongoDB: live events, socket holders and shared counters for hub processes on one database.

Events go in `relay_events`, one document per batch a hub writes, keyed by a sequence
number the insert itself takes (the next after the highest; `_id` is unique), so every hub
reads them in one order with an `_id > last` query and a writer killed leaves no hole.
Change streams would need a replica set (and the wire server the tests use has none); see
ARCHITECTURE.md.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from conversation.areas.cluster import Cluster, RelayedBatch
from conversation.mongo.db import Area, _unavailable_when_unreachable

SEQUENCE = "relay_events"  # the counters document that handed out event numbers before (a floor now)


class MongoCluster(Area, Cluster):
    shared = True

    @_unavailable_when_unreachable
    async def append_events(
        self, origin: str, payloads: list[dict[str, Any]], *, now: datetime, batch: str = "", after: int | None = None
    ) -> int:
        # The insert takes the number: `_id` is unique, so of two writers trying one number
        # one fails and tries after the highest written. A number exists only with its batch,
        # and one is written only after every lower one was (so readers never meet a hole).
        batch = batch or secrets.token_hex(8)
        document = {"origin": origin, "at": now, "payload": json.dumps(payloads), "batch": batch}
        seq = (await self.last_event_seq() if after is None else after) + 1
        while True:
            try:
                await self._db.relay_events.insert_one({"_id": seq, **document})
                return seq
            except DuplicateKeyError:
                taken = self._db.relay_events.find({"_id": {"$gte": seq}}, {"batch": 1}).sort("_id", 1)
                numbers = []
                async for found in taken:
                    if found.get("batch") == batch:  # written by an earlier call whose answer was lost
                        return int(found["_id"])
                    numbers.append(int(found["_id"]))
                seq = (numbers[-1] if numbers else seq) + 1

    @_unavailable_when_unreachable
    async def events_after(self, seq: int, *, limit: int) -> list[RelayedBatch]:
        cursor = self._db.relay_events.find({"_id": {"$gt": seq}}).sort("_id", 1).limit(limit)
        return [RelayedBatch(int(d["_id"]), str(d["origin"]), json.loads(d["payload"]), d["at"]) async for d in cursor]

    @_unavailable_when_unreachable
    async def last_event_seq(self) -> int:
        newest = await self._db.relay_events.find_one({}, {"_id": 1}, sort=[("_id", -1)])
        counter = await self._counters.find_one({"_id": SEQUENCE})  # a floor: numbers a counter handed out before
        return max(int(newest["_id"]) if newest else 0, int(counter["value"]) if counter else 0)

    @_unavailable_when_unreachable
    async def prune_events(self, before: datetime) -> int:
        newest = await self._db.relay_events.find_one({}, {"_id": 1}, sort=[("_id", -1)])
        if newest is None:
            return 0
        old = {"at": {"$lt": before}, "_id": {"$lt": newest["_id"]}}  # the newest stays: numbers go on from it
        return (await self._db.relay_events.delete_many(old)).deleted_count

    @_unavailable_when_unreachable
    async def beat(self, holder: str, *, until: datetime) -> None:
        await self._db.hub_beats.update_one({"_id": holder}, {"$set": {"until": until}}, upsert=True)

    @_unavailable_when_unreachable
    async def hold(self, key: str, holder: str, *, until: datetime) -> None:
        await self._db.socket_holds.update_one(
            {"_id": f"{key}\x1f{holder}"}, {"$set": {"key": key, "holder": holder, "until": until}}, upsert=True
        )

    @_unavailable_when_unreachable
    async def release(self, key: str, holder: str) -> None:
        await self._db.socket_holds.delete_one({"_id": f"{key}\x1f{holder}"})

    @_unavailable_when_unreachable
    async def holders(self, key: str, *, now: datetime) -> list[str]:
        cursor = self._db.socket_holds.find({"key": key, "until": {"$gt": now}})
        held = [str(d["holder"]) async for d in cursor]
        if not held:
            return []
        beating = self._db.hub_beats.find({"_id": {"$in": held}, "until": {"$gt": now}})
        return sorted([str(d["_id"]) async for d in beating])

    @_unavailable_when_unreachable
    async def add_to_counter(self, key: str, amount: int, *, expires_at: datetime) -> int:
        doc = await self._db.shared_counters.find_one_and_update(
            {"_id": key},
            {"$inc": {"total": amount}, "$max": {"expires_at": expires_at}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["total"])

    @_unavailable_when_unreachable
    async def counter(self, key: str) -> int:
        doc = await self._db.shared_counters.find_one({"_id": key})
        return int(doc["total"]) if doc else 0

    @_unavailable_when_unreachable
    async def prune_counters(self, now: datetime) -> int:
        gone = (await self._db.shared_counters.delete_many({"expires_at": {"$lt": now}})).deleted_count
        gone += (await self._db.socket_holds.delete_many({"until": {"$lt": now}})).deleted_count
        return gone + (await self._db.hub_beats.delete_many({"until": {"$lt": now}})).deleted_count


async def create_cluster_indexes(db: Any) -> None:
    await db.socket_holds.create_index([("key", 1)], name="key")
    await db.relay_events.create_index([("at", 1)], name="at")  # pruning
