"""Live events for the agents' inbox over a WebSocket, and who is online."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import Counter, OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from conversation.model import Conversation
from conversation.store import Store, StoreUnavailable
from hub.access import Access, Viewer, sees_presence_of
from hub.api.auth import Authenticator
from hub.api.framework import ApiError, Call
from hub.api.routes import api, hub_of
from hub.app_keys import AUTH
from hub.events import Event
from hub.relay import RESYNC

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 20.0
RECHECK_SECONDS = HEARTBEAT_SECONDS  # how often an open socket re-checks its session or token
# Events after which a socket's viewer is read again (team members or visibility changed); a
# changed role or token wakes the socket's guard (credentials_changed), which reads it too.
RESCOPING = frozenset({"desk.updated"})
SIGNED_OUT = 4001  # close code: the session or token that opened the socket no longer holds


class Presence:
    """Agents with an open inbox, counted per process (the widget asks for it)."""

    def __init__(self) -> None:
        self._connections: Counter[str] = Counter()

    def join(self, agent_id: str) -> None:
        self._connections[agent_id] += 1

    def leave(self, agent_id: str) -> None:
        self._connections[agent_id] -= 1
        if self._connections[agent_id] <= 0:
            del self._connections[agent_id]

    def online(self) -> list[str]:
        return sorted(self._connections)


def event_json(event: Event) -> dict[str, Any]:
    return {"type": event.type, "conversation_id": event.conversation_id, **event.data}


class TicketLookups:
    """The ticket an event is about, read once for every socket that filters the event (not
    once per socket: with team-scoped agents, most sockets ask)."""

    def __init__(self, store: Store, size: int = 256) -> None:
        self.store = store
        self.size = size
        # keyed by id(event); the event is kept beside its read, so the id cannot be reused meanwhile
        self._recent: OrderedDict[int, tuple[Event, asyncio.Future[Conversation | None]]] = OrderedDict()

    async def ticket_of(self, event: Event) -> Conversation | None:
        found = self._recent.get(id(event))
        if found is None or found[0] is not event:
            found = (event, asyncio.ensure_future(self.store.tickets.get_conversation(event.conversation_id)))
            self._recent[id(event)] = found
            while len(self._recent) > self.size:
                self._recent.popitem(last=False)
        return await asyncio.shield(found[1])  # one socket going away does not cancel the others' read


_lookups: weakref.WeakKeyDictionary[Hub, TicketLookups] = weakref.WeakKeyDictionary()


async def may_see(call: Call, viewer: Viewer, event: Event) -> bool:
    """The live feed's filter: the same check as every ticket route (hub/access.py)."""
    hub = hub_of(call)
    if event.type == "presence.changed":  # who is at work: for the members of the agent's teams
        return sees_presence_of(viewer, str(event.data.get("agent_id", "")))
    if not event.conversation_id or not hub.access.restricts(viewer):
        return True  # not about a ticket (teams and categories changed), or the viewer sees all
    lookups = _lookups.get(hub) or _lookups.setdefault(hub, TicketLookups(hub.store))
    try:
        conversation = await lookups.ticket_of(event)
    except StoreUnavailable:
        return False  # unknown now: better missed (the inbox reloads) than shown to the wrong agent
    return conversation is not None and hub.access.allows(viewer, conversation, Access.READ)


async def shown_to(call: Call, viewer: Viewer, event: Event) -> dict[str, Any] | None:
    """The event as this viewer gets it: whole when they may see its ticket; only
    {"type": "conversation.left", "conversation_id"} when a change of team or assignee took
    the ticket out of their sight (they saw it a moment ago: an inbox showing it says so
    instead of offering a reply that would fail); nothing otherwise."""
    if await may_see(call, viewer, event):
        return event_json(event)
    data = event.data
    if event.type != "conversation.updated" or not ({"team_before", "assignee_before"} & data.keys()):
        return None
    lookups = _lookups.get(hub_of(call))
    try:
        now = await lookups.ticket_of(event) if lookups is not None else None
    except StoreUnavailable:
        return None
    if now is None:
        return None
    before = replace(
        now,
        team=str(data.get("team_before", now.team)),
        assignee_id=str(data.get("assignee_before", now.assignee_id)),
    )
    if not hub_of(call).access.allows(viewer, before, Access.READ):
        return None
    return {"type": "conversation.left", "conversation_id": event.conversation_id}


