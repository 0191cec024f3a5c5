"""Domain objects to plain dicts and back: the shape both backends persist.

Datetimes stay datetimes here; the SQLite backend turns them into epoch milliseconds,
MongoDB stores them as BSON dates.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from conversation.errors import InvalidInput
from conversation.model import (
    Agent,
    ApiToken,
    Attachment,
    AuthorType,
    Choice,
    Contact,
    Conversation,
    Delivery,
    DeliveryStatus,
    Direction,
    Identity,
    Message,
    MessageKind,
    Priority,
    Role,
    Status,
)

R = TypeVar("R")


def to_epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000 + 0.5)


def from_epoch_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """BSON dates come back naive unless the client is tz-aware; make sure they are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def attachments_to_list(items: list[Attachment]) -> list[dict[str, Any]]:
    return [{"name": a.name, "content_type": a.content_type, "size": a.size, "blob_ref": a.blob_ref} for a in items]


def attachments_from_list(items: list[dict[str, Any]] | None) -> list[Attachment]:
    return [Attachment(**item) for item in items or []]


def choices_to_list(items: list[Choice]) -> list[dict[str, str]]:
    return [{"id": c.id, "label": c.label} for c in items]


def choices_from_list(items: list[dict[str, str]] | None) -> list[Choice]:
    return [Choice(**item) for item in items or []]


# Members by value, for the documents read on every message: Status(value) is two Python
# calls (the enum's __call__ and __new__), a dict lookup none. An unknown value still goes
# to the enum, which raises.
_STATUS_OF = {member.value: member for member in Status}
_PRIORITY_OF = {member.value: member for member in Priority}


# The documents written on every message (a message, a ticket, a delivery) read an enum
# member's value as `_value_`, the attribute `.value` returns: the property is two Python
# calls a read. (Reading stays doc.get(key, default): a C method call is cheaper than any
# way around it, a merge with defaults included.)
def conversation_to_doc(conv: Conversation) -> dict[str, Any]:
    return {
        "_id": conv.id,
        "number": conv.number,
        "channel": conv.channel,
        "thread_key": conv.thread_key,
        "contact_id": conv.contact_id,
        "subject": conv.subject,
        "status": conv.status._value_,
        "priority": conv.priority._value_,
        "category": conv.category,
        "tags": list(conv.tags),
        "team": conv.team,
        "assignee_id": conv.assignee_id,
        "handed_off_at": conv.handed_off_at,
        "created_at": conv.created_at,
        "last_message_at": conv.last_message_at,
        "first_response_at": conv.first_response_at,
        "resolved_at": conv.resolved_at,
        "previous_id": conv.previous_id,
        "last_inbound_at": conv.last_inbound_at,
        "merged_into": conv.merged_into,
        "participants": list(conv.participants),
        "customer_address": conv.customer_address,
        "snoozed_until": conv.snoozed_until,
        "fields": dict(conv.fields),
        "priority_set_by": conv.priority_set_by,
    }


def conversation_from_doc(doc: dict[str, Any]) -> Conversation:
    return Conversation(
        id=doc["_id"],
        number=doc["number"],
        channel=doc["channel"],
        thread_key=doc["thread_key"],
        contact_id=doc["contact_id"],
        subject=doc.get("subject", ""),
        status=_STATUS_OF.get(doc["status"]) or Status(doc["status"]),
        priority=_PRIORITY_OF.get(doc["priority"]) or Priority(doc["priority"]),
        category=doc.get("category", ""),
        tags=list(doc.get("tags") or []),
        team=doc.get("team", ""),
        assignee_id=doc.get("assignee_id", ""),
        handed_off_at=as_utc(doc.get("handed_off_at")),
        created_at=as_utc(doc["created_at"]),  # type: ignore[arg-type]
        last_message_at=as_utc(doc["last_message_at"]),  # type: ignore[arg-type]
        first_response_at=as_utc(doc.get("first_response_at")),
        resolved_at=as_utc(doc.get("resolved_at")),
        previous_id=doc.get("previous_id", ""),
        last_inbound_at=as_utc(doc.get("last_inbound_at")),
        merged_into=doc.get("merged_into", ""),
        participants=list(doc.get("participants") or []),
        customer_address=doc.get("customer_address") or "",
        snoozed_until=as_utc(doc.get("snoozed_until")),
        fields=dict(doc.get("fields") or {}),
        priority_set_by=doc.get("priority_set_by") or "",
    )


