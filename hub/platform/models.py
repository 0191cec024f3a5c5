"""What the platform API answers, as typed values; parsing refuses an answer of the wrong shape.

A malformed answer (a field missing or of the wrong type) raises PlatformBadAnswer: a
plugin never acts on half an answer, and nothing of the payload is logged (it may hold
personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


class PlatformError(Exception):
    """A platform call did not succeed. `code` is stable (for the timeline and metrics)."""

    code = "error"


class PlatformNotConfigured(PlatformError):
    code = "not_configured"


class PlatformUnavailable(PlatformError):
    """Down, too slow, or answering 5xx/429 after the retries: try again later."""

    code = "unavailable"
    # Whether some attempt may have been carried out all the same (no answer in time, a 5xx,
    # an answer that failed its check); False when none reached the platform (connection
    # refused) or it said it did nothing (429). A side effect's caller decides by it.
    maybe_done: bool = True


class PlatformBadAnswer(PlatformUnavailable):
    """The answer is not signed with the shared secret, or not of the documented shape."""

    code = "bad_answer"


class PlatformRefused(PlatformError):
    """The platform refused the request (4xx): retrying the same request will not help."""

    code = "refused"

    def __init__(self, status: int, error: str, message: str = "") -> None:
        super().__init__(f"{status} {error}: {message}" if message else f"{status} {error}")
        self.status = status
        self.error = error


class NotVerified(PlatformError):
    """The contact has no verified identity the platform can know them by."""

    code = "not_verified"


def _text(data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key, None if required else "")
    if value is None:
        value = ""
    if not isinstance(value, str) or (required and not value):
        raise PlatformBadAnswer(f"the answer's {key!r} must be a non-empty string")
    return value


def _object(payload: Any, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise PlatformBadAnswer(f"the answer must be a JSON object ({what})")
    return payload


@dataclass(frozen=True, slots=True)
class PlatformUser:
    id: str
    status: str  # active, locked, deleted
    email_hint: str = ""  # masked by the platform ("l***@example.com"): what the customer may be shown
    phone_hint: str = ""
    language: str = ""
    display_name: str = ""  # the public name (a seller's shop): how agents see them

    @classmethod
    def parse(cls, payload: Any) -> PlatformUser:
        data = _object(payload, "user")
        status = _text(data, "status")
        if status not in ("active", "locked", "deleted"):
            raise PlatformBadAnswer("the user's status must be active, locked or deleted")
        return cls(
            id=_text(data, "id"),
            status=status,
            email_hint=_text(data, "email_hint", required=False),
            phone_hint=_text(data, "phone_hint", required=False),
            language=_text(data, "language", required=False),
            display_name=_text(data, "display_name", required=False),
        )


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    buyer_id: str
    seller_id: str
    amount: Decimal
    currency: str
    status: str
    title: str = ""
    created_at: str = ""  # ISO 8601, as the platform wrote it
    tracking_number: str = ""

    @classmethod
    def parse(cls, payload: Any) -> Order:
        data = _object(payload, "order")
        try:
            amount = Decimal(_text(data, "amount"))
        except InvalidOperation:
            raise PlatformBadAnswer('the order\'s amount must be a decimal string like "12.50"') from None
        currency = _text(data, "currency")
        if len(currency) != 3 or not currency.isalpha():
            raise PlatformBadAnswer("the order's currency must be an ISO 4217 code")
        return cls(
            id=_text(data, "id"),
            buyer_id=_text(data, "buyer_id"),
            seller_id=_text(data, "seller_id"),
            amount=amount,
            currency=currency.upper(),
            status=_text(data, "status"),
            title=_text(data, "title", required=False),
            created_at=_text(data, "created_at", required=False),
            tracking_number=_text(data, "tracking_number", required=False),
        )

    def concerns(self, user_id: str) -> bool:
        """Whether the user is a party to this order (its buyer or seller)."""
        return user_id in (self.buyer_id, self.seller_id)


@dataclass(frozen=True, slots=True)
class Done:
    """A side effect the platform carried out (or had carried out for this Idempotency-Key before)."""

    operation: str
    reference: str  # the platform's id for it (a reset request, a lock, a refund)
    status: str  # what the platform says it is now ("sent", "locked", "unlocked", "refunded", "pending")
    sent_to_hint: str = ""  # a reset link: the masked address it went to
    replayed: bool = False  # the platform had done it already for this key (a retry)

    @classmethod
    def parse(cls, operation: str, payload: Any, *, replayed: bool) -> Done:
        data = _object(payload, operation)
        return cls(
            operation=operation,
            reference=_text(data, "id"),
            status=_text(data, "status"),
            sent_to_hint=_text(data, "sent_to_hint", required=False),
            replayed=replayed,
        )


DECISION_OUTCOMES = ("refund_buyer", "partial_refund", "favour_seller")


@dataclass(frozen=True, slots=True)
class DecisionNotice:
    """A dispute's decision as the platform hears it (`record_decision`): every decision, for
    the buyer or the seller, when it is made (`final` false while it may be appealed), again
    once it is final (its appeal window closed unappealed), and the appeal's decision, which
    is final and names the decision it replaces (`supersedes`). A refund is paid by its own
    call; an escrow platform releases the payment to the seller on a final `favour_seller`
    (or the rest of it on a final `partial_refund`)."""

    decision: str  # the case's reference, e.g. D-1000-1203
    number: int  # the decision's number in its case: 1, then 2 for the appeal's
    order_id: str
    outcome: str  # refund_buyer, partial_refund or favour_seller
    refund_amount: Decimal  # what goes back to the buyer: the whole amount, part of it, or 0
    currency: str
    decided_at: str  # ISO 8601
    final: bool
    appeal_until: str = ""  # ISO 8601: while `final` is false, when the window closes
    supersedes: int = 0  # the appeal's decision: the number of the decision it replaces

    def __post_init__(self) -> None:
        if self.outcome not in DECISION_OUTCOMES:
            raise ValueError(f"a decision's outcome is one of {', '.join(DECISION_OUTCOMES)}")
        if self.number < 1 or self.refund_amount < 0:
            raise ValueError("a decision has a number from 1 and a refund of 0 or more")

    def body(self) -> dict[str, Any]:
        """The request's JSON body (docs/platform-openapi.json, /v1/disputes/decisions)."""
        body: dict[str, Any] = {
            "decision": self.decision,
            "number": self.number,
            "order_id": self.order_id,
            "outcome": self.outcome,
            "refund_amount": str(self.refund_amount),
            "currency": self.currency.upper(),
            "decided_at": self.decided_at,
            "final": self.final,
        }
        if self.appeal_until and not self.final:
            body["appeal_until"] = self.appeal_until
        if self.supersedes:
            body["supersedes"] = self.supersedes
        return body

    def args(self) -> dict[str, str]:
        """As the stored intent keeps it (text values), for `from_args` on a repeat."""
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in self.body().items()}

    @classmethod
    def from_args(cls, args: dict[str, str]) -> DecisionNotice:
        return cls(
            decision=args["decision"],
            number=int(args["number"]),
            order_id=args["order_id"],
            outcome=args["outcome"],
            refund_amount=Decimal(args["refund_amount"]),
            currency=args["currency"],
            decided_at=args["decided_at"],
            final=args["final"] == "true",
            appeal_until=args.get("appeal_until", ""),
            supersedes=int(args.get("supersedes", "0")),
        )


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The platform's answer to a typed one-time code (`verify_code`): right, with the user it
    proves; or wrong (a wrong, expired or unknown code: the same answer, so nothing is probed)."""

    verified: bool
    user: PlatformUser | None = None

    @classmethod
    def parse(cls, payload: Any) -> CodeCheck:
        data = _object(payload, "result")
        status = _text(data, "status")
        if status not in ("verified", "wrong"):
            raise PlatformBadAnswer("a code check's status must be verified or wrong")
        if status == "wrong":
            return cls(False)
        return cls(True, PlatformUser.parse(data.get("user")))
