"""SQLite: tickets and their messages: ingest (record_inbound), the thread, search, edits, merges, plugin runs."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from conversation import ingest
from conversation.areas.tickets import Tickets
from conversation.codec import (
    ONCE,
    idempotency_key,
    once_key,
    to_epoch_ms,
)
from conversation.fields import index_value, with_field_changes
from conversation.inbound import Inbound
from conversation.model import (
    Contact,
    Conversation,
    Message,
    Status,
)
from conversation.routing import (
    Route,
    merged_participants,
    new_conversation,
    opens_ticket,
    route_on_thread,
)
from conversation.rules import check_merge, conversation_update, is_activity, is_agent_reply
from conversation.sqlite.db import (
    Area,
    _conversation,
    _conversation_of,
    _get_contact,
    _get_conversation,
    _index_for_search,
    _insert_conversation,
    _insert_message,
    _matching_seqs_sql,
    _message,
    _next_number,
    _reindex_edited,
    _resolve_contact,
    _row,
    _time_limited,
    _update_sql,
    named_rows,
)
from conversation.store import (
    InboundRecord,
    NotFound,
    Ticketing,
    record_edit,
    search_terms,
    validate_changes,
)

LATEST_ON_THREAD = "SELECT * FROM conversations WHERE channel = ? AND thread_key = ? ORDER BY number DESC LIMIT 1"


class SQLiteTickets(Area, Tickets):
    async def record_inbound(self, inbound: Inbound, *, now: datetime, policy: Ticketing) -> InboundRecord:
        try:  # most messages are new: taken so, and a copy is learnt of at its insert
            return await self._call(partial(_record_inbound, inbound=inbound, now=now, policy=policy, new=True))
        except _StoredBefore:  # the job's writes were rolled back with it; a copy's record, looked up first
            return await self._call(partial(_record_inbound, inbound=inbound, now=now, policy=policy, new=False))

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._call(lambda conn: _get_conversation(conn, conversation_id), write=False)

    async def get_conversation_by_number(self, number: int) -> Conversation | None:
        return await self._one("SELECT * FROM conversations WHERE number = ?", (number,), _conversation)

    async def latest_on_thread(self, channel: str, thread_key: str) -> Conversation | None:
        return await self._one(LATEST_ON_THREAD, (channel, thread_key), _conversation)

    async def list_messages(self, conversation_id: str, *, after: str = "", limit: int = 0) -> list[Message]:
        def job(conn: sqlite3.Connection) -> list[Message]:
            sql = "SELECT * FROM messages WHERE conversation_id = ?"
            params: tuple[Any, ...] = (conversation_id,)
            if after:
                sql += " AND id > ?"
                params += (after,)
            sql += " ORDER BY id"
            if limit:
                sql += " LIMIT ?"
                params += (limit,)
            return [_message(r) for r in conn.execute(sql, params)]

        return await self._call(job, write=False)

    async def get_message(self, message_id: str) -> Message | None:
        return await self._one("SELECT * FROM messages WHERE id = ?", (message_id,), _message)

    async def search_messages(self, query: str, *, limit: int = 50) -> list[Message]:
        terms = search_terms(query)
        if not terms:
            return []

        def job(conn: sqlite3.Connection) -> list[Message]:
            _index_for_search(conn)  # whatever is not indexed yet, so a search sees every message
            seqs, params = _matching_seqs_sql(terms)
            with _time_limited(conn, self.search_seconds):
                rows = conn.execute(
                    f"SELECT * FROM messages WHERE seq IN ({seqs}) ORDER BY seq DESC LIMIT ?", (*params, limit)
                ).fetchall()
            return [_message(r) for r in rows]

        return await self._call(job)

    async def update_conversation(
        self, conversation_id: str, changes: dict[str, Any], *, now: datetime
    ) -> Conversation:
        clean = validate_changes(changes)

        def job(conn: sqlite3.Connection) -> Conversation:
            conv = _get_conversation(conn, conversation_id)
            if conv is None:
                raise NotFound(f"conversation {conversation_id}")
            stored = dict(clean)
            if "fields" in clean:  # merged with what is stored now, in this transaction
                stored["fields"] = with_field_changes(conv.fields, clean["fields"])
            values = _row(conversation_update(conv.status, stored, now))
            if "tags" in clean:
                conn.execute("DELETE FROM conversation_tags WHERE conversation_id = ?", (conversation_id,))
                conn.executemany(
                    "INSERT INTO conversation_tags VALUES (?, ?)", [(conversation_id, t) for t in clean["tags"]]
                )
            if "fields" in clean:
                conn.execute("DELETE FROM conversation_fields WHERE conversation_id = ?", (conversation_id,))
                conn.executemany(
                    "INSERT INTO conversation_fields VALUES (?, ?, ?)",
                    [(conversation_id, key, index_value(value)) for key, value in stored["fields"].items()],
                )
            if values:
                assignments = ", ".join(f"{key} = ?" for key in values)  # keys are whitelisted names
                conn.execute(
                    f"UPDATE conversations SET {assignments} WHERE id = ?", (*values.values(), conversation_id)
                )
            updated = _get_conversation(conn, conversation_id)
            assert updated is not None
            return updated

        return await self._call(job)

    async def add_message(self, message: Message) -> Message:
        return await self._call(lambda conn: _add_message(conn, message))

    async def add_message_once(self, message: Message, key: str) -> tuple[Message, bool]:
        message = replace(message, raw={**(message.raw or {}), ONCE: key})

        def job(conn: sqlite3.Connection) -> tuple[Message, bool]:
            row = conn.execute("SELECT * FROM messages WHERE idem_key = ?", (once_key(key),)).fetchone()
            if row is not None:
                return _message(row), False
            return _add_message(conn, message), True

        return await self._call(job)

    async def mark_plugins_done(self, message_id: str) -> None:
        await self._call(lambda conn: conn.execute("UPDATE messages SET plugins_done = 1 WHERE id = ?", (message_id,)))

    async def messages_awaiting_plugins(
        self, *, before: datetime, limit: int, max_attempts: int | None = None
    ) -> list[Message]:
        return await self._call(
            lambda conn: [
                _message(r)
                for r in conn.execute(
                    "SELECT * FROM messages WHERE plugins_done = 0 AND created_at < ? AND plugin_attempts < ?"
                    " ORDER BY plugin_attempts, created_at LIMIT ?",
                    (to_epoch_ms(before), max_attempts if max_attempts is not None else 2**62, limit),
                )
            ],
            write=False,
        )

    async def count_plugin_attempt(self, message_id: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "UPDATE messages SET plugin_attempts = plugin_attempts + 1 WHERE id = ? RETURNING plugin_attempts",
                (message_id,),
            ).fetchone()
            return int(row[0]) if row else 0

        return await self._call(job)

    async def find_inbound(self, channel: str, external_id: str) -> Message | None:
        return await self._one(
            "SELECT * FROM messages WHERE idem_key = ?", (idempotency_key(channel, external_id),), _message
        )

    async def edit_inbound(
        self, channel: str, external_id: str, *, text: str | None, deleted: bool, at: datetime
    ) -> Message | None:
        def job(conn: sqlite3.Connection) -> Message | None:
            row = conn.execute(
                "SELECT * FROM messages WHERE idem_key = ?", (idempotency_key(channel, external_id),)
            ).fetchone()
            if row is None:
                return None
            current = _message(row)
            raw = record_edit(current.raw, current.text, text=text, deleted=deleted, at=at)
            conn.execute(
                "UPDATE messages SET text = ?, raw = ? WHERE id = ?",
                (current.text if text is None else text, json.dumps(raw), current.id),
            )
            if text is not None and text != current.text:
                _reindex_edited(conn, row["seq"], current.text, text)
            return _message(conn.execute("SELECT * FROM messages WHERE id = ?", (current.id,)).fetchone())

        return await self._call(job)

    async def merge_conversations(self, source_id: str, target_id: str, *, now: datetime) -> Conversation:
        def job(conn: sqlite3.Connection) -> Conversation:
            source, target = _get_conversation(conn, source_id), _get_conversation(conn, target_id)
            source, target = check_merge("conversation", source_id, target_id, source, target)
            # Each moved message says which ticket it came from (MERGED_FROM); one merged on from
            # there keeps its first ticket's number.
            conn.execute(
                "UPDATE messages SET conversation_id = ?,"
                " raw = json_insert(COALESCE(raw, '{}'), '$.merged_from', ?) WHERE conversation_id = ?",
                (target_id, source.number, source_id),
            )
            conn.execute(
                "UPDATE conversations SET status = 'closed', merged_into = ?, resolved_at = ? WHERE id = ?",
                (target_id, to_epoch_ms(now), source_id),
            )
            conn.execute(
                "UPDATE conversations SET last_message_at = MAX(last_message_at, ?),"
                " last_inbound_at = MAX(COALESCE(last_inbound_at, 0), COALESCE(?, 0)) WHERE id = ?",
                (to_epoch_ms(source.last_message_at), to_epoch_ms(source.last_inbound_at), target_id),
            )
            merged = _get_conversation(conn, target_id)
            assert merged is not None
            return merged

        return await self._call(job)

    async def move_message(self, message_id: str, target_id: str) -> Message:
        def job(conn: sqlite3.Connection) -> Message:
            if _get_conversation(conn, target_id) is None:
                raise NotFound(f"conversation {target_id}")
            if (
                conn.execute("UPDATE messages SET conversation_id = ? WHERE id = ?", (target_id, message_id)).rowcount
                == 0
            ):
                raise NotFound(f"message {message_id}")
            return _message(conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone())

        return await self._call(job)


def _record_inbound(
    conn: sqlite3.Connection, *, inbound: Inbound, now: datetime, policy: Ticketing, new: bool
) -> InboundRecord:
    return ingest.run_sync(ingest.record_inbound(_Ingest(conn, new=new), inbound, now, policy))


class _StoredBefore(Exception):
    """The message taken for new was stored before (a channel's retry): its job is undone."""


class _Ingest:
    """record_inbound's primitives (conversation/ingest.py), all in the caller's one transaction.

    With `new`, the message is taken for new without a lookup (a read a message, and almost
    every one is new): the idempotency key's unique index finds a copy at the insert, which
    raises _StoredBefore, so the job and all it wrote are undone (its savepoint) and the
    record is made again the usual way, looking first."""

    def __init__(self, conn: sqlite3.Connection, *, new: bool = False) -> None:
        self.conn = conn
        self.new = new
        self.contact: Contact | None = None  # the sender's, as it is now, when resolve_contact knew it whole

    def find_by_key(self, key: str) -> Message | None:
        return None if self.new else self._stored(key)

    def _stored(self, key: str) -> Message | None:
        row = self.conn.execute("SELECT * FROM messages WHERE idem_key = ?", (key,)).fetchone()
        return _message(row) if row else None

    def resolve_contact(self, inbound: Inbound, now: datetime) -> str:
        contact_id, self.contact = _resolve_contact(self.conn, inbound, now)
        if inbound.sender.tier:  # the platform's word: before the ticket is ranked by it
            tier = inbound.sender.tier.strip().casefold()
            self.conn.execute("UPDATE contacts SET tier = ? WHERE id = ? AND tier != ?", (tier, contact_id, tier))
            if self.contact is not None:
                self.contact.tier = tier
        return contact_id

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        return _get_conversation(self.conn, conversation_id)

    def get_contact(self, contact_id: str) -> Contact | None:
        if self.contact is not None and self.contact.id == contact_id:
            return self.contact  # nothing in this transaction changed it since: not read again
        return _get_contact(self.conn, contact_id)

    def route(
        self, inbound: Inbound, contact_id: str, now: datetime, policy: Ticketing, hinted: Conversation | None
    ) -> tuple[Conversation, Route]:
        latest = hinted
        if latest is None:
            rows = named_rows(self.conn, LATEST_ON_THREAD, (inbound.channel, inbound.thread_key))
            latest = _conversation_of(rows[0]) if rows else None
        route = route_on_thread(inbound, latest, now, policy)
        if not opens_ticket(route):
            assert latest is not None
            return latest, route
        number = _next_number(self.conn, policy.first_number)
        conversation = new_conversation(
            inbound, contact_id, now, number, latest, route, policy.keywords, team=policy.hold_team
        )
        _insert_conversation(self.conn, conversation)
        return conversation, route

    def reopen(self, conversation: Conversation) -> bool:
        changed = self.conn.execute(
            "UPDATE conversations SET status = 'open' WHERE id = ? AND status = 'resolved'", (conversation.id,)
        ).rowcount
        if changed:
            conversation.status = Status.OPEN  # what is stored now, so touch() leaves the status alone
        return changed == 1

    def insert_message(self, message: Message) -> bool:
        try:
            _insert_message(self.conn, message)
        except sqlite3.IntegrityError:
            if message.external_id and self._stored(idempotency_key(message.channel, message.external_id)):
                if self.new:
                    raise _StoredBefore from None
                return False
            raise
        return True

    def put_in_team(self, conversation: Conversation, team: str) -> Conversation:
        self.conn.execute("UPDATE conversations SET team = ? WHERE id = ?", (team, conversation.id))
        conversation.team = team
        return conversation

    def touch(self, conversation: Conversation, inbound: Inbound, now: datetime, status: Status) -> Conversation:
        changes: dict[str, Any] = {}
        if conversation.last_message_at < now:
            changes["last_message_at"] = conversation.last_message_at = now
        if conversation.last_inbound_at != now:
            changes["last_inbound_at"] = conversation.last_inbound_at = now
        if status is not conversation.status:  # otherwise the status indexes are left alone
            changes["status"] = conversation.status = status
        participants = merged_participants(conversation.participants, inbound.participants)
        if participants != conversation.participants:
            changes["participants"] = conversation.participants = participants
        if changes:
            row = _row(changes)
            self.conn.execute(_update_sql("conversations", tuple(row)), (*row.values(), conversation.id))
        return conversation


def _add_message(conn: sqlite3.Connection, message: Message) -> Message:
    conv = _get_conversation(conn, message.conversation_id)
    if conv is None:
        raise NotFound(f"conversation {message.conversation_id}")
    _insert_message(conn, message)
    if is_activity(message):
        conn.execute(
            "UPDATE conversations SET last_message_at = MAX(last_message_at, ?) WHERE id = ?",
            (to_epoch_ms(message.created_at), conv.id),
        )
    if is_agent_reply(message):
        conn.execute(
            "UPDATE conversations SET first_response_at = ? WHERE id = ? AND first_response_at IS NULL",
            (to_epoch_ms(message.created_at), conv.id),
        )
    return message
