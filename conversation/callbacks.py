"""Callback tasks ("call back before 16:00"): the record and the rules both backends share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from conversation.codec import record_from_doc, record_to_doc
from conversation.errors import InvalidInput


class CallbackStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


MAX_NOTE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Callback:
    id: str
    conversation_id: str
    number: str  # E.164: whom to call
    owner_id: str  # the agent who calls back ("" while nobody owns it)
    due_at: datetime
    created_at: datetime
    note: str = ""
    status: CallbackStatus = CallbackStatus.OPEN
    call_id: str = ""  # the call it came from (a missed call), if any
    created_by: str = ""  # agent id; "" when the telephony system created it
    raised_at: datetime | None = None  # when it was raised as overdue (once)
    closed_at: datetime | None = None
    closed_by: str = ""


def check_new_callback(due_at: datetime, note: str, now: datetime) -> None:
    """A new task must fall due later than now; InvalidInput otherwise."""
    if due_at <= now:
        raise InvalidInput("due_at must be in the future")
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(f"note is longer than {MAX_NOTE_CHARS} characters")


def is_overdue(callback: Callback, now: datetime) -> bool:
    """An open task whose time has come and that was not raised yet."""
    return callback.status is CallbackStatus.OPEN and callback.raised_at is None and callback.due_at <= now


def callback_to_doc(callback: Callback) -> dict[str, Any]:
    return record_to_doc(callback)


def callback_from_doc(doc: dict[str, Any]) -> Callback:
    return record_from_doc(Callback, doc)
