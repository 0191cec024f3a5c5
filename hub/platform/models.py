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
