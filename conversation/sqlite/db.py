"""The SQLite backend's shared part: schema, migrations, row codecs and the connection.

All SQL runs on the worker thread (see worker.py); each public method is one job,
so each is one transaction. Times are stored as epoch milliseconds.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from conversation.codec import (
    agent_from_doc,
    contact_from_doc,
    conversation_from_doc,
    conversation_to_doc,
    from_epoch_ms,
    identity_from_doc,
    message_from_doc,
    message_to_doc,
    to_epoch_ms,
    token_narrowing_from_doc,
)
from conversation.identity import ContactEmail, email_after_message, joining_email, language_after_message
from conversation.inbound import Inbound, Sender
from conversation.model import (
    Agent,
    ApiToken,
    Contact,
    Conversation,
    Identity,
    Message,
    new_id,
)
from conversation.search_text import INDEX_FORMAT, SEARCH_SECONDS, index_text, match_expression, timed_out
from conversation.sqlite.worker import SQLiteWorker
from conversation.store import (
    StoreUnavailable,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, created_at INTEGER NOT NULL,
    merged_into TEXT NOT NULL DEFAULT '', email_verified INTEGER NOT NULL DEFAULT 0,
    language TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS contacts_email ON contacts (email) WHERE email != '';
CREATE TABLE IF NOT EXISTS identities (
    channel TEXT NOT NULL, address TEXT NOT NULL, contact_id TEXT NOT NULL REFERENCES contacts(id),
    display_name TEXT NOT NULL, verified INTEGER NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (channel, address));
CREATE INDEX IF NOT EXISTS identities_contact ON identities (contact_id);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE, channel TEXT NOT NULL,
    thread_key TEXT NOT NULL, contact_id TEXT NOT NULL, subject TEXT NOT NULL,
    status TEXT NOT NULL, priority TEXT NOT NULL, category TEXT NOT NULL, tags TEXT NOT NULL,
    team TEXT NOT NULL, assignee_id TEXT NOT NULL, handed_off_at INTEGER,
    created_at INTEGER NOT NULL, last_message_at INTEGER NOT NULL,
    first_response_at INTEGER, resolved_at INTEGER, previous_id TEXT NOT NULL,
    last_inbound_at INTEGER, merged_into TEXT NOT NULL DEFAULT '', participants TEXT NOT NULL DEFAULT '[]',
    customer_address TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS conversations_thread ON conversations (channel, thread_key, number);
-- The inbox's indexes skip merged tickets (the list never shows them), so a view is
-- read and counted from the index alone. Every index holding last_message_at is
-- rewritten on each message, so only the two hottest views have one; other filters
-- narrow those scans or use the small indexes below, which change only with the ticket.
CREATE INDEX IF NOT EXISTS conversations_recent ON conversations (last_message_at) WHERE merged_into = '';
CREATE INDEX IF NOT EXISTS conversations_status ON conversations (status, last_message_at) WHERE merged_into = '';
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (status, assignee_id) WHERE merged_into = '';
CREATE INDEX IF NOT EXISTS conversations_assignee ON conversations (assignee_id);
CREATE INDEX IF NOT EXISTS conversations_team ON conversations (team);
CREATE INDEX IF NOT EXISTS conversations_channel ON conversations (channel);
CREATE INDEX IF NOT EXISTS conversations_priority ON conversations (priority);
CREATE INDEX IF NOT EXISTS conversations_category ON conversations (category);
CREATE INDEX IF NOT EXISTS conversations_contact ON conversations (contact_id);
CREATE TABLE IF NOT EXISTS conversation_tags (
    conversation_id TEXT NOT NULL REFERENCES conversations(id), tag TEXT NOT NULL,
    PRIMARY KEY (tag, conversation_id));
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,  -- rowid order is arrival order
    conversation_id TEXT NOT NULL REFERENCES conversations(id), channel TEXT NOT NULL,
    direction TEXT NOT NULL, kind TEXT NOT NULL, author_type TEXT NOT NULL, author_id TEXT NOT NULL,
    text TEXT NOT NULL, html TEXT NOT NULL, attachments TEXT NOT NULL, choices TEXT NOT NULL,
    choice_id TEXT NOT NULL, external_id TEXT NOT NULL,
    idem_key TEXT UNIQUE,  -- (channel, external id) of inbound messages: the idempotency key
    created_at INTEGER NOT NULL,
    d_status TEXT, d_attempts INTEGER, d_error TEXT, d_next_attempt_at INTEGER, d_sent_at INTEGER,
    d_lease_owner TEXT, d_lease_until INTEGER,
    plugins_done INTEGER NOT NULL, raw TEXT, automatic INTEGER NOT NULL DEFAULT 0,
    customer_address TEXT NOT NULL DEFAULT '', d_parts INTEGER NOT NULL DEFAULT 0,
    plugin_attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS messages_thread ON messages (conversation_id, seq);
CREATE INDEX IF NOT EXISTS messages_outbox ON messages (d_status, d_next_attempt_at)
    WHERE d_status = 'queued';
CREATE INDEX IF NOT EXISTS messages_plugins ON messages (created_at) WHERE plugins_done = 0;
-- Contentless: it holds the text as search_text.index_text rewrote it (CJK bigrams),
-- keyed by messages.seq. Filled in batches behind the writes (see _index_for_search):
-- one row at a time, FTS5 costs more than the rest of an ingest.
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    body, content='', tokenize='unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS plugin_state (
    conversation_id TEXT NOT NULL, plugin TEXT NOT NULL, state TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,  -- counts writes: compare-and-set across hub processes
    PRIMARY KEY (conversation_id, plugin));
CREATE TABLE IF NOT EXISTS channel_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reads (
    agent_id TEXT NOT NULL, conversation_id TEXT NOT NULL, read_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, conversation_id));
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, agent_id TEXT NOT NULL, csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE TABLE IF NOT EXISTS canned (
    id TEXT PRIMARY KEY, shortcut TEXT NOT NULL UNIQUE, title TEXT NOT NULL, text TEXT NOT NULL,
    created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY, email TEXT NOT NULL, email_key TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, name TEXT NOT NULL, active INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS teams (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS categories (id TEXT PRIMARY KEY, parent_id TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS categories_parent ON categories (parent_id);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, plugin TEXT NOT NULL, kind TEXT NOT NULL, conversation_id TEXT NOT NULL,
    contact_id TEXT NOT NULL, status TEXT NOT NULL, deadline INTEGER, created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL, timeline TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_conversation ON records (plugin, kind, conversation_id, created_at);
CREATE INDEX IF NOT EXISTS records_contact ON records (plugin, kind, contact_id, created_at);
CREATE INDEX IF NOT EXISTS records_status ON records (plugin, kind, status, deadline);
CREATE TABLE IF NOT EXISTS timers (
    key TEXT PRIMARY KEY, plugin TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
    conversation_id TEXT NOT NULL, due_at INTEGER NOT NULL, generation TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '', lease_until INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (due_at);
CREATE TABLE IF NOT EXISTS calls (id TEXT PRIMARY KEY, state TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS callbacks (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, owner_id TEXT NOT NULL, due_at INTEGER NOT NULL,
    raised INTEGER NOT NULL, doc TEXT NOT NULL);
-- open tasks soonest due first: the inbox's list and the due check
CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks (status, due_at);
CREATE TABLE IF NOT EXISTS calendars (team_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS field_definitions (
    category_id TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (category_id, key));
-- A ticket's custom field values, folded (fields.index_value): the list filter
-- (key and value) and the inbox search (a whole value, any key) read this index.
CREATE TABLE IF NOT EXISTS conversation_fields (
    conversation_id TEXT NOT NULL REFERENCES conversations(id), key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (conversation_id, key));
CREATE INDEX IF NOT EXISTS conversation_fields_value ON conversation_fields (value, key, conversation_id);
-- The audit log: append-only; listed newest first, by time, actor, target or action.
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, at INTEGER NOT NULL, actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL, via TEXT NOT NULL, action TEXT NOT NULL, target_type TEXT NOT NULL,
    target_id TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor_id, at);
CREATE INDEX IF NOT EXISTS audit_target ON audit (target_id, at);
CREATE INDEX IF NOT EXISTS audit_action ON audit (action, at);
-- Outbound webhooks: subscriptions, and each event for each of them (the queue and its log).
CREATE TABLE IF NOT EXISTS webhooks (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, subscription_id TEXT NOT NULL, event_id TEXT NOT NULL,
    event_type TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER, response_code INTEGER,
    last_error TEXT NOT NULL DEFAULT '', finished_at INTEGER, lease_owner TEXT NOT NULL DEFAULT '',
    lease_until INTEGER);
CREATE INDEX IF NOT EXISTS webhook_deliveries_queue ON webhook_deliveries (status, next_attempt_at)
    WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS webhook_deliveries_log ON webhook_deliveries (subscription_id, seq);
CREATE TABLE IF NOT EXISTS roster_entries (id TEXT PRIMARY KEY, team TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS roster_entries_team ON roster_entries (team);
CREATE TABLE IF NOT EXISTS roster_teams (team TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agent_profiles (agent_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS presence (agent_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (
    id TEXT PRIMARY KEY, team TEXT NOT NULL, at TEXT NOT NULL, released_at TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pages_team ON pages (team, at);
-- Knowledge base: each article's current state, and every version of it (full snapshots);
-- the knowledge revision is the `knowledge` row of `counters`.
CREATE TABLE IF NOT EXISTS kb_articles (id TEXT PRIMARY KEY, version INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kb_versions (
    article_id TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (article_id, version));
-- Reports: one fact per ticket (business-time durations kept when a clock stops; see
-- conversation/reports.py), and the indexes each figure's period scan needs.
CREATE TABLE IF NOT EXISTS report_facts (
    conversation_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, team TEXT NOT NULL, channel TEXT NOT NULL,
    category TEXT NOT NULL, agent_id TEXT NOT NULL, first_response_at INTEGER, first_response_s REAL,
    first_responder_id TEXT NOT NULL, resolved_at INTEGER, first_resolved_at INTEGER, resolution_s REAL,
    sla_met INTEGER, reopens INTEGER NOT NULL, resolved INTEGER NOT NULL, resolver_id TEXT NOT NULL DEFAULT '');
-- A fact's done spans (resolved, then reopened): the backlog of a past moment leaves out the
-- tickets done at that moment though open again now (conversation/reports.py TicketFact.done_spans).
CREATE TABLE IF NOT EXISTS report_done_spans (
    conversation_id TEXT NOT NULL, resolved_at INTEGER NOT NULL, reopened_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, resolved_at));
CREATE INDEX IF NOT EXISTS report_done_spans_reopened ON report_done_spans (reopened_at, resolved_at);
-- The period indexes cover what an unfiltered figure reads (a percentile sorts the index's values).
CREATE INDEX IF NOT EXISTS report_facts_first_response
    ON report_facts (first_response_at, first_response_s, first_responder_id);
CREATE INDEX IF NOT EXISTS report_facts_resolved
    ON report_facts (resolved_at, resolved, resolution_s, agent_id, sla_met);
CREATE INDEX IF NOT EXISTS report_facts_first_resolved ON report_facts (first_resolved_at, reopens);
CREATE INDEX IF NOT EXISTS conversations_created ON conversations (created_at);
CREATE INDEX IF NOT EXISTS records_created ON records (plugin, kind, created_at);
CREATE INDEX IF NOT EXISTS conversations_backlog ON conversations (created_at)
    WHERE status IN ('open', 'pending', 'snoozed') AND merged_into = '';
CREATE INDEX IF NOT EXISTS conversations_backlog_resolved ON conversations (resolved_at) WHERE merged_into = '';
-- The tickets that only keep a status question (inbox.ONLY_A_QUESTION; few): the view counts
-- take them off the status index's totals instead of reading every resolved ticket's row.
CREATE INDEX IF NOT EXISTS conversations_questions ON conversations (status)
    WHERE merged_into = '' AND status = 'resolved' AND resolved_at IS created_at;
CREATE INDEX IF NOT EXISTS messages_agent_replies ON messages (created_at, author_id, conversation_id)
    WHERE author_type = 'agent' AND kind = 'message';
-- Service quality: one CSAT survey per ticket (who and what it rates kept as asked, so the
-- figures group by columns), QA scorecards and reviews (one per ticket, reviewer and card).
CREATE TABLE IF NOT EXISTS csat_surveys (
    conversation_id TEXT PRIMARY KEY, contact_id TEXT NOT NULL, asked_at INTEGER NOT NULL,
    rated_at INTEGER, score INTEGER, agent_id TEXT NOT NULL, team TEXT NOT NULL, channel TEXT NOT NULL,
    category TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS csat_surveys_contact ON csat_surveys (contact_id, asked_at);
CREATE INDEX IF NOT EXISTS csat_surveys_rated ON csat_surveys (rated_at) WHERE score IS NOT NULL;
CREATE TABLE IF NOT EXISTS qa_scorecards (id TEXT PRIMARY KEY, name TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS qa_reviews (
    id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, scorecard_id TEXT NOT NULL, reviewer_id TEXT NOT NULL,
    agent_id TEXT NOT NULL, team TEXT NOT NULL, channel TEXT NOT NULL, category TEXT NOT NULL,
    score REAL NOT NULL, created_at INTEGER NOT NULL, doc TEXT NOT NULL,
    UNIQUE (conversation_id, reviewer_id, scorecard_id));
CREATE INDEX IF NOT EXISTS qa_reviews_agent ON qa_reviews (agent_id, created_at);
CREATE INDEX IF NOT EXISTS qa_reviews_reviewer ON qa_reviews (reviewer_id, created_at);
CREATE INDEX IF NOT EXISTS qa_reviews_created ON qa_reviews (created_at);
-- the weekly QA sample: tickets resolved in a week that someone worked
CREATE INDEX IF NOT EXISTS conversations_resolved ON conversations (resolved_at) WHERE assignee_id != '';
-- Cluster: live events in order, who holds which socket, shared counters (conversation/areas/cluster.py).
CREATE TABLE IF NOT EXISTS relay_events (
    seq INTEGER PRIMARY KEY, origin TEXT NOT NULL, at INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS socket_holds (
    key TEXT NOT NULL, holder TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (key, holder));
CREATE TABLE IF NOT EXISTS shared_counters (key TEXT PRIMARY KEY, total INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hub_beats (holder TEXT PRIMARY KEY, until INTEGER NOT NULL);
-- the outbox claims a reply only when no earlier queued one of its ticket and channel holds it back
CREATE INDEX IF NOT EXISTS messages_queued_order ON messages (conversation_id, channel, seq)
    WHERE d_status = 'queued';
"""

