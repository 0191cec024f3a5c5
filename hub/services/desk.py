"""Teams and categories: every change is validated here, stored, and published live."""

from __future__ import annotations

from typing import Any

from conversation.areas.desk import InUse
from conversation.desk import (
    Category,
    Team,
    category_from_input,
    category_to_doc,
    check_category_links,
    team_from_input,
    team_to_doc,
)
from conversation.errors import InvalidInput
from conversation.store import AlreadyExists, NotFound, Store
from hub.events import Event, EventBus


class DeskService:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.bus = bus

    def _published(self, kind: str, record_id: str, action: str) -> None:
        # Not about one conversation: the inbox reloads its lists of teams and categories.
        self.bus.publish(Event("desk.updated", "", {"kind": kind, "id": record_id, "action": action}))

    async def _checked_team(self, data: dict[str, Any]) -> Team:
        team = team_from_input(data)
        agents = {a.id for a in await self.store.accounts.list_agents()}
        unknown = [m for m in team.members if m not in agents]
        if unknown:
            raise InvalidInput(f"members: no agent with id {', '.join(unknown)}")
        return team

    async def create_team(self, data: dict[str, Any]) -> Team:
        team = await self._checked_team(data)
        if await self.store.desk.get_team(team.id) is not None:
            raise AlreadyExists(f"a team with id {team.id!r} exists")
        await self.store.desk.save_team(team)
        self._published("team", team.id, "created")
        return team

    async def update_team(self, team_id: str, changes: dict[str, Any]) -> Team:
        old = await self.store.desk.get_team(team_id)
        if old is None:
            raise NotFound(f"team {team_id}")
        team = await self._checked_team({**team_to_doc(old), **changes, "id": team_id})
        await self.store.desk.save_team(team)
        self._published("team", team.id, "updated")
        return team

    async def delete_team(self, team_id: str) -> None:
        if await self.store.desk.get_team(team_id) is None:
            raise NotFound(f"team {team_id}")
        users = [c.id for c in await self.store.desk.list_categories() if c.default_team == team_id]
        if users:
            raise InUse(f"categories {', '.join(users)} name this team as their default")
        await self.store.desk.delete_team(team_id)
        self._published("team", team_id, "deleted")

    async def _checked_category(self, data: dict[str, Any]) -> Category:
        category = category_from_input(data)
        teams = [t.id for t in await self.store.desk.list_teams()]
        check_category_links(category, await self.store.desk.list_categories(), teams)
        return category

    async def create_category(self, data: dict[str, Any]) -> Category:
        category = await self._checked_category(data)
        if await self.store.desk.get_category(category.id) is not None:
            raise AlreadyExists(f"a category with id {category.id!r} exists")
        await self.store.desk.save_category(category)
        self._published("category", category.id, "created")
        return category

    async def update_category(self, category_id: str, changes: dict[str, Any]) -> Category:
        old = await self.store.desk.get_category(category_id)
        if old is None:
            raise NotFound(f"category {category_id}")
        category = await self._checked_category({**category_to_doc(old), **changes, "id": category_id})
        await self.store.desk.save_category(category)
        self._published("category", category.id, "updated")
        return category

    async def delete_category(self, category_id: str) -> None:
        """NotFound, or InUse (with the reason) while it has subcategories or tickets."""
        if not await self.store.desk.delete_category(category_id):
            raise NotFound(f"category {category_id}")
        self._published("category", category_id, "deleted")


def team_json(team: Team) -> dict[str, Any]:
    return team_to_doc(team)


def category_json(category: Category) -> dict[str, Any]:
    return category_to_doc(category)
