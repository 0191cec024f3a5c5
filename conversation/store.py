"""The Store contract: one async interface, two backends (embedded SQLite, MongoDB).

Every operation that must be atomic for correctness is one method here, so each backend
can make it atomic its own way (a SQLite transaction; unique indexes and
find-and-modify in MongoDB). Both backends pass the same contract tests
(tests/store_contract/).

The contract is split by area (conversation/areas/): tickets and messages, contacts,
deliveries, accounts, coordination, the inbox, the desk (teams, categories) and the hotline (calls, callback tasks).
`Store` composes them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from conversation.areas.accounts import Accounts
from conversation.areas.audit import Audit
from conversation.areas.calendars import Calendars
from conversation.areas.callbacks import Callbacks
from conversation.areas.calls import Calls
from conversation.areas.cluster import Cluster
from conversation.areas.contacts import Contacts
from conversation.areas.coordination import Coordination
from conversation.areas.deliveries import Deliveries
from conversation.areas.desk import Desk
from conversation.areas.fields import FieldDefinitions
from conversation.areas.inbox import Inbox
from conversation.areas.knowledge import Knowledge
from conversation.areas.quality import Quality
from conversation.areas.records import Records
from conversation.areas.reports import Reports
from conversation.areas.roster import Roster
from conversation.areas.tickets import InboundRecord as InboundRecord
from conversation.areas.tickets import Ticketing as Ticketing
from conversation.areas.tickets import Tickets
from conversation.areas.timers import Timers
from conversation.areas.webhooks import Webhooks
from conversation.errors import InvalidInput
from conversation.fields import KEY_PATTERN
from conversation.model import (
    Priority,
    Status,
)
from conversation.search_text import filters as search_filters  # noqa: F401  (re-exported: the rules both backends apply)
from conversation.search_text import person_term as person_term
from conversation.search_text import search_terms as search_terms

T = TypeVar("T")

SCHEMA_VERSION = 2  # 2: plugin state carries a version (compare-and-set)

# Fields an update may change, with the type each must have.
CONVERSATION_FIELDS: dict[str, type | tuple[type, ...]] = {
    "subject": str,
    "status": Status,
    "priority": Priority,
    "category": str,
    "tags": list,
    "team": str,
    "assignee_id": str,
    "handed_off_at": (datetime, type(None)),
    "snoozed_until": (datetime, type(None)),
    "fields": dict,  # custom fields to change, checked against their definitions (fields.field_changes)
    "priority_set_by": str,
    "first_response_at": datetime,  # set by a call an agent took (a reply sets it in the store itself)
}
AGENT_FIELDS = ("name", "role", "active", "password_hash", "language")


class StoreError(Exception):
    """Base of every error a backend raises on purpose."""


class StoreUnavailable(StoreError):
    """The database cannot be reached now; the caller should retry later (HTTP 503)."""


class SchemaMismatch(StoreError):
    """The database was written by a newer Helpline, or a migration is missing."""


class AlreadyExists(StoreError):
    pass


class NotFound(StoreError):
    pass


class Store(ABC):
    """Persistence, one area at a time: `store.tickets.record_inbound(...)`,
    `store.accounts.get_session(...)`. The areas share one connection, open and close
    together and keep one schema version; health is asked of the store itself."""

    url: str
    # Only one hub process serves this store (the embedded SQLite file): what it finds
    # unfinished at start was left by a process that has stopped, not one still working.
    serves_one_process: bool = False
    tickets: Tickets
    contacts: Contacts
    deliveries: Deliveries
    accounts: Accounts
    coordination: Coordination
    inbox: Inbox
    desk: Desk
    records: Records
    timers: Timers
    calls: Calls
    callbacks: Callbacks
    calendars: Calendars
    fields: FieldDefinitions
    audit: Audit
    webhooks: Webhooks
    roster: Roster
    knowledge: Knowledge
    reports: Reports
    quality: Quality
    cluster: Cluster

    @abstractmethod
    async def open(self) -> None:
        """Connect, check the schema version (migrating an older one), create indexes."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Return when the database answers; raise StoreUnavailable otherwise."""

    async def write_failure(self) -> str:
        """Why writes fail now (disk full, read-only, I/O errors), or "" while they work.

        A read-only ping cannot see this; the backends remember how their last writes went.
        """
        return ""


