"""/api/v1/disputes: the `disputes` plugin's cases for agents and API clients (plugins/disputes.py).

A case is reached through the buyer's ticket it is recorded on: reading it needs READ on
that ticket, deciding or recording an appeal WRITE, both asked of the one AccessPolicy
(hub/access.py); a case on a ticket the caller may not see answers 404. Whoever may see
the case sees both sides in one view: the buyer's thread, the seller's thread, the
evidence and the deadlines. Deciding above the plugin's `supervisor_above` limit takes a
supervisor (or an admin).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conversation.disputes import OUTCOMES, PARTIES, REASONS, STATUSES, OwnDecision, needs_supervisor
from conversation.disputes import amount as parse_amount
from conversation.model import Conversation, Role
from conversation.records import Record
from hub.access import Access
from hub.api.framework import ApiError, Call, not_found
from hub.api.records import RECORD, record_json
from hub.api.routes import api, authorized, hub_of
from hub.api.serialize import conversation_json, message_json
from hub.schema import Int, Nullable, Obj, Str
from hub.sdk import ServiceContext

PLUGIN = "disputes"
KIND = "case"
ID = Str(max_length=64, min_length=1)
SIDE = {
    "type": "object",
    "description": "one party's ticket: the buyer's shows only the dispute's messages (from its opening statement on)",
    "properties": {
        "ticket": {"type": "object"},
        "name": {"type": "string", "description": "the party's name (a seller's, from the platform)"},
        "messages": {"type": "array"},
    },
}
DISPUTE_VIEW = api.schema(
    "DisputeView",
    {
        "type": "object",
        "description": "one dispute with both sides: the case record, each party's ticket and thread",
        "properties": {
            "case": RECORD.json_schema(),
            "buyer": SIDE,
            "seller": SIDE,
            "seller_hidden": {
                "type": "boolean",
                "description": "true: the seller's ticket exists but the caller may not read it (seller is then null)",
            },
            "needs_supervisor": {"type": "boolean"},
        },
    },
)
DISPUTE_PAGE = api.schema(
    "DisputePage",
    {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "enabled": {"type": "boolean", "description": "a ticket's list: whether disputes may be opened here"},
        },
    },
)


def _plugin(call: Call) -> Any:
    """The enabled disputes plugin (one that keeps `case` records: a test double by the same name does not)."""
    plugin = hub_of(call).plugin_host.plugins.get(PLUGIN)
    if plugin is None or not any(kind.name == KIND for kind in plugin.record_kinds):
        raise ApiError(404, "not_enabled", "the disputes plugin is not enabled ([plugins] enabled)")
    return plugin


def _enabled(call: Call) -> bool:
    try:
        _plugin(call)
    except ApiError:
        return False
    return True


async def _case(call: Call, access: Access) -> tuple[Record, Conversation]:
    _plugin(call)
    hub = hub_of(call)
    case = await hub.services.records.get(PLUGIN, KIND, call.path["case_id"])
    if case is None:
        raise not_found("dispute")
    ticket = await hub.store.tickets.get_conversation(case.conversation_id)
    if ticket is None or not hub.access.allows(call.viewer, ticket, Access.READ):
        raise not_found("dispute")
    return case, authorized(call, ticket, access)


async def _acting(call: Call, ticket: Conversation) -> ServiceContext:
    """The plugin acting for the calling agent on the case's (buyer's) ticket."""
    return await hub_of(call).plugin_host.context(_plugin(call), ticket)


def _supervisor(call: Call) -> bool:
    return call.viewer.agent.role in (Role.SUPERVISOR, Role.ADMIN)


def case_summary(case: Record) -> dict[str, Any]:
    data = case.data
    return {
        "id": case.id,
        "reference": data.get("reference", ""),
        "status": case.status,
        "order_id": data.get("order_id", ""),
        "amount": data.get("amount", ""),
        "currency": data.get("currency", ""),
        "reason": data.get("reason", ""),
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "conversation_id": case.conversation_id,
        "seller_conversation_id": data.get("seller_conversation_id", ""),
        "proposal": data.get("proposal"),
        "updated_at": case.updated_at.isoformat(),
    }


def dispute_began(case: Record) -> datetime:
    """Where the dispute starts in the buyer's ticket: when the case was opened, or earlier for
    a statement it keeps (the buyer's words that opened it). What the ticket held before (a
    password reset, other questions) is no part of the case."""
    times = [case.created_at]
    for item in case.data.get("evidence", []):
        if not item.get("message_id"):  # typed by an agent: no message of the ticket's
            continue
        try:
            times.append(datetime.fromisoformat(str(item.get("at", ""))))
        except ValueError:
            continue
    return min(t for t in times if t.tzinfo is not None)


async def _side(call: Call, ticket_id: str, since: datetime | None = None) -> dict[str, Any] | None:
    """One side's ticket and thread; None when there is none or the caller may not read it (the
    seller's ticket may be another team's: a buyer's case does not open it to them)."""
    hub = hub_of(call)
    store = hub.store
    ticket = await store.tickets.get_conversation(ticket_id) if ticket_id else None
    if ticket is None or not hub.access.allows(call.viewer, ticket, Access.READ):
        return None
    contact = await store.contacts.get_contact(ticket.contact_id)
    messages = await store.tickets.list_messages(ticket.id)
    return {
        "ticket": conversation_json(ticket),
        "name": contact.name if contact else "",
        "messages": [message_json(m) for m in messages if since is None or m.created_at >= since],
    }


