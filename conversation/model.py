"""The domain: contacts and their channel identities, conversations (tickets), messages.

Plain dataclasses with no storage concerns; both Store backends map them to rows or
documents. Every time is timezone-aware UTC, truncated to milliseconds because that
is what BSON keeps: a value read back from either backend equals the value written.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision every backend can store."""
    return to_ms(datetime.now(UTC))


def to_ms(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Helpline keeps every time timezone-aware UTC")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_id() -> str:
    """A 24-hex-digit id that sorts by creation time (like an ObjectId, backend-neutral)."""
    return f"{time.time_ns() // 1000:014x}{os.urandom(5).hex()}"


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    CLOSED = "closed"  # final: a new message opens a new ticket


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageKind(StrEnum):
    MESSAGE = "message"
    NOTE = "note"  # private note: never sent to the customer
    EVENT = "event"  # system event in the thread (reopened, merged, assigned, ...)


class AuthorType(StrEnum):
    CONTACT = "contact"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Role(StrEnum):
    """What an account may do; the order of RANKS is what a token may narrow to."""

    ADMIN = "admin"  # every ticket, and the admin pages (agents, teams, tokens)
    SUPERVISOR = "supervisor"  # every ticket of their teams, whatever the team's visibility
    AGENT = "agent"  # the tickets of their teams, as each team's visibility says
    READ_ONLY = "read-only"  # reads what an agent of their teams reads; changes nothing


ROLE_RANKS = (Role.READ_ONLY, Role.AGENT, Role.SUPERVISOR, Role.ADMIN)  # least to most


@dataclass(slots=True)
class Identity:
    """One address of a person on one channel (a Telegram user id, an email address)."""

    channel: str
    address: str
    contact_id: str
    display_name: str = ""
    verified: bool = False
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class Contact:
    """One person, reachable through any number of channel identities."""

    id: str
    name: str = ""
    email: str = ""
    email_verified: bool = False  # a verified identity vouched for `email`; else it is only a claim
    identities: list[Identity] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)
    merged_into: str = ""  # set when this person turned out to be another contact
    language: str = ""  # BCP 47 tag as a channel said it, or detected, or set by an agent ("" unknown)
    tier: str = ""  # the customer's tier on the platform ("vip"); [desk] tier_priorities maps it to a priority


@dataclass(slots=True)
class Conversation:
    """A ticket: one customer problem, whatever channel it continues on."""

    id: str
    number: int
    channel: str
    thread_key: str
    contact_id: str
    subject: str = ""
    status: Status = Status.OPEN
    priority: Priority = Priority.NORMAL
    category: str = ""
    tags: list[str] = field(default_factory=list)
    team: str = ""
    assignee_id: str = ""
    handed_off_at: datetime | None = None  # a bot asked for a human
    created_at: datetime = field(default_factory=utcnow)
    last_message_at: datetime = field(default_factory=utcnow)
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    previous_id: str = ""  # the older ticket this one follows on from
    last_inbound_at: datetime | None = None  # the customer's newest message (unread markers)
    merged_into: str = ""  # set when an agent merged this ticket into another
    participants: list[str] = field(default_factory=list)  # others on the thread, e.g. Cc'd addresses
    customer_address: str = ""  # the identity on `channel` that opened the ticket: replies go there
    snoozed_until: datetime | None = None  # a snoozed ticket opens again at this time (None: until someone writes)
    fields: dict[str, str] = field(default_factory=dict)  # custom field values, canonical text (conversation/fields.py)
    priority_set_by: str = ""  # who set the priority: "agent:<id>", "rule:<name>", "plugin:<name>" (priority_rules)

    @property
    def human_owned(self) -> bool:
        """Bots stay quiet once a person owns the conversation or one was asked for."""
        return bool(self.assignee_id) or self.handed_off_at is not None


@dataclass(slots=True, frozen=True)
class Attachment:
    name: str
    content_type: str
    size: int
    blob_ref: str  # where the bytes are stored; opaque to the domain


@dataclass(slots=True, frozen=True)
class Choice:
    """An answer button offered with a question; `id` comes back when chosen."""

    id: str
    label: str


@dataclass(slots=True)
class Delivery:
    """Where an outbound message stands on its way to the channel."""

    status: DeliveryStatus = DeliveryStatus.QUEUED
    attempts: int = 0
    error: str = ""
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    lease_owner: str = ""
    lease_until: datetime | None = None
    parts_sent: int = 0  # pieces of a split message already delivered: a retry sends only the rest


