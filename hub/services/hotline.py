"""Hotline calls and callback tasks: every change is validated here, stored, told to the
thread (a keyed event) and published live.

A call opens or joins a ticket the way a channel's message does: `record_inbound` on the
`phone` channel, with the caller's E.164 number as identity and thread, so the caller is a
contact like any other (joined to others only through verified data, conversation/identity.py),
a call joins the caller's open ticket or opens one, and the call id is the idempotency key:
a retried request or webhook finds the stored call and writes nothing twice. The call itself
is a system event in the thread (`record_only`), never the customer's words: the agent's notes
are the agent's private note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from conversation.callbacks import Callback, CallbackStatus, check_new_callback
from conversation.calls import (
    PHONE_CHANNEL,
    Call,
    CallDirection,
    CallOutcome,
    CallState,
    call_after,
    check_recording_url,
    normalise_number,
    reported_times,
)
from conversation.desk import teams_of
from conversation.errors import InvalidInput
from conversation.inbound import Inbound, InboundLimits, Sender, validate_inbound
from conversation.model import AuthorType, Conversation, Status, new_id, to_ms
from conversation.routing import Route, opens_ticket, route_inbound
from conversation.store import NotFound, Store, Ticketing
from hub.events import Event, EventBus
from hub.services import audit
from hub.services.conversations import ConversationService
from hub.thread_events import ThreadEvent

MAX_DURATION_SECONDS = 24 * 3600
CLOCK_SKEW = timedelta(minutes=5)  # a start time this far ahead of the hub's clock is still "now"


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A callback task asked for with a call or from a ticket."""

    due_at: datetime
    owner_id: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class CallForm:
    """What an agent logs about one call (or a telephony system reports)."""

    number: str  # as typed: normalised to E.164 here
    direction: CallDirection
    started_at: datetime | None = None  # None: now
    duration_seconds: int | None = None
    outcome: CallOutcome | None = None
    category: str = ""
    notes: str = ""
    conversation_id: str = ""  # log it on this ticket (else the caller's open one, or a new one)
    call_id: str = ""  # the caller's key for retries ("" for a fresh one)
    recording_url: str = ""
    callback: CallbackRequest | None = None


@dataclass(frozen=True, slots=True)
class LoggedCall:
    call: Call
    conversation: Conversation
    callback: Callback | None
    duplicate: bool  # this call id was logged before: nothing was written


def _timed(key: str, seconds: int | None) -> tuple[str, dict[str, str]]:
    """A call event's key and duration: without a duration, its `_untimed` form says
    "duration unknown" rather than "? s"."""
    return (f"{key}_untimed", {}) if seconds is None else (key, {"duration": str(seconds)})


def agent_thread(number: str, agent_id: str) -> str:
    """The phone thread of one agent's calls with a caller whose open ticket that agent may not
    change (another team's): the call is theirs to log, the other ticket stays out of their sight."""
    return f"{number}~{agent_id}"


