"""Live events for the agents' inbox over a WebSocket, and who is online."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from conversation.store import StoreUnavailable
from hub.access import Access
from hub.api.auth import Authenticator
from hub.api.framework import ApiError, Call
from hub.api.routes import api, hub_of
from hub.app_keys import AUTH
from hub.events import Event

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 20.0
RECHECK_SECONDS = HEARTBEAT_SECONDS  # how often an open socket re-checks its session or token
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


async def may_see(call: Call, event: Event) -> bool:
    """The live feed's filter: the same check as every ticket route (hub/access.py)."""
    hub = hub_of(call)
    if not hub.access.restricts(call.me):
        return True
    try:
        conversation = await hub.store.tickets.get_conversation(event.conversation_id)
    except StoreUnavailable:
        return False  # unknown now: better missed (the inbox reloads) than shown to the wrong agent
    return conversation is not None and hub.access.allows(call.me, conversation, Access.READ)


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
    subscription = hub.bus.subscribe()
    hub.presence.join(call.me.id)
    hub.live_sockets.add(ws)
    beat = asyncio.create_task(_presence_heartbeat(hub, call.me.id))

    async def forward() -> None:
        async for event in subscription:
            if subscription.overflowed:
                await ws.send_json({"type": "resync"})  # too far behind: reload what is shown
                subscription.overflowed = False
            if await may_see(call, event):
                await ws.send_json(event_json(event))

    sender = asyncio.create_task(forward())
    guard = asyncio.create_task(_close_when_signed_out(request.config_dict[AUTH], request, ws))
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


async def _close_when_signed_out(auth: Authenticator, request: web.Request, ws: web.WebSocketResponse) -> None:
    """Sign-out, expiry, revocation or deactivation ends the socket (and the agent's presence)."""
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
