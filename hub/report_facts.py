"""Keeps each ticket's report fact (conversation/reports.py) as the ticket changes: the
business-time first response when the first agent reply is stored, the resolution time and
SLA outcome when it is resolved, one more reopen when it is worked again.

It follows this process's live events, like the SLA state (hub/sla.py), so every hub keeps
the facts of the changes it made; the figures are then read from the store by any hub.
A fact written twice for the same change is the same fact: the writes are idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from conversation.business_time import ALWAYS_OPEN
from conversation.model import AuthorType
from conversation.reports import fact_after
from conversation.sla import STATE_PLUGIN, SlaPolicy, SlaState, policy_for, state_after_team
from conversation.store import Store, StoreUnavailable
from hub.events import Event, EventBus, Subscription, team_move

log = logging.getLogger(__name__)

# Ticket changes that may stop or restart a clock: a status, or a first response given on a call.
CLOCK_CHANGES = frozenset({"status", "first_response_at"})
# Messages that may be a first response: an agent's, or one whose author the event does not name.
RESPONDERS = frozenset({"", AuthorType.AGENT.value})


def may_change_fact(event: Event) -> bool:
    """Whether a live event may change a ticket's fact: the bus queues nothing else for the
    tracker (a customer's message, most often, which would cost it two reads to drop)."""
    if event.type == "message.created":
        return event.data.get("kind") == "message" and event.author_type in RESPONDERS
    return event.type == "conversation.updated" and bool(CLOCK_CHANGES & set(event.data.get("changes", [])))


class ReportFacts:
    def __init__(
        self, store: Store, bus: EventBus, policies: Sequence[SlaPolicy], clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.bus = bus
        self.policies = tuple(policies)
        self.clock = clock
        self._subscription: Subscription | None = None

    async def note(self, event: Event) -> None:
        """Bring the ticket's fact up to date after one live event that may stop or restart a clock."""
        responder, resolver = "", ""
        if event.type == "message.created" and event.data.get("kind") == "message":
            fact = await self.store.reports.get_fact(event.conversation_id)
            if fact is not None and fact.first_response_s is not None:
                return  # the first response is counted; a reply changes nothing more
            message = await self.store.tickets.get_message(event.data.get("message_id", ""))
            if message is None or message.author_type is not AuthorType.AGENT:
                return
            responder = message.author_id
        elif not (event.type == "conversation.updated" and CLOCK_CHANGES & set(event.data.get("changes", []))):
            return
        else:
            resolver = event.data.get("actor", "")  # the agent whose change it was (none: a rule, the system)
        await self.update(event.conversation_id, responder_id=responder, resolver_id=resolver, move=team_move(event))

    async def update(
        self,
        conversation_id: str,
        *,
        responder_id: str = "",
        resolver_id: str = "",
        move: tuple[str, str] | None = None,
    ) -> None:
        """`move`: the team change (from, to) of the event that asked, which the SLA tracker,
        following the same event, may not have recorded yet: counted here all the same (once)."""
        conv = await self.store.tickets.get_conversation(conversation_id)
        if conv is None:
            return
        previous = await self.store.reports.get_fact(conv.id)
        state = SlaState.from_json(await self.store.coordination.get_plugin_state(conv.id, STATE_PLUGIN))
        if move is not None and (not state.teams or state.teams[-1][1] == move[0]):  # not recorded, nor overtaken
            state = state_after_team(state, *move, at=self.clock(), created_at=conv.created_at)
        calendar = await self.store.calendars.get_calendar(conv.team) or ALWAYS_OPEN
        calendars = await self.store.calendars.list_calendars() if state.teams else None  # it moved: each team's
        policy = policy_for(self.policies, conv)
        fact = fact_after(
            previous,
            conv,
            state,
            calendar,
            policy,
            self.clock(),
            responder_id=responder_id,
            resolver_id=resolver_id,
            calendars=calendars,
        )
        if fact != previous and (previous is not None or fact.first_response_s is not None or fact.resolved):
            await self.store.reports.save_fact(fact)

    def start_tracking(self) -> Subscription:
        """Subscribe to this process's live events (before anything is published)."""
        self._subscription = self.bus.subscribe(maxsize=10_000, wants=may_change_fact)
        return self._subscription

    def stop_tracking(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def track_next(self) -> None:
        """One step of the supervised loop. A store that is down loses that event's fact update."""
        subscription = self._subscription or self.start_tracking()
        event = await subscription.queue.get()
        try:
            await self.note(event)
        except StoreUnavailable:
            log.warning("reports: the store is unavailable; the fact of %s was not updated", event.conversation_id)
