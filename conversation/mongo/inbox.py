"""MongoDB: the agent's inbox: ticket lists, view counts, read markers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pymongo import DESCENDING

from conversation.areas.inbox import Inbox
from conversation.codec import (
    conversation_from_doc,
    message_from_doc,
)
from conversation.fields import index_value
from conversation.model import (
    Conversation,
    ConversationQuery,
    Message,
    Reach,
    Status,
)
from conversation.mongo.db import (
    Area,
    _unavailable_when_unreachable,
)
from conversation.store import (
    person_term,
    search_filters,
)

# conversation.progress.only_a_question as a query: not resolved from the moment it was opened.
NOT_ONLY_A_QUESTION: dict[str, Any] = {
    "$nor": [{"status": Status.RESOLVED.value, "$expr": {"$eq": ["$resolved_at", "$created_at"]}}]
}


class MongoInbox(Area, Inbox):
    @_unavailable_when_unreachable
    async def list_conversations(self, query: ConversationQuery) -> tuple[list[Conversation], int]:
        condition: dict[str, Any] = {}
        for field in ("channel", "assignee_id", "team", "category", "contact_id"):
            if (value := getattr(query, field)) is not None:
                condition[field] = value
        for field in ("status", "priority"):
            if (value := getattr(query, field)) is not None:
                condition[field] = value.value
        if query.tag is not None:
            condition["tags"] = query.tag.strip().lower()
        if not query.include_merged:
            condition["merged_into"] = {"$in": ["", None]}
        conditions = [NOT_ONLY_A_QUESTION] if query.hide_questions else []
        if query.reach is not None:
            conditions.append(_reach_condition(query.reach))  # beside any other filter on the same fields
        if query.fields:  # each answered by the `fields` index
            conditions += [{"field_index": {"$elemMatch": {"v": v, "k": k}}} for k, v in query.fields]
        if conditions:
            condition["$and"] = conditions
        if search_filters(query.search):  # punctuation only: search_messages finds nothing, so no ticket
            ids = {m.conversation_id for m in await self._search_messages(query.search, limit=1000)}
            # ...or the whole query is a custom field's value (an order number)
            by_field = self._conversations.find({"field_index.v": index_value(query.search)}, {"_id": 1}).limit(1000)
            ids.update([doc["_id"] async for doc in by_field])
            ids.update(await self._tickets_of_people(person_term(query.search)))  # ...or its customer's name
            condition["_id"] = {"$in": sorted(ids)}
        total = await self._conversations.count_documents(condition, limit=1000)
        cursor = (
            self._conversations.find(condition)
            .sort([("last_message_at", DESCENDING), ("_id", DESCENDING)])
            .skip(query.offset)
            .limit(query.limit)
        )
        return [conversation_from_doc(doc) async for doc in cursor], total

    async def _tickets_of_people(self, term: str) -> set[str]:
        """Tickets of the customers whose name or address holds `term` (search_text.person_term)."""
        if not term:
            return set()
        holds = {"$regex": re.escape(term), "$options": "i"}
        people = {
            doc["_id"]
            async for doc in self._contacts.find({"$or": [{"name": holds}, {"email": holds}]}, {"_id": 1}).limit(1000)
        }
        by_mail = {"$and": [{"address": holds}, {"address": {"$regex": "@"}}]}  # a chat id: no (sqlite/inbox.py)
        found = self._identities.find({"$or": [by_mail, {"display_name": holds}]}, {"contact_id": 1})
        people.update([doc["contact_id"] async for doc in found.limit(1000)])
        if not people:
            return set()
        tickets = self._conversations.find({"contact_id": {"$in": sorted(people)}}, {"_id": 1}).limit(1000)
        return {doc["_id"] async for doc in tickets}

    @_unavailable_when_unreachable
    async def newest_messages(self, conversation_ids: list[str], per_ticket: int) -> dict[str, list[Message]]:
        found = {}
        for conversation_id in conversation_ids:
            cursor = (
                self._messages.find({"conversation_id": conversation_id, "kind": {"$ne": "event"}})
                .sort([("_id", DESCENDING)])
                .limit(per_ticket)
            )
            docs = [doc async for doc in cursor]
            if docs:
                found[conversation_id] = [message_from_doc(doc) for doc in docs]
        return found

    @_unavailable_when_unreachable
    async def count_views(self, agent_id: str, reach: Reach | None = None) -> dict[str, int]:
        live: dict[str, Any] = {"merged_into": {"$in": ["", None]}, "$and": [NOT_ONLY_A_QUESTION]}
        if reach is not None:
            live["$and"].append(_reach_condition(reach))
        counts = {status.value: 0 for status in Status}
        async for row in await self._conversations.aggregate(
            [{"$match": live}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        ):
            counts[row["_id"]] = row["n"]
        for label, assignee in (("mine", agent_id), ("unassigned", "")):
            counts[label] = await self._conversations.count_documents(
                {**live, "status": Status.OPEN.value, "assignee_id": assignee}
            )
        counts["all"] = sum(counts[status.value] for status in Status)
        return counts

    @_unavailable_when_unreachable
    async def mark_read(self, agent_id: str, conversation_id: str, at: datetime) -> None:
        await self._reads.update_one(
            {"_id": f"{agent_id}\x1f{conversation_id}"},
            {"$max": {"read_at": at}, "$set": {"agent_id": agent_id, "conversation_id": conversation_id}},
            upsert=True,
        )

    @_unavailable_when_unreachable
    async def read_markers(self, agent_id: str, conversation_ids: list[str]) -> dict[str, datetime]:
        if not conversation_ids:
            return {}
        cursor = self._reads.find({"_id": {"$in": [f"{agent_id}\x1f{c}" for c in conversation_ids]}})
        return {doc["conversation_id"]: doc["read_at"] async for doc in cursor}


def _reach_condition(reach: Reach) -> dict[str, Any]:
    """Reach.covers as a query (the contract tests hold the two equal)."""
    unset: list[Any] = ["", None]  # documents written before a field existed lack it
    ors: list[dict[str, Any]] = []
    if reach.every_team:
        ors.append({})
    if reach.assigned and reach.assigned_teams is None:
        ors.append({"assignee_id": reach.agent_id})
    elif reach.assigned and reach.assigned_teams:
        ors.append({"assignee_id": reach.agent_id, "team": {"$in": sorted(reach.assigned_teams)}})
    if reach.no_team:
        ors.append({"team": {"$in": unset}})
    if reach.teams:
        ors.append({"team": {"$in": sorted(reach.teams)}})
    if reach.own_teams:
        ors.append({"team": {"$in": sorted(reach.own_teams)}, "assignee_id": {"$in": unset}})
    covered = {"$or": ors or [{"_id": {"$in": []}}]}
    if not reach.hidden_teams:
        return covered
    return {"$and": [{"team": {"$nin": sorted(reach.hidden_teams)}}, covered]}
