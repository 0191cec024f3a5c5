"""Tickets and their messages: ingest (record_inbound), the thread, search, edits, merges, plugin runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from conversation.inbound import Inbound
from conversation.model import (
    Contact,
    Conversation,
    Message,
)
from conversation.priority_rules import KeywordRules
from conversation.routing import Route


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
    # Words that raise a new ticket's priority; applied as the ticket is opened, in the same
    # transaction as its first message, so no ticket is ever seen at the lower priority.
    keywords: KeywordRules = KeywordRules()
    status_questions: bool = False  # a plugin answers "where is my ticket?" (routing.Route.QUESTION)
    # This one message answers a bot's question on the thread (a CSAT rating or its comment,
    # plugins/csat.py): set per message by the pipeline, routed like a status question.
    answers_bot: bool = False
    # This one message may be a complaint about an agent (Plugin.hold_team, set per message by
    # the pipeline): its ticket is stored in this team (visibility "supervisors") in the same
    # step as the message, so no agent reads it before the plugins filed it; a ticket already
    # in one of `held_teams` (teams kept to supervisors) stays where it is.
    hold_team: str = ""
    held_teams: frozenset[str] = frozenset()


class Tickets(ABC):
    """Tickets and their messages: ingest (record_inbound), the thread, search, edits, merges, plugin runs."""

    @abstractmethod
    async def record_inbound(self, inbound: Inbound, *, now: datetime, policy: Ticketing) -> InboundRecord:
        """Store one customer message: identity -> contact -> conversation -> message.

        Idempotent on (channel, external id), also when two copies race.
        """

    @abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    @abstractmethod
    async def get_conversation_by_number(self, number: int) -> Conversation | None: ...

    @abstractmethod
    async def latest_on_thread(self, channel: str, thread_key: str) -> Conversation | None:
        """The newest ticket on a channel's thread, which a message there is routed by; None
        when the thread has none yet."""

    @abstractmethod
    async def list_messages(self, conversation_id: str, *, after: str = "", limit: int = 0) -> list[Message]:
        """The thread, oldest first; with `after`, only messages newer than that message id;
        with `limit`, at most that many (0: all)."""

    @abstractmethod
    async def get_message(self, message_id: str) -> Message | None: ...

    @abstractmethod
    async def search_messages(self, query: str, *, limit: int = 50) -> list[Message]:
        """Messages whose text contains the words of `query` (any script), newest first.
        SearchRejected when the query is over search_text's limits or runs too long."""

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

    @abstractmethod
    async def add_message_once(self, message: Message, key: str) -> tuple[Message, bool]:
        """`add_message` for an effect a retry may repeat: the message is stored under `key`
        (kept as `raw["once"]`, unique like an inbound message's idempotency key) unless one
        was already; (the stored message, whether this call stored it). Two racing calls
        store one message."""

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
    async def merge_conversations(self, source_id: str, target_id: str, *, now: datetime) -> Conversation:
        """Move every message of source into target; source is closed and points at target."""

    @abstractmethod
    async def move_message(self, message_id: str, target_id: str) -> Message:
        """Put one message in another conversation (a customer wrote in the wrong thread)."""
