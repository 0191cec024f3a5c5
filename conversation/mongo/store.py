"""The MongoDB backend: one module per store area over one shared client (db.py)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, TEXT

from conversation.mongo.accounts import MongoAccounts
from conversation.mongo.audit import MongoAudit
from conversation.mongo.calendars import MongoCalendars
from conversation.mongo.callbacks import MongoCallbacks
from conversation.mongo.calls import MongoCalls
from conversation.mongo.cluster import MongoCluster, create_cluster_indexes
from conversation.mongo.contacts import MongoContacts
from conversation.mongo.coordination import MongoCoordination
from conversation.mongo.db import (
    MIGRATIONS,
    MongoConnection,
    MongoStoreBase,
    _unavailable_when_unreachable,
)
from conversation.mongo.deliveries import MongoDeliveries
from conversation.mongo.desk import MongoDesk
from conversation.mongo.fields import MongoFieldDefinitions
from conversation.mongo.inbox import MongoInbox
from conversation.mongo.knowledge import MongoKnowledge
from conversation.mongo.quality import MongoQuality, create_quality_indexes
from conversation.mongo.records import MongoRecords, create_record_indexes
from conversation.mongo.reports import MongoReports
from conversation.mongo.roster import MongoRoster
from conversation.mongo.tickets import MongoTickets
from conversation.mongo.timers import MongoTimers, create_timer_indexes
from conversation.mongo.webhooks import MongoWebhooks
from conversation.store import (
    SCHEMA_VERSION,
    Store,
    StoreUnavailable,
    migrations_to_run,
)


class MongoStore(MongoStoreBase, Store):
    def __init__(self, url: str, *, timeout: float = 5.0, database: str | None = None) -> None:
        self._conn = MongoConnection(url, timeout=timeout, database=database)
        self.url = url
        self.tickets = MongoTickets(self._conn)
        self.contacts = MongoContacts(self._conn)
        self.deliveries = MongoDeliveries(self._conn)
        self.accounts = MongoAccounts(self._conn)
        self.coordination = MongoCoordination(self._conn)
        self.inbox = MongoInbox(self._conn)
        self.desk = MongoDesk(self._conn)
        self.records = MongoRecords(self._conn)
        self.timers = MongoTimers(self._conn)
        self.calls = MongoCalls(self._conn)
        self.callbacks = MongoCallbacks(self._conn)
        self.calendars = MongoCalendars(self._conn)
        self.fields = MongoFieldDefinitions(self._conn)
        self.audit = MongoAudit(self._conn)
        self.webhooks = MongoWebhooks(self._conn)
        self.roster = MongoRoster(self._conn)
        self.knowledge = MongoKnowledge(self._conn)
        self.reports = MongoReports(self._conn)
        self.quality = MongoQuality(self._conn)
        self.cluster = MongoCluster(self._conn)

    @property
    def search_seconds(self) -> float:
        """How long one search may run (tests lower it)."""
        return self._conn.search_seconds

    @search_seconds.setter
    def search_seconds(self, seconds: float) -> None:
        self._conn.search_seconds = seconds

    @_unavailable_when_unreachable
    async def open(self) -> None:
        if self._conn.closed:
            self._conn.connect()
        await self._conn.client.admin.command("ping")
        meta = await self._conn.db.meta.find_one({"_id": "schema"})
        version = meta["version"] if meta else None
        for migrate in migrations_to_run(version, MIGRATIONS):
            await migrate(self._conn.db)
        await self._create_indexes()
        await self._conn.db.meta.update_one({"_id": "schema"}, {"$set": {"version": SCHEMA_VERSION}}, upsert=True)

    async def _create_indexes(self) -> None:
        await self._conn.db.categories.create_index([("parent_id", ASCENDING)], name="parent")
        await self._conn.db.messages.create_index(
            [("idem_key", ASCENDING)],
            unique=True,
            partialFilterExpression={"idem_key": {"$exists": True}},
            name="idempotency",
        )
        await self._conn.db.messages.create_index([("conversation_id", ASCENDING), ("_id", ASCENDING)], name="thread")
        await self._conn.db.messages.create_index(
            [("delivery.status", ASCENDING), ("delivery.next_attempt_at", ASCENDING)], name="outbox"
        )
        await self._conn.db.messages.create_index(
            [("plugins_done", ASCENDING), ("created_at", ASCENDING)], name="plugins"
        )
        await self._conn.db.messages.create_index([("text", TEXT)], name="search")
        # the outbox claims a reply only when no earlier queued one of its ticket and channel holds it back
        await self._conn.db.messages.create_index(
            [("conversation_id", ASCENDING), ("channel", ASCENDING), ("_id", ASCENDING)],
            partialFilterExpression={"delivery.status": "queued"},
            name="queued_order",
        )
        await self._conn.db.conversations.create_index([("number", ASCENDING)], unique=True, name="number")
        await self._conn.db.conversations.create_index([("last_message_at", DESCENDING)], name="recent")
        for field in ("status", "assignee_id", "team", "channel", "priority", "category", "tags", "contact_id"):
            await self._conn.db.conversations.create_index(
                [(field, ASCENDING), ("last_message_at", DESCENDING)], name=f"inbox_{field}"
            )
        # Custom field values, folded: the list filter (value and key) and the search (value).
        await self._conn.db.conversations.create_index(
            [("field_index.v", ASCENDING), ("field_index.k", ASCENDING)], name="fields"
        )
        await self._conn.db.identities.create_index([("contact_id", ASCENDING)], name="contact")
        await self._conn.db.contacts.create_index([("email_key", ASCENDING)], name="email")
        await self._conn.db.api_tokens.create_index([("token_hash", ASCENDING)], unique=True, name="hash")
        await self._conn.db.canned.create_index([("shortcut", ASCENDING)], unique=True, name="shortcut")
        await self._conn.db.agents.create_index([("email_key", ASCENDING)], unique=True, name="email")
        await create_record_indexes(self._conn.db)
        await create_timer_indexes(self._conn.db)
        await create_cluster_indexes(self._conn.db)
        await self._conn.db.callbacks.create_index(
            [("status", ASCENDING), ("due_at", ASCENDING)], name="due"
        )  # open tasks soonest due first: the inbox's list and the due check
        await self._conn.db.audit.create_index([("at", DESCENDING)], name="at")
        for field in ("actor_id", "target_id", "action"):
            await self._conn.db.audit.create_index([(field, ASCENDING), ("at", DESCENDING)], name=f"audit_{field}")
        await self._conn.db.webhook_deliveries.create_index(
            [("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="queue"
        )
        await self._conn.db.webhook_deliveries.create_index(
            [("subscription_id", ASCENDING), ("_id", DESCENDING)], name="log"
        )
        await self._conn.db.roster_entries.create_index([("team", ASCENDING)], name="team")
        await self._conn.db.pages.create_index([("team", ASCENDING), ("at", DESCENDING)], name="team_recent")
        await self._conn.db.kb_versions.create_index(
            [("article_id", ASCENDING), ("version", DESCENDING)], name="history"
        )
        await self._conn.db.conversations.create_index([("created_at", ASCENDING)], name="created")  # reports
        await self._conn.db.records.create_index(
            [("plugin", ASCENDING), ("kind", ASCENDING), ("created_at", ASCENDING)], name="created"
        )
        for field in ("first_response_at", "resolved_at", "first_resolved_at"):
            await self._conn.db.report_facts.create_index([(field, ASCENDING)], name=field)
        await self._conn.db.report_facts.create_index(  # the backlog of a past moment
            [("done_spans.reopened_at", ASCENDING)], name="done_spans"
        )
        await self._conn.db.messages.create_index(
            [("author_type", ASCENDING), ("created_at", ASCENDING)], name="agent_replies"
        )
        await create_quality_indexes(self._conn.db)

    async def close(self) -> None:
        await self._conn.client.close()
        self._conn.closed = True

    @_unavailable_when_unreachable
    async def ping(self) -> None:
        await self._conn.client.admin.command("ping")

    async def write_failure(self) -> str:
        if self._conn.write_error:  # has the server room again? one small write tells
            try:
                await self._probe_write()
                self._conn.write_error = ""
            except StoreUnavailable:
                pass
        return self._conn.write_error

    @_unavailable_when_unreachable
    async def _probe_write(self) -> None:
        await self._conn.db.meta.update_one({"_id": "health"}, {"$inc": {"probes": 1}}, upsert=True)
