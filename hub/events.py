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
from typing import Any


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


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: tuple[Subscription, ...] = ()  # replaced, never changed: publish may iterate it
        self.forward: Callable[[Event], None] | None = None  # to the other hub processes, when shared

    def subscribe(self, maxsize: int = 1000, *, remote: bool = False, wants: Wants | None = None) -> Subscription:
        """A queue of the events published from now on (`wants`: only those it accepts)."""
        subscription = Subscription(self, maxsize, remote, wants)
        self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, event: Event) -> None:
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
