"""What a ticket's row in the agents' list shows: the message previewed, and since when its
customer has been waiting for a person. Pure rules, shared by both stores' callers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, Status

# A ticket's newest messages and notes read for its row (events left out): enough to reach past
# what bots add after a customer's message (the FAQ bot's note of its guesses, "passing you on",
# a survey) to the last thing a person wrote.
ROW_WINDOW = 8

_PEOPLE = (AuthorType.CONTACT, AuthorType.AGENT)

# A bot message's raw: it asks the customer for words, not a pick (a dispute's "tell us what
# happened", the account bot's "which phone or email is the account's?"): waits as choices do.
AWAITS_ANSWER = "awaits_answer"


def bot_waits_on_it(message: Message) -> bool:
    """A bot's question the customer is to answer: one with choices, or words asked for."""
    return message.author_type is AuthorType.BOT and bool(message.choices or (message.raw or {}).get(AWAITS_ANSWER))


def previewed(newest_first: Sequence[Message]) -> Message | None:
    """The newest message or note a person wrote, the customer or an agent; a bot's or the
    system's only when no person's is among them. A handed-off ticket's row showed the bot's
    note of its guesses, not what the customer asked (a trial)."""
    return next((m for m in newest_first if m.author_type in _PEOPLE), newest_first[0] if newest_first else None)


def waiting_since(ticket: Conversation, newest_first: Sequence[Message]) -> datetime | None:
    """Since when the customer waits for a person: an open ticket whose customer wrote after the
    last agent's reply. A bot's words answer nothing there ("passing you to a colleague", a
    complaint's or a dispute's acknowledgement: a trial saw those tickets, a person's work, show
    no wait), but for a question of the bot's that the customer has yet to answer (the FAQ
    bot's "did this help?", a dispute's "what happened?") while no person has been asked for.
    Notes are for agents."""
    if ticket.status is not Status.OPEN or ticket.last_inbound_at is None:
        return None
    for message in newest_first:
        if message.kind is not MessageKind.MESSAGE:
            continue
        if message.direction is Direction.INBOUND:
            break
        if message.author_type is AuthorType.AGENT:
            return None
        if bot_waits_on_it(message) and ticket.handed_off_at is None:
            return None  # the bot asked, and waits for the customer
    return ticket.last_inbound_at
