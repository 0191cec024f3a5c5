"""Live events: an in-process fan-out from the pipeline to inboxes and widgets.

A subscriber gets a bounded queue. One that falls too far behind is not allowed to
hold up the others: it is marked `overflowed` and must reload what it shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # "message.created", "conversation.created", "conversation.updated", ...
    conversation_id: str
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
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

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        subscription = Subscription(self, maxsize)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, event: Event) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.offer(event)
