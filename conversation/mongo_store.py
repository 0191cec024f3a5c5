"""The MongoDB backend, through PyMongo's native async client.

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
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from pymongo import ASCENDING, DESCENDING, TEXT, AsyncMongoClient, ReturnDocument
from pymongo.errors import ConnectionFailure, DuplicateKeyError, ExecutionTimeout, OperationFailure

from conversation.codec import (
    agent_from_doc,
    agent_to_doc,
    conversation_from_doc,
    conversation_to_doc,
    idempotency_key,
    message_from_doc,
    message_to_doc,
    subject_from,
)
from conversation.errors import InvalidInput
from conversation.identity import (
    ContactEmail,
    email_after_message,
    joining_email,
    language_after_message,
    merged_email,
    merged_language,
)
from conversation.inbound import Inbound, Sender
from conversation.model import (
    Agent,
    ApiToken,
    AuthorType,
    CannedResponse,
    Contact,
    Conversation,
    ConversationQuery,
    DeliveryStatus,
    Identity,
    Message,
    MessageKind,
    Role,
    Session,
    Status,
    new_id,
)
from conversation.routing import (
    Route,
    inbound_message,
    reopen_event,
    route_inbound,
    status_after_customer_message,
)
from conversation.search_text import SEARCH_SECONDS, timed_out
from conversation.store import (
    AGENT_FIELDS,
    CJK,
    SCHEMA_VERSION,
    AlreadyExists,
    InboundRecord,
    NotFound,
    SchemaMismatch,
    Store,
    StoreUnavailable,
    Ticketing,
    quarantine_error,
    record_edit,
    search_filters,
    search_terms,
    validate_changes,
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
            store = args[0]
            assert isinstance(store, MongoStore)
            store._write_error = str(exc)  # seen by /healthz until a write works again
            raise StoreUnavailable(f"the database cannot take writes ({exc})") from exc

    return wrapper


class MongoStore(Store):
    def __init__(self, url: str, *, timeout: float = 5.0, database: str | None = None) -> None:
        self.url = url
        self._timeout_ms = int(timeout * 1000)
        self._database = database
        self.search_seconds = SEARCH_SECONDS
        self._connect()

    def _connect(self) -> None:
        """A new client (one that was closed cannot be used again, so open() after close() works)."""
        self._client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.url,
            tz_aware=True,
            serverSelectionTimeoutMS=self._timeout_ms,
            connectTimeoutMS=self._timeout_ms,
            socketTimeoutMS=self._timeout_ms * 3,
            connect=False,
        )
        db = (
            self._client.get_database(self._database)
            if self._database
            else self._client.get_default_database("helpline")
        )
        self._db = db
        self._meta = db.meta
        self._counters = db.counters
        self._contacts = db.contacts
        self._identities = db.identities
        self._threads = db.threads
        self._conversations = db.conversations
        self._messages = db.messages
        self._plugin_state = db.plugin_state
        self._leases = db.leases
        self._agents = db.agents
        self._reads = db.reads
        self._sessions = db.sessions
        self._api_tokens = db.api_tokens
        self._canned = db.canned
        self._closed = False
        self._write_error = ""

    @_unavailable_when_unreachable
    async def open(self) -> None:
        if self._closed:
            self._connect()
        await self._client.admin.command("ping")
        meta = await self._meta.find_one({"_id": "schema"})
        version = meta["version"] if meta else None
        if version is not None and version > SCHEMA_VERSION:
            raise SchemaMismatch(
                f"the database has schema version {version}, newer than this Helpline's {SCHEMA_VERSION}: "
                "upgrade Helpline"
            )
        while version is not None and version < SCHEMA_VERSION:
            if version not in MIGRATIONS:
                raise SchemaMismatch(f"no migration from schema version {version}")
            await MIGRATIONS[version](self._db)
            version += 1
        await self._create_indexes()
        await self._meta.update_one({"_id": "schema"}, {"$set": {"version": SCHEMA_VERSION}}, upsert=True)

    async def _create_indexes(self) -> None:
        await self._messages.create_index(
            [("idem_key", ASCENDING)],
            unique=True,
            partialFilterExpression={"idem_key": {"$exists": True}},
            name="idempotency",
        )
        await self._messages.create_index([("conversation_id", ASCENDING), ("_id", ASCENDING)], name="thread")
        await self._messages.create_index(
            [("delivery.status", ASCENDING), ("delivery.next_attempt_at", ASCENDING)], name="outbox"
        )
        await self._messages.create_index([("plugins_done", ASCENDING), ("created_at", ASCENDING)], name="plugins")
        await self._messages.create_index([("text", TEXT)], name="search")
        await self._conversations.create_index([("number", ASCENDING)], unique=True, name="number")
        await self._conversations.create_index([("last_message_at", DESCENDING)], name="recent")
        for field in ("status", "assignee_id", "team", "channel", "priority", "category", "tags", "contact_id"):
            await self._conversations.create_index(
                [(field, ASCENDING), ("last_message_at", DESCENDING)], name=f"inbox_{field}"
            )
        await self._identities.create_index([("contact_id", ASCENDING)], name="contact")
        await self._contacts.create_index([("email_key", ASCENDING)], name="email")
        await self._api_tokens.create_index([("token_hash", ASCENDING)], unique=True, name="hash")
        await self._canned.create_index([("shortcut", ASCENDING)], unique=True, name="shortcut")
        await self._agents.create_index([("email_key", ASCENDING)], unique=True, name="email")

    async def close(self) -> None:
        await self._client.close()
        self._closed = True

    @_unavailable_when_unreachable
    async def ping(self) -> None:
        await self._client.admin.command("ping")

    async def write_failure(self) -> str:
        if self._write_error:  # has the server room again? one small write tells
            try:
                await self._probe_write()
                self._write_error = ""
            except StoreUnavailable:
                pass
        return self._write_error

    @_unavailable_when_unreachable
    async def _probe_write(self) -> None:
        await self._meta.update_one({"_id": "health"}, {"$inc": {"probes": 1}}, upsert=True)

    # -- ingest -------------------------------------------------------------------
    @_unavailable_when_unreachable
    async def record_inbound(self, inbound: Inbound, *, now: datetime, policy: Ticketing) -> InboundRecord:
        key = idempotency_key(inbound.channel, inbound.external_id)
        if (existing := await self._messages.find_one({"idem_key": key})) is not None:
            return await self._duplicate(message_from_doc(existing))
        contact_id = await self._resolve_contact(inbound, now)
        hinted = await self.get_conversation(inbound.conversation_hint) if inbound.conversation_hint else None
        if hinted is not None and hinted.merged_into:
            hinted = await self.get_conversation(hinted.merged_into) or hinted
        for _ in range(10):  # compare-and-set on the thread; a lost race just routes again
            conversation, route = await self._route(inbound, contact_id, now, policy, hinted)
            if conversation is not None:
                break
        else:
            raise StoreUnavailable("too much contention on one thread; retry")
        if route is Route.REOPEN:
            reopened = await self._conversations.update_one(
                {"_id": conversation.id, "status": Status.RESOLVED.value}, {"$set": {"status": Status.OPEN.value}}
            )
            if reopened.modified_count:
                await self._messages.insert_one(message_to_doc(reopen_event(conversation, now)))
        message = inbound_message(inbound, conversation.id, contact_id, now, plugins_pending=policy.plugins_enabled)
        try:
            await self._messages.insert_one(message_to_doc(message))
        except DuplicateKeyError:
            existing = await self._messages.find_one({"idem_key": key})
            assert existing is not None
            return await self._duplicate(message_from_doc(existing))
        new_status = status_after_customer_message(conversation.status)
        update: dict[str, Any] = {
            "$max": {"last_message_at": now, "last_inbound_at": now},
            "$set": {"status": new_status.value},
        }
        if inbound.participants:
            update["$addToSet"] = {"participants": {"$each": list(dict.fromkeys(inbound.participants))}}
        updated = await self._conversations.find_one_and_update(
            {"_id": conversation.id}, update, return_document=ReturnDocument.AFTER
        )
        contact = await self.get_contact(contact_id)
        assert updated is not None and contact is not None
        return InboundRecord(message, conversation_from_doc(updated), contact, duplicate=False, route=route)

    async def _duplicate(self, message: Message) -> InboundRecord:
        conversation = await self.get_conversation(message.conversation_id)
        contact = await self.get_contact(message.author_id)
        assert conversation is not None and contact is not None
        return InboundRecord(message, conversation, contact, duplicate=True, route=None)

    async def _resolve_contact(self, inbound: Inbound, now: datetime) -> str:
        sender = inbound.sender
        candidate = new_id()
        set_fields: dict[str, Any] = {"display_name": sender.display_name} if sender.display_name else {}
        on_insert: dict[str, Any] = {
            "channel": inbound.channel,
            "address": sender.address,
            "contact_id": candidate,
            "verified": sender.verified,
            "created_at": now,
        }
        if not sender.display_name:
            on_insert["display_name"] = ""
        update: dict[str, Any] = {"$setOnInsert": on_insert}
        if set_fields:
            update["$set"] = set_fields
        identity_id = f"{inbound.channel}\x1f{sender.address}"
        try:
            identity = await self._identities.find_one_and_update(
                {"_id": identity_id}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:  # another copy inserted it first: it is there now
            identity = await self._identities.find_one({"_id": identity_id})
        assert identity is not None
        contact_id: str = identity["contact_id"]
        email = joining_email(sender)
        if contact_id == candidate and email:
            # The same person, already known on another channel by the same verified email.
            known = await self._contacts.find_one(
                {"email_key": email.lower(), "email_verified": True, "merged_into": {"$in": ["", None]}}
            )
            if known is not None:
                await self._identities.update_one({"_id": identity_id}, {"$set": {"contact_id": known["_id"]}})
                await self._fill_language(str(known["_id"]), sender)
                return str(known["_id"])
        # Idempotent: also repairs a contact whose insert a crash interrupted.
        first = email_after_message(ContactEmail(), sender)
        await self._contacts.update_one(
            {"_id": contact_id},
            {
                "$setOnInsert": {
                    "name": sender.display_name,
                    "email": first.address,
                    "email_key": first.address.lower(),
                    "email_verified": first.verified,
                    "created_at": now,
                    "merged_into": "",
                    "language": language_after_message("", sender),
                }
            },
            upsert=True,
        )
        await self._fill_language(contact_id, sender)
        if sender.email:
            doc = await self._contacts.find_one({"_id": contact_id}, {"email": 1, "email_verified": 1})
            before = _contact_email(doc or {})
            after = email_after_message(before, sender)
            if after != before:  # compare-and-set: a concurrent change wins, as in one transaction
                await self._contacts.update_one(
                    {"_id": contact_id, "email": before.address, "email_verified": {"$in": _stored(before.verified)}},
                    {"$set": _email_fields(after)},
                )
        return contact_id

    async def _fill_language(self, contact_id: str, sender: Sender) -> None:
        """Compare-and-set, like the email: a concurrent agent correction wins."""
        if not sender.language:
            return
        doc = await self._contacts.find_one({"_id": contact_id}, {"language": 1})
        current = (doc or {}).get("language") or ""
        after = language_after_message(current, sender)
        if after != current:
            await self._contacts.update_one(
                {"_id": contact_id, "language": {"$in": [current, None]}},
                {"$set": {"language": after}},
            )

    async def _route(
        self, inbound: Inbound, contact_id: str, now: datetime, policy: Ticketing, hinted: Conversation | None
    ) -> tuple[Conversation, Route] | tuple[None, None]:
        thread_id = f"{inbound.channel}\x1f{inbound.thread_key}"
        pointer = await self._threads.find_one({"_id": thread_id})
        if hinted is not None:  # the channel named the ticket; a new one follows on from it
            route = route_inbound(hinted, now, policy.reopen_window)
            if route is not Route.OPEN_NEW:
                return hinted, route
            previous: Conversation | None = hinted
        else:
            latest: Conversation | None = None
            if pointer is not None:
                doc = await self._conversations.find_one({"_id": pointer["conversation_id"]})
                if doc is None:
                    # Its opener swapped the pointer but has not inserted the ticket yet (or
                    # crashed): insert the same draft; whoever is second gets a duplicate key.
                    return await self._insert_draft(pointer["draft"]), Route.APPEND
                latest = conversation_from_doc(doc)
            route = route_inbound(latest, now, policy.reopen_window)
            if route is not Route.OPEN_NEW:
                assert latest is not None
                return latest, route
            previous = latest
        counter = await self._counters.find_one_and_update(
            {"_id": "ticket"}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert counter is not None
        draft = Conversation(
            id=new_id(),
            number=policy.first_number - 1 + counter["value"],
            channel=inbound.channel,
            thread_key=inbound.thread_key,
            contact_id=contact_id,
            subject=subject_from(inbound.subject, inbound.text),
            created_at=now,
            last_message_at=now,
            last_inbound_at=now,
            previous_id=previous.id if previous else "",
            participants=list(dict.fromkeys(inbound.participants)),
            customer_address=inbound.sender.address,
        )
        draft_doc = conversation_to_doc(draft)
        expected = pointer["conversation_id"] if pointer is not None else None
        try:
            swapped = await self._threads.update_one(
                {"_id": thread_id, "conversation_id": expected},
                {"$set": {"conversation_id": draft.id, "draft": draft_doc}},
                upsert=pointer is None,
            )
        except DuplicateKeyError:
            return None, None
        if swapped.modified_count == 0 and swapped.upserted_id is None:
            return None, None  # another message opened the ticket first: route again
        return await self._insert_draft(draft_doc), Route.OPEN_NEW

    async def _insert_draft(self, draft: dict[str, Any]) -> Conversation:
        try:
            await self._conversations.insert_one(dict(draft))
        except DuplicateKeyError:
            pass
        return conversation_from_doc(draft)

    # -- reading ------------------------------------------------------------------
    @_unavailable_when_unreachable
    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        doc = await self._conversations.find_one({"_id": conversation_id})
        return conversation_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def get_conversation_by_number(self, number: int) -> Conversation | None:
        doc = await self._conversations.find_one({"number": number})
        return conversation_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_messages(self, conversation_id: str, *, after: str = "") -> list[Message]:
        condition: dict[str, Any] = {"conversation_id": conversation_id}
        if after:
            condition["_id"] = {"$gt": after}
        cursor = self._messages.find(condition).sort("_id", ASCENDING)
        return [message_from_doc(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def get_message(self, message_id: str) -> Message | None:
        doc = await self._messages.find_one({"_id": message_id})
        return message_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def search_messages(self, query: str, *, limit: int = 50) -> list[Message]:
        terms = search_terms(query)
        if not terms:
            return []
        # MongoDB's text index splits on spaces and punctuation, so it finds English or
        # Spanish words but not a word inside unspaced Chinese or Japanese: those terms
        # are matched as escaped substrings instead.
        word_terms = [t for t in terms if not CJK.search(t) and re.search(r"\w", t)]
        condition: dict[str, Any] = {}
        if word_terms:  # each quoted: all of them must be present
            condition["$text"] = {"$search": " ".join(f'"{t}"' for t in word_terms)}
        if substrings := [{"text": {"$regex": re.escape(t), "$options": "i"}} for t in terms if CJK.search(t)]:
            condition["$and"] = substrings
        if not condition:
            return []  # nothing searchable: punctuation only
        # maxTimeMS: the server stops a search that would hold it (a regex scans every message).
        cursor = self._messages.find(condition, max_time_ms=max(1, int(self.search_seconds * 1000)))
        try:
            return [message_from_doc(doc) async for doc in cursor.sort("_id", DESCENDING).limit(limit)]
        except ExecutionTimeout:
            raise timed_out(self.search_seconds) from None

    @_unavailable_when_unreachable
    async def get_contact(self, contact_id: str) -> Contact | None:
        doc = await self._contacts.find_one({"_id": contact_id})
        if doc is None:
            return None
        identities = [
            Identity(
                channel=i["channel"],
                address=i["address"],
                contact_id=i["contact_id"],
                display_name=i.get("display_name", ""),
                verified=i.get("verified", False),
                created_at=i["created_at"],
            )
            async for i in self._identities.find({"contact_id": contact_id}).sort("created_at", ASCENDING)
        ]
        return Contact(
            id=doc["_id"],
            name=doc["name"],
            email=doc["email"],
            email_verified=bool(doc.get("email_verified")),
            identities=identities,
            created_at=doc["created_at"],
            merged_into=doc.get("merged_into") or "",
            language=doc.get("language") or "",
        )

    @_unavailable_when_unreachable
    async def find_identity_contact(self, channel: str, address: str) -> Contact | None:
        identity = await self._identities.find_one({"_id": f"{channel}\x1f{address}"})
        return await self.get_contact(identity["contact_id"]) if identity else None

    # -- writing ------------------------------------------------------------------
    @_unavailable_when_unreachable
    async def update_conversation(
        self, conversation_id: str, changes: dict[str, Any], *, now: datetime
    ) -> Conversation:
        clean = validate_changes(changes)
        current = await self.get_conversation(conversation_id)
        if current is None:
            raise NotFound(f"conversation {conversation_id}")
        values = {key: getattr(value, "value", value) for key, value in clean.items()}
        if clean.get("status") is Status.RESOLVED and current.status is not Status.RESOLVED:
            values["resolved_at"] = now
        doc = (
            await self._conversations.find_one_and_update(
                {"_id": conversation_id}, {"$set": values}, return_document=ReturnDocument.AFTER
            )
            if values
            else conversation_to_doc(current)
        )
        assert doc is not None
        return conversation_from_doc(doc)

    @_unavailable_when_unreachable
    async def add_message(self, message: Message) -> Message:
        if await self._conversations.count_documents({"_id": message.conversation_id}, limit=1) == 0:
            raise NotFound(f"conversation {message.conversation_id}")
        await self._messages.insert_one(message_to_doc(message))
        if message.kind is MessageKind.MESSAGE:
            await self._conversations.update_one(
                {"_id": message.conversation_id}, {"$max": {"last_message_at": message.created_at}}
            )
            if message.author_type is AuthorType.AGENT:
                await self._conversations.update_one(
                    {"_id": message.conversation_id, "first_response_at": None},
                    {"$set": {"first_response_at": message.created_at}},
                )
        return message

    # -- outbox -------------------------------------------------------------------
    @_unavailable_when_unreachable
    async def claim_deliveries(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Message]:
        claimed: list[Message] = []
        for _ in range(limit):
            doc = await self._messages.find_one_and_update(
                {
                    "delivery.status": DeliveryStatus.QUEUED.value,
                    "delivery.next_attempt_at": {"$lte": now},
                    "$or": [{"delivery.lease_until": None}, {"delivery.lease_until": {"$lt": now}}],
                },
                {"$set": {"delivery.lease_owner": owner, "delivery.lease_until": now + lease}},
                sort=[("delivery.next_attempt_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            try:
                claimed.append(message_from_doc(doc))
            except Exception as exc:  # one unreadable document must not stop every delivery behind it
                error = quarantine_error(exc)
                log.error("outbox: message %s %s", doc.get("_id"), error)
                await self._messages.update_one(
                    {"_id": doc["_id"]},
                    {
                        "$set": {
                            "delivery.status": DeliveryStatus.FAILED.value,
                            "delivery.error": error,
                            "delivery.lease_owner": "",
                            "delivery.lease_until": None,
                        }
                    },
                )
        return claimed

    @_unavailable_when_unreachable
    async def finish_delivery(
        self,
        message_id: str,
        owner: str,
        *,
        sent_at: datetime | None = None,
        external_id: str = "",
        error: str = "",
        retry_at: datetime | None = None,
    ) -> bool:
        if sent_at is not None:
            status, next_at = DeliveryStatus.SENT, None
        elif retry_at is not None:
            status, next_at = DeliveryStatus.QUEUED, retry_at
        else:
            status, next_at = DeliveryStatus.FAILED, None
        values: dict[str, Any] = {
            "delivery.status": status.value,
            "delivery.error": error,
            "delivery.next_attempt_at": next_at,
            "delivery.sent_at": sent_at,
            "delivery.lease_owner": "",
            "delivery.lease_until": None,
        }
        if external_id:
            values["external_id"] = external_id
        result = await self._messages.update_one(
            {"_id": message_id, "delivery.status": DeliveryStatus.QUEUED.value, "delivery.lease_owner": owner},
            {"$set": values, "$inc": {"delivery.attempts": 1}},
        )
        return result.modified_count == 1

    @_unavailable_when_unreachable
    async def record_delivery_parts(self, message_id: str, owner: str, parts: int) -> bool:
        result = await self._messages.update_one(
            {"_id": message_id, "delivery.status": DeliveryStatus.QUEUED.value, "delivery.lease_owner": owner},
            {"$max": {"delivery.parts_sent": parts}},
        )
        return result.matched_count == 1

    @_unavailable_when_unreachable
    async def release_deliveries(self, owner: str) -> int:
        result = await self._messages.update_many(
            {"delivery.status": DeliveryStatus.QUEUED.value, "delivery.lease_owner": owner},
            {"$set": {"delivery.lease_owner": "", "delivery.lease_until": None}},
        )
        return result.modified_count

    @_unavailable_when_unreachable
    async def requeue_delivery(self, message_id: str, *, now: datetime) -> Message:
        doc = await self._messages.find_one_and_update(
            {"_id": message_id, "delivery.status": DeliveryStatus.FAILED.value},
            {
                "$set": {
                    "delivery.status": DeliveryStatus.QUEUED.value,
                    "delivery.attempts": 0,
                    "delivery.error": "",
                    "delivery.next_attempt_at": now,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return message_from_doc(doc)
        if await self._messages.count_documents({"_id": message_id}, limit=1):
            raise InvalidInput("only a failed delivery can be retried")
        raise NotFound(f"message {message_id}")

    @_unavailable_when_unreachable
    async def count_queued(self) -> int:
        return await self._messages.count_documents({"delivery.status": DeliveryStatus.QUEUED.value})

    # -- plugins ------------------------------------------------------------------
    @_unavailable_when_unreachable
    async def load_plugin_state(self, conversation_id: str, plugin: str) -> tuple[dict[str, Any], int]:
        doc = await self._plugin_state.find_one({"_id": f"{conversation_id}\x1f{plugin}"})
        return (dict(doc["state"]), int(doc.get("version", 1))) if doc else ({}, 0)

    @_unavailable_when_unreachable
    async def set_plugin_state(
        self, conversation_id: str, plugin: str, state: dict[str, Any], *, version: int | None = None
    ) -> bool:
        key = f"{conversation_id}\x1f{plugin}"
        values = {"state": state, "conversation_id": conversation_id, "plugin": plugin}
        if version is None:
            await self._plugin_state.update_one({"_id": key}, {"$set": values, "$inc": {"version": 1}}, upsert=True)
            return True
        if version == 0:
            try:
                await self._plugin_state.insert_one({"_id": key, **values, "version": 1})
            except DuplicateKeyError:
                return False
            return True
        result = await self._plugin_state.update_one(
            {"_id": key, "version": version}, {"$set": values, "$inc": {"version": 1}}
        )
        return result.modified_count == 1

    @_unavailable_when_unreachable
    async def mark_plugins_done(self, message_id: str) -> None:
        await self._messages.update_one({"_id": message_id}, {"$set": {"plugins_done": True}})

    @_unavailable_when_unreachable
    async def messages_awaiting_plugins(
        self, *, before: datetime, limit: int, max_attempts: int | None = None
    ) -> list[Message]:
        query: dict[str, Any] = {"plugins_done": False, "created_at": {"$lt": before}}
        if max_attempts is not None:  # a missing counter is 0 attempts
            query["$or"] = [{"plugin_attempts": {"$exists": False}}, {"plugin_attempts": {"$lt": max_attempts}}]
        cursor = (
            self._messages.find(query).sort([("plugin_attempts", ASCENDING), ("created_at", ASCENDING)]).limit(limit)
        )
        return [message_from_doc(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def count_plugin_attempt(self, message_id: str) -> int:
        doc = await self._messages.find_one_and_update(
            {"_id": message_id},
            {"$inc": {"plugin_attempts": 1}},
            projection={"plugin_attempts": 1},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc.get("plugin_attempts", 0)) if doc else 0

    # -- leases -------------------------------------------------------------------
    @_unavailable_when_unreachable
    async def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        try:
            await self._leases.update_one(
                {"_id": name, "$or": [{"owner": owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": owner, "expires_at": now + ttl}},
                upsert=True,
            )
        except DuplicateKeyError:  # the lease exists, held by someone else, unexpired
            return False
        return True

    @_unavailable_when_unreachable
    async def release_lease(self, name: str, owner: str) -> None:
        await self._leases.delete_one({"_id": name, "owner": owner})

    # -- the inbox ----------------------------------------------------------------
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
        if search_filters(query.search):  # punctuation only: search_messages finds nothing, so no ticket
            ids = {m.conversation_id for m in await self.search_messages(query.search, limit=1000)}
            condition["_id"] = {"$in": sorted(ids)}
        total = await self._conversations.count_documents(condition, limit=1000)
        cursor = (
            self._conversations.find(condition)
            .sort([("last_message_at", DESCENDING), ("_id", DESCENDING)])
            .skip(query.offset)
            .limit(query.limit)
        )
        return [conversation_from_doc(doc) async for doc in cursor], total

    @_unavailable_when_unreachable
    async def latest_messages(self, conversation_ids: list[str]) -> dict[str, Message]:
        found = {}
        for conversation_id in conversation_ids:
            doc = await self._messages.find_one(
                {"conversation_id": conversation_id, "kind": {"$ne": "event"}}, sort=[("_id", DESCENDING)]
            )
            if doc is not None:
                found[conversation_id] = message_from_doc(doc)
        return found

    @_unavailable_when_unreachable
    async def contact_labels(self, contact_ids: list[str]) -> dict[str, str]:
        if not contact_ids:
            return {}
        labels = {
            d["_id"]: d.get("name") or d.get("email") or ""
            async for d in self._contacts.find({"_id": {"$in": contact_ids}})
        }
        missing = [c for c, label in labels.items() if not label]
        if missing:
            async for identity in self._identities.find({"contact_id": {"$in": missing}}):
                labels[identity["contact_id"]] = (
                    labels[identity["contact_id"]] or identity.get("display_name") or identity["address"]
                )
        return labels

    @_unavailable_when_unreachable
    async def count_views(self, agent_id: str) -> dict[str, int]:
        live = {"merged_into": {"$in": ["", None]}}
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

    @_unavailable_when_unreachable
    async def find_inbound(self, channel: str, external_id: str) -> Message | None:
        doc = await self._messages.find_one({"idem_key": idempotency_key(channel, external_id)})
        return message_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def edit_inbound(
        self, channel: str, external_id: str, *, text: str | None, deleted: bool, at: datetime
    ) -> Message | None:
        doc = await self._messages.find_one({"idem_key": idempotency_key(channel, external_id)})
        if doc is None:
            return None
        current = message_from_doc(doc)
        raw = record_edit(current.raw, current.text, text=text, deleted=deleted, at=at)
        updated = await self._messages.find_one_and_update(
            {"_id": current.id},
            {"$set": {"text": current.text if text is None else text, "raw": raw}},
            return_document=ReturnDocument.AFTER,
        )
        return message_from_doc(updated) if updated else None

    @_unavailable_when_unreachable
    async def mark_undelivered(self, message_id: str, error: str) -> Message | None:
        doc = await self._messages.find_one_and_update(
            {"_id": message_id, "delivery": {"$ne": None}},
            {
                "$set": {
                    "delivery.status": DeliveryStatus.FAILED.value,
                    "delivery.error": error,
                    "delivery.lease_owner": "",
                    "delivery.lease_until": None,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self._messages.find_one({"_id": message_id})
        return message_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def get_value(self, key: str) -> Any:
        doc = await self._db.channel_state.find_one({"_id": key})
        return doc["value"] if doc else None

    @_unavailable_when_unreachable
    async def set_value(self, key: str, value: Any) -> None:
        await self._db.channel_state.update_one({"_id": key}, {"$set": {"value": value}}, upsert=True)

    @_unavailable_when_unreachable
    async def update_contact(
        self, contact_id: str, *, name: str | None = None, email: str | None = None, language: str | None = None
    ) -> Contact:
        values: dict[str, Any] = {}
        if language is not None:
            values["language"] = language
        if name is not None:
            values["name"] = name
        if email is not None:  # an agent's or a visitor's word: a claim, never a verified email
            values.update(_email_fields(ContactEmail(email, False)))
        if values:
            await self._contacts.update_one({"_id": contact_id}, {"$set": values})
        contact = await self.get_contact(contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id}")
        return contact

    @_unavailable_when_unreachable
    async def merge_conversations(self, source_id: str, target_id: str, *, now: datetime) -> Conversation:
        source, target = await self.get_conversation(source_id), await self.get_conversation(target_id)
        if source is None or target is None:
            raise NotFound(f"conversation {source_id if source is None else target_id}")
        if source_id == target_id or source.merged_into or target.merged_into:
            raise InvalidInput("these conversations cannot be merged")
        # Mark first: a crash half-way leaves a closed ticket pointing at its target, and
        # repeating the merge finishes moving its messages.
        await self._conversations.update_one(
            {"_id": source_id}, {"$set": {"status": Status.CLOSED.value, "merged_into": target_id, "resolved_at": now}}
        )
        await self._messages.update_many({"conversation_id": source_id}, {"$set": {"conversation_id": target_id}})
        latest: dict[str, Any] = {"last_message_at": source.last_message_at}
        if source.last_inbound_at is not None:
            latest["last_inbound_at"] = source.last_inbound_at
        doc = await self._conversations.find_one_and_update(
            {"_id": target_id}, {"$max": latest}, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        return conversation_from_doc(doc)

    @_unavailable_when_unreachable
    async def move_message(self, message_id: str, target_id: str) -> Message:
        if await self.get_conversation(target_id) is None:
            raise NotFound(f"conversation {target_id}")
        doc = await self._messages.find_one_and_update(
            {"_id": message_id}, {"$set": {"conversation_id": target_id}}, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            raise NotFound(f"message {message_id}")
        return message_from_doc(doc)

    @_unavailable_when_unreachable
    async def merge_contacts(self, source_id: str, target_id: str) -> Contact:
        source, target = await self.get_contact(source_id), await self.get_contact(target_id)
        if source is None or target is None:
            raise NotFound(f"contact {source_id if source is None else target_id}")
        if source_id == target_id or source.merged_into or target.merged_into:
            raise InvalidInput("these contacts cannot be merged")
        await self._contacts.update_one({"_id": source_id}, {"$set": {"merged_into": target_id}})
        await self._identities.update_many({"contact_id": source_id}, {"$set": {"contact_id": target_id}})
        await self._conversations.update_many({"contact_id": source_id}, {"$set": {"contact_id": target_id}})
        await self._messages.update_many(
            {"author_id": source_id, "author_type": AuthorType.CONTACT.value}, {"$set": {"author_id": target_id}}
        )
        email = merged_email(
            ContactEmail(target.email, target.email_verified), ContactEmail(source.email, source.email_verified)
        )
        language = merged_language(target.language, source.language)
        await self._contacts.update_one({"_id": target_id}, {"$set": {**_email_fields(email), "language": language}})
        merged = await self.get_contact(target_id)
        assert merged is not None
        return merged

    # -- agents -------------------------------------------------------------------
    @_unavailable_when_unreachable
    async def get_agent(self, agent_id: str) -> Agent | None:
        doc = await self._agents.find_one({"_id": agent_id})
        return agent_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_agents(self) -> list[Agent]:
        return [agent_from_doc(doc) async for doc in self._agents.find({}).sort("email_key", ASCENDING)]

    @_unavailable_when_unreachable
    async def update_agent(self, agent_id: str, changes: dict[str, Any]) -> Agent:
        unknown = set(changes) - set(AGENT_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown agent field {sorted(unknown)[0]!r}")
        values = {k: (v.value if isinstance(v, Role) else v) for k, v in changes.items()}
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


def _token_doc(token: ApiToken) -> dict[str, Any]:
    return {
        "_id": token.id,
        "agent_id": token.agent_id,
        "name": token.name,
        "token_hash": token.token_hash,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
    }


def _token_from_doc(doc: dict[str, Any]) -> ApiToken:
    return ApiToken(
        id=doc["_id"],
        agent_id=doc["agent_id"],
        name=doc["name"],
        token_hash=doc["token_hash"],
        created_at=doc["created_at"],
        revoked_at=doc.get("revoked_at"),
    )


def _contact_email(doc: dict[str, Any]) -> ContactEmail:
    return ContactEmail(doc.get("email") or "", bool(doc.get("email_verified")))


def _stored(verified: bool) -> list[bool | None]:
    """How a verification flag may be stored (contacts written before it existed have none)."""
    return [True] if verified else [False, None]


def _email_fields(email: ContactEmail) -> dict[str, Any]:
    return {"email": email.address, "email_key": email.address.lower(), "email_verified": email.verified}