# Migrations from version N to N+1, each a script run in one transaction.
MIGRATIONS: dict[int, str] = {
    1: "ALTER TABLE plugin_state ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
}

# Columns added since a table was first created: (table, column, declaration). A database
# written before gets them at open (an old row reads as the default).
ADDED_COLUMNS = (
    ("contacts", "email_verified", "INTEGER NOT NULL DEFAULT 0"),
    ("contacts", "language", "TEXT NOT NULL DEFAULT ''"),
    ("conversations", "customer_address", "TEXT NOT NULL DEFAULT ''"),
    ("messages", "customer_address", "TEXT NOT NULL DEFAULT ''"),
    ("messages", "d_parts", "INTEGER NOT NULL DEFAULT 0"),  # pieces of a split reply already delivered
    ("messages", "plugin_attempts", "INTEGER NOT NULL DEFAULT 0"),  # recovery runs that did not finish
    ("agents", "language", "TEXT NOT NULL DEFAULT ''"),
    ("conversations", "snoozed_until", "INTEGER"),
    ("api_tokens", "role", "TEXT"),  # a token's narrower role (NULL: its agent's)
    ("api_tokens", "teams", "TEXT"),  # JSON list of the teams a token is limited to (NULL: its agent's)
    ("api_tokens", "expires_at", "INTEGER"),  # epoch ms the token is refused from (NULL: until revoked)
    ("conversations", "fields", "TEXT NOT NULL DEFAULT '{}'"),  # custom field values (JSON)
    ("conversations", "priority_set_by", "TEXT NOT NULL DEFAULT ''"),
    ("contacts", "tier", "TEXT NOT NULL DEFAULT ''"),
    ("report_facts", "resolver_id", "TEXT NOT NULL DEFAULT ''"),  # who resolved (per-agent resolutions)
)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, column, declaration in ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}  # names from the list above
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


