"""Who is there: an agent's presence (online, away, offline) from their own choice, the
inboxes they have open in any hub process, and their last action. Pure: the store keeps
the record, every process reads it the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conversation.codec import from_iso_text, to_iso_text
from conversation.errors import InvalidInput

PRESENCE_STATES = ("online", "away", "offline")


@dataclass(frozen=True)
class PresenceRecord:
    """What the store keeps per agent: the agent's own choice, open inboxes, last action."""

    agent_id: str
    status: str = "online"  # as the agent set it: online, away or offline
    status_at: datetime | None = None
    sockets: Mapping[str, datetime] = field(default_factory=dict)  # hub process -> open until
    last_action_at: datetime | None = None


@dataclass(frozen=True)
class PresenceRules:
    idle_away: timedelta = timedelta(minutes=10)  # online but idle this long: away


def presence_of(record: PresenceRecord | None, now: datetime, rules: PresenceRules) -> str:
    """online, away or offline: offline without an open inbox or when the agent said so;
    away when they said so or did nothing for `idle_away`."""
    if record is None or record.status == "offline" or not connected(record, now):
        return "offline"
    if record.status == "away":
        return "away"
    if record.last_action_at is not None and now - record.last_action_at >= rules.idle_away:
        return "away"
    return "online"


def connected(record: PresenceRecord, now: datetime) -> bool:
    return any(until > now for until in record.sockets.values())


def offline_since(record: PresenceRecord | None, now: datetime) -> datetime | None:
    """Since when the agent has been offline (None: they are not); the grace period counts from it."""
    if record is None:
        return None
    if record.status == "offline":
        return record.status_at or now
    if connected(record, now):
        return None
    return max(record.sockets.values(), default=record.last_action_at or record.status_at or now)


def presence_to_doc(record: PresenceRecord) -> dict[str, Any]:
    """Times as ISO text in UTC, the same in both backends."""
    return {
        "agent_id": record.agent_id,
        "status": record.status,
        "status_at": to_iso_text(record.status_at),
        "sockets": {key: until.isoformat() for key, until in record.sockets.items()},
        "last_action_at": to_iso_text(record.last_action_at),
    }


def presence_from_doc(doc: Mapping[str, Any]) -> PresenceRecord:
    return PresenceRecord(
        agent_id=str(doc["agent_id"]),
        status=doc.get("status", "online"),
        status_at=from_iso_text(doc.get("status_at")),
        sockets={key: datetime.fromisoformat(until) for key, until in (doc.get("sockets") or {}).items()},
        last_action_at=from_iso_text(doc.get("last_action_at")),
    )


def check_presence_status(value: Any) -> str:
    if value not in PRESENCE_STATES:
        raise InvalidInput(f"status: must be one of {', '.join(PRESENCE_STATES)}, not {value!r}")
    return str(value)
