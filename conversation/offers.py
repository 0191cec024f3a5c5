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

from conversation.model import Direction, Message


def was_offered(choice_id: str, thread: Iterable[Message]) -> bool:
    """True when a message the hub sent on this thread offered a button with this id."""
    return any(
        choice.id == choice_id
        for message in thread
        if message.direction is Direction.OUTBOUND
        for choice in message.choices
    )
