"""The public SDK for channel adapters and plugins: the only part of `hub` they import.

An adapter turns a channel's traffic into `Inbound` values for `HubPort.ingest`, and
delivers `Outbound` messages in `send`. A plugin reacts to each stored customer
message through a `PluginContext`, to its durable timers (`TimerContext`) and to ticket
changes (`EventContext`); every context keeps the plugin's records, schedules timers and
picks texts in the customer's language (`PluginTools`). See README.md, "Writing an
adapter" and "Writing a plugin".
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import string
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from html import escape
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from aiohttp import web

from conversation.business_time import Calendar
from conversation.calendars import Opening, opening_of
from conversation.desk import Category, Team
from conversation.errors import InvalidInput
from conversation.inbound import Inbound, InboundLimits, InvalidInbound, Sender, answer_words
from conversation.knowledge import Article
from conversation.model import (
    Agent,
    Attachment,
    Choice,
    Contact,
    Conversation,
    Message,
    Priority,
    Status,
    new_id,
    utcnow,
)
from conversation.priority_rules import PrioritySource
from conversation.progress import only_a_question
from conversation.quality import Survey
from conversation.records import Record, RecordChanged, RecordKind
from conversation.store import InboundRecord, StoreUnavailable
from conversation.ticket_changes import EVENT_KINDS, TicketChange
from conversation.timers import Timer, timer_key
from hub.backoff import backoff
from hub.blobs import PendingUploads, StoredBlob, download_headers, name_for_type, stream_blob
from hub.clientaddr import client_address
from hub.events import Event, Subscription
from hub.failures import logged_failure
from hub.filetypes import BINARY, checked_type, detect_type, file_name
from hub.i18n import (
    SOURCE_LOCALE,
    Texts,
    accept_language,
    available_locales,
    best_locale,
    canonical_tag,
    error_message,
    hub_texts,
    known_language,
    match_locale,
    plugin_name,
    texts,
)
from hub.i18n_web import LANG_PARAM, request_locale
from hub.jsonbody import InvalidJson, InvalidText, parse_json, read_json
from hub.log_limit import LogLimit
from hub.platform import (
    DecisionNotice,
    Done,
    NotVerified,
    Order,
    PlatformClient,
    PlatformError,
    PlatformNotConfigured,
    PlatformRefused,
    PlatformTools,
    PlatformUnavailable,
    PlatformUser,
)
from hub.ratelimit import LocalLimit, RateLimit, SlidingWindow
from hub.relay import SOCKET_RENEW_SECONDS
from hub.settings import MIN_GENERATED_SECRET, REQUIRED, ConfigError, Field, fields_of, setting, setting_value
from hub.signing import (
    SIGNATURE,
    TIMESTAMP,
    BadSignature,
    MalformedTimestamp,
    check_signature,
    sign,
    signed_headers,
)
from hub.supervise import Supervisor
from hub.text import split_text

if TYPE_CHECKING:  # conversation.faq loads scikit-learn: only the matcher's thread imports it
    from conversation.faq import Prediction

__all__ = [
    "InvalidInput",  # what hand_off, set_team and records raise for what they refuse
    "DecisionNotice",
    "Done",
    "NotVerified",
    "Order",
    "PlatformError",
    "PlatformNotConfigured",
    "PlatformRefused",
    "PlatformTools",
    "PlatformUnavailable",
    "PlatformUser",
    "SIGNATURE",
    "TIMESTAMP",
    "BadSignature",
    "MalformedTimestamp",
    "check_signature",
    "sign",
    "signed_headers",
    "BINARY",
    "checked_type",
    "ticket_zone",
    "detect_type",
    "file_name",
    "LANG_PARAM",
    "Adapter",
    "Article",
    "ChannelReads",
    "KnowledgeReads",
    "Event",
    "InvalidJson",
    "InvalidText",
    "PendingUploads",
    "SlidingWindow",
    "StoredBlob",
    "stream_blob",
    "LocalLimit",
    "RateLimit",
    "SOCKET_RENEW_SECONDS",
    "StoreUnavailable",
    "Subscription",
    "accept_language",
    "download_headers",
    "error_message",
    "logged_failure",
    "LogLimit",
    "name_for_type",
    "parse_json",
    "read_json",
    "request_locale",
    "Attachment",
    "Choice",
    "ASK_STATE_KEY",
    "typed_choice",
    "MissingText",
    "Contact",
    "Conversation",
    "Message",
    "Priority",
    "Status",
    "ConfigError",
    "Field",
    "setting",
    "HubPort",
    "Inbound",
    "IngestUnavailable",
    "InvalidInbound",
    "MIN_GENERATED_SECRET",
    "Outbound",
    "Outcome",
    "PermanentDeliveryError",
    "Plugin",
    "PluginContext",
    "PluginRecords",
    "PluginRuntime",
    "EventContext",
    "ServiceContext",
    "EVENT_KINDS",
    "Record",
    "RecordKind",
    "TicketChange",
    "Timer",
    "TimerContext",
    "pick_template",
    "check_texts",
    "shipped_default",
    "setting_value",
    "RetryableDeliveryError",
    "Sender",
    "Sent",
    "backoff",
    "Texts",
    "best_locale",
    "canonical_tag",
    "client_address",
    "hub_texts",
    "ingest_response",
    "match_locale",
    "refused_response",
    "split_text",
    "texts",
    "plugin_name",
    "in_every_language",
    "said_in_every_language",
    "Survey",
    "SurveyActions",
    "RecordChanged",
]


class RetryableDeliveryError(Exception):
    """The channel may take the message later (429, 5xx, a timeout, a dropped connection)."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentDeliveryError(Exception):
    """The channel will never take this message (blocked bot, unknown chat, 4xx).

    `code` (optional, e.g. "no_callback_url"): a stable name of the cause, which the inbox
    says in the agent's language (`delivery.error.<code>`); the English reason stays in the
    log and beside it for admins."""

    def __init__(self, reason: str = "", code: str = "") -> None:
        super().__init__(reason)
        self.code = code


class IngestUnavailable(Exception):
    """The hub cannot store messages right now; the channel should retry (HTTP 503)."""


# In a message's `raw`: the channel adds no link to the ticket's status page (the web chat's
# confirmation code goes to an address the visitor typed, maybe someone else's: a trial opened
# the ticket, its chat and its reply box from that mail without ever confirming).
NO_STATUS_LINK = "no_status_link"


@dataclass(frozen=True, slots=True)
class Outbound:
    """One stored message to deliver to a customer through an adapter."""

    message: Message
    conversation: Conversation
    contact: Contact
    address: str  # the recipient's identity on this channel (chat id, email address)
    parts_sent: int = 0  # pieces of a split message an earlier attempt delivered: send only the rest
    on_part: Callable[[int], Awaitable[None]] | None = None

    async def part_delivered(self, parts: int) -> None:
        """The first `parts` pieces are with the channel: a retry resumes after them, never resends."""
        if self.on_part is not None:
            await self.on_part(parts)


