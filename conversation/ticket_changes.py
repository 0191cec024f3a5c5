"""What a change to a ticket means to a plugin: one `TicketChange` per changed field,
named by what plugins subscribe to (`status`, `assignment`, `team`, `field`), and the
rule that a plugin tells the customer each news once (`with_told`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    # Whoever made the change told the customer about it in their own words, in the same
    # step (the FAQ bot's "glad that helped" as it resolves): no other plugin announces it.
    told: bool = False


def ticket_changes(
    before: Conversation, after: Conversation, fields: Iterable[str], *, told: bool = False
) -> list[TicketChange]:
    """One change per field in `fields` whose value differs between `before` and `after`;
    `told`: the one who made them told the customer (TicketChange.told)."""
    found = []
    for name in sorted(set(fields) - BOOKKEEPING):
        old, new = _plain(getattr(before, name, None)), _plain(getattr(after, name, None))
        if old != new:
            found.append(TicketChange(KINDS.get(name, "field"), name, old, new, after, told))
    return found


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


# -- what a plugin told a ticket's customer (EventContext.tell_once) ----------------------
def told_holder(plugin: str) -> str:
    """Where a plugin's record of what it told a ticket's customer is kept (per-ticket plugin
    state apart from its on_message `state`, so neither overwrites the other)."""
    return f"{plugin}/told"


def with_told(told: Mapping[str, str], key: str, mark: str) -> dict[str, str] | None:
    """The record of what was told, now with `key` told at `mark`; None when exactly that was
    told already (the same change seen twice: a retried request, another hub). The record
    keeps the last mark of each key, so a later event of the same key (resolved again, a
    move back to a team) has a new mark and is told again."""
    if key in told and told[key] == mark:
        return None
    return {**told, key: mark}
