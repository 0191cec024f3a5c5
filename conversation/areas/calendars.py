"""Team calendars: when each team works (time zone, weekly hours, holidays, make-up days)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from conversation.business_time import Calendar


class Calendars(ABC):
    """One calendar per team id; a team without one works around the clock."""

    @abstractmethod
    async def list_calendars(self) -> dict[str, Calendar]:
        """Every stored calendar by team id."""

    @abstractmethod
    async def save_calendar(self, team_id: str, calendar: Calendar) -> None:
        """Create or replace the team's calendar."""

    @abstractmethod
    async def delete_calendar(self, team_id: str) -> bool:
        """False when the team had none."""

    async def get_calendar(self, team_id: str) -> Calendar | None:
        return (await self.list_calendars()).get(team_id)