def delivery_to_doc(delivery: Delivery | None) -> dict[str, Any] | None:
    if delivery is None:
        return None
    return {
        "status": delivery.status._value_,
        "attempts": delivery.attempts,
        "error": delivery.error,
        "next_attempt_at": delivery.next_attempt_at,
        "sent_at": delivery.sent_at,
        "lease_owner": delivery.lease_owner,
        "lease_until": delivery.lease_until,
        "parts_sent": delivery.parts_sent,
    }


def delivery_from_doc(doc: dict[str, Any] | None) -> Delivery | None:
    if not doc:
        return None
    return Delivery(
        status=DeliveryStatus(doc["status"]),
        attempts=doc.get("attempts", 0),
        error=doc.get("error", ""),
        next_attempt_at=as_utc(doc.get("next_attempt_at")),
        sent_at=as_utc(doc.get("sent_at")),
        lease_owner=doc.get("lease_owner", ""),
        lease_until=as_utc(doc.get("lease_until")),
        parts_sent=int(doc.get("parts_sent") or 0),
    )


def message_to_doc(msg: Message) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": msg.id,
        "conversation_id": msg.conversation_id,
        "channel": msg.channel,
        "direction": msg.direction._value_,
        "kind": msg.kind._value_,
        "author_type": msg.author_type._value_,
        "author_id": msg.author_id,
        "text": msg.text,
        "html": msg.html,
        "attachments": attachments_to_list(msg.attachments),
        "choices": choices_to_list(msg.choices),
        "choice_id": msg.choice_id,
        "external_id": msg.external_id,
        "created_at": msg.created_at,
        "delivery": delivery_to_doc(msg.delivery),
        "plugins_done": msg.plugins_done,
        "raw": msg.raw,
        "automatic": msg.automatic,
        "customer_address": msg.customer_address,
    }
    if msg.direction is Direction.INBOUND and msg.external_id:
        doc["idem_key"] = idempotency_key(msg.channel, msg.external_id)
    elif isinstance(msg.raw, dict) and isinstance(msg.raw.get(ONCE), str):
        doc["idem_key"] = once_key(msg.raw[ONCE])
    return doc


def message_from_doc(doc: dict[str, Any]) -> Message:
    return Message(
        id=doc["_id"],
        conversation_id=doc["conversation_id"],
        channel=doc["channel"],
        direction=Direction(doc["direction"]),
        kind=MessageKind(doc["kind"]),
        author_type=AuthorType(doc["author_type"]),
        author_id=doc.get("author_id", ""),
        text=doc.get("text", ""),
        html=doc.get("html", ""),
        attachments=attachments_from_list(doc.get("attachments")),
        choices=choices_from_list(doc.get("choices")),
        choice_id=doc.get("choice_id", ""),
        external_id=doc.get("external_id", ""),
        created_at=as_utc(doc["created_at"]),  # type: ignore[arg-type]
        delivery=delivery_from_doc(doc.get("delivery")),
        plugins_done=doc.get("plugins_done", True),
        raw=doc.get("raw"),
        automatic=bool(doc.get("automatic", False)),
        customer_address=doc.get("customer_address") or "",
    )


def identity_from_doc(doc: dict[str, Any]) -> Identity:
    return Identity(
        channel=doc["channel"],
        address=doc["address"],
        contact_id=doc["contact_id"],
        display_name=doc.get("display_name") or "",
        verified=bool(doc.get("verified")),
        created_at=as_utc(doc["created_at"]),  # type: ignore[arg-type]
    )


def contact_from_doc(doc: dict[str, Any], identities: list[Identity]) -> Contact:
    return Contact(
        id=doc["_id"],
        name=doc.get("name") or "",
        email=doc.get("email") or "",
        email_verified=bool(doc.get("email_verified")),
        identities=identities,
        created_at=as_utc(doc["created_at"]),  # type: ignore[arg-type]
        merged_into=doc.get("merged_into") or "",
        language=doc.get("language") or "",
        tier=doc.get("tier") or "",
    )


def agent_to_doc(agent: Agent) -> dict[str, Any]:
    return {
        "_id": agent.id,
        "email": agent.email,
        "email_key": agent.email.lower(),
        "role": agent.role.value,
        "password_hash": agent.password_hash,
        "name": agent.name,
        "active": agent.active,
        "created_at": agent.created_at,
        "language": agent.language,
    }