@api.route(
    "GET", "/v1/live", summary="WebSocket: live events (new messages, changes, typing) for the inbox", tag="live"
)
async def live(call: Call) -> web.StreamResponse:
    request = call.request
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        raise ApiError(403, "forbidden", "cross-site WebSocket refused")  # cookies ride along cross-site
    hub = hub_of(call)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    await ws.prepare(request)
    subscription = hub.bus.subscribe(remote=True)  # other hub processes' events too (hub/relay.py)
    hub.presence.join(call.me.id)
    hub.live_sockets.add(ws)

    auth: Authenticator = request.config_dict[AUTH]

    seen_as = {"viewer": call.viewer}  # the guard refreshes it when credentials or roles change

    async def forward() -> None:
        async for event in subscription:
            if subscription.overflowed or event.type == RESYNC:
                await ws.send_json({"type": "resync"})  # too far behind, or events lost: reload what is shown
                subscription.overflowed = False
                if event.type == RESYNC:
                    continue
            if event.type in RESCOPING:  # who sees what may have changed: ask again before filtering
                with contextlib.suppress(StoreUnavailable):
                    seen_as["viewer"] = await auth.current_viewer(request)
            shown = await shown_to(call, seen_as["viewer"], event)
            if shown is not None:
                await ws.send_json(shown)

    sender = asyncio.create_task(forward())
    guard = asyncio.create_task(_close_when_signed_out(auth, request, ws, seen_as))
    beat = asyncio.create_task(_presence_heartbeat(hub, call.me.id))
    try:
        async for message in ws:  # the client sends nothing we need; this waits for close
            if message.type == WSMsgType.ERROR:
                break
    finally:
        # Leave first, without awaiting: aiohttp may cancel this handler when the peer goes,
        # and an await before these lines would then skip them (the agent stays "online").
        subscription.close()
        hub.presence.leave(call.me.id)
        hub.live_sockets.discard(ws)
        if call.me.id not in hub.presence.online():  # this process's last inbox of the agent
            _closing.add(task := asyncio.create_task(_presence_closed(hub, call.me.id)))
            task.add_done_callback(_closing.discard)
        for task in (sender, guard, beat):
            task.cancel()
        for result in await asyncio.gather(sender, guard, beat, return_exceptions=True):
            if isinstance(result, Exception):  # a socket that broke mid-send: say so
                log.warning("live socket of agent %s: %r", call.me.id, result)
    return ws


_closing: set[asyncio.Task[None]] = set()  # presence updates of closed sockets, kept until done


async def _presence_heartbeat(hub: Hub, agent_id: str) -> None:
    """The shared presence record: this open inbox holds the agent online across hub processes
    (each beat extends it; a process that dies stops beating and the agent goes offline)."""
    roster = hub.services.roster
    opened = True
    while True:
        try:
            await roster.socket_heartbeat(agent_id, hub.instance_id, opened=opened)
            if opened:
                await hub.refresh_online()
            opened = False
        except StoreUnavailable:
            pass  # the next beat tries again
        await asyncio.sleep(roster.presence_ttl.total_seconds() / 3)


async def _presence_closed(hub: Hub, agent_id: str) -> None:
    try:
        await hub.services.roster.socket_closed(agent_id, hub.instance_id)
        await hub.refresh_online()
    except StoreUnavailable:
        pass  # the record expires by itself


async def _close_when_signed_out(
    auth: Authenticator, request: web.Request, ws: web.WebSocketResponse, seen_as: dict[str, Viewer]
) -> None:
    """Sign-out, expiry, revocation or deactivation ends the socket (and the agent's presence);
    a changed role or token is read again for the feed's filter."""
    while not ws.closed:
        left = auth.seconds_left(request)
        await auth.wait_for_change(RECHECK_SECONDS if left is None else min(RECHECK_SECONDS, left))
        try:
            valid = await auth.still_valid(request)
        except StoreUnavailable:
            continue  # cannot tell now; the next round asks again
        if not valid:
            await ws.close(code=SIGNED_OUT, message=b"signed out")
            return
        with contextlib.suppress(StoreUnavailable):
            seen_as["viewer"] = await auth.current_viewer(request)
