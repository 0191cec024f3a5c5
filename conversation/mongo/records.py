"""MongoDB: plugin records, one document each in `records`.

Indexes: `(plugin, kind, conversation_id)`, `(plugin, kind, contact_id)`,
`(plugin, kind, status, deadline)` at open, and one `(plugin, kind, data.<field>)`
per declared query field (`ensure_indexes`, at start).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from conversation.areas.records import Records
from conversation.mongo.db import Area, _unavailable_when_unreachable
from conversation.records import NAME, Record, RecordKind, RecordQuery, record_from_doc, record_to_doc
from conversation.store import AlreadyExists


async def create_record_indexes(db: Any) -> None:
    """The indexes every kind uses (at open)."""
    for name, field in (("conversation", "conversation_id"), ("contact", "contact_id")):
        await db.records.create_index(
            [("plugin", ASCENDING), ("kind", ASCENDING), (field, ASCENDING), ("created_at", DESCENDING)], name=name
        )
    await db.records.create_index(
        [("plugin", ASCENDING), ("kind", ASCENDING), ("status", ASCENDING), ("deadline", ASCENDING)], name="status"
    )


def _doc(record: Record) -> dict[str, Any]:
    doc = record_to_doc(record)
    return {"_id": doc.pop("id"), **doc}


def _record(doc: dict[str, Any]) -> Record:
    return record_from_doc({**doc, "id": doc["_id"]})


class MongoRecords(Area, Records):
    @_unavailable_when_unreachable
    async def ensure_indexes(self, kinds: Sequence[RecordKind]) -> None:
        for kind in kinds:
            for name in kind.queries:
                if not NAME.match(name):
                    raise ValueError(f"not a query field name: {name!r}")
                await self._db.records.create_index(
                    [("plugin", ASCENDING), ("kind", ASCENDING), (f"data.{name}", ASCENDING)],
                    name=f"q_{kind.plugin}__{kind.name}__{name}",
                )

    @_unavailable_when_unreachable
    async def create_record(self, record: Record) -> None:
        try:
            await self._db.records.insert_one(_doc(record))
        except DuplicateKeyError:
            raise AlreadyExists(f"record {record.id} exists") from None

    @_unavailable_when_unreachable
    async def create_record_once(self, record: Record) -> tuple[Record, bool]:
        # The unique `_id` decides: of two inserts with one id exactly one succeeds.
        try:
            await self._db.records.insert_one(_doc(record))
        except DuplicateKeyError:
            doc = await self._db.records.find_one({"_id": record.id, "plugin": record.plugin, "kind": record.kind})
            if doc is None:  # the id is another kind's: keyed ids name their kind, so never
                raise AlreadyExists(f"record {record.id} exists") from None
            return _record(doc), False
        return record, True

    @_unavailable_when_unreachable
    async def replace_record(self, record: Record, *, version: int) -> bool:
        result = await self._db.records.replace_one(
            {"_id": record.id, "plugin": record.plugin, "kind": record.kind, "version": version}, _doc(record)
        )
        return result.modified_count == 1

    @_unavailable_when_unreachable
    async def get_record(self, plugin: str, kind: str, record_id: str) -> Record | None:
        doc = await self._db.records.find_one({"_id": record_id, "plugin": plugin, "kind": kind})
        return _record(doc) if doc else None

    @_unavailable_when_unreachable
    async def query_records(self, query: RecordQuery) -> list[Record]:
        cursor = self._db.records.find(_selector(query)).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        return [_record(doc) async for doc in cursor.limit(query.limit)]

    @_unavailable_when_unreachable
    async def count_records(self, query: RecordQuery, by: str) -> dict[tuple[Any, str], int]:
        if not NAME.match(by):
            raise ValueError(f"not a query field name: {by!r}")
        pipeline = [
            {"$match": _selector(query)},
            {"$group": {"_id": {"value": f"$data.{by}", "status": "$status"}, "count": {"$sum": 1}}},
        ]
        counts: dict[tuple[Any, str], int] = {}
        async for row in await self._db.records.aggregate(pipeline):
            counts[(row["_id"].get("value"), row["_id"]["status"])] = row["count"]
        return counts


def _selector(query: RecordQuery) -> dict[str, Any]:
    selector: dict[str, Any] = {"plugin": query.plugin, "kind": query.kind}
    for column in ("conversation_id", "contact_id", "status"):
        if value := getattr(query, column):
            selector[column] = value
    for name, value in query.filters.items():
        if not NAME.match(name):
            raise ValueError(f"not a query field name: {name!r}")
        selector[f"data.{name}"] = value
    return selector