@dataclass(frozen=True, slots=True)
class Sent:
    external_id: str = ""  # the channel's id for the delivered message, if it gives one


class ChannelReads(Protocol):
    """What a channel may read of the conversations (the hub's typed, read-only view)."""

    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    async def get_conversation_by_number(self, number: int) -> Conversation | None: ...

    async def conversations_of(self, contact_id: str, *, channel: str = "", limit: int = 20) -> list[Conversation]:
        """The contact's tickets, newest first, merged ones included."""
        ...

    async def get_message(self, message_id: str) -> Message | None: ...

    async def find_inbound(self, channel: str, external_id: str) -> Message | None: ...

    async def list_messages(self, conversation_id: str, *, after: str = "") -> list[Message]: ...

    async def get_contact(self, contact_id: str) -> Contact | None: ...

    async def find_identity_contact(self, channel: str, address: str) -> Contact | None: ...

    async def get_agent(self, agent_id: str) -> Agent | None: ...

    async def get_category(self, category_id: str) -> Category | None:
        """A ticket category (its names, default team and priority); None if unknown."""
        ...


class KnowledgeReads(Protocol):
    """The knowledge base as the hub's matcher knows it (hub.knowledge_model.KnowledgeModel),
    kept in step with every change without a restart."""

    articles: dict[str, Article]  # the published articles, by id

    async def match(self, text: str, k: int = 3) -> list[tuple[Article, Prediction]]:
        """The k best published articles for a question, best first, with their confidence,
        computed off the event loop (the e5 model takes milliseconds a question): what a
        handler calls."""
        ...

    def predict(self, text: str, k: int = 3) -> list[tuple[Article, Prediction]]:
        """The same, computed in the calling thread (for code already off the loop)."""
        ...


class HubPort(Protocol):
    """What a running adapter may ask of the hub: reads through `reads`, and a few narrow
    changes, each of which stores, tells the live inboxes and wakes the outbox as needed.
    An adapter never holds the store, the event bus or the blob store itself."""

    instance_id: str
    language: str  # hub.language: what system texts agents read in a thread are written in
    timezone: str  # [reports] timezone: the desk's own zone, for times told where no team calendar names one
    supervisor: Supervisor  # runs a background loop step by step: errors are logged, backed off, shown in /healthz
    inbound_limits: InboundLimits  # what ingest accepts: a channel fits long content to it instead of losing it

    @property
    def reads(self) -> ChannelReads:
        """The conversation history a channel shows its customer (read-only)."""
        ...

    @property
    def knowledge(self) -> KnowledgeReads:
        """Published articles and the FAQ matcher (the `faq` plugin answers with them)."""
        ...

    def agents_online(self) -> int:
        """How many agents have the inbox open now (in this hub process)."""
        ...

    async def record_edit(self, channel: str, external_id: str, *, text: str | None, deleted: bool = False) -> bool:
        """A customer edited or deleted a message the channel delivered earlier; False if unknown."""
        ...

    async def ingest(self, inbound: Inbound) -> InboundRecord:
        """Store a customer message. Raises InvalidInbound (answer 400) or IngestUnavailable (503)."""
        ...

    async def post_event(
        self,
        conversation_id: str,
        key: str,
        params: dict[str, str],
        *,
        raw: dict[str, Any] | None = None,
        once: str = "",
    ) -> Message:
        """A system event in the ticket's thread, kept by catalog key (each agent reads it in their
        language); `raw` keeps the channel's own bookkeeping beside it; `once`: a key the event
        is stored under once, whichever hub process posts it (a report a server sends twice)."""
        ...

    async def page_reply(self, page_message_id: str, *, sender: str, text: str, external_id: str) -> bool:
        """An answer to a page (a note the hub sent to an agent's own address): kept as an
        internal note on the ticket from that agent when `sender` is the paged agent's page
        address (once per `external_id`); False (nothing kept) from anyone else. Never a
        customer message."""
        ...

    async def queue_copy(self, message: Message, *, copy_id: str, channel: str, to: str = "") -> bool:
        """Queue a copy of a reply for delivery on another channel (web chat's reply by email),
        to `to` on that channel (else the reply's own recipient); `copy_id` makes it
        idempotent: False when that copy exists already."""
        ...

    async def mark_undelivered(self, message_id: str, reason: str) -> Message | None:
        """A reply the provider reported undeliverable later (a bounce); None if unknown."""
        ...

    def message_changed(self, conversation_id: str, message_id: str, **details: Any) -> None:
        """Tell the open inboxes a message changed in a way the channel saw (read by its recipient)."""
        ...

    def publish_typing(self, conversation_id: str, *, who: str = "customer") -> None: ...

    def subscribe(self, maxsize: int = 1000, *, remote: bool = False) -> Subscription:
        """Live events (new messages, changes, typing) for a channel that shows them to customers;
        `remote`: also those other hub processes on the same store published (for sockets only:
        work an event starts is done by the process that published it)."""
        ...

    async def set_contact_email(self, contact_id: str, email: str) -> None:
        """The customer proved they own this address (a confirmed code)."""
        ...

    async def get_state(self, key: str) -> Any:
        """The channel's own small state (a poll offset, a confirmed address); None if unset."""
        ...

    async def set_state(self, key: str, value: Any) -> None: ...

    async def acquire_lease(self, name: str, ttl: timedelta) -> bool:
        """Hold a named lease so only one hub process polls a mailbox or a bot."""
        ...

    async def release_lease(self, name: str) -> None:
        """Give the lease up at once (on stop), so another hub process may take over."""
        ...

    async def put_blob(self, data: bytes) -> str:
        """Keep an attachment's bytes; its ref."""
        ...

    async def open_blob(self, ref: str) -> StoredBlob | None:
        """A kept attachment, to stream (`stream_blob`) or read whole; None if gone.
        Wherever the store keeps it (files, or GridFS shared by every hub process)."""
        ...

    def pending_uploads(self, channel: str, ttl: float) -> PendingUploads:
        """The channel's uploads not yet sent in a message (see hub.blobs.PendingUploads)."""
        ...

    # -- several hub processes on one store ------------------------------------------------
    async def hold_socket(self, key: str) -> None:
        """Record that this process holds a connection for `key` (renew it every
        SOCKET_RENEW_SECONDS; it lapses when the process stops renewing)."""
        ...

    async def release_socket(self, key: str) -> None: ...

    async def sockets_elsewhere(self, key: str) -> list[str]:
        """The other hub processes holding a connection for `key` ([] with one process)."""
        ...

    async def hand_over(self, to: list[str], kind: str, body: dict[str, Any], *, timeout: float) -> bool:
        """Ask those processes to deliver `body` (their `take_handovers` taker of `kind`); True
        once one confirms, False if none does in time."""
        ...

    def take_handovers(self, kind: str, taker: Callable[[dict[str, Any]], Awaitable[bool]]) -> None:
        """What delivers another process's hand-overs of `kind` here (True: delivered)."""
        ...

    def on_hold_lapse(self, catch_up: Callable[[], Awaitable[None]]) -> None:
        """What to do when this process's holds lapsed for a while (it could not reach the
        store): other processes counted its windows as closed and kept their replies."""
        ...

    def rate_limit(self, name: str, limit: int, window: float) -> RateLimit:
        """`limit` events per key in `window` seconds, counted for every hub process on the store."""
        ...

    def channel_adapter(self, name: str) -> Adapter | None:
        """Another channel's adapter in this process (web chat sends a confirmation by email)."""
        ...

    def channel_type(self, name: str) -> str:
        """The adapter a channel runs (webchat, email, webhook...): what its identities prove."""
        ...

    def report_channel(self, channel: str, *, up: bool, reason: str = "") -> None:
        """The channel's provider answers again (up) or not (a clear reason): /healthz, metrics, admin page."""
        ...

    def note_ignored(self, channel: str, kind: str) -> None:
        """An update was acknowledged without storing a message (a service message, a broken update)."""
        ...

    def note_refused(self, channel: str, reason: str) -> None:
        """A request was refused before a message could be read from it ("bad_signature", "malformed"...)."""
        ...

    def note_rejected(self, channel: str) -> None:
        """A genuine request carried a message the channel could not accept (answered 400)."""
        ...

    def status_link(self, conversation: Conversation, language: str = "") -> str:
        """A signed, expiring link to the ticket's status page for its customer ("" when the
        status page is off, or the ticket's thread is read by others: Adapter.shared_thread).
        Only ever give it to the ticket's own customer."""
        ...

    def rating_links(self, conversation: Conversation, language: str = "") -> dict[int, str]:
        """One-click links (score -> URL) that rate the ticket on its status page, signed like
        `status_link`; empty when the status page is off or the thread is shared. Only for the
        ticket's own customer."""
        ...

    async def team_name(self, team: str, language: str) -> str:
        """A team's name in that language (its id when the team is unknown)."""
        ...

    async def team(self, team_id: str) -> Team | None:
        """A team (its members and visibility); None when there is no such team."""
        ...


