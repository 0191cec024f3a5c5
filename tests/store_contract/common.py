"""What the store contract tests share: a policy, sample messages, three tickets."""

from __future__ import annotations

from datetime import timedelta

from conversation.inbound import Inbound, Sender
from conversation.model import (
    AuthorType,
    Delivery,
    Direction,
    Message,
    MessageKind,
    new_id,
    utcnow,
)
from conversation.store import (
    Store,
    Ticketing,
)

POLICY = Ticketing(reopen_window=timedelta(days=3), first_number=1000)


def inbound(external_id: str, thread: str = "chat-1", text: str = "my order never arrived", **kw: object) -> Inbound:
    sender = kw.pop("sender", Sender(address="user-42", display_name="Wang Fang"))
    return Inbound(
        channel=str(kw.pop("channel", "telegram")),
        external_id=external_id,
        sender=sender,  # type: ignore[arg-type]
        thread_key=thread,
        text=text,
        **kw,  # type: ignore[arg-type]
    )


def outbound(conversation_id: str, text: str = "We are on it", *, author: AuthorType = AuthorType.AGENT) -> Message:
    return Message(
        id=new_id(),
        conversation_id=conversation_id,
        channel="telegram",
        direction=Direction.OUTBOUND,
        kind=MessageKind.MESSAGE,
        author_type=author,
        author_id="agent-1",
        text=text,
        delivery=Delivery(next_attempt_at=utcnow()),
    )


async def three_tickets(store: Store) -> list[str]:
    ids = []
    for i, (channel, text) in enumerate([("email", "refund please"), ("telegram", "登录失败"), ("email", "hello")]):
        record = await store.tickets.record_inbound(
            inbound(f"m{i}", thread=f"t{i}", text=text, channel=channel),
            now=utcnow() + timedelta(seconds=i),
            policy=POLICY,
        )
        ids.append(record.conversation.id)
    return ids
