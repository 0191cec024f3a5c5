"""/api/v1/complaints, /api/v1/suggestions and a ticket's conversion to either: the
`complaints` plugin's agent side.

Every route reaches a complaint through its ticket and asks the one AccessPolicy
(hub/access.py): a complaint about an agent sits on a ticket of a "supervisors" team, so
that agent gets 404 here as everywhere else, and the lists leave it out. Changes go through
the plugin (plugins/complaints.py), which keeps the record, tells the customer and
schedules follow-up timers; with the plugin off the routes answer 409.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conversation import complaints as rules
from conversation.records import Record
from hub.access import Access
from hub.api.framework import ADMIN, ApiError, Call, not_found
from hub.api.records import RECORD, RECORD_PAGE, record_json
from hub.api.routes import api, authorized, conversation_or_404, hub_of, parse_time, refuse_merged
from hub.schema import Arr, Obj, Str
from hub.sdk import ServiceContext
from plugins.complaints import COMPLAINT, SUGGESTION, ComplaintsPlugin, Filing, complaints_plugin

if TYPE_CHECKING:
    from hub.app import Hub

ID = Str(max_length=64, min_length=1)
TEXT = Str(max_length=4000)


def _plugin(hub: Hub) -> ComplaintsPlugin:
    plugin = complaints_plugin(hub.plugin_host.plugins)
    if plugin is None:
        raise ApiError(
            409, "plugin_not_enabled", 'the complaints plugin is not enabled ([plugins] enabled = ["complaints"])'
        )
    return plugin


async def _context(call: Call, record_id: str, access: Access) -> tuple[ComplaintsPlugin, Record, ServiceContext]:
    """The plugin, the complaint and a context on its ticket, if the caller may `access` that ticket."""
    hub = hub_of(call)
    plugin = _plugin(hub)
    record = await hub.services.records.get(plugin.name, COMPLAINT, record_id)
    if record is None:
        raise not_found("complaint")
    ticket = await hub.store.tickets.get_conversation(record.conversation_id)
    if ticket is None or not hub.access.allows(call.viewer, ticket, Access.READ):
        raise not_found("complaint")
    authorized(call, ticket, access)
    return plugin, record, await hub.plugin_host.context(plugin, ticket)


async def _visible(call: Call, records: list[Record]) -> list[Record]:
    """Only records on tickets the caller may read, and never a complaint about the caller."""
    hub = hub_of(call)
    kept = []
    for record in records:
        ticket = await hub.store.tickets.get_conversation(record.conversation_id)
        if ticket is None or not hub.access.allows(call.viewer, ticket, Access.READ):
            continue
        if rules.may_see(str(record.data.get("about_agent", "")), call.me.id):
            kept.append(record)
    return kept


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/complaint",
    summary="File a complaint or a suggestion on a ticket (an agent converting it). A complaint is "
    "routed by subject and severity; one about an agent goes to the supervisors and is taken off that agent",
    tag="complaints",
    body=Obj(
        {
            "kind": Str(choices=(COMPLAINT, SUGGESTION)),
            "subject": Str(choices=rules.SUBJECTS),
            "severity": Str(choices=rules.SEVERITIES),
            "about_agent": Str(max_length=64, description="the agent a complaint is about (default: the assignee)"),
            "summary": TEXT,
            "topics": Arr(Str(max_length=40, min_length=1), max_items=10),
        },
        required=("kind",),
    ),
    response=RECORD,
    status=201,
)
async def file_complaint(call: Call) -> dict[str, Any]:
    ticket = await conversation_or_404(call, access=Access.WRITE)
    refuse_merged(ticket, "file it there")
    hub = hub_of(call)
    plugin = _plugin(hub)
    ctx = await hub.plugin_host.context(plugin, ticket)
    body = call.body
    if body["kind"] == SUGGESTION:
        text = body.get("summary", "").strip() or ticket.subject
        if not text:
            raise ApiError(422, "invalid", "summary: write the suggestion")
        return record_json(await plugin.suggest(ctx, text, list(body.get("topics") or []) or None))
    if "subject" not in body:
        raise ApiError(422, "invalid", "subject: say what the complaint is about")
    if body.get("about_agent") and await hub.store.accounts.get_agent(body["about_agent"]) is None:
        raise ApiError(422, "invalid", "about_agent: not an agent")
    filing = Filing(
        body["subject"], body.get("severity", "normal"), body.get("summary", ""), body.get("about_agent", "")
    )
    hold = hub.bus.hold(ticket.id)  # the complaint goes out live only where it is filed (Plugin.holds_live)
    try:
        return record_json(await plugin.file(ctx, filing, who=call.who))
    finally:
        hold.release()


@api.route(
    "GET",
    "/v1/complaints",
    summary="Complaints the caller may see, newest first: by status, or only those with an overdue follow-up",
    tag="complaints",
    query={"status": Str(choices=rules.STATUSES), "overdue": Str(choices=("true", "false"))},
    response=RECORD_PAGE,
)
async def list_complaints(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    plugin = _plugin(hub)
    status = call.query.get("status", "")
    overdue = call.query.get("overdue") == "true"
    statuses = [status] if status else list(rules.STATUSES if not overdue else rules.STATUSES[:-1])
    found: list[Record] = []
    for wanted in statuses:
        found += await hub.services.records.query(plugin.name, COMPLAINT, status=wanted, limit=200)
    if overdue:
        now = hub.actions.clock()  # the hub's clock, as the follow-up timers use (tests move it)
        found = [r for r in found if rules.overdue(rules.follow_ups(r.data), now)]
    found.sort(key=lambda r: r.created_at, reverse=True)
    return {"items": [record_json(r) for r in await _visible(call, found)]}


@api.route(
    "GET",
    "/v1/suggestions",
    summary="Suggestions the caller may see, newest first, by topic and month (YYYY-MM)",
    tag="complaints",
    query={"topic": Str(max_length=40, min_length=1), "month": Str(max_length=7, min_length=7)},
    response=RECORD_PAGE,
)
async def list_suggestions(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    plugin = _plugin(hub)
    filters = {k: call.query[k] for k in ("topic", "month") if call.query.get(k)}
    found = await hub.services.records.query(plugin.name, SUGGESTION, filters, limit=200)
    return {"items": [record_json(r) for r in await _visible(call, found)]}


MONTH = Str(max_length=7, min_length=7, description="YYYY-MM")
MONTH_FORMAT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(value: str) -> str:
    if not MONTH_FORMAT.match(value):
        raise ApiError(422, "invalid", f"month: {value!r} is not a month (YYYY-MM)")
    return value


REPORT = Obj({"month": Str(), "subject": Str(), "text": Str()})


@api.route(
    "GET",
    "/v1/suggestions/report",
    summary="Preview a month's suggestions report (YYYY-MM) as the departments get it by mail",
    tag="complaints",
    auth=ADMIN,
    query={"month": MONTH},
    response=REPORT,
)
async def preview_suggestions_report(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    plugin = _plugin(hub)
    month = _month(call.query.get("month") or rules.month_of(hub.actions.clock()))
    subject, text = await plugin.report_for(await hub.plugin_host.context(plugin, None), month)
    return {"month": month, "subject": subject, "text": text}


@api.route(
    "POST",
    "/v1/complaints/{complaint_id}/move",
    summary="Move a complaint (received, investigating, awaiting_outcome, closed); the customer is told",
    tag="complaints",
    body=Obj({"status": Str(choices=rules.STATUSES)}, required=("status",)),
    response=RECORD,
)
async def move_complaint(call: Call) -> dict[str, Any]:
    plugin, record, ctx = await _context(call, call.path["complaint_id"], Access.WRITE)
    return record_json(await plugin.move(ctx, record, call.body["status"]))


@api.route(
    "POST",
    "/v1/complaints/{complaint_id}/outcome",
    summary="Send the customer the outcome of a complaint; only then may its ticket be resolved",
    tag="complaints",
    body=Obj({"outcome": Str(max_length=4000, min_length=1)}, required=("outcome",)),
    response=RECORD,
)
async def complaint_outcome(call: Call) -> dict[str, Any]:
    plugin, record, ctx = await _context(call, call.path["complaint_id"], Access.WRITE)
    return record_json(await plugin.send_outcome(ctx, record, call.body["outcome"]))


@api.route(
    "POST",
    "/v1/complaints/{complaint_id}/follow-ups",
    summary="Add an internal follow-up with an owner (an agent) and a due date; an overdue one is noted on the ticket",
    tag="complaints",
    body=Obj(
        {"text": Str(max_length=4000, min_length=1), "owner": ID, "due": Str(max_length=64)},
        required=("text", "owner", "due"),
    ),
    response=RECORD,
    status=201,
)
async def add_follow_up(call: Call) -> dict[str, Any]:
    plugin, record, ctx = await _context(call, call.path["complaint_id"], Access.WRITE)
    owner = await hub_of(call).store.accounts.get_agent(call.body["owner"])
    if owner is None or not owner.active:
        raise ApiError(422, "invalid", "owner: not an active agent")
    if not rules.may_see(str(record.data.get("about_agent", "")), owner.id):
        raise ApiError(
            422, "owner_is_subject", "owner: the complaint is about this agent, who may never see it; choose another"
        )
    due: datetime = parse_time(call.body["due"], "due")
    return record_json(await plugin.add_follow_up(ctx, record, text=call.body["text"], owner=owner.id, due=due))


@api.route(
    "POST",
    "/v1/complaints/{complaint_id}/follow-ups/{follow_up_id}/done",
    summary="Mark a follow-up done (its timer is cancelled)",
    tag="complaints",
    response=RECORD,
)
async def finish_follow_up(call: Call) -> dict[str, Any]:
    plugin, record, ctx = await _context(call, call.path["complaint_id"], Access.WRITE)
    return record_json(await plugin.finish_follow_up(ctx, record, call.path["follow_up_id"]))
