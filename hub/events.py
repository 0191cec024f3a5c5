"""Live events: an in-process fan-out from the pipeline to inboxes and widgets.

A subscriber gets a bounded queue. One that falls too far behind is not allowed to
hold up the others: it is marked `overflowed` and must reload what it shows.

On a store that several hub processes share, `forward` hands each event published here
to the relay (hub/relay.py), and the relay brings the other processes' events back with
`publish_remote`: those reach only the subscriptions that show events to people
(`remote=True`: inbox and widget sockets), never this process's own workers (routing,
SLA, outbound webhooks), which the publishing process already ran.
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


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int, remote: bool = False) -> None:
        self._bus = bus
        self.remote = remote  # also gets the events of other hub processes
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
        self._subscriptions: set[Subscription] = set()
        self.forward: Callable[[Event], None] | None = None  # to the other hub processes, when shared

    def subscribe(self, maxsize: int = 1000, *, remote: bool = False) -> Subscription:
        subscription = Subscription(self, maxsize, remote)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, event: Event) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.offer(event)
        if self.forward is not None:
            self.forward(event)

    def publish_remote(self, event: Event) -> None:
        """An event another hub process published: for the people watching here only."""
        for subscription in tuple(self._subscriptions):
            if subscription.remote:
                subscription.offer(event)
