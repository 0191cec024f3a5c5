"""Priority from what a new ticket says and who asks: configured keywords and the customer's
tier raise it (pure, shared by every hub); and who set a priority."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from conversation.model import Priority

RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


@dataclass(frozen=True, slots=True)
class KeywordRules:
    urgent: Sequence[str] = ()
    high: Sequence[str] = ()
    # Each list ignoring case, folded once here rather than on every new ticket's text.
    folded: tuple[tuple[str, ...], tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded = tuple(k.casefold() for k in self.urgent), tuple(k.casefold() for k in self.high)
        object.__setattr__(self, "folded", folded)


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    priority: Priority
    keyword: str


def raised(current: Priority, wanted: Priority) -> Priority:
    """The higher of the two: a rule or a plugin raises a ticket's priority, never lowers what
    another raised (a complaint's "normal" undid the 投诉 keyword's "high", a trial)."""
    return wanted if RANK[wanted] > RANK[current] else current


def priority_from_keywords(text: str, rules: KeywordRules, current: Priority) -> KeywordMatch | None:
    """The priority the first matching keyword (urgent ones first) asks for, when it is higher
    than `current`; None otherwise. Matching ignores case ("Fraud" matches "fraud") and
    needs no word boundaries, since Chinese text has none."""
    folded = text.casefold()
    urgent, high = rules.folded
    for priority, keywords, keys in ((Priority.URGENT, rules.urgent, urgent), (Priority.HIGH, rules.high, high)):
        if RANK[priority] <= RANK[current]:
            continue
        for keyword, key in zip(keywords, keys, strict=True):
            if key in folded:
                return KeywordMatch(priority, keyword)
    return None


@dataclass(frozen=True, slots=True)
class PrioritySource:
    """Who or what set a ticket's priority: kept on the ticket (`priority_set_by`) and in the
    thread's event. `kind` is agent, rule, plugin or system; `name` the agent's id, the rule
    (keywords, category, tier) or the plugin; `detail` what the rule matched."""

    kind: str
    name: str
    detail: str = ""

    @property
    def recorded(self) -> str:
        return f"{self.kind}:{self.name}"


SYSTEM = PrioritySource("system", "hub")


def tier_priorities(mapping: Mapping[str, str]) -> dict[str, Priority]:
    """[desk] tier_priorities checked: tier name (any case) -> priority; ValueError names a bad one."""
    checked = {}
    for tier, priority in mapping.items():
        if not isinstance(tier, str) or not tier.strip():
            raise ValueError(f"{tier!r}: a tier needs a name")
        try:
            checked[tier.strip().casefold()] = Priority(priority)
        except ValueError:
            raise ValueError(f"{tier}: {priority!r} is not one of {', '.join(p.value for p in Priority)}") from None
    return checked


def priority_from_tier(tier: str, tiers: Mapping[str, Priority], current: Priority) -> Priority | None:
    """The priority a customer's tier asks for, when it is higher than `current`; None otherwise."""
    wanted = tiers.get(tier.strip().casefold()) if tier else None
    if wanted is None or RANK[wanted] <= RANK[current]:
        return None
    return wanted
