"""What a change to a ticket means to a plugin: one `TicketChange` per changed field,
named by what plugins subscribe to (`status`, `assignment`, `team`, `field`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from conversation.model import Conversation

KINDS = {"status": "status", "assignee_id": "assignment", "team": "team"}  # every other field: "field"
EVENT_KINDS = frozenset({"status", "assignment", "team", "field"})
# Kept beside a field, not a change of its own: who set the priority travels with "priority".
BOOKKEEPING = frozenset({"priority_set_by"})


@dataclass(frozen=True)
class TicketChange:
    kind: str  # status, assignment, team or field
    field: str  # the ticket's field: status, assignee_id, team, priority, category, tags, ...
    before: Any  # plain values (an enum's value), as an API client would see them
    after: Any
    conversation: Conversation  # the ticket after the change


def ticket_changes(before: Conversation, after: Conversation, fields: Iterable[str]) -> list[TicketChange]:
    """One change per field in `fields` whose value differs between `before` and `after`."""
    found = []
    for name in sorted(set(fields) - BOOKKEEPING):
        old, new = _plain(getattr(before, name, None)), _plain(getattr(after, name, None))
        if old != new:
            found.append(TicketChange(KINDS.get(name, "field"), name, old, new, after))
    return found


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
