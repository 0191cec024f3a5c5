"""MongoDB: live events, socket holders and shared counters for hub processes on one database.

Events go in `relay_events`, one document per batch a hub writes, keyed by a sequence
number taken from `counters` with `$inc` (which keeps the batch and hands it to the next
taker, whose batch carries a copy: a writer killed before writing leaves no hole), so every
hub reads them in one order with an `_id > last` query. Change streams would need a
replica set (and the wire server the tests use has none); see ARCHITECTURE.md.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from conversation.areas.cluster import Cluster, RelayedBatch
from conversation.mongo.db import Area, _unavailable_when_unreachable

SEQUENCE = "relay_events"  # the counters document that hands out event numbers


class MongoCluster(Area, Cluster):
    shared = True

    @_unavailable_when_unreachable
    async def take_event_seq(
        self, origin: str, payloads: list[dict[str, Any]], *, now: datetime
    ) -> tuple[int, RelayedBatch | None]:
        # The counter keeps the batch that took its number, and hands the one before to the next taker.
        left = {"origin": origin, "at": now, "payload": json.dumps(payloads)}
        before = await self._counters.find_one_and_update(
            {"_id": SEQUENCE}, {"$inc": {"value": 1}, "$set": {"batch": left}}, upsert=True
        )  # as it was before this update
        if before is None:
            return 1, None
        seq, previous = int(before["value"]) + 1, before.get("batch")
        if not previous:
            return seq, None
        return seq, RelayedBatch(seq - 1, str(previous["origin"]), json.loads(previous["payload"]), previous["at"])

    @_unavailable_when_unreachable
    async def write_events(self, batch: RelayedBatch, *, carry: RelayedBatch | None = None) -> None:
        document = {"_id": batch.seq, **_fields(batch)}
        if carry is not None:
            document["before"] = {"seq": carry.seq, **_fields(carry)}
        with contextlib.suppress(DuplicateKeyError):  # written already: the answer was lost on the way
            await self._db.relay_events.insert_one(document)

    @_unavailable_when_unreachable
    async def events_after(self, seq: int, *, limit: int) -> list[RelayedBatch]:
        found = self._db.relay_events.find({"_id": {"$gt": seq}}, {"before": 0}).sort("_id", 1).limit(limit)
        return [RelayedBatch(int(d["_id"]), str(d["origin"]), json.loads(d["payload"]), d["at"]) async for d in found]

    @_unavailable_when_unreachable
    async def carried(self, seq: int) -> RelayedBatch | None:
        doc = await self._db.relay_events.find_one({"_id": seq}, {"before": 1})
        before = doc.get("before") if doc else None
        if not before:
            return None
        return RelayedBatch(int(before["seq"]), str(before["origin"]), json.loads(before["payload"]), before["at"])

    @_unavailable_when_unreachable
    async def last_event_seq(self) -> int:
        doc = await self._counters.find_one({"_id": SEQUENCE}, {"value": 1})
        return int(doc["value"]) if doc else 0

    @_unavailable_when_unreachable
    async def prune_events(self, before: datetime) -> int:
        return (await self._db.relay_events.delete_many({"at": {"$lt": before}})).deleted_count

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


def _fields(batch: RelayedBatch) -> dict[str, Any]:
    return {"origin": batch.origin, "at": batch.at, "payload": json.dumps(batch.payloads)}
