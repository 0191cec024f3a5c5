"""Snoozing a ticket until a time: the rules both store backends and the hub share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conversation.errors import InvalidInput
from conversation.model import Conversation, Status


def snooze_changes(current: Conversation, changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The changes with `snoozed_until` made consistent with the status they leave.

    A wake-up time means snoozed (setting one snoozes the ticket); it must lie ahead, and
    snoozing needs one.
    Any other status drops the wake-up time, so an old one never reopens a ticket later.
    """
    result = dict(changes)
    until = result.get("snoozed_until")
    snoozing = result.get("status") in (Status.SNOOZED, Status.SNOOZED.value)
    if until is None and snoozing and current.status is not Status.SNOOZED:
        # snoozed without a time slept for ever, its SLA running, until the customer wrote (a trial)
        raise InvalidInput("status snoozed needs snoozed_until, the time the ticket wakes up")
    if until is not None:
        if until <= now:
            raise InvalidInput("snoozed_until must be in the future")
        if result.setdefault("status", Status.SNOOZED) not in (Status.SNOOZED, Status.SNOOZED.value):
            raise InvalidInput("snoozed_until needs the status snoozed")
    elif current.snoozed_until is not None and result.get("status", Status.SNOOZED) not in (
        Status.SNOOZED,
        Status.SNOOZED.value,
    ):
        result["snoozed_until"] = None
    return result


def snooze_is_over(conversation: Conversation, now: datetime) -> bool:
    """A snoozed ticket whose wake-up time has come."""
    return (
        conversation.status is Status.SNOOZED
        and conversation.snoozed_until is not None
        and conversation.snoozed_until <= now
    )