class Adapter:
    """Base of every channel adapter. Subclasses declare a `Settings` section (a frozen
    dataclass of `setting(...)` fields, read as `self.settings.name`) and implement `send`.
    A `config_fields` table (read as a dict) still works for adapters written before."""

    Settings: ClassVar[type | None] = None
    config_fields: ClassVar[dict[str, Field]] = {}
    sends_attachments: ClassVar[bool] = False  # True: `send` delivers message.attachments
    receives_files: ClassVar[bool] = True  # False: customers cannot send files here (bots do not ask for photos)
    # True: `send` shows message.choices as buttons the customer taps (a class default; a channel
    # whose app decides, as the webhook channel's `buttons`, sets it on the instance)
    shows_choices: bool = False
    shows_html: ClassVar[bool] = False  # True: `send` shows message.html (sanitised) when a message has it
    # False: this channel only receives (an email channel with no relay): replies on its tickets
    # are refused at once and bots' messages there become notes (a property where settings decide).
    sends_replies: bool = True

    @classmethod
    def check_settings(cls, prefix: str, settings: Any) -> None:
        """Reject settings that have the right types but cannot work; raise ConfigError naming the key."""

    def __init__(self, name: str, settings: Any) -> None:
        self.name = name  # the channel id: the [channels.NAME] table this came from
        self.settings = settings
        self.log = logging.getLogger(f"helpline.channel.{name}")

    def web_app(self) -> web.Application | None:
        """Routes to mount at /channels/<name>/ (webhooks), or None."""
        return None

    async def start(self, hub: HubPort) -> None:
        """Begin receiving (pollers, sockets). Called once the store is open."""

    async def stop(self) -> None:
        """Stop receiving; called before the store closes."""

    async def send(self, out: Outbound) -> Sent:
        """Deliver one message or raise RetryableDeliveryError / PermanentDeliveryError."""
        raise NotImplementedError

    def shared_thread(self, thread_key: str) -> bool:
        """True when people other than the ticket's customer read what is sent on this thread
        (a group chat, a channel's thread): the hub then sends no status or rating link there,
        since whoever holds one reads the ticket and writes as its customer."""
        return False


# Begins the key of a message whose id another sender used first (ingest_response's
# `ids_per_sender`): no id a webhook's sender writes can begin so (identifiers refuse control
# characters).
ID_SEAL = "\x1f"


def sender_scoped_id(inbound: Inbound) -> str:
    """The key a message is kept under when another sender used its id first."""
    digest = hashlib.sha256(f"{inbound.sender.address}{ID_SEAL}{inbound.external_id}".encode()).hexdigest()
    return f"{ID_SEAL}{digest}"


async def ticket_zone(actions: ConversationActions, team: str, desk_zone: str) -> str:
    """The time zone a customer is told a ticket's times in: its team calendar's, else the
    desk's own (`HubPort.timezone`); shared by status answers and the status page."""
    calendar = await actions.team_calendar(team) if team else None
    return calendar.timezone if calendar is not None else desk_zone


async def ingest_response(hub: HubPort, inbound: Inbound, *, ids_per_sender: bool = False) -> web.Response:
    """Ingest and answer a webhook: 200 stored (or a retry of a stored one), 400, 503.
    `ids_per_sender`: the senders choose the ids (a platform's users' apps), so an id is used
    once by its sender: another sender's message with it is kept as its own, under
    `sender_scoped_id`, not answered as the first sender's retry with their ticket's number."""
    try:
        if ids_per_sender:
            # Looked up first, so that the other sender's copy is not counted as a duplicate;
            # checked again after, for two senders posting one id at the same moment.
            earlier = await hub.reads.find_inbound(inbound.channel, inbound.external_id)
            if earlier is not None and earlier.customer_address != inbound.sender.address:
                inbound = replace(inbound, external_id=sender_scoped_id(inbound))
        record = await hub.ingest(inbound)
        if ids_per_sender and record.duplicate and record.message.customer_address != inbound.sender.address:
            record = await hub.ingest(replace(inbound, external_id=sender_scoped_id(inbound)))
    except StoreUnavailable as exc:  # the lookup's: as ingest's own
        return web.json_response(
            {"error": "unavailable", "message": str(exc)}, status=503, headers={"Retry-After": "5"}
        )
    except InvalidInbound as exc:
        return web.json_response({"error": "invalid_message", "message": str(exc)}, status=400)
    except IngestUnavailable as exc:
        return web.json_response(
            {"error": "unavailable", "message": str(exc)}, status=503, headers={"Retry-After": "5"}
        )
    answer: dict[str, Any] = {"ok": True, "duplicate": record.duplicate, "ticket": record.conversation.number}
    if only_a_question(record.conversation):
        # a ticket kept only for a status question: no ticket to show the user (the answer names theirs)
        answer["status_question"] = True
    return web.json_response(answer, status=200)


