"""The MongoDB backend's shared part: the client, its collections, error mapping.

Atomicity comes from unique indexes and single-document find-and-modify, so it works
on a standalone server as well as on a replica set shared by several hub processes:

- `messages.idem_key` is unique: of two racing copies of one message, one insert wins;
- `threads` holds, per (channel, thread key), the conversation that is live on it,
  swapped by compare-and-set, so two messages racing on one thread open one ticket;
- outbox claims and leases are `find_one_and_update` with an expiry in the filter.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure

from conversation.codec import (
    contact_from_doc,
    conversation_from_doc,
    identity_from_doc,
    message_from_doc,
    token_narrowing_from_doc,
    token_narrowing_to_doc,
)
from conversation.identity import ContactEmail
from conversation.model import (
    ApiToken,
    Contact,
    Conversation,
    Message,
)
from conversation.search_text import DIGITS_TERM, SEARCH_SECONDS, grouped_in_query, timed_out
from conversation.store import (
    CJK,
    StoreUnavailable,
    search_terms,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


async def _version_plugin_state(db: Any) -> None:
    await db.plugin_state.update_many({"version": {"$exists": False}}, {"$set": {"version": 1}})


MIGRATIONS: dict[int, Callable[[Any], Awaitable[None]]] = {1: _version_plugin_state}


OUT_OF_DISK = {14031}  # MongoDB's OutOfDiskSpace


def _unavailable_when_unreachable(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except ConnectionFailure as exc:
            raise StoreUnavailable(f"the database did not answer ({exc.__class__.__name__})") from exc
        except OperationFailure as exc:
            if exc.code not in OUT_OF_DISK:
                raise
            holder = args[0]
            assert isinstance(holder, Area | MongoStoreBase)
            holder._conn.write_error = str(exc)  # seen by /healthz until a write works again
            raise StoreUnavailable(f"the database cannot take writes ({exc})") from exc

    return wrapper


class MongoConnection:
    """The one client every area shares, and its collections (a closed client is replaced at open)."""

    def __init__(self, url: str, *, timeout: float = 5.0, database: str | None = None) -> None:
        self.url = url
        self._timeout_ms = int(timeout * 1000)
        self._database = database
        self.search_seconds = SEARCH_SECONDS
        self.write_error = ""  # seen by /healthz until a write works again
        self.connect()

    def connect(self) -> None:
        """A new client (one that was closed cannot be used again, so open() after close() works)."""
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.url,
            tz_aware=True,
            serverSelectionTimeoutMS=self._timeout_ms,
            connectTimeoutMS=self._timeout_ms,
            socketTimeoutMS=self._timeout_ms * 3,
            connect=False,
        )
        self.db = (
            self.client.get_database(self._database) if self._database else self.client.get_default_database("helpline")
        )
        self.closed = False


class MongoStoreBase:
    """What the store and its areas share: the connection."""

    _conn: MongoConnection


class Area(MongoStoreBase):
    """The base of one area's module: its collections on the shared client."""

    def __init__(self, conn: MongoConnection) -> None:
        self._conn = conn

    @property
    def search_seconds(self) -> float:
        return self._conn.search_seconds

    @property
    def _db(self) -> Any:
        return self._conn.db

    @property
    def _meta(self) -> Any:
        return self._conn.db.meta

    @property
    def _counters(self) -> Any:
        return self._conn.db.counters

    @property
    def _contacts(self) -> Any:
        return self._conn.db.contacts

    @property
    def _identities(self) -> Any:
        return self._conn.db.identities

    @property
    def _threads(self) -> Any:
        return self._conn.db.threads

    @property
    def _conversations(self) -> Any:
        return self._conn.db.conversations

    @property
    def _messages(self) -> Any:
        return self._conn.db.messages

    @property
    def _plugin_state(self) -> Any:
        return self._conn.db.plugin_state

    @property
    def _leases(self) -> Any:
        return self._conn.db.leases

    @property
    def _agents(self) -> Any:
        return self._conn.db.agents

    @property
    def _reads(self) -> Any:
        return self._conn.db.reads

    @property
    def _sessions(self) -> Any:
        return self._conn.db.sessions

    @property
    def _api_tokens(self) -> Any:
        return self._conn.db.api_tokens

    @property
    def _canned(self) -> Any:
        return self._conn.db.canned

    @property
    def _channel_state(self) -> Any:
        return self._conn.db.channel_state

    @_unavailable_when_unreachable
    async def _get_contact(self, contact_id: str) -> Contact | None:
        doc = await self._contacts.find_one({"_id": contact_id})
        if doc is None:
            return None
        identities = self._identities.find({"contact_id": contact_id}).sort("created_at", ASCENDING)
        return contact_from_doc(doc, [identity_from_doc(i) async for i in identities])

    @_unavailable_when_unreachable
    async def _get_conversation(self, conversation_id: str) -> Conversation | None:
        doc = await self._conversations.find_one({"_id": conversation_id})
        return conversation_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def _search_messages(self, query: str, *, limit: int = 50) -> list[Message]:
        terms = search_terms(query)
        if not terms:
            return []
        # MongoDB's text index splits on spaces and punctuation, so it finds English or
        # Spanish words but not a word inside unspaced Chinese or Japanese: those terms
        # are matched as escaped substrings instead.
        # A number the search writes in groups ("139-0000-1111") is matched however the message
        # groups its digits, by a regular expression (the text index keeps words only); one
        # typed as plain digits stays with the text index, fast, and finds it written so.
        grouped = grouped_in_query(query)
        numbers = [t for t in terms if DIGITS_TERM.fullmatch(t) and t in grouped]
        word_terms = [t for t in terms if not CJK.search(t) and re.search(r"\w", t) and t not in numbers]
        condition: dict[str, Any] = {}
        if word_terms:  # each quoted: all of them must be present
            condition["$text"] = {"$search": " ".join(f'"{t}"' for t in word_terms)}
        substrings = [{"text": {"$regex": re.escape(t), "$options": "i"}} for t in terms if CJK.search(t)]
        substrings += [{"text": {"$regex": r"[ .-]?".join(t.lstrip("+"))}} for t in numbers]
        if substrings:
            condition["$and"] = substrings
        if not condition:
            return []  # nothing searchable: punctuation only
        # maxTimeMS: the server stops a search that would hold it (a regex scans every message).
        cursor = self._messages.find(condition, max_time_ms=max(1, int(self.search_seconds * 1000)))
        try:
            return [message_from_doc(doc) async for doc in cursor.sort("_id", DESCENDING).limit(limit)]
        except ExecutionTimeout:
            raise timed_out(self.search_seconds) from None


def _token_doc(token: ApiToken) -> dict[str, Any]:
    return {
        "_id": token.id,
        "agent_id": token.agent_id,
        "name": token.name,
        "token_hash": token.token_hash,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
        "expires_at": token.expires_at,
        **token_narrowing_to_doc(token),
    }


def _token_from_doc(doc: dict[str, Any]) -> ApiToken:
    return ApiToken(
        id=doc["_id"],
        agent_id=doc["agent_id"],
        name=doc["name"],
        token_hash=doc["token_hash"],
        created_at=doc["created_at"],
        revoked_at=doc.get("revoked_at"),
        expires_at=doc.get("expires_at"),
        **token_narrowing_from_doc(doc),
    )


def _contact_email(doc: dict[str, Any]) -> ContactEmail:
    return ContactEmail(doc.get("email") or "", bool(doc.get("email_verified")))


def _stored(verified: bool) -> list[bool | None]:
    """How a verification flag may be stored (contacts written before it existed have none)."""
    return [True] if verified else [False, None]


def _email_fields(email: ContactEmail) -> dict[str, Any]:
    return {"email": email.address, "email_key": email.address.lower(), "email_verified": email.verified}
