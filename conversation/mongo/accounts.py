"""MongoDB: agents, their sessions and API tokens, and the canned responses they share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from conversation.areas.accounts import Accounts
from conversation.codec import (
    agent_from_doc,
    agent_to_doc,
)
from conversation.model import (
    Agent,
    ApiToken,
    CannedResponse,
    Session,
)
from conversation.mongo.db import (
    Area,
    _token_doc,
    _token_from_doc,
    _unavailable_when_unreachable,
)
from conversation.rules import agent_changes
from conversation.store import (
    AlreadyExists,
    NotFound,
)


class MongoAccounts(Area, Accounts):
    @_unavailable_when_unreachable
    async def get_agent(self, agent_id: str) -> Agent | None:
        doc = await self._agents.find_one({"_id": agent_id})
        return agent_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_agents(self) -> list[Agent]:
        return [agent_from_doc(doc) async for doc in self._agents.find({}).sort("email_key", ASCENDING)]

    @_unavailable_when_unreachable
    async def update_agent(self, agent_id: str, changes: dict[str, Any]) -> Agent:
        values = agent_changes(changes)
        doc = (
            await self._agents.find_one_and_update(
                {"_id": agent_id}, {"$set": values}, return_document=ReturnDocument.AFTER
            )
            if values
            else await self._agents.find_one({"_id": agent_id})
        )
        if doc is None:
            raise NotFound(f"agent {agent_id}")
        return agent_from_doc(doc)

    @_unavailable_when_unreachable
    async def add_session(self, session: Session) -> None:
        await self._sessions.insert_one(
            {
                "_id": session.token_hash,
                "agent_id": session.agent_id,
                "csrf_token": session.csrf_token,
                "created_at": session.created_at,
                "expires_at": session.expires_at,
            }
        )

    @_unavailable_when_unreachable
    async def get_session(self, token_hash: str) -> Session | None:
        doc = await self._sessions.find_one({"_id": token_hash})
        if doc is None:
            return None
        return Session(
            token_hash=doc["_id"],
            agent_id=doc["agent_id"],
            csrf_token=doc["csrf_token"],
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
        )

    @_unavailable_when_unreachable
    async def delete_session(self, token_hash: str) -> None:
        await self._sessions.delete_one({"_id": token_hash})

    @_unavailable_when_unreachable
    async def delete_agent_sessions(self, agent_id: str) -> int:
        return (await self._sessions.delete_many({"agent_id": agent_id})).deleted_count

    @_unavailable_when_unreachable
    async def add_api_token(self, token: ApiToken) -> ApiToken:
        await self._api_tokens.insert_one(_token_doc(token))
        return token

    @_unavailable_when_unreachable
    async def get_api_token(self, token_hash: str) -> ApiToken | None:
        doc = await self._api_tokens.find_one({"token_hash": token_hash})
        return _token_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_api_tokens(self) -> list[ApiToken]:
        return [_token_from_doc(doc) async for doc in self._api_tokens.find({}).sort("created_at", ASCENDING)]

    @_unavailable_when_unreachable
    async def revoke_api_token(self, token_id: str, *, now: datetime) -> ApiToken:
        await self._api_tokens.update_one({"_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": now}})
        doc = await self._api_tokens.find_one({"_id": token_id})
        if doc is None:
            raise NotFound(f"token {token_id}")
        return _token_from_doc(doc)

    @_unavailable_when_unreachable
    async def list_canned(self) -> list[CannedResponse]:
        return [
            CannedResponse(
                id=d["_id"], shortcut=d["shortcut"], title=d["title"], text=d["text"], created_at=d["created_at"]
            )
            async for d in self._canned.find({}).sort("shortcut", ASCENDING)
        ]

    @_unavailable_when_unreachable
    async def add_canned(self, canned: CannedResponse) -> CannedResponse:
        try:
            await self._canned.insert_one(
                {
                    "_id": canned.id,
                    "shortcut": canned.shortcut,
                    "title": canned.title,
                    "text": canned.text,
                    "created_at": canned.created_at,
                }
            )
        except DuplicateKeyError:
            raise AlreadyExists(f"the shortcut /{canned.shortcut} is taken") from None
        return canned

    @_unavailable_when_unreachable
    async def delete_canned(self, canned_id: str) -> None:
        if (await self._canned.delete_one({"_id": canned_id})).deleted_count == 0:
            raise NotFound(f"canned response {canned_id}")

    @_unavailable_when_unreachable
    async def add_agent(self, agent: Agent) -> Agent:
        try:
            await self._agents.insert_one(agent_to_doc(agent))
        except DuplicateKeyError:
            raise AlreadyExists(f"an agent with email {agent.email} exists") from None
        return agent

    @_unavailable_when_unreachable
    async def get_agent_by_email(self, email: str) -> Agent | None:
        doc = await self._agents.find_one({"email_key": email.lower()})
        return agent_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def count_agents(self) -> int:
        return await self._agents.count_documents({})
