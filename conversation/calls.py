"""Phone calls: the caller's number, the call record, and how a call's state may change.

Numbers are kept in E.164 (+8613812345678), parsed with Google's libphonenumber rules
(`phonenumbers`); a number written without "+" is read in the hub's default region. The
E.164 form is the caller's identity on the `phone` channel, so the same caller always
lands on the same contact and thread however the number was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import phonenumbers

from conversation.codec import record_from_doc, record_to_doc
from conversation.errors import InvalidInput

PHONE_CHANNEL = "phone"
MAX_NUMBER_CHARS = 40


def takes_replies(channel: str) -> bool:
    """Whether agents can write to the customer on a ticket's channel. A `phone` ticket is a
    logged call: nothing carries a written reply back, so it takes notes and callbacks only."""
    return channel != PHONE_CHANNEL


class ReceiveOnly(InvalidInput):
    """A reply on a ticket whose channel only receives (an email channel with no relay, a
    webhook channel with no callback_url: API code `receive_only`, said in the agent's
    language): refused at once, nothing stored."""

    code = "receive_only"

    def __init__(self, channel: str) -> None:
        super().__init__(
            f"channel {channel} only receives (an email channel without smtp_host or relay_channel,"
            " a webhook channel without callback_url); reply on another channel"
        )


class NoReplies(InvalidInput):
    """A reply on a ticket whose channel carries none back (API code `phone_reply`, said in
    the agent's language): refused at once rather than failed later in the outbox."""

    code = "phone_reply"

    def __init__(self) -> None:
        super().__init__("phone tickets take notes and callbacks; reply on another channel of the customer")


class InvalidNumber(InvalidInput):
    """Not a phone number (API code `invalid_number`, said in the agent's language)."""


class CallDirection(StrEnum):
    IN = "in"  # the customer called the hotline
    OUT = "out"  # an agent called the customer


class CallOutcome(StrEnum):
    RESOLVED = "resolved"  # resolved on the call
    FOLLOW_UP = "follow_up"  # the ticket needs more work
    CALLBACK = "callback"  # someone must call back
    MISSED = "missed"  # nobody answered


class CallState(StrEnum):
    STARTED = "started"  # in progress (a telephony system said so)
    ENDED = "ended"
    MISSED = "missed"


FINAL_STATES = (CallState.ENDED, CallState.MISSED)


# An extension as Chinese offices write it ("021-6288 8888 转 123", "分机 123"), or after a
# hyphen when what comes before is a whole landline whose local number is written in one
# piece ("021-62888888-123"): read as libphonenumber's own "ext." so it is kept, not refused.
# A mobile number or a number in short groups with a digit more ("010-1234-5678-9") is a typo
# the agent should see refused.
_EXTENSION_WORD = re.compile(r"\s*(?:转|轉|分机|分機)\s*(?=\d{1,7}\s*$)")
_HYPHENED_EXTENSION = re.compile(r"^(?P<number>.*\D\d{7,8})-(?P<ext>\d{1,5})$")
_LANDLINES = {phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalise_number(text: str, default_region: str) -> str:
    """The number in E.164, with its extension as RFC 3966 writes it (`+862162888888;ext=123`),
    or InvalidNumber saying why it is not a phone number."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidNumber("number: give the caller's phone number")
    if len(cleaned) > MAX_NUMBER_CHARS:
        raise InvalidNumber(f"number: longer than {MAX_NUMBER_CHARS} characters")
    region = default_region.upper() or None
    parsed = _parsed(_EXTENSION_WORD.sub(" ext. ", cleaned), region)
    if (parsed is None or not phonenumbers.is_valid_number(parsed)) and (
        hyphened := _HYPHENED_EXTENSION.match(cleaned)
    ):
        whole = _parsed(hyphened["number"], region)
        if whole is not None and phonenumbers.is_valid_number(whole) and phonenumbers.number_type(whole) in _LANDLINES:
            whole.extension = hyphened["ext"]
            parsed = whole
    if parsed is None:
        raise InvalidNumber(f"number: {cleaned!r} is not a phone number")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(
            f"number: {cleaned!r} is not a valid phone number"
            f" (numbers without + are read as {default_region.upper()} numbers)"
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={parsed.extension}" if parsed.extension else e164


def _parsed(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def check_recording_url(url: str) -> str:
    """A recording's address as agents will open it: http(s) only (never a script URL)."""
    cleaned = url.strip()
    if cleaned and not (cleaned.startswith(("https://", "http://")) and len(cleaned) > len("https://")):
        raise InvalidInput("recording_url must be an http(s) URL")
    return cleaned


def valid_region(region: str) -> bool:
    """Whether `region` is a region code libphonenumber knows (CN, US, GB, ...)."""
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


@dataclass(frozen=True, slots=True)
class Call:
    id: str  # the telephony system's call id, or one the hub made for a call logged by hand
    number: str  # E.164
    direction: CallDirection
    state: CallState
    started_at: datetime
    conversation_id: str
    message_id: str
    duration_seconds: int | None = None
    outcome: CallOutcome | None = None
    recording_url: str = ""
    agent_id: str = ""  # who logged it ("" when a telephony system reported it)
    updated_at: datetime | None = None


def reported_times(
    state: CallState, at: datetime, duration: int | None, *, started_at: datetime | None = None
) -> tuple[datetime, int | None]:
    """(started_at, duration) of a call from a telephony report whose `at` is the time of its
    event: the start for `started` and `missed`, the end for `ended`. `started_at` is the
    start already known (an earlier `started`). An `ended` without a duration lasted from
    the start to `at`; a first report `ended` with a duration started that long before `at`
    (without one, its start is unknown: `at` stands for it and the duration stays unknown).
    """
    if state is not CallState.ENDED:
        return started_at or at, duration
    if started_at is None:
        if duration is None:
            return at, None
        try:
            return at - timedelta(seconds=duration), duration
        except OverflowError:  # an end at the first moment of the calendar
            raise InvalidInput("at: out of range") from None
    if duration is None:
        duration = max(0, round((at - started_at).total_seconds()))
    return started_at, duration


def call_after(
    current: Call, state: CallState, *, duration: int | None, recording_url: str, at: datetime
) -> Call | None:
    """The call once the telephony system reports `state`; None when nothing changes.

    A started call may end or be missed; an ended or missed call is final, so a retried
    or late report (started after ended) changes nothing and is never applied twice.
    """
    if current.state in FINAL_STATES or state is CallState.STARTED:
        return None
    return replace(
        current,
        state=state,
        duration_seconds=duration if duration is not None else current.duration_seconds,
        recording_url=recording_url or current.recording_url,
        outcome=CallOutcome.MISSED if state is CallState.MISSED else current.outcome,
        updated_at=at,
    )


def call_to_doc(call: Call) -> dict[str, Any]:
    return record_to_doc(call)


def call_from_doc(doc: dict[str, Any]) -> Call:
    return record_from_doc(Call, doc)
