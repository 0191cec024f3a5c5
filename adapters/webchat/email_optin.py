"""Double opt-in for the address a visitor leaves: nothing is mailed to it but one
confirmation code until the visitor types that code back into the chat.

The state of one visitor's address lives in the store's channel state (so every hub
process sees it), as a small record; these functions are its rules.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

CODE_DIGITS = 8
CODE_LIFETIME_SECONDS = 24 * 3600
MAX_CODE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class AddressClaim:
    email: str
    confirmed: bool = False
    code_hash: str = ""
    expires_at: float = 0.0
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> AddressClaim | None:
        if not isinstance(value, dict) or not isinstance(value.get("email"), str):
            return None
        return cls(**{k: value[k] for k in ("email", "confirmed", "code_hash", "expires_at", "attempts") if k in value})

    def awaiting(self, email: str, now: float) -> bool:
        """A code for this address was mailed and can still be used: do not mail another."""
        return (
            not self.confirmed and self.email == email and now < self.expires_at and self.attempts < MAX_CODE_ATTEMPTS
        )


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_claim(email: str, now: float) -> tuple[AddressClaim, str]:
    """A fresh unconfirmed claim and the code to mail (only its hash is kept)."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    return AddressClaim(email=email, code_hash=_hash(code), expires_at=now + CODE_LIFETIME_SECONDS), code


def confirmed_claim(email: str) -> AddressClaim:
    """An address vouched for by the site itself (a verified signed-in user's email)."""
    return AddressClaim(email=email, confirmed=True)


def try_code(claim: AddressClaim, code: str, now: float) -> tuple[AddressClaim, str]:
    """(the claim after this attempt, outcome): outcome is "confirmed", "wrong" or "expired"."""
    if claim.confirmed:
        return claim, "confirmed"
    if now >= claim.expires_at or claim.attempts >= MAX_CODE_ATTEMPTS:
        return claim, "expired"
    if hmac.compare_digest(claim.code_hash, _hash(code.strip())):
        return AddressClaim(email=claim.email, confirmed=True), "confirmed"
    return AddressClaim(claim.email, False, claim.code_hash, claim.expires_at, claim.attempts + 1), "wrong"


def shown_address(email: str) -> str:
    """A confirmed address as the widget shows it back to its visitor: enough to recognise,
    not the whole of it on a shared screen ("l***@example.com"; "" for none)."""
    if "@" not in email:
        return ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"
