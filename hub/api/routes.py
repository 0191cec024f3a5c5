"""The agents' JSON API, /api/v1/: everything the inbox does goes through here."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from conversation.assignment import takes_tickets
from conversation.business_time import ALWAYS_OPEN, WEEKDAYS, Calendar, is_open, next_opening
from conversation.calendars import FIRST_DAY, LAST_DAY, MAX_ICS_BYTES, MAX_SPECIAL_DAYS
from conversation.codec import ticket_subject
from conversation.collision import answered_by_another
from conversation.desk import MAX_REASON_CHARS, VISIBILITIES, teams_of
from conversation.fields import FieldType
from conversation.inbox_rows import ROW_WINDOW, previewed, waiting_since
from conversation.model import (
    AuthorType,
    Contact,
    Conversation,
    ConversationQuery,
    Direction,
    Priority,
    Role,
    Status,
)
from conversation.search_text import SearchRejected
from conversation.snooze import snooze_changes
from hub.access import Access, sees_team, shares_team
from hub.api.agent_files import channel_sends_files, claim_attachments, receive_upload
from hub.api.auth import SESSION, Authenticator
from hub.api.confirm import require_confirmation, require_contact_confirmation
from hub.api.framework import ADMIN, PUBLIC, Api, ApiError, Call, not_found
from hub.api.serialize import (
    agent_json,
    canned_json,
    contact_json,
    conversation_json,
    iso,
    message_json,
    token_json,
)
from hub.api.shapes import CONVERSATION_SHAPE, MESSAGE_SHAPE
from hub.app_keys import AUTH, HUB, SERVICES
from hub.blobs import stream_blob
from hub.clientaddr import client_address
from hub.i18n import negotiate
from hub.schema import Arr, Bool, Int, Map, Nullable, Obj, Scalar, Str
from hub.services import Services
from hub.services.accounts import MAX_TOKEN_DAYS
from hub.services.calendars import calendar_json
from hub.services.contacts import contact_notes_key
from hub.services.desk import InUse, category_json, team_json
from hub.services.fields import definition_json, list_filters, ticket_definitions

if TYPE_CHECKING:
    from hub.app import Hub

api = Api(title="Helpline agent API", version="1")
INBOX_CATALOGS = Path(__file__).parent.parent / "static" / "inbox" / "i18n"

FIELD_VALUE = Scalar(max_length=1000, description="text, a whole number, {amount, currency} or null")
MAX_FIELD_FILTERS = 10
CONTACT_TICKETS = 50  # a contact's newest tickets shown with them; the total says how many more
STATUSES = tuple(s.value for s in Status)
PRIORITIES = tuple(p.value for p in Priority)
ROLES = tuple(r.value for r in Role)

CONVERSATION = api.schema("Conversation", CONVERSATION_SHAPE)
MESSAGE = api.schema("Message", MESSAGE_SHAPE)
MESSAGE_PAGE = api.schema(
    "MessagePage",
    {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": MESSAGE.json_schema()},
            "has_more": {"type": "boolean", "description": "with `limit`: newer messages follow the last item"},
        },
    },
)
CONTACT = api.schema("Contact", {"type": "object", "description": "a person with their channel identities"})
AGENT_SCHEMA = api.schema("Agent", {"type": "object"})
TOKEN = api.schema("ApiToken", {"type": "object"})
CANNED = api.schema("CannedResponse", {"type": "object"})
PAGE = api.schema(
    "ConversationPage",
    {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Conversation"}},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total_is_lower_bound": {"type": "boolean"},
        },
    },
)
ANY = api.schema("Object", {"type": "object"})
DESK_ID = Str(max_length=64, min_length=1, description="lowercase letters, digits, '-' and '_'")
TEAM_IDS = Arr(DESK_ID, max_items=100)


@functools.cache
def inbox_languages() -> list[str]:
    """The languages the inbox has a catalog for, as its index lists them (a test keeps the
    index and the catalog files in step: adding a catalog adds a language)."""
    return list(json.loads((INBOX_CATALOGS / "index.json").read_text(encoding="utf-8")))


def parse_time(text: str, name: str) -> datetime:
    """An ISO 8601 time with its offset, as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, "invalid", f"{name}: not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ApiError(422, "invalid", f"{name}: give the time zone (e.g. Z or +08:00)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved to UTC leaves the calendar
        raise ApiError(422, "invalid", f"{name}: out of range") from None


def hub_of(call: Call) -> Hub:
    """The hub, for reads (the store) and its parts; changes go through `services_of`."""
    return call.request.config_dict[HUB]


def services_of(call: Call) -> Services:
    return call.request.config_dict[SERVICES]


def reader_language(call: Call) -> str:
    """The language a caller reads system events, bots' notes and previews in: the one the
    agent chose (their account's), else the one their browser asks for (Accept-Language: the
    inbox shows itself in it when none is chosen), else the hub's. A zh-CN browser's inbox
    read "FAQ bot's guesses" in English until its agent picked 简体中文 by hand (a trial)."""
    if call.me.language:
        return call.me.language
    return negotiate(call.request.headers.get("Accept-Language", "")) or hub_of(call).language


# -- sign-in ---------------------------------------------------------------------------
@api.route(
    "POST",
    "/v1/auth/login",
    summary="Sign in with email and password; sets the session cookie",
    tag="auth",
    auth=PUBLIC,
    body=Obj(
        {"email": Str(max_length=320, min_length=1), "password": Str(max_length=1024, min_length=1)},
        required=("email", "password"),
    ),
    response=ANY,
)
async def login(call: Call) -> web.Response:
    auth: Authenticator = call.request.config_dict[AUTH]
    accounts, address = services_of(call).accounts, client_address(call.request)
    try:
        agent, session, token = await auth.login(call.request, call.body["email"], call.body["password"])
    except ApiError as exc:
        if exc.code == "bad_credentials":  # not the rate limit's refusals: they are counted, not checked
            await accounts.sign_in_failed(call.body["email"], address=address)
        raise
    await accounts.signed_in(agent, address=address)
    response = web.json_response({"agent": agent_json(agent), "csrf_token": session.csrf_token})
    auth.set_cookie(response, call.request, token)
    return response


@api.route("POST", "/v1/auth/logout", summary="Sign out (ends this session)", tag="auth", response=ANY, personal=True)
async def logout(call: Call) -> web.Response:
    session = call.request.get(SESSION)
    if session is not None:
        await services_of(call).accounts.end_session(session.token_hash, agent_id=call.me.id)  # its sockets close
    response = web.json_response({"ok": True})
    response.del_cookie("helpline_session", path="/")
    return response


