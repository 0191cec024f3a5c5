"""The Store contract: one async interface, two backends (embedded SQLite, MongoDB).

Every operation that must be atomic for correctness is one method here, so each backend
can make it atomic its own way (a SQLite transaction; unique indexes and
find-and-modify in MongoDB). Both backends pass the same contract tests
(tests/test_store_contract.py).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conversation.errors import InvalidInput
from conversation.inbound import Inbound
from conversation.model import (
    Agent,
    ApiToken,
    CannedResponse,
    Contact,
    Conversation,
    ConversationQuery,
    Message,
    Priority,
    Session,
    Status,
)
from conversation.routing import Route
from conversation.search_text import filters as search_filters  # noqa: F401  (re-exported: the rules both backends apply)
from conversation.search_text import search_terms as search_terms

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


@dataclass(slots=True)
class InboundRecord:
    """What storing one inbound message did."""

    message: Message
    conversation: Conversation
    contact: Contact
    duplicate: bool  # this (channel, external id) was stored before: nothing was written
    route: Route | None  # None for a duplicate


@dataclass(slots=True, frozen=True)
class Ticketing:
    """The ingest policy a backend needs to route a message."""

    reopen_window: timedelta = timedelta(days=7)
    first_number: int = 1000
    plugins_enabled: bool = True  # False: messages are stored as already processed


class Store(ABC):
    """Persistence of contacts, conversations, messages, the outbox, leases and agents."""

    url: str

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

    # -- ingest -------------------------------------------------------------------
    @abstractmethod
    async def record_inbound(self, inbound: Inbound, *, now: datetime, policy: Ticketing) -> InboundRecord:
        """Store one customer message: identity -> contact -> conversation -> message.

        Idempotent on (channel, external id), also when two copies race.
        """

    # -- reading ------------------------------------------------------------------
    @abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    @abstractmethod
    async def get_conversation_by_number(self, number: int) -> Conversation | None: ...

    @abstractmethod
    async def list_messages(self, conversation_id: str, *, after: str = "") -> list[Message]:
        """The thread, oldest first; with `after`, only messages newer than that message id."""

    @abstractmethod
    async def get_message(self, message_id: str) -> Message | None: ...

    @abstractmethod
    async def search_messages(self, query: str, *, limit: int = 50) -> list[Message]:
        """Messages whose text contains the words of `query` (any script), newest first.
        SearchRejected when the query is over search_text's limits or runs too long."""

    @abstractmethod
    async def get_contact(self, contact_id: str) -> Contact | None:
        """The contact with all of their identities."""

    @abstractmethod
    async def find_identity_contact(self, channel: str, address: str) -> Contact | None: ...

    # -- writing ------------------------------------------------------------------
    @abstractmethod
    async def update_conversation(
        self, conversation_id: str, changes: dict[str, Any], *, now: datetime
    ) -> Conversation:
        """Apply changes (keys from CONVERSATION_FIELDS); raise NotFound or ValueError."""

    @abstractmethod
    async def add_message(self, message: Message) -> Message:
        """Store an outbound message, a private note or a system event.

        An outbound message with a queued delivery is in the outbox from this moment.
        """

    # -- outbox -------------------------------------------------------------------
    @abstractmethod
    async def claim_deliveries(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Message]:
        """Lease up to `limit` due deliveries to `owner`; each is claimed by one owner only."""

    @abstractmethod
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
        """Record the attempt's end: sent (sent_at), retry later (retry_at) or failed (neither).

        Returns False when `owner` no longer holds the lease (nothing is changed).
        """

    @abstractmethod
    async def record_delivery_parts(self, message_id: str, owner: str, parts: int) -> bool:
        """The first `parts` pieces of a split message are delivered (kept across retries).

        Returns False when `owner` no longer holds the lease (nothing is changed)."""

    @abstractmethod
    async def release_deliveries(self, owner: str) -> int:
        """Give back every lease `owner` holds without counting an attempt (shutdown)."""

    @abstractmethod
    async def requeue_delivery(self, message_id: str, *, now: datetime) -> Message:
        """Send a failed message again (an agent's retry); raise NotFound or ValueError."""

    @abstractmethod
    async def count_queued(self) -> int: ...

    # -- plugins ------------------------------------------------------------------
    async def get_plugin_state(self, conversation_id: str, plugin: str) -> dict[str, Any]:
        return (await self.load_plugin_state(conversation_id, plugin))[0]

    @abstractmethod
    async def load_plugin_state(self, conversation_id: str, plugin: str) -> tuple[dict[str, Any], int]:
        """The state and its version: 0 when none is stored yet; each write adds one."""

    @abstractmethod
    async def set_plugin_state(
        self, conversation_id: str, plugin: str, state: dict[str, Any], *, version: int | None = None
    ) -> bool:
        """Store the state; with `version`, only if the stored version is still that one (compare-and-set).

        False when another writer got there first: the caller's state is stale and is not written.
        """

    @abstractmethod
    async def mark_plugins_done(self, message_id: str) -> None: ...

    @abstractmethod
    async def messages_awaiting_plugins(
        self, *, before: datetime, limit: int, max_attempts: int | None = None
    ) -> list[Message]:
        """Inbound messages stored before `before` whose plugins never finished (a crash), the
        least-tried first; those already tried `max_attempts` times are parked (left out)."""

    @abstractmethod
    async def count_plugin_attempt(self, message_id: str) -> int:
        """Count one recovery run on a message; returns how many there have been."""

    # -- leases (work that one hub process of many must do) ----------------------
    @abstractmethod
    async def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the named lease; False while another owner holds it unexpired."""

    @abstractmethod
    async def release_lease(self, name: str, owner: str) -> None: ...

    # -- the inbox ----------------------------------------------------------------
    @abstractmethod
    async def list_conversations(self, query: ConversationQuery) -> tuple[list[Conversation], int]:
        """One page matching the query, newest activity first, and how many match (counted up
        to 1,000; a search looks at the newest 1,000 matching messages)."""

    @abstractmethod
    async def contact_labels(self, contact_ids: list[str]) -> dict[str, str]:
        """A display label per contact: name, else email, else an identity's name or address."""

    @abstractmethod
    async def latest_messages(self, conversation_ids: list[str]) -> dict[str, Message]:
        """Each ticket's newest message or note (system events left out): the inbox's preview."""

    @abstractmethod
    async def count_views(self, agent_id: str) -> dict[str, int]:
        """Tickets per status, plus open "mine" and "unassigned", and "all" (merged ones left out)."""

    @abstractmethod
    async def mark_read(self, agent_id: str, conversation_id: str, at: datetime) -> None: ...

    @abstractmethod
    async def read_markers(self, agent_id: str, conversation_ids: list[str]) -> dict[str, datetime]: ...

    @abstractmethod
    async def find_inbound(self, channel: str, external_id: str) -> Message | None:
        """The customer message a channel knows by its own id (an email's Message-ID)."""

    @abstractmethod
    async def edit_inbound(
        self, channel: str, external_id: str, *, text: str | None, deleted: bool, at: datetime
    ) -> Message | None:
        """The customer edited (new `text`) or deleted a message: change it, keeping what it
        said before in `raw["edits"]` (and `raw["deleted_at"]`). None if it was never stored."""

    @abstractmethod
    async def mark_undelivered(self, message_id: str, error: str) -> Message | None:
        """A channel reported later that a sent message never arrived (a bounce)."""

    @abstractmethod
    async def get_value(self, key: str) -> Any:
        """A channel's own small state (an IMAP mailbox's UIDVALIDITY and last UID); None if unset."""

    @abstractmethod
    async def set_value(self, key: str, value: Any) -> None: ...

    @abstractmethod
    async def update_contact(
        self, contact_id: str, *, name: str | None = None, email: str | None = None, language: str | None = None
    ) -> Contact:
        """Raise NotFound for an unknown contact. `language` is an agent's correction: it stays."""

    @abstractmethod
    async def merge_conversations(self, source_id: str, target_id: str, *, now: datetime) -> Conversation:
        """Move every message of source into target; source is closed and points at target."""

    @abstractmethod
    async def move_message(self, message_id: str, target_id: str) -> Message:
        """Put one message in another conversation (a customer wrote in the wrong thread)."""

    @abstractmethod
    async def merge_contacts(self, source_id: str, target_id: str) -> Contact:
        """Give target every identity and conversation of source; source points at target."""

    # -- agents -------------------------------------------------------------------
    @abstractmethod
    async def get_agent(self, agent_id: str) -> Agent | None: ...

    @abstractmethod
    async def list_agents(self) -> list[Agent]: ...

    @abstractmethod
    async def update_agent(self, agent_id: str, changes: dict[str, Any]) -> Agent:
        """Change name, role, active or password_hash; raise NotFound."""

    @abstractmethod
    async def add_session(self, session: Session) -> None: ...

    @abstractmethod
    async def get_session(self, token_hash: str) -> Session | None: ...

    @abstractmethod
    async def delete_session(self, token_hash: str) -> None: ...

    @abstractmethod
    async def delete_agent_sessions(self, agent_id: str) -> int:
        """Sign the agent out everywhere (deactivation); returns how many sessions ended."""

    @abstractmethod
    async def add_api_token(self, token: ApiToken) -> ApiToken: ...

    @abstractmethod
    async def get_api_token(self, token_hash: str) -> ApiToken | None: ...

    @abstractmethod
    async def list_api_tokens(self) -> list[ApiToken]: ...

    @abstractmethod
    async def revoke_api_token(self, token_id: str, *, now: datetime) -> ApiToken:
        """Raise NotFound for an unknown token."""

    @abstractmethod
    async def list_canned(self) -> list[CannedResponse]: ...

    @abstractmethod
    async def add_canned(self, canned: CannedResponse) -> CannedResponse:
        """Raise AlreadyExists when the shortcut is taken."""

    @abstractmethod
    async def delete_canned(self, canned_id: str) -> None:
        """Raise NotFound for an unknown canned response."""

    @abstractmethod
    async def add_agent(self, agent: Agent) -> Agent:
        """Raise AlreadyExists when the email (case-insensitive) is taken."""

    @abstractmethod
    async def get_agent_by_email(self, email: str) -> Agent | None: ...

    @abstractmethod
    async def count_agents(self) -> int: ...


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
        from conversation.sqlite_store import SQLiteStore

        path = url[len("sqlite://") :]
        file = Path(path) if path else data_dir / "helpline.sqlite3"
        return SQLiteStore(file, timeout=timeout)
    if scheme in ("mongodb", "mongodb+srv"):
        from conversation.mongo_store import MongoStore

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