@dataclass(slots=True)
class Message:
    id: str
    conversation_id: str
    channel: str
    direction: Direction
    kind: MessageKind
    author_type: AuthorType
    author_id: str = ""
    text: str = ""
    html: str = ""  # sanitised before it is stored
    attachments: list[Attachment] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)  # offered (outbound)
    choice_id: str = ""  # chosen (inbound)
    external_id: str = ""  # the channel's own id of this message
    created_at: datetime = field(default_factory=utcnow)
    delivery: Delivery | None = None  # outbound customer-visible messages only
    plugins_done: bool = True  # inbound messages start False until plugins ran
    raw: dict[str, Any] | None = None  # the channel payload, kept for audits
    automatic: bool = False  # sent by a machine (auto-reply, bounce): bots never answer it
    customer_address: str = ""  # the customer identity that wrote it (inbound) or it is for (outbound)


@dataclass(slots=True)
class Agent:
    id: str
    email: str
    role: Role
    password_hash: str
    name: str = ""
    active: bool = True
    created_at: datetime = field(default_factory=utcnow)
    language: str = ""  # the inbox's language for this agent (BCP 47, e.g. "zh-CN"); "" = the browser's


@dataclass(slots=True)
class Session:
    """A signed-in agent's browser session; only a hash of its token is stored."""

    token_hash: str
    agent_id: str
    csrf_token: str
    expires_at: datetime
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ApiToken:
    """A personal API token for scripts; only a hash is stored, the token is shown once."""

    id: str
    agent_id: str
    name: str
    token_hash: str
    created_at: datetime = field(default_factory=utcnow)
    revoked_at: datetime | None = None
    role: Role | None = None  # narrows the agent's role (None: the agent's own)
    teams: list[str] | None = None  # narrows the tickets to these teams' (None: the agent's teams)
    expires_at: datetime | None = None  # refused from then on (None: until revoked)

    def refusal(self, now: datetime) -> str:
        """Why the token lets nobody in at `now` ("revoked", "expired"), or "" when it does."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return ""


@dataclass(slots=True)
class CannedResponse:
    id: str
    shortcut: str  # typed as /shortcut in the reply box
    title: str
    text: str
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True, frozen=True)
class Reach:
    """The tickets an agent may see, as one rule the access policy asks and both stores turn
    into a filter (hub/access.py builds it; a query without one sees every ticket)."""

    agent_id: str  # the tickets assigned to this agent, whatever their team (but see assigned_teams)
    teams: frozenset[str] = frozenset()  # every ticket of these teams
    own_teams: frozenset[str] = frozenset()  # of these teams, the unassigned tickets (and the agent's own)
    no_team: bool = True  # tickets without a team (the queue nobody triaged yet)
    every_team: bool = False  # every ticket but those of `hidden_teams` (an agent of an "all" team reading)
    # Never these teams' tickets, whoever they are assigned to: teams whose visibility is
    # "supervisors" (complaints about agents) for anyone who is not one of their supervisors.
    hidden_teams: frozenset[str] = frozenset()
    # Of the agent's assigned tickets, only those of these teams (None: of any team, or none):
    # an API token kept to some teams acts only for them, also on what is assigned to its agent.
    assigned_teams: frozenset[str] | None = None

    @property
    def assigned(self) -> bool:
        """Whether the agent's assigned tickets count at all."""
        return bool(self.agent_id) and (self.assigned_teams is None or bool(self.assigned_teams))

    @property
    def covers_none(self) -> bool:
        return not (self.assigned or self.teams or self.own_teams or self.no_team or self.every_team)

    def covers(self, conversation: Conversation) -> bool:
        if conversation.team and conversation.team in self.hidden_teams:
            return False
        if self.every_team:
            return True
        mine = self.assigned and conversation.assignee_id == self.agent_id
        if mine and (self.assigned_teams is None or conversation.team in self.assigned_teams):
            return True  # whoever assigned it to them meant them to work it
        if not conversation.team:
            return self.no_team
        if conversation.team in self.teams:
            return True
        return conversation.team in self.own_teams and not conversation.assignee_id


@dataclass(slots=True, frozen=True)
class ConversationQuery:
    """A filtered page of the inbox, newest activity first. None means any."""

    status: Status | None = None
    channel: str | None = None
    assignee_id: str | None = None  # "" for unassigned
    team: str | None = None
    priority: Priority | None = None
    category: str | None = None
    tag: str | None = None
    contact_id: str | None = None
    fields: tuple[tuple[str, str], ...] = ()  # (key, value folded by fields.index_value): every one must match
    search: str = ""  # words in a message, or a custom field's whole value (an order number)
    include_merged: bool = False
    # Leave out the tickets that only keep a status question (conversation.progress.only_a_question):
    # the agents' lists and the contact card, not the customer's own history.
    hide_questions: bool = False
    reach: Reach | None = None  # only the tickets an agent may see; None: all
    limit: int = 50
    offset: int = 0