@api.route(
    "GET", "/v1/me", summary="The signed-in agent (and the CSRF token of a cookie session)", tag="auth", response=ANY
)
async def me(call: Call) -> dict[str, Any]:
    session = call.request.get(SESSION)
    return {
        "agent": agent_json(call.me),
        "csrf_token": session.csrf_token if session else None,
        "languages": inbox_languages(),
        # what the inbox shows depends on them (the complaints lists: only with "complaints" on)
        "plugins": sorted(hub_of(call).plugin_host.plugins),
    }


@api.route(
    "PATCH",
    "/v1/me",
    summary='Change the signed-in agent\'s own settings: the inbox language ("" follows the browser)',
    tag="auth",
    body=Obj({"language": Str(choices=("", *inbox_languages()))}, at_least_one=True),
    response=AGENT_SCHEMA,
    personal=True,
)
async def patch_me(call: Call) -> dict[str, Any]:
    return agent_json(await services_of(call).accounts.update_agent(call.me.id, dict(call.body)))


@api.route(
    "POST",
    "/v1/me/password",
    summary="Change the signed-in agent's own password; every session of theirs ends (sign in again)",
    tag="auth",
    body=Obj(
        {"current_password": Str(min_length=1, max_length=1000), "new_password": Str(max_length=1000)},
        required=("current_password", "new_password"),
    ),
    response=AGENT_SCHEMA,
    personal=True,
)
async def change_my_password(call: Call) -> dict[str, Any]:
    auth: Authenticator = call.request.config_dict[AUTH]
    await auth.check_current_password(call.me, call.body["current_password"])
    if call.body["new_password"] == call.body["current_password"]:
        raise ApiError(422, "invalid", "new_password: it is the current password")
    return agent_json(await services_of(call).accounts.set_password(call.me.id, call.body["new_password"]))


# -- conversations ----------------------------------------------------------------------
LIST_QUERY = {
    "status": Str(choices=(*STATUSES, "all"), description="left out or all: every status"),
    "channel": Str(max_length=100),
    "assignee": Str(max_length=100, description="me, unassigned, or an agent id"),
    "team": Str(max_length=100),
    "priority": Str(choices=PRIORITIES),
    "category": Str(max_length=100),
    "tag": Str(max_length=100),
    "q": Str(max_length=200, description="words that must appear in a message, or a custom field's whole value"),
    "page": Int(minimum=1, maximum=100_000),
    "per_page": Int(minimum=1, maximum=100),
}


def query_from(call: Call) -> ConversationQuery:
    q = call.query
    assignee = q.get("assignee")
    assignee_id = {"me": call.me.id, "unassigned": ""}.get(assignee, assignee) if assignee else None
    per_page = q.get("per_page", 25)
    return ConversationQuery(
        status=Status(q["status"]) if q.get("status", "all") != "all" else None,
        channel=q.get("channel"),
        assignee_id=assignee_id,
        team=q.get("team"),
        priority=Priority(q["priority"]) if "priority" in q else None,
        category=q.get("category"),
        tag=q.get("tag"),
        search=q.get("q", ""),
        hide_questions=not q.get("q"),  # a search finds a question-only ticket; the views leave it out
        reach=hub_of(call).access.reach(call.viewer, Access.READ),
        limit=per_page,
        offset=(q.get("page", 1) - 1) * per_page,
    )


