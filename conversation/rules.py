"""Domain decisions both store backends make, as pure functions (one rule, two databases).

Contact joining lives in conversation/identity.py, ticket routing and status changes on a
customer message in conversation/routing.py, the ingest algorithm in conversation/ingest.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from conversation.errors import InvalidInput
from conversation.model import AuthorType, DeliveryStatus, Message, MessageKind, Role, Status
from conversation.store import AGENT_FIELDS, NotFound


class Mergeable(Protocol):
    merged_into: str


M = TypeVar("M", bound=Mergeable)


def delivery_after_attempt(
    sent_at: datetime | None, retry_at: datetime | None
) -> tuple[DeliveryStatus, datetime | None]:
    """A delivery attempt's outcome: sent, queued again for `retry_at`, or failed for good."""
    if sent_at is not None:
        return DeliveryStatus.SENT, None
    if retry_at is not None:
        return DeliveryStatus.QUEUED, retry_at
    return DeliveryStatus.FAILED, None


def check_requeue(status: str | None) -> None:
    """Only a failed delivery is sent again by an agent's retry."""
    if status != DeliveryStatus.FAILED.value:
        raise InvalidInput("only a failed delivery can be retried")


def check_merge(what: str, source_id: str, target_id: str, source: M | None, target: M | None) -> tuple[M, M]:
    """Two conversations (or contacts) merge when both exist, differ and neither is merged already."""
    if source is None or target is None:
        raise NotFound(f"{what} {source_id if source is None else target_id}")
    if source_id == target_id or source.merged_into or target.merged_into:
        raise InvalidInput(f"these {what}s cannot be merged")
    return source, target


def reopens_on_merge(source_status: Status, target_status: Status) -> bool:
    """Whether a merge reopens the ticket merged into: it takes in a question still waiting
    (open, pending, snoozed) while it is resolved or closed. Kept resolved, that question left
    every waiting view and no one answered it (a trial)."""
    waiting = source_status in (Status.OPEN, Status.PENDING, Status.SNOOZED)
    return waiting and target_status in (Status.RESOLVED, Status.CLOSED)


def agent_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The agent fields an update may set, as stored (a role by its value); others are refused."""
    unknown = set(changes) - set(AGENT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown agent field {sorted(unknown)[0]!r}")
    return {key: (value.value if isinstance(value, Role) else value) for key, value in changes.items()}


def conversation_update(current_status: Status, clean: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What an update writes, enums by value: the validated changes and, when the ticket is
    resolved by this update, the moment it was (the reopen window counts from it)."""
    values = {key: getattr(value, "value", value) for key, value in clean.items()}
    if clean.get("status") is Status.RESOLVED and current_status is not Status.RESOLVED:
        values["resolved_at"] = now
    return values


def is_activity(message: Message) -> bool:
    """A message (not a note or event) moves the ticket's last activity."""
    return message.kind is MessageKind.MESSAGE


def is_agent_reply(message: Message) -> bool:
    """An agent's message: the first one sets the ticket's first response time."""
    return message.author_type is AuthorType.AGENT and message.kind is MessageKind.MESSAGE
