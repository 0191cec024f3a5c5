"""SQLite: team calendars (each one JSON document)."""

from __future__ import annotations

import json
import sqlite3

from conversation.areas.calendars import Calendars
from conversation.business_time import Calendar
from conversation.calendars import calendar_from_input, calendar_to_doc
from conversation.sqlite.db import Area


class SQLiteCalendars(Area, Calendars):
    async def list_calendars(self) -> dict[str, Calendar]:
        def job(conn: sqlite3.Connection) -> dict[str, Calendar]:
            rows = conn.execute("SELECT team_id, doc FROM calendars ORDER BY team_id").fetchall()
            return {row[0]: calendar_from_input(json.loads(row[1])) for row in rows}

        return await self._call(job, write=False)

    async def get_calendar(self, team_id: str) -> Calendar | None:
        def job(conn: sqlite3.Connection) -> Calendar | None:
            row = conn.execute("SELECT doc FROM calendars WHERE team_id = ?", (team_id,)).fetchone()
            return calendar_from_input(json.loads(row[0])) if row else None

        return await self._call(job, write=False)

    async def save_calendar(self, team_id: str, calendar: Calendar) -> None:
        doc = json.dumps(calendar_to_doc(calendar), ensure_ascii=False)
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO calendars VALUES (?, ?) ON CONFLICT (team_id) DO UPDATE SET doc = excluded.doc",
                (team_id, doc),
            )
        )

    async def delete_calendar(self, team_id: str) -> bool:
        return bool(
            await self._call(lambda conn: conn.execute("DELETE FROM calendars WHERE team_id = ?", (team_id,)).rowcount)
        )