def refused_response(
    hub: HubPort | None, channel: str, status: int, reason: str, message: str, *, error: str = ""
) -> web.Response:
    """Answer a request that carried no readable message (bad signature, malformed body),
    counted by reason in `helpline_requests_refused_total`."""
    if hub is not None:
        hub.note_refused(channel, reason)
    return web.json_response({"error": error or reason, "message": message}, status=status)


class Outcome(Enum):
    CONTINUE = "continue"
    STOP = "stop"  # later plugins do not run on this message


class ConversationActions(Protocol):
    """What the hub does on a plugin's behalf (implemented in hub.services.conversations)."""

    async def post_bot_message(
        self,
        conversation: Conversation,
        text: str,
        *,
        choices: Sequence[Choice] = (),
        plugin: str,
        html: str = "",
        answers: str = "",
        awaits_answer: bool = False,
    ) -> Message:
        """`answers`: the id of the customer's message the plugin answers (its on_message), ""
        for what it says of its own accord (a notice, a survey); `awaits_answer`: it asks the
        customer for words (see PluginContext.reply)."""
        ...

    async def update_conversation(
        self,
        conversation: Conversation,
        changes: dict[str, Any],
        *,
        priority_by: PrioritySource | None = None,
        told: bool = False,
    ) -> Conversation: ...

    async def add_note(
        self, conversation: Conversation, text: str, *, author: str, texts: Mapping[str, str] | None = None
    ) -> Message: ...

    async def hand_off(
        self,
        conversation: Conversation,
        *,
        reason: str,
        team: str,
        plugin: str,
        reasons: Mapping[str, str] | None = None,
    ) -> Conversation: ...

    async def expected_team(self, conversation: Conversation) -> str:
        """The ticket's team, or the one routing will give it (its category's, `[routing]
        default_team`); "" when it will wait unrouted."""
        ...

    async def team_calendar(self, team: str) -> Calendar | None:
        """The team's calendar (conversation.business_time), None when it has none (or no team is given)."""
        ...

    async def set_team(self, conversation: Conversation, team: str, *, plugin: str) -> Conversation:
        """File the ticket under `team` ("" takes its team away); InvalidInput when no such team exists."""
        ...


class RecordActions(Protocol):
    """The hub's record service as plugins reach it (hub.services.records.RecordService)."""

    async def create(
        self,
        plugin: str,
        kind: str,
        conversation: Conversation,
        data: dict[str, Any],
        *,
        status: str = "",
        deadline: datetime | None = None,
        who: str,
        action: str = "",
    ) -> Record: ...

    async def create_once(
        self,
        plugin: str,
        kind: str,
        conversation: Conversation,
        data: dict[str, Any],
        *,
        key: str,
        status: str = "",
        deadline: datetime | None = None,
        who: str,
        action: str = "",
    ) -> tuple[Record, bool]: ...

    async def update(
        self,
        plugin: str,
        kind: str,
        record_id: str,
        *,
        data: dict[str, Any] | None = None,
        status: str | None = None,
        deadline: datetime | None | bool = False,
        who: str,
        expect_version: int | None = None,
        action: str = "",
    ) -> Record: ...

    async def get(self, plugin: str, kind: str, record_id: str) -> Record | None: ...

    async def query(
        self,
        plugin: str,
        kind: str,
        filters: dict[str, Any] | None = None,
        *,
        conversation_id: str = "",
        contact_id: str = "",
        status: str = "",
        limit: int = 50,
    ) -> list[Record]: ...

    async def count(
        self, plugin: str, kind: str, by: str, filters: dict[str, Any] | None = None
    ) -> dict[tuple[Any, str], int]: ...


class SurveyActions(Protocol):
    """Satisfaction surveys as plugins reach them (hub.services.quality.QualityService): each
    change leaves its thread event, is published live, and a low score tells the team lead."""

    async def ask(self, ticket: Conversation, language: str, answer_for: timedelta | None = None) -> Survey | None:
        """Open the ticket's survey (answers count for `answer_for`); None when it has one already."""
        ...

    async def rate(self, survey: Survey, score: int, *, via: str) -> Survey: ...

    async def comment(self, survey: Survey, text: str) -> Survey: ...

    async def latest(self, contact_id: str) -> Survey | None:
        """The contact's most recently asked survey (on any ticket)."""
        ...

    async def of_ticket(self, conversation_id: str) -> Survey | None: ...


class PluginRuntime(Protocol):
    """What the hub keeps for plugins beyond one message: records, durable timers and what
    each plugin told each ticket's customer (implemented by hub.plugin_host.PluginHost)."""

    surveys: SurveyActions | None  # satisfaction surveys (the csat plugin); None in bare test runtimes
    clock: Callable[[], datetime]  # the clock timers are claimed by: what is stored to come due follows it

    @property
    def records(self) -> RecordActions: ...

    @property
    def platform(self) -> PlatformClient | None:
        """The platform API's client ([platform]); None when the hub has none configured."""
        ...

    async def schedule(self, timer: Timer) -> None: ...

    async def cancel(self, key: str) -> bool: ...

    async def mark_told(self, conversation_id: str, plugin: str, key: str, mark: str) -> bool:
        """Record that `plugin` told `key` (with `mark`) on the ticket, by compare-and-set;
        False when it was told already (the same mark), by this hub or another."""
        ...

    async def keep_offer(self, conversation_id: str, plugin: str, offer: dict[str, Any]) -> None:
        """Keep the typed-answer choices a question asked outside `on_message` (a timer, an
        event) offered, in the plugin's state of that ticket under ASK_STATE_KEY, so the
        customer's typed "2" comes back as `ctx.chosen`."""
        ...


