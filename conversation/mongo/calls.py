"""MongoDB: phone calls, one document per call id (`_id`), replaced by compare-and-set on `state`."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from conversation.areas.calls import Calls
from conversation.calls import Call, CallState, call_from_doc, call_to_doc
from conversation.mongo.db import Area, _unavailable_when_unreachable


class MongoCalls(Area, Calls):
    @_unavailable_when_unreachable
    async def insert_call(self, call: Call) -> bool:
        try:
            await self._db.calls.insert_one({"_id": call.id, **call_to_doc(call)})
        except DuplicateKeyError:
            return False
        return True

    @_unavailable_when_unreachable
    async def get_call(self, call_id: str) -> Call | None:
        doc = await self._db.calls.find_one({"_id": call_id}, {"_id": 0})
        return call_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def replace_call(self, call: Call, *, expected_state: CallState) -> bool:
        result = await self._db.calls.replace_one(
            {"_id": call.id, "state": expected_state.value}, {"_id": call.id, **call_to_doc(call)}
        )
        return result.modified_count == 1
