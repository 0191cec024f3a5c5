"""Changes to tickets and messages, for agents (API), plugins and the hub alike.

Each one stores first, then tells the live inboxes, then wakes the outbox when a
message must go out: the same order as ingest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from conversation.business_time import Calendar
from conversation.calls import NoReplies, ReceiveOnly, takes_replies
from conversation.delivery_errors import split_coded_error
from conversation.desk import TEAM_SOURCE_STATE, category_defaults, handoff_changes, team_source
from conversation.errors import InvalidInput
from conversation.fields import (
    FieldDefinition,
    FieldsRequired,
    definitions_for,
    field_changes,
    missing_required,
    with_field_changes,
)
from conversation.inbox_rows import AWAITS_ANSWER
from conversation.markdown_html import clean_html
from conversation.model import (
    Attachment,
    AuthorType,
    Choice,
    Conversation,
    ConversationQuery,
    Delivery,
    Direction,
    Message,
    MessageKind,
    Priority,
    Status,
    new_id,
    utcnow,
)
from conversation.priority_rules import SYSTEM, PrioritySource
from conversation.progress import ANSWERS, left_midway, unanswered_on_resolved
from conversation.routing import team_for
from conversation.rules import reopens_on_merge
from conversation.store import Store
from conversation.ticket_changes import BOOKKEEPING
from hub.events import Event, EventBus
from hub.i18n import SOURCE_LOCALE
from hub.privacy import redact_agent_text
from hub.services import audit
from hub.services.fields import ticket_definitions
from hub.thread_events import ThreadEvent, name_in

log = logging.getLogger(__name__)

# Told of every stored ticket change: (before, after, the fields changed, whether its maker
# told the customer: TicketChange.told). The hub's plugin runtime delivers them to the
# plugins that subscribe (`on_event`).
TicketChanged = Callable[[Conversation, Conversation, list[str], bool], None]
# Asked before a ticket is resolved or closed: why not yet ("" when it may). The plugin host's
# `resolve_refusal` (a complaint whose outcome is not sent holds its ticket open).
ResolveGuard = Callable[[Conversation], Awaitable[str]]


class ResolveRefused(InvalidInput):
    """A resolve (or close) a plugin holds back; the message says what to do first."""

    code = "resolve_refused"


# Changes after which someone may no longer see the ticket.
_MOVES = frozenset({"team", "assignee_id"})


class ConversationService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        wake_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utcnow,
        language: str = SOURCE_LOCALE,
    ) -> None:
        self.language = language  # the hub's: events' stored `text` is in it (agents read them in theirs)
        self.store = store
        self.bus = bus
        self.wake_outbox = wake_outbox
        self.clock = clock
        self.ticket_listener: TicketChanged | None = None  # the plugin host: subscribed plugins' on_event
        # Channels whose adapter cannot send (an email channel with no smtp_host or relay):
        # set by the hub from its adapters (Adapter.sends_replies).
        self.receive_only: frozenset[str] = frozenset()
        self.default_team = ""  # [routing] default_team, set by the hub: where an unrouted ticket goes
        # Told when an agent (a person, not a bot) resolves a ticket: the learning review queue.
        self.agent_resolved: Callable[[Conversation], Awaitable[object]] | None = None
        self.resolve_guard: ResolveGuard | None = None  # the plugin host: a plugin may hold a resolve back

    def takes_replies(self, channel: str) -> bool:
        """Whether a written reply can reach the customer on this channel."""
        return takes_replies(channel) and channel not in self.receive_only

    def check_replies(self, channel: str) -> None:
        """NoReplies (a phone ticket) or ReceiveOnly when a reply cannot go out on `channel`."""
        if not takes_replies(channel):
            raise NoReplies()
        if channel in self.receive_only:
            raise ReceiveOnly(channel)

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
        if not self.takes_replies(conversation.channel):
            # a logged call (the agents say it when they call back), a channel that only receives
            return await self.add_note(conversation, text, author=plugin)
        return await self.send(
            conversation,
            text,
            author_type=AuthorType.BOT,
            author_id=plugin,
            choices=choices,
            html=clean_html(html),
            raw={**({ANSWERS: answers} if answers else {}), **({AWAITS_ANSWER: True} if awaits_answer else {})} or None,
        )

    async def send(
        self,
        conversation: Conversation,
        text: str,
        *,
        author_type: AuthorType,
        author_id: str,
        choices: Sequence[Choice] = (),
        attachments: Sequence[Attachment] = (),
        raw: dict[str, Any] | None = None,
        html: str = "",
    ) -> Message:
        """Store a customer-visible message and queue it for delivery on the ticket's channel.
        `raw` carries channel options the agent chose (an email's `cc`); `html` (sanitised) the
        same words for channels that show HTML."""
        if not text.strip() and not attachments:
            raise InvalidInput("a message needs text")
        self.check_replies(conversation.channel)
        now = self.clock()
        message = Message(
            id=new_id(),
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction=Direction.OUTBOUND,
            kind=MessageKind.MESSAGE,
            author_type=author_type,
            author_id=author_id,
            text=self._kept_text(text, author_type),
            html=html,
            choices=list(choices),
            attachments=list(attachments),
            created_at=now,
            delivery=Delivery(next_attempt_at=now),
            customer_address=conversation.customer_address,  # the ticket's own customer, whoever else joined
            raw=raw,
        )
        return await self.queue(message)

    async def queue(self, message: Message) -> Message:
        """Store an outbound message with its delivery, tell the inboxes, wake the outbox."""
        await self.store.tickets.add_message(message)
        self._published("message.created", message)
        self.wake_outbox()
        return message

    async def queue_once(self, message: Message, key: str) -> bool:
        """`queue` for an effect a retry may repeat (a page): stored, published and sent once
        per `key`; whether this call stored it."""
        stored, new = await self.store.tickets.add_message_once(message, key)
        if new:
            self._published("message.created", stored)
            self.wake_outbox()
        return new

    async def add_note(
        self,
        conversation: Conversation,
        text: str,
        *,
        author: str,
        author_type: AuthorType = AuthorType.BOT,
        texts: Mapping[str, str] | None = None,
    ) -> Message:
        """A private note for the agents; never delivered to the customer. `texts`: a bot's
        note in each language (locale -> text), kept so each agent reads it in theirs."""
        raw = {"texts": {str(k): self._kept_text(v, author_type) for k, v in texts.items()}} if texts else None
        return await self._internal(self._message(conversation, text, MessageKind.NOTE, author_type, author, raw))

    async def add_note_once(self, conversation: Conversation, text: str, *, author: str, key: str) -> bool:
        """An agent's note that may arrive twice (a mail delivered again): stored once per `key`."""
        note = self._message(conversation, text, MessageKind.NOTE, AuthorType.AGENT, author)
        stored, new = await self.store.tickets.add_message_once(note, key)
        if new:
            self._published("message.created", stored)
        return new

    async def add_event(self, conversation: Conversation, key: str, **params: str) -> Message:
        """A system event in the thread, kept by catalog key and parameters (see thread_events)."""
        return await self.add_thread_event(conversation, ThreadEvent(key, params))

    async def add_thread_event(
        self, conversation: Conversation, event: ThreadEvent, *, raw: dict[str, Any] | None = None
    ) -> Message:
        """`raw` keeps a channel's bookkeeping beside the event (an email read receipt's message id)."""
        event = await self.named(event, conversation)
        text = event.text(self.language)
        raw = {**(raw or {}), **event.as_raw()}
        return await self._internal(self._message(conversation, text, MessageKind.EVENT, AuthorType.SYSTEM, "", raw))

    async def add_thread_event_once(
        self, conversation: Conversation, event: ThreadEvent, key: str, *, raw: dict[str, Any] | None = None
    ) -> tuple[Message, bool]:
        """`add_thread_event` for an effect a retry may repeat: stored and published once per
        `key`; (the stored event, whether this call stored it)."""
        event = await self.named(event, conversation)
        raw = {**(raw or {}), **event.as_raw()}
        message = self._message(conversation, event.text(self.language), MessageKind.EVENT, AuthorType.SYSTEM, "", raw)
        stored, new = await self.store.tickets.add_message_once(message, key)
        if new:
            self._published("message.created", stored)
        return stored, new

    async def update_conversation(
        self,
        conversation: Conversation,
        changes: dict[str, Any],
        *,
        priority_by: PrioritySource | None = None,
        told: bool = False,
    ) -> Conversation:
        """`priority_by`: who or what sets a priority in `changes` (a plugin, a rule); it is
        kept on the ticket and said in the thread. `changes["fields"]` holds only the custom
        fields to change (key -> value, null clears), checked against the category's definitions.
        `told`: the caller has just told the customer about the change (TicketChange.told)."""
        updated = await self._store_changes(conversation, changes, priority_by or SYSTEM, told=told)
        return await self._apply_category_defaults(conversation, updated, changes)

    async def _store_changes(
        self,
        conversation: Conversation,
        changes: dict[str, Any],
        priority_by: PrioritySource,
        *,
        action: str = "ticket.update",
        why: Mapping[str, Any] | None = None,
        tell_plugins: bool = True,
        told: bool = False,
    ) -> Conversation:
        """Check, store and publish; nothing is written when a check fails. The audit entry is
        `action`, with `why` (a hand-over's reason) beside the new values. `tell_plugins=False`:
        the caller tells them once the change's thread events are stored, so that what a plugin
        says about the change (a "resolved" notice) comes after its cause in the thread."""
        category = changes.get("category")
        if category and await self.store.desk.get_category(category) is None:
            raise InvalidInput(f"category {category!r} is not a category")
        changes = await self._checked_fields(conversation, changes)
        if self.resolve_guard is not None and changes.get("status") in FINAL and conversation.status.value not in FINAL:
            reason = await self.resolve_guard(conversation)
            if reason:
                raise ResolveRefused(reason)
        if "priority" in changes:
            changes = {**changes, "priority_set_by": priority_by.recorded}
        # Who saw it before a move is told it left (hub/api/live.py): read from the store, as the
        # caller's copy may be older than the ticket (a review).
        stored = await self.store.tickets.get_conversation(conversation.id) if _MOVES & changes.keys() else None
        before = stored or conversation
        changed_at = self.clock()
        updated = await self.store.tickets.update_conversation(conversation.id, changes, now=changed_at)
        await audit.record(
            self.store,
            action,
            "ticket",
            updated.id,
            before={k: getattr(conversation, k) for k in changes if k not in BOOKKEEPING},
            after={k: getattr(updated, k) for k in changes if k not in BOOKKEEPING} | dict(why or {}),
            at=self.clock(),
        )
        actor = {"actor": priority_by.name} if priority_by.kind == "agent" else {}  # who resolved (reports)
        # the team it leaves: its SLA clocks count the time before in that team's business hours
        moved = (
            {"team_before": before.team, "team_after": updated.team, "team_moved_at": changed_at.isoformat()}
            if "team" in changes and updated.team != before.team
            else {}
        )
        if "status" in changes and updated.status != before.status:
            # the status it took and when: the SLA tracker may read the event late, or after
            # another change (hub/events.py status_change)
            moved |= {"status_after": updated.status.value, "status_changed_at": changed_at.isoformat()}
        if "assignee_id" in changes and updated.assignee_id != before.assignee_id:
            # whom it was assigned to: their inbox is told it left (hub/api/live.py, "conversation.left")
            moved["assignee_before"] = before.assignee_id
        self.bus.publish(Event("conversation.updated", updated.id, {"changes": sorted(changes), **actor, **moved}))
        # only a change that set the priority says so (a stale `conversation` must not look like one)
        if "priority" in changes and updated.priority is not conversation.priority and priority_by.kind != "agent":
            await self.add_thread_event(updated, priority_event(priority_by, updated.priority))
        if tell_plugins:
            self._tell_plugins(conversation, updated, list(changes), told=told)
        return updated

    def _tell_plugins(
        self, before: Conversation, after: Conversation, fields: list[str], *, told: bool = False
    ) -> None:
        """After the store: a listener's failure is logged and never undoes or fails the change."""
        if self.ticket_listener is None:
            return
        try:
            self.ticket_listener(before, after, fields, told)
        except Exception:
            log.exception("telling plugins about the change of conversation %s failed", after.id)

    async def _checked_fields(self, conversation: Conversation, changes: dict[str, Any]) -> dict[str, Any]:
        """Custom field values checked (all of them, before anything is stored), and a resolve
        refused (FieldsRequired) while a required field of the ticket's category is empty."""
        status = changes.get("status")
        resolving = status in FINAL and conversation.status.value not in FINAL
        if "fields" not in changes and not resolving:
            return changes
        definitions = await ticket_definitions(self.store, changes.get("category", conversation.category))
        values = conversation.fields
        if "fields" in changes:
            if not isinstance(changes["fields"], dict):
                raise InvalidInput("fields must be an object of field key to value")
            checked = field_changes(changes["fields"], definitions)
            values = with_field_changes(conversation.fields, checked)
            changes = {**changes, "fields": checked}
        missing = missing_required(values, definitions) if resolving else []
        if missing:
            raise FieldsRequired(missing)
        return changes

    async def record_team_source(self, conversation: Conversation, source: str) -> None:
        """Remember that the ticket's current team came from `source` ("default", "category")."""
        state = {"team": conversation.team, "source": source}
        await self.store.coordination.set_plugin_state(conversation.id, TEAM_SOURCE_STATE, state)

    async def _apply_category_defaults(
        self, before: Conversation, updated: Conversation, changes: dict[str, Any]
    ) -> Conversation:
        """A newly set category brings its default team and priority, each with an event."""
        if not updated.category or updated.category == before.category:
            return updated
        category = await self.store.desk.get_category(updated.category)
        if category is None:
            return updated
        recorded = await self.store.coordination.get_plugin_state(updated.id, TEAM_SOURCE_STATE)
        source = team_source(recorded, updated.team)
        defaults = category_defaults(
            category, team=updated.team, priority=updated.priority, chosen=changes, source=source
        )
        # Its holder stays when the same change names them (an agent logging the call they took).
        if "team" in defaults and updated.assignee_id and "assignee_id" not in changes:
            team = await self.store.desk.get_team(defaults["team"])
            if team is not None and updated.assignee_id not in team.members:
                defaults["assignee_id"] = ""  # it waits in the new team's queue (as after a hand-off)
        if not defaults:
            return updated
        updated = await self._store_changes(updated, defaults, PrioritySource("rule", "category", category.id))
        if "team" in defaults:
            await self.record_team_source(updated, "category")
            teams = await self.team_labels()
            event = ThreadEvent("event.category_team", {"category": category.id, "team": updated.team})
            await self.add_thread_event(updated, named_teams(event, teams))
        return updated

    async def named(self, event: ThreadEvent, conversation: Conversation | None = None) -> ThreadEvent:
        """The event with the names of the teams and categories it mentions by id, so each
        reader (the inbox, the API's text, a channel) sees them in their own language."""
        if any(p in TEAM_PARAMS and p not in event.names for p in event.params):
            event = named_teams(event, await self.team_labels())
        if any(p in CATEGORY_PARAMS and p not in event.names for p in event.params):
            categories = {c.id: dict(c.names) for c in await self.store.desk.list_categories()}
            names = {p: categories[v] for p, v in event.params.items() if p in CATEGORY_PARAMS and v in categories}
            event = ThreadEvent(event.key, event.params, {**event.names, **names}) if names else event
        if event.params.get(FIELDS_PARAM) and FIELDS_PARAM not in event.names:
            # The ticket's own definitions (its category's, nearer ones first) before any other
            # category's field of the same key: one key may be labelled differently in two.
            everywhere = await self.store.fields.list_definitions()  # read once for both
            own: list[FieldDefinition] = []
            if conversation is not None and conversation.category:
                parents = {c.id: c.parent_id for c in await self.store.desk.list_categories()}
                own = definitions_for(conversation.category, parents, everywhere)
            labels = {d.key: d.labels for d in [*everywhere, *own]}
            event = named_fields(event, labels)
        return event

    async def team_labels(self) -> dict[str, dict[str, str]]:
        """Each team's names by language: thread events name teams, not their ids."""
        return {team.id: dict(team.names) for team in await self.store.desk.list_teams()}

    # -- what agents do -------------------------------------------------------------
    async def update_by(
        self,
        conversation: Conversation,
        changes: dict[str, Any],
        *,
        who: str,
        names: dict[str, str],
        agent_id: str = "",
    ) -> Conversation:
        """Apply an agent's changes and leave a system event saying who changed what. A subject
        is kept without card or resident ID numbers, as what agents write (hub/privacy.py);
        one the ticket has already is no change."""
        if "subject" in changes:
            changes = {**changes, "subject": redact_agent_text(changes["subject"], self.language)}
            if changes["subject"] == conversation.subject:
                changes = {k: v for k, v in changes.items() if k != "subject"}
                if not changes:
                    return conversation
        by = PrioritySource("agent", agent_id or who)
        teams = await self.team_labels()
        if changes.get("team") and changes["team"] not in teams:  # "" takes the team away
            raise InvalidInput(f"team: {changes['team']!r} is not a team")
        updated = await self._store_changes(conversation, changes, by, tell_plugins=False)
        for event in describe_changes(conversation, updated, who=who, names=names, priority_by=by):
            await self.add_thread_event(updated, named_teams(event, teams))
        self._tell_plugins(conversation, updated, list(changes))
        if self.agent_resolved and updated.status.value in FINAL and conversation.status.value not in FINAL:
            await self.agent_resolved(updated)
        return await self._apply_category_defaults(conversation, updated, changes)

    async def merge(self, source: Conversation, target: Conversation, *, who: str) -> Conversation:
        merged = await self.store.tickets.merge_conversations(source.id, target.id, now=self.clock())
        await audit.record(
            self.store,
            "ticket.merge",
            "ticket",
            source.id,
            before={"merged_into": None, "status": source.status},
            after={"merged_into": target.number, "status": "closed"},
            at=self.clock(),
        )
        await self.add_event(merged, "event.merged_here", who=who, source=str(source.number))
        if reopens_on_merge(source.status, merged.status):
            merged = await self.update_by(merged, {"status": Status.OPEN.value}, who=who, names={})
        closed = await self.store.tickets.get_conversation(source.id)
        if closed is not None:
            self._tell_plugins(source, closed, ["status", "merged_into"])
            await self.add_event(closed, "event.merged_away", who=who, target=str(target.number))
        closed_now = {"status_after": Status.CLOSED.value, "status_changed_at": self.clock().isoformat()}
        self.bus.publish(Event("conversation.updated", source.id, {"changes": ["merged_into", "status"], **closed_now}))
        self.bus.publish(Event("conversation.updated", target.id, {"changes": ["messages"]}))
        return merged

    async def move_message(self, message: Message, source: Conversation, target: Conversation, *, who: str) -> Message:
        moved = await self.store.tickets.move_message(message.id, target.id)
        await audit.record(
            self.store,
            "message.move",
            "message",
            message.id,
            before={"ticket": source.number},
            after={"ticket": target.number},
            at=self.clock(),
        )
        await self.add_event(source, "event.message_moved_out", who=who, target=str(target.number))
        await self.add_event(target, "event.message_moved_in", who=who, source=str(source.number))
        return moved

    async def merge_contacts(self, source_id: str, target_id: str, *, who: str) -> Any:
        source = await self.store.contacts.get_contact(source_id)
        merged = await self.store.contacts.merge_contacts(source_id, target_id)
        await audit.record(
            self.store,
            "contact.merge",
            "contact",
            source_id,
            before={"merged_into": None},
            after={"merged_into": target_id},
            at=self.clock(),
        )
        label = (source.name or source.email or source_id) if source else source_id
        items, _ = await self.store.inbox.list_conversations(ConversationQuery(contact_id=target_id, limit=200))
        for conversation in items:
            await self.add_event(
                conversation,
                "event.contact_merged",
                who=who,
                source=label,
                target=merged.name or merged.email or merged.id,
            )
        return merged

    async def retry(self, message: Message) -> Message:
        """Queue a failed reply again; the inbox shows it pending at once."""
        requeued = await self.store.deliveries.requeue_delivery(message.id, now=self.clock())
        self._published("message.updated", requeued)
        self.wake_outbox()
        return requeued

    async def mark_read(self, agent_id: str, conversation: Conversation) -> None:
        """The agent has seen the ticket up to its latest customer message (a private marker:
        no thread event, no live event — other agents' unread counts do not change)."""
        if conversation.last_inbound_at is not None:
            await self.store.inbox.mark_read(agent_id, conversation.id, conversation.last_inbound_at)

    def typing(self, conversation_id: str, *, who: str, name: str = "", agent_id: str = "") -> None:
        data = {"who": who, "name": name, **({"agent_id": agent_id} if agent_id else {})}
        self.bus.publish(Event("typing", conversation_id, data))

    def viewing(self, conversation_id: str, *, agent_id: str, name: str) -> None:
        """An agent has the ticket open: for the other agents showing it (never the customer)."""
        self.bus.publish(Event("viewing", conversation_id, {"agent_id": agent_id, "name": name}))

    async def reply_failed(self, reply: Message, error: str) -> None:
        """A reply failed for good (the outbox gave up, or it bounced later). When it was a
        bot's answer to a customer on a resolved ticket, the ticket opens again for the agents,
        with the reason in the thread (progress.unanswered_on_resolved); a bot's message held
        back on an open ticket nobody has hands it to a person (progress.left_midway)."""
        ticket = await self.store.tickets.get_conversation(reply.conversation_id)
        code, detail = split_coded_error(error)
        if ticket is not None and left_midway(ticket, reply, code):
            updated = await self.update_conversation(ticket, {"handed_off_at": self.clock()})
            await self.add_event(updated, "event.bot_message_not_sent", error=detail[:300])
            return
        if ticket is None or ticket.status is not Status.RESOLVED:
            return
        thread = await self.store.tickets.list_messages(ticket.id)
        if not unanswered_on_resolved(ticket, reply, thread):
            return
        updated = await self.update_conversation(ticket, {"status": Status.OPEN})
        await self.add_event(updated, "event.bot_answer_failed", error=split_coded_error(error)[1][:300])

    async def hand_off(
        self,
        conversation: Conversation,
        *,
        reason: str,
        team: str,
        plugin: str,
        reasons: Mapping[str, str] | None = None,
    ) -> Conversation:
        """A plugin asks for a human, to `team` if given: a team that does not exist is
        refused before anything changes (the ticket would sit where no one sees it).
        `reasons` (locale -> text) lets each reader see the reason in their language."""
        changes: dict[str, Any] = {"handed_off_at": self.clock()}
        if team:
            await self._check_team(team, f"plugin {plugin} asked to hand the ticket to it")
            changes["team"] = team
        updated = await self.update_conversation(conversation, changes, priority_by=PrioritySource("plugin", plugin))
        if reason:
            names = {"reason": dict(reasons)} if reasons else {}
            event = ThreadEvent("event.handed_off_because", {"plugin": plugin, "reason": reason}, names)
            await self.add_thread_event(updated, event)
        else:
            await self.add_event(updated, "event.handed_off", plugin=plugin)
        return updated

    async def set_team(self, conversation: Conversation, team: str, *, plugin: str) -> Conversation:
        """A plugin files the ticket under `team`: one that does not exist is refused before
        anything changes, as for a hand-off."""
        if team:
            await self._check_team(team, f"plugin {plugin} asked to file the ticket under it")
        return await self.update_conversation(conversation, {"team": team})

    async def _check_team(self, team: str, why: str) -> None:
        if await self.store.desk.get_team(team) is None:
            raise InvalidInput(f"team: {team!r} is not a team ({why})")

    async def expected_team(self, conversation: Conversation, *, default_team: str | None = None) -> str:
        """The team the ticket is in or routing will put it in (routing.team_for): a new ticket
        has none until the router's turn, but its customer is greeted before that.
        `default_team`: the router's own rule (None: the hub's `[routing] default_team`)."""
        if conversation.team:
            return conversation.team
        category = await self.store.desk.get_category(conversation.category) if conversation.category else None
        fallback = self.default_team if default_team is None else default_team
        return team_for("", (category.default_team if category else "") or "", fallback)

    async def team_calendar(self, team: str) -> Calendar | None:
        """The team's working calendar for plugins (the greeting's out-of-hours notice)."""
        return await self.store.calendars.get_calendar(team) if team else None

    async def hand_over(
        self, conversation: Conversation, *, team: str, reason: str, who: str, agent_id: str
    ) -> Conversation:
        """Hand a ticket to another team: the thread stays, the team changes (and the assignee
        goes when not in it), the reason is kept as a private note, the history says who did it."""
        target = await self.store.desk.get_team(team)
        if target is None:
            raise InvalidInput(f"team: {team!r} is not a team")
        changes = handoff_changes(conversation.team, conversation.assignee_id, target, reason)
        updated = await self._store_changes(
            conversation,
            changes,
            PrioritySource("agent", agent_id or who),
            action="ticket.hand_over",
            why={"reason": reason.strip()},
            tell_plugins=False,
        )
        if conversation.team:
            event = ThreadEvent("event.handed_over", {"who": who, "source": conversation.team, "team": target.id})
        else:  # from no team: not "from team -" (a trial)
            event = ThreadEvent("event.handed_over_unteamed", {"who": who, "team": target.id})
        await self.add_thread_event(updated, named_teams(event, await self.team_labels()))
        if "assignee_id" in changes:
            await self.add_event(updated, "event.unassigned", who=who)
        self._tell_plugins(conversation, updated, list(changes))
        await self.add_note(updated, reason.strip(), author=agent_id, author_type=AuthorType.AGENT)
        self.bus.publish(
            Event("conversation.handed_over", updated.id, {"from_team": conversation.team, "to_team": target.id})
        )
        return updated

    async def _internal(self, message: Message) -> Message:
        await self.store.tickets.add_message(message)
        self._published("message.created", message)
        return message

    def _message(
        self,
        conversation: Conversation,
        text: str,
        kind: MessageKind,
        author_type: AuthorType,
        author_id: str,
        raw: dict[str, Any] | None = None,
    ) -> Message:
        """An internal message (a note or an event) of the ticket, not stored yet."""
        return Message(
            id=new_id(),
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction=Direction.OUTBOUND,
            kind=kind,
            author_type=author_type,
            author_id=author_id,
            text=self._kept_text(text, author_type),
            created_at=self.clock(),
            raw=raw,
        )

    def _kept_text(self, text: str, author_type: AuthorType) -> str:
        """What an agent writes is kept without card or resident ID numbers (hub/privacy.py)."""
        return redact_agent_text(text, self.language) if author_type is AuthorType.AGENT else text

    def _published(self, kind: str, message: Message) -> None:
        data = {"message_id": message.id, "kind": message.kind.value}
        self.bus.publish(Event(kind, message.conversation_id, data, message.author_type))


def describe_changes(
    before: Conversation,
    after: Conversation,
    *,
    who: str,
    names: dict[str, str],
    priority_by: PrioritySource | None = None,
) -> list[ThreadEvent]:
    """One event per change, for the thread (said in each reader's language)."""
    events = []
    if before.subject != after.subject:
        events.append(ThreadEvent("event.subject_changed", {"who": who, "subject": after.subject}))
    if before.status is not after.status or before.snoozed_until != after.snoozed_until:
        until = after.snoozed_until
        events.append(
            ThreadEvent("event.snoozed", {"who": who, "until": f"{until:%Y-%m-%d %H:%M}"})
            if until is not None and after.status is Status.SNOOZED
            else ThreadEvent("event.status_changed", {"who": who, "status": after.status.value})
        )
    if before.assignee_id != after.assignee_id:
        assignee = names.get(after.assignee_id, after.assignee_id)
        by_self = priority_by is not None and priority_by.kind == "agent" and priority_by.name == after.assignee_id
        if not after.assignee_id:
            events.append(ThreadEvent("event.unassigned", {"who": who}))
        elif by_self:  # "Li assigned this ticket to Li" read oddly (a trial)
            events.append(ThreadEvent("event.took", {"who": who}))
        else:
            events.append(ThreadEvent("event.assigned", {"who": who, "assignee": assignee}))
    if before.team != after.team:
        events.append(
            ThreadEvent("event.team_changed", {"who": who, "team": after.team})
            if after.team
            else ThreadEvent("event.team_removed", {"who": who})
        )
    if before.priority is not after.priority:
        by = (priority_by or PrioritySource("agent", who)).recorded
        events.append(
            ThreadEvent("event.priority_changed", {"who": who, "priority": after.priority.value, "set_by": by})
        )
    if before.category != after.category:
        events.append(
            ThreadEvent("event.category_changed", {"who": who, "category": after.category})
            if after.category
            else ThreadEvent("event.category_removed", {"who": who})
        )
    if before.fields != after.fields:
        changed = sorted(k for k in {*before.fields, *after.fields} if before.fields.get(k) != after.fields.get(k))
        events.append(ThreadEvent("event.fields_changed", {"who": who, "fields": ", ".join(changed)}))
    if before.tags != after.tags:
        events.append(
            ThreadEvent("event.tags_changed", {"who": who, "tags": ", ".join(after.tags)})
            if after.tags
            else ThreadEvent("event.tags_removed", {"who": who})
        )
    return events


TEAM_PARAMS = ("team", "source")  # the event parameters that hold a team's id
CATEGORY_PARAMS = ("category",)  # the event parameters that hold a category's id


FIELDS_PARAM = "fields"  # event.fields_changed: the changed fields' keys, ", "-joined


def named_fields(event: ThreadEvent, labels: Mapping[str, Mapping[str, str]]) -> ThreadEvent:
    """The event with the changed fields by their labels in each language ("订单号", not
    "order_no": a trial read the key); a field deleted since keeps its key."""
    keys = event.params[FIELDS_PARAM].split(", ")
    languages = {tag for key in keys for tag in labels.get(key, {})} | {"en", "zh-CN"}
    joined = {tag: ", ".join(name_in(labels.get(key, {}), tag) or key for key in keys) for tag in sorted(languages)}
    return ThreadEvent(event.key, event.params, {**event.names, FIELDS_PARAM: joined})


def named_teams(event: ThreadEvent, teams: Mapping[str, Mapping[str, str]]) -> ThreadEvent:
    """The event with the names of the teams it mentions, so each reader sees a name in their
    language (a team deleted since keeps its id)."""
    names = {p: dict(teams[v]) for p, v in event.params.items() if p in TEAM_PARAMS and v in teams}
    return ThreadEvent(event.key, event.params, {**event.names, **names}) if names else event


FINAL = (Status.RESOLVED.value, Status.CLOSED.value)  # a ticket in one of these needs its required fields

# The event each source of a priority leaves (an agent's is event.priority_changed, with their name).
RULE_EVENTS = {
    "keywords": ("event.keyword_priority", "keyword"),
    "category": ("event.category_priority", "category"),
    "tier": ("event.tier_priority", "tier"),
}


def priority_event(by: PrioritySource, priority: Priority) -> ThreadEvent:
    """What the thread says when a rule, a plugin or the hub set the priority; `set_by` is what
    the ticket records, so a reader of the raw event sees who, whatever the language."""
    params = {"priority": priority.value, "set_by": by.recorded}
    if by.kind == "rule" and by.name in RULE_EVENTS:
        key, detail = RULE_EVENTS[by.name]
        return ThreadEvent(key, {**params, detail: by.detail})
    if by.kind == "plugin":
        return ThreadEvent("event.plugin_priority", {**params, "plugin": by.name})
    return ThreadEvent("event.priority_set", {**params, "by": by.recorded})
