"""Teams (departments) and the category tree."""

from __future__ import annotations

from abc import ABC, abstractmethod

from conversation.desk import DEFAULT_CATEGORIES, DEFAULT_TEAMS, Category, Team


class InUse(Exception):
    """The record is still referred to (a category with children or tickets); the reason says by what."""


class Desk(ABC):
    """Teams and categories; the defaults are created once, on the first start."""

    @abstractmethod
    async def list_teams(self) -> list[Team]: ...

    @abstractmethod
    async def save_team(self, team: Team) -> None:
        """Create or replace the team with this id."""

    @abstractmethod
    async def delete_team(self, team_id: str) -> bool:
        """False when there is no such team."""

    @abstractmethod
    async def list_categories(self) -> list[Category]: ...

    @abstractmethod
    async def save_category(self, category: Category) -> None:
        """Create or replace the category with this id."""

    @abstractmethod
    async def delete_category(self, category_id: str) -> bool:
        """False when there is no such category; InUse while it has children or tickets."""

    @abstractmethod
    async def _seeded(self) -> bool:
        """Whether the defaults were created before."""

    @abstractmethod
    async def _mark_seeded(self) -> None: ...

    async def create_defaults(self) -> None:
        """The default teams and categories, once: a default an admin deleted stays deleted."""
        if await self._seeded():
            return
        have_teams = {t.id for t in await self.list_teams()}
        have_categories = {c.id for c in await self.list_categories()}
        for team in DEFAULT_TEAMS:
            if team.id not in have_teams:
                await self.save_team(team)
        for category in DEFAULT_CATEGORIES:
            if category.id not in have_categories:
                await self.save_category(category)
        await self._mark_seeded()  # last: a start that fails halfway creates the rest next time

    async def get_category(self, category_id: str) -> Category | None:
        return next((c for c in await self.list_categories() if c.id == category_id), None)

    async def get_team(self, team_id: str) -> Team | None:
        return next((t for t in await self.list_teams() if t.id == team_id), None)
