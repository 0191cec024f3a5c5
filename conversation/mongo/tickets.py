"""MongoDB: tickets and their messages: ingest (record_inbound), the thread, search, edits, merges, plugin runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from conversation import ingest
from conversation.areas.tickets import Tickets
from conversation.codec import (
    ONCE,
    conversation_from_doc,
    conversation_to_doc,
    idempotency_key,
    message_from_doc,
    message_to_doc,
    once_key,
)
from conversation.fields import index_value
from conversation.identity import ContactEmail, email_after_message, joining_email, language_after_message
from conversation.inbound import Inbound, Sender
from conversation.model import (
    Contact,
    Conversation,
    Message,
    Status,
    new_id,
)
from conversation.mongo.db import (
    Area,
    _contact_email,
    _email_fields,
    _stored,
    _unavailable_when_unreachable,
)
from conversation.routing import (
    Route,
    new_conversation,
    opens_ticket,
    route_on_thread,
)
from conversation.rules import check_merge, conversation_update, is_activity, is_agent_reply
from conversation.store import (
    InboundRecord,
    NotFound,
    StoreUnavailable,
    Ticketing,
    record_edit,
    validate_changes,
)


def thread_id(channel: str, thread_key: str) -> str:
    """A thread's pointer document's id: the newest ticket on it (see `_route`)."""
    return f"{channel}\x1f{thread_key}"


class MongoTickets(Area, Tickets):
    async def search_messages(self, query: str, *, limit: int = 50) -> list[Message]:
        return await self._search_messages(query, limit=limit)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._get_conversation(conversation_id)

    @_unavailable_when_unreachable
    async def record_inbound(self, inbound: Inbound, *, now: datetime, policy: Ticketing) -> InboundRecord:
        return await ingest.run_async(ingest.record_inbound(_Ingest(self._conn), inbound, now, policy))

    @_unavailable_when_unreachable
    async def latest_on_thread(self, channel: str, thread_key: str) -> Conversation | None:
        pointer = await self._threads.find_one({"_id": thread_id(channel, thread_key)})
        return await self._get_conversation(pointer["conversation_id"]) if pointer else None

    @_unavailable_when_unreachable
    async def get_conversation_by_number(self, number: int) -> Conversation | None:
        doc = await self._conversations.find_one({"number": number})
        return conversation_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_messages(self, conversation_id: str, *, after: str = "", limit: int = 0) -> list[Message]:
        condition: dict[str, Any] = {"conversation_id": conversation_id}
        if after:
            condition["_id"] = {"$gt": after}
        cursor = self._messages.find(condition).sort("_id", ASCENDING).limit(limit)  # 0: no limit
        return [message_from_doc(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def get_message(self, message_id: str) -> Message | None:
        doc = await self._messages.find_one({"_id": message_id})
        return message_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def update_conversation(
        self, conversation_id: str, changes: dict[str, Any], *, now: datetime
    ) -> Conversation:
        clean = validate_changes(changes)
        current = await self._get_conversation(conversation_id)
        if current is None:
            raise NotFound(f"conversation {conversation_id}")
        fields = clean.pop("fields", {})
        values = conversation_update(current.status, clean, now)
        # Each field is set or removed by itself, so two agents changing two fields both keep theirs.
        update: dict[str, Any] = {}
        changed = {**values, **{f"fields.{k}": v for k, v in fields.items() if v is not None}}
        removed = {f"fields.{k}": "" for k, v in fields.items() if v is None}
        if changed:
            update["$set"] = changed
        if removed:
            update["$unset"] = removed
        doc = (
            await self._conversations.find_one_and_update(
                {"_id": conversation_id}, update, return_document=ReturnDocument.AFTER
            )
            if values or fields
            else conversation_to_doc(current)
        )
        assert doc is not None
        if fields:
            await self._index_fields(conversation_id, doc.get("fields") or {})
        return conversation_from_doc(doc)

    async def _index_fields(self, conversation_id: str, fields: dict[str, str]) -> None:
        """What the `fields` index holds (the list filter and search read it), written only while
        the values are still these: a later change's own write then has the last word."""
        index = [{"k": key, "v": index_value(value)} for key, value in sorted(fields.items())]
        await self._conversations.update_one(
            {"_id": conversation_id, "fields": fields}, {"$set": {"field_index": index}}
        )

    @_unavailable_when_unreachable
    async def add_message(self, message: Message) -> Message:
        if await self._conversations.count_documents({"_id": message.conversation_id}, limit=1) == 0:
            raise NotFound(f"conversation {message.conversation_id}")
        await self._messages.insert_one(message_to_doc(message))
        if is_activity(message):
            await self._conversations.update_one(
                {"_id": message.conversation_id}, {"$max": {"last_message_at": message.created_at}}
            )
        if is_agent_reply(message):
            await self._conversations.update_one(
                {"_id": message.conversation_id, "first_response_at": None},
                {"$set": {"first_response_at": message.created_at}},
            )
        return message

    @_unavailable_when_unreachable
    async def add_message_once(self, message: Message, key: str) -> tuple[Message, bool]:
        message = replace(message, raw={**(message.raw or {}), ONCE: key})
        try:
            return await self.add_message(message), True
        except DuplicateKeyError:  # stored before (a retry) or by a racing call
            doc = await self._messages.find_one({"idem_key": once_key(key)})
            if doc is None:  # the duplicate was another unique key (an id): not ours to hide
                raise
            return message_from_doc(doc), False

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
    async def merge_conversations(self, source_id: str, target_id: str, *, now: datetime) -> Conversation:
        source, target = await self._get_conversation(source_id), await self._get_conversation(target_id)
        source, target = check_merge("conversation", source_id, target_id, source, target)
        # Mark first: a crash half-way leaves a closed ticket pointing at its target, and
        # repeating the merge finishes moving its messages.
        await self._conversations.update_one(
            {"_id": source_id}, {"$set": {"status": Status.CLOSED.value, "merged_into": target_id, "resolved_at": now}}
        )
        # Each moved message says which ticket it came from (MERGED_FROM); one merged on from
        # there keeps its first ticket's number. Marked before they move: a repeated merge marks the rest.
        origin = {"$set": {"raw.merged_from": source.number}}
        await self._messages.update_many({"conversation_id": source_id, "raw": None}, {"$set": {"raw": {}}})
        await self._messages.update_many({"conversation_id": source_id, "raw.merged_from": {"$exists": False}}, origin)
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
        if await self._get_conversation(target_id) is None:
            raise NotFound(f"conversation {target_id}")
        doc = await self._messages.find_one_and_update(
            {"_id": message_id}, {"$set": {"conversation_id": target_id}}, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            raise NotFound(f"message {message_id}")
        return message_from_doc(doc)


class _Ingest(Area):
    """record_inbound's primitives (conversation/ingest.py): single-document atomic steps."""

    async def find_by_key(self, key: str) -> Message | None:
        doc = await self._messages.find_one({"idem_key": key})
        return message_from_doc(doc) if doc else None

    async def get_contact(self, contact_id: str) -> Contact | None:
        return await self._get_contact(contact_id)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._get_conversation(conversation_id)

    async def route(
        self, inbound: Inbound, contact_id: str, now: datetime, policy: Ticketing, hinted: Conversation | None
    ) -> tuple[Conversation, Route]:
        for _ in range(10):  # compare-and-set on the thread; a lost race just routes again
            conversation, route = await self._route(inbound, contact_id, now, policy, hinted)
            if conversation is not None and route is not None:
                return conversation, route
        raise StoreUnavailable("too much contention on one thread; retry")

    async def reopen(self, conversation: Conversation) -> bool:
        reopened = await self._conversations.update_one(
            {"_id": conversation.id, "status": Status.RESOLVED.value}, {"$set": {"status": Status.OPEN.value}}
        )
        return reopened.modified_count == 1

    async def insert_message(self, message: Message) -> bool:
        try:
            await self._messages.insert_one(message_to_doc(message))
        except DuplicateKeyError:
            return False
        return True

    async def put_in_team(self, conversation: Conversation, team: str) -> Conversation:
        await self._conversations.update_one({"_id": conversation.id}, {"$set": {"team": team}})
        conversation.team = team
        return conversation

    async def touch(self, conversation: Conversation, inbound: Inbound, now: datetime, status: Status) -> Conversation:
        update: dict[str, Any] = {
            "$max": {"last_message_at": now, "last_inbound_at": now},
            "$set": {"status": status.value},
        }
        if inbound.participants:
            update["$addToSet"] = {"participants": {"$each": list(dict.fromkeys(inbound.participants))}}
        updated = await self._conversations.find_one_and_update(
            {"_id": conversation.id}, update, return_document=ReturnDocument.AFTER
        )
        assert updated is not None
        return conversation_from_doc(updated)

    async def resolve_contact(self, inbound: Inbound, now: datetime) -> str:
        contact_id = await self._resolve_contact(inbound, now)
        if inbound.sender.tier:  # the platform's word: before the ticket is ranked by it
            tier = inbound.sender.tier.strip().casefold()
            await self._contacts.update_one({"_id": contact_id, "tier": {"$ne": tier}}, {"$set": {"tier": tier}})
        return contact_id

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

    async def _route(
        self, inbound: Inbound, contact_id: str, now: datetime, policy: Ticketing, hinted: Conversation | None
    ) -> tuple[Conversation, Route] | tuple[None, None]:
        thread = thread_id(inbound.channel, inbound.thread_key)
        pointer = await self._threads.find_one({"_id": thread})
        if hinted is not None:  # the channel named the ticket; a new one follows on from it
            route = route_on_thread(inbound, hinted, now, policy)
            if not opens_ticket(route):
                return hinted, route
            previous: Conversation | None = hinted
        else:
            latest: Conversation | None = None
            if pointer is not None:
                doc = await self._conversations.find_one({"_id": pointer["conversation_id"]})
                if doc is None:
                    # Its opener swapped the pointer but has not inserted the ticket yet (or
                    # crashed): insert the same draft; whoever is second gets a duplicate key.
                    # It is routed like any ticket: another sender's goes ELSEWHERE.
                    draft = await self._insert_draft(pointer["draft"])
                    return draft, route_on_thread(inbound, draft, now, policy)
                latest = conversation_from_doc(doc)
            route = route_on_thread(inbound, latest, now, policy)
            if not opens_ticket(route):
                assert latest is not None
                return latest, route
            previous = latest
        counter = await self._counters.find_one_and_update(
            {"_id": "ticket"}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert counter is not None
        number = policy.first_number - 1 + counter["value"]
        draft = new_conversation(
            inbound, contact_id, now, number, previous, route, policy.keywords, team=policy.hold_team
        )
        draft_doc = conversation_to_doc(draft)
        expected = pointer["conversation_id"] if pointer is not None else None
        try:
            swapped = await self._threads.update_one(
                {"_id": thread, "conversation_id": expected},
                {"$set": {"conversation_id": draft.id, "draft": draft_doc}},
                upsert=pointer is None,
            )
        except DuplicateKeyError:
            return None, None
        if swapped.modified_count == 0 and swapped.upserted_id is None:
            return None, None  # another message opened the ticket first: route again
        return await self._insert_draft(draft_doc), route

    async def _insert_draft(self, draft: dict[str, Any]) -> Conversation:
        try:
            await self._conversations.insert_one(dict(draft))
        except DuplicateKeyError:
            pass
        return conversation_from_doc(draft)

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
