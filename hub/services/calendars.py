"""Team calendars: every change is validated here, stored, audited and published live (SLA clocks
are computed from the calendar each time, so a change moves every due time at once)."""

from __future__ import annotations

import dataclasses
from typing import Any

from conversation.business_time import Calendar
from conversation.calendars import calendar_from_input, calendar_to_doc, special_days_from_ics, with_special_days
from conversation.errors import InvalidInput
from conversation.store import NotFound, Store
from hub.events import Event, EventBus
from hub.services import audit


class CalendarService:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.bus = bus

    async def _team(self, team_id: str) -> None:
        if await self.store.desk.get_team(team_id) is None:
            raise NotFound(f"team {team_id}")

    async def _changed(self, team_id: str, action: str, before: Calendar | None, after: Calendar | None) -> None:
        await audit.record(
            self.store,
            f"calendar.{action}",
            "team",
            team_id,
            before=calendar_to_doc(before) if before else {},
            after=calendar_to_doc(after) if after else {},
        )
        done = {"save": "saved", "import": "imported", "delete": "deleted"}[action]
        self.bus.publish(Event("calendar.updated", "", {"team": team_id, "action": done}))

    async def get(self, team_id: str) -> Calendar | None:
        await self._team(team_id)
        return await self.store.calendars.get_calendar(team_id)

    async def put(self, team_id: str, data: dict[str, Any]) -> Calendar:
        """Replace the team's calendar with this one (validated whole before anything is stored).
        Holidays and make-up days left out of the body are kept: changing the hours must not
        silently drop what an .ics import added (send `"holidays": {}` to clear them)."""
        await self._team(team_id)
        calendar = calendar_from_input(data)
        before = await self.store.calendars.get_calendar(team_id)
        if before is not None:
            kept = {name: getattr(before, name) for name in ("holidays", "workdays") if name not in data}
            calendar = dataclasses.replace(calendar, **kept)
        await self.store.calendars.save_calendar(team_id, calendar)
        await self._changed(team_id, "save", before, calendar)
        return calendar

    async def import_ics(self, team_id: str, ics: str) -> tuple[Calendar, int, int]:
        """Add the holidays and make-up days of an .ics file to the team's calendar:
        (the calendar, holidays read, make-up days read). The calendar's hours must exist first."""
        await self._team(team_id)
        current = await self.store.calendars.get_calendar(team_id)
        if current is None:
            raise InvalidInput("the team has no calendar yet: set its time zone and hours first (PUT)")
        holidays, workdays = special_days_from_ics(ics.encode("utf-8"))
        calendar = with_special_days(current, holidays, workdays)
        await self.store.calendars.save_calendar(team_id, calendar)
        await self._changed(team_id, "import", current, calendar)
        return calendar, len(holidays), len(workdays)

    async def delete(self, team_id: str) -> None:
        await self._team(team_id)
        before = await self.store.calendars.get_calendar(team_id)
        if not await self.store.calendars.delete_calendar(team_id):
            raise NotFound(f"calendar {team_id}")
        await self._changed(team_id, "delete", before, None)


def calendar_json(team_id: str, calendar: Calendar | None) -> dict[str, Any]:
    """A team's calendar; `calendar` null: the team works around the clock."""
    return {"team": team_id, "calendar": calendar_to_doc(calendar) if calendar is not None else None}
