"""MongoDB: team calendars (one document per team)."""

from __future__ import annotations

from conversation.areas.calendars import Calendars
from conversation.business_time import Calendar
from conversation.calendars import calendar_from_input, calendar_to_doc
from conversation.mongo.db import Area, _unavailable_when_unreachable


class MongoCalendars(Area, Calendars):
    @_unavailable_when_unreachable
    async def list_calendars(self) -> dict[str, Calendar]:
        return {doc.pop("_id"): calendar_from_input(doc) async for doc in self._db.calendars.find({}).sort("_id", 1)}

    @_unavailable_when_unreachable
    async def get_calendar(self, team_id: str) -> Calendar | None:
        doc = await self._db.calendars.find_one({"_id": team_id}, {"_id": 0})
        return calendar_from_input(doc) if doc else None

    @_unavailable_when_unreachable
    async def save_calendar(self, team_id: str, calendar: Calendar) -> None:
        await self._db.calendars.replace_one(
            {"_id": team_id}, {"_id": team_id, **calendar_to_doc(calendar)}, upsert=True
        )

    @_unavailable_when_unreachable
    async def delete_calendar(self, team_id: str) -> bool:
        return (await self._db.calendars.delete_one({"_id": team_id})).deleted_count == 1
