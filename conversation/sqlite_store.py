"""The embedded default backend: one SQLite file in the data directory, no server.

All SQL runs on the worker thread (see sqlite_worker); each public method is one job,
so each is one transaction. Times are stored as epoch milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from conversation.codec import (
    agent_from_doc,
    agent_to_doc,
    attachments_to_list,
    choices_to_list,
    conversation_from_doc,
    from_epoch_ms,
    idempotency_key,
    message_from_doc,
    subject_from,
    to_epoch_ms,
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
    Direction,
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
    merged_participants,
    reopen_event,
    route_inbound,
    status_after_customer_message,
)
from conversation.search_text import INDEX_FORMAT, SEARCH_SECONDS, index_text, match_expression, timed_out
from conversation.sqlite_worker import SQLiteWorker
from conversation.store import (
    AGENT_FIELDS,
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


def _conversation(row: sqlite3.Row) -> Conversation:
    doc = dict(row)
    doc["_id"] = doc.pop("id")
    doc["tags"] = json.loads(doc["tags"])
    doc["participants"] = json.loads(doc["participants"])
    for name in CONVERSATION_TIMES:
        doc[name] = from_epoch_ms(doc[name])
    return conversation_from_doc(doc)


def _message(row: sqlite3.Row) -> Message:
    doc = dict(row)
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
            "attachments": json.loads(doc["attachments"]),
            "choices": json.loads(doc["choices"]),
            "created_at": from_epoch_ms(doc["created_at"]),
            "delivery": delivery,
            "plugins_done": bool(doc["plugins_done"]),
            "raw": json.loads(doc["raw"]) if doc["raw"] else None,
            "automatic": bool(doc["automatic"]),
        }
    )


def _insert_message(conn: sqlite3.Connection, msg: Message) -> None:
    d = msg.delivery
    conn.execute(
        "INSERT INTO messages (id, conversation_id, channel, direction, kind, author_type, author_id,"
        " text, html, attachments, choices, choice_id, external_id, idem_key, created_at,"
        " d_status, d_attempts, d_error, d_next_attempt_at, d_sent_at, d_lease_owner, d_lease_until,"
        " plugins_done, raw, automatic, customer_address)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            msg.id,
            msg.conversation_id,
            msg.channel,
            msg.direction.value,
            msg.kind.value,
            msg.author_type.value,
            msg.author_id,
            msg.text,
            msg.html,
            json.dumps(attachments_to_list(msg.attachments)),
            json.dumps(choices_to_list(msg.choices)),
            msg.choice_id,
            msg.external_id,
            idempotency_key(msg.channel, msg.external_id)
            if msg.direction is Direction.INBOUND and msg.external_id
            else None,
            to_epoch_ms(msg.created_at),
            d.status.value if d else None,
            d.attempts if d else None,
            d.error if d else None,
            to_epoch_ms(d.next_attempt_at) if d else None,
            to_epoch_ms(d.sent_at) if d else None,
            d.lease_owner if d else None,
            to_epoch_ms(d.lease_until) if d else None,
            int(msg.plugins_done),
            json.dumps(msg.raw) if msg.raw is not None else None,
            int(msg.automatic),
            msg.customer_address,
        ),
    )


def _insert_conversation(conn: sqlite3.Connection, conv: Conversation) -> None:
    conn.execute(
        "INSERT INTO conversations (id, number, channel, thread_key, contact_id, subject, status, priority,"
        " category, tags, team, assignee_id, handed_off_at, created_at, last_message_at,"
        " first_response_at, resolved_at, previous_id, last_inbound_at, merged_into, participants,"
        " customer_address, snoozed_until) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            conv.id,
            conv.number,
            conv.channel,
            conv.thread_key,
            conv.contact_id,
            conv.subject,
            conv.status.value,
            conv.priority.value,
            conv.category,
            json.dumps(conv.tags),
            conv.team,
            conv.assignee_id,
            to_epoch_ms(conv.handed_off_at),
            to_epoch_ms(conv.created_at),
            to_epoch_ms(conv.last_message_at),
            to_epoch_ms(conv.first_response_at),
            to_epoch_ms(conv.resolved_at),
            conv.previous_id,
            to_epoch_ms(conv.last_inbound_at),
            conv.merged_into,
            json.dumps(conv.participants),
            conv.customer_address,
            to_epoch_ms(conv.snoozed_until),
        ),
    )


def _get_conversation(conn: sqlite3.Connection, conversation_id: str) -> Conversation | None:
    row = conn.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return _conversation(row) if row else None


def _get_contact(conn: sqlite3.Connection, contact_id: str) -> Contact | None:
    row = conn.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    if row is None:
        return None
    identities = [
        Identity(
            channel=r["channel"],
            address=r["address"],
            contact_id=r["contact_id"],
            display_name=r["display_name"],
            verified=bool(r["verified"]),
            created_at=from_epoch_ms(r["created_at"]),  # type: ignore[arg-type]
        )
        for r in conn.execute("SELECT * FROM identities WHERE contact_id = ? ORDER BY created_at", (contact_id,))
    ]
    return Contact(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        email_verified=bool(row["email_verified"]),
        identities=identities,
        created_at=from_epoch_ms(row["created_at"]),  # type: ignore[arg-type]
        merged_into=row["merged_into"],
        language=row["language"],
    )


def _next_number(conn: sqlite3.Connection, first: int) -> int:
    row = conn.execute(
        "INSERT INTO counters (name, value) VALUES ('ticket', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        (first,),
    ).fetchone()
    return int(row[0])


def _resolve_contact(conn: sqlite3.Connection, inbound: Inbound, now: datetime) -> str:
    sender = inbound.sender
    row = conn.execute(
        "SELECT contact_id, display_name FROM identities WHERE channel = ? AND address = ?",
        (inbound.channel, sender.address),
    ).fetchone()
    if row is None:
        known = None
        email = joining_email(sender)
        if email:  # the same person, already known on another channel by the same verified email
            known = conn.execute(
                "SELECT id FROM contacts WHERE email = ? COLLATE NOCASE AND email_verified = 1 AND merged_into = ''"
                " LIMIT 1",
                (email,),
            ).fetchone()
        contact_id = known[0] if known else new_id()
        if known is None:
            first = email_after_message(ContactEmail(), sender)
            conn.execute(
                "INSERT INTO contacts (id, name, email, email_verified, created_at, language) VALUES (?,?,?,?,?,?)",
                (
                    contact_id,
                    sender.display_name,
                    first.address,
                    int(first.verified),
                    to_epoch_ms(now),
                    language_after_message("", sender),
                ),
            )
        conn.execute(
            "INSERT INTO identities VALUES (?,?,?,?,?,?)",
            (inbound.channel, sender.address, contact_id, sender.display_name, int(sender.verified), to_epoch_ms(now)),
        )
        if known is not None:
            _fill_language(conn, contact_id, sender)
        return contact_id
    contact_id = row["contact_id"]
    _fill_language(conn, contact_id, sender)
    if sender.display_name and sender.display_name != row["display_name"]:
        conn.execute(
            "UPDATE identities SET display_name = ? WHERE channel = ? AND address = ?",
            (sender.display_name, inbound.channel, sender.address),
        )
    if sender.email:
        current = conn.execute("SELECT email, email_verified FROM contacts WHERE id = ?", (contact_id,)).fetchone()
        before = ContactEmail(current[0], bool(current[1]))
        after = email_after_message(before, sender)
        if after != before:
            conn.execute(
                "UPDATE contacts SET email = ?, email_verified = ? WHERE id = ?",
                (after.address, int(after.verified), contact_id),
            )
    return contact_id


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
    doc = dict(row)
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
    )


class SQLiteStore(Store):
    def __init__(self, path: Path, *, timeout: float | None = 5.0) -> None:
        self.path = path
        self.url = f"sqlite://{path}"
        self._worker = SQLiteWorker(path, timeout=timeout)
        self._indexer: asyncio.Task[None] | None = None
        self.search_seconds = SEARCH_SECONDS

    async def _maintain(self) -> None:
        """Behind the writes: fill the search index, checkpoint the WAL."""
        rounds = 0
        while True:
            await asyncio.sleep(SEARCH_INTERVAL)
            rounds += 1
            try:
                await self._call(_index_for_search, deadline=False)
                if rounds % CHECKPOINT_EVERY == 0:
                    await self._worker.checkpoint()
            except (StoreUnavailable, sqlite3.Error) as exc:
                log.warning("SQLite maintenance postponed: %s", exc)  # the next round catches up
            except Exception:  # a bug must not end search indexing for good
                log.exception("SQLite maintenance failed; trying again in the next round")

    async def refresh_search(self) -> None:
        """Index everything stored so far (a search then sees every message)."""
        while await self._call(_index_for_search, deadline=False):
            pass

    async def _one(self, sql: str, params: tuple[Any, ...], build: Any) -> Any:
        """The row the query finds, built into a domain object, or None."""

        def job(conn: sqlite3.Connection) -> Any:
            row = conn.execute(sql, params).fetchone()
            return build(row) if row else None

        return await self._call(job, write=False)

    async def _call(self, job: Any, *, write: bool = True, deadline: bool = True) -> Any:
        try:
            return await self._worker.call(job, write=write, deadline=deadline)
        except sqlite3.OperationalError as exc:
            # Locked, disk full, file gone: the caller may retry later.
            raise StoreUnavailable(f"{self.url}: {exc}") from exc

    async def open(self) -> None:
        try:
            await self._worker.start()
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        await self._call(self._migrate, deadline=False)  # start-up work may take its time
        await self.refresh_search()
        await self._call(_analyze, deadline=False)
        self._indexer = asyncio.create_task(self._maintain(), name="helpline-sqlite-maintenance")

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        version = None
        if has_meta:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else None
        if version is not None and version > SCHEMA_VERSION:
            raise SchemaMismatch(
                f"the database has schema version {version}, newer than this Helpline's {SCHEMA_VERSION}: "
                "upgrade Helpline"
            )
        while version is not None and version < SCHEMA_VERSION:
            if version not in MIGRATIONS:
                raise SchemaMismatch(f"no migration from schema version {version}")
            for statement in MIGRATIONS[version].split(";\n"):
                conn.execute(statement)
            version += 1
        for statement in SCHEMA.split(";\n"):
            if statement.strip():
                conn.execute(statement)
        _add_missing_columns(conn)
        conn.execute(
            "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
        _renew_stale_search_index(conn)

    async def close(self) -> None:
        if self._indexer is not None:
            self._indexer.cancel()
            await asyncio.gather(self._indexer, return_exceptions=True)
            self._indexer = None
            try:
                await self.refresh_search()
            except StoreUnavailable:
                pass  # indexed at the next open
        await self._worker.stop()
        if self.path.exists():
            await self._worker.checkpoint()

    async def ping(self) -> None:
        await self._call(lambda conn: conn.execute("SELECT 1").fetchone(), write=False)

    async def write_failure(self) -> str:
        return self._worker.write_error

    # -- ingest -------------------------------------------------------------------
    async def record_inbound(self, inbound: Inbound, *, now: datetime, policy: Ticketing) -> InboundRecord:
        return await self._call(lambda conn: self._record_inbound(conn, inbound, now, policy))

    @staticmethod
    def _record_inbound(conn: sqlite3.Connection, inbound: Inbound, now: datetime, policy: Ticketing) -> InboundRecord:
        # Optimistic: most messages are new. A retry trips the unique idempotency key at
        # the message insert, and everything this job wrote before it is rolled back.
        conn.execute("SAVEPOINT inbound")
        try:
            record = SQLiteStore._record_new_inbound(conn, inbound, now, policy)
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO inbound")
            conn.execute("RELEASE inbound")
            existing = conn.execute(
                "SELECT * FROM messages WHERE idem_key = ?", (idempotency_key(inbound.channel, inbound.external_id),)
            ).fetchone()
            if existing is None:
                raise
            message = _message(existing)
            conversation = _get_conversation(conn, message.conversation_id)
            contact = _get_contact(conn, message.author_id)
            assert conversation is not None and contact is not None
            return InboundRecord(message, conversation, contact, duplicate=True, route=None)
        conn.execute("RELEASE inbound")
        return record

    @staticmethod
    def _record_new_inbound(
        conn: sqlite3.Connection, inbound: Inbound, now: datetime, policy: Ticketing
    ) -> InboundRecord:
        contact_id = _resolve_contact(conn, inbound, now)
        latest: Conversation | None
        hinted = _get_conversation(conn, inbound.conversation_hint) if inbound.conversation_hint else None
        if hinted is not None and hinted.merged_into:
            hinted = _get_conversation(conn, hinted.merged_into) or hinted
        if hinted is not None:
            latest = hinted
        else:
            latest_row = conn.execute(
                "SELECT * FROM conversations WHERE channel = ? AND thread_key = ? ORDER BY number DESC LIMIT 1",
                (inbound.channel, inbound.thread_key),
            ).fetchone()
            latest = _conversation(latest_row) if latest_row else None
        route = route_inbound(latest, now, policy.reopen_window)
        if route is Route.OPEN_NEW:
            conversation = Conversation(
                id=new_id(),
                number=_next_number(conn, policy.first_number),
                channel=inbound.channel,
                thread_key=inbound.thread_key,
                contact_id=contact_id,
                subject=subject_from(inbound.subject, inbound.text),
                created_at=now,
                last_message_at=now,
                last_inbound_at=now,
                previous_id=latest.id if latest else "",
                participants=merged_participants([], inbound.participants),
                customer_address=inbound.sender.address,
            )
            _insert_conversation(conn, conversation)
        else:
            assert latest is not None
            conversation = latest
            if route is Route.REOPEN:
                _insert_message(conn, reopen_event(conversation, now))
            status = status_after_customer_message(conversation.status)
            conversation.last_message_at = max(conversation.last_message_at, now)
            conversation.last_inbound_at = now
            times = (to_epoch_ms(conversation.last_message_at), to_epoch_ms(now), conversation.id)
            participants = merged_participants(conversation.participants, inbound.participants)
            if participants != conversation.participants:
                conversation.participants = participants
                conn.execute(
                    "UPDATE conversations SET participants = ? WHERE id = ?",
                    (json.dumps(participants), conversation.id),
                )
            if status is conversation.status:  # leave the status indexes alone
                conn.execute("UPDATE conversations SET last_message_at = ?, last_inbound_at = ? WHERE id = ?", times)
            else:
                conversation.status = status
                conn.execute(
                    "UPDATE conversations SET status = ?, last_message_at = ?, last_inbound_at = ? WHERE id = ?",
                    (status.value, *times),
                )
        message = inbound_message(inbound, conversation.id, contact_id, now, plugins_pending=policy.plugins_enabled)
        _insert_message(conn, message)
        contact = _get_contact(conn, contact_id)
        assert contact is not None
        return InboundRecord(message, conversation, contact, duplicate=False, route=route)

    # -- reading ------------------------------------------------------------------
    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._call(lambda conn: _get_conversation(conn, conversation_id), write=False)

    async def get_conversation_by_number(self, number: int) -> Conversation | None:
        return await self._one("SELECT * FROM conversations WHERE number = ?", (number,), _conversation)

    async def list_messages(self, conversation_id: str, *, after: str = "") -> list[Message]:
        def job(conn: sqlite3.Connection) -> list[Message]:
            sql = "SELECT * FROM messages WHERE conversation_id = ?"
            params: tuple[Any, ...] = (conversation_id,)
            if after:
                sql += " AND id > ?"
                params += (after,)
            return [_message(r) for r in conn.execute(sql + " ORDER BY id", params)]

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

    async def get_contact(self, contact_id: str) -> Contact | None:
        return await self._call(lambda conn: _get_contact(conn, contact_id), write=False)

    async def find_identity_contact(self, channel: str, address: str) -> Contact | None:
        def job(conn: sqlite3.Connection) -> Contact | None:
            row = conn.execute(
                "SELECT contact_id FROM identities WHERE channel = ? AND address = ?", (channel, address)
            ).fetchone()
            return _get_contact(conn, row[0]) if row else None

        return await self._call(job, write=False)

    # -- writing ------------------------------------------------------------------
    async def update_conversation(
        self, conversation_id: str, changes: dict[str, Any], *, now: datetime
    ) -> Conversation:
        clean = validate_changes(changes)

        def job(conn: sqlite3.Connection) -> Conversation:
            conv = _get_conversation(conn, conversation_id)
            if conv is None:
                raise NotFound(f"conversation {conversation_id}")
            columns = dict(clean)
            if columns.get("status") is Status.RESOLVED and conv.status is not Status.RESOLVED:
                columns["resolved_at"] = now
            if "tags" in columns:
                conn.execute("DELETE FROM conversation_tags WHERE conversation_id = ?", (conversation_id,))
                conn.executemany(
                    "INSERT INTO conversation_tags VALUES (?, ?)", [(conversation_id, t) for t in columns["tags"]]
                )
            values = {
                key: json.dumps(value)
                if key == "tags"
                else to_epoch_ms(value)
                if key in CONVERSATION_TIMES
                else getattr(value, "value", value)
                for key, value in columns.items()
            }
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
        def job(conn: sqlite3.Connection) -> Message:
            conv = _get_conversation(conn, message.conversation_id)
            if conv is None:
                raise NotFound(f"conversation {message.conversation_id}")
            _insert_message(conn, message)
            if message.kind is MessageKind.MESSAGE:
                conn.execute(
                    "UPDATE conversations SET last_message_at = MAX(last_message_at, ?) WHERE id = ?",
                    (to_epoch_ms(message.created_at), conv.id),
                )
            if message.author_type is AuthorType.AGENT and message.kind is MessageKind.MESSAGE:
                conn.execute(
                    "UPDATE conversations SET first_response_at = ? WHERE id = ? AND first_response_at IS NULL",
                    (to_epoch_ms(message.created_at), conv.id),
                )
            return message

        return await self._call(job)

    # -- outbox -------------------------------------------------------------------
    async def claim_deliveries(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Message]:
        def job(conn: sqlite3.Connection) -> list[Message]:
            now_ms = to_epoch_ms(now)
            rows = conn.execute(
                "UPDATE messages SET d_lease_owner = ?, d_lease_until = ? WHERE seq IN ("
                " SELECT seq FROM messages WHERE d_status = 'queued' AND d_next_attempt_at <= ?"
                " AND (d_lease_until IS NULL OR d_lease_until < ?) ORDER BY d_next_attempt_at LIMIT ?)"
                " RETURNING *",
                (owner, to_epoch_ms(now + lease), now_ms, now_ms, limit),
            ).fetchall()
            claimed = []
            for row in rows:
                try:
                    claimed.append(_message(row))
                except Exception as exc:  # one unreadable row must not stop every delivery behind it
                    error = quarantine_error(exc)
                    log.error("outbox: message %s %s", row["id"], error)
                    conn.execute(
                        "UPDATE messages SET d_status = 'failed', d_error = ?, d_lease_owner = '',"
                        " d_lease_until = NULL WHERE seq = ?",
                        (error, row["seq"]),
                    )
            return sorted(claimed, key=lambda m: m.id)

        return await self._call(job)

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

        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE messages SET d_status = ?, d_attempts = d_attempts + 1, d_error = ?,"
                " d_next_attempt_at = ?, d_sent_at = ?, external_id = CASE WHEN ? != '' THEN ? ELSE external_id END,"
                " d_lease_owner = '', d_lease_until = NULL"
                " WHERE id = ? AND d_status = 'queued' AND d_lease_owner = ?",
                (
                    status.value,
                    error,
                    to_epoch_ms(next_at),
                    to_epoch_ms(sent_at),
                    external_id,
                    external_id,
                    message_id,
                    owner,
                ),
            )
            return cursor.rowcount == 1

        return await self._call(job)

    async def record_delivery_parts(self, message_id: str, owner: str, parts: int) -> bool:
        return await self._call(
            lambda conn: (
                conn.execute(
                    "UPDATE messages SET d_parts = MAX(d_parts, ?)"
                    " WHERE id = ? AND d_status = 'queued' AND d_lease_owner = ?",
                    (parts, message_id, owner),
                ).rowcount
                == 1
            )
        )

    async def release_deliveries(self, owner: str) -> int:
        return await self._call(
            lambda conn: (
                conn.execute(
                    "UPDATE messages SET d_lease_owner = '', d_lease_until = NULL"
                    " WHERE d_status = 'queued' AND d_lease_owner = ?",
                    (owner,),
                ).rowcount
            )
        )

    async def requeue_delivery(self, message_id: str, *, now: datetime) -> Message:
        def job(conn: sqlite3.Connection) -> Message:
            row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise NotFound(f"message {message_id}")
            if row["d_status"] != DeliveryStatus.FAILED.value:
                raise InvalidInput("only a failed delivery can be retried")
            conn.execute(
                "UPDATE messages SET d_status = 'queued', d_attempts = 0, d_error = '', d_next_attempt_at = ?"
                " WHERE id = ?",
                (to_epoch_ms(now), message_id),
            )
            return _message(conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone())

        return await self._call(job)

    async def count_queued(self) -> int:
        return await self._call(
            lambda conn: conn.execute("SELECT COUNT(*) FROM messages WHERE d_status = 'queued'").fetchone()[0],
            write=False,
        )

    # -- plugins ------------------------------------------------------------------
    async def load_plugin_state(self, conversation_id: str, plugin: str) -> tuple[dict[str, Any], int]:
        def job(conn: sqlite3.Connection) -> tuple[dict[str, Any], int]:
            row = conn.execute(
                "SELECT state, version FROM plugin_state WHERE conversation_id = ? AND plugin = ?",
                (conversation_id, plugin),
            ).fetchone()
            return (json.loads(row[0]), row[1]) if row else ({}, 0)

        return await self._call(job, write=False)

    async def set_plugin_state(
        self, conversation_id: str, plugin: str, state: dict[str, Any], *, version: int | None = None
    ) -> bool:
        encoded = json.dumps(state)  # fails here, in the caller, on values JSON cannot hold

        def job(conn: sqlite3.Connection) -> bool:
            if version is None:
                sql = (
                    "INSERT INTO plugin_state VALUES (?,?,?,1) ON CONFLICT (conversation_id, plugin)"
                    " DO UPDATE SET state = excluded.state, version = plugin_state.version + 1"
                )
                return conn.execute(sql, (conversation_id, plugin, encoded)).rowcount == 1
            if version == 0:
                sql = "INSERT INTO plugin_state VALUES (?,?,?,1) ON CONFLICT (conversation_id, plugin) DO NOTHING"
                return conn.execute(sql, (conversation_id, plugin, encoded)).rowcount == 1
            sql = (
                "UPDATE plugin_state SET state = ?, version = version + 1"
                " WHERE conversation_id = ? AND plugin = ? AND version = ?"
            )
            return conn.execute(sql, (encoded, conversation_id, plugin, version)).rowcount == 1

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

    # -- leases -------------------------------------------------------------------
    async def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "INSERT INTO leases VALUES (?,?,?) ON CONFLICT (name) DO UPDATE"
                " SET owner = excluded.owner, expires_at = excluded.expires_at"
                " WHERE leases.owner = excluded.owner OR leases.expires_at < ? RETURNING owner",
                (name, owner, to_epoch_ms(now + ttl), to_epoch_ms(now)),
            ).fetchone()
            return row is not None

        return await self._call(job)

    async def release_lease(self, name: str, owner: str) -> None:
        await self._call(lambda conn: conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner)))

    # -- the inbox ----------------------------------------------------------------
    async def list_conversations(self, query: ConversationQuery) -> tuple[list[Conversation], int]:
        where, params = ["1 = 1"], []
        # (column, value, index answering "how many have this value" from the index alone)
        narrowing: list[tuple[str, Any, str]] = []
        for column, index in (
            ("channel", "conversations_channel"),
            ("assignee_id", "conversations_assignee"),
            ("team", "conversations_team"),
            ("category", "conversations_category"),
            ("contact_id", "conversations_contact"),
            ("priority", "conversations_priority"),
        ):
            value = getattr(query, column)
            if value is not None:
                value = getattr(value, "value", value)
                where.append(f"c.{column} = ?")  # column names come from the list above
                params.append(value)
                narrowing.append((column, value, index))
        if query.status is not None:
            where.append("c.status = ?")
            params.append(query.status.value)
        if query.tag is not None:
            tag = query.tag.strip().lower()
            where.append("EXISTS (SELECT 1 FROM conversation_tags t WHERE t.tag = ? AND t.conversation_id = c.id)")
            params.append(tag)
        if not query.include_merged:
            where.append("c.merged_into = ''")
        terms = search_terms(query.search)
        if search_filters(query.search) and not terms:
            return [], 0  # punctuation only: nothing can match

        def job(conn: sqlite3.Connection) -> tuple[list[Conversation], int]:
            clause, args = list(where), list(params)
            if terms:
                _index_for_search(conn)
                seqs, seq_args = _matching_seqs_sql(terms)
                clause.append(f"c.id IN (SELECT conversation_id FROM messages WHERE seq IN ({seqs}))")
                args.extend(seq_args)
            sql_where = " AND ".join(clause)
            with _time_limited(conn, self.search_seconds) if terms else nullcontext():
                total = conn.execute(
                    f"SELECT COUNT(*) FROM (SELECT 1 FROM conversations c WHERE {sql_where} LIMIT ?)",
                    (*args, COUNT_LIMIT),
                ).fetchone()[0]
                source = "conversations c"
                if not terms and not query.include_merged and _all_common(conn, narrowing, query.tag):
                    # Every filter matches many tickets: walking the tickets newest first and
                    # keeping the matches finds a page sooner than sorting all the matches.
                    index = "conversations_status" if query.status is not None else "conversations_recent"
                    source = f"conversations c INDEXED BY {index}"
                rows = conn.execute(
                    f"SELECT * FROM {source} WHERE {sql_where} "
                    "ORDER BY c.last_message_at DESC, c.id DESC LIMIT ? OFFSET ?",
                    (*args, query.limit, query.offset),
                ).fetchall()
            return [_conversation(r) for r in rows], total

        return await self._call(job, write=False)

    async def latest_messages(self, conversation_ids: list[str]) -> dict[str, Message]:
        def job(conn: sqlite3.Connection) -> dict[str, Message]:
            found = {}
            for conversation_id in conversation_ids:  # each one walks the thread index backwards
                row = conn.execute(
                    "SELECT * FROM messages WHERE conversation_id = ? AND kind != 'event' ORDER BY seq DESC LIMIT 1",
                    (conversation_id,),
                ).fetchone()
                if row is not None:
                    found[conversation_id] = _message(row)
            return found

        return await self._call(job, write=False)

    async def contact_labels(self, contact_ids: list[str]) -> dict[str, str]:
        def job(conn: sqlite3.Connection) -> dict[str, str]:
            marks = ",".join("?" * len(contact_ids))
            rows = conn.execute(
                f"SELECT c.id, c.name, c.email, MIN(i.display_name), MIN(i.address) FROM contacts c"
                f" LEFT JOIN identities i ON i.contact_id = c.id WHERE c.id IN ({marks}) GROUP BY c.id",
                contact_ids,
            )
            return {r[0]: r[1] or r[2] or r[3] or r[4] or "" for r in rows}

        return await self._call(job, write=False) if contact_ids else {}

    async def count_views(self, agent_id: str) -> dict[str, int]:
        def job(conn: sqlite3.Connection) -> dict[str, int]:
            counts = {status.value: 0 for status in Status}
            for status, count in conn.execute(
                "SELECT status, COUNT(*) FROM conversations WHERE merged_into = '' GROUP BY status"
            ):
                counts[status] = count
            for label, assignee in (("mine", agent_id), ("unassigned", "")):
                counts[label] = conn.execute(
                    "SELECT COUNT(*) FROM conversations WHERE merged_into = '' AND status = 'open' AND assignee_id = ?",
                    (assignee,),
                ).fetchone()[0]
            counts["all"] = sum(counts[status.value] for status in Status)
            return counts

        return await self._call(job, write=False)

    async def mark_read(self, agent_id: str, conversation_id: str, at: datetime) -> None:
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO reads VALUES (?,?,?) ON CONFLICT (agent_id, conversation_id)"
                " DO UPDATE SET read_at = MAX(read_at, excluded.read_at)",
                (agent_id, conversation_id, to_epoch_ms(at)),
            )
        )

    async def read_markers(self, agent_id: str, conversation_ids: list[str]) -> dict[str, datetime]:
        def job(conn: sqlite3.Connection) -> dict[str, datetime]:
            marks = ",".join("?" * len(conversation_ids))
            rows = conn.execute(
                f"SELECT conversation_id, read_at FROM reads WHERE agent_id = ? AND conversation_id IN ({marks})",
                (agent_id, *conversation_ids),
            )
            return {r[0]: from_epoch_ms(r[1]) for r in rows}  # type: ignore[misc]

        return await self._call(job, write=False) if conversation_ids else {}

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
            return _message(conn.execute("SELECT * FROM messages WHERE id = ?", (current.id,)).fetchone())

        return await self._call(job)

    async def mark_undelivered(self, message_id: str, error: str) -> Message | None:
        def job(conn: sqlite3.Connection) -> Message | None:
            conn.execute(
                "UPDATE messages SET d_status = 'failed', d_error = ?, d_lease_owner = '', d_lease_until = NULL"
                " WHERE id = ? AND d_status IS NOT NULL",
                (error, message_id),
            )
            row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
            return _message(row) if row else None

        return await self._call(job)

    async def get_value(self, key: str) -> Any:
        def job(conn: sqlite3.Connection) -> Any:
            row = conn.execute("SELECT value FROM channel_state WHERE key = ?", (key,)).fetchone()
            return json.loads(row[0]) if row else None

        return await self._call(job, write=False)

    async def set_value(self, key: str, value: Any) -> None:
        encoded = json.dumps(value)
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO channel_state VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, encoded),
            )
        )

    async def update_contact(
        self, contact_id: str, *, name: str | None = None, email: str | None = None, language: str | None = None
    ) -> Contact:
        def job(conn: sqlite3.Connection) -> Contact:
            if conn.execute("SELECT 1 FROM contacts WHERE id = ?", (contact_id,)).fetchone() is None:
                raise NotFound(f"contact {contact_id}")
            if name is not None:
                conn.execute("UPDATE contacts SET name = ? WHERE id = ?", (name, contact_id))
            if email is not None:  # an agent's or a visitor's word: a claim, never a verified email
                conn.execute("UPDATE contacts SET email = ?, email_verified = 0 WHERE id = ?", (email, contact_id))
            if language is not None:
                conn.execute("UPDATE contacts SET language = ? WHERE id = ?", (language, contact_id))
            contact = _get_contact(conn, contact_id)
            assert contact is not None
            return contact

        return await self._call(job)

    async def merge_conversations(self, source_id: str, target_id: str, *, now: datetime) -> Conversation:
        def job(conn: sqlite3.Connection) -> Conversation:
            source, target = _get_conversation(conn, source_id), _get_conversation(conn, target_id)
            if source is None or target is None:
                raise NotFound(f"conversation {source_id if source is None else target_id}")
            if source_id == target_id or source.merged_into or target.merged_into:
                raise InvalidInput("these conversations cannot be merged")
            conn.execute("UPDATE messages SET conversation_id = ? WHERE conversation_id = ?", (target_id, source_id))
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

    async def merge_contacts(self, source_id: str, target_id: str) -> Contact:
        def job(conn: sqlite3.Connection) -> Contact:
            source, target = _get_contact(conn, source_id), _get_contact(conn, target_id)
            if source is None or target is None:
                raise NotFound(f"contact {source_id if source is None else target_id}")
            if source_id == target_id or source.merged_into or target.merged_into:
                raise InvalidInput("these contacts cannot be merged")
            conn.execute("UPDATE identities SET contact_id = ? WHERE contact_id = ?", (target_id, source_id))
            conn.execute("UPDATE conversations SET contact_id = ? WHERE contact_id = ?", (target_id, source_id))
            conn.execute(
                "UPDATE messages SET author_id = ? WHERE author_id = ? AND author_type = 'contact'",
                (target_id, source_id),
            )
            conn.execute("UPDATE contacts SET merged_into = ? WHERE id = ?", (target_id, source_id))
            email = merged_email(
                ContactEmail(target.email, target.email_verified), ContactEmail(source.email, source.email_verified)
            )
            conn.execute(
                "UPDATE contacts SET email = ?, email_verified = ?, language = ? WHERE id = ?",
                (email.address, int(email.verified), merged_language(target.language, source.language), target_id),
            )
            merged = _get_contact(conn, target_id)
            assert merged is not None
            return merged

        return await self._call(job)

    # -- agents -------------------------------------------------------------------
    async def get_agent(self, agent_id: str) -> Agent | None:
        return await self._one("SELECT * FROM agents WHERE id = ?", (agent_id,), _agent)

    async def list_agents(self) -> list[Agent]:
        return await self._call(
            lambda conn: [_agent(r) for r in conn.execute("SELECT * FROM agents ORDER BY email_key")], write=False
        )

    async def update_agent(self, agent_id: str, changes: dict[str, Any]) -> Agent:
        unknown = set(changes) - set(AGENT_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown agent field {sorted(unknown)[0]!r}")
        values = {
            k: (v.value if isinstance(v, Role) else int(v) if isinstance(v, bool) else v) for k, v in changes.items()
        }

        def job(conn: sqlite3.Connection) -> Agent:
            if values:
                assignments = ", ".join(f"{key} = ?" for key in values)  # whitelisted names
                conn.execute(f"UPDATE agents SET {assignments} WHERE id = ?", (*values.values(), agent_id))
            row = conn.execute("SELECT * FROM agents WHERE id = ?", (agent_id,)).fetchone()
            if row is None:
                raise NotFound(f"agent {agent_id}")
            return _agent(row)

        return await self._call(job)

    async def add_session(self, session: Session) -> None:
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO sessions VALUES (?,?,?,?,?)",
                (
                    session.token_hash,
                    session.agent_id,
                    session.csrf_token,
                    to_epoch_ms(session.created_at),
                    to_epoch_ms(session.expires_at),
                ),
            )
        )

    async def get_session(self, token_hash: str) -> Session | None:
        def job(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute("SELECT * FROM sessions WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None:
                return None
            return Session(
                token_hash=row["token_hash"],
                agent_id=row["agent_id"],
                csrf_token=row["csrf_token"],
                created_at=from_epoch_ms(row["created_at"]),  # type: ignore[arg-type]
                expires_at=from_epoch_ms(row["expires_at"]),  # type: ignore[arg-type]
            )

        return await self._call(job, write=False)

    async def delete_session(self, token_hash: str) -> None:
        await self._call(lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)))

    async def delete_agent_sessions(self, agent_id: str) -> int:
        return await self._call(
            lambda conn: conn.execute("DELETE FROM sessions WHERE agent_id = ?", (agent_id,)).rowcount
        )

    async def add_api_token(self, token: ApiToken) -> ApiToken:
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO api_tokens VALUES (?,?,?,?,?,?)",
                (
                    token.id,
                    token.agent_id,
                    token.name,
                    token.token_hash,
                    to_epoch_ms(token.created_at),
                    to_epoch_ms(token.revoked_at),
                ),
            )
        )
        return token

    async def get_api_token(self, token_hash: str) -> ApiToken | None:
        return await self._one("SELECT * FROM api_tokens WHERE token_hash = ?", (token_hash,), _api_token)

    async def list_api_tokens(self) -> list[ApiToken]:
        return await self._call(
            lambda conn: [_api_token(r) for r in conn.execute("SELECT * FROM api_tokens ORDER BY created_at")],
            write=False,
        )

    async def revoke_api_token(self, token_id: str, *, now: datetime) -> ApiToken:
        def job(conn: sqlite3.Connection) -> ApiToken:
            conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (to_epoch_ms(now), token_id)
            )
            row = conn.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
            if row is None:
                raise NotFound(f"token {token_id}")
            return _api_token(row)

        return await self._call(job)

    async def list_canned(self) -> list[CannedResponse]:
        return await self._call(
            lambda conn: [
                CannedResponse(
                    id=r["id"],
                    shortcut=r["shortcut"],
                    title=r["title"],
                    text=r["text"],
                    created_at=from_epoch_ms(r["created_at"]),  # type: ignore[arg-type]
                )
                for r in conn.execute("SELECT * FROM canned ORDER BY shortcut")
            ],
            write=False,
        )

    async def add_canned(self, canned: CannedResponse) -> CannedResponse:
        def job(conn: sqlite3.Connection) -> CannedResponse:
            try:
                conn.execute(
                    "INSERT INTO canned VALUES (?,?,?,?,?)",
                    (canned.id, canned.shortcut, canned.title, canned.text, to_epoch_ms(canned.created_at)),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"the shortcut /{canned.shortcut} is taken") from None
            return canned

        return await self._call(job)

    async def delete_canned(self, canned_id: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM canned WHERE id = ?", (canned_id,)).rowcount == 0:
                raise NotFound(f"canned response {canned_id}")

        await self._call(job)

    async def add_agent(self, agent: Agent) -> Agent:
        doc = agent_to_doc(agent)

        def job(conn: sqlite3.Connection) -> Agent:
            try:
                conn.execute(
                    "INSERT INTO agents (id, email, email_key, role, password_hash, name, active, created_at,"
                    " language) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        doc["_id"],
                        doc["email"],
                        doc["email_key"],
                        doc["role"],
                        doc["password_hash"],
                        doc["name"],
                        int(doc["active"]),
                        to_epoch_ms(agent.created_at),
                        doc["language"],
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"an agent with email {agent.email} exists") from None
            return agent

        return await self._call(job)

    async def get_agent_by_email(self, email: str) -> Agent | None:
        return await self._one("SELECT * FROM agents WHERE email_key = ?", (email.lower(),), _agent)

    async def count_agents(self) -> int:
        return await self._call(lambda conn: conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0], write=False)