@api.route(
    "GET",
    "/v1/conversations",
    summary="The inbox: filtered, paged, newest activity first; field.<key>=<value> filters by a custom field",
    tag="conversations",
    query=LIST_QUERY,
    response=PAGE,
    open_query=("field.",),
)
async def list_conversations(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    query = query_from(call)  # a search or a page holds only tickets the agent may see
    filters = await list_filters(hub.store, call.request.query)  # field.<key>=<value>, any number
    if len(filters) > MAX_FIELD_FILTERS or any(len(k) > 40 or len(v) > 200 for k, v in filters):
        raise ApiError(422, "invalid", f"at most {MAX_FIELD_FILTERS} field filters, each field.<key>=<value>")
    query = dataclasses.replace(query, fields=filters)
    try:
        items, total = await hub.store.inbox.list_conversations(query)
    except SearchRejected as exc:  # too broad, too many words, or too slow: say which
        raise ApiError(422, "search_rejected", f"q: {exc}") from None
    reads = await hub.store.inbox.read_markers(call.me.id, [c.id for c in items])
    names = await contact_names(hub, items)
    newest = await hub.store.inbox.newest_messages([c.id for c in items], ROW_WINDOW)
    sla = await hub.sla.views(items)
    reader = reader_language(call)  # a bot's note or an event previewed in the reader's language
    return {
        "items": [
            conversation_json(
                c,
                contact_name=names.get(c.contact_id, ""),
                unread=is_unread(c, reads.get(c.id)),
                latest=previewed(newest.get(c.id, [])),
                locale=reader,
            )
            | {"sla": sla[c.id], "waiting_since": iso(waiting_since(c, newest.get(c.id, [])))}
            for c in items
        ],
        "total": total,
        "total_is_lower_bound": total >= 1000,
        "page": call.query.get("page", 1),
        "per_page": query.limit,
    }


@api.route(
    "GET",
    "/v1/conversations/counts",
    summary="Tickets per inbox view: each status, open mine, open unassigned, all",
    tag="conversations",
    response=ANY,
)
async def conversation_counts(call: Call) -> dict[str, int]:
    hub = hub_of(call)
    return await hub.store.inbox.count_views(call.me.id, reach=hub.access.reach(call.viewer, Access.READ))


def is_unread(conv: Conversation, read_at: Any) -> bool:
    return conv.last_inbound_at is not None and (read_at is None or conv.last_inbound_at > read_at)


async def contact_names(hub: Hub, conversations: list[Conversation]) -> dict[str, str]:
    return await hub.store.contacts.contact_labels(sorted({c.contact_id for c in conversations}))


async def named_conversation_json(hub: Hub, conv: Conversation, locale: str = "") -> dict[str, Any]:
    """A ticket's JSON as the list gives it, its contact named, with its preview and wait: what
    a change and `by-number` answer with too (a PATCH answered `contact_name` "" where the list
    said "Visitor l5WmVC"; `by-number` had no preview and no `waiting_since`, a trial)."""
    names = await contact_names(hub, [conv])
    newest = (await hub.store.inbox.newest_messages([conv.id], ROW_WINDOW)).get(conv.id, [])
    return conversation_json(
        conv, contact_name=names.get(conv.contact_id, ""), latest=previewed(newest), locale=locale
    ) | {"waiting_since": iso(waiting_since(conv, newest))}


@api.route(
    "GET",
    "/v1/conversations/by-number/{number}",
    summary="Find a ticket by its number",
    tag="conversations",
    response=CONVERSATION,
)
async def conversation_by_number(call: Call) -> dict[str, Any]:
    number = call.path["number"]
    # ASCII digits that fit a stored number: str.isdigit() also takes "²", and int() refuses 5,000 digits.
    valid = number.isascii() and number.isdigit() and len(number) <= 18
    conv = authorized(
        call, await hub_of(call).store.tickets.get_conversation_by_number(int(number)) if valid else None, Access.READ
    )
    return await named_conversation_json(hub_of(call), conv, reader_language(call)) | await sla_of(call, conv)


async def sla_of(call: Call, conv: Conversation) -> dict[str, Any]:
    """The ticket's SLA clocks, as the `sla` member of its JSON (None without a policy)."""
    return {"sla": (await hub_of(call).sla.views([conv]))[conv.id]}


async def conversation_or_404(call: Call, key: str = "conversation_id", access: Access = Access.READ) -> Conversation:
    hub = hub_of(call)
    conv = await hub.store.tickets.get_conversation(call.path[key])
    if conv is not None and not hub.access.allows(call.viewer, conv, access):
        # The owner of an open callback task on it may still: they must call the customer back.
        for task in await hub.store.callbacks.list_callbacks(owner_id=call.me.id):
            if task.conversation_id == conv.id and hub.access.allows_callback(
                call.viewer, conv, access, owner_id=task.owner_id
            ):
                return conv
    return authorized(call, conv, access)


def authorized(call: Call, conv: Conversation | None, access: Access) -> Conversation:
    """The ticket if the caller may `access` it; 404 otherwise, as if it did not exist. A
    ticket the caller may read but not change (a team whose visibility is "all") is a 403:
    its existence is no secret to them, and a 404 would say the ticket is gone."""
    policy = hub_of(call).access
    if conv is None or not policy.allows(call.viewer, conv, access):
        if conv is not None and access is Access.WRITE and policy.allows(call.viewer, conv, Access.READ):
            team = conv.team or "none"
            raise ApiError(403, "read_only_ticket", f"you may read this ticket but not change it (team {team})")
        raise not_found("conversation")
    return conv


def refuse_merged(conv: Conversation, what: str) -> None:
    """A merged ticket is closed for good, its messages live on in the other: 409 `merged`,
    saying what to do there instead (`what`)."""
    if conv.merged_into:
        raise ApiError(409, "merged", f"this ticket was merged into another; {what}")


async def contact_or_404(call: Call, contact_id: str, access: Access) -> Contact:
    """A contact is reachable through a ticket of theirs the caller may `access`."""
    hub = hub_of(call)
    contact = await hub.store.contacts.get_contact(contact_id)
    if contact is None:
        raise not_found("contact")
    reach = hub.access.reach(call.viewer, access)
    if reach is not None:
        query = ConversationQuery(contact_id=contact_id, include_merged=True, reach=reach, limit=1)
        if not (await hub.store.inbox.list_conversations(query))[0]:
            raise not_found("contact")
    return contact


@api.route(
    "GET",
    "/v1/conversations/{conversation_id}",
    summary="One ticket with its contact card",
    tag="conversations",
    response=ANY,
)
async def get_conversation(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    conv = await conversation_or_404(call)
    contact = await hub.store.contacts.get_contact(conv.contact_id)
    reach = hub.access.reach(call.viewer, Access.READ)  # a contact's other tickets: only those the agent may see
    others, _ = await hub.store.inbox.list_conversations(
        ConversationQuery(contact_id=conv.contact_id, hide_questions=True, reach=reach, limit=20)
    )
    visible = [c for c in others if c.id != conv.id]
    newest = await hub.store.inbox.newest_messages([c.id for c in visible], ROW_WINDOW)
    reader = reader_language(call)
    return {
        "conversation": await named_conversation_json(hub, conv, reader) | await sla_of(call, conv),
        "contact": {
            **contact_json(contact),
            "notes": await hub.store.coordination.get_value(contact_notes_key(contact.id)) or "",
        }
        if contact
        else None,
        "other_conversations": [
            conversation_json(c, latest=previewed(newest.get(c.id, [])), locale=reader) for c in visible
        ],
        "sends_files": channel_sends_files(hub, conv),  # replies on this channel can carry files
        # a phone ticket takes notes and callbacks only, nor does a channel that only receives
        "takes_replies": services_of(call).conversations.takes_replies(conv.channel),
        # the custom fields this ticket's category gives it: the sidebar is drawn from them
        "field_definitions": [definition_json(d) for d in await ticket_definitions(hub.store, conv.category)],
    }


@api.route(
    "GET",
    "/v1/conversations/{conversation_id}/messages",
    summary="The whole thread, oldest first (reading changes nothing: POST .../read marks it read)",
    tag="conversations",
    query={
        "after": Str(max_length=64, description="only messages after this message id"),
        "limit": Int(
            minimum=1,
            maximum=500,
            description="at most this many; `has_more` tells whether to ask again with `after` the last id",
        ),
    },
    response=MESSAGE_PAGE,
)
async def list_messages(call: Call) -> dict[str, Any]:
    conv = await conversation_or_404(call)
    store = hub_of(call).store
    limit = call.query.get("limit", 0)
    messages = await store.tickets.list_messages(
        conv.id, after=call.query.get("after", ""), limit=limit + 1 if limit else 0
    )
    has_more = bool(limit) and len(messages) > limit
    messages = messages[:limit] if limit else messages
    reader = reader_language(call)  # system events said in the reader's language
    # Who wrote the customers' messages that are not the ticket's customer's: named, not "Customer".
    others = [m for m in messages if m.direction is Direction.INBOUND and m.customer_address != conv.customer_address]
    names = await store.contacts.contact_labels(sorted({m.author_id for m in others})) if others else {}
    writers = {m.id: names.get(m.author_id, "") for m in others}
    return {"items": [message_json(m, reader, writers.get(m.id, "")) for m in messages], "has_more": has_more}


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/read",
    summary="Mark the ticket read for the caller, up to its latest customer message",
    tag="conversations",
    response=ANY,
    personal=True,  # the caller's own read marker: read-only accounts keep theirs too
)
async def mark_read(call: Call) -> dict[str, Any]:
    conv = await conversation_or_404(call)
    await services_of(call).conversations.mark_read(call.me.id, conv)
    return {"ok": True}


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/messages",
    summary="Reply to the customer (delivered through the ticket's channel) or add a private note",
    tag="conversations",
    body=Obj(
        {
            "text": Str(max_length=20_000),
            "kind": Str(choices=("reply", "note")),
            "attachments": Arr(
                Obj({"ref": Str(max_length=64, min_length=1), "name": Str(max_length=200)}, required=("ref",)),
                max_items=10,
                description="files uploaded first to .../uploads (replies only)",
            ),
            # email: who is copied; absent: the ticket's participants; []: nobody
            "cc": Arr(Str(max_length=254, min_length=3), max_items=50),
            # the newest message the agent had seen: another agent's reply since then is a 409
            # replied_meanwhile (two agents answering at once), unless `confirm` is true
            "seen": Str(max_length=64),
            "confirm": Bool(),
        },
        required=("text",),
    ),
    response=MESSAGE,
    status=201,
)
async def post_message(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    conv = await conversation_or_404(call, access=Access.WRITE)
    refuse_merged(conv, "write there")
    note = call.body.get("kind", "reply") == "note"
    if note:
        return await _post(call, conv, note=True)
    # Each reply waits for the one before it on the ticket, so one sent at the same instant as
    # another agent's is checked against it (reply_guard.py).
    async with hub.reply_guard.hold(conv.id):
        return await _post(call, conv, note=False)


async def _post(call: Call, conv: Conversation, *, note: bool) -> dict[str, Any]:
    """Store the note, or check and send the reply (under the ticket's reply guard)."""
    hub = hub_of(call)
    text, files = call.body["text"], call.body.get("attachments", [])
    if not note:  # before any upload is claimed
        services_of(call).conversations.check_replies(conv.channel)
        if "seen" in call.body and not call.body.get("confirm"):
            await _refuse_a_second_answer(call, conv, call.body["seen"])
    if files and (note or not channel_sends_files(hub, conv)):
        raise ApiError(
            422,
            "invalid",
            "attachments: this channel cannot send files" if not note else "attachments: notes cannot carry files",
        )
    if not text.strip() and not files:
        raise ApiError(422, "invalid", "text: must not be empty")
    if note:
        message = await services_of(call).conversations.add_note(
            conv, text, author=call.me.id, author_type=AuthorType.AGENT
        )
    else:
        attachments = await claim_attachments(hub, f"agent:{call.me.id}", files)
        message = await services_of(call).conversations.send(
            await _answered_so_theirs(call, conv),
            text,
            author_type=AuthorType.AGENT,
            author_id=call.me.id,
            attachments=attachments,
            raw=chosen_cc(call.body),
        )
    return message_json(message)


async def _refuse_a_second_answer(call: Call, conv: Conversation, seen: str) -> None:
    """Another agent answered the customer after the message this agent had last seen: they
    are told before the customer gets two answers (a trial's two agents replied 0.3 s apart)."""
    if not seen:
        return  # no message read yet: nothing to have been answered since
    seen_message = await hub_of(call).store.tickets.get_message(seen)
    if seen_message is None or seen_message.conversation_id != conv.id:
        # an id that names nothing here would turn the check off unseen (a trial)
        raise ApiError(422, "invalid", "seen: not a message of this ticket")
    thread = await hub_of(call).store.tickets.list_messages(conv.id, after=seen)
    others = [m for m in thread if answered_by_another(m, call.me.id)]
    if others:
        author = await hub_of(call).store.accounts.get_agent(others[-1].author_id)
        name = (author.name or author.email) if author else others[-1].author_id
        raise ApiError(
            409,
            "replied_meanwhile",
            f"{name} replied to the customer meanwhile: read it, then send yours with confirm",
            details={"agent": name, "message_id": others[-1].id},
        )


async def _answered_so_theirs(call: Call, conv: Conversation) -> Conversation:
    """An unassigned ticket an agent answers becomes theirs (as Zendesk does): who follows it up
    is plain, and its rating and resolution count for them (a trial found both for nobody).
    Taken before the reply is stored, so the thread reads "took this ticket", then the answer."""
    # read again: a supervisor may have given it to someone while this request was on its way
    fresh = await hub_of(call).store.tickets.get_conversation(conv.id) or conv
    if fresh.assignee_id or not takes_tickets(call.me):
        return fresh
    names = {call.me.id: call.me.name or call.me.email}
    return await services_of(call).conversations.update_by(
        fresh, {"assignee_id": call.me.id}, who=call.who, names=names, agent_id=call.me.id
    )


def chosen_cc(body: dict[str, Any]) -> dict[str, Any] | None:
    """The agent's explicit Cc of a reply, as the message's raw options; None: the default."""
    if "cc" not in body:
        return None
    addresses = [a.strip().lower() for a in body["cc"]]
    bad = [a for a in addresses if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+", a)]
    if bad:
        raise ApiError(422, "invalid", f"cc: {bad[0]!r} is not an email address")
    return {"cc": list(dict.fromkeys(addresses))}


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/uploads",
    summary="Upload one file (multipart field `file`) to attach to a reply on this ticket; returns its ref",
    tag="conversations",
    response=ANY,
    status=201,
)
async def upload_file(call: Call) -> web.Response:
    hub = hub_of(call)
    conv = await conversation_or_404(call, access=Access.WRITE)
    if not channel_sends_files(hub, conv):
        raise ApiError(422, "invalid", f"the {conv.channel} channel cannot send files")
    uploaded = await receive_upload(call.request, hub, f"agent:{call.me.id}")
    return web.json_response(uploaded, status=201)


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/messages/{message_id}/retry",
    summary="Send a failed reply again",
    tag="conversations",
    response=MESSAGE,
)
async def retry_message(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    conv = await conversation_or_404(call, access=Access.WRITE)
    message = await hub.store.tickets.get_message(call.path["message_id"])
    if message is None or message.conversation_id != conv.id:
        raise not_found("message")
    return message_json(await services_of(call).conversations.retry(message))


@api.route(
    "PATCH",
    "/v1/conversations/{conversation_id}",
    summary="Change subject, status, priority, category, tags, team or assignee (each change leaves a system event)",
    tag="conversations",
    body=Obj(
        {
            "subject": Str(min_length=1, max_length=200, description="the ticket's title (its mail replies' subject)"),
            "status": Str(choices=STATUSES),
            "priority": Str(choices=PRIORITIES),
            "category": Str(max_length=100),
            "tags": Arr(Str(max_length=50, min_length=1), max_items=30),
            "team": Str(max_length=100),
            "assignee_id": Nullable(Str(max_length=64)),
            # the assignee the caller saw ("" or null: none): another one now is a 409 conflict,
            # so "assign to me" never takes a ticket given away a moment ago unasked
            "expected_assignee_id": Nullable(Str(max_length=64)),
            "snoozed_until": Nullable(Str(max_length=40, description="ISO 8601 time: snooze until then")),
            "fields": Map(FIELD_VALUE, max_items=50, description="custom fields to change: key -> value, null clears"),
        },
        at_least_one=True,
    ),
    response=CONVERSATION,
)
async def patch_conversation(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    conv = await conversation_or_404(call, access=Access.WRITE)
    refuse_merged(conv, "change that one")
    changes = dict(call.body)
    if "expected_assignee_id" in changes:
        expected = changes.pop("expected_assignee_id") or ""
        if expected != conv.assignee_id:
            now = await hub.store.accounts.get_agent(conv.assignee_id) if conv.assignee_id else None
            said = (now.name or now.email) if now else "nobody"
            raise ApiError(409, "conflict", f"the ticket is assigned to {said} now, not as you saw it")
    if "assignee_id" in changes:
        changes["assignee_id"] = changes["assignee_id"] or ""
        assignee = await hub.store.accounts.get_agent(changes["assignee_id"]) if changes["assignee_id"] else None
        if changes["assignee_id"] and assignee is None:
            raise ApiError(422, "invalid", "assignee_id: no such agent")
        if assignee is not None and assignee.id != conv.assignee_id and not takes_tickets(assignee):
            who = assignee.name or assignee.email
            raise ApiError(422, "invalid", f"assignee_id: {who} cannot be given tickets (read-only or deactivated)")
    if "subject" in changes:
        changes["subject"] = ticket_subject(changes["subject"])
    if changes.get("snoozed_until") is not None:
        changes["snoozed_until"] = parse_time(changes["snoozed_until"], "snoozed_until")
    conversations = services_of(call).conversations
    changes = snooze_changes(conv, changes, conversations.clock())
    names = {a.id: a.name or a.email for a in await hub.store.accounts.list_agents()}
    updated = await conversations.update_by(conv, changes, who=call.who, names=names, agent_id=call.me.id)
    return await named_conversation_json(hub, updated) | await sla_of(call, updated)


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/merge",
    summary="Merge this ticket into another; its messages move there and it is closed",
    tag="conversations",
    body=Obj({"into": Str(max_length=64, min_length=1), "confirm": Bool()}, required=("into",)),
    response=CONVERSATION,
)
async def merge_conversation(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    source = await conversation_or_404(call, access=Access.WRITE)
    target = authorized(call, await hub.store.tickets.get_conversation(call.body["into"]), Access.WRITE)
    await require_confirmation(hub.store, source, target, moving_one=False, confirmed=call.body.get("confirm", False))
    merged = await services_of(call).conversations.merge(source, target, who=call.who)
    return await named_conversation_json(hub, merged)


@api.route(
    "POST",
    "/v1/messages/{message_id}/move",
    summary="Move a misplaced message to another ticket",
    tag="conversations",
    body=Obj({"conversation_id": Str(max_length=64, min_length=1), "confirm": Bool()}, required=("conversation_id",)),
    response=MESSAGE,
)
async def move_message(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    message = await hub.store.tickets.get_message(call.path["message_id"])
    if message is None:
        raise not_found("message")
    source = authorized(call, await hub.store.tickets.get_conversation(message.conversation_id), Access.WRITE)
    target = authorized(call, await hub.store.tickets.get_conversation(call.body["conversation_id"]), Access.WRITE)
    if source.id == target.id:
        raise ApiError(422, "invalid", "the message is already there")
    await require_confirmation(hub.store, source, target, moving_one=True, confirmed=call.body.get("confirm", False))
    moved = await services_of(call).conversations.move_message(message, source, target, who=call.who)
    return message_json(moved)


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/typing",
    summary="Tell the customer an agent is typing",
    tag="conversations",
    response=ANY,
)
async def typing(call: Call) -> dict[str, Any]:
    conv = await conversation_or_404(call, access=Access.WRITE)
    services_of(call).conversations.typing(conv.id, who="agent", name=call.me.name, agent_id=call.me.id)
    return {"ok": True}


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/viewing",
    summary="Say this agent has the ticket open (the inbox sends it every 15 s): the other agents"
    " showing it see who else is there (a `viewing` live event)",
    tag="conversations",
    response=ANY,
    personal=True,  # changes nothing: a read-only account is seen reading too
)
async def viewing(call: Call) -> dict[str, Any]:
    conv = await conversation_or_404(call, access=Access.READ)
    services_of(call).conversations.viewing(conv.id, agent_id=call.me.id, name=call.me.name or call.me.email)
    return {"ok": True}


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/handoff",
    summary="Hand the ticket to another team with a reason (kept as a private note; the assignee goes"
    " when not in that team)",
    tag="conversations",
    body=Obj(
        {"team": DESK_ID, "reason": Str(max_length=MAX_REASON_CHARS, min_length=1)},
        required=("team", "reason"),
    ),
    response=CONVERSATION,
)
async def handoff(call: Call) -> dict[str, Any]:
    conv = await conversation_or_404(call, access=Access.WRITE)
    refuse_merged(conv, "hand that one over")
    updated = await services_of(call).conversations.hand_over(
        conv, team=call.body["team"], reason=call.body["reason"], who=call.who, agent_id=call.me.id
    )
    return await named_conversation_json(hub_of(call), updated)


