"""Storing one customer message (record_inbound), written once for both backends.

The algorithm is a generator over a backend's small primitives. Each `yield` hands over
what a primitive returned: a plain value on SQLite, whose primitives run inside one
transaction on the writer thread (`run_sync`), an awaitable on MongoDB (`run_async`).
The generator gets the result back and decides what comes next, so the decisions -- when
a message is a duplicate, which ticket it joins, when a reopen event is written -- are the
same code on both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from conversation.areas.tickets import InboundRecord, Ticketing
from conversation.calls import PHONE_CHANNEL
from conversation.codec import idempotency_key
from conversation.identity import follows_merge
from conversation.inbound import Inbound
from conversation.model import Contact, Conversation, Message, Priority, Status
from conversation.priority_rules import priority_from_keywords
from conversation.routing import (
    OWN_THREAD_STEPS,
    Route,
    held_team,
    inbound_message,
    keyword_priority_event,
    opens_ticket,
    own_thread,
    reopen_event,
    status_after_customer_message,
)

T = TypeVar("T")
Steps = Generator[Any, Any, T]


class IngestPrimitives(Protocol):
    """What a backend provides; each returns its result (SQLite) or an awaitable of it (MongoDB)."""

    def find_by_key(self, key: str) -> Message | None | Awaitable[Message | None]:
        """The message stored under this idempotency key, if any."""

    def resolve_contact(self, inbound: Inbound, now: datetime) -> str | Awaitable[str]:
        """The sender's contact id: its identity's, a verified email's, or a new contact."""

    def get_conversation(self, conversation_id: str) -> Conversation | None | Awaitable[Conversation | None]: ...

    def route(
        self, inbound: Inbound, contact_id: str, now: datetime, policy: Ticketing, hinted: Conversation | None
    ) -> tuple[Conversation, Route] | Awaitable[tuple[Conversation, Route]]:
        """The ticket the message joins (opening one when routing says so) and why."""

    def reopen(self, conversation: Conversation) -> bool | Awaitable[bool]:
        """Set a resolved ticket open again; True only when this call changed it."""

    def insert_message(self, message: Message) -> bool | Awaitable[bool]:
        """Store the message; False when its idempotency key is taken (a racing copy won)."""

    def touch(
        self, conversation: Conversation, inbound: Inbound, now: datetime, status: Status
    ) -> Conversation | Awaitable[Conversation]:
        """Record the customer's message on the ticket: times, status, participants."""

    def get_contact(self, contact_id: str) -> Contact | None | Awaitable[Contact | None]: ...

    def put_in_team(self, conversation: Conversation, team: str) -> Conversation | Awaitable[Conversation]:
        """Set the ticket's team (a held complaint's, `routing.held_team`)."""


MAX_MERGE_HOPS = 10  # a ticket merged into one that was merged in turn, and so on


def record_inbound(p: IngestPrimitives, inbound: Inbound, now: datetime, policy: Ticketing) -> Steps[InboundRecord]:
    """identity -> contact -> conversation -> message; idempotent on (channel, external id)."""
    key = idempotency_key(inbound.channel, inbound.external_id)
    existing = yield p.find_by_key(key)
    if existing is not None:
        return (yield from _duplicate(p, existing))
    contact_id = yield p.resolve_contact(inbound, now)
    hinted = (yield p.get_conversation(inbound.conversation_hint)) if inbound.conversation_hint else None
    if hinted is not None and hinted.merged_into:
        surviving = hinted
        for _ in range(MAX_MERGE_HOPS):
            if not surviving.merged_into:
                break
            surviving = (yield p.get_conversation(surviving.merged_into)) or replace(surviving, merged_into="")
        # Merged into someone else's ticket: not there (the thread's own rule opens a new one).
        hinted = surviving if follows_merge(hinted, surviving, inbound.sender.address) else None
    conversation, route = yield p.route(inbound, contact_id, now, policy, hinted)
    for _ in range(OWN_THREAD_STEPS):
        if route is not Route.ELSEWHERE:
            break
        # another sender's thread: one of their own
        inbound = replace(inbound, thread_key=own_thread(inbound, conversation))
        conversation, route = yield p.route(inbound, contact_id, now, policy, None)
    # own_thread leads to a sealed key within OWN_THREAD_STEPS, and never on from one
    assert route is not Route.ELSEWHERE, "own_thread led further than OWN_THREAD_STEPS"
    # Kept to supervisors before the message is stored: no agent reads it before its plugins ran.
    if not opens_ticket(route) and (team := held_team(conversation.team, policy.hold_team, policy.held_teams)):
        conversation = yield p.put_in_team(conversation, team)
    # Only the copy that reopened the ticket says so: a racing second copy writes no second event.
    if route is Route.REOPEN and (yield p.reopen(conversation)):
        yield p.insert_message(reopen_event(conversation, now, call=inbound.channel == PHONE_CHANNEL))
    message = inbound_message(inbound, conversation.id, contact_id, now, plugins_pending=policy.plugins_enabled)
    if not (yield p.insert_message(message)):
        existing = yield p.find_by_key(key)
        assert existing is not None, "an insert refused as a duplicate must find the stored copy"
        return (yield from _duplicate(p, existing))
    # The ticket was opened at this priority (routing.new_conversation); the thread says why.
    if route is Route.OPEN_NEW and (match := priority_from_keywords(inbound.text, policy.keywords, Priority.NORMAL)):
        yield p.insert_message(keyword_priority_event(conversation, match, now))
    updated = yield p.touch(conversation, inbound, now, status_after_customer_message(conversation.status, route))
    contact = yield p.get_contact(contact_id)
    assert contact is not None
    return InboundRecord(message, updated, contact, duplicate=False, route=route)


def _duplicate(p: IngestPrimitives, message: Message) -> Steps[InboundRecord]:
    conversation = yield p.get_conversation(message.conversation_id)
    contact = yield p.get_contact(message.author_id)
    if contact is None and conversation is not None:  # a record's contact merged away since: the ticket's
        contact = yield p.get_contact(conversation.contact_id)
    assert conversation is not None and contact is not None
    return InboundRecord(message, conversation, contact, duplicate=True, route=None)


def run_sync(steps: Steps[T]) -> T:
    """Drive the algorithm over primitives that return their results (one SQLite transaction)."""
    result: Any = None
    try:
        while True:
            result = steps.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def run_async(steps: Steps[T]) -> T:
    """Drive the algorithm over primitives that return awaitables (MongoDB)."""
    result: Any = None
    try:
        while True:
            result = await steps.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
