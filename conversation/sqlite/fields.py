"""SQLite: custom ticket field definitions (each one JSON document)."""

from __future__ import annotations

import json
import sqlite3

from conversation.areas.fields import FieldDefinitions
from conversation.fields import FieldDefinition, definition_from_doc, definition_to_doc, sort_definitions
from conversation.sqlite.db import Area


class SQLiteFieldDefinitions(Area, FieldDefinitions):
    async def list_definitions(self) -> list[FieldDefinition]:
        def job(conn: sqlite3.Connection) -> list[FieldDefinition]:
            rows = conn.execute("SELECT doc FROM field_definitions ORDER BY category_id").fetchall()
            return [definition_from_doc(json.loads(row[0])) for row in rows]

        found = await self._call(job, write=False)
        return sorted(sort_definitions(found), key=lambda d: d.category_id)

    async def save_definition(self, definition: FieldDefinition) -> None:
        doc = json.dumps(definition_to_doc(definition), ensure_ascii=False)
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO field_definitions VALUES (?, ?, ?) ON CONFLICT (category_id, key)"
                " DO UPDATE SET doc = excluded.doc",
                (definition.category_id, definition.key, doc),
            )
        )

    async def delete_definition(self, category_id: str, key: str) -> bool:
        deleted = await self._call(
            lambda conn: (
                conn.execute(
                    "DELETE FROM field_definitions WHERE category_id = ? AND key = ?", (category_id, key)
                ).rowcount
            )
        )
        return bool(deleted)