def _until(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"  # UTC, as the inbox's event times (it shows them in the agent's zone)


class HotlineService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        conversations: ConversationService,
        *,
        default_region: str = "CN",
        missed_callback: timedelta = timedelta(minutes=30),
        ticketing: Ticketing | None = None,
        limits: InboundLimits | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.conversations = conversations
        self.default_region = default_region
        self.missed_callback = missed_callback
        # Stored as already processed: bots never answer a phone call in a chat channel's way.
        self.ticketing = replace(ticketing or Ticketing(), plugins_enabled=False)
        self.limits = limits or InboundLimits()

    def clock(self) -> datetime:
        return self.conversations.clock()

    # -- calls ------------------------------------------------------------------------
    async def log_call(
        self,
        form: CallForm,
        *,
        who: str,
        agent_id: str,
        may_join: Callable[[Conversation], bool] | None = None,
    ) -> LoggedCall:
        """An agent's call: validated whole before anything is written. `may_join`: whether the
        agent may change the caller's open ticket; when not, the call goes on a ticket of the
        agent's own with that caller (`agent_thread`), so logging a call never reveals or changes
        a ticket the agent may not see."""
        number = normalise_number(form.number, self.default_region)
        now = self.clock()
        started_at = self._start_time(form.started_at, now)
        if form.duration_seconds is not None and not 0 <= form.duration_seconds <= MAX_DURATION_SECONDS:
            raise InvalidInput(f"duration_seconds must be between 0 and {MAX_DURATION_SECONDS}")
        if form.category and await self.store.desk.get_category(form.category) is None:
            raise InvalidInput(f"category {form.category!r} is not a category")
        if form.callback is not None:
            await self._check_callback(form.callback, now)
        elif form.outcome is CallOutcome.CALLBACK:
            raise InvalidInput('callback: the outcome "callback" needs a callback task (its due_at)')
        if form.conversation_id and await self.store.tickets.get_conversation(form.conversation_id) is None:
            raise NotFound(f"conversation {form.conversation_id}")
        state = CallState.MISSED if form.outcome is CallOutcome.MISSED else CallState.ENDED
        if form.outcome is None:  # the form's default, as its event says (a trial read null beside "follow-up")
            form = replace(form, outcome=CallOutcome.FOLLOW_UP)
        thread = await self._phone_thread(form, number, agent_id, may_join)
        call, conversation, fresh = await self._record(
            form, number, started_at, state, agent_id=agent_id, thread=thread
        )
        if not fresh:
            return LoggedCall(call, conversation, None, duplicate=True)
        logged = {
            "ticket": conversation.number,
            "number": number,
            "direction": call.direction,
            "duration_seconds": call.duration_seconds,
            "outcome": call.outcome,
        }
        await audit.record(self.store, "call.log", "call", call.id, after=logged, at=now)
        key, timed = _timed("event.call_logged", call.duration_seconds)
        await self.conversations.add_event(
            conversation,
            key,
            who=who,
            direction=call.direction.value,
            number=number,
            **timed,
            outcome=(form.outcome or CallOutcome.FOLLOW_UP).value,
        )
        if form.notes.strip():  # what the agent wrote is theirs: a private note, never the customer's text
            await self.conversations.add_note(
                conversation, form.notes.strip(), author=agent_id, author_type=AuthorType.AGENT
            )
        conversation = await self._after_call(conversation, form, who=who, agent_id=agent_id)
        callback = None
        if form.callback is not None:
            callback = await self.add_callback(
                conversation, form.callback, number=number, who=who, by=agent_id, call_id=call.id
            )
        return LoggedCall(call, conversation, callback, duplicate=False)

    async def _after_call(self, conversation: Conversation, form: CallForm, *, who: str, agent_id: str) -> Conversation:
        """The ticket's category and status as the agent chose on the form, each with its event.
        An unowned ticket becomes the logging agent's: they took the call, and a category that
        routes it to another team must not hide it from them (hub/access.py)."""
        changes: dict[str, Any] = {}
        if agent_id and not conversation.assignee_id:
            changes["assignee_id"] = agent_id
        if agent_id and form.outcome is not CallOutcome.MISSED and conversation.first_response_at is None:
            # The agent spoke with the customer: that is the ticket's first response (SLA), as a reply would be.
            changes["first_response_at"] = self._start_time(form.started_at, self.clock())
        if form.category and form.category != conversation.category:
            changes["category"] = form.category
        if form.outcome is CallOutcome.RESOLVED and conversation.status is not Status.RESOLVED:
            changes["status"] = Status.RESOLVED
        planned = replace(conversation, category=changes.get("category", conversation.category))
        team, source = ("", "") if conversation.team else await self._call_team(planned, agent_id)
        if team:  # routing skips a ticket someone owns: without this it would stay teamless (a trial)
            changes["team"] = team
        if not changes:
            return conversation
        names = {a.id: a.name or a.email for a in await self.store.accounts.list_agents()}
        updated = await self.conversations.update_by(conversation, changes, who=who, names=names, agent_id=agent_id)
        if source:  # as routing records it: a category set later may still move it
            await self.conversations.record_team_source(updated, source)
        return updated

    async def _call_team(self, conversation: Conversation, agent_id: str) -> tuple[str, str]:
        """The team of a ticket a call opened with none, and where it came from, as routing
        gives it (`expected_team`: its category's, else `[routing] default_team`; the source as
        routing records it), else the first of the logging agent's teams ("default": a category
        set later may still move it). Its SLA clocks follow that team's calendar, and its team's
        supervisors and reports see it."""
        team = await self.conversations.expected_team(conversation)
        if team:
            return team, "category" if team != self.conversations.default_team else "default"
        joined = teams_of(agent_id, await self.store.desk.list_teams()) if agent_id else []
        return (joined[0].id, "default") if joined else ("", "")

    def _start_time(self, started_at: datetime | None, now: datetime) -> datetime:
        if started_at is None:
            return now
        if started_at > now + CLOCK_SKEW:
            raise InvalidInput("started_at is in the future")
        return to_ms(started_at)  # what every backend keeps

    async def _phone_thread(
        self, form: CallForm, number: str, agent_id: str, may_join: Callable[[Conversation], bool] | None
    ) -> str:
        """The thread a call without a ticket named joins: the caller's number, unless the ticket
        open there is one the agent may not change."""
        if form.conversation_id or may_join is None:
            return number
        latest = await self.store.tickets.latest_on_thread(PHONE_CHANNEL, number)
        if latest is None or opens_ticket(route_inbound(latest, self.clock(), self.ticketing.reopen_window)):
            return number
        return number if may_join(latest) else agent_thread(number, agent_id)

    async def _record(
        self,
        form: CallForm,
        number: str,
        started_at: datetime,
        state: CallState,
        *,
        agent_id: str,
        thread: str = "",
    ) -> tuple[Call, Conversation, bool]:
        """The call's event in the thread and its record; (call, ticket, whether this wrote them)."""
        call_id = form.call_id or new_id()
        summary = ThreadEvent("call.summary", {"direction": form.direction.value, "number": number})
        inbound = Inbound(
            channel=PHONE_CHANNEL,
            external_id=f"call:{call_id}",
            sender=Sender(address=number, display_name=number),
            thread_key=thread or number,
            text=summary.text(self.conversations.language),
            conversation_hint=form.conversation_id,
            sent_at=started_at,
            raw={"call": {"id": call_id, "direction": form.direction.value, "number": number}, **summary.as_raw()},
            record_only=True,
        )
        inbound = validate_inbound(inbound, self.limits)  # the checks every channel's message passes
        record = await self.store.tickets.record_inbound(inbound, now=self.clock(), policy=self.ticketing)
        call = Call(
            id=call_id,
            number=number,
            direction=form.direction,
            state=state,
            started_at=started_at,
            conversation_id=record.conversation.id,
            message_id=record.message.id,
            duration_seconds=form.duration_seconds,
            outcome=CallOutcome.MISSED if state is CallState.MISSED else form.outcome,
            recording_url=form.recording_url,
            agent_id=agent_id,
            updated_at=self.clock(),
        )
        inserted = await self.store.calls.insert_call(call)
        if not inserted:  # a retry: the stored call is the truth
            stored = await self.store.calls.get_call(call_id)
            return stored or call, record.conversation, False
        if not record.duplicate:
            kind = "conversation.created" if record.route is Route.OPEN_NEW else "conversation.updated"
            self.bus.publish(Event(kind, record.conversation.id, {"number": record.conversation.number}))
            self.bus.publish(
                Event("message.created", record.conversation.id, {"message_id": record.message.id, "kind": "event"})
            )
        return call, record.conversation, True

    # -- the telephony webhook ----------------------------------------------------------
    async def telephony_event(
        self,
        *,
        call_id: str,
        event: CallState,
        number: str,
        direction: CallDirection,
        at: datetime | None,
        duration_seconds: int | None,
        recording_url: str,
    ) -> LoggedCall:
        """A telephony system's report: started, ended or missed. Idempotent by call id."""
        caller = normalise_number(number, self.default_region)
        recording_url = check_recording_url(recording_url)
        now = self.clock()
        happened = self._start_time(at, now)  # the event's own time (not ahead of the hub's clock)
        stored = await self.store.calls.get_call(call_id)
        if stored is None:
            started_at, duration_seconds = reported_times(event, happened, duration_seconds)
            form = CallForm(
                number=caller,
                direction=direction,
                duration_seconds=duration_seconds,
                call_id=call_id,
                recording_url=recording_url,
                outcome=CallOutcome.MISSED if event is CallState.MISSED else None,
            )
            call, conversation, fresh = await self._record(form, caller, started_at, event, agent_id="")
            if fresh:
                return await self._reported(call, conversation)
            stored = call  # another report of this call got there first: this one applies to it
        _, duration_seconds = reported_times(event, happened, duration_seconds, started_at=stored.started_at)
        updated = call_after(stored, event, duration=duration_seconds, recording_url=recording_url, at=now)
        ticket = await self._ticket_of(stored)
        if updated is None or not await self.store.calls.replace_call(updated, expected_state=stored.state):
            return LoggedCall(stored, ticket, None, duplicate=True)  # retried, late, or another hub did it
        return await self._reported(updated, ticket)

    async def _ticket_of(self, call: Call) -> Conversation:
        """The ticket a call is on now (the one it was merged into, if agents merged it)."""
        ticket = await self.store.tickets.get_conversation(call.conversation_id)
        if ticket is not None and ticket.merged_into:
            ticket = await self.store.tickets.get_conversation(ticket.merged_into) or ticket
        if ticket is None:
            raise NotFound(f"conversation {call.conversation_id}")
        return ticket

    async def _reported(self, call: Call, conversation: Conversation) -> LoggedCall:
        """The thread event for a call's new state; a missed call becomes a callback task."""
        if call.state is CallState.STARTED:
            await self.conversations.add_event(
                conversation, "event.call_started", direction=call.direction.value, number=call.number
            )
        elif call.state is CallState.ENDED:
            if call.recording_url:
                key, timed = _timed("event.call_ended_recorded", call.duration_seconds)
                await self.conversations.add_event(
                    conversation, key, number=call.number, **timed, recording=call.recording_url
                )
            else:
                key, timed = _timed("event.call_ended", call.duration_seconds)
                await self.conversations.add_event(conversation, key, number=call.number, **timed)
        else:
            await self.conversations.add_event(conversation, "event.call_missed", number=call.number)
            request = CallbackRequest(self.clock() + self.missed_callback, owner_id=conversation.assignee_id)
            callback = await self.add_callback(
                conversation, request, number=call.number, who="", by="", call_id=call.id, task_id=f"call:{call.id}"
            )
            return LoggedCall(call, conversation, callback, duplicate=False)
        return LoggedCall(call, conversation, None, duplicate=False)

    # -- callback tasks -----------------------------------------------------------------
    async def _check_callback(self, request: CallbackRequest, now: datetime) -> None:
        check_new_callback(request.due_at, request.note, now)
        if request.owner_id and await self.store.accounts.get_agent(request.owner_id) is None:
            raise InvalidInput("owner_id: no such agent")

    async def add_callback(
        self,
        conversation: Conversation,
        request: CallbackRequest,
        *,
        number: str,
        who: str,
        by: str,
        call_id: str = "",
        task_id: str = "",
    ) -> Callback:
        """A task on the ticket; `task_id` makes a system's task once-only (a missed call's)."""
        caller = normalise_number(number, self.default_region)
        if not task_id:  # a system's task (a missed call's) is due by the hub's own rule
            await self._check_callback(request, self.clock())
        callback = Callback(
            id=task_id or new_id(),
            conversation_id=conversation.id,
            number=caller,
            owner_id=request.owner_id,
            due_at=request.due_at,
            created_at=self.clock(),
            note=request.note.strip(),
            call_id=call_id,
            created_by=by,
        )
        if not await self.store.callbacks.add_callback(callback):
            return await self.store.callbacks.get_callback(callback.id) or callback
        task = {
            "ticket": conversation.number,
            "number": caller,
            "owner_id": callback.owner_id,
            "due_at": callback.due_at,
        }
        await audit.record(self.store, "callback.create", "callback", callback.id, after=task | {"note": callback.note})
        until = _until(callback.due_at)
        if who:
            await self.conversations.add_event(
                conversation, "event.callback_created", who=who, number=caller, until=until
            )
        else:
            await self.conversations.add_event(
                conversation, "event.callback_for_missed_call", number=caller, until=until
            )
        self._published("callback.created", callback)
        return callback

    async def close_callback(self, callback_id: str, status: CallbackStatus, *, who: str, by: str) -> Callback:
        """Done or cancelled, once; NotFound for an unknown task, InvalidInput for a closed one."""
        if status is CallbackStatus.OPEN:
            raise InvalidInput("status: a task is closed as done or cancelled")
        existing = await self.store.callbacks.get_callback(callback_id)
        if existing is None:
            raise NotFound(f"callback {callback_id}")
        closed = await self.store.callbacks.close_callback(callback_id, status, by=by, now=self.clock())
        if closed is None:
            raise InvalidInput(f"the callback is already {existing.status.value}")
        await audit.record(
            self.store,
            "callback.close",
            "callback",
            callback_id,
            before={"status": existing.status},
            after={"status": status},
        )
        conversation = await self.store.tickets.get_conversation(closed.conversation_id)
        if conversation is not None:
            key = "event.callback_done" if status is CallbackStatus.DONE else "event.callback_cancelled"
            await self.conversations.add_event(conversation, key, who=who, number=closed.number)
        self._published("callback.updated", closed)
        return closed

    async def raise_due(self) -> int:
        """Raise every open task whose time has come, once across hubs: an event in its
        thread and a live `callback.due` that tells its owner's inbox. How many were raised."""
        now = self.clock()
        raised = 0
        for callback in await self.store.callbacks.due_callbacks(now):
            if not await self.store.callbacks.mark_raised(callback.id, now):
                continue  # another hub raised it
            conversation = await self.store.tickets.get_conversation(callback.conversation_id)
            if conversation is not None:
                await self.conversations.add_event(
                    conversation, "event.callback_due", number=callback.number, until=_until(callback.due_at)
                )
            self._published("callback.due", replace(callback, raised_at=now))
            raised += 1
        return raised

    def _published(self, kind: str, callback: Callback) -> None:
        self.bus.publish(
            Event(
                kind,
                callback.conversation_id,
                # the number: the owner's inbox says whom to call back
                {
                    "callback_id": callback.id,
                    "owner_id": callback.owner_id,
                    "status": callback.status.value,
                    "number": callback.number,
                },
            )
        )