def migrations_to_run(version: int | None, migrations: Mapping[int, T]) -> list[T]:
    """The migrations that bring a database at `version` (None: a new one) to SCHEMA_VERSION,
    in order; SchemaMismatch for a newer database or a missing step."""
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"the database has schema version {version}, newer than this Helpline's {SCHEMA_VERSION}: upgrade Helpline"
        )
    steps = []
    for step in range(version if version is not None else SCHEMA_VERSION, SCHEMA_VERSION):
        if step not in migrations:
            raise SchemaMismatch(f"no migration from schema version {step}")
        steps.append(migrations[step])
    return steps


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown fields and wrong types before a backend writes anything."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        expected = CONVERSATION_FIELDS.get(key)
        if expected is None:
            raise InvalidInput(f"unknown conversation field {key!r}")
        if key == "status":
            clean[key] = _member(key, value, Status)
        elif key == "priority":
            clean[key] = _member(key, value, Priority)
        elif key == "tags":
            if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
                raise InvalidInput("tags must be a list of non-empty strings")
            clean[key] = sorted({t.strip().lower() for t in value})
        elif key == "fields":  # the fields to change: key -> checked value, None removes one
            if not all(isinstance(k, str) and KEY_PATTERN.match(k) and (v is None or v) for k, v in value.items()):
                raise InvalidInput("fields must map field keys to non-empty texts or null")
            if not all(v is None or isinstance(v, str) for v in value.values()):
                raise InvalidInput("fields must map field keys to non-empty texts or null")
            clean[key] = dict(value)
        elif isinstance(value, expected):
            clean[key] = value
        else:
            raise InvalidInput(f"{key} has the wrong type {type(value).__name__}")
    return clean


def _member(key: str, value: Any, enum: type[Status] | type[Priority]) -> Status | Priority:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(f"{key} must be one of {allowed}, not {value!r}") from None


CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def quarantine_error(exc: Exception) -> str:
    """The error kept on a stored delivery that cannot be read: it fails alone, its batch goes on."""
    return f"quarantined: the stored message cannot be read ({exc.__class__.__name__}: {exc})"


def mask_url(url: str) -> str:
    """The URL with any password replaced, safe for logs and error messages."""
    return re.sub(r"(?<=://)([^:/@]+):[^@/]*@", r"\1:***@", url)


def open_store(url: str, *, data_dir: Path, timeout: float = 5.0) -> Store:
    """The backend for `storage.url`: `sqlite://` (file in data_dir), `sqlite:///path`, `mongodb://...`."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from conversation.sqlite import SQLiteStore

        path = url[len("sqlite://") :]
        file = Path(path) if path else data_dir / "helpline.sqlite3"
        return SQLiteStore(file, timeout=timeout)
    if scheme in ("mongodb", "mongodb+srv"):
        from conversation.mongo import MongoStore

        return MongoStore(url, timeout=timeout)
    raise ValueError(f"storage.url: unsupported scheme {scheme!r} (use sqlite:// or mongodb://)")


def record_edit(
    raw: dict[str, Any] | None, old_text: str, *, text: str | None, deleted: bool, at: datetime
) -> dict[str, Any]:
    """The message's raw record with this edit or deletion added (shared by the backends)."""
    record = dict(raw or {})
    if text is not None and text != old_text:
        record["edits"] = [*record.get("edits", []), {"at": at.isoformat(), "previous_text": old_text}]
    if deleted:
        record["deleted_at"] = at.isoformat()
    return record
