"""Teams and categories: every change is validated here, stored, and published live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from conversation.areas.desk import InUse
from conversation.desk import (
    Category,
    Team,
    category_from_input,
    category_to_doc,
    check_category_links,
    team_from_input,
    team_to_doc,
    teams_of,
    with_member,
)
from conversation.errors import InvalidInput
from conversation.model import ConversationQuery, utcnow
from conversation.store import AlreadyExists, NotFound, Store
from hub.events import Event, EventBus
from hub.services import audit

R = TypeVar("R", Team, Category)


class DeskService:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.bus = bus

    def _published(self, kind: str, record_id: str, action: str) -> None:
        # Not about one conversation: the inbox reloads its lists of teams and categories.
        self.bus.publish(Event("desk.updated", "", {"kind": kind, "id": record_id, "action": action}))

    @staticmethod
    async def _refuse_existing(kind: str, found: object, record_id: str) -> None:
        if found is not None:
            raise AlreadyExists(f"a {kind} with id {record_id!r} exists")

    @staticmethod
    async def _existing(kind: str, found: R | None, record_id: str) -> R:
        if found is None:
            raise NotFound(f"{kind} {record_id}")
        return found

    async def _saved(
        self, kind: str, record: R, save: Callable[[R], Awaitable[None]], action: str, before: R | None = None
    ) -> R:
        await save(record)
        to_doc: Any = team_to_doc if isinstance(record, Team) else category_to_doc
        await audit.record(
            self.store,
            f"{kind}.{action.removesuffix('d')}",
            kind,
            record.id,
            before=to_doc(before) if before is not None else {},
            after=to_doc(record),
        )
        self._published(kind, record.id, action)
        return record

    async def _checked_team(self, data: dict[str, Any]) -> Team:
        team = team_from_input(data)
        agents = {a.id for a in await self.store.accounts.list_agents()}
        unknown = [m for m in team.members if m not in agents]
        if unknown:
            raise InvalidInput(f"members: no agent with id {', '.join(unknown)}")
        if team.lead and team.lead not in agents:
            raise InvalidInput(f"lead: no agent with id {team.lead}")
        return team

    async def create_team(self, data: dict[str, Any]) -> Team:
        team = await self._checked_team(data)
        await self._refuse_existing("team", await self.store.desk.get_team(team.id), team.id)
        return await self._saved("team", team, self.store.desk.save_team, "created")

    async def update_team(self, team_id: str, changes: dict[str, Any]) -> Team:
        old = await self._existing("team", await self.store.desk.get_team(team_id), team_id)
        team = await self._checked_team({**team_to_doc(old), **changes, "id": team_id})
        return await self._saved("team", team, self.store.desk.save_team, "updated", old)

    async def delete_team(self, team_id: str) -> None:
        old = await self.store.desk.get_team(team_id)
        if old is None:
            raise NotFound(f"team {team_id}")
        users = [c.id for c in await self.store.desk.list_categories() if c.default_team == team_id]
        if users:
            raise InUse(f"categories {', '.join(users)} name this team as their default")
        # A ticket of a team that is gone would be seen by admins alone (hub/access.py).
        held = ConversationQuery(team=team_id, include_merged=True, limit=1)
        if (await self.store.inbox.list_conversations(held))[0]:
            raise InUse("tickets are with this team: hand them over first")
        # What belonged to it goes with it, before the team itself (a failure half-way leaves a
        # team to delete again, not orphans): a team made again under the same id starts empty
        # (a trial's old calendar, roster and an agent "on shift" came back with it).
        await self.store.roster.replace_team_entries(team_id, [])
        await self.store.roster.delete_team_roster(team_id)
        await self.store.calendars.delete_calendar(team_id)
        await self.store.roster.release_pages(team_id, now=utcnow())
        await self.store.desk.delete_team(team_id)
        await audit.record(self.store, "team.delete", "team", team_id, before=team_to_doc(old))
        self._published("team", team_id, "deleted")

    async def check_team_ids(self, team_ids: list[str]) -> list[Team]:
        """Every team, once each id given is known to be one (InvalidInput names the others)."""
        teams = await self.store.desk.list_teams()
        unknown = sorted(set(team_ids) - {t.id for t in teams})
        if unknown:
            raise InvalidInput(f"teams: no team with id {', '.join(unknown)}")
        return teams

    async def set_agent_teams(self, agent_id: str, team_ids: list[str]) -> list[Team]:
        """Make the agent a member of exactly these teams; the teams it is now in."""
        teams = await self.check_team_ids(team_ids)
        for team in teams:
            member = team.id in team_ids
            if member != (agent_id in team.members):
                changed = with_member(team, agent_id, member)
                await self._saved("team", changed, self.store.desk.save_team, "updated", team)
        return teams_of(agent_id, await self.store.desk.list_teams())

    async def add_member(self, team_id: str, agent_id: str) -> Team:
        """Make the agent a member of the team (audited and published like any team change)."""
        team = await self._existing("team", await self.store.desk.get_team(team_id), team_id)
        if agent_id in team.members:
            return team
        return await self._saved("team", with_member(team, agent_id, True), self.store.desk.save_team, "updated", team)

    async def _checked_category(self, data: dict[str, Any]) -> Category:
        category = category_from_input(data)
        teams = [t.id for t in await self.store.desk.list_teams()]
        check_category_links(category, await self.store.desk.list_categories(), teams)
        return category

    async def create_category(self, data: dict[str, Any]) -> Category:
        category = await self._checked_category(data)
        await self._refuse_existing("category", await self.store.desk.get_category(category.id), category.id)
        return await self._saved("category", category, self.store.desk.save_category, "created")

    async def update_category(self, category_id: str, changes: dict[str, Any]) -> Category:
        old = await self._existing("category", await self.store.desk.get_category(category_id), category_id)
        category = await self._checked_category({**category_to_doc(old), **changes, "id": category_id})
        return await self._saved("category", category, self.store.desk.save_category, "updated", old)

    async def delete_category(self, category_id: str) -> None:
        """NotFound, or InUse (with the reason) while it has subcategories or tickets."""
        old = await self.store.desk.get_category(category_id)
        if not await self.store.desk.delete_category(category_id):
            raise NotFound(f"category {category_id}")
        for definition in await self.store.fields.list_definitions():  # its custom fields go with it
            if definition.category_id == category_id:
                await self.store.fields.delete_definition(category_id, definition.key)
        before = category_to_doc(old) if old is not None else {}
        await audit.record(self.store, "category.delete", "category", category_id, before=before)
        self._published("category", category_id, "deleted")


def team_json(team: Team) -> dict[str, Any]:
    return team_to_doc(team)


def category_json(category: Category) -> dict[str, Any]:
    return category_to_doc(category)
