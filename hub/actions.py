"""Changes to conversations made on someone's behalf (a plugin now, agents later).

Each one stores first, then tells the live inboxes, then wakes the outbox when a
message must go out: the same order as ingest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from conversation.model import (
    AuthorType,
    Choice,
    Conversation,
    Delivery,
    Direction,
    Message,
    MessageKind,
    new_id,
    utcnow,
)
from conversation.store import Store
from hub.events import Event, EventBus


class ConversationService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        wake_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.bus = bus
        self.wake_outbox = wake_outbox
        self.clock = clock

    async def post_bot_message(
        self, conversation: Conversation, text: str, *, choices: Sequence[Choice] = (), plugin: str
    ) -> Message:
        return await self.send(conversation, text, author_type=AuthorType.BOT, author_id=plugin, choices=choices)

    async def send(
        self,
        conversation: Conversation,
        text: str,
        *,
        author_type: AuthorType,
        author_id: str,
        choices: Sequence[Choice] = (),
    ) -> Message:
        """Store a customer-visible message and queue it for delivery on the ticket's channel."""
        if not text.strip():
            raise ValueError("a message needs text")
        now = self.clock()
        message = Message(
            id=new_id(),
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction=Direction.OUTBOUND,
            kind=MessageKind.MESSAGE,
            author_type=author_type,
            author_id=author_id,
            text=text,
            choices=list(choices),
            created_at=now,
            delivery=Delivery(next_attempt_at=now),
        )
        await self.store.add_message(message)
        self._published("message.created", message)
        self.wake_outbox()
        return message

    async def add_note(self, conversation: Conversation, text: str, *, author: str) -> Message:
        return await self._internal(conversation, text, MessageKind.NOTE, AuthorType.BOT, author)

    async def add_event(self, conversation: Conversation, text: str) -> Message:
        return await self._internal(conversation, text, MessageKind.EVENT, AuthorType.SYSTEM, "")

    async def update_conversation(self, conversation: Conversation, changes: dict[str, Any]) -> Conversation:
        updated = await self.store.update_conversation(conversation.id, changes, now=self.clock())
        self.bus.publish(Event("conversation.updated", updated.id, {"changes": sorted(changes)}))
        return updated

    async def hand_off(self, conversation: Conversation, *, reason: str, team: str, plugin: str) -> Conversation:
        changes: dict[str, Any] = {"handed_off_at": self.clock()}
        if team:
            changes["team"] = team
        updated = await self.update_conversation(conversation, changes)
        await self.add_event(updated, f"Handed to a person by {plugin}" + (f": {reason}" if reason else ""))
        return updated

    async def _internal(
        self, conversation: Conversation, text: str, kind: MessageKind, author_type: AuthorType, author_id: str
    ) -> Message:
        message = Message(
            id=new_id(),
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction=Direction.OUTBOUND,
            kind=kind,
            author_type=author_type,
            author_id=author_id,
            text=text,
            created_at=self.clock(),
        )
        await self.store.add_message(message)
        self._published("message.created", message)
        return message

    def _published(self, kind: str, message: Message) -> None:
        self.bus.publish(Event(kind, message.conversation_id, {"message_id": message.id, "kind": message.kind.value}))
