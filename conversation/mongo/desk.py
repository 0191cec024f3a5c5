"""MongoDB: teams and the category tree."""

from __future__ import annotations

from conversation.areas.desk import Desk, InUse
from conversation.desk import Category, Team, category_from_doc, category_to_doc, team_from_doc, team_to_doc
from conversation.mongo.db import Area, _unavailable_when_unreachable

SEEDED_KEY = "desk_defaults_created"


class MongoDesk(Area, Desk):
    @_unavailable_when_unreachable
    async def list_teams(self) -> list[Team]:
        return [team_from_doc(doc) async for doc in self._db.teams.find({}, {"_id": 0}).sort("id", 1)]

    @_unavailable_when_unreachable
    async def save_team(self, team: Team) -> None:
        await self._db.teams.replace_one({"_id": team.id}, {"_id": team.id, **team_to_doc(team)}, upsert=True)

    @_unavailable_when_unreachable
    async def delete_team(self, team_id: str) -> bool:
        return (await self._db.teams.delete_one({"_id": team_id})).deleted_count == 1

    @_unavailable_when_unreachable
    async def list_categories(self) -> list[Category]:
        return [category_from_doc(doc) async for doc in self._db.categories.find({}, {"_id": 0}).sort("id", 1)]

    @_unavailable_when_unreachable
    async def save_category(self, category: Category) -> None:
        doc = {"_id": category.id, **category_to_doc(category)}
        await self._db.categories.replace_one({"_id": category.id}, doc, upsert=True)

    @_unavailable_when_unreachable
    async def delete_category(self, category_id: str) -> bool:
        if await self._db.categories.find_one({"parent_id": category_id}, {"_id": 1}):
            raise InUse("the category has subcategories")
        if await self._db.conversations.find_one({"category": category_id}, {"_id": 1}):
            raise InUse("tickets are filed under the category")
        return (await self._db.categories.delete_one({"_id": category_id})).deleted_count == 1

    @_unavailable_when_unreachable
    async def _seeded(self) -> bool:
        return await self._meta.find_one({"_id": SEEDED_KEY}) is not None

    @_unavailable_when_unreachable
    async def _mark_seeded(self) -> None:
        await self._meta.update_one({"_id": SEEDED_KEY}, {"$set": {"at": 1}}, upsert=True)