CONVERSATION_TIMES = (
    "snoozed_until",
    "handed_off_at",
    "created_at",
    "last_message_at",
    "first_response_at",
    "resolved_at",
    "last_inbound_at",
)


def _json_list(text: str) -> list[Any]:
    """A JSON list column; most are empty, and the decoder costs more than the rest of a row."""
    return [] if text == "[]" else json.loads(text)  # type: ignore[no-any-return]


def _fields(row: sqlite3.Row) -> dict[str, Any]:
    """A row as a dict. Not dict(row): that looks each column up by name, and a ticket's
    25 columns took 5 us of every ingest; zipping takes 1."""
    return dict(zip(row.keys(), row, strict=True))


def named_rows(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The rows of a read as dicts, keyed by the column names this connection keeps for the
    statement (worker.KeptNamesConnection; on another connection, the cursor's own)."""
    cursor = conn.execute(sql, params)
    kept = getattr(conn, "column_names", None)
    names = kept.get(sql) if kept is not None else None
    # A column added by another hub process since (a newer version sharing the file) is a new shape.
    if names is None or len(names) != len(cursor.description):
        names = tuple(column[0] for column in cursor.description)
        if kept is not None:
            names = kept[sql] = tuple(map(sys.intern, names))
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _conversation(row: sqlite3.Row) -> Conversation:
    return _conversation_of(_fields(row))


def _conversation_of(doc: dict[str, Any]) -> Conversation:
    """A conversations row's fields (changed in place) as the ticket."""
    doc["_id"] = doc.pop("id")
    doc["tags"] = _json_list(doc["tags"])
    doc["participants"] = _json_list(doc["participants"])
    doc["fields"] = {} if doc["fields"] == "{}" else json.loads(doc["fields"])
    for name in CONVERSATION_TIMES:
        if doc[name] is not None:  # most are unset: no call for those
            doc[name] = from_epoch_ms(doc[name])
    return conversation_from_doc(doc)


def _message(row: sqlite3.Row) -> Message:
    doc = _fields(row)
    delivery = None
    if doc["d_status"] is not None:
        delivery = {
            "status": doc["d_status"],
            "attempts": doc["d_attempts"],
            "error": doc["d_error"],
            "next_attempt_at": from_epoch_ms(doc["d_next_attempt_at"]),
            "sent_at": from_epoch_ms(doc["d_sent_at"]),
            "lease_owner": doc["d_lease_owner"],
            "lease_until": from_epoch_ms(doc["d_lease_until"]),
            "parts_sent": doc["d_parts"],
        }
    return message_from_doc(
        {
            **doc,
            "_id": doc["id"],
            "attachments": _json_list(doc["attachments"]),
            "choices": _json_list(doc["choices"]),
            "created_at": from_epoch_ms(doc["created_at"]),
            "delivery": delivery,
            "plugins_done": bool(doc["plugins_done"]),
            "raw": json.loads(doc["raw"]) if doc["raw"] else None,
            "automatic": bool(doc["automatic"]),
        }
    )


# Delivery fields have their own columns, named d_<field> (parts_sent is d_parts).
DELIVERY_COLUMNS = {"parts_sent": "d_parts"}


def _row(doc: dict[str, Any]) -> dict[str, Any]:
    """A codec document (conversation/codec.py) as SQLite column values: the codec decides
    which fields are stored; here only how each type is written (times as epoch ms,
    lists and dicts as JSON, booleans as 0/1)."""
    return dict(zip(*_columns(doc), strict=True))


def _columns(doc: dict[str, Any]) -> tuple[tuple[str, ...], list[Any]]:
    """A codec document's columns and their values, in its order (see `_row`).

    How a document of one shape (its fields, and the type of each value) is written is
    worked out once (`_plan`): a row is then a few C calls and one step per value that is
    not written as it is (a time, a list, a flag), not a Python step per field, which was
    the writer thread's largest Python cost on the ingest path."""
    plan = _PLANS.get((names := tuple(doc), tuple(map(type, doc.values()))))
    if plan is None:
        plan = _plan(names, tuple(map(type, doc.values())))
    columns, converts, jsons = plan
    values = list(doc.values())
    for index, convert in converts:
        values[index] = convert(values[index])
    for index, empty in jsons:  # most lists and dicts (a message's attachments) are empty: no call
        value = values[index]
        values[index] = json.dumps(value) if value else empty
    return columns, values


# A shape's columns; (index, converter) of its values written otherwise; (index, empty JSON) of its lists and dicts.
Plan = tuple[tuple[str, ...], tuple[tuple[int, Callable[[Any], Any]], ...], tuple[tuple[int, str], ...]]
_PLANS: dict[tuple[tuple[str, ...], tuple[type, ...]], Plan] = {}
MAX_PLANS = 1024  # shapes seen; a document's optional fields make a few of each kind


def _plan(names: tuple[str, ...], kinds: tuple[type, ...]) -> Plan:
    """The columns of a document's fields, and how each value not stored as it is gets written."""
    columns = tuple("id" if name == "_id" else name for name in names)
    jsons = tuple((index, _EMPTY_JSON[kind]) for index, kind in enumerate(kinds) if kind in _EMPTY_JSON)
    converts = tuple(
        (index, _WRITE.get(kind, _column_value))
        for index, kind in enumerate(kinds)
        if kind not in _STORED_AS_IS and kind not in _EMPTY_JSON
    )
    if len(_PLANS) >= MAX_PLANS:
        _PLANS.clear()
    plan = _PLANS[names, kinds] = (columns, converts, jsons)
    return plan


def _json_column(value: list[Any] | dict[str, Any]) -> str:
    return json.dumps(value) if value else "[]" if isinstance(value, list) else "{}"  # most are empty


_STORED_AS_IS = frozenset({str, int, float, type(None)})
_EMPTY_JSON: dict[type, str] = {list: "[]", dict: "{}"}
_WRITE: dict[type, Callable[[Any], Any]] = {datetime: to_epoch_ms, bool: int}


def _column_value(value: Any) -> Any:
    """A value of a subclass (a StrEnum member, a datetime subclass): as its base type is written."""
    if isinstance(value, datetime):
        return to_epoch_ms(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list | dict):
        return _json_column(value)
    return value


@functools.lru_cache(maxsize=256)
def _insert_sql(table: str, names: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


@functools.lru_cache(maxsize=256)
def _update_sql(table: str, names: tuple[str, ...]) -> str:
    """UPDATE of these columns by id; the few sets of columns the ingest changes are built once."""
    return f"UPDATE {table} SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?"


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    conn.execute(_insert_sql(table, tuple(row)), tuple(row.values()))


def _insert_message(conn: sqlite3.Connection, msg: Message) -> None:
    doc = message_to_doc(msg)
    delivery = doc.pop("delivery")
    # `raw` is written as JSON (NULL for none) and `idem_key` only when the codec gives one,
    # as every list, dict and missing column is.
    columns, values = _columns(doc)
    if delivery:  # a customer's message has none
        names, delivered = _columns(delivery)
        columns += tuple(DELIVERY_COLUMNS.get(name, f"d_{name}") for name in names)
        values += delivered
    conn.execute(_insert_sql("messages", columns), values)


def _insert_conversation(conn: sqlite3.Connection, conv: Conversation) -> None:
    columns, values = _columns(conversation_to_doc(conv))
    conn.execute(_insert_sql("conversations", columns), values)


def _get_conversation(conn: sqlite3.Connection, conversation_id: str) -> Conversation | None:
    rows = named_rows(conn, "SELECT * FROM conversations WHERE id = ?", (conversation_id,))
    return _conversation_of(rows[0]) if rows else None


# A contact and its identities in one statement: every ingest reads them, and a second
# statement was a tenth of the ingest's SQL. One row per identity (one, with NULLs, for none),
# put in order here (`_contact_of_rows`): an ORDER BY sorted the one row of almost every
# contact in a temporary b-tree on every message.
_IDENTITY_FIELDS = (
    "i.channel AS i_channel, i.address AS i_address, i.display_name AS i_display_name,"
    " i.verified AS i_verified, i.created_at AS i_created_at, i.rowid AS i_rowid"
)
CONTACT_WITH_IDENTITIES = (
    f"SELECT c.*, {_IDENTITY_FIELDS} FROM contacts c LEFT JOIN identities i ON i.contact_id = c.id WHERE c.id = ?"
)
# The same, found by one of its identities: what a known sender's message reads of its contact.
CONTACT_OF_IDENTITY = (
    f"SELECT c.*, {_IDENTITY_FIELDS} FROM identities s JOIN contacts c ON c.id = s.contact_id"
    " JOIN identities i ON i.contact_id = c.id WHERE s.channel = ? AND s.address = ?"
)
_IDENTITY_COLUMNS = tuple(
    f"i_{name}" for name in ("channel", "address", "display_name", "verified", "created_at", "rowid")
)
_IDENTITY_ORDER = operator.itemgetter("i_created_at", "i_rowid")  # oldest first, then as written


def _get_contact(conn: sqlite3.Connection, contact_id: str) -> Contact | None:
    return _contact_of_rows(named_rows(conn, CONTACT_WITH_IDENTITIES, (contact_id,)))


def _contact_of_rows(rows: list[dict[str, Any]]) -> Contact | None:
    """A contact read with its identities, one row each (CONTACT_WITH_IDENTITIES); rows changed in place."""
    if not rows:
        return None
    if len(rows) > 1:
        rows.sort(key=_IDENTITY_ORDER)
    contact_id = rows[0]["id"]
    identities = [
        identity_from_doc(
            {
                "channel": r["i_channel"],
                "address": r["i_address"],
                "contact_id": contact_id,
                "display_name": r["i_display_name"],
                "verified": r["i_verified"],
                "created_at": from_epoch_ms(r["i_created_at"]),
            }
        )
        for r in rows
        if r["i_channel"] is not None
    ]
    contact = rows[0]
    for name in _IDENTITY_COLUMNS:
        del contact[name]
    return contact_from_doc(_doc(contact), identities)


def _doc(doc: dict[str, Any]) -> dict[str, Any]:
    """A row's fields as the codec reads them (changed in place): `_id`, and its creation time as a datetime."""
    if "id" in doc:
        doc["_id"] = doc.pop("id")
    doc["created_at"] = from_epoch_ms(doc["created_at"])
    return doc


def _next_number(conn: sqlite3.Connection, first: int) -> int:
    row = conn.execute(
        "INSERT INTO counters (name, value) VALUES ('ticket', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        (first,),
    ).fetchone()
    return int(row[0])


def _resolve_contact(conn: sqlite3.Connection, inbound: Inbound, now: datetime) -> tuple[str, Contact | None]:
    """The sender's contact id, and the contact as it is now when this step knows it whole
    (a known sender's, read once and changed here in step with its row; a new one's): the
    ingest then returns it without reading it again."""
    sender = inbound.sender
    contact = _contact_of_rows(named_rows(conn, CONTACT_OF_IDENTITY, (inbound.channel, sender.address)))
    if contact is None:
        known = None
        email = joining_email(sender)
        if email:  # the same person, already known on another channel by the same verified email
            known = conn.execute(
                "SELECT id FROM contacts WHERE email = ? COLLATE NOCASE AND email_verified = 1 AND merged_into = ''"
                " LIMIT 1",
                (email,),
            ).fetchone()
        contact_id = known[0] if known else new_id()
        created = to_epoch_ms(now)
        identity = Identity(
            inbound.channel,
            sender.address,
            contact_id,
            sender.display_name,
            bool(sender.verified),
            from_epoch_ms(created) or now,  # as stored: to the millisecond
        )
        if known is None:
            first = email_after_message(ContactEmail(), sender)
            contact = Contact(
                contact_id,
                sender.display_name,
                first.address,
                first.verified,
                [identity],
                identity.created_at,
                language=language_after_message("", sender),
            )
            conn.execute(
                "INSERT INTO contacts (id, name, email, email_verified, created_at, language) VALUES (?,?,?,?,?,?)",
                (contact_id, contact.name, contact.email, int(contact.email_verified), created, contact.language),
            )
        conn.execute(
            "INSERT INTO identities VALUES (?,?,?,?,?,?)",
            (inbound.channel, sender.address, contact_id, sender.display_name, int(sender.verified), created),
        )
        if known is not None:
            _fill_language(conn, contact_id, sender)
        return contact_id, contact
    language = language_after_message(contact.language, sender)
    if language != contact.language:
        conn.execute("UPDATE contacts SET language = ? WHERE id = ?", (language, contact.id))
        contact.language = language
    own = next(i for i in contact.identities if i.channel == inbound.channel and i.address == sender.address)
    if sender.display_name and sender.display_name != own.display_name:
        conn.execute(
            "UPDATE identities SET display_name = ? WHERE channel = ? AND address = ?",
            (sender.display_name, inbound.channel, sender.address),
        )
        own.display_name = sender.display_name
    if sender.email:
        before = ContactEmail(contact.email, contact.email_verified)
        after = email_after_message(before, sender)
        if after != before:
            conn.execute(
                "UPDATE contacts SET email = ?, email_verified = ? WHERE id = ?",
                (after.address, int(after.verified), contact.id),
            )
            contact.email, contact.email_verified = after.address, after.verified
    return contact.id, contact


def _fill_language(conn: sqlite3.Connection, contact_id: str, sender: Sender) -> None:
    if not sender.language:
        return
    current = conn.execute("SELECT language FROM contacts WHERE id = ?", (contact_id,)).fetchone()[0]
    after = language_after_message(current, sender)
    if after != current:
        conn.execute("UPDATE contacts SET language = ? WHERE id = ?", (after, contact_id))


SEARCH_BATCH = 5000
SEARCH_INTERVAL = 0.25  # seconds search may lag behind the newest messages
CHECKPOINT_EVERY = 4  # maintenance rounds: the WAL is checkpointed every second

log = logging.getLogger(__name__)


def _index_for_search(conn: sqlite3.Connection) -> int:
    """Add messages stored since the last run to the full-text index; return how many."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'search_indexed_seq'").fetchone()
    done = int(row[0]) if row else 0
    rows = conn.execute(
        "SELECT seq, text FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", (done, SEARCH_BATCH)
    ).fetchall()
    if not rows:
        return 0
    conn.executemany("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)", ((r[0], index_text(r[1])) for r in rows))
    conn.execute(
        "INSERT INTO meta VALUES ('search_indexed_seq', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(rows[-1][0]),),
    )
    return len(rows)


def _reindex_edited(conn: sqlite3.Connection, seq: int, old_text: str, new_text: str) -> None:
    """An edited message already in the full-text index: take its old words out and put the
    new ones in (a message not indexed yet is read with its new text by _index_for_search)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'search_indexed_seq'").fetchone()
    if row is None or seq > int(row[0]):
        return
    # A contentless FTS5 table forgets its text: a delete names the words it indexed.
    conn.execute(
        "INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', ?, ?)", (seq, index_text(old_text))
    )
    conn.execute("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)", (seq, index_text(new_text)))


def _renew_stale_search_index(conn: sqlite3.Connection) -> None:
    """Empty an index built by an older search_text.index_text: it is filled again from
    the messages (at open, then behind the writes)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'search_index_format'").fetchone()
    if row is not None and row[0] == INDEX_FORMAT:
        return
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")
    conn.execute("DELETE FROM meta WHERE key = 'search_indexed_seq'")
    conn.execute(
        "INSERT INTO meta VALUES ('search_index_format', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (INDEX_FORMAT,),
    )


@contextmanager
def _time_limited(conn: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Stop the statements run inside after `seconds` (SearchTimedOut): one search must not
    hold the connection every other call waits for. Only for reads: an interrupted write
    would roll back the whole group it belongs to."""
    deadline = time.monotonic() + seconds
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if time.monotonic() > deadline and "interrupt" in str(exc):
            raise timed_out(seconds) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def _analyze(conn: sqlite3.Connection) -> None:
    """Refresh the planner's statistics (sampled, so quick on a large database)."""
    conn.execute("PRAGMA analysis_limit = 1000")
    conn.execute("PRAGMA optimize = 0x10002")  # analyse every table that needs it


SEARCH_LIMIT = 1000  # a search looks at the newest this many matching messages
COUNT_LIMIT = 1000  # totals beyond this are reported as "at least"
COMMON = 2000  # a filter matching at least this many tickets counts as common


def _all_common(conn: sqlite3.Connection, narrowing: list[tuple[str, Any, str]], tag: str | None) -> bool:
    """Whether every narrowing filter matches many tickets (each counted from its index alone)."""
    counts = [
        conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM conversations INDEXED BY {index} WHERE {column} = ? LIMIT ?)",
            (value, COMMON),
        ).fetchone()[0]
        for column, value, index in narrowing
    ]
    if tag is not None:
        counts.append(
            conn.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM conversation_tags WHERE tag = ? LIMIT ?)",
                (tag.strip().lower(), COMMON),
            ).fetchone()[0]
        )
    return all(count >= COMMON for count in counts)


