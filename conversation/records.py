"""Plugin records: typed documents a service plugin keeps beside a ticket (a dispute's
order number and amount, a callback's due time), validated by the JSON Schema the
plugin declares, each with a status, an optional deadline and a timeline of changes.

Pure rules shared by both store backends and the service: what a kind declares, what
a valid record is, what a query may filter by, and what one change adds to the timeline.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from conversation.codec import state_from_doc, state_to_doc
from conversation.errors import InvalidInput
from conversation.model import utcnow

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # plugin, kind and query field names: safe in SQL and index names
DEFAULT_STATUSES = ("open", "done", "cancelled")
MAX_QUERY_LIMIT = 200
# Query-string names the records API keeps for itself: a kind cannot declare a query field so named.
RESERVED_FILTERS = ("conversation_id", "contact_id", "status", "limit", "lang")
MAX_TIMELINE = 200  # the oldest changes are dropped beyond this; the record keeps its current values


class RecordChanged(InvalidInput):
    """The record is not at the version the change was computed from: read it again and retry."""

    code = "record_changed"


@dataclass(frozen=True)
class RecordKind:
    """A kind of record a plugin declares: its JSON Schema, the fields it is queried by,
    and the statuses a record moves through (the first is where a new record starts).

    Labels for the inbox come from the schema: `title` (English) and `x-title-<lang>`
    (`x-title-zh-CN`) on the schema and on each property."""

    name: str
    schema: dict[str, Any]
    queries: tuple[str, ...] = ()
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    plugin: str = ""  # set when the hub registers the plugin
    # Changed only through the plugin's own routes (its rules, what it tells the customer):
    # the generic records API reads such records and refuses to create or change them.
    managed: bool = False
    # Its record.* events reach only webhook subscriptions with include_private (as private
    # notes do): a complaint about an agent is no business of every integration.
    private: bool = False

    def check(self) -> None:
        """Raise ValueError naming what is wrong with the declaration (at start, not on first use)."""
        if not NAME.match(self.name):
            raise ValueError(f"record kind {self.name!r}: use lower-case letters, digits and _")
        try:
            Draft202012Validator.check_schema(self.schema)
        except SchemaError as exc:
            raise ValueError(f"record kind {self.name!r}: invalid JSON Schema: {exc.message}") from None
        if self.schema.get("type") != "object":
            raise ValueError(f"record kind {self.name!r}: the schema's type must be object")
        properties = self.schema.get("properties", {})
        for name in self.queries:
            if not NAME.match(name) or name not in properties:
                raise ValueError(f"record kind {self.name!r}: query field {name!r} is not a property of the schema")
            if name in RESERVED_FILTERS:
                raise ValueError(f"record kind {self.name!r}: query field {name!r} is a reserved name (rename it)")
        if not self.statuses or not all(NAME.match(s) for s in self.statuses):
            raise ValueError(f"record kind {self.name!r}: statuses must be names (lower-case letters, digits, _)")

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema)

    def validate(self, data: Any) -> dict[str, Any]:
        """The record's data if the schema accepts it; InvalidInput naming the first problem."""
        if not isinstance(data, dict):
            raise InvalidInput("data: expected an object")
        error = next(iter(sorted(self.validator.iter_errors(data), key=lambda e: list(e.absolute_path))), None)
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path)
            raise InvalidInput(f"data{'.' + where if where else ''}: {error.message}")
        state_to_doc(data)  # the one encoding of stored JSON: refuses what it cannot keep
        return data

    def check_status(self, status: str) -> str:
        if status not in self.statuses:
            raise InvalidInput(f"status must be one of {', '.join(self.statuses)}, not {status!r}")
        return status

    def filter_value(self, name: str, value: Any) -> Any:
        """A filter's value as the stored JSON has it: a query string's "42" is 42 for an
        integer field, "true" is True for a boolean one."""
        if name not in self.queries:
            allowed = ", ".join(self.queries) or "none"
            raise InvalidInput(f"{name!r} is not a query field of {self.name} (query fields: {allowed})")
        kind = self.schema.get("properties", {}).get(name, {}).get("type")
        if not isinstance(value, str) or kind in ("string", None):
            return value
        try:
            if kind == "integer":
                return int(value)
            if kind == "number":
                return float(value)
        except ValueError:
            raise InvalidInput(f"{name}: expected a {kind}") from None
        if kind == "boolean" and value in ("true", "false"):
            return value == "true"
        raise InvalidInput(f"{name}: cannot filter a {kind} field by {value!r}")


