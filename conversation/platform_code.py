"""Verification by a one-time code the platform sends (pure rules, no I/O).

A contact with no verified identity may ask the platform to send a code to the phone or
email registered on their account; they type it in the chat. While such a check is
pending for the writing identity (channel and address), the code in their next message is
taken out before the message is stored (`code_span`), handed in memory to the check, and
never kept anywhere: the stored message shows a placeholder, as for any secret.

The state of one identity (`state`, kept by the hub under `holder`): a pending check
(`pending`: the platform's challenge id, the attempts used, when the code expires) and,
after a right code, the platform user it proved (`verified`: user id, until when).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from conversation.platform_identity import PlatformIdentity
from conversation.secrets import CODE_VALUE, SecretKind, code_digits, code_end, find_secrets

PLUGIN = "platform-code"  # the plugin-state name the hub keeps an identity's state under
_DIGIT = "[0-9\uff10-\uff19]"
# A code typed alone ("583920", "583 920", "583-920", "验证码583920" is found by the secrets rules): 4 to 8 digits,
# not part of a longer number or word.
_BARE_CODE = re.compile(rf"(?<![0-9A-Za-z\uff10-\uff19])({CODE_VALUE})(?![0-9A-Za-z\uff10-\uff19])")
_ANY_DIGIT = re.compile(_DIGIT)
# A number named as a ticket or an order is no code: "查询工单 1002", "ticket #1002", "order no. 2026".
# Only these words: a bare "#" or "number" may stand before a code as well ("code number 583920").
_NAMED_NUMBER = re.compile(r"(?:工单|订单|单号|\bticket|\border)\s*(?:号|number|no\.?)?\s*[:：#＃]?\s*$", re.IGNORECASE)
# ... unless a code word comes first: "验证码 (订单) 583920" is the code.
_CODE_WORD = re.compile(r"验证码|动态码|校验码|\bcode\b|\botp\b|\bverification\b", re.IGNORECASE)
_ALONE = re.compile(r"\W*", re.UNICODE)  # what may stand beside a code typed alone: spaces, punctuation


def holder(channel: str, address: str) -> str:
    """Whose state it is: the writing identity, not the contact (contacts may be merged by hand)."""
    return f"verify:{channel}:{address}"


def might_hold_code(text: str) -> bool:
    """Cheap: only a message with a digit may hold a code (the hub reads the state only then)."""
    return bool(_ANY_DIGIT.search(text))


def code_span(text: str, *, alone: bool = False) -> tuple[int, int] | None:
    """Where the code is in a message that answers a pending check: a one-time code the
    secrets rules find ("验证码 583920"), else the first number of 4 to 8 digits on its own
    that is not named as another number ("工单 1002", "order #12345"). `alone`: only a code
    typed by itself (after the check ended, a number in a sentence is the customer's words)."""
    for finding in find_secrets(text):
        if finding.kind is SecretKind.ONE_TIME_CODE:
            return finding.start, finding.end
    for found in _BARE_CODE.finditer(text):
        before = text[: found.start(1)]
        if _NAMED_NUMBER.search(before) and not _CODE_WORD.search(before):
            continue
        if (end := code_end(text, found.start(1), found.end(1))) is None:
            continue
        if alone and not (_ALONE.fullmatch(text[: found.start(1)]) and _ALONE.fullmatch(text[end:])):
            return None
        return found.start(1), end
    return None


def normalised(code: str) -> str:
    """Full-width digits (Chinese input methods) as ASCII, without the spaces or dashes it was
    typed in groups with: what the platform sent."""
    return unicodedata.normalize("NFKC", code_digits(code))


@dataclass(frozen=True, slots=True)
class Pending:
    challenge: str
    attempts: int
    expires: datetime
    sent_to_hint: str = ""
    used: bool = False  # a right code was typed: the check is over, the code spent
    valid: timedelta = timedelta(minutes=10)  # how long the code was given

    @property
    def unconfirmed(self) -> bool:
        """Sent perhaps (the platform did not answer): nothing to check a code against."""
        return not self.challenge

    @property
    def kept_until(self) -> datetime:
        """Codes are still taken out of this identity's messages until then, after the check
        ended (spent, expired or out of tries): a late or repeated code is no less a secret."""
        return self.expires + self.valid


def pending_of(state: dict[str, Any]) -> Pending | None:
    found = state.get("pending")
    if not isinstance(found, dict):
        return None
    return Pending(
        str(found["challenge"]),
        int(found["attempts"]),
        found["expires"],
        str(found.get("hint", "")),
        bool(found.get("used", False)),
        timedelta(seconds=float(found.get("valid_seconds", 600))),
    )


def with_pending(state: dict[str, Any], pending: Pending | None) -> dict[str, Any]:
    rest = {k: v for k, v in state.items() if k != "pending"}
    if pending is None:
        return rest
    entry = {"challenge": pending.challenge, "attempts": pending.attempts, "expires": pending.expires}
    extra = {"hint": pending.sent_to_hint, "used": pending.used, "valid_seconds": pending.valid.total_seconds()}
    return {**rest, "pending": {**entry, **extra}}


MAX_SENDS = 3  # codes sent for one identity within SEND_WINDOW: a chat cannot flood a phone with texts
SEND_WINDOW = timedelta(hours=1)


def may_send(state: dict[str, Any], now: datetime) -> bool:
    """Whether another code may be sent for this identity now (at most MAX_SENDS an hour)."""
    return len(_recent_sends(state, now)) < MAX_SENDS


def _recent_sends(state: dict[str, Any], now: datetime) -> list[datetime]:
    return [at for at in state.get("sends", []) if now - at < SEND_WINDOW]


def started(state: dict[str, Any], challenge: str, now: datetime, valid: timedelta, hint: str) -> dict[str, Any]:
    """A new check replaces any pending one (a new code was sent: the old one is void)."""
    pending = Pending(challenge, 0, now + valid, hint, valid=valid)
    return {**with_pending(state, pending), "sends": [*_recent_sends(state, now), now]}


def awaited(pending: Pending | None, now: datetime) -> bool:
    """Whether a code in this identity's next message is taken out and checked. Not once the
    right code came: a spent code is no secret, and a number then is the customer's words
    (the ticket number the greeting asks for)."""
    return pending is not None and not pending.used and now < pending.kept_until


def check_open(pending: Pending | None, now: datetime, max_attempts: int) -> bool:
    """Whether the check still takes codes: the number in a message is then its code (`code_span`);
    once it ended (expired, out of tries) only a code typed alone is taken out. A send with no
    answer counts as open until its code would expire: the code may well be on its way."""
    if pending is None:
        return False
    if pending.unconfirmed:
        return now < pending.expires
    return may_try(pending, now, max_attempts) == "ok"


def unconfirmed(state: dict[str, Any], now: datetime, valid: timedelta) -> dict[str, Any]:
    """A send whose outcome is unknown (the platform did not answer in time): it may have sent
    the code all the same, so a code the customer types is taken out as for a sent one. There is
    no challenge to check it against: its check says "unavailable". A code sent before and still
    open stays checkable: the send is counted, the pending check kept."""
    pending = pending_of(state)
    if pending is not None and not pending.unconfirmed and not pending.used and now < pending.expires:
        return {**state, "sends": [*_recent_sends(state, now), now]}
    return started(state, "", now, valid, "")


def may_try(pending: Pending, now: datetime, max_attempts: int) -> str:
    """ "ok" to check one more code with the platform; else the check's end: "used" (a right
    code came already), "expired" past its time, "too_many" once the attempts are used."""
    if pending.used:
        return "used"
    if now >= pending.expires:
        return "expired"
    if pending.attempts >= max_attempts:
        return "too_many"
    return "ok"


def verified(state: dict[str, Any], pending: Pending, user_id: str, now: datetime, lasts: timedelta) -> dict[str, Any]:
    """A right code: the check is over (its code spent) and the identity is the platform
    user's until `lasts` has passed."""
    spent = with_pending(state, replace(pending, used=True))
    return {**spent, "verified": {"user_id": user_id, "at": now, "until": now + lasts}}


def verified_identity(state: dict[str, Any], now: datetime) -> PlatformIdentity | None:
    """The identity a right code proved, while it lasts."""
    found = state.get("verified")
    if not isinstance(found, dict) or not found.get("user_id") or now >= found["until"]:
        return None
    return PlatformIdentity("code", user_id=str(found["user_id"]))


_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![0-9A-Za-z])(\+?[0-9][0-9 \-]{5,18}[0-9])(?![0-9A-Za-z])")


def login_in(text: str) -> str:
    """The phone number or email address a customer typed to name their account ("" when
    none): what the platform sends a code for. An email lower-cased, a phone's digits (and +)."""
    text = unicodedata.normalize("NFKC", text)
    email = _EMAIL.search(text)
    if email:
        return email.group().lower()
    phone = _PHONE.search(text)
    if phone:
        digits = re.sub(r"[ \-]", "", phone.group(1))
        if 7 <= len(digits.lstrip("+")) <= 15:
            return digits
    return ""
