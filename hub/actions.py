"""Changes to conversations made on someone's behalf (a plugin now, agents later).

Each one stores first, then tells the live inboxes, then wakes the outbox when a
message must go out: the same order as ingest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from conversation.errors import InvalidInput
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
    Status,
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
        attachments: Sequence[Attachment] = (),
        raw: dict[str, Any] | None = None,
    ) -> Message:
        """Store a customer-visible message and queue it for delivery on the ticket's channel.
        `raw` carries channel options the agent chose (an email's `cc`)."""
        if not text.strip() and not attachments:
            raise InvalidInput("a message needs text")
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
            attachments=list(attachments),
            created_at=now,
            delivery=Delivery(next_attempt_at=now),
            customer_address=conversation.customer_address,  # the ticket's own customer, whoever else joined
            raw=raw,
        )
        await self.store.tickets.add_message(message)
        self._published("message.created", message)
        self.wake_outbox()
        return message

    async def add_note(
        self, conversation: Conversation, text: str, *, author: str, author_type: AuthorType = AuthorType.BOT
    ) -> Message:
        """A private note for the agents; never delivered to the customer."""
        return await self._internal(conversation, text, MessageKind.NOTE, author_type, author)

    async def add_event(self, conversation: Conversation, text: str) -> Message:
        return await self._internal(conversation, text, MessageKind.EVENT, AuthorType.SYSTEM, "")

    async def update_conversation(self, conversation: Conversation, changes: dict[str, Any]) -> Conversation:
        updated = await self.store.tickets.update_conversation(conversation.id, changes, now=self.clock())
        self.bus.publish(Event("conversation.updated", updated.id, {"changes": sorted(changes)}))
        return updated

    # -- what agents do -------------------------------------------------------------
    async def update_by(
        self, conversation: Conversation, changes: dict[str, Any], *, who: str, names: dict[str, str]
    ) -> Conversation:
        """Apply an agent's changes and leave a system event saying who changed what."""
        updated = await self.update_conversation(conversation, changes)
        for line in describe_changes(conversation, updated, who=who, names=names):
            await self.add_event(updated, line)
        return updated

    async def merge(self, source: Conversation, target: Conversation, *, who: str) -> Conversation:
        merged = await self.store.tickets.merge_conversations(source.id, target.id, now=self.clock())
        await self.add_event(merged, f"{who} merged ticket #{source.number} into this one")
        closed = await self.store.tickets.get_conversation(source.id)
        if closed is not None:
            await self.add_event(closed, f"{who} merged this ticket into #{target.number}")
        self.bus.publish(Event("conversation.updated", source.id, {"changes": ["merged_into", "status"]}))
        self.bus.publish(Event("conversation.updated", target.id, {"changes": ["messages"]}))
        return merged

    async def move_message(self, message: Message, source: Conversation, target: Conversation, *, who: str) -> Message:
        moved = await self.store.tickets.move_message(message.id, target.id)
        await self.add_event(source, f"{who} moved a message to ticket #{target.number}")
        await self.add_event(target, f"{who} moved a message here from ticket #{source.number}")
        return moved

    async def merge_contacts(self, source_id: str, target_id: str, *, who: str) -> Any:
        source = await self.store.contacts.get_contact(source_id)
        merged = await self.store.contacts.merge_contacts(source_id, target_id)
        label = (source.name or source.email or source_id) if source else source_id
        items, _ = await self.store.inbox.list_conversations(ConversationQuery(contact_id=target_id, limit=200))
        for conversation in items:
            await self.add_event(
                conversation, f"{who} merged contact {label} into {merged.name or merged.email or merged.id}"
            )
        return merged

    def typing(self, conversation_id: str, *, who: str, name: str = "") -> None:
        self.bus.publish(Event("typing", conversation_id, {"who": who, "name": name}))

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
        await self.store.tickets.add_message(message)
        self._published("message.created", message)
        return message

    def _published(self, kind: str, message: Message) -> None:
        self.bus.publish(Event(kind, message.conversation_id, {"message_id": message.id, "kind": message.kind.value}))


def describe_changes(before: Conversation, after: Conversation, *, who: str, names: dict[str, str]) -> list[str]:
    """One readable line per change, for the thread's system events."""
    lines = []
    if before.status is not after.status or before.snoozed_until != after.snoozed_until:
        until = after.snoozed_until
        lines.append(
            f"{who} snoozed this until {until:%Y-%m-%d %H:%M} UTC"
            if until is not None and after.status is Status.SNOOZED
            else f"{who} set the status to {after.status.value}"
        )
    if before.assignee_id != after.assignee_id:
        lines.append(
            f"{who} assigned this to {names.get(after.assignee_id, after.assignee_id)}"
            if after.assignee_id
            else f"{who} unassigned this"
        )
    if before.team != after.team:
        lines.append(f"{who} moved this to team {after.team}" if after.team else f"{who} removed the team")
    if before.priority is not after.priority:
        lines.append(f"{who} set the priority to {after.priority.value}")
    if before.category != after.category:
        lines.append(f"{who} set the category to {after.category or 'none'}")
    if before.tags != after.tags:
        lines.append(f"{who} set the tags to {', '.join(after.tags) or 'none'}")
    return lines
