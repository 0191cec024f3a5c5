"""MongoDB: the audit log (append-only; indexed by time, actor, target and action)."""

from __future__ import annotations

import json
import re
from typing import Any

from pymongo import DESCENDING

from conversation.areas.audit import Audit
from conversation.audit import AuditEntry, AuditQuery, entry_from_doc, entry_to_doc
from conversation.codec import as_utc
from conversation.mongo.db import Area, _unavailable_when_unreachable


class MongoAudit(Area, Audit):
    @_unavailable_when_unreachable
    async def append(self, entry: AuditEntry) -> None:
        doc = entry_to_doc(entry)
        # Before and after as JSON text: their keys come from records (a plugin's, a custom
        # field's) and may hold characters MongoDB does not take in field names.
        doc["before"], doc["after"] = (json.dumps(doc[k], ensure_ascii=False) for k in ("before", "after"))
        await self._db.audit.insert_one({"_id": entry.id, **doc})

    @_unavailable_when_unreachable
    async def list_entries(self, query: AuditQuery) -> list[AuditEntry]:
        where: dict[str, Any] = {}
        if query.actor_id is not None:
            where["actor_id"] = query.actor_id
        if query.target_id is not None:
            where["target_id"] = query.target_id
        prefix = query.action_prefix
        if prefix is not None:
            where["action"] = {"$regex": "^" + re.escape(prefix)}
        elif query.action is not None:
            where["action"] = query.action
        period: dict[str, Any] = {}
        if query.since is not None:
            period["$gte"] = query.since
        if query.until is not None:
            period["$lt"] = query.until
        if period:
            where["at"] = period
        cursor = (
            self._db.audit.find(where, {"_id": 0})
            .sort([("at", DESCENDING), ("id", DESCENDING)])
            .skip(query.offset)
            .limit(query.limit)
        )
        return [
            entry_from_doc(
                {**doc, "at": as_utc(doc["at"]), "before": json.loads(doc["before"]), "after": json.loads(doc["after"])}
            )
            async for doc in cursor
        ]
