"""MongoDB: custom ticket field definitions."""

from __future__ import annotations

from conversation.areas.fields import FieldDefinitions
from conversation.fields import FieldDefinition, definition_from_doc, definition_to_doc, sort_definitions
from conversation.mongo.db import Area, _unavailable_when_unreachable


def _id(category_id: str, key: str) -> str:
    return f"{category_id}\x1f{key}"


class MongoFieldDefinitions(Area, FieldDefinitions):
    @_unavailable_when_unreachable
    async def list_definitions(self) -> list[FieldDefinition]:
        found = [definition_from_doc(doc) async for doc in self._db.field_definitions.find({}, {"_id": 0})]
        return sorted(sort_definitions(found), key=lambda d: d.category_id)

    @_unavailable_when_unreachable
    async def save_definition(self, definition: FieldDefinition) -> None:
        key = _id(definition.category_id, definition.key)
        await self._db.field_definitions.replace_one(
            {"_id": key}, {"_id": key, **definition_to_doc(definition)}, upsert=True
        )

    @_unavailable_when_unreachable
    async def delete_definition(self, category_id: str, key: str) -> bool:
        result = await self._db.field_definitions.delete_one({"_id": _id(category_id, key)})
        return result.deleted_count == 1
