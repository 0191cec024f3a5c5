"""/api/v1/records/<plugin>/<kind>: plugin records for agents and API clients.

A record is reached through the ticket it links to: reading it needs READ on that ticket,
changing it WRITE, both asked of the one AccessPolicy (hub/access.py); a record on a ticket
the caller may not see answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from conversation.records import RESERVED_FILTERS, Record, RecordKind, record_to_doc
from hub.access import Access
from hub.api.framework import ApiError, Call, not_found
from hub.api.routes import api, authorized, conversation_or_404, hub_of, parse_time, services_of
from hub.schema import AnyObject, Int, Nullable, Obj, Str

RECORD = api.schema(
    "Record",
    {
        "type": "object",
        "description": "a plugin record: data per its kind's JSON Schema, linked to a ticket and its contact",
        "properties": {
            "id": {"type": "string"},
            "plugin": {"type": "string"},
            "kind": {"type": "string"},
            "conversation_id": {"type": "string"},
            "contact_id": {"type": "string"},
            "status": {"type": "string"},
            "deadline": {"type": "string", "format": "date-time", "nullable": True},
            "data": {"type": "object"},
            "version": {"type": "integer"},
            "timeline": {"type": "array", "items": {"type": "object"}},
        },
    },
)
RECORD_PAGE = api.schema(
    "RecordPage", {"type": "object", "properties": {"items": {"type": "array", "items": RECORD.json_schema()}}}
)
TICKET_RECORDS = api.schema(
    "TicketRecords",
    {
        "type": "object",
        "description": "a ticket's records, with the kinds' schemas to show and edit them",
        "properties": {
            "kinds": {"type": "array", "items": {"type": "object"}},
            "items": {"type": "array", "items": RECORD.json_schema()},
        },
    },
)
ID = Str(max_length=64, min_length=1)
DEADLINE = Nullable(Str(max_length=64, description="ISO 8601 with its offset; null clears it"))


def record_json(record: Record) -> dict[str, Any]:
    """The stored document (conversation/records.py), its times as ISO 8601."""
    doc = record_to_doc(record)
    return {
        **doc,
        **{key: doc[key].isoformat() if doc[key] else None for key in ("deadline", "created_at", "updated_at")},
    }


def kind_json(kind: RecordKind) -> dict[str, Any]:
    return {
        "plugin": kind.plugin,
        "kind": kind.name,
        "schema": kind.schema,
        "statuses": list(kind.statuses),
        "queries": list(kind.queries),
        "managed": kind.managed,
    }


def unmanaged(kind: RecordKind) -> RecordKind:
    """The kind, if the generic routes may change its records; 409 when its plugin keeps them."""
    if kind.managed:
        raise ApiError(
            409, "managed_record", f"the {kind.plugin} plugin keeps its {kind.name} records: use its own routes"
        )
    return kind


def _deadline(body: dict[str, Any]) -> Any:
    if "deadline" not in body:
        return False  # unchanged
    value = body["deadline"]
    return None if value is None else parse_time(value, "deadline")


async def _ticket_of(call: Call, record: Record | None, access: Access) -> Record:
    if record is None:
        raise not_found("record")
    conversation = await hub_of(call).store.tickets.get_conversation(record.conversation_id)
    if conversation is None or not hub_of(call).access.allows(call.viewer, conversation, access):
        raise not_found("record")
    return record


@api.route(
    "GET",
    "/v1/records/{plugin}/{kind}",
    summary="A plugin's records of one kind, newest first. Besides the parameters below, each of the "
    "kind's declared query fields filters by equality (`?order=A-1`)",
    tag="records",
    query={
        "conversation_id": ID,
        "contact_id": ID,
        "status": Str(max_length=40),
        "limit": Int(minimum=1, maximum=200),
    },
    response=RECORD_PAGE,
    open_query=True,  # the kind's declared query fields, checked by the records service
)
async def list_records(call: Call) -> dict[str, Any]:
    services = services_of(call)
    kind = services.records.kind(call.path["plugin"], call.path["kind"])
    filters = {k: v for k, v in call.request.query.items() if k not in RESERVED_FILTERS}
    items = await services.records.query(
        kind.plugin,
        kind.name,
        filters,
        conversation_id=call.query.get("conversation_id", ""),
        contact_id=call.query.get("contact_id", ""),
        status=call.query.get("status", ""),
        limit=call.query.get("limit", 50),
    )
    hub = hub_of(call)
    if hub.access.restricts(call.viewer):  # only records on tickets the caller may see
        tickets = {r.conversation_id: await hub.store.tickets.get_conversation(r.conversation_id) for r in items}
        items = [
            r for r in items if (t := tickets[r.conversation_id]) and hub.access.allows(call.viewer, t, Access.READ)
        ]
    return {"items": [record_json(r) for r in items]}


@api.route(
    "POST",
    "/v1/records/{plugin}/{kind}",
    summary="Create a record on a ticket (validated by the kind's JSON Schema)",
    tag="records",
    body=Obj(
        {"conversation_id": ID, "data": AnyObject(), "status": Str(max_length=40), "deadline": DEADLINE},
        required=("conversation_id", "data"),
    ),
    response=RECORD,
    status=201,
)
async def create_record(call: Call) -> dict[str, Any]:
    records = services_of(call).records
    kind = unmanaged(records.kind(call.path["plugin"], call.path["kind"]))
    conversation = authorized(
        call, await hub_of(call).store.tickets.get_conversation(call.body["conversation_id"]), Access.WRITE
    )
    deadline = _deadline(call.body)
    record = await records.create(
        kind.plugin,
        kind.name,
        conversation,
        call.body["data"],
        status=call.body.get("status", ""),
        deadline=deadline if deadline is not False else None,
        who=call.who,
    )
    return record_json(record)


@api.route("GET", "/v1/records/{plugin}/{kind}/{record_id}", summary="One record", tag="records", response=RECORD)
async def get_record(call: Call) -> dict[str, Any]:
    found = await services_of(call).records.get(call.path["plugin"], call.path["kind"], call.path["record_id"])
    return record_json(await _ticket_of(call, found, Access.READ))


@api.route(
    "PATCH",
    "/v1/records/{plugin}/{kind}/{record_id}",
    summary="Change a record: `data` is merged field by field (null removes one); each change is in its timeline",
    tag="records",
    body=Obj({"data": AnyObject(), "status": Str(max_length=40), "deadline": DEADLINE}, at_least_one=True),
    response=RECORD,
)
async def update_record(call: Call) -> dict[str, Any]:
    records = services_of(call).records
    plugin, kind, record_id = call.path["plugin"], call.path["kind"], call.path["record_id"]
    await _ticket_of(call, await records.get(plugin, kind, record_id), Access.WRITE)
    unmanaged(records.kind(plugin, kind))
    updated = await records.update(
        plugin,
        kind,
        record_id,
        data=call.body.get("data"),
        status=call.body.get("status"),
        deadline=_deadline(call.body),
        who=call.who,
    )
    return record_json(updated)


@api.route(
    "GET",
    "/v1/conversations/{conversation_id}/records",
    summary="A ticket's records of every kind, with the kinds' JSON Schemas (the inbox's sidebar)",
    tag="records",
    response=TICKET_RECORDS,
)
async def ticket_records(call: Call) -> dict[str, Any]:
    conversation = await conversation_or_404(call)
    records = services_of(call).records
    return {
        "kinds": [kind_json(k) for k in records.kinds.values()],
        "items": [record_json(r) for r in await records.of_conversation(conversation.id)],
    }
