"""Transaction disputes between a buyer and a seller: the rules the `disputes` plugin, its API
and the inbox's case view share. Pure functions: no store, no channel, no clock of their own.

- A case moves through a fixed set of states (`Status`) by the transitions in `NEXT`; any
  other move is refused with the allowed ones named (`check_move`).
- Each party answers by a deadline (`respond_by`), is reminded before it (`reminders`), and
  a deadline that passes unanswered moves the case on (`after_missed_deadline`).
- The platform's rules are configuration (`Rule.from_table`): the first rule that matches a
  case's facts proposes the decision and is named with it (`propose`). Amounts above a limit
  per currency need a supervisor to decide (`needs_supervisor`, `check_decision`).
- After a decision either party may appeal within a window (`may_appeal`). A refund is paid
  only once the decision is final (`refund_now`): when the window closes unappealed, or at
  once for the appeal's decision (`refund_after_decision`, `release_held`).
- A case awaited from a party is not decided before their deadline unless they have
  answered (`check_decision`'s `waiting`), and an appeal is decided by another supervisor
  than the one whose decision is appealed: nobody reviews their own decision, admins included.

Amounts are decimal strings ("199.00"), never floats: money is compared exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from conversation.errors import InvalidInput


class Status(StrEnum):
    OPENED = "opened"
    AWAITING_SELLER = "awaiting_seller"
    AWAITING_BUYER = "awaiting_buyer"
    UNDER_REVIEW = "under_review"
    DECIDED = "decided"
    APPEALED = "appealed"
    CLOSED = "closed"


STATUSES = tuple(s.value for s in Status)

# Where a case may go from each state. An agent may decide while a party is still awaited (the
# seller conceded by phone, say). A decided case goes back to review only by an appeal; a
# closed case is final (a new complaint about the same order is a new case).
_WAITING = frozenset({Status.AWAITING_SELLER, Status.AWAITING_BUYER, Status.UNDER_REVIEW})
NEXT: dict[Status, frozenset[Status]] = {
    Status.OPENED: _WAITING | {Status.DECIDED, Status.CLOSED},
    Status.AWAITING_SELLER: frozenset({Status.AWAITING_BUYER, Status.UNDER_REVIEW, Status.DECIDED, Status.CLOSED}),
    Status.AWAITING_BUYER: frozenset({Status.AWAITING_SELLER, Status.UNDER_REVIEW, Status.DECIDED, Status.CLOSED}),
    Status.UNDER_REVIEW: frozenset({Status.AWAITING_SELLER, Status.AWAITING_BUYER, Status.DECIDED, Status.CLOSED}),
    Status.DECIDED: frozenset({Status.APPEALED, Status.CLOSED}),
    Status.APPEALED: frozenset({Status.UNDER_REVIEW, Status.DECIDED, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
DECIDABLE = frozenset(
    {Status.OPENED, Status.AWAITING_SELLER, Status.AWAITING_BUYER, Status.UNDER_REVIEW, Status.APPEALED}
)


class Reason(StrEnum):
    NOT_RECEIVED = "not_received"
    NOT_AS_DESCRIBED = "not_as_described"
    REFUND_NOT_RECEIVED = "refund_not_received"
    UNAUTHORISED_CHARGE = "unauthorised_charge"
    OTHER = "other"


REASONS = tuple(r.value for r in Reason)


class Outcome(StrEnum):
    REFUND_BUYER = "refund_buyer"  # the whole amount back to the buyer
    PARTIAL_REFUND = "partial_refund"  # part of it (the decision names how much)
    FAVOUR_SELLER = "favour_seller"  # no refund: the seller keeps the payment


OUTCOMES = tuple(o.value for o in Outcome)
REFUNDS = frozenset({Outcome.REFUND_BUYER, Outcome.PARTIAL_REFUND})
PARTIES = ("buyer", "seller")
MAX_GROUNDS_CHARS = 4000
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,4})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def check_move(before: str, after: str) -> Status:
    """The new status when `before -> after` is allowed; InvalidInput naming the allowed ones."""
    try:
        old, new = Status(before), Status(after)
    except ValueError:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}") from None
    if new not in NEXT[old]:
        allowed = ", ".join(sorted(s.value for s in NEXT[old])) or "none (the case is closed)"
        raise InvalidInput(f"a dispute cannot go from {old.value} to {new.value} (allowed: {allowed})")
    return new


def awaiting(party: str) -> Status:
    """The status of a case waiting for `party`'s answer."""
    if party not in PARTIES:
        raise InvalidInput(f"party must be buyer or seller, not {party!r}")
    return Status.AWAITING_SELLER if party == "seller" else Status.AWAITING_BUYER