# -- contacts ---------------------------------------------------------------------------
@api.route(
    "GET",
    "/v1/contacts/{contact_id}",
    summary="One contact (their card and the agents' notes) with their tickets the caller may see, newest first",
    tag="contacts",
    response=ANY,
)
async def get_contact(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    contact = await contact_or_404(call, call.path["contact_id"], Access.READ)
    reach = hub.access.reach(call.viewer, Access.READ)  # another team's tickets of theirs stay unseen
    tickets, total = await hub.store.inbox.list_conversations(
        ConversationQuery(contact_id=contact.id, hide_questions=True, reach=reach, limit=CONTACT_TICKETS)
    )
    newest = await hub.store.inbox.newest_messages([c.id for c in tickets], ROW_WINDOW)
    reader = reader_language(call)
    return {
        "contact": {**contact_json(contact), "notes": await services_of(call).contacts.notes(contact.id)},
        "conversations": [conversation_json(c, latest=previewed(newest.get(c.id, [])), locale=reader) for c in tickets],
        "total": total,
    }


@api.route(
    "PATCH",
    "/v1/contacts/{contact_id}",
    summary="Correct a contact's name, email or language, or change the agents' notes about them",
    tag="contacts",
    body=Obj(
        {
            "name": Str(max_length=200),
            "email": Str(max_length=320),
            "language": Str(max_length=35, description="BCP 47 tag, e.g. zh-CN or en; bots answer in it"),
            "tier": Str(max_length=40, description='the platform\'s customer tier, e.g. vip; "" for none'),
            "notes": Str(max_length=5000),
        },
        at_least_one=True,
    ),
    response=CONTACT,
)
async def patch_contact(call: Call) -> dict[str, Any]:
    contact_id = call.path["contact_id"]
    await contact_or_404(call, contact_id, Access.WRITE)
    contacts = services_of(call).contacts
    contact = await contacts.update(contact_id, dict(call.body))
    return {**contact_json(contact), "notes": await contacts.notes(contact_id)}


@api.route(
    "POST",
    "/v1/contacts/{contact_id}/merge",
    summary="Merge this contact into another who is the same person",
    tag="contacts",
    body=Obj(
        {
            "into": Str(max_length=64, min_length=1),
            "confirm": Bool(description="merge although emails differ or both have an identity on one channel"),
        },
        required=("into",),
    ),
    response=CONTACT,
)
async def merge_contact(call: Call) -> dict[str, Any]:
    source = await contact_or_404(call, call.path["contact_id"], Access.WRITE)
    target = await contact_or_404(call, call.body["into"], Access.WRITE)
    require_contact_confirmation(source, target, confirmed=call.body.get("confirm", False))
    merged = await services_of(call).conversations.merge_contacts(
        call.path["contact_id"], call.body["into"], who=call.who
    )
    return contact_json(merged)


# -- canned responses -------------------------------------------------------------------
@api.route("GET", "/v1/canned", summary="Canned responses", tag="canned", response=ANY)
async def list_canned(call: Call) -> dict[str, Any]:
    return {"items": [canned_json(c) for c in await hub_of(call).store.accounts.list_canned()]}


@api.route(
    "POST",
    "/v1/canned",
    summary="Add a canned response (admin)",
    tag="canned",
    auth=ADMIN,
    body=Obj(
        {
            "shortcut": Str(max_length=40, min_length=1),
            "title": Str(max_length=200, min_length=1),
            "text": Str(max_length=10_000, min_length=1),
        },
        required=("shortcut", "title", "text"),
    ),
    response=CANNED,
    status=201,
)
async def add_canned(call: Call) -> dict[str, Any]:
    canned = await services_of(call).canned.add(call.body["shortcut"], call.body["title"], call.body["text"])
    return canned_json(canned)


@api.route(
    "DELETE",
    "/v1/canned/{canned_id}",
    summary="Delete a canned response (admin)",
    tag="canned",
    auth=ADMIN,
    response=ANY,
)
async def delete_canned(call: Call) -> dict[str, Any]:
    await services_of(call).canned.delete(call.path["canned_id"])
    return {"ok": True}


# -- teams and categories (agents read, admins change) ---------------------------------
NAMES = Obj({"zh-CN": Str(max_length=100, min_length=1), "en": Str(max_length=100, min_length=1)})
TEAM = api.schema("Team", {"type": "object"})
CATEGORY = api.schema("Category", {"type": "object"})
TEAM_FIELDS = {
    "names": NAMES,
    "members": Arr(Str(max_length=64, min_length=1), max_items=500),
    "visibility": Str(
        choices=VISIBILITIES,
        description="what the team's agents see: assigned (unassigned and their own), team (all the team's),"
        " all (every ticket, changing only the team's), supervisors (its supervisors and admins only: complaints"
        " about agents)",
    ),
    "lead": Str(max_length=64, description="the team lead's agent id, told when an SLA target is missed; empty: none"),
}
CATEGORY_FIELDS = {
    "names": NAMES,
    "parent_id": Nullable(DESK_ID),
    "default_team": Nullable(DESK_ID),
    "default_priority": Nullable(Str(choices=[p.value for p in Priority])),
}


async def _in_use_is_409(change: Any) -> Any:
    try:
        return await change
    except InUse as exc:
        raise ApiError(409, "in_use", str(exc)) from None


@api.route("GET", "/v1/teams", summary="Teams (departments)", tag="desk", response=ANY)
async def list_teams(call: Call) -> dict[str, Any]:
    return {"items": [team_json(t) for t in await hub_of(call).store.desk.list_teams()]}


@api.route(
    "POST",
    "/v1/teams",
    summary="Add a team (admin)",
    tag="desk",
    auth=ADMIN,
    body=Obj({"id": DESK_ID, **TEAM_FIELDS}, required=("id", "names")),
    response=TEAM,
    status=201,
)
async def add_team(call: Call) -> dict[str, Any]:
    return team_json(await services_of(call).desk.create_team(call.body))


@api.route(
    "PATCH",
    "/v1/teams/{team_id}",
    summary="Rename a team or change its members (admin)",
    tag="desk",
    auth=ADMIN,
    body=Obj(TEAM_FIELDS, at_least_one=True),
    response=TEAM,
)
async def change_team(call: Call) -> dict[str, Any]:
    return team_json(await services_of(call).desk.update_team(call.path["team_id"], call.body))


@api.route(
    "DELETE",
    "/v1/teams/{team_id}",
    summary="Delete a team no category defaults to (admin)",
    tag="desk",
    auth=ADMIN,
    response=ANY,
)
async def delete_team(call: Call) -> dict[str, Any]:
    await _in_use_is_409(services_of(call).desk.delete_team(call.path["team_id"]))
    return {"ok": True}


@api.route("GET", "/v1/categories", summary="The category tree (flat, with parent ids)", tag="desk", response=ANY)
async def list_categories(call: Call) -> dict[str, Any]:
    return {"items": [category_json(c) for c in await hub_of(call).store.desk.list_categories()]}


@api.route(
    "POST",
    "/v1/categories",
    summary="Add a category (admin)",
    tag="desk",
    auth=ADMIN,
    body=Obj({"id": DESK_ID, **CATEGORY_FIELDS}, required=("id", "names")),
    response=CATEGORY,
    status=201,
)
async def add_category(call: Call) -> dict[str, Any]:
    return category_json(await services_of(call).desk.create_category(call.body))


@api.route(
    "PATCH",
    "/v1/categories/{category_id}",
    summary="Rename, move or change a category's defaults (admin)",
    tag="desk",
    auth=ADMIN,
    body=Obj(CATEGORY_FIELDS, at_least_one=True),
    response=CATEGORY,
)
async def change_category(call: Call) -> dict[str, Any]:
    return category_json(await services_of(call).desk.update_category(call.path["category_id"], call.body))


@api.route(
    "DELETE",
    "/v1/categories/{category_id}",
    summary="Delete a category without subcategories or tickets (admin; 409 says why not)",
    tag="desk",
    auth=ADMIN,
    response=ANY,
)
async def delete_category(call: Call) -> dict[str, Any]:
    await _in_use_is_409(services_of(call).desk.delete_category(call.path["category_id"]))
    return {"ok": True}


# -- team calendars (agents read, admins change) ----------------------------------------
DAY_SPANS = Arr(Str(max_length=11, min_length=1, description="HH:MM-HH:MM; 22:00-06:00 passes midnight"), max_items=12)
CALENDAR_BODY = Obj(
    {
        "timezone": Str(max_length=64, min_length=1, description="IANA zone, e.g. Asia/Shanghai"),
        "hours": Obj({day: DAY_SPANS for day in WEEKDAYS}),
        "holidays": Map(Str(max_length=200), max_items=MAX_SPECIAL_DAYS, description="date YYYY-MM-DD to name"),
        "workdays": Map(Str(max_length=200), max_items=MAX_SPECIAL_DAYS, description="make-up working days (调休)"),
        "makeup_weekday": Str(choices=WEEKDAYS, description="whose hours a make-up working day opens"),
    },
    required=("timezone",),
)
CALENDAR = api.schema("TeamCalendar", {"type": "object"})


def calendar_reply(call: Call, team_id: str, calendar: Calendar | None, at: datetime | None = None) -> dict[str, Any]:
    """The calendar, and whether the team is open now (or at `at`) and when it next opens."""
    now = at or services_of(call).conversations.clock()
    working = calendar or ALWAYS_OPEN
    opening = next_opening(working, now)
    return calendar_json(team_id, calendar) | {
        "at": iso(now),
        "open_now": is_open(working, now),
        "next_opening": iso(opening),
    }


@api.route(
    "GET",
    "/v1/teams/{team_id}/calendar",
    summary="A team's calendar (null: 24/7), open now or at `at`, and its next opening",
    tag="desk",
    query={"at": Str(max_length=40, description="ISO 8601 with its offset: answer as of then (a holiday, 3 a.m.)")},
    response=CALENDAR,
)
async def get_team_calendar(call: Call) -> dict[str, Any]:
    team_id = call.path["team_id"]
    if not sees_team(call.viewer, team_id):  # a team's hours are its operations data (README "Roles and teams")
        raise ApiError(403, "team_only", f"team {team_id}'s calendar is for its members and admins")
    at = parse_time(call.query["at"], "at") if "at" in call.query else None
    if at is not None and not FIRST_DAY <= at.date() <= LAST_DAY:  # the calendar arithmetic's range
        raise ApiError(422, "invalid", f"at: between {FIRST_DAY.year} and {LAST_DAY.year}")
    return calendar_reply(call, team_id, await services_of(call).calendars.get(team_id), at)


@api.route(
    "PUT",
    "/v1/teams/{team_id}/calendar",
    summary="Set a team's time zone, weekly hours, holidays and make-up days (admin)",
    tag="desk",
    auth=ADMIN,
    body=CALENDAR_BODY,
    response=CALENDAR,
)
async def put_team_calendar(call: Call) -> dict[str, Any]:
    team_id = call.path["team_id"]
    return calendar_reply(call, team_id, await services_of(call).calendars.put(team_id, call.body))


@api.route(
    "POST",
    "/v1/teams/{team_id}/calendar/import",
    summary="Add public holidays and make-up days from an iCalendar (.ics) file's text (admin)",
    tag="desk",
    auth=ADMIN,
    body=Obj({"ics": Str(max_length=MAX_ICS_BYTES, min_length=1)}, required=("ics",)),
    response=CALENDAR,
)
async def import_team_calendar(call: Call) -> dict[str, Any]:
    team_id = call.path["team_id"]
    calendar, holidays, workdays = await services_of(call).calendars.import_ics(team_id, call.body["ics"])
    return calendar_reply(call, team_id, calendar) | {"imported": {"holidays": holidays, "workdays": workdays}}


@api.route(
    "DELETE",
    "/v1/teams/{team_id}/calendar",
    summary="Remove a team's calendar: it works around the clock again (admin)",
    tag="desk",
    auth=ADMIN,
    response=ANY,
)
async def delete_team_calendar(call: Call) -> dict[str, Any]:
    await services_of(call).calendars.delete(call.path["team_id"])
    return {"ok": True}


# -- custom ticket fields per category (agents read, admins change) ---------------------
FIELD_DEFINITION = api.schema("FieldDefinition", {"type": "object"})
FIELD_KEY = Str(max_length=40, min_length=1, description="lowercase letters, digits and '_', starting with a letter")
FIELD_DEFINITION_FIELDS = {
    "type": Str(choices=[t.value for t in FieldType]),
    "labels": NAMES,
    "required": Bool(description="a value is needed before the ticket is resolved"),
    "options": Arr(Obj({"id": FIELD_KEY, "labels": NAMES}, required=("id", "labels")), max_items=100),
    "pattern": Str(max_length=200, description="order number: a regular expression the whole value matches"),
    "currencies": Arr(Str(max_length=3, min_length=3), max_items=20, description="amount: ISO 4217 codes"),
    "position": Int(minimum=0, maximum=10_000),
}


@api.route("GET", "/v1/fields", summary="Every category's custom ticket fields", tag="desk", response=ANY)
async def list_fields(call: Call) -> dict[str, Any]:
    return {"items": [definition_json(d) for d in await hub_of(call).store.fields.list_definitions()]}


@api.route(
    "POST",
    "/v1/categories/{category_id}/fields",
    summary="Add a custom field to a category's tickets (admin)",
    tag="desk",
    auth=ADMIN,
    body=Obj({"key": FIELD_KEY, **FIELD_DEFINITION_FIELDS}, required=("key", "type", "labels")),
    response=FIELD_DEFINITION,
    status=201,
)
async def add_field(call: Call) -> dict[str, Any]:
    return definition_json(await services_of(call).fields.create(call.path["category_id"], call.body))


@api.route(
    "PATCH",
    "/v1/categories/{category_id}/fields/{key}",
    summary="Change a custom field's labels, options, pattern or required flag (admin)",
    tag="desk",
    auth=ADMIN,
    body=Obj(FIELD_DEFINITION_FIELDS, at_least_one=True),
    response=FIELD_DEFINITION,
)
async def change_field(call: Call) -> dict[str, Any]:
    fields = services_of(call).fields
    return definition_json(await fields.update(call.path["category_id"], call.path["key"], call.body))


@api.route(
    "DELETE",
    "/v1/categories/{category_id}/fields/{key}",
    summary="Remove a custom field (admin; values on tickets are kept, not shown)",
    tag="desk",
    auth=ADMIN,
    response=ANY,
)
async def delete_field(call: Call) -> dict[str, Any]:
    await services_of(call).fields.delete(call.path["category_id"], call.path["key"])
    return {"ok": True}


# -- agents and tokens (admin) ----------------------------------------------------------
@api.route("GET", "/v1/agents", summary="Every agent (for assigning)", tag="agents", response=ANY)
async def list_agents(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    teams = await hub.store.desk.list_teams()
    states = await services_of(call).roster.presence()  # shared by every hub process
    # names for everyone (the assignee picker); who is online only of the caller's teams' members
    online = sorted(a for a, state in states.items() if state == "online" and shares_team(call.viewer, a, teams))
    return {
        "items": [
            {**agent_json(a), "teams": [t.id for t in teams_of(a.id, teams)]}
            for a in await hub.store.accounts.list_agents()
        ],
        "online": online,
    }


@api.route(
    "POST",
    "/v1/agents",
    summary="Add an agent (admin)",
    tag="agents",
    auth=ADMIN,
    body=Obj(
        {
            "email": Str(max_length=320, min_length=3),
            "role": Str(choices=ROLES),
            "name": Str(max_length=200),
            "password": Str(max_length=1024, min_length=10),
            "teams": TEAM_IDS,
        },
        required=("email", "role", "password"),
    ),
    response=AGENT_SCHEMA,
    status=201,
)
async def add_agent(call: Call) -> dict[str, Any]:
    services = services_of(call)
    teams = call.body.get("teams", [])
    await services.desk.check_team_ids(teams)  # before the agent exists: a wrong id adds nobody
    agent = await services.accounts.add_agent(
        call.body["email"],
        Role(call.body["role"]),
        call.body["password"],
        name=call.body.get("name", ""),
        teams=teams,
    )
    joined = await services.desk.set_agent_teams(agent.id, teams)
    return {**agent_json(agent), "teams": [t.id for t in joined]}


@api.route(
    "POST",
    "/v1/agents/{agent_id}/password",
    summary="Set an agent's password (admin: a forgotten one); every session of theirs ends",
    tag="agents",
    auth=ADMIN,
    body=Obj({"new_password": Str(max_length=1000)}, required=("new_password",)),
    response=AGENT_SCHEMA,
)
async def reset_agent_password(call: Call) -> dict[str, Any]:
    agent_id = call.path["agent_id"]
    if agent_id == call.me.id:  # else a stolen admin session changes it without the current one, unlimited
        raise ApiError(403, "forbidden", "an admin changes their own password with POST /api/v1/me/password")
    if await hub_of(call).store.accounts.get_agent(agent_id) is None:
        raise not_found("agent")
    return agent_json(await services_of(call).accounts.set_password(agent_id, call.body["new_password"]))


@api.route(
    "PATCH",
    "/v1/agents/{agent_id}",
    summary="Change an agent's name, role, teams or access (admin)",
    tag="agents",
    auth=ADMIN,
    body=Obj(
        {"name": Str(max_length=200), "role": Str(choices=ROLES), "active": Bool(), "teams": TEAM_IDS},
        at_least_one=True,
    ),
    response=AGENT_SCHEMA,
)
async def patch_agent(call: Call) -> dict[str, Any]:
    changes = dict(call.body)
    teams = changes.pop("teams", None)
    if "role" in changes:
        changes["role"] = Role(changes["role"])
    demoted = changes.get("role", Role.ADMIN) is not Role.ADMIN
    if call.path["agent_id"] == call.me.id and (changes.get("active") is False or demoted):
        raise ApiError(422, "invalid", "you cannot demote or disable yourself")
    services, agent_id = services_of(call), call.path["agent_id"]
    if await hub_of(call).store.accounts.get_agent(agent_id) is None:
        raise not_found("agent")
    membership = None
    if teams is not None:  # membership lives on the teams; their change reaches live sockets
        before = [t.id for t in teams_of(agent_id, await hub_of(call).store.desk.list_teams())]
        membership = (before, [t.id for t in await services.desk.set_agent_teams(agent_id, teams)])
    # A deactivated agent's sessions end and live sockets close (AccountService.update_agent).
    agent = await services.accounts.update_agent(agent_id, changes, teams=membership)
    joined = teams_of(agent.id, await hub_of(call).store.desk.list_teams())
    return {**agent_json(agent), "teams": [t.id for t in joined]}


@api.route("GET", "/v1/tokens", summary="Personal API tokens (admin)", tag="tokens", auth=ADMIN, response=ANY)
async def list_tokens(call: Call) -> dict[str, Any]:
    return {"items": [token_json(t) for t in await hub_of(call).store.accounts.list_api_tokens()]}


@api.route(
    "POST",
    "/v1/tokens",
    summary="Create an API token for an agent; the token is shown once (admin)",
    tag="tokens",
    auth=ADMIN,
    body=Obj(
        {
            "agent_id": Str(max_length=64),
            "name": Str(max_length=100, min_length=1),
            "role": Str(choices=ROLES, description="narrower than the agent's (absent: the agent's role)"),
            "teams": Nullable(TEAM_IDS),
            "expires_in_days": Int(
                minimum=1, maximum=MAX_TOKEN_DAYS, description="refused that many days from now (absent: until revoked)"
            ),
        },
        required=("name",),
    ),
    response=ANY,
    status=201,
)
async def create_token(call: Call) -> dict[str, Any]:
    agent_id = call.body.get("agent_id") or call.me.id
    role = Role(call.body["role"]) if "role" in call.body else None
    token, secret = await services_of(call).accounts.issue_token(
        agent_id,
        call.body["name"],
        role=role,
        teams=call.body.get("teams"),
        expires_in_days=call.body.get("expires_in_days"),
    )
    return {**token_json(token), "token": secret}


@api.route(
    "DELETE", "/v1/tokens/{token_id}", summary="Revoke an API token (admin)", tag="tokens", auth=ADMIN, response=TOKEN
)
async def revoke_token(call: Call) -> dict[str, Any]:
    return token_json(await services_of(call).accounts.revoke_token(call.path["token_id"]))  # its sockets close


@api.route(
    "GET",
    "/v1/attachments/{ref}",
    summary="Download an attachment of a message (the `url` of each attachment in a message)",
    tag="conversations",
    query={"message": Str(max_length=64, description="the message the attachment belongs to")},
)
async def attachment(call: Call) -> web.StreamResponse:
    hub = hub_of(call)
    ref = call.path["ref"]
    message = await hub.store.tickets.get_message(call.query.get("message", ""))
    if message is None or not any(a.blob_ref == ref for a in message.attachments):
        raise not_found("attachment")
    authorized(call, await hub.store.tickets.get_conversation(message.conversation_id), Access.READ)
    blob = await hub.blobs.open(ref)
    if blob is None:
        raise not_found("attachment")
    # Never rendered inline: a customer's file must not run as a page of this origin.
    return await stream_blob(
        call.request,
        blob,
        {
            "Content-Disposition": "attachment",
            "Content-Type": "application/octet-stream",
            "X-Content-Type-Options": "nosniff",
        },
    )


import hub.api.records as _records  # noqa: E402, F401  (registers /v1/records/... on `api`)

# Routes of their own modules join the table here, so every user of `api` sees them.
from hub.api import audit_api, webhooks_api  # noqa: E402,F401
from hub.api import board_api as _board_api  # noqa: E402,F401  (the live board for supervisors)
from hub.api import complaints_api as _complaints_api  # noqa: E402,F401  (registers the complaints plugin's routes)
from hub.api import disputes_api as _disputes_api  # noqa: E402, F401  (registers /v1/disputes: the disputes plugin's cases)
from hub.api import faq_api as _faq_api  # noqa: E402,F401  (registers the FAQ bot's figures)
from hub.api import hotline_routes as _hotline_routes  # noqa: E402,F401  (registers the hotline's routes on `api`)
from hub.api import kb_api as _kb_api  # noqa: E402,F401  (registers the knowledge base's routes)
from hub.api import kb_assist_api as _kb_assist_api  # noqa: E402,F401  (suggestions and the learning review queue)
from hub.api import quality_api as _quality_api  # noqa: E402,F401  (registers CSAT and QA routes)
from hub.api import reports_api as _reports_api  # noqa: E402,F401  (supervisors' reports and their export)
from hub.api import roster as _roster  # noqa: E402, F401  (registers the roster, presence and page routes)