def _matching_seqs_sql(terms: list[str]) -> tuple[str, list[Any]]:
    """A subquery of the seqs of the newest messages containing every term."""
    return (
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
        [match_expression(terms) or '""', SEARCH_LIMIT],
    )


def _agent(row: sqlite3.Row) -> Agent:
    doc = _fields(row)
    return agent_from_doc(
        {**doc, "_id": doc["id"], "active": bool(doc["active"]), "created_at": from_epoch_ms(doc["created_at"])}
    )


def _api_token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        agent_id=row["agent_id"],
        name=row["name"],
        token_hash=row["token_hash"],
        created_at=from_epoch_ms(row["created_at"]),  # type: ignore[arg-type]
        revoked_at=from_epoch_ms(row["revoked_at"]),
        expires_at=from_epoch_ms(row["expires_at"]),
        **token_narrowing_from_doc({"role": row["role"], "teams": json.loads(row["teams"] or "null")}),
    )


class SQLiteDB:
    """The one connection every area shares: the writer thread (group commit) and its settings."""

    def __init__(self, path: Path, *, timeout: float | None = 5.0) -> None:
        self.path = path
        self.url = f"sqlite://{path}"
        self.worker = SQLiteWorker(path, timeout=timeout)
        self.search_seconds = SEARCH_SECONDS

    async def call(self, job: Any, *, write: bool = True, deadline: bool = True) -> Any:
        try:
            return await self.worker.call(job, write=write, deadline=deadline)
        except sqlite3.OperationalError as exc:
            # Locked, disk full, file gone: the caller may retry later.
            raise StoreUnavailable(f"{self.url}: {exc}") from exc

    async def one(self, sql: str, params: tuple[Any, ...], build: Any) -> Any:
        """The row the query finds, built into a domain object, or None."""

        def job(conn: sqlite3.Connection) -> Any:
            row = conn.execute(sql, params).fetchone()
            return build(row) if row else None

        return await self.call(job, write=False)


class Area:
    """The base of one area's module: its methods run as jobs on the shared connection."""

    def __init__(self, db: SQLiteDB) -> None:
        self._db = db
        # Run a job: the shared connection's own call, not a coroutine passing it on (every
        # store call, several a message, went through both).
        self._call = db.call

    @property
    def search_seconds(self) -> float:
        return self._db.search_seconds

    async def _one(self, sql: str, params: tuple[Any, ...], build: Any) -> Any:
        return await self._db.one(sql, params, build)
