"""The audit log's records and the rules both store backends and the hub share: what an
entry holds, what a query may ask for, and how a change becomes a before/after pair with
every secret left out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from conversation.errors import InvalidInput

# Keys whose values are never written into an audit entry, at any depth (a token's value,
# a password or its hash, a webhook's signing secret, a session or CSRF token).
SECRET_KEYS = frozenset(
    {"password", "password_hash", "token", "token_hash", "secret", "csrf_token", "signing_secret", "api_key"}
)
REDACTED = "[redacted]"
MAX_PAGE = 200


@dataclass(frozen=True)
class AuditEntry:
    """One agent or admin action: who (actor), what (action on a target), when, before/after."""

    id: str
    at: datetime
    actor_id: str  # the agent's id; "" for the command line or the hub itself
    actor_name: str  # their name or email then (kept: an agent may be renamed later)
    via: str  # "session", "token", "cli", "system"
    action: str  # "ticket.update", "agent.create", "token.revoke", "auth.login", ...
    target_type: str  # "ticket", "agent", "token", "webhook", ...
    target_id: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditQuery:
    """Filters of `GET /api/v1/audit`; newest first."""

    actor_id: str | None = None
    target_id: str | None = None
    action: str | None = None  # an exact action, or a family: "ticket." or "ticket.*"
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        if self.offset < 0:
            raise InvalidInput("offset must not be negative")

    @property
    def action_prefix(self) -> str | None:
        """The family an action filter names ("ticket." for "ticket.*"), or None for an exact one."""
        if self.action is None:
            return None
        if self.action.endswith(".*"):
            return self.action[:-1]
        return self.action if self.action.endswith(".") else None


def matches(entry: AuditEntry, query: AuditQuery) -> bool:
    """Whether an entry passes the query's filters (a backend may use it after its index)."""
    if query.actor_id is not None and entry.actor_id != query.actor_id:
        return False
    if query.target_id is not None and entry.target_id != query.target_id:
        return False
    if query.action is not None:
        prefix = query.action_prefix
        if not (entry.action.startswith(prefix) if prefix else entry.action == query.action):
            return False
    if query.since is not None and entry.at < query.since:
        return False
    return not (query.until is not None and entry.at >= query.until)


def plain(value: Any) -> Any:
    """A value as JSON keeps it: enums by value, times in ISO 8601, secrets left out."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): REDACTED if str(k) in SECRET_KEYS else plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only what differs, on each side, as plain values without secrets (a key missing on one
    side is a field that was added or removed)."""
    old, new = plain(dict(before)), plain(dict(after))
    keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k) or (k in old) != (k in new)]
    return {k: old[k] for k in keys if k in old}, {k: new[k] for k in keys if k in new}


def entry_to_doc(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "via": entry.via,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "before": entry.before,
        "after": entry.after,
    }


def entry_from_doc(doc: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=doc["id"],
        at=doc["at"],
        actor_id=doc["actor_id"],
        actor_name=doc["actor_name"],
        via=doc["via"],
        action=doc["action"],
        target_type=doc["target_type"],
        target_id=doc["target_id"],
        before=dict(doc.get("before") or {}),
        after=dict(doc.get("after") or {}),
    )
