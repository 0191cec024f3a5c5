"""Whether a tapped button answers a question a bot asked on the ticket.

A channel reports a tap as the button's id (the webhook's `choice`, the widget's choice
frame, Telegram's callback data, Slack's action value), and any client can send any id. A
plugin reads `ctx.chosen` as the answer to its question, so an id no bot offered on the
ticket would answer a question never asked (a triage plugin's "refund" button tapped before
it asked anything), and routing would file it quietly as an answer to a bot (a "yes" that
opened no ticket agents see). The hub drops such an id as the message arrives, before
routing: the message is its text alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from conversation.model import Choice, Direction, Message


def offered_choice(choice_id: str, thread: Iterable[Message]) -> Choice | None:
    """The button with this id that a message the hub sent on this thread offered (the newest
    such), or None."""
    offered = None
    for message in thread:
        if message.direction is Direction.OUTBOUND:
            offered = next((c for c in message.choices if c.id == choice_id), offered)
    return offered


def tap_text(text: str, choice: Choice) -> str:
    """What a tap says in the thread: the channel's text, unless the channel knew no better
    than the button's id (Telegram's callback for a message it no longer sends along, a client
    sending the id alone): then the button's label, as the customer saw it."""
    return choice.label if not text.strip() or text == choice.id else text
