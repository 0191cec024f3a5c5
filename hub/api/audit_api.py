"""The audit log for admins: GET /api/v1/audit, filtered and paged, newest first."""

from __future__ import annotations

from typing import Any

from conversation.audit import AuditEntry, AuditQuery
from conversation.store import Store
from hub.api.framework import ADMIN, ApiError, Call
from hub.api.routes import api, hub_of, parse_time
from hub.api.serialize import iso
from hub.schema import Int, Str

AUDIT_PAGE = api.schema(
    "AuditPage",
    {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "has_more": {"type": "boolean"},
        },
    },
)


def audit_json(entry: AuditEntry, ticket_numbers: dict[str, int] | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {"type": entry.target_type, "id": entry.target_id}
    number = (ticket_numbers or {}).get(entry.target_id) if entry.target_type == "ticket" else None
    if number is not None:  # people know a ticket by its number (#1000), not its id
        target["number"] = number
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "actor": {"id": entry.actor_id or None, "name": entry.actor_name, "via": entry.via},
        "action": entry.action,
        "target": target,
        "before": entry.before,
        "after": entry.after,
    }


async def ticket_numbers(store: Store, ticket_ids: set[str]) -> dict[str, int]:
    """The numbers of the tickets a page of the log names (a deleted or merged-away one: none)."""
    numbers = {}
    for ticket_id in ticket_ids:
        conversation = await store.tickets.get_conversation(ticket_id)
        if conversation is not None:
            numbers[ticket_id] = conversation.number
    return numbers


@api.route(
    "GET",
    "/v1/audit",
    summary="Agents' and admins' actions, newest first: who, what, when, before and after (admin)",
    tag="audit",
    auth=ADMIN,
    query={
        "actor": Str(max_length=64, description="an agent id"),
        "target": Str(max_length=64, description="the id of a ticket, agent, token, webhook, ..."),
        "action": Str(max_length=64, description="an action (ticket.update) or a family (ticket.*)"),
        "since": Str(max_length=40, description="ISO 8601 time, inclusive"),
        "until": Str(max_length=40, description="ISO 8601 time, exclusive"),
        "page": Int(minimum=1, maximum=10_000),
        "per_page": Int(minimum=1, maximum=100),
    },
    response=AUDIT_PAGE,
)
async def list_audit(call: Call) -> dict[str, Any]:
    q = call.query
    since = parse_time(q["since"], "since") if "since" in q else None
    until = parse_time(q["until"], "until") if "until" in q else None
    if since is not None and until is not None and until <= since:
        raise ApiError(422, "invalid", "until: must be after since")
    page, per_page = q.get("page", 1), q.get("per_page", 50)
    query = AuditQuery(
        actor_id=q.get("actor"),
        target_id=q.get("target"),
        action=q.get("action"),
        since=since,
        until=until,
        limit=per_page + 1,
        offset=(page - 1) * per_page,
    )
    store = hub_of(call).store
    found = await store.audit.list_entries(query)
    items = found[:per_page]
    numbers = await ticket_numbers(store, {e.target_id for e in items if e.target_type == "ticket"})
    return {
        "items": [audit_json(e, numbers) for e in items],
        "page": page,
        "per_page": per_page,
        "has_more": len(found) > per_page,
    }