@dataclass(frozen=True)
class Change:
    """One entry of a record's timeline: who changed which fields, from what to what."""

    at: datetime
    who: str
    changes: dict[str, list[Any]]  # field -> [before, after]; "status", "deadline", "data.<name>"


@dataclass(frozen=True)
class Record:
    id: str
    plugin: str
    kind: str
    conversation_id: str
    contact_id: str
    status: str
    data: dict[str, Any]
    deadline: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    version: int = 1
    timeline: tuple[Change, ...] = ()


@dataclass(frozen=True)
class RecordQuery:
    plugin: str
    kind: str
    filters: dict[str, Any] = field(default_factory=dict)  # declared query fields -> value (equality)
    conversation_id: str = ""
    contact_id: str = ""
    status: str = ""
    limit: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_QUERY_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_QUERY_LIMIT}")


def keyed_id(plugin: str, kind: str, key: str) -> str:
    """The id of the one record of a kind with this key (`create_record_once`): the same
    plugin, kind and key give the same id, so of two writers racing to make it, one does.
    24 hex digits, like `new_id` (hashed: the key may name an order or a ticket)."""
    if not key:
        raise ValueError("a keyed record needs a key")
    return hashlib.sha256("\x1f".join((plugin, kind, key)).encode()).hexdigest()[:24]


def changed(
    record: Record,
    *,
    data: dict[str, Any] | None,
    status: str | None,
    deadline: datetime | None | bool,
    who: str,
    now: datetime,
) -> Record:
    """The record after a change (data merged field by field; `deadline=False` leaves it),
    with one timeline entry listing what changed; the same record when nothing did."""
    changes: dict[str, list[Any]] = {}
    new_data = dict(record.data)
    for name, value in (data or {}).items():
        if record.data.get(name) != value:
            changes[f"data.{name}"] = [record.data.get(name), value]
        if value is None:
            new_data.pop(name, None)
        else:
            new_data[name] = value
    new_status = record.status if status is None else status
    if new_status != record.status:
        changes["status"] = [record.status, new_status]
    new_deadline = record.deadline if deadline is False else deadline
    if new_deadline != record.deadline:
        changes["deadline"] = [_when(record.deadline), _when(new_deadline)]  # type: ignore[arg-type]
    if not changes:
        return record
    entry = Change(at=now, who=who, changes=changes)
    return replace(
        record,
        data=new_data,
        status=new_status,
        deadline=new_deadline,  # type: ignore[arg-type]
        updated_at=now,
        version=record.version + 1,
        timeline=(*record.timeline, entry)[-MAX_TIMELINE:],
    )


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# -- the one document shape both backends store ---------------------------------------------
def record_to_doc(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "plugin": record.plugin,
        "kind": record.kind,
        "conversation_id": record.conversation_id,
        "contact_id": record.contact_id,
        "status": record.status,
        "data": state_to_doc(record.data),
        "deadline": record.deadline,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "version": record.version,
        "timeline": [
            {"at": c.at.isoformat(), "who": c.who, "changes": state_to_doc(c.changes)} for c in record.timeline
        ],
    }


def record_from_doc(doc: dict[str, Any]) -> Record:
    return Record(
        id=doc["id"],
        plugin=doc["plugin"],
        kind=doc["kind"],
        conversation_id=doc["conversation_id"],
        contact_id=doc["contact_id"],
        status=doc["status"],
        data=state_from_doc(dict(doc["data"])),
        deadline=doc.get("deadline"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        version=int(doc["version"]),
        timeline=tuple(
            Change(at=datetime.fromisoformat(c["at"]), who=c["who"], changes=state_from_doc(dict(c["changes"])))
            for c in doc.get("timeline", [])
        ),
    )
