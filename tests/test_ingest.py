"""The ingest algorithm both backends run (conversation/ingest.py), over fake primitives."""

from __future__ import annotations

from datetime import datetime, timedelta

from conversation import ingest
from conversation.areas.tickets import Ticketing
from conversation.inbound import Inbound, Sender
from conversation.model import Contact, Conversation, Message, MessageKind, Status, utcnow
from conversation.routing import Route


class Primitives:
    """An in-memory backend whose reopen can lose a race, as on MongoDB."""

    def __init__(self, ticket: Conversation, *, reopen_wins: bool) -> None:
        self.ticket = ticket
        self.reopen_wins = reopen_wins
        self.messages: list[Message] = []

    def find_by_key(self, key: str) -> Message | None:
        return next((m for m in self.messages if f"{m.channel}\x1f{m.external_id}" == key), None)

    def resolve_contact(self, inbound: Inbound, now: datetime) -> str:
        return "c1"

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        return self.ticket if conversation_id == self.ticket.id else None

    def route(self, inbound: Inbound, contact_id: str, now: datetime, policy: Ticketing, hinted: object) -> object:
        return self.ticket, Route.REOPEN

    def reopen(self, conversation: Conversation) -> bool:
        return self.reopen_wins

    def insert_message(self, message: Message) -> bool:
        self.messages.append(message)
        return True

    def touch(self, conversation: Conversation, inbound: Inbound, now: datetime, status: Status) -> Conversation:
        conversation.status = status
        return conversation

    def get_contact(self, contact_id: str) -> Contact | None:
        return Contact(id=contact_id)


def resolved_ticket() -> Conversation:
    now = utcnow()
    return Conversation(
        id="t1", number=1000, channel="chat", thread_key="k", contact_id="c1", status=Status.RESOLVED,
        created_at=now - timedelta(hours=1), last_message_at=now - timedelta(hours=1), resolved_at=now,
    )  # fmt: skip


def test_only_the_message_whose_reopen_took_effect_writes_the_reopen_event() -> None:
    message = Inbound(channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="hello again")
    for wins, events in ((True, 1), (False, 0)):
        backend = Primitives(resolved_ticket(), reopen_wins=wins)
        record = ingest.run_sync(ingest.record_inbound(backend, message, utcnow(), Ticketing()))
        assert record.route is Route.REOPEN and not record.duplicate
        assert [m.kind for m in backend.messages].count(MessageKind.EVENT) == events
        assert record.conversation.status is Status.OPEN