@dataclass
class PluginRecords:
    """A plugin's records (`ctx.records`): of the kinds it declared, linked to a ticket and
    its contact; every change adds a timeline entry naming the plugin."""

    plugin: str
    runtime: PluginRuntime
    conversation: Conversation | None

    def _ticket_of(self, conversation: Conversation | None, call: str) -> Conversation:
        """The ticket a new record goes on: `conversation`, else this context's."""
        ticket = conversation or self.conversation
        if ticket is None:
            raise ValueError(f"records.{call}() needs a ticket: pass conversation=")
        return ticket

    async def create(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        status: str = "",
        deadline: datetime | None = None,
        conversation: Conversation | None = None,
        action: str = "",
    ) -> Record:
        """A new record on this context's ticket (or `conversation`); InvalidInput if the schema refuses it.
        `action`: the audit log's name for it when an agent made it (`complaint.file`)."""
        ticket = self._ticket_of(conversation, "create")
        return await self.runtime.records.create(
            self.plugin, kind, ticket, data, status=status, deadline=deadline, who=self.plugin, action=action
        )

    async def create_once(
        self,
        kind: str,
        key: str,
        data: dict[str, Any],
        *,
        status: str = "",
        deadline: datetime | None = None,
        conversation: Conversation | None = None,
        action: str = "",
    ) -> tuple[Record, bool]:
        """The one record of `kind` with `key` (one complaint per ticket: key = the ticket's id):
        (the new record, True), or (the record made before, False), also when another writer
        made it at the same instant. Use it instead of checking first and then creating."""
        ticket = self._ticket_of(conversation, "create_once")
        return await self.runtime.records.create_once(
            self.plugin, kind, ticket, data, key=key, status=status, deadline=deadline, who=self.plugin, action=action
        )

    async def update(
        self,
        kind: str,
        record_id: str,
        *,
        data: dict[str, Any] | None = None,
        status: str | None = None,
        deadline: datetime | None | bool = False,
        expect_version: int | None = None,
        action: str = "",
    ) -> Record:
        """Merge `data` (None removes a field), set status and deadline (False: unchanged).
        `expect_version`: only if the record is still at that version, else RecordChanged
        (for a change computed from the record's values: read again and retry). `action`:
        the audit log's name for the change when an agent made it (`dispute.decide`)."""
        return await self.runtime.records.update(
            self.plugin,
            kind,
            record_id,
            data=data,
            status=status,
            deadline=deadline,
            who=self.plugin,
            expect_version=expect_version,
            action=action,
        )

    async def get(self, kind: str, record_id: str) -> Record | None:
        return await self.runtime.records.get(self.plugin, kind, record_id)

    async def query(
        self,
        kind: str,
        *,
        conversation_id: str = "",
        contact_id: str = "",
        status: str = "",
        limit: int = 50,
        **filters: Any,
    ) -> list[Record]:
        """Newest first; `filters` are equality on the kind's declared query fields."""
        return await self.runtime.records.query(
            self.plugin,
            kind,
            filters,
            conversation_id=conversation_id,
            contact_id=contact_id,
            status=status,
            limit=limit,
        )

    async def count(self, kind: str, *, by: str, **filters: Any) -> dict[tuple[Any, str], int]:
        """How many records of `kind` match `filters`, by the value of the query field `by` and
        by status: {(value, status): count} (a report needs no limit)."""
        return await self.runtime.records.count(self.plugin, kind, by, filters)

    async def of_ticket(self, kind: str, *, status: str = "") -> list[Record]:
        """This ticket's records of `kind`, newest first."""
        if self.conversation is None:
            return []
        return await self.query(kind, conversation_id=self.conversation.id, status=status)


ASK_STATE_KEY = "_hub.ask"  # reserved in a plugin's per-ticket state: the typed choices `ask` offered


class MissingText(LookupError):
    """`ctx.text` found no text: the plugin's setting has none for the reader's language
    (neither the operator's value nor the plugin's shipped default) and no catalog has the key.
    Raised (the plugin's run is logged and counted as an error) rather than sending the key."""

    def __init__(
        self, plugin: str, key: str, setting: str, domain: str, language: str = "", *, table: bool = False
    ) -> None:
        # A table by language lacks this reader's language: name the exact key to add.
        name = f"{setting}.{language}" if table and language else setting
        where = f"set [plugins.{plugin}] {name}" if setting else "pass setting= to read a text setting"
        reader = f" in {language!r}" if language else ""
        super().__init__(
            f"plugin {plugin}: no text for {key!r}{reader}: {where}, or ship a default"
            f" (a setting's default, or catalog {domain!r} with the key)"
        )
        self.plugin, self.key, self.setting, self.domain, self.language = plugin, key, setting, domain, language


def _offer(said: Message, options: Sequence[Choice]) -> dict[str, Any]:
    """What `ask` keeps of a numbered question for the typed answer (ASK_STATE_KEY's value)."""
    return {"message": said.id, "choices": [[c.id, c.label] for c in options]}


def typed_choice(text: str, choices: Sequence[Sequence[str]]) -> str:
    """The id of the choice a typed answer names: its number in the list (full-width digits
    too) or exactly its label (case-insensitive), above any quote of the question a mail
    program added; "" when it names none."""
    answer = unicodedata.normalize("NFKC", answer_words(text)).strip()
    if answer.isascii() and answer.isdigit() and 1 <= int(answer) <= len(choices):
        return str(choices[int(answer) - 1][0])
    for choice_id, label in choices:
        if answer.casefold() == unicodedata.normalize("NFKC", label).strip().casefold():
            return str(choice_id)
    return ""


def in_every_language(domain: str, key: str, **params: Any) -> dict[str, str]:
    """`key` of a plugin's catalog in each language the hub has catalogs for (locale -> text)."""
    return said_in_every_language(lambda locale: texts(domain, locale).get(key, **params))


def said_in_every_language(say: Callable[[str], str]) -> dict[str, str]:
    """`say(locale)` for each language the hub has catalogs for (locale -> text): a text made
    of several catalog entries, such as a note for `ctx.note(..., texts=...)`."""
    return {locale: say(locale) for locale in available_locales()}


def pick_template(value: Any, contact_language: str, language: str, default: Any = None) -> str | None:
    """A per-language setting's text for this reader: a plain string is for everyone; in a
    table (`{en = "...", zh-CN = "..."}`) the contact's own language first, then the catalog
    locale chosen for them (`language`: theirs, else the hub's). A language the operator's
    `value` lacks (their table may list only some) comes from `default`, the plugin's shipped
    value, for each of those two languages in turn. A blank text counts as none. None: the
    catalog decides."""
    for tag in (contact_language, language):
        for given in (value, default):
            text = _text_for(given, tag)
            if text:
                return text
    return None


def _text_for(value: Any, tag: str) -> str:
    """A setting's text for readers of `tag` ("" when it has none): a plain string is everyone's."""
    if isinstance(value, dict):
        chosen = match_locale(tag, value)
        text = str(value[chosen]) if chosen is not None else ""
    else:
        text = str(value) if value else ""
    return text if text.strip() else ""


def shipped_default(settings: Any, name: str) -> Any:
    """The plugin's own default of setting `name` (its typed `Settings` field's); None when
    it declares none (a required field, or a `config_fields` dict, which keeps no defaults)."""
    if isinstance(settings, Mapping) or not dataclasses.is_dataclass(settings):
        return None
    declared = fields_of(type(settings)).get(name)
    return None if declared is None or declared.default is REQUIRED else declared.default


def check_texts(prefix: str, settings: Any, placeholders: dict[str, tuple[str, ...]]) -> None:
    """At start: each per-language text setting (`key`: a text, or a table by language tag),
    the operator's and the plugin's shipped default alike, names real languages and only its
    known `{placeholders}`; an empty table is refused. A setting whose default is a table (the
    plugin ships its texts, no catalog stands behind them) must give a text in at least one
    language the hub has catalogs for. ConfigError naming the key. `settings` is either kind:
    a plugin's typed `Settings` or a `config_fields` dict."""
    for key, allowed in placeholders.items():
        value = setting_value(settings, key, "")
        default = shipped_default(settings, key)
        _check_text_value(f"{prefix}.{key}", value, allowed)
        _check_text_value(f"{prefix}.{key} (the plugin's default)", default, allowed)
        if isinstance(default, dict) and not any(
            pick_template(value, locale, locale, default) for locale in available_locales()
        ):
            spoken = ", ".join(available_locales())
            raise ConfigError(f"{prefix}.{key}: no text in any language the hub speaks ({spoken})")


