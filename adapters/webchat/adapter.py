"""The web-chat channel: a widget on any website, talking to the hub over a WebSocket.

A visitor holds a signed token (itsdangerous) naming who they are; every request and
socket is checked against it, so a visitor only ever reaches their own conversation.
A site that knows its signed-in user passes `user.id` (and optionally `user.email`)
with `user.hash` = hex HMAC-SHA256 over `id` or `id + "\\n" + email` keyed with the
site's `identity_secret`; a wrong hash is refused, a right one makes the visitor that
person, on every device and, through a verified email, on other channels too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import secrets
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from aiohttp import WSMsgType, web
from itsdangerous import BadSignature, URLSafeTimedSerializer

from conversation.model import Attachment, Conversation, ConversationQuery, Delivery, Message, MessageKind
from hub.events import Event
from hub.jsonbody import InvalidJson, parse_json, read_json
from hub.ratelimit import SlidingWindow
from hub.sdk import (
    Adapter,
    ConfigError,
    Field,
    HubPort,
    Inbound,
    IngestUnavailable,
    InvalidInbound,
    Outbound,
    Sender,
    Sent,
)

STATIC = Path(__file__).parent / "static"
TOKEN_MAX_AGE = 180 * 24 * 3600
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]+$")
POLICY_VIOLATION = 4008  # WebSocket close code: the client broke a rule
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 503: "unavailable"}


class WebChatAdapter(Adapter):
    config_fields: ClassVar[dict[str, Field]] = {
        "secret": Field(str, help="signs visitor tokens (or env:NAME)", secret=True),
        "sites": Field(dict, {}, "per site: identity_secret, allowed_origins"),
        "max_message_chars": Field(int, 4000, "longest message a visitor may send", minimum=1),
        "messages_per_minute": Field(int, 20, "per visitor", minimum=1),
        "messages_per_minute_per_ip": Field(int, 60, "per address, all visitors together", minimum=1),
        "max_connections_per_visitor": Field(int, 5, "open tabs per visitor", minimum=1),
        "max_attachment_bytes": Field(int, 10 * 1024 * 1024, "largest upload", minimum=1),
        "email_channel": Field(
            str,
            "",
            "email channel that also carries replies to visitors who left"
            " an address and are not connected; empty: none",
        ),
        "attachment_types": Field(
            list,
            ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"],
            "content types visitors may upload",
        ),
    }

    @classmethod
    def check_settings(cls, prefix: str, settings: dict[str, Any]) -> None:
        for site, table in settings["sites"].items():
            if not isinstance(table, dict):
                raise ConfigError(f"{prefix}.sites.{site}: expected a table")
            for key in table:
                if key not in ("identity_secret", "allowed_origins"):
                    raise ConfigError(
                        f"{prefix}.sites.{site}.{key}: unknown key (known keys: allowed_origins, identity_secret)"
                    )
            if not isinstance(table.get("identity_secret", ""), str):
                raise ConfigError(f"{prefix}.sites.{site}.identity_secret: expected a string")
            origins = table.get("allowed_origins", [])
            if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
                raise ConfigError(f"{prefix}.sites.{site}.allowed_origins: expected a list of origins")

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        self.tokens = URLSafeTimedSerializer(settings["secret"], salt="helpline-webchat-visitor")
        self.per_visitor = SlidingWindow(settings["messages_per_minute"], 60)
        self.per_address = SlidingWindow(settings["messages_per_minute_per_ip"], 60)
        self.sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)  # visitor -> open sockets
        self.watchers: dict[str, set[str]] = defaultdict(set)  # conversation id -> visitors
        self._hub: HubPort | None = None
        self._router: asyncio.Task[None] | None = None

    @property
    def hub(self) -> HubPort:
        if self._hub is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self._hub

    # -- lifecycle -----------------------------------------------------------------
    def web_app(self) -> web.Application:
        app = web.Application(middlewares=[cross_origin])
        app.router.add_get("/widget/helpline.js", self._script)
        app.router.add_post("/session", self._session)
        app.router.add_get("/ws", self._socket)
        app.router.add_post("/upload", self._upload)
        app.router.add_post("/email", self._email)
        app.router.add_get("/attachments/{ref}", self._attachment)
        app.on_shutdown.append(self._close_sockets)
        return app

    async def start(self, hub: HubPort) -> None:
        self._hub = hub
        self._router = asyncio.create_task(self._route_events(hub), name=f"helpline-{self.name}-events")

    async def stop(self) -> None:
        if self._router is not None:
            self._router.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._router

    async def _close_sockets(self, app: web.Application) -> None:
        for sockets in list(self.sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutdown")

    # -- visitors --------------------------------------------------------------------
    def visitor_of(self, token: str) -> tuple[str, str]:
        """(visitor address, site) from a token, or 401."""
        try:
            data = self.tokens.loads(token, max_age=TOKEN_MAX_AGE)
            return str(data["v"]), str(data["s"])
        except (BadSignature, KeyError, TypeError):
            raise web.HTTPUnauthorized(text="the visitor token is invalid or expired") from None

    def _site(self, site: str, request: web.Request) -> dict[str, Any]:
        sites = self.settings["sites"]
        if sites and site not in sites:
            raise web.HTTPForbidden(text=f"unknown site {site!r}")
        table = sites.get(site, {})
        origins = table.get("allowed_origins", [])
        origin = request.headers.get("Origin", "")
        if origins and origin not in origins:
            raise web.HTTPForbidden(text="this site may not embed the widget")
        return table

    async def _session(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        site = body.get("site") or "default"
        if not isinstance(site, str):
            raise web.HTTPBadRequest(text="site must be a string")
        table = self._site(site, request)
        user = body.get("user")
        name, email, verified = "", "", False
        if user:
            if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
                raise web.HTTPBadRequest(text="user.id is required")
            for key in ("email", "name", "hash"):
                if not isinstance(user.get(key) or "", str):
                    raise web.HTTPBadRequest(text=f"user.{key} must be a string")
            email = user.get("email") or ""
            message = user["id"] + ("\n" + email if email else "")
            expected = hmac.new(table.get("identity_secret", "").encode(), message.encode(), hashlib.sha256).hexdigest()
            given = str(user.get("hash") or "").encode()  # bytes: compare_digest refuses non-ASCII text
            if not table.get("identity_secret") or not hmac.compare_digest(expected.encode(), given):
                return web.json_response(
                    {"error": "identity_rejected", "message": "the user's identity hash does not verify"}, status=403
                )
            address, name, verified = f"user:{site}:{user['id']}", str(user.get("name") or ""), True
        elif isinstance(body.get("token"), str):
            address, token_site = self.visitor_of(body["token"])
            if token_site != site:
                raise web.HTTPUnauthorized(text="the token belongs to another site")
        else:
            address = "v_" + secrets.token_urlsafe(16)
        token = self.tokens.dumps({"v": address, "s": site, "n": name, "e": email if verified else ""})
        conversation = await self._latest_conversation(address)
        return web.json_response(
            {
                "token": token,
                "visitor": address,
                "conversation": ticket_json(conversation),
                "agents_online": self.hub.agents_online() > 0,
                "limits": {
                    "max_message_chars": self.settings["max_message_chars"],
                    "max_attachment_bytes": self.settings["max_attachment_bytes"],
                    "attachment_types": self.settings["attachment_types"],
                },
            }
        )

    async def _latest_conversation(self, address: str) -> Conversation | None:
        contact = await self.hub.store.find_identity_contact(self.name, address)
        if contact is None:
            return None
        items, _ = await self.hub.store.list_conversations(
            ConversationQuery(contact_id=contact.id, channel=self.name, limit=5)
        )
        return next((c for c in items if c.thread_key == address), None)

    # -- the socket -------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        address, site = self.visitor_of(request.query.get("token", ""))
        self._site(site, request)
        token_data = self.tokens.loads(request.query["token"])
        ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=self.settings["max_message_chars"] * 4 + 4096)
        await ws.prepare(request)
        if len(self.sockets[address]) >= self.settings["max_connections_per_visitor"]:
            await ws.send_json(
                {"type": "error", "code": "too_many_connections", "message": "this chat is open in too many windows"}
            )
            await ws.close(code=POLICY_VIOLATION, message=b"too many connections")
            return ws
        self.sockets[address].add(ws)
        conversation_id = ""
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    if frame.type == WSMsgType.ERROR:
                        break
                    continue
                try:
                    data = parse_json(frame.data)
                    if not isinstance(data, dict):
                        raise InvalidJson("not an object")
                except InvalidJson:
                    await ws.send_json({"type": "error", "code": "bad_frame", "message": "frames are JSON objects"})
                    continue
                kind = data.get("type")
                if kind == "hello":
                    conversation_id = await self._hello(ws, address, str(data.get("after") or ""))
                elif kind in ("message", "choice"):
                    conversation_id = await self._message(ws, request, address, token_data, data) or conversation_id
                elif kind == "typing" and conversation_id:
                    self.hub.bus.publish(Event("typing", conversation_id, {"who": "customer"}))
                elif kind == "ping":
                    await ws.send_json({"type": "pong"})
                else:
                    await ws.send_json({"type": "error", "code": "bad_frame", "message": f"unknown type {kind!r}"})
        finally:
            self.sockets[address].discard(ws)
            if not self.sockets[address]:
                del self.sockets[address]
                for conversation_id, visitors in list(self.watchers.items()):
                    visitors.discard(address)
                    if not visitors:
                        del self.watchers[conversation_id]
        return ws

    async def _hello(self, ws: web.WebSocketResponse, address: str, after: str) -> str:
        conversation = await self._latest_conversation(address)
        messages: list[Message] = []
        if conversation is not None:
            self.watchers[conversation.id].add(address)
            messages = await self.hub.store.list_messages(conversation.id, after=after)
        await ws.send_json(
            {
                "type": "hello",
                "conversation": ticket_json(conversation),
                "messages": [visitor_message_json(m) for m in messages if visible(m)],
                "agents_online": self.hub.agents_online() > 0,
            }
        )
        return conversation.id if conversation else ""

    async def _message(
        self, ws: web.WebSocketResponse, request: web.Request, address: str, token: dict[str, Any], data: dict[str, Any]
    ) -> str | None:
        client_id = data.get("client_id")
        text = data.get("text") or ""
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 64 or not isinstance(text, str):
            await ws.send_json({"type": "error", "code": "bad_frame", "message": "client_id and text are required"})
            return None
        if len(text) > self.settings["max_message_chars"]:
            await ws.send_json(
                {
                    "type": "error",
                    "code": "too_long",
                    "client_id": client_id,
                    "message": f"messages are limited to {self.settings['max_message_chars']} characters",
                }
            )
            return None
        for limiter, key in ((self.per_visitor, address), (self.per_address, request.remote or "?")):
            wait = limiter.take(key)
            if wait is not None:
                await ws.send_json(
                    {
                        "type": "error",
                        "code": "rate_limited",
                        "client_id": client_id,
                        "retry_after": round(wait, 1),
                        "message": "you are sending too fast",
                    }
                )
                return None
        try:
            attachments = self._attachments(data.get("attachments") or [])
            record = await self.hub.ingest(
                Inbound(
                    channel=self.name,
                    external_id=f"{address}:{client_id}",  # a resent frame is recognised, not stored twice
                    sender=Sender(
                        address=address,
                        display_name=token.get("n") or visitor_name(address),
                        email=token.get("e", ""),
                        verified=bool(token.get("e")),
                    ),
                    thread_key=address,
                    text=text,
                    attachments=tuple(attachments),
                    choice_id=str(data.get("choice_id") or "") if data.get("type") == "choice" else "",
                )
            )
        except InvalidInbound as exc:
            await ws.send_json({"type": "error", "code": "invalid", "client_id": client_id, "message": str(exc)})
            return None
        except IngestUnavailable:
            await ws.send_json(
                {
                    "type": "error",
                    "code": "unavailable",
                    "client_id": client_id,
                    "message": "we could not take your message just now; it will be resent",
                }
            )
            return None
        conversation = record.conversation
        self.watchers[conversation.id].add(address)
        payload = visitor_message_json(record.message)
        await ws.send_json(
            {"type": "ack", "client_id": client_id, "message": payload, "conversation": ticket_json(conversation)}
        )
        for other in self.sockets.get(address, set()) - {ws}:  # the same visitor's other tabs
            await _send(other, {"type": "message", "message": payload})
        return conversation.id

    def _attachments(self, items: Any) -> list[Attachment]:
        if not isinstance(items, list) or len(items) > 10:
            raise InvalidInbound("attachments must be a list of at most 10 uploads")
        attachments = []
        for item in items:
            if not isinstance(item, dict) or self.hub.blobs.path(str(item.get("ref", ""))) is None:
                raise InvalidInbound("an attachment was not uploaded first")
            size = item.get("size", 0)
            if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 2**53:
                raise InvalidInbound("an attachment's size must be a number of bytes")
            content_type = str(item.get("content_type", ""))
            if content_type not in self.settings["attachment_types"]:
                raise InvalidInbound(f"files of type {content_type!r} are not accepted")
            attachments.append(
                Attachment(
                    name=str(item.get("name", "file"))[:200],
                    content_type=content_type,
                    size=size,
                    blob_ref=str(item["ref"]),
                )
            )
        return attachments

    # -- uploads, email, downloads ------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        self.visitor_of(request.query.get("token", ""))
        limit = self.settings["max_attachment_bytes"]
        if request.content_length is not None and request.content_length > limit + 64 * 1024:
            return _error(413, "too_large", f"files are limited to {limit} bytes")
        if request.content_type != "multipart/form-data":
            return _error(400, "bad_request", "send the file as multipart/form-data")
        try:
            reader = await request.multipart()
            part = await reader.next()
        except ValueError as exc:  # no boundary, or not the one declared
            return _error(400, "bad_request", f"the multipart body is malformed: {exc}")
        if part is None or getattr(part, "name", None) != "file":
            return _error(400, "bad_request", "send one multipart field named file")
        content_type = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
        if content_type not in self.settings["attachment_types"]:
            return _error(415, "unsupported_type", f"files of type {content_type} are not accepted")
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):  # type: ignore[union-attr]
            data += chunk
            if len(data) > limit:
                return _error(413, "too_large", f"files are limited to {limit} bytes")
        ref = await self.hub.blobs.put(bytes(data))
        # Only the last path segment of what the browser claims, however it was encoded.
        name = Path(unquote(part.filename or "file").replace("\\", "/")).name[:200] or "file"  # type: ignore[union-attr]
        return web.json_response({"ref": ref, "name": name, "content_type": content_type, "size": len(data)})

    async def _email(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        address, _site = self.visitor_of(str(body.get("token", "")))
        email = str(body.get("email", "")).strip()
        if not EMAIL.match(email):
            return _error(422, "invalid", "that is not an email address")
        contact = await self.hub.store.find_identity_contact(self.name, address)
        if contact is None:
            return _error(409, "no_conversation", "write your question first, then leave your address")
        await self.hub.store.update_contact(contact.id, email=email)
        return web.json_response({"ok": True})

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        address, _site = self.visitor_of(request.query.get("token", ""))
        ref = request.match_info["ref"]
        conversation = await self._latest_conversation(address)
        mine = conversation is not None and any(
            a.blob_ref == ref
            for m in await self.hub.store.list_messages(conversation.id)
            if visible(m)
            for a in m.attachments
        )
        path = self.hub.blobs.path(ref) if mine else None
        if path is None:
            raise web.HTTPNotFound(text="no such attachment")
        return web.FileResponse(
            path, headers={"Content-Disposition": "attachment", "Content-Type": "application/octet-stream"}
        )

    async def _script(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(
            STATIC / "helpline.js",
            headers={"Cache-Control": "public, max-age=300", "Content-Type": "text/javascript; charset=utf-8"},
        )

    # -- from the hub to visitors ---------------------------------------------------------
    async def send(self, out: Outbound) -> Sent:
        """An agent's or bot's reply: pushed to the visitor's open windows; kept for the rest.

        A visitor who is not connected sees it when the widget next opens (it resumes
        from the last message it showed).
        """
        self.watchers[out.conversation.id].add(out.address)
        payload = {"type": "message", "message": visitor_message_json(out.message)}
        connected = list(self.sockets.get(out.address, ()))
        for ws in connected:
            await _send(ws, payload)
        if not connected and out.contact.email and self.settings["email_channel"]:
            await self._also_by_email(out)
        return Sent(external_id=out.message.id)

    async def _also_by_email(self, out: Outbound) -> None:
        """The visitor left and gave an address: the reply goes by email too, in the same
        conversation, so their emailed answer comes back to it (threaded by Message-ID)."""
        # Deterministic (a retried delivery finds it) and sorting right after the original.
        copy_id = f"{int(out.message.id, 16) + 1:024x}"
        store = self.hub.store
        if await store.get_message(copy_id) is not None:
            return  # this delivery was retried: the copy exists already
        await store.add_message(
            replace(
                out.message,
                id=copy_id,
                channel=self.settings["email_channel"],
                external_id="",
                delivery=Delivery(next_attempt_at=out.message.created_at),
            )
        )

    async def _route_events(self, hub: HubPort) -> None:
        """One subscription for all visitors, routed by conversation (not one per socket)."""
        subscription = hub.bus.subscribe(maxsize=10_000)
        try:
            async for event in subscription:
                visitors = self.watchers.get(event.conversation_id)
                if not visitors:
                    continue
                if event.type == "typing" and event.data.get("who") == "agent":
                    frame: dict[str, Any] = {"type": "typing", "who": "agent"}
                elif event.type == "conversation.updated":
                    conversation = await hub.store.get_conversation(event.conversation_id)
                    frame = {"type": "ticket", "conversation": ticket_json(conversation)}
                else:
                    continue
                for address in list(visitors):
                    for ws in list(self.sockets.get(address, ())):
                        await _send(ws, frame)
        finally:
            subscription.close()


@web.middleware
async def cross_origin(request: web.Request, handler: Any) -> web.StreamResponse:
    """The widget runs on the customer's website, another origin: let it call in.

    No cookies are involved (the visitor token travels in the body or query), so any
    origin may ask; a site's `allowed_origins` is enforced on the requests themselves.
    """
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS" and origin:
        response: web.StreamResponse = web.Response(status=204)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = _error(exc.status, ERROR_CODES.get(exc.status, f"http_{exc.status}"), exc.text or exc.reason)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def visitor_name(address: str) -> str:
    """A readable name for an anonymous visitor until they tell us theirs."""
    return f"Visitor {address.removeprefix('v_')[:6]}" if address.startswith("v_") else ""


def visible(message: Message) -> bool:
    """What the customer may see: messages, never notes or system events."""
    return message.kind is MessageKind.MESSAGE


def ticket_json(conversation: Conversation | None) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {"number": conversation.number, "status": conversation.status.value}


def visitor_message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "from": "visitor" if message.direction.value == "inbound" else message.author_type.value,
        "text": message.text,
        "attachments": [
            {"ref": a.blob_ref, "name": a.name, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
        "choices": [{"id": c.id, "label": c.label} for c in message.choices],
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }


async def _send(ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(payload)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or 400 with the reason (through the shared reader)."""
    try:
        body = await read_json(request)
    except InvalidJson as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)
