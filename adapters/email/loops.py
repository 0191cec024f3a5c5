"""Which inbound mail a bot's reply answers, for the automatic-reply budget.

The budget (`max_auto_replies_per_hour`) exists to stop mail loops with auto-responders: a
loop is one bot mail per inbound mail, round after round. So it counts rounds, not mails:
every bot mail that follows one message a person wrote (the privacy warning, the greeting
and the question a single customer mail prompts) shares that message's one slot, while
bot mail after automatic inbound mail (an auto-reply, a bounce) counts mail by mail.
"""

from __future__ import annotations

from collections.abc import Iterable

from conversation.model import Direction, Message, MessageKind


def answered_message(messages: Iterable[Message], reply: Message) -> Message | None:
    """The newest customer message written before `reply`; None when nothing prompted it."""
    answered: Message | None = None
    for message in messages:
        if message.id == reply.id or message.created_at > reply.created_at:
            continue
        written = message.direction is Direction.INBOUND and message.kind is MessageKind.MESSAGE
        if written and (answered is None or message.created_at >= answered.created_at):
            answered = message
    return answered


def budget_round(messages: Iterable[Message], reply: Message) -> str:
    """The key a bot reply is charged under: the id of the person's message it answers (all
    replies to one such message cost one slot), or the reply's own id (each costs one)."""
    answered = answered_message(messages, reply)
    if answered is not None and not answered.automatic:
        return answered.id
    return reply.id
