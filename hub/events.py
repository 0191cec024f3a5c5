"""Live events: an in-process fan-out from the pipeline to inboxes and widgets.

A subscriber gets a bounded queue. One that falls too far behind is not allowed to
hold up the others: it is marked `overflowed` and must reload what it shows.

On a store that several hub processes share, `forward` hands each event published here
to the relay (hub/relay.py), and the relay brings the other processes' events back with
`publish_remote`: those reach only the subscriptions that show events to people
(`remote=True`: inbox and widget sockets), never this process's own workers (routing,
SLA, outbound webhooks), which the publishing process already ran.

A worker that acts on a few kinds of event subscribes with `wants`: the events it would
only take off its queue and drop are never queued for it (on the ingest path, each queued
event costs the loop a put, a wake-up and a get, for every such worker and message).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conversation.model import Status


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # "message.created", "conversation.created", "conversation.updated", ...
    conversation_id: str
    data: dict[str, Any] = field(default_factory=dict)
    # Who wrote the message a message.* event names (an AuthorType value), when the
    # publisher has it at hand: a worker that only follows agents' messages can tell without
    # reading the message. Not part of the event's JSON ("" when not given).
    author_type: str = ""


# What a subscriber acts on; None takes every event.
Wants = Callable[[Event], bool]


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int, remote: bool = False, wants: Wants | None = None) -> None:
        self._bus = bus
        self.remote = remote  # also gets the events of other hub processes
        self.wants = wants
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    def close(self) -> None:
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class Hold:
    """A ticket's live events kept back (`EventBus.hold`) until `release`; releasing twice is once."""

    def __init__(self, bus: EventBus, conversation_id: str) -> None:
        self._bus = bus
        self.conversation_id = conversation_id
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._bus._release(self.conversation_id)


def team_move(event: Event) -> tuple[str, str] | None:
    """The ticket's move (from team, to team) a `conversation.updated` event says, if any:
    as it was published, whatever the ticket holds by the time a subscriber reads it."""
    before, after = event.data.get("team_before"), event.data.get("team_after")
    return (before, after) if isinstance(before, str) and isinstance(after, str) else None


def moved_at(event: Event) -> datetime | None:
    """When the move a `conversation.updated` event says was made (`team_moved_at`): a
    subscriber that reads it later (under load) still dates it right."""
    text = event.data.get("team_moved_at")
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def status_change(event: Event) -> tuple[Status, datetime] | None:
    """The status a `conversation.updated` event says the ticket took, and when: as published,
    whatever the ticket holds (or the clock says) by the time a subscriber reads it."""
    status, text = event.data.get("status_after"), event.data.get("status_changed_at")
    if not isinstance(status, str) or not isinstance(text, str):
        return None
    try:
        return Status(status), datetime.fromisoformat(text)
    except ValueError:
        return None


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: tuple[Subscription, ...] = ()  # replaced, never changed: publish may iterate it
        self.forward: Callable[[Event], None] | None = None  # to the other hub processes, when shared
        # ticket -> (holds open, events kept back in order): see `hold`
        self._held: dict[str, tuple[int, list[Event]]] = {}

    def hold(self, conversation_id: str) -> Hold:
        """Keep back every event of this ticket, for every subscriber and the other hub
        processes, until each hold is released; then they go out in order. For a message the
        plugins must act on before anyone sees it (a complaint about an agent: the ticket
        moves to the supervisors first, and the live feed filters by where it is then)."""
        count, kept = self._held.get(conversation_id, (0, []))
        self._held[conversation_id] = (count + 1, kept)
        return Hold(self, conversation_id)

    def _release(self, conversation_id: str) -> None:
        count, kept = self._held.pop(conversation_id, (1, []))
        if count > 1:
            self._held[conversation_id] = (count - 1, kept)
            return
        for event in kept:
            self.publish(event)

    def subscribe(self, maxsize: int = 1000, *, remote: bool = False, wants: Wants | None = None) -> Subscription:
        """A queue of the events published from now on (`wants`: only those it accepts)."""
        subscription = Subscription(self, maxsize, remote, wants)
        self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, event: Event) -> None:
        held = self._held.get(event.conversation_id) if event.conversation_id else None
        if held is not None:
            held[1].append(event)
            return
        for subscription in self._subscriptions:
            if subscription.wants is None or subscription.wants(event):
                subscription.offer(event)
        if self.forward is not None:
            self.forward(event)

    def publish_remote(self, event: Event) -> None:
        """An event another hub process published: for the people watching here only."""
        for subscription in self._subscriptions:
            if subscription.remote and (subscription.wants is None or subscription.wants(event)):
                subscription.offer(event)
