"""SLA in the running hub: keeps each ticket's SLA state (pauses, the customer's open wait),
shows its clocks, and climbs the escalation ladder when a step comes due.

The rules are conversation/sla.py; this module only reads, stores and acts:
- `track` follows the live events of this process (status changes, team moves, messages) into the
  ticket's SLA state, stored with compare-and-set in the coordination area's per-ticket state;
- `check_due` is the due-check job (like the snooze waker): run by one hub at a time under
  the lease `sla-escalation`. Each step happens exactly once across hubs and restarts
  (conversation/sla.py says how): claimed in the ticket's state by compare-and-set with this
  hub's name and a lease (STEP_LEASE), acted on with effects stored under their own keys
  (the thread event, the lead told, each backup page, the move: a retry repeats none of
  them), then marked done. A hub that dies between claiming and finishing leaves the step
  claimed; once the claim's lease ran out, the next due check (any hub's) finishes it;
- `views` gives the clocks for the API and the inbox.

The engine tells the lead and pages backup itself, through the routing service, as part of
the step. Notices it publishes on the EventBus (`conversation_id` set), once per step, by
the hub that stored the step's thread event:
- `sla.warning`: the assignee's ticket used `warn_percent` of a target;
- `sla.breached`: a target is missed (the lead was told);
- `backup.page_requested` (PAGE_BACKUP_EVENT): the team's on-duty backup staff were paged
  for the breach; data: team, reason "sla_breach", clock, policy;
- `sla.escalated`: the ticket moved to the policy's higher tier.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conversation.business_time import ALWAYS_OPEN, Calendar, NeverOpen
from conversation.model import Conversation, ConversationQuery, Status, new_id
from conversation.roster import team_people
from conversation.sla import (
    BREACH,
    ESCALATE,
    STATE_PLUGIN,
    WARN,
    Clock,
    SlaPolicy,
    SlaState,
    claim_step,
    clocks,
    due_steps,
    effect_key,
    finish_step,
    keeps_assignee_on_escalation,
    moves_on_escalation,
    policy_for,
    state_after_message,
    state_after_status,
    state_after_team,
    step_key,
)
from conversation.store import Store, StoreUnavailable
from hub.api.serialize import iso
from hub.events import Event, EventBus, Subscription, moved_at, status_change, team_move
from hub.services.conversations import ConversationService
from hub.thread_events import ThreadEvent

if TYPE_CHECKING:
    from hub.services.routing import RoutingService

log = logging.getLogger(__name__)
UNASSIGNED_KEY = "event.sla_escalated_unassigned"  # moved, and its agent is not of that team

SLA_WARNING_EVENT = "sla.warning"
SLA_BREACHED_EVENT = "sla.breached"
SLA_ESCALATED_EVENT = "sla.escalated"
PAGE_BACKUP_EVENT = "backup.page_requested"
LEASE_NAME = "sla-escalation"
LEASE = timedelta(seconds=60)
STEP_LEASE = timedelta(seconds=60)  # how long a claimed step is left to its hub before another takes it over
BATCH = 1000
CHECKED_STATUSES = (Status.OPEN, Status.SNOOZED)  # pending, resolved and closed tickets' clocks are paused or stopped
CAS_ATTEMPTS = 8


class SlaEngine:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        actions: ConversationService,
        policies: Sequence[SlaPolicy],
        *,
        routing: RoutingService | None = None,
        owner: str = "",
        on_breach: Callable[[str, str, str], None] = lambda team, clock, policy: None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.actions = actions
        self.policies = tuple(policies)
        self.routing = routing  # tells the lead and pages backup (None: the steps leave only their events)
        self.owner = owner or f"sla-{new_id()}"  # this hub's name on the steps it claims
        self.on_breach = on_breach  # counts breaches (helpline_sla_breaches_total)
        self._subscription: Subscription | None = None

    def now(self) -> datetime:
        return self.actions.clock()  # one clock with the services (tests move it)

    # -- state ----------------------------------------------------------------------
    async def state(self, conversation_id: str) -> SlaState:
        return SlaState.from_json(await self.store.coordination.get_plugin_state(conversation_id, STATE_PLUGIN))

    async def _change_state(
        self, conversation_id: str, change: Callable[[SlaState], SlaState | None]
    ) -> SlaState | None:
        """Apply `change` with compare-and-set, retrying when another writer got there first;
        `change` returning None means "leave it" (and the call returns None)."""
        for _ in range(CAS_ATTEMPTS):
            raw, version = await self.store.coordination.load_plugin_state(conversation_id, STATE_PLUGIN)
            current = SlaState.from_json(raw)
            changed = change(current)
            if changed is None:
                return None
            if changed == current:
                return current
            if await self.store.coordination.set_plugin_state(
                conversation_id, STATE_PLUGIN, changed.to_json(), version=version
            ):
                return changed
        raise RuntimeError(f"SLA state of {conversation_id} kept changing under us")

    async def track(self, event: Event) -> None:
        """Follow one live event into the ticket's SLA state."""
        changes = event.data.get("changes", []) if event.type == "conversation.updated" else []
        move = team_move(event)
        if "status" in changes or move is not None:
            conv = await self.store.tickets.get_conversation(event.conversation_id)
            if conv is not None:
                status, now, created = conv.status, self.now(), conv.created_at
                if "status" in changes:
                    # the status it took and when, however late this reads it (else the ticket's now)
                    status, when = status_change(event) or (status, now)
                    await self._change_state(conv.id, lambda s: state_after_status(s, status, when))
                if move is not None:
                    before, after = move
                    at = moved_at(event) or now  # when it was moved, however late this reads it
                    await self._change_state(
                        conv.id, lambda s: state_after_team(s, before, after, at=at, created_at=created)
                    )
        elif event.type == "message.created" and event.data.get("kind") == "message":
            message = await self.store.tickets.get_message(event.data.get("message_id", ""))
            conv = await self.store.tickets.get_conversation(event.conversation_id)
            if message is not None and conv is not None:
                written, ticket = message, conv
                await self._change_state(ticket.id, lambda s: state_after_message(s, written, ticket))

    def start_tracking(self) -> Subscription:
        """Subscribe to this process's live events (before anything is published)."""
        self._subscription = self.bus.subscribe(maxsize=10_000)
        return self._subscription

    def stop_tracking(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def track_next(self) -> None:
        """One step of the supervised loop: the next live event, into the SLA state.
        A store that is down loses that event's update; the due check catches a status up."""
        subscription = self._subscription or self.start_tracking()
        event = await subscription.queue.get()
        try:
            await self.track(event)
        except StoreUnavailable:
            log.warning("SLA: the store is unavailable; the state of %s is caught up later", event.conversation_id)

    # -- clocks ---------------------------------------------------------------------
    async def calendars(self) -> dict[str, Calendar]:
        return await self.store.calendars.list_calendars()

    def clocks_of(
        self, conversation: Conversation, state: SlaState, calendars: dict[str, Calendar], now: datetime
    ) -> tuple[SlaPolicy, list[Clock]] | None:
        policy = policy_for(self.policies, conversation)
        if policy is None:
            return None
        state = state_after_status(state, conversation.status, now)  # a status change not yet tracked
        calendar = calendars.get(conversation.team, ALWAYS_OPEN)
        try:
            return policy, clocks(conversation, state, policy, calendar, now, calendars)
        except NeverOpen:  # a team calendar without hours: no deadline can be given
            return policy, []

    async def views(self, conversations: Iterable[Conversation]) -> dict[str, dict[str, Any] | None]:
        """The `sla` member of each ticket's JSON: its policy and clocks, or None without a policy."""
        conversations = list(conversations)
        if not self.policies or not conversations:
            return {c.id: None for c in conversations}
        calendars = await self.calendars()
        now = self.now()
        states = await asyncio.gather(*(self.state(c.id) for c in conversations))
        result: dict[str, dict[str, Any] | None] = {}
        for conv, state in zip(conversations, states, strict=True):
            found = self.clocks_of(conv, state, calendars, now)
            if found is None:
                result[conv.id] = None
            else:
                result[conv.id] = {"policy": found[0].name, "clocks": [clock_json(c) for c in found[1]]}
        return result

    # -- the ladder -------------------------------------------------------------------
    async def check_due(self) -> int:
        """Fire every ladder step that has come due; how many fired."""
        if not self.policies:
            return 0
        calendars = await self.calendars()
        fired = 0
        for status in CHECKED_STATUSES:
            tickets, _ = await self.store.inbox.list_conversations(ConversationQuery(status=status, limit=BATCH))
            for conv in tickets:
                fired += await self._check_ticket(conv, calendars)
        return fired

    async def _check_ticket(self, conv: Conversation, calendars: dict[str, Calendar]) -> int:
        now = self.now()
        found = self.clocks_of(conv, await self.state(conv.id), calendars, now)
        if found is None:
            return 0
        policy, ticket_clocks = found
        fired = 0
        for clock in ticket_clocks:
            state = await self.state(conv.id)
            for step in due_steps(clock, policy, state.fired, state.claims):
                key = step_key(clock, step)
                claim = functools.partial(claim_step, key=key, owner=self.owner, now=now, lease=STEP_LEASE)
                if await self._change_state(conv.id, claim) is None:
                    break  # another hub is on it: the steps above wait for it, so the ladder stays in order
                conv = await self._act(conv, policy, clock, step, key)
                if await self._change_state(conv.id, functools.partial(finish_step, key=key, now=now)) is not None:
                    fired += 1
                    if step == BREACH:
                        self.on_breach(conv.team, clock.kind, policy.name)
        return fired

    async def _act(self, conv: Conversation, policy: SlaPolicy, clock: Clock, step: str, key: str) -> Conversation:
        """The step's effects, each stored under its own key: acting again (a hub taking over
        a step whose hub died) makes only those not made yet."""
        data = {"team": conv.team, "assignee_id": conv.assignee_id, "clock": clock.kind, "policy": policy.name}
        once = functools.partial(effect_key, conv.id, key)
        if step == WARN:
            event = ThreadEvent("event.sla_warning", {"clock": clock.kind, "percent": f"{policy.warn_percent:g}"})
            if (await self.actions.add_thread_event_once(conv, event, once("event")))[1]:
                self.bus.publish(Event(SLA_WARNING_EVENT, conv.id, data))
        elif step == BREACH:
            event = ThreadEvent("event.sla_breached", {"clock": clock.kind})
            new = (await self.actions.add_thread_event_once(conv, event, once("event")))[1]
            if self.routing is not None:
                await self.routing.tell_lead(conv, clock.kind, once=once("lead"))
                await self.routing.page_for(conv, "sla", once=once("page"), number=str(conv.number), clock=clock.kind)
            if new:
                self.bus.publish(Event(SLA_BREACHED_EVENT, conv.id, data))
                self.bus.publish(Event(PAGE_BACKUP_EVENT, conv.id, {**data, "reason": "sla_breach"}))
        elif step == ESCALATE:
            conv = await self._escalate(conv, policy, clock, once("event"), data)
        return conv

    async def _escalate(
        self, conv: Conversation, policy: SlaPolicy, clock: Clock, once: str, data: dict[str, Any]
    ) -> Conversation:
        """The event first, then the move: a retry finds the event it wrote (moving or staying)
        and finishes the move it says."""
        target = policy.escalate_to_team
        team = await self.store.desk.get_team(target)
        if team is None:
            log.warning("SLA policy %s escalates to team %r, which does not exist", policy.name, target)
            return conv
        people = team_people(team.members, await self.store.roster.list_entries(target))
        conv = await self.store.tickets.get_conversation(conv.id) or conv  # as it is now: whose it is
        moves = moves_on_escalation(conv.team, policy)
        params: dict[str, Any] = {"clock": clock.kind, "team": target}
        key = "event.sla_escalated" if moves else "event.sla_already_with"
        if moves and conv.assignee_id and not keeps_assignee_on_escalation(conv.assignee_id, people):
            key = UNASSIGNED_KEY  # said, not done quietly (a trial)
            params["agent"] = await self.routing.name_of(conv.assignee_id) if self.routing else conv.assignee_id
        stored, new = await self.actions.add_thread_event_once(conv, ThreadEvent(key, params), once)
        if (stored.raw or {}).get("event", {}).get("key") not in ("event.sla_escalated", UNASSIGNED_KEY):
            return conv  # already with the higher tier: it stays, and nobody's ticket is taken away
        fresh = await self.store.tickets.get_conversation(conv.id) or conv
        if fresh.team != target:
            changes = {"team": target}
            if not keeps_assignee_on_escalation(fresh.assignee_id, people):
                changes["assignee_id"] = ""
            conv = await self.actions.update_conversation(fresh, changes)
        if new:
            self.bus.publish(Event(SLA_ESCALATED_EVENT, conv.id, {**data, "to_team": target}))
        return conv

    async def loop_step(self, owner: str, interval: float) -> None:
        """One round of the supervised loop: wait, then check what is due if this hub holds the lease
        (waiting first keeps a starting hub's first moments for its channels)."""
        await asyncio.sleep(interval)
        if await self.store.coordination.acquire_lease(LEASE_NAME, owner, now=self.now(), ttl=LEASE):
            await self.check_due()


def clock_json(clock: Clock) -> dict[str, Any]:
    return {
        "kind": clock.kind,
        "target_seconds": clock.target.total_seconds(),
        "elapsed_seconds": clock.elapsed.total_seconds(),
        "remaining_seconds": clock.remaining.total_seconds(),
        "percent": round(clock.percent, 1),
        "due_at": iso(clock.due_at),
        "paused": clock.paused,
        "breached": clock.breached,
        "met": clock.met,
    }
