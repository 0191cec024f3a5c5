"""MongoDB: roster entries, team roster settings, routing profiles, presence and pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from conversation.areas.roster import Roster
from conversation.assignment import AgentProfile, profile_from_doc, profile_to_doc
from conversation.mongo.db import Area, _unavailable_when_unreachable
from conversation.paging import Page, page_from_doc, page_to_doc
from conversation.presence import PresenceRecord, presence_from_doc, presence_to_doc
from conversation.roster import (
    RosterEntry,
    TeamRoster,
    entry_from_doc,
    entry_to_doc,
    team_roster_from_doc,
    team_roster_to_doc,
)

# A new agent's record: what $setOnInsert fills in besides the fields a change sets.
_NEW_PRESENCE = {k: v for k, v in presence_to_doc(PresenceRecord("")).items() if k != "agent_id"}


class MongoRoster(Area, Roster):
    @_unavailable_when_unreachable
    async def list_entries(self, team: str | None = None) -> list[RosterEntry]:
        query = {} if team is None else {"team": team}
        return [entry_from_doc(doc) async for doc in self._db.roster_entries.find(query, {"_id": 0}).sort("id", 1)]

    @_unavailable_when_unreachable
    async def save_entry(self, entry: RosterEntry) -> None:
        await self._db.roster_entries.replace_one(
            {"_id": entry.id}, {"_id": entry.id, **entry_to_doc(entry)}, upsert=True
        )

    @_unavailable_when_unreachable
    async def delete_entry(self, entry_id: str) -> bool:
        return (await self._db.roster_entries.delete_one({"_id": entry_id})).deleted_count == 1

    @_unavailable_when_unreachable
    async def replace_team_entries(self, team: str, entries: Sequence[RosterEntry]) -> None:
        # Insert the new entries first, then drop the old ones: a failure in between leaves
        # both (a retry of the import fixes it), never a team without a roster.
        new_ids = [e.id for e in entries]
        for entry in entries:
            await self._db.roster_entries.replace_one(
                {"_id": entry.id}, {"_id": entry.id, **entry_to_doc(entry)}, upsert=True
            )
        await self._db.roster_entries.delete_many({"team": team, "_id": {"$nin": new_ids}})

    @_unavailable_when_unreachable
    async def get_team_roster(self, team: str) -> TeamRoster | None:
        doc = await self._db.roster_teams.find_one({"_id": team}, {"_id": 0})
        return team_roster_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def save_team_roster(self, settings: TeamRoster) -> None:
        doc = {"_id": settings.team, **team_roster_to_doc(settings)}
        await self._db.roster_teams.replace_one({"_id": settings.team}, doc, upsert=True)

    @_unavailable_when_unreachable
    async def delete_team_roster(self, team: str) -> None:
        await self._db.roster_teams.delete_one({"_id": team})

    @_unavailable_when_unreachable
    async def list_profiles(self) -> list[AgentProfile]:
        return [profile_from_doc(doc) async for doc in self._db.agent_profiles.find({}, {"_id": 0}).sort("agent_id", 1)]

    @_unavailable_when_unreachable
    async def save_profile(self, profile: AgentProfile) -> None:
        doc = {"_id": profile.agent_id, **profile_to_doc(profile)}
        await self._db.agent_profiles.replace_one({"_id": profile.agent_id}, doc, upsert=True)

    @_unavailable_when_unreachable
    async def list_presence(self) -> list[PresenceRecord]:
        return [presence_from_doc(doc) async for doc in self._db.presence.find({}, {"_id": 0}).sort("agent_id", 1)]

    async def _change_presence(self, agent_id: str, changes: dict[str, object]) -> PresenceRecord:
        """One atomic update of the fields named; a new record gets the defaults of the rest."""
        fill = {k: v for k, v in _NEW_PRESENCE.items() if not any(c == k or c.startswith(f"{k}.") for c in changes)}
        update = {"$set": changes, "$setOnInsert": {"agent_id": agent_id, **fill}}
        doc = await self._db.presence.find_one_and_update(
            {"_id": agent_id}, update, upsert=True, projection={"_id": 0}, return_document=ReturnDocument.AFTER
        )
        return presence_from_doc(doc)

    @_unavailable_when_unreachable
    async def set_presence_status(self, agent_id: str, status: str, *, now: datetime) -> PresenceRecord:
        return await self._change_presence(agent_id, {"status": status, "status_at": now.isoformat()})

    @_unavailable_when_unreachable
    async def touch_presence(
        self, agent_id: str, *, socket: str = "", until: datetime | None = None, action_at: datetime | None = None
    ) -> None:
        changes: dict[str, object] = {}
        if socket and until is not None:
            changes[f"sockets.{socket}"] = until.isoformat()
        if action_at is not None:
            changes["last_action_at"] = action_at.isoformat()
        if changes:
            await self._change_presence(agent_id, changes)

    @_unavailable_when_unreachable
    async def drop_socket(self, agent_id: str, socket: str) -> None:
        await self._db.presence.update_one({"_id": agent_id}, {"$unset": {f"sockets.{socket}": ""}})

    @_unavailable_when_unreachable
    async def add_page(self, page: Page) -> bool:
        try:
            await self._db.pages.insert_one({"_id": page.id, **page_to_doc(page)})
        except DuplicateKeyError:  # logged before: a retried page
            return False
        return True

    @_unavailable_when_unreachable
    async def list_pages(self, team: str | None = None, *, active_only: bool = False, limit: int = 100) -> list[Page]:
        query: dict[str, object] = {}
        if team is not None:
            query["team"] = team
        if active_only:
            query["released_at"] = None
        cursor = self._db.pages.find(query, {"_id": 0}).sort([("at", -1), ("id", -1)]).limit(limit)
        return [page_from_doc(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def release_pages(self, team: str, *, now: datetime) -> list[Page]:
        released = []
        async for doc in self._db.pages.find({"team": team, "released_at": None}, {"_id": 0}):
            # Each page once: only the update that still finds it active reports it.
            result = await self._db.pages.update_one(
                {"_id": doc["id"], "released_at": None}, {"$set": {"released_at": now.isoformat()}}
            )
            if result.modified_count:
                released.append(page_from_doc({**doc, "released_at": now.isoformat()}))
        return released
