"""SQLite: teams and the category tree (each record one JSON document)."""

from __future__ import annotations

import json
import sqlite3

from conversation.areas.desk import Desk, InUse
from conversation.desk import Category, Team, category_from_doc, category_to_doc, team_from_doc, team_to_doc
from conversation.sqlite.db import Area

SEEDED_KEY = "desk_defaults_created"


class SQLiteDesk(Area, Desk):
    async def list_teams(self) -> list[Team]:
        def job(conn: sqlite3.Connection) -> list[Team]:
            rows = conn.execute("SELECT doc FROM teams ORDER BY id").fetchall()
            return [team_from_doc(json.loads(row[0])) for row in rows]

        return await self._call(job, write=False)

    async def save_team(self, team: Team) -> None:
        doc = json.dumps(team_to_doc(team), ensure_ascii=False)
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO teams VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc", (team.id, doc)
            )
        )

    async def delete_team(self, team_id: str) -> bool:
        return bool(await self._call(lambda conn: conn.execute("DELETE FROM teams WHERE id = ?", (team_id,)).rowcount))

    async def list_categories(self) -> list[Category]:
        def job(conn: sqlite3.Connection) -> list[Category]:
            rows = conn.execute("SELECT doc FROM categories ORDER BY id").fetchall()
            return [category_from_doc(json.loads(row[0])) for row in rows]

        return await self._call(job, write=False)

    async def save_category(self, category: Category) -> None:
        doc = json.dumps(category_to_doc(category), ensure_ascii=False)
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO categories VALUES (?, ?, ?) ON CONFLICT (id)"
                " DO UPDATE SET parent_id = excluded.parent_id, doc = excluded.doc",
                (category.id, category.parent_id, doc),
            )
        )

    async def delete_category(self, category_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            # One transaction: no child or ticket can appear between the check and the delete.
            if conn.execute("SELECT 1 FROM categories WHERE parent_id = ? LIMIT 1", (category_id,)).fetchone():
                raise InUse("the category has subcategories")
            if conn.execute("SELECT 1 FROM conversations WHERE category = ? LIMIT 1", (category_id,)).fetchone():
                raise InUse("tickets are filed under the category")
            return conn.execute("DELETE FROM categories WHERE id = ?", (category_id,)).rowcount == 1

        return await self._call(job)

    async def _seeded(self) -> bool:
        row = await self._call(
            lambda conn: conn.execute("SELECT 1 FROM meta WHERE key = ?", (SEEDED_KEY,)).fetchone(), write=False
        )
        return row is not None

    async def _mark_seeded(self) -> None:
        await self._call(
            lambda conn: conn.execute("INSERT INTO meta VALUES (?, '1') ON CONFLICT (key) DO NOTHING", (SEEDED_KEY,))
        )