def agent_from_doc(doc: dict[str, Any]) -> Agent:
    return Agent(
        id=doc["_id"],
        email=doc["email"],
        role=Role(doc["role"]),
        password_hash=doc["password_hash"],
        name=doc.get("name", ""),
        active=doc.get("active", True),
        created_at=as_utc(doc["created_at"]),  # type: ignore[arg-type]
        language=doc.get("language") or "",
    )


def token_narrowing_to_doc(token: ApiToken) -> dict[str, Any]:
    """A token's own role and teams (None: its agent's), as both backends store them."""
    return {"role": token.role.value if token.role else None, "teams": token.teams}


def token_narrowing_from_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """ApiToken keyword arguments from what token_narrowing_to_doc stored (absent: not narrowed)."""
    role, teams = doc.get("role"), doc.get("teams")
    return {"role": Role(role) if role else None, "teams": list(teams) if teams is not None else None}


def idempotency_key(channel: str, external_id: str) -> str:
    return f"{channel}\x1f{external_id}"


ONCE = "once"  # raw[ONCE]: the caller's key of a message stored once (Tickets.add_message_once)


def once_key(key: str) -> str:
    """The idempotency key of a message stored once: no channel is named "", so it never
    meets an inbound message's key in the same unique index."""
    return idempotency_key("", key)


# Control characters (line breaks become spaces) and the direction-changing ones that make a
# subject read backwards; a zero-width joiner stays (it binds an emoji family together).
_NOT_IN_SUBJECTS = {
    **{c: " " for c in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029)},
    **{
        c: None
        for c in [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
        if c not in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85)
    },
}


def ticket_subject(subject: str) -> str:
    """A subject an agent gives a ticket: one line, spaces made single, control characters
    out; InvalidInput when nothing is left."""
    cleaned = " ".join(subject.translate(_NOT_IN_SUBJECTS).split())
    if not cleaned:
        raise InvalidInput("subject: write a few words")
    return cleaned[:200]


def subject_from(subject: str, text: str, files: Sequence[str] = ()) -> str:
    """A ticket's subject: the channel's own, or the first line of the first message, or the
    names of its files when it has no words (a web-chat photo alone was listed "#1012 —")."""
    if subject.strip():
        return subject.strip()[:200]
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first_line and files:
        first_line = "📎 " + ", ".join(files)
    return first_line[:80] + ("…" if len(first_line) > 80 else "")


DATETIME_TAG = "__datetime__"  # a plugin's or channel's datetime, stored as ISO text under this key


def state_to_doc(value: Any) -> Any:
    """A plugin's state or a channel's value in the one shape both backends store: JSON types,
    datetimes tagged. Anything else is refused before a backend writes (InvalidInput)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput("a stored datetime must carry its time zone")
        return {DATETIME_TAG: value.isoformat()}
    if isinstance(value, list | tuple):
        return [state_to_doc(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise InvalidInput("stored state keys must be strings")
        return {key: state_to_doc(item) for key, item in value.items()}
    raise InvalidInput(f"{type(value).__name__} cannot be stored in plugin or channel state")


def state_from_doc(value: Any) -> Any:
    """The value state_to_doc stored (a datetime MongoDB stored natively before is kept)."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, list):
        return [state_from_doc(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(DATETIME_TAG), str):
            return datetime.fromisoformat(value[DATETIME_TAG])
        return {key: state_from_doc(item) for key, item in value.items()}
    return value


def record_to_doc(record: Any) -> dict[str, Any]:
    """A flat record dataclass (a call, a callback task) as a document: its fields by name,
    enums by value, datetimes kept (each backend writes them its way)."""
    return {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)}


def record_from_doc(cls: type[R], doc: dict[str, Any]) -> R:
    """The record `record_to_doc` wrote; fields missing from an older document take their
    defaults, and enum fields are read back through their type."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in doc:
            values[f.name] = _typed(doc[f.name], hints[f.name])
    return cls(**values)


def _typed(value: Any, hint: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value)
    enum = next((t for t in typing.get_args(hint) or (hint,) if isinstance(t, type) and issubclass(t, Enum)), None)
    return enum(value) if enum is not None and value is not None else value


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def to_iso_text(moment: datetime | None) -> str | None:
    """A time as ISO 8601 text (None stays None): sortable and alike in both backends' documents."""
    return moment.isoformat() if moment else None


def from_iso_text(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
