"""A fake Slack Web API (and Socket Mode endpoint) on loopback, answering as documented.

The real AsyncWebClient and SocketModeClient talk to it (base_url). Every call is
recorded; `fail_next` scripts error answers (429 with Retry-After, 500, ok=false errors).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import WSMsgType, web

TEAM = "T0TEAM"
BOT_USER = "UBOT"
FILE_CHUNK = 100_000  # bytes per write of a file download


@dataclass
class FakeSlack:
    bot_token: str = "xoxb-test"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_next: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    base: str = ""
    socket_envelopes: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    acks: list[str] = field(default_factory=list)
    deleted_users: set[str] = field(default_factory=set)  # users.info answers user_not_found
    users_info_delay: float = 0.0
    lookups_in_flight: int = 0
    most_lookups_at_once: int = 0
    ts: int = 1700000000

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self.method)
        app.router.add_get("/files/{name}", self.file)
        app.router.add_get("/socket", self.socket)
        return app

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    async def method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        raw = await request.read()
        if request.content_type == "application/json":
            params = json.loads(raw or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        params.update(request.query)  # GET methods such as users.info
        for key in ("blocks",):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        self.calls.append((name, params))
        if self.fail_next.get(name):
            status, body, headers = self.fail_next[name].pop(0)
            return web.json_response(body, status=status, headers=headers)
        if name == "users.info" and params.get("user") in self.deleted_users:
            return web.json_response({"ok": False, "error": "user_not_found"})
        handler = getattr(self, "m_" + name.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response({"ok": True, **(await handler(params))})

    async def m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user_id": BOT_USER, "team_id": TEAM, "bot_id": "BBOT", "team": "Partners", "user": "helpline"}

    async def m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        self.lookups_in_flight += 1
        self.most_lookups_at_once = max(self.most_lookups_at_once, self.lookups_in_flight)
        await asyncio.sleep(self.users_info_delay)
        self.lookups_in_flight -= 1
        return {"user": self.users.get(params["user"], {"id": params["user"], "name": params["user"], "profile": {}})}

    async def m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        self.ts += 1
        return {"channel": params["channel"], "ts": f"{self.ts}.000100", "message": {"text": params.get("text")}}

    async def m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.base.replace("http://", "ws://") + "/socket"}

    async def file(self, request: web.Request) -> web.StreamResponse:
        """Streamed in chunks larger than a client's 64 KiB read buffer, with pauses, as a
        real file host's body arrives: a client that reads only what is buffered gets a part."""
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(status=403)
        data = self.files[request.match_info["name"]]
        self.calls.append(("file", {"name": request.match_info["name"]}))
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(data)
        await response.prepare(request)
        for start in range(0, len(data), FILE_CHUNK):
            await response.write(data[start : start + FILE_CHUNK])
            await asyncio.sleep(0.005)
        await response.write_eof()
        return response

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})

        async def push() -> None:
            while True:
                await ws.send_json(await self.socket_envelopes.get())

        pusher = asyncio.create_task(push())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    data = json.loads(message.data)
                    if "envelope_id" in data:
                        self.acks.append(data["envelope_id"])
        finally:
            pusher.cancel()
        return ws


def message_event(
    text: str,
    *,
    ts: str,
    channel: str = "D123",
    user: str = "U1",
    channel_type: str = "im",
    event_id: str = "",
    **extra: Any,
) -> dict[str, Any]:
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "channel_type": channel_type,
        "event_ts": ts,
        **extra,
    }
    return {
        "token": "x",
        "team_id": TEAM,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id or f"Ev{ts.replace('.', '')}",
        "event_time": int(time.time()),
        "event": event,
    }
