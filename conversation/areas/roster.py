"""Shifts and backup duty, agents' routing profiles and presence, and the backup page log."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from conversation.assignment import AgentProfile
from conversation.paging import Page
from conversation.presence import PresenceRecord
from conversation.roster import RosterEntry, TeamRoster


class Roster(ABC):
    """The roster of each team, each agent's routing profile and presence (shared by every
    hub process), and every backup page. Socket keys are letters, digits, '-' and '_'."""

    # -- entries and team settings ----------------------------------------------------------
    @abstractmethod
    async def list_entries(self, team: str | None = None) -> list[RosterEntry]:
        """A team's entries (every team's with None), by id."""

    @abstractmethod
    async def save_entry(self, entry: RosterEntry) -> None:
        """Create or replace the entry with this id."""

    @abstractmethod
    async def delete_entry(self, entry_id: str) -> bool:
        """False when there is no such entry."""

    @abstractmethod
    async def replace_team_entries(self, team: str, entries: Sequence[RosterEntry]) -> None:
        """The team's roster becomes exactly `entries`, at once (a CSV import)."""

    async def get_entry(self, entry_id: str) -> RosterEntry | None:
        return next((e for e in await self.list_entries() if e.id == entry_id), None)

    @abstractmethod
    async def get_team_roster(self, team: str) -> TeamRoster | None: ...

    @abstractmethod
    async def save_team_roster(self, settings: TeamRoster) -> None: ...

    @abstractmethod
    async def delete_team_roster(self, team: str) -> None:
        """Forget a team's roster settings (its team was deleted)."""

    # -- agents' routing profiles ---------------------------------------------------------------
    @abstractmethod
    async def list_profiles(self) -> list[AgentProfile]: ...

    @abstractmethod
    async def save_profile(self, profile: AgentProfile) -> None: ...

    async def get_profile(self, agent_id: str) -> AgentProfile | None:
        return next((p for p in await self.list_profiles() if p.agent_id == agent_id), None)

    # -- presence -----------------------------------------------------------------------------
    @abstractmethod
    async def list_presence(self) -> list[PresenceRecord]: ...

    @abstractmethod
    async def set_presence_status(self, agent_id: str, status: str, *, now: datetime) -> PresenceRecord:
        """The agent's own choice: online, away or offline."""

    @abstractmethod
    async def touch_presence(
        self, agent_id: str, *, socket: str = "", until: datetime | None = None, action_at: datetime | None = None
    ) -> None:
        """An open inbox in hub process `socket` holds until `until`; the agent acted at `action_at`.
        Only the given fields change (two processes touching one agent lose nothing)."""

    @abstractmethod
    async def drop_socket(self, agent_id: str, socket: str) -> None:
        """The last inbox of this agent in hub process `socket` closed."""

    async def get_presence(self, agent_id: str) -> PresenceRecord | None:
        return next((p for p in await self.list_presence() if p.agent_id == agent_id), None)

    # -- pages ----------------------------------------------------------------------------------
    @abstractmethod
    async def add_page(self, page: Page) -> bool:
        """Log a page; False (and nothing changes) when a page with its id is logged already."""

    @abstractmethod
    async def list_pages(self, team: str | None = None, *, active_only: bool = False, limit: int = 100) -> list[Page]:
        """Newest first."""

    @abstractmethod
    async def release_pages(self, team: str, *, now: datetime) -> list[Page]:
        """Mark the team's active pages released; the pages released."""