def _check_text_value(where: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value is None:
        return
    if isinstance(value, dict) and not value:
        raise ConfigError(f'{where}: an empty table has no text in any language; give one by language (en = "...")')
    by_language = value.items() if isinstance(value, dict) else [(None, value)]
    for language, text in by_language:
        named = where if language is None else f"{where}.{language}"
        # A key no customer's language can match would leave its text unused without a word.
        if language is not None and not (canonical_tag(language) and known_language(language)):
            raise ConfigError(f"{named}: {language!r} is not a language tag (like en or zh-CN)")
        if not isinstance(text, str):
            raise ConfigError(f"{named}: expected a string, got {type(text).__name__}")
        _check_placeholders(named, text, allowed)


def _check_placeholders(named: str, text: str, allowed: tuple[str, ...]) -> None:
    """Every `{name}` of the text is one the text takes; a lone brace is said as such (Python's
    own words, "Single '{' encountered in format string", say nothing to an operator). Read by
    the format parser, not by formatting with stand-ins: `{number:05d}` is a good text."""
    known = ", ".join("{" + p + "}" for p in allowed) or "none"
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        raise ConfigError(f"{named}: a {{ or }} without its pair; write {{{{ or }}}} for a brace itself") from None
    for name in names:  # a plain name only: "{number.x}" would fail on the customer's message
        if name not in allowed:
            raise ConfigError(f"{named}: unknown placeholder {{{name}}} (this text takes {known})")


class PluginTools:
    """What every plugin context offers beside its ticket: records, timers and texts.
    Mixed into PluginContext, TimerContext and EventContext."""

    plugin: str
    settings: Any  # the plugin's typed `Settings` (or the dict of a `config_fields` plugin)
    language: str
    conversation: Conversation | None
    contact: Contact | None
    runtime: PluginRuntime | None
    hub: HubPort | None

    def _runtime(self) -> PluginRuntime:
        if self.runtime is None:
            raise RuntimeError("this context has no hub runtime (records and timers need a running hub)")
        return self.runtime

    @property
    def records(self) -> PluginRecords:
        return PluginRecords(self.plugin, self._runtime(), self.conversation)

    def now(self) -> datetime:
        """The hub's time, which timers come due by (a test's `hub.testing.fire_timers` moves
        it): use it rather than the system clock for anything compared with a timer."""
        return self.runtime.clock() if self.runtime is not None else utcnow()

    @property
    def platform(self) -> PlatformTools:
        """The platform API for this ticket's customer (hub/platform/tools.py): lookups only by
        a verified identity (`identity()`, else NotVerified), side effects durable, idempotent
        and logged in the ticket's timeline. `available` is False without a [platform] section."""
        message = getattr(self, "message", None)
        ticket = self.conversation
        channel = message.channel if message is not None else (ticket.channel if ticket is not None else "")
        address = message.customer_address if message is not None else (ticket.customer_address if ticket else "")
        return PlatformTools(
            client=self.runtime.platform if self.runtime is not None else None,
            plugin=self.plugin,
            conversation=ticket,
            contact=self.contact,
            channel=channel,
            address=address,
            hub=self.hub,
            runtime=self.runtime,
            codes=getattr(self.runtime, "codes", None),  # one-time codes through the platform
            clock=self.runtime.clock if self.runtime is not None else utcnow,
        )

    async def schedule(self, at: datetime, name: str, data: dict[str, Any] | None = None, *, key: str = "") -> str:
        """Call this plugin's `on_timer` once at `at` (or soon after), in one hub of many, even
        across restarts. The same `key` again moves the timer; returns the key (for `cancel`)."""
        if at.tzinfo is None:
            raise ValueError("schedule(): `at` must carry its time zone")
        key = key or new_id()
        conversation_id = self.conversation.id if self.conversation is not None else ""
        timer = Timer(timer_key(self.plugin, key), self.plugin, name, at, dict(data or {}), conversation_id)
        await self._runtime().schedule(timer)
        return key

    async def cancel(self, key: str) -> bool:
        """Remove a scheduled timer of this plugin; False when there was none (fired or cancelled)."""
        return await self._runtime().cancel(timer_key(self.plugin, key))

    def template(self, key: str, *, setting: str = "", domain: str = "hub", in_language: str = "") -> str:
        """The text for this contact: the plugin's per-language `setting` (see `pick_template`),
        else catalog `key` of `domain` in the contact's catalog locale (theirs, else the hub's,
        else English). MissingText when neither has it: a key is never sent as the text.
        `in_language`: that language instead of the contact's (the message's own, say:
        `conversation.text_language.clear_language(ctx.message.text)`)."""
        contact_language = in_language or (self.contact.language if self.contact is not None else "")
        value = default = None
        if setting:
            value, default = setting_value(self.settings, setting), shipped_default(self.settings, setting)
            chosen = pick_template(value, contact_language, in_language or self.language, default)
            if chosen is not None:
                return chosen
        try:
            catalog = self.catalog(domain, in_language=in_language)
        except KeyError:
            catalog = None
        if catalog is None or not catalog.has(key):
            table = isinstance(value, dict) or isinstance(default, dict)
            raise MissingText(self.plugin, key, setting, domain, self.language, table=table)
        return catalog.get(key)

    def catalog(self, domain: str = "hub", *, in_language: str = "") -> Texts:
        """The catalog `domain` in this contact's catalog locale, or `in_language`'s (plurals, day names)."""
        return texts(domain, in_language or self.language)

    def text(self, key: str, *, setting: str = "", domain: str = "hub", in_language: str = "", **params: Any) -> str:
        """`template` with its `{placeholders}` filled in."""
        return self.template(key, setting=setting, domain=domain, in_language=in_language).format(**params)


class TicketTools(PluginTools):
    """What a plugin may do to the ticket of its context."""

    actions: ConversationActions

    def _ticket(self) -> Conversation:
        if self.conversation is None:
            raise ValueError("this context has no ticket")
        return self.conversation

    async def team_away(self, team: str) -> Opening | None:
        """The team's calendar's word when it is closed now and opens again (`reopens`,
        `holiday`); None when it is open, has no calendar or never opens again. Say when
        people are back rather than "soon" (a trial's hand-off at 3 a.m. on a holiday)."""
        calendar = await self.actions.team_calendar(team) if team else None
        if calendar is None:
            return None
        opening = opening_of(calendar, self.now())
        return None if opening.open or opening.reopens is None else opening

    async def reply(self, text: str, *, html: str = "", awaits_answer: bool = False) -> Message:
        """Tell the customer `text`; `html` is the same words as HTML for channels that show it
        (`Adapter.shows_html`), sanitised again before it is stored. `awaits_answer=True`: it
        asks them for words ("what happened?"), so the agents' list does not show the ticket
        as waiting for a person until they answer (a question with choices is `ask`)."""
        return await self.actions.post_bot_message(
            self._ticket(), text, plugin=self.plugin, html=html, answers=self._answers(), awaits_answer=awaits_answer
        )

    async def ask(
        self, text: str, choices: Sequence[Choice | str], *, html: str = "", numbered: bool = True
    ) -> Message:
        """Ask with answer buttons; the customer's pick comes back as `chosen`.

        On a channel without buttons (`Adapter.shows_choices` false: email, SMS) the choices
        are written under the question as a numbered list with a hint in the customer's
        language; their next typed reply that is one of the numbers (or a label) comes back
        as `chosen` too (`PluginContext` keeps the offer in `state` under ASK_STATE_KEY).
        `numbered=False`: the plugin words the question for such channels itself."""
        options = [c if isinstance(c, Choice) else Choice(id=c, label=c) for c in choices]
        if not options:
            raise ValueError("ask() needs at least one choice")
        if not numbered or self.shows_choices():
            return await self.actions.post_bot_message(
                self._ticket(), text, choices=options, plugin=self.plugin, html=html, answers=self._answers()
            )
        t = self.catalog()
        lines = [t.get("ask.choice_item", number=n, label=c.label) for n, c in enumerate(options, 1)]
        hint = t.get("ask.choice_hint", count=len(options))
        if html:
            html += "".join(f"<p>{escape(line)}</p>" for line in [*lines, hint])
        # Kept on the message too: the inbox shows agents what was offered.
        said = await self.actions.post_bot_message(
            self._ticket(),
            "\n".join([text, "", *lines, "", hint]),
            choices=options,
            plugin=self.plugin,
            html=html,
            answers=self._answers(),
        )
        await self._offered(said, _offer(said, options))
        return said

    def _answers(self) -> str:
        """The customer's message this context answers ("" for an event's or a timer's)."""
        return str(getattr(getattr(self, "message", None), "id", "") or "")

    def _adapter(self) -> Adapter | None:
        """The adapter of the channel this context's message (else its ticket) came on."""
        if self.hub is None:
            return None
        message = getattr(self, "message", None)
        return self.hub.channel_adapter(message.channel if message is not None else self._ticket().channel)

    def shows_choices(self) -> bool:
        """Whether the channel shows buttons (True without a hub: bare unit tests)."""
        adapter = self._adapter()
        return adapter.shows_choices if adapter is not None else self.hub is None

    def receives_files(self) -> bool:
        """Whether the customer can send files on the channel (`Adapter.receives_files`)."""
        adapter = self._adapter()
        return adapter is None or adapter.receives_files

    async def _offered(self, said: Message, offer: dict[str, Any]) -> None:
        """Keep a question's typed-answer choices for the customer's next message: stored in
        this plugin's state of the ticket (a message's context keeps it in its own `state`)."""
        if self.runtime is not None:
            await self.runtime.keep_offer(said.conversation_id, self.plugin, offer)

    async def set_team(self, team: str) -> None:
        """File the ticket under a team (an existing team's id; "" takes its team away).

        Raises InvalidInput (a ValueError) naming `team` when no such team exists; nothing
        changes then (as for `hand_off`)."""
        self.conversation = await self.actions.set_team(self._ticket(), team, plugin=self.plugin)

    async def set_status(self, status: Status | str, *, told: bool = False) -> None:
        """Resolve the ticket, or set it pending (the customer said the bot's answer solved it).
        InvalidInput when the ticket cannot take it (a required field of its category is empty).
        `told=True`: this plugin has just told the customer in its own words (the FAQ bot's
        "glad that helped"), so plugins that announce changes (progress) stay quiet about it."""
        await self._update({"status": Status(status)}, told=told)

    async def set_category(self, category: str) -> None:
        await self._update({"category": category})

    async def set_priority(self, priority: Priority | str) -> None:
        """The ticket records (and its thread says) that this plugin set it."""
        self.conversation = await self.actions.update_conversation(
            self._ticket(), {"priority": priority}, priority_by=PrioritySource("plugin", self.plugin)
        )

    async def add_tags(self, *tags: str) -> None:
        """Add tags to the ticket, each its own argument: `add_tags("vip", "refund")`."""
        wrong = [tag for tag in tags if not isinstance(tag, str)]
        if wrong:
            raise TypeError(f"add_tags() takes each tag as its own argument (add_tags('vip', 'refund')), got {wrong!r}")
        await self._update({"tags": [*self._ticket().tags, *tags]})

    async def note(self, text: str, *, texts: Mapping[str, str] | None = None) -> Message:
        """A private note for the agents; never sent to the customer. `texts`: the note in
        each language (locale -> text, as `in_every_language` gives), so each agent's inbox
        shows it in theirs; `text` is the hub language's (API clients, search)."""
        return await self.actions.add_note(self._ticket(), text, author=self.plugin, texts=texts)

    async def _update(self, changes: dict[str, Any], *, told: bool = False) -> None:
        self.conversation = await self.actions.update_conversation(self._ticket(), changes, told=told)


@dataclass
class PluginContext(TicketTools):
    """A plugin's view of one stored customer message and what it may do about it."""

    plugin: str
    conversation: Conversation
    message: Message
    contact: Contact
    settings: Any  # the plugin's typed `Settings` (or a `config_fields` dict)
    state: dict[str, Any]  # this plugin's state for this conversation; saved after on_message
    actions: ConversationActions
    language: str = SOURCE_LOCALE  # the catalog locale this customer reads (`hub.i18n.texts`), e.g. "zh-CN"
    runtime: PluginRuntime | None = None  # records and timers (set by the hub)
    hub: HubPort | None = None  # reads of other tickets, status links, channels (None in bare unit tests)
    # The check of a one-time code this message answered (`ctx.platform.send_code`): "verified",
    # "wrong", "too_many", "expired", "unavailable"; "" when it answered none. The code itself
    # was taken out before the message was stored and is never given to plugins.
    verification: str = ""
    stopped: bool = field(default=False, init=False)
    _typed_choice: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        # An offer of typed choices answers only the next message this plugin sees: taken
        # out of the state now (and saved so), whether this message picks one or not.
        offer = self.state.pop(ASK_STATE_KEY, None)
        if offer is not None and not self.message.choice_id:
            self._typed_choice = typed_choice(self.message.text, offer.get("choices", []))

    @property
    def chosen(self) -> str:
        """The id of the option the customer picked: a tapped button, or on a channel without
        buttons the number (or label) they typed in answer to `ask`; "" otherwise."""
        return self.message.choice_id or self._typed_choice

    async def _offered(self, said: Message, offer: dict[str, Any]) -> None:
        self.state[ASK_STATE_KEY] = offer  # saved with the rest of the state after on_message

    async def hand_off(self, reason: str, *, team: str = "", reasons: Mapping[str, str] | None = None) -> None:
        """Ask for a human: the ticket goes to the inbox and bots stay quiet on it. `reasons`:
        the reason in each language (`in_every_language`), so each agent reads the thread's
        event in theirs; `reason` is the hub language's.

        Raises InvalidInput (a ValueError) naming `team` when no such team exists; nothing
        changes then."""
        self.conversation = await self.actions.hand_off(
            self.conversation, reason=reason, team=team, plugin=self.plugin, reasons=reasons
        )
        self.stopped = True

    def stop(self) -> None:
        """Later plugins do not run on this message."""
        self.stopped = True


@dataclass
class TimerContext(TicketTools):
    """A timer of this plugin came due (`on_timer`). `conversation` and `contact` are the
    ticket it was scheduled from, if any (and if it still exists)."""

    plugin: str
    timer: Timer  # name, data, due_at, attempts (more than 1: an earlier firing may have run, be idempotent)
    conversation: Conversation | None
    contact: Contact | None
    settings: Any
    actions: ConversationActions
    runtime: PluginRuntime | None
    language: str = SOURCE_LOCALE
    hub: HubPort | None = None  # reads of other tickets, team names, status links (None in bare unit tests)


@dataclass
class ServiceContext(TicketTools):
    """A plugin acting outside a customer message: at start (`on_start`, no ticket), for an
    agent's request through the API, or asked whether a ticket may be resolved."""

    plugin: str
    conversation: Conversation | None
    contact: Contact | None
    settings: Any
    actions: ConversationActions
    runtime: PluginRuntime | None
    language: str = SOURCE_LOCALE
    hub: HubPort | None = None


@dataclass
class EventContext(TicketTools):
    """A ticket changed (`on_event`), after the change was stored.

    Events are delivered in the hub that stored the change, so two hubs applying the same
    change (or a request retried with an old view) each deliver it: a plugin that tells the
    customer uses `tell_once`, which says each news once per ticket whatever the repeats."""

    plugin: str
    change: TicketChange  # kind (status, assignment, team, field), field, before, after
    conversation: Conversation
    contact: Contact | None
    settings: Any  # the plugin's typed `Settings` (or a `config_fields` dict)
    actions: ConversationActions
    runtime: PluginRuntime | None
    language: str = SOURCE_LOCALE
    hub: HubPort | None = None  # reads of other tickets, team names, status links (None in bare unit tests)

    async def tell_once(self, key: str, text: str, *, mark: str = "") -> bool:
        """Tell the customer `text` on the ticket's channel (through the outbox) unless this
        plugin already told `key` with the same `mark` on this ticket; whether it told it now.

        The mark is saved first, by compare-and-set in the plugin's per-ticket record of what
        it told (apart from `PluginContext.state`), and only the run whose save won tells: two
        hubs, a repeated change or the same change delivered twice tell once. A new `mark`
        (when a ticket is resolved a second time, the team it moved back to) is news again.
        At most once: a hub that stops between the save and the message tells nothing."""
        if not await self._runtime().mark_told(self._ticket().id, self.plugin, key, mark):
            return False
        await self.reply(text)
        return True

    async def mark_told(self, key: str, mark: str = "") -> None:
        """Record `key` as told at `mark`, saying nothing: someone else told the customer (the
        change's maker, `change.told`), and a later `tell_once` of the same mark stays quiet."""
        await self._runtime().mark_told(self._ticket().id, self.plugin, key, mark)


class Plugin:
    """Base of every plugin. Subclasses declare a `Settings` section (a frozen dataclass of
    `setting(...)` fields, read as `self.settings.name`, as adapters do) and implement
    `on_message`; they may declare `record_kinds`, subscribe to ticket `events` (`on_event`)
    and react in `on_timer`. A `config_fields` table (read as a dict) still works for
    plugins written before."""

    Settings: ClassVar[type | None] = None
    config_fields: ClassVar[dict[str, Field]] = {}
    always_run: ClassVar[bool] = False  # run even when a human owns the conversation
    record_kinds: ClassVar[tuple[RecordKind, ...]] = ()  # kinds of record this plugin keeps (JSON Schema)
    events: ClassVar[frozenset[str]] = frozenset()  # ticket changes for on_event: status, assignment, team, field

    @classmethod
    def check_settings(cls, prefix: str, settings: Any) -> None:
        """Reject settings that have the right types but cannot work; raise ConfigError naming the key."""

    def __init__(self, name: str, settings: Any) -> None:
        self.name = name
        self.settings = settings
        self.log = logging.getLogger(f"helpline.plugin.{name}")

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        """A customer message was stored on a ticket the bots may answer."""
        return None

    async def answers_quietly(self, inbound: Inbound, hub: HubPort, runtime: PluginRuntime | None) -> bool:
        """Asked before a customer message is stored: True when it only answers this plugin's
        question on the thread (a satisfaction rating), so it is kept in the thread's ticket
        without reopening it, or in a quiet new one when that ticket is closed (routing
        Route.QUESTION), and `on_message` then consumes it. Keep it cheap: it runs on every
        message; an error counts as False (the message is stored as usual)."""
        return False

    def holds_live(self, inbound: Inbound) -> bool:
        """Asked after a customer message is stored, before anyone hears of it: True when its
        ticket's live events (the message, the new ticket, what the plugins do with it) must
        wait until the plugins have run on it, so they go out where the plugins put the ticket
        (a complaint about an agent: filed with the supervisors, never in that agent's feed).
        Pure and cheap: it runs on every message; an error counts as True."""
        return False

    def hold_team(self) -> str:
        """The team (visibility "supervisors") a message this plugin holds (`holds_live`) is
        stored in, in the same step as the message: no agent reads it through any path (API,
        lists, search, counts, other hub processes) before the plugins have run; they then put
        the ticket where it belongs. "" keeps the ticket where it is."""
        return ""

    async def on_timer(self, ctx: TimerContext) -> None:
        """A timer this plugin scheduled came due; raise to have it tried again later."""

    async def on_event(self, ctx: EventContext) -> None:
        """A ticket changed in a way listed in `events`; errors are logged and counted, never undo the change."""

    async def on_platform_done(self, ctx: TimerContext, done: Done) -> None:
        """A platform side effect that had to wait (`ctx.platform.<effect>` answered None) is done."""

    async def on_platform_failed(self, ctx: TimerContext, operation: str) -> None:
        """A platform side effect that had to wait was refused, or given up after its retries."""

    async def on_start(self, ctx: ServiceContext) -> None:
        """The hub started (every hub process, every start): schedule standing timers here
        with a fixed `key`, so each start moves the one timer instead of adding another."""

    async def resolve_refusal(self, ctx: ServiceContext) -> str:
        """Why `ctx.conversation` may not be resolved or closed yet, in words for the agent
        ("" when it may): the hub refuses the change with this reason."""
        return ""