@api.route(
    "GET",
    "/v1/disputes",
    summary="Disputes, newest first (`status=awaiting_seller`: the cases waiting for the seller)",
    tag="disputes",
    query={"status": Str(max_length=40, choices=STATUSES), "limit": Int(minimum=1, maximum=200)},
    response=DISPUTE_PAGE,
)
async def list_disputes(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    if not _enabled(call):
        return {"items": []}
    cases = await hub.services.records.query(
        PLUGIN, KIND, {}, status=call.query.get("status", ""), limit=call.query.get("limit", 50)
    )
    visible = []
    for case in cases:
        ticket = await hub.store.tickets.get_conversation(case.conversation_id)
        if ticket is not None and hub.access.allows(call.viewer, ticket, Access.READ):
            visible.append(case_summary(case) | {"number": ticket.number})
    return {"items": visible}


@api.route(
    "GET",
    "/v1/conversations/{conversation_id}/disputes",
    summary="The disputes a ticket takes part in (as the buyer's or the seller's ticket)",
    tag="disputes",
    response=DISPUTE_PAGE,
)
async def ticket_disputes(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    ticket = authorized(call, await hub.store.tickets.get_conversation(call.path["conversation_id"]), Access.READ)
    if not _enabled(call):
        return {"items": [], "enabled": False}
    records = hub.services.records
    cases = [
        *await records.query(PLUGIN, KIND, {}, conversation_id=ticket.id),
        *await records.query(PLUGIN, KIND, {"seller_conversation_id": ticket.id}),
    ]
    items = []
    for case in cases:
        summary = case_summary(case)
        for side in ("conversation_id", "seller_conversation_id"):  # the other side's ticket, if the caller sees it
            other = await hub.store.tickets.get_conversation(summary[side]) if summary[side] else None
            if other is not None and not hub.access.allows(call.viewer, other, Access.READ):
                summary[side] = ""
        items.append(summary)
    return {"items": items, "enabled": True}


@api.route(
    "GET", "/v1/disputes/{case_id}", summary="One dispute with both sides", tag="disputes", response=DISPUTE_VIEW
)
async def get_dispute(call: Call) -> dict[str, Any]:
    case, _ticket = await _case(call, Access.READ)
    value = parse_amount(case.data["amount"])
    seller_id = case.data.get("seller_conversation_id", "")
    seller = await _side(call, seller_id)
    return {
        "case": record_json(case),
        "buyer": await _side(call, case.conversation_id, since=dispute_began(case)),
        "seller": seller,
        # The seller was asked, on a ticket the caller may not read: not "not contacted yet".
        "seller_hidden": seller is None and await hub_of(call).store.tickets.get_conversation(seller_id) is not None
        if seller_id
        else False,
        "needs_supervisor": needs_supervisor(value, case.data["currency"], _plugin(call).limits),
    }


@api.route(
    "POST",
    "/v1/disputes",
    summary="Open a dispute for the customer of a ticket (the buyer) about one of their orders; the seller is"
    " asked on their channel",
    tag="disputes",
    body=Obj(
        {
            "conversation_id": ID,
            "order_id": Str(max_length=128, min_length=1),
            "reason": Str(max_length=40, choices=REASONS),
            "statement": Str(max_length=4000),
        },
        required=("conversation_id", "order_id", "reason"),
    ),
    response=RECORD,
    status=201,
)
async def open_dispute(call: Call) -> dict[str, Any]:
    plugin = _plugin(call)
    hub = hub_of(call)
    ticket = authorized(call, await hub.store.tickets.get_conversation(call.body["conversation_id"]), Access.WRITE)
    ctx = await _acting(call, ticket)
    user = await plugin.buyer(ctx)
    if user is None:
        raise ApiError(422, "not_verified", "the ticket's customer has no verified identity the platform knows")
    order = await plugin.order_of_buyer(ctx, call.body["order_id"], user)
    if order is None:
        raise ApiError(422, "unknown_order", "the ticket's customer bought no such order")
    case = await plugin.open_case(ctx, order, call.body["reason"], text=call.body.get("statement", ""), who=call.who)
    return record_json(case)


@api.route(
    "POST",
    "/v1/disputes/{case_id}/decide",
    summary="Decide a dispute with grounds (both parties are told; a refund goes through the platform)",
    tag="disputes",
    body=Obj(
        {
            "outcome": Str(max_length=40, choices=OUTCOMES),
            "grounds": Str(max_length=4000, min_length=1),
            "refund": Nullable(Str(max_length=20, description="a partial refund's amount, e.g. 40.00")),
        },
        required=("outcome", "grounds"),
    ),
    response=RECORD,
)
async def decide_dispute(call: Call) -> dict[str, Any]:
    case, ticket = await _case(call, Access.WRITE)
    try:
        decided = await _plugin(call).decide(
            await _acting(call, ticket),
            case,
            outcome=call.body["outcome"],
            grounds=call.body["grounds"],
            refund=call.body.get("refund"),
            supervisor=_supervisor(call),
            who=call.who,
        )
    except OwnDecision as exc:
        # who may: a supervisor of the case's team (only they see it; an admin sees every team)
        team = f" of team {ticket.team}" if ticket.team else ""
        raise ApiError(403, "another_supervisor_needed", f"{exc} (a supervisor{team}, or an admin)") from None
    except PermissionError as exc:
        raise ApiError(403, "supervisor_needed", str(exc)) from None
    return record_json(decided)


@api.route(
    "POST",
    "/v1/disputes/{case_id}/appeal",
    summary="Record a party's appeal of the decision (within the appeal window, once)",
    tag="disputes",
    body=Obj(
        {"party": Str(max_length=10, choices=PARTIES), "grounds": Str(max_length=4000, min_length=1)},
        required=("party", "grounds"),
    ),
    response=RECORD,
)
async def appeal_dispute(call: Call) -> dict[str, Any]:
    case, ticket = await _case(call, Access.WRITE)
    appealed = await _plugin(call).appeal(
        await _acting(call, ticket), case, party=call.body["party"], grounds=call.body["grounds"], who=call.who
    )
    return record_json(appealed)


@api.route(
    "POST",
    "/v1/disputes/{case_id}/ask",
    summary="Ask one party for more (only they read the question); the case waits for them until a new deadline",
    tag="disputes",
    body=Obj(
        {"party": Str(max_length=10, choices=PARTIES), "question": Str(max_length=4000, min_length=1)},
        required=("party", "question"),
    ),
    response=RECORD,
)
async def ask_dispute_party(call: Call) -> dict[str, Any]:
    case, ticket = await _case(call, Access.WRITE)
    asked = await _plugin(call).ask(
        await _acting(call, ticket), case, party=call.body["party"], question=call.body["question"], who=call.who
    )
    return record_json(asked)
