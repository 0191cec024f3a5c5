"""Priority from what a new ticket says: configured keywords raise it (pure, shared by every hub)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conversation.model import Priority

RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


@dataclass(frozen=True, slots=True)
class KeywordRules:
    urgent: Sequence[str] = ()
    high: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    priority: Priority
    keyword: str


def priority_from_keywords(text: str, rules: KeywordRules, current: Priority) -> KeywordMatch | None:
    """The priority the first matching keyword (urgent ones first) asks for, when it is higher
    than `current`; None otherwise. Matching ignores case ("Fraud" matches "fraud") and
    needs no word boundaries, since Chinese text has none."""
    folded = text.casefold()
    for priority, keywords in ((Priority.URGENT, rules.urgent), (Priority.HIGH, rules.high)):
        if RANK[priority] <= RANK[current]:
            continue
        for keyword in keywords:
            if keyword.casefold() in folded:
                return KeywordMatch(priority, keyword)
    return None