def other_party(party: str) -> str:
    return "seller" if party == "buyer" else "buyer"


def amount(value: Any) -> Decimal:
    """A money amount from its decimal string; InvalidInput for anything else (floats included)."""
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise InvalidInput(f"amount must be a decimal string like 199.00, not {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already refuses it
        raise InvalidInput(f"amount: {value!r} is not a number") from None


def currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise InvalidInput(f"currency must be an ISO 4217 code like CNY or USD, not {value!r}")
    return value


# -- deadlines ---------------------------------------------------------------------------
def respond_by(now: datetime, days: float) -> datetime:
    """When a party asked now must have answered."""
    if now.tzinfo is None:
        raise ValueError("respond_by: `now` must carry its time zone")
    return now + timedelta(days=days)


def reminders(now: datetime, deadline: datetime, hours_before: Iterable[float]) -> list[datetime]:
    """The reminder times before `deadline` that are still ahead of `now`, soonest first."""
    times = {deadline - timedelta(hours=h) for h in hours_before if h > 0}
    return sorted(t for t in times if now < t < deadline)


def missed(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now >= deadline


def after_missed_deadline(status: str) -> Status | None:
    """Where a case goes when the party it waited for did not answer in time: to review, so an
    agent decides on what there is. None when the case no longer waits for anyone (answered,
    decided): the deadline came too late to matter."""
    if status in (Status.AWAITING_SELLER, Status.AWAITING_BUYER):
        return Status.UNDER_REVIEW
    return None


def waited_party(status: str) -> str:
    """Which party a case in `status` waits for ("" for none)."""
    return {Status.AWAITING_SELLER.value: "seller", Status.AWAITING_BUYER.value: "buyer"}.get(status, "")


# -- the platform's rules ----------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    """What the rules look at in a case."""

    reason: str
    amount: Decimal
    currency: str
    days_since_order: float  # since the order was paid
    has_tracking: bool  # the seller gave a tracking number
    seller_answered: bool  # the seller gave a statement (False also when their deadline passed)


@dataclass(frozen=True)
class Rule:
    """One platform rule: when every condition it names holds, it proposes `propose`."""

    name: str
    propose: Outcome
    reason: str = ""  # "" matches every reason
    no_tracking: bool | None = None  # True: only without a tracking number; False: only with one
    min_days: float = 0  # at least this many days since the order
    seller_silent: bool | None = None  # True: only when the seller has not answered
    max_amount: Decimal | None = None  # at most this amount (in the case's currency)

    def matches(self, facts: Facts) -> bool:
        if self.reason and facts.reason != self.reason:
            return False
        if self.no_tracking is not None and facts.has_tracking == self.no_tracking:
            return False
        if facts.days_since_order < self.min_days:
            return False
        if self.seller_silent is not None and facts.seller_answered == self.seller_silent:
            return False
        return self.max_amount is None or facts.amount <= self.max_amount

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> Rule:
        """A rule from its TOML table (`[[plugins.disputes.rules]]`); ValueError naming the key."""
        known = {"name", "propose", "reason", "no_tracking", "min_days", "seller_silent", "max_amount"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        propose = table.get("propose")
        if propose not in OUTCOMES:
            raise ValueError(f"{where}.propose: must be one of {', '.join(OUTCOMES)}, not {propose!r}")
        reason = table.get("reason", "")
        if reason and reason not in REASONS:
            raise ValueError(f"{where}.reason: must be one of {', '.join(REASONS)}, not {reason!r}")
        for flag in ("no_tracking", "seller_silent"):
            if flag in table and not isinstance(table[flag], bool):
                raise ValueError(f"{where}.{flag}: expected true or false")
        min_days = table.get("min_days", 0)
        if isinstance(min_days, bool) or not isinstance(min_days, int | float) or min_days < 0:
            raise ValueError(f"{where}.min_days: expected a number of days, 0 or more")
        max_amount = None
        if "max_amount" in table:
            try:
                max_amount = amount(table["max_amount"])
            except InvalidInput as exc:
                raise ValueError(f"{where}.max_amount: {exc}") from None
        name = table.get("name") or f"{propose}: {reason or 'any reason'}"
        if not isinstance(name, str):
            raise ValueError(f"{where}.name: expected a string")
        return cls(
            name=name,
            propose=Outcome(propose),
            reason=reason,
            no_tracking=table.get("no_tracking"),
            min_days=float(min_days),
            seller_silent=table.get("seller_silent"),
            max_amount=max_amount,
        )


@dataclass(frozen=True)
class Proposal:
    outcome: Outcome
    rule: str  # the name of the rule that matched


def propose(rules: Sequence[Rule], facts: Facts) -> Proposal | None:
    """The first matching rule's decision, or None: an agent decides without a proposal."""
    for rule in rules:
        if rule.matches(facts):
            return Proposal(rule.propose, rule.name)
    return None


def supervisor_limits(table: Mapping[str, Any], where: str) -> dict[str, Decimal]:
    """`supervisor_above = {CNY = "2000.00", USD = "300"}` checked; ValueError naming the key."""
    limits: dict[str, Decimal] = {}
    for code, value in table.items():
        try:
            limits[currency(code)] = amount(value)
        except InvalidInput as exc:
            raise ValueError(f"{where}.{code}: {exc}") from None
    return limits


def needs_supervisor(value: Decimal, code: str, limits: Mapping[str, Decimal]) -> bool:
    """Whether deciding a case of this amount takes a supervisor: above its currency's limit.
    A currency without a limit needs none."""
    limit = limits.get(code)
    return limit is not None and value > limit


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    grounds: str
    refund: Decimal  # what goes back to the buyer (0 when the seller is favoured)


@dataclass(frozen=True)
class Waiting:
    """What deciding now would cut short: the awaited party's deadline and whether they answered."""

    deadline: datetime | None
    answered: bool
    now: datetime


class OwnDecision(PermissionError):
    """An appeal put to the one who made the decision under appeal (or to a non-supervisor)."""


@dataclass(frozen=True)
class Appealed:
    """Who made the decision under appeal, and who decides now."""

    decided_by: str
    deciding: str


def check_decision(
    *,
    status: str,
    outcome: str,
    grounds: str,
    case_amount: Decimal,
    case_currency: str,
    refund: str | None,
    supervisor: bool,
    limits: Mapping[str, Decimal],
    waiting: Waiting | None = None,
    appealed: Appealed | None = None,
) -> Decision:
    """A decision an agent may take now; InvalidInput (or PermissionError for who decides) otherwise.

    Refused: a case waiting for a party whose deadline has not passed and who has not answered
    (the party was promised until then); an appeal decided by anyone but a supervisor other
    than the one whose decision is appealed."""
    if status not in DECIDABLE:
        raise InvalidInput(f"a dispute that is {status} cannot be decided")
    party = waited_party(status)
    if party and waiting is not None and not waiting.answered and not missed(waiting.deadline, waiting.now):
        until = f" ({waiting.deadline:%Y-%m-%d %H:%M} UTC)" if waiting.deadline else ""
        raise InvalidInput(
            f"the {party} has until their deadline{until} to answer: decide after they answer or the deadline passes"
        )
    if appealed is not None:
        if not supervisor:
            raise OwnDecision("an appeal is decided by a supervisor")
        if appealed.decided_by and appealed.decided_by == appealed.deciding:
            raise OwnDecision("an appeal is decided by another supervisor than the one who made the decision")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}")
    text = grounds.strip() if isinstance(grounds, str) else ""
    if not text:
        raise InvalidInput("grounds are required: both parties are told why")
    if len(text) > MAX_GROUNDS_CHARS:
        raise InvalidInput(f"grounds are longer than {MAX_GROUNDS_CHARS} characters")
    chosen = Outcome(outcome)
    if chosen is Outcome.REFUND_BUYER:
        back = case_amount
    elif chosen is Outcome.PARTIAL_REFUND:
        if refund is None:
            raise InvalidInput("a partial refund names its amount (refund)")
        back = amount(refund)
        if not Decimal(0) < back < case_amount:
            raise InvalidInput(f"a partial refund is more than 0 and less than {case_amount}")
    else:
        back = Decimal(0)
    if needs_supervisor(case_amount, case_currency, limits) and not supervisor:
        raise PermissionError(f"a dispute over {limits[case_currency]} {case_currency} is decided by a supervisor")
    return Decision(chosen, text, back)


def may_appeal(status: str, decided_at: datetime | None, now: datetime, days: float, *, appealed: bool) -> bool:
    """Within the appeal window after a decision. One appeal per case: an appealed case is
    decided again and that decision is final."""
    if appealed or status != Status.DECIDED or decided_at is None:
        return False
    return now < decided_at + timedelta(days=days)


HELD, PENDING, CANCELLED = "held", "pending", "cancelled"  # a refund's states before the platform's own


def refund_after_decision(
    previous: Mapping[str, Any], *, key: str, refund: Decimal, appeal_decision: bool
) -> dict[str, Any]:
    """The case's refund after a decision. A first decision may still be appealed and reversed,
    and money paid cannot be taken back: its refund is `held` until the appeal window closes
    unappealed (`release_held`). The appeal's decision is final: its refund is `pending`, paid
    at once; one that pays nothing cancels a held refund (nothing ever reached the platform)."""
    if refund > 0:
        return {"key": key, "amount": str(refund), "status": PENDING if appeal_decision else HELD}
    if previous.get("status") == HELD:
        return {**previous, "status": CANCELLED}
    return dict(previous)


def release_held(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The refund to pay now that the appeal window closed unappealed; None when none is held."""
    return {**state, "status": PENDING} if state.get("status") == HELD else None


def appeal_closes(decided_at: datetime, days: float) -> datetime:
    return decided_at + timedelta(days=days)


def case_key(order_id: str, earlier_cases: int) -> str:
    """The unique key of an order's next case: an order has one open case at a time and a new
    one only after the last closed, so the count of its cases so far names the next. Two
    openings at once count the same and race for one key (the store makes one)."""
    return f"order:{order_id}:{earlier_cases + 1}"


def refund_key(case_id: str, decision_number: int) -> str:
    """The idempotency key of a decision's refund: a retried call never pays twice, and a new
    decision after an appeal is a new refund."""
    return f"dispute-{case_id}-{decision_number}"


# -- what the customer says --------------------------------------------------------------
CHOICE_PREFIX = (
    "dispute:"  # a button's id: "dispute:order:A-1", "dispute:reason:not_received", "dispute:appeal:<case id>"
)
_OPEN_WORDS = re.compile(
    r"(纠纷|申请退款|要求退款|没收到货|未收到货|货不对板|仲裁|盗刷|\bdispute\b|\bopen a case\b|\bnot received\b"
    r"|\bnever arrived\b|\bunauthori[sz]ed charge\b)",
    re.IGNORECASE,
)
# The appeal word alone, or followed by a separator (or a space) and the grounds: "申诉：屏幕没有坏点",
# "appeal: the screen was fine". Only at the start: "I will not appeal this" is no appeal.
_APPEAL_WORDS = re.compile(
    r"^\s*(?:i appeal|appeal|我要申诉|我要上诉|上诉|申诉)"
    r"(?:\s*[.!。！]?\s*$|\s*[:：,，;；\-—]\s*(?P<grounds>.*)$|\s+(?P<rest>\S.*)$)",
    re.IGNORECASE | re.DOTALL,
)


# What the first message says went wrong, when it says it plainly (one reason only).
_STATED_REASONS = (
    (
        Reason.REFUND_NOT_RECEIVED,
        re.compile(r"退款.{0,8}(?:没|未|还没)(?:到|收到)|\brefund\b.{0,30}\b(?:never|not|hasn'?t|didn'?t)\b", re.I),
    ),
    (Reason.UNAUTHORISED_CHARGE, re.compile(r"盗刷|不是我(?:买|付|下单)|\bunauthori[sz]ed (?:charge|payment)\b", re.I)),
    (Reason.NOT_AS_DESCRIBED, re.compile(r"货不对板|与描述不符|和描述不符|\bnot as described\b", re.I)),
    (
        Reason.NOT_RECEIVED,
        re.compile(
            r"没收到货|未收到货|没有收到货|\bnever arrived\b|\bnot received\b|\bdid ?n[o']?t (?:arrive|receive)\b",
            re.I,
        ),
    ),
)


def stated_reason(text: str) -> str:
    """The reason a message names ("没收到货" -> not_received), so it is not asked again; "" when
    it names none or several."""
    found = [reason.value for reason, words in _STATED_REASONS if words.search(text or "")]
    return found[0] if len(found) == 1 else ""


def asks_for_dispute(text: str) -> bool:
    """The customer asks to open a dispute about an order (zh and en wording)."""
    return bool(_OPEN_WORDS.search(text or ""))


def appeal_grounds(text: str) -> str | None:
    """The grounds of a message that asks to appeal ("" for the bare word); None for any other message."""
    found = _APPEAL_WORDS.match(text or "")
    if found is None:
        return None
    return (found.group("grounds") or found.group("rest") or "").strip()


def asks_to_appeal(text: str, choice_id: str = "") -> bool:
    """The message asks to appeal a decision (the word, with or without grounds, or an appeal button)."""
    return choice_id.startswith(f"{CHOICE_PREFIX}appeal") or appeal_grounds(text) is not None


def picked(choice_id: str, what: str) -> str:
    """The value of a button this plugin offered ("dispute:<what>:<value>"), else ""."""
    head = f"{CHOICE_PREFIX}{what}:"
    return choice_id[len(head) :] if choice_id.startswith(head) else ""


def typed_reason(text: str) -> str:
    """A reason typed instead of tapped: its number in the listed order (1-5) or its id."""
    word = (text or "").strip().strip(".").lower()
    if word.isdigit() and 1 <= int(word) <= len(REASONS):
        return REASONS[int(word) - 1]
    return word if word in REASONS else ""


# An order id ends where no ASCII letter, digit, "_" or "-" goes on ("订单o-5531没收到货").
_NOT_ID, _NOT_ID_AFTER = r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_-])"


def named_order(text: str, order_ids: Sequence[str]) -> str:
    """The one order of `order_ids` the text names ("订单 o-5531 没收到货", "#O-5531"), matched
    whole (Chinese around it is no part of it) and in any case; "" when it names none or
    several (then the buyer picks)."""
    named = [
        order_id
        for order_id in order_ids
        if order_id and re.search(rf"{_NOT_ID}{re.escape(order_id)}{_NOT_ID_AFTER}", text or "", re.IGNORECASE)
    ]
    return named[0] if len(named) == 1 else ""


def asks_to_cancel(text: str) -> bool:
    """The customer stops opening a dispute halfway ("cancel", "取消")."""
    return (text or "").strip().strip(".!。！").lower() in ("cancel", "stop", "取消", "算了", "不用了")
