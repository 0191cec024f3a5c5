"""Routing in the background: tickets as they arrive or reopen, and a sweep every few
seconds (the queue, agents who came online or went offline, backup pages). Runs in every
hub process; the `routing` lease lets one of them route at a time (a page is never dropped:
see RoutingService.page_backup). A missed SLA target is told to the lead and pages backup
as part of the SLA engine's breach step (hub/sla.py), exactly once, not here."""

from __future__ import annotations

import asyncio
import logging

from conversation.store import StoreUnavailable
from hub.events import Event, EventBus
from hub.services.routing import RoutingService

log = logging.getLogger(__name__)

# A change to one of these may change who should have the ticket.
ROUTED_CHANGES = frozenset({"status", "team", "category"})
FOLLOWED_TYPES = frozenset({"conversation.created", "conversation.updated", "presence.changed"})


def wants_routing(event: Event) -> bool:
    """A new ticket, or one whose status, team or category changed (not routing's own assignment)."""
    if event.type == "conversation.created":
        return True
    if event.type != "conversation.updated":
        return False
    changes = set(event.data.get("changes", ()))
    return bool(changes & ROUTED_CHANGES) and "assignee_id" not in changes


def comes_online(event: Event) -> bool:
    """An agent came online: they may pull from the queue."""
    return event.type == "presence.changed" and event.data.get("presence") == "online"


def follows(event: Event) -> bool:
    """What the routing loop acts on; the bus queues nothing else for it (a message, most often)."""
    return event.type in FOLLOWED_TYPES and (wants_routing(event) or comes_online(event))


async def handle(event: Event, routing: RoutingService) -> None:
    """One live event: route the ticket it names, or let an agent who came online pull from the queue."""
    if wants_routing(event):
        conversation = await routing.store.tickets.get_conversation(event.conversation_id)
        if conversation is not None:
            await routing.route(conversation, reopened="status" in event.data.get("changes", ()))
    elif comes_online(event):
        await routing.sweep()


async def follow(bus: EventBus, routing: RoutingService) -> None:
    """Route each ticket the moment it needs it; an agent coming online pulls from the queue."""
    subscription = bus.subscribe(wants=follows)
    try:
        async for event in subscription:
            try:
                await handle(event, routing)
            except StoreUnavailable as exc:
                log.warning("routing postponed to the next sweep: %s", exc)
    finally:
        subscription.close()


async def sweep_step(routing: RoutingService, interval: float) -> None:
    try:
        await routing.sweep()
    except StoreUnavailable as exc:
        log.warning("routing sweep postponed: %s", exc)
    await asyncio.sleep(interval)
