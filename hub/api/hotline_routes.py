"""The hotline's routes: log a call, callback tasks, and the signed telephony webhook."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from conversation.callbacks import Callback, CallbackStatus, callback_to_doc
from conversation.calls import PHONE_CHANNEL, Call, CallDirection, CallOutcome, CallState, InvalidNumber, call_to_doc
from conversation.identity import same_customer
from conversation.ingest import MAX_MERGE_HOPS
from hub.access import Access
from hub.api.framework import PUBLIC, ApiError, not_found
from hub.api.framework import Call as ApiCall
from hub.api.routes import (
    api,
    authorized,
    conversation_or_404,
    hub_of,
    named_conversation_json,
    parse_time,
    refuse_merged,
    services_of,
)
from hub.jsonbody import parse_json
from hub.schema import Int, Obj, Str
from hub.services.hotline import CallbackRequest, CallForm, LoggedCall
from hub.signing import BadSignature, check_signature

T = TypeVar("T")
DIRECTIONS = tuple(d.value for d in CallDirection)
OUTCOMES = tuple(o.value for o in CallOutcome)
TIME = Str(max_length=40, description="ISO 8601 time with its offset, e.g. 2026-11-26T15:30:00+08:00")
NUMBER = Str(
    max_length=40, min_length=1, description="the caller's number; without + it is read in hotline.default_region"
)
CALLBACK_FIELDS = {
    "due_at": TIME,
    "owner_id": Str(max_length=64, description='the agent who calls back; absent: the agent asking; "": nobody yet'),
    "note": Str(max_length=2000),
}
CALLBACK_BODY = Obj(CALLBACK_FIELDS, required=("due_at",))
LOGGED = api.schema("LoggedCall", {"type": "object", "description": "the call, its ticket and any callback task"})
CALLBACK = api.schema("Callback", {"type": "object", "description": "a callback task"})
CALLBACK_PAGE = api.schema(
    "CallbackPage", {"type": "object", "properties": {"items": {"type": "array", "items": CALLBACK.json_schema()}}}
)
TELEPHONY_EVENT = Obj(
    {
        "call_id": Str(max_length=200, min_length=1),
        "event": Str(choices=tuple(s.value for s in CallState)),
        "number": NUMBER,
        "direction": Str(choices=DIRECTIONS),
        "at": Str(
            max_length=40,
            description="when the event happened (ISO 8601 with offset; default now): the start for started"
            " and missed, the end for ended",
        ),
        "duration_seconds": Int(minimum=0, maximum=86_400),
        "recording_url": Str(max_length=2000),
    },
    required=("call_id", "event", "number"),
)
api.schema("TelephonyEvent", TELEPHONY_EVENT.json_schema())

if TYPE_CHECKING:
    from hub.app import Hub


def _json(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in doc.items()}


def call_json(call: Call) -> dict[str, Any]:
    return _json(call_to_doc(call))


def callback_json(callback: Callback, *, number: int | None = None) -> dict[str, Any]:
    """The task, with its ticket's number for the inbox's list."""
    return {**_json(callback_to_doc(callback)), "conversation_number": number}


async def _number_errors_named(change: Awaitable[T]) -> T:
    """A wrong phone number gets its own code, so an agent reads why in their language."""
    try:
        return await change
    except InvalidNumber as exc:
        raise ApiError(422, "invalid_number", str(exc)) from None


async def logged_json(hub: Hub, logged: LoggedCall) -> dict[str, Any]:
    return {
        "call": call_json(logged.call),
        "conversation": await named_conversation_json(hub, logged.conversation),  # as the list names it
        "callback": callback_json(logged.callback) if logged.callback else None,
        "duplicate": logged.duplicate,
    }


def callback_request(body: dict[str, Any], *, asker: str) -> CallbackRequest:
    """The task as asked; without an owner_id it is the asking agent's (an explicit "" leaves it
    to nobody), so a task is never ownerless by omission."""
    return CallbackRequest(
        due_at=parse_time(body["due_at"], "callback.due_at"),
        owner_id=body.get("owner_id", asker),
        note=body.get("note", ""),
    )


@api.route(
    "POST",
    "/v1/calls",
    summary="Log a phone call: it joins the caller's open phone ticket (or the given one) or opens one",
    tag="hotline",
    body=Obj(
        {
            "number": NUMBER,
            "direction": Str(choices=DIRECTIONS),
            "started_at": TIME,
            "duration_seconds": Int(minimum=0, maximum=86_400),
            "outcome": Str(choices=OUTCOMES),
            "category": Str(max_length=100),
            "notes": Str(max_length=5000),
            "conversation_id": Str(max_length=64, description="log the call on this ticket"),
            "call_id": Str(max_length=200, description="your key for the call: a retry with it logs nothing twice"),
            "callback": CALLBACK_BODY,
        },
        required=("number", "direction"),
    ),
    response=LOGGED,
    status=201,
)
async def log_call(call: ApiCall) -> dict[str, Any]:
    body = call.body
    ticket_id = await _call_ticket(call, body["conversation_id"]) if body.get("conversation_id") else ""
    form = CallForm(
        number=body["number"],
        direction=CallDirection(body["direction"]),
        started_at=parse_time(body["started_at"], "started_at") if body.get("started_at") else None,
        duration_seconds=body.get("duration_seconds"),
        outcome=CallOutcome(body["outcome"]) if "outcome" in body else None,
        category=body.get("category", ""),
        notes=body.get("notes", ""),
        conversation_id=ticket_id,
        call_id=body.get("call_id", ""),
        callback=callback_request(body["callback"], asker=call.me.id) if "callback" in body else None,
    )
    policy = hub_of(call).access
    logged = await _number_errors_named(
        services_of(call).hotline.log_call(
            form,
            who=call.who,
            agent_id=call.me.id,
            may_join=lambda ticket: policy.allows(call.viewer, ticket, Access.WRITE),
        )
    )
    if logged.duplicate:  # a retry answers with its ticket only to someone who may see it (call ids are guessable)
        authorized(call, logged.conversation, Access.READ)
    return await logged_json(hub_of(call), logged)


async def _call_ticket(call: ApiCall, conversation_id: str) -> str:
    """The ticket a call logged on `conversation_id` goes to: that one, or the one it was merged
    into (a review: the merge took the call past the check, onto another team's ticket). The
    caller must be able to change each, else 404 (403 for one they only read)."""
    tickets = hub_of(call).store.tickets
    ticket = authorized(call, await tickets.get_conversation(conversation_id), Access.WRITE)
    for _ in range(MAX_MERGE_HOPS):
        if not ticket.merged_into:
            break
        surviving = authorized(call, await tickets.get_conversation(ticket.merged_into), Access.WRITE)
        if not same_customer(ticket, surviving):  # a trial's call went onto another caller's ticket
            raise ApiError(
                409, "merged", "this ticket was merged into another customer's; log the call without a ticket"
            )
        ticket = surviving
    return ticket.id


@api.route(
    "GET",
    "/v1/callbacks",
    summary="Callback tasks, soonest due first: mine or everyone's, open or closed",
    tag="hotline",
    query={
        "owner": Str(max_length=64, description="me (default), all, unassigned, or an agent id"),
        "status": Str(choices=tuple(s.value for s in CallbackStatus)),
    },
    response=CALLBACK_PAGE,
)
async def list_callbacks(call: ApiCall) -> dict[str, Any]:
    hub = hub_of(call)
    owner = call.query.get("owner", "me")
    owner_id = {"me": call.me.id, "all": None, "unassigned": ""}.get(owner, owner)
    if owner_id and owner_id != call.me.id and await hub.store.accounts.get_agent(owner_id) is None:
        raise ApiError(422, "invalid", "owner: me, all, unassigned, or an agent's id")
    status = CallbackStatus(call.query.get("status", CallbackStatus.OPEN.value))
    items = await hub.store.callbacks.list_callbacks(status=status, owner_id=owner_id)
    shown = []
    for callback in items:
        conversation = await hub.store.tickets.get_conversation(callback.conversation_id)
        if conversation is not None and hub.access.allows_callback(
            call.viewer, conversation, Access.READ, owner_id=callback.owner_id
        ):
            shown.append(callback_json(callback, number=conversation.number))
    return {"items": shown}


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/callbacks",
    summary="Schedule a callback on this ticket (the number defaults to its phone caller's)",
    tag="hotline",
    body=Obj({**CALLBACK_FIELDS, "number": NUMBER}, required=("due_at",)),
    response=CALLBACK,
    status=201,
)
async def add_callback(call: ApiCall) -> dict[str, Any]:
    conversation = await conversation_or_404(call, access=Access.WRITE)
    refuse_merged(conversation, "schedule the callback there")
    number = call.body.get("number") or (conversation.customer_address if conversation.channel == PHONE_CHANNEL else "")
    if not number:
        raise ApiError(422, "invalid", "number: this ticket has no phone caller; give the number to call")
    callback = await _number_errors_named(
        services_of(call).hotline.add_callback(
            conversation, callback_request(call.body, asker=call.me.id), number=number, who=call.who, by=call.me.id
        )
    )
    return callback_json(callback, number=conversation.number)


@api.route(
    "PATCH",
    "/v1/callbacks/{callback_id}",
    summary="Mark a callback task done or cancelled",
    tag="hotline",
    body=Obj(
        {"status": Str(choices=(CallbackStatus.DONE.value, CallbackStatus.CANCELLED.value))}, required=("status",)
    ),
    response=CALLBACK,
)
async def close_callback(call: ApiCall) -> dict[str, Any]:
    hub = hub_of(call)
    existing = await hub.store.callbacks.get_callback(call.path["callback_id"])
    if existing is None:
        raise not_found("callback")
    conversation = await hub.store.tickets.get_conversation(existing.conversation_id)
    if conversation is None or not hub.access.allows_callback(
        call.viewer, conversation, Access.WRITE, owner_id=existing.owner_id
    ):
        raise not_found("callback")
    closed = await services_of(call).hotline.close_callback(
        existing.id, CallbackStatus(call.body["status"]), who=call.who, by=call.me.id
    )
    return callback_json(closed, number=conversation.number)


@api.route(
    "POST",
    "/v1/telephony/events",
    summary="A telephony system reports a call started, ended or missed (body: TelephonyEvent, signed; see README)",
    tag="hotline",
    auth=PUBLIC,
    response=LOGGED,
)
async def telephony_event(call: ApiCall) -> dict[str, Any]:
    hub = hub_of(call)
    settings = hub.config.hotline
    if not settings.webhook_secret:
        raise not_found("webhook (set hotline.webhook_secret)")
    raw = await call.request.read()
    try:
        check_signature(
            settings.webhook_secret,
            call.request.headers,
            raw,
            now=time.time(),
            max_skew=settings.webhook_max_skew_seconds,
        )
    except BadSignature as exc:
        hub.note_refused(PHONE_CHANNEL, "bad_signature")  # helpline_requests_refused_total: forged or stale
        raise ApiError(401, "bad_signature", str(exc)) from None
    body = TELEPHONY_EVENT.parse(parse_json(raw), "body")
    logged = await _number_errors_named(
        services_of(call).hotline.telephony_event(
            call_id=body["call_id"],
            event=CallState(body["event"]),
            number=body["number"],
            direction=CallDirection(body.get("direction", CallDirection.IN.value)),
            at=parse_time(body["at"], "at") if body.get("at") else None,
            duration_seconds=body.get("duration_seconds"),
            recording_url=body.get("recording_url", ""),
        )
    )
    return await logged_json(hub_of(call), logged)
