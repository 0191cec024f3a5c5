"""The web-chat channel: a widget on any website, talking to the hub over a WebSocket.

A visitor holds a signed token (itsdangerous) naming who they are; every request and
socket is checked against it, so a visitor only ever reaches their own conversation.
A site that knows its signed-in user passes `user.id` (and optionally `user.email`)
with `user.hash` = hex HMAC-SHA256 over `id` or `id + "\\n" + email` keyed with the
site's `identity_secret`; a wrong hash is refused, a right one makes the visitor that
person, on every device and, through a verified email, on other channels too. A stored
token alone never resumes a signed-in user (the page must present the user again), and
`/logout` revokes every token issued to that visitor so far.

Anonymous visitors cost nothing to create, so everything they can trigger is bounded:
new visitors and sockets per address, uploads per visitor and address (kept apart, and
deleted unless sent within `upload_expiry_minutes`), typing and hello frames per socket,
and mail to an address they leave (one confirmation code until they confirm it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import BodyPartReader, WSMsgType, web
from itsdangerous import BadSignature, URLSafeTimedSerializer

from adapters.webchat.email_optin import AddressClaim, confirmed_claim, new_claim, shown_address, try_code
from adapters.webchat.texts import confirmation_mail
from conversation.identity import follows_merge, seen_by_customer
from conversation.inbound import EMAIL_ADDRESS
from conversation.ingest import MAX_MERGE_HOPS
from conversation.model import (
    Attachment,
    AuthorType,
    Conversation,
    Direction,
    Message,
    MessageKind,
    new_id,
)
from conversation.visitors import visitor_name
from hub.sdk import (
    BINARY,
    LANG_PARAM,
    MIN_GENERATED_SECRET,
    NO_STATUS_LINK,
    SOCKET_RENEW_SECONDS,
    Adapter,
    ConfigError,
    HubPort,
    Inbound,
    IngestUnavailable,
    InvalidInbound,
    InvalidJson,
    InvalidText,
    LocalLimit,
    Outbound,
    PendingUploads,
    PermanentDeliveryError,
    RateLimit,
    RetryableDeliveryError,
    Sender,
    Sent,
    SlidingWindow,
    StoreUnavailable,
    Subscription,
    best_locale,
    client_address,
    detect_type,
    download_headers,
    error_message,
    file_name,
    hub_texts,
    name_for_type,
    parse_json,
    read_json,
    request_locale,
    setting,
    stream_blob,
)

STATIC = Path(__file__).parent / "static"
TOKEN_MAX_AGE = 180 * 24 * 3600
POLICY_VIOLATION = 4008  # WebSocket close code: the client broke a rule
SERVICE_RESTART = 1012  # WebSocket close code: reconnect (and resume)
SIGNED_OUT = 4001  # WebSocket close code: the visitor's token was revoked (logout)
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 503: "unavailable"}
TYPING_EVERY_SECONDS = 2.0  # a conversation's typing events reach agents at most this often
HELLOS_PER_10_SECONDS = 5  # per socket: a resync is a full history read
SWEEP_EVERY_SECONDS = 300  # expired uploads are deleted this often
# The frames a widget may send (README "Web chat" documents each, tests/test_webchat_protocol.py
# keeps the two in step); anything else is answered with a bad_frame error.
CLIENT_FRAMES = ("hello", "message", "choice", "typing", "ping")
INVALID_TEXT = "invalid text: the frame contains a lone UTF-16 surrogate, which cannot be kept; nothing was stored"
HANDOVER_SECONDS = 3.0  # how long a reply waits for the hub process holding the visitor's window


def frame_limit(max_message_chars: int) -> int:
    """The largest frame a visitor's socket takes: a message of `max_message_chars` characters
    as any JSON encoder writes it, each escaped as `\\uXXXX` (an emoji as two, 12 bytes: Python's
    json.dumps escapes all but ASCII), plus room for the frame's other fields. A valid message
    must reach the length check (`too_long`), never close the socket (a trial's client did)."""
    return max_message_chars * 12 + 4096


class Refusal(Exception):
    """A request the widget can explain to the visitor: status, stable code, message."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


@dataclass(frozen=True, slots=True)
class Visitor:
    address: str  # the identity on this channel: v_... (anonymous) or user:<site>:<id>
    site: str
    token: dict[str, Any]  # what the token says: n (name), e (verified email), at (issued)


@dataclass(frozen=True)
class SiteSettings:
    identity_secret: str = setting(str, "", "verifies signed-in users", secret=True, min_length=MIN_GENERATED_SECRET)
    allowed_origins: tuple[str, ...] = setting(list, [], "pages that may embed the widget; empty: any")


NO_SITE_SETTINGS = SiteSettings()  # no [sites] configured: any page, anonymous visitors only


class WebChatAdapter(Adapter):
    sends_attachments: ClassVar[bool] = True  # an agent's files go out with the reply
    shows_choices = True  # a plugin's question comes with buttons

    @dataclass(frozen=True)
    class Settings:
        secret: str = setting(
            str, help="signs visitor tokens (or env:NAME)", secret=True, min_length=MIN_GENERATED_SECRET
        )
        sites: dict[str, SiteSettings] = setting(
            dict, {}, "per site: identity_secret, allowed_origins", entries=SiteSettings
        )
        max_message_chars: int = setting(int, 4000, "longest message a visitor may send", minimum=1)
        messages_per_minute: int = setting(int, 20, "per visitor", minimum=1)
        messages_per_minute_per_ip: int = setting(int, 60, "per address, all visitors together", minimum=1)
        max_connections_per_visitor: int = setting(int, 5, "open tabs per visitor", minimum=1)
        max_connections_per_ip: int = setting(int, 50, "open sockets per address, all its visitors together", minimum=1)
        new_visitors_per_hour_per_ip: int = setting(int, 60, "anonymous visitors one address may start", minimum=1)
        max_attachment_bytes: int = setting(
            int, 10 * 1024 * 1024, "largest upload (the body limit of /upload, instead of max_body_bytes)", minimum=1
        )
        uploads_per_hour: int = setting(int, 30, "uploads per visitor", minimum=1)
        uploads_per_hour_per_ip: int = setting(int, 100, "uploads per address, all its visitors together", minimum=1)
        upload_expiry_minutes: int = setting(int, 60, "an upload not sent in a message by then is deleted", minimum=1)
        email_requests_per_hour: int = setting(int, 3, "addresses one visitor may leave (each mails a code)", minimum=1)
        email_channel: str = setting(
            str,
            "",
            "email channel that also carries replies to visitors who left"
            " an address and are not connected; empty: none",
        )
        attachment_types: tuple[str, ...] = setting(
            list,
            ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"],
            "content types visitors may upload",
        )

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Settings) -> None:
        for site, table in settings.sites.items():  # each table is checked against the `sites` entries
            origins = table.allowed_origins
            if not all(isinstance(o, str) for o in origins):
                raise ConfigError(f"{prefix}.sites.{site}.allowed_origins: expected a list of origins")

    def __init__(self, name: str, settings: Settings) -> None:
        super().__init__(name, settings)
        self.tokens = URLSafeTimedSerializer(settings.secret, salt="helpline-webchat-visitor")
        # What visitors and addresses may do: counted for every hub process on the store (a
        # load balancer spreads one visitor's requests), in this process until start().
        self.shared_limits: dict[str, tuple[int, float]] = {
            "per_visitor": (settings.messages_per_minute, 60),
            "per_address": (settings.messages_per_minute_per_ip, 60),
            "new_visitors": (settings.new_visitors_per_hour_per_ip, 3600),
            "uploads_per_visitor": (settings.uploads_per_hour, 3600),
            "uploads_per_address": (settings.uploads_per_hour_per_ip, 3600),
            "email_per_visitor": (settings.email_requests_per_hour, 3600),
            "email_per_address": (settings.email_requests_per_hour * 4, 3600),
            "email_per_recipient": (settings.email_requests_per_hour, 24 * 3600),
            "code_attempts": (10, 3600),  # per visitor, on top of the per-code limit
        }
        self.per_visitor: RateLimit
        self.per_address: RateLimit
        self.new_visitors: RateLimit
        self.uploads_per_visitor: RateLimit
        self.uploads_per_address: RateLimit
        self.email_per_visitor: RateLimit
        self.email_per_address: RateLimit
        self.email_per_recipient: RateLimit
        self.code_attempts: RateLimit
        for attribute, (limit, window) in self.shared_limits.items():
            setattr(self, attribute, LocalLimit(limit, window))
        # per socket and per conversation: this process's own
        self.hellos = SlidingWindow(HELLOS_PER_10_SECONDS, 10)  # per socket
        self.typing = SlidingWindow(1, TYPING_EVERY_SECONDS)  # per conversation: coalesced
        self.sockets_per_ip: Counter[str] = Counter()
        self.uploads: PendingUploads | None = None
        self.sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)  # visitor -> open sockets
        self.watchers: dict[str, set[str]] = defaultdict(set)  # conversation id -> visitors
        self.watching: dict[str, str] = {}  # visitor -> the conversation their widget shows
        self._hub: HubPort | None = None
        self._router: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._holder: asyncio.Task[None] | None = None
        self.handover_seconds = HANDOVER_SECONDS
        self._subscription: Subscription | None = None

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
        app.router.add_post("/email/confirm", self._confirm_email)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/attachments/{ref}", self._attachment)
        app.on_shutdown.append(self._close_sockets)
        return app

    async def start(self, hub: HubPort) -> None:
        self._hub = hub
        self.uploads = hub.pending_uploads(self.name, self.settings.upload_expiry_minutes * 60)
        # One subscription for all visitors, routed by conversation (not one per socket);
        # supervised, so an event that cannot be routed (the store is down) skips only itself.
        subscription = hub.subscribe(maxsize=10_000, remote=True)  # other hub processes' changes too
        self._subscription = subscription
        self._router = hub.supervisor.run(f"{self.name}-events", lambda: self._route_next(hub, subscription))
        self._sweeper = asyncio.create_task(self._sweep_forever(), name=f"helpline-{self.name}-sweep")
        self._holder = hub.supervisor.run(f"{self.name}-sockets", self._renew_holds)
        hub.take_handovers(self._handover_kind, self._take_handover)
        hub.on_hold_lapse(self._reconnect_all)
        self._share_limits(hub)

    async def stop(self) -> None:
        for task in (self._router, self._sweeper, self._holder):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._subscription is not None:
            self._subscription.close()

    def _share_limits(self, hub: HubPort) -> None:
        for attribute, (limit, window) in self.shared_limits.items():
            setattr(self, attribute, hub.rate_limit(f"webchat:{self.name}:{attribute}", limit, window))

    async def sweep(self) -> int:
        """Forget idle rate-limit keys and delete expired uploads; how many uploads went."""
        for limiter in (*(getattr(self, a) for a in self.shared_limits), self.hellos, self.typing):
            limiter.sweep()
        return await self.uploads.sweep() if self.uploads else 0

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_SECONDS)
            try:
                await self.sweep()
            except Exception:  # a failed sweep is retried next time; it must not end the loop
                self.log.exception("could not sweep expired uploads and idle rate limits")

    async def _close_sockets(self, app: web.Application) -> None:
        for sockets in list(self.sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutdown")

    # -- visitors --------------------------------------------------------------------
    async def visitor_of(self, token: str) -> Visitor:
        """Who holds this token, or 401 (bad signature, expired, or revoked by a logout)."""
        try:
            data = self.tokens.loads(token, max_age=TOKEN_MAX_AGE)
            visitor = Visitor(str(data["v"]), str(data["s"]), dict(data))
        except (BadSignature, KeyError, TypeError, ValueError):
            raise web.HTTPUnauthorized(text="the visitor token is invalid or expired") from None
        revoked = await self.hub.get_state(self._revoked_key(visitor.address))
        if isinstance(revoked, int | float) and float(visitor.token.get("at", 0)) <= revoked:
            raise web.HTTPUnauthorized(text="the visitor token was revoked")
        return visitor

    def _revoked_key(self, address: str) -> str:
        return f"webchat:{self.name}:revoked-before:{address}"

    def _email_key(self, address: str) -> str:
        return f"webchat:{self.name}:email:{address}"

    def _site(self, site: str, request: web.Request) -> SiteSettings:
        sites = self.settings.sites
        if sites and site not in sites:
            raise Refusal(403, "unknown_site", f"unknown site {site!r}")
        table = sites.get(site, NO_SITE_SETTINGS)
        origins = table.allowed_origins
        origin = request.headers.get("Origin", "")
        if origins and origin not in origins:
            raise Refusal(403, "origin_not_allowed", "this site may not embed the widget")
        return table

    async def _new_visitor(self, request: web.Request) -> str:
        """A fresh anonymous visitor id, within the address's allowance."""
        wait = await self.new_visitors.take(client_address(request))
        if wait is not None:
            raise Refusal(429, "rate_limited", "too many new chats from this address", retry_after=wait)
        return "v_" + secrets.token_urlsafe(16)

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
            expected = hmac.new(table.identity_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
            given = str(user.get("hash") or "").encode()  # bytes: compare_digest refuses non-ASCII text
            if not table.identity_secret or not hmac.compare_digest(expected.encode(), given):
                return web.json_response(
                    {"error": "identity_rejected", "message": "the user's identity hash does not verify"}, status=403
                )
            address, name, verified = f"user:{site}:{user['id']}", str(user.get("name") or ""), True
            if email:
                await self._remember_verified_email(address, email)
        elif isinstance(body.get("token"), str):
            known = await self.visitor_of(body["token"])
            if known.site != site:
                raise web.HTTPUnauthorized(text="the token belongs to another site")
            # A signed-in user is resumed only when the page presents them again (id and
            # hash): a token left in a shared browser after sign-out starts a new chat.
            address = await self._new_visitor(request) if known.address.startswith("user:") else known.address
        else:
            address = await self._new_visitor(request)
        token = self.tokens.dumps(
            {"v": address, "s": site, "n": name, "e": email if verified else "", "at": time.time()}
        )
        conversation = await self._latest_conversation(address)
        return web.json_response(
            {
                "token": token,
                "visitor": address,
                "conversation": ticket_json(conversation),
                "agents_online": self.hub.agents_online() > 0,
                # answers by email exist only with an email channel to send them (a trial was
                # offered them, and refused "no email answers here")
                "email_answers": bool(self.settings.email_channel),
                "limits": {
                    "max_message_chars": self.settings.max_message_chars,
                    "max_attachment_bytes": self.settings.max_attachment_bytes,
                    "attachment_types": self.settings.attachment_types,
                },
            }
        )

    async def _latest_conversation(self, address: str) -> Conversation | None:
        """The ticket the visitor's widget shows: the newest they opened, or, when an agent
        merged it into another of theirs, that one. Merged into another customer's ticket, it
        stays their own (closed): that ticket's number and status are none of their business,
        and their next message opens a ticket (see follows_merge)."""
        own = await self._own_latest_conversation(address)
        return await self._followed(own, address)

    async def _followed(self, own: Conversation | None, address: str) -> Conversation | None:
        surviving = await self._surviving(own)
        if own is None or surviving is None or follows_merge(own, surviving, address):
            return surviving
        return own

    async def _history_of(self, conversation: Conversation | None) -> Conversation | None:
        """Where the shown ticket's messages are: a merge moved them to the surviving ticket
        (whose list is cut to what the visitor wrote or was sent: seen_by_customer)."""
        return await self._surviving(conversation)

    async def _own_latest_conversation(self, address: str) -> Conversation | None:
        contact = await self.hub.reads.find_identity_contact(self.name, address)
        if contact is None:
            return None
        items = await self.hub.reads.conversations_of(contact.id, channel=self.name, limit=5)
        return next((c for c in items if c.thread_key == address), None)

    async def _surviving(self, conversation: Conversation | None) -> Conversation | None:
        """The ticket a merged ticket was merged into, following merges of merges."""
        for _ in range(MAX_MERGE_HOPS):
            if conversation is None or not conversation.merged_into:
                break
            conversation = await self.hub.reads.get_conversation(conversation.merged_into) or conversation
        return conversation

    async def _logout(self, request: web.Request) -> web.Response:
        """The site signed its user out (the widget's `Helpline.logout()`): every token
        issued to this visitor so far stops working, and their open windows close."""
        body = await _json_object(request)
        visitor = await self.visitor_of(str(body.get("token", "")))
        self._site(visitor.site, request)
        await self.hub.set_state(self._revoked_key(visitor.address), time.time())
        for ws in list(self.sockets.get(visitor.address, ())):
            await ws.close(code=SIGNED_OUT, message=b"signed out")
        return web.json_response({"ok": True})

    # -- the socket -------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        visitor = await self.visitor_of(request.query.get("token", ""))
        self._site(visitor.site, request)
        address, token_data, ip = visitor.address, visitor.token, client_address(request)
        ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=frame_limit(self.settings.max_message_chars))
        await ws.prepare(request)
        if (
            len(self.sockets[address]) >= self.settings.max_connections_per_visitor
            or self.sockets_per_ip[ip] >= self.settings.max_connections_per_ip
        ):
            if not self.sockets[address]:
                del self.sockets[address]
            await ws.send_json(_error_frame(request, "too_many_connections", "this chat is open in too many windows"))
            await ws.close(code=POLICY_VIOLATION, message=b"too many connections")
            return ws
        self.sockets[address].add(ws)
        self.sockets_per_ip[ip] += 1
        if len(self.sockets[address]) == 1:  # other hub processes hand this visitor's replies here
            await self._hold(address)
        socket_key = f"{id(ws)}"
        conversation_id = ""
        try:
            async for frame in ws:
                if frame.type == WSMsgType.ERROR:
                    break
                if frame.type == WSMsgType.BINARY:  # answered, and the socket stays open (README: Web chat)
                    await ws.send_json(_error_frame(request, "bad_frame", "frames are JSON text, not binary"))
                    continue
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    data = parse_json(frame.data)
                    if not isinstance(data, dict):
                        raise InvalidJson("not an object")
                except InvalidText:
                    await ws.send_json(_invalid_text_frame(request, frame.data))
                    continue
                except InvalidJson:
                    await ws.send_json(_error_frame(request, "bad_frame", "frames are JSON objects"))
                    continue
                kind = data.get("type")
                if kind not in CLIENT_FRAMES:
                    await ws.send_json(_error_frame(request, "bad_frame", f"unknown type {kind!r}"))
                elif kind == "hello":
                    wait = self.hellos.take(socket_key)
                    if wait is not None:
                        await ws.send_json(
                            _error_frame(request, "rate_limited", "slow down", retry_after=round(wait, 1))
                        )
                        continue
                    conversation_id = await self._hello(ws, address, str(data.get("after") or ""))
                elif kind in ("message", "choice"):
                    conversation_id = await self._message(ws, request, address, token_data, data) or conversation_id
                elif kind == "typing":
                    # Coalesced: agents learn "typing" once per interval, however many frames come.
                    if conversation_id and self.typing.take(conversation_id) is None:
                        self.hub.publish_typing(conversation_id)
                elif kind == "ping":
                    await ws.send_json({"type": "pong"})
        finally:
            self.hellos.reset(socket_key)
            self.sockets_per_ip[ip] -= 1
            if self.sockets_per_ip[ip] <= 0:
                del self.sockets_per_ip[ip]
            self.sockets[address].discard(ws)
            if not self.sockets[address]:
                del self.sockets[address]
                self._unwatch(address)
                # in a task: aiohttp may cancel this handler when the peer goes
                _releasing.add(task := asyncio.create_task(self._release(address)))
                task.add_done_callback(_releasing.discard)
        return ws

    async def _hello(self, ws: web.WebSocketResponse, address: str, after: str) -> str:
        conversation = await self._latest_conversation(address)
        messages: list[Message] = []
        if conversation is not None:
            self._watch(address, conversation.id)
            held_in = await self._history_of(conversation) or conversation
            messages = await self.hub.reads.list_messages(held_in.id, after=after)
        await ws.send_json(
            {
                "type": "hello",
                "conversation": ticket_json(conversation),
                "messages": [
                    visitor_message_json(m, await self._author_name(m))
                    for m in messages
                    if seen_by_customer(m, address)
                ],
                "agents_online": self.hub.agents_online() > 0,
                "email_answers": bool(self.settings.email_channel),
                # the address replies are mailed to, confirmed before (partly hidden): not asked again
                "email": shown_address(await self._confirmed_email(address)) or None,
            }
        )
        return conversation.id if conversation else ""

    async def _message(
        self, ws: web.WebSocketResponse, request: web.Request, address: str, token: dict[str, Any], data: dict[str, Any]
    ) -> str | None:
        client_id = data.get("client_id")
        text = data.get("text") or ""
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 64 or not isinstance(text, str):
            await ws.send_json(_error_frame(request, "bad_frame", "client_id and text are required"))
            return None
        if len(text) > self.settings.max_message_chars:
            limit = self.settings.max_message_chars
            said = hub_texts(request_locale(request)).plural("webchat.too_long", limit)
            await ws.send_json({"type": "error", "code": "too_long", "client_id": client_id, "message": said})
            return None
        for limiter, key in ((self.per_visitor, address), (self.per_address, client_address(request))):
            wait = await limiter.take(key)
            if wait is not None:
                await ws.send_json(
                    _error_frame(
                        request,
                        "rate_limited",
                        "you are sending too fast",
                        client_id=client_id,
                        retry_after=round(wait, 1),
                    )
                )
                return None
        try:
            attachments = await self._attachments(address, data.get("attachments") or [])
            # After an agent merged the visitor's ticket into another of theirs, they go on
            # writing there (as an email reply to the old ticket does); into someone else's,
            # their next message opens a new ticket (see follows_merge).
            own = await self._own_latest_conversation(address)
            surviving = await self._surviving(own) if own is not None and own.merged_into else None
            if surviving is not None and own is not None and not follows_merge(own, surviving, address):
                surviving = None
            record = await self.hub.ingest(
                Inbound(
                    channel=self.name,
                    external_id=f"{address}:{client_id}",  # a resent frame is recognised, not stored twice
                    sender=Sender(
                        address=address,
                        display_name=token.get("n") or visitor_name(address),
                        email=token.get("e", ""),
                        verified=bool(token.get("e")),
                        language=request.query.get(LANG_PARAM, "")[:64],  # the widget's data-lang, or the browser's
                    ),
                    thread_key=address,
                    conversation_hint=surviving.id if surviving is not None else "",
                    text=text,
                    attachments=tuple(attachments),
                    choice_id=str(data.get("choice_id") or "") if data.get("type") == "choice" else "",
                )
            )
        except InvalidInbound as exc:
            await ws.send_json(_error_frame(request, "invalid", str(exc), client_id=client_id))
            return None
        except IngestUnavailable:
            await ws.send_json(
                _error_frame(
                    request,
                    "unavailable",
                    "we could not take your message just now; it will be resent",
                    client_id=client_id,
                )
            )
            return None
        conversation = record.conversation
        self._watch(address, conversation.id)
        payload = visitor_message_json(record.message)
        await ws.send_json(
            {"type": "ack", "client_id": client_id, "message": payload, "conversation": ticket_json(conversation)}
        )
        for other in self.sockets.get(address, set()) - {ws}:  # the same visitor's other tabs
            await _send(other, {"type": "message", "message": payload})
        # and their tabs open through other hub processes (not waited for: the ack is sent)
        _echoes.add(task := asyncio.create_task(self._echo_elsewhere(address, conversation.id, payload)))
        task.add_done_callback(_echoes.discard)
        return conversation.id

    async def _echo_elsewhere(self, address: str, conversation_id: str, payload: dict[str, Any]) -> None:
        with contextlib.suppress(StoreUnavailable):  # a tab elsewhere resumes the thread when it reconnects
            elsewhere = await self.hub.sockets_elsewhere(self._socket_key(address))
            if elsewhere:
                body = {
                    "address": address,
                    "conversation_id": conversation_id,
                    "frame": {"type": "message", "message": payload},
                }
                await self.hub.hand_over(elsewhere, self._handover_kind, body, timeout=self.handover_seconds)

    def _pass_on(self, elsewhere: list[str], body: dict[str, Any]) -> None:
        """To the visitor's tabs open through other hub processes, not waited for (the visitor
        saw it here: a process that died meanwhile must not hold the delivery up)."""
        handed = self.hub.hand_over(elsewhere, self._handover_kind, body, timeout=self.handover_seconds)
        _echoes.add(task := asyncio.ensure_future(handed))
        task.add_done_callback(_echoes.discard)

    async def _author_name(self, message: Message) -> str:
        """The name the visitor sees on an agent's reply: the agent's display name (never
        their email address); "" for others, whom the widget names itself (bot, system)."""
        if message.author_type is not AuthorType.AGENT or not message.author_id:
            return ""
        agent = await self.hub.reads.get_agent(message.author_id)
        return agent.name if agent is not None else ""

    async def _attachments(self, address: str, items: Any) -> list[Attachment]:
        """The visitor's own recent uploads, kept for good now; type and size from the bytes."""
        if not isinstance(items, list) or len(items) > 10:
            raise InvalidInbound("attachments must be a list of at most 10 uploads")
        attachments = []
        for item in items:
            ref = str(item.get("ref", "")) if isinstance(item, dict) else ""
            size = item.get("size", 0) if isinstance(item, dict) else 0
            if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 2**53:
                # the stored size comes from the bytes; a malformed frame is still refused as such
                raise InvalidInbound("an attachment's size must be a number of bytes")
            data = await self.uploads.claim(address, ref) if self.uploads else None
            if data is None:
                raise InvalidInbound("an attachment was not uploaded first, or its upload expired")
            content_type = detect_type(data)
            if content_type not in self.settings.attachment_types:
                raise InvalidInbound(f"files of type {content_type!r} are not accepted")
            attachments.append(
                Attachment(
                    name=name_for_type(file_name(str(item.get("name", ""))), content_type),
                    content_type=content_type,
                    size=len(data),
                    blob_ref=ref,
                )
            )
        return attachments

    # -- uploads, email, downloads ------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        """One file, held for this visitor only until they send it (or it expires).

        Its limit is `max_attachment_bytes`, not the hub's `max_body_bytes` (a multipart
        body is streamed, never read whole), enforced on the declared length and again on
        every chunk read."""
        visitor = await self.visitor_of(request.query.get("token", ""))
        self._site(visitor.site, request)
        for limiter, key in (
            (self.uploads_per_visitor, visitor.address),
            (self.uploads_per_address, client_address(request)),
        ):
            wait = await limiter.take(key or "?")
            if wait is not None:
                raise Refusal(429, "rate_limited", "too many uploads; try again later", retry_after=wait)
        limit = self.settings.max_attachment_bytes
        if request.content_length is not None and request.content_length > limit + 64 * 1024:
            return _error(413, "too_large", f"files are limited to {limit} bytes")
        if request.content_type != "multipart/form-data":
            return _error(400, "bad_request", "send the file as multipart/form-data")
        try:
            reader = await request.multipart()
            part = await reader.next()
        except ValueError as exc:  # no boundary, or not the one declared
            return _error(400, "bad_request", f"the multipart body is malformed: {exc}")
        if not isinstance(part, BodyPartReader) or part.name != "file":
            return _error(400, "bad_request", "send one multipart field named file")
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > limit:
                return _error(413, "too_large", f"files are limited to {limit} bytes")
        content_type = detect_type(bytes(data))  # what the bytes are, not what the browser says
        if content_type not in self.settings.attachment_types:
            return _error(415, "unsupported_type", f"files of type {content_type} are not accepted")
        assert self.uploads is not None  # set by start(), before any request is served
        ref = await self.uploads.put(visitor.address, bytes(data))
        name = name_for_type(file_name(part.filename or ""), content_type)
        return web.json_response({"ref": ref, "name": name, "content_type": content_type, "size": len(data)})

    async def _email(self, request: web.Request) -> web.Response:
        """The visitor leaves an address for answers by email: it is mailed one
        confirmation code (fixed text) and nothing else until the code comes back."""
        body = await _json_object(request)
        visitor = await self.visitor_of(str(body.get("token", "")))
        self._site(visitor.site, request)
        email = str(body.get("email", "")).strip().lower()
        if not EMAIL_ADDRESS.match(email):
            return _error(422, "invalid", "that is not an email address")
        contact = await self.hub.reads.find_identity_contact(self.name, visitor.address)
        # The visitor's own ticket, even when an agent merged it into another customer's: the
        # confirmation mail takes its subject and thread from it, never from that customer's.
        conversation = await self._own_latest_conversation(visitor.address)
        if contact is None or conversation is None:
            return _error(409, "no_conversation", "write your question first, then leave your address")
        now = time.time()
        claim = AddressClaim.from_json(await self.hub.get_state(self._email_key(visitor.address)))
        if claim is not None and claim.email == email and claim.confirmed:
            return web.json_response({"ok": True, "status": "confirmed"})
        if claim is not None and claim.awaiting(email, now):
            # mailed once, not again: said so (a trial waited for a second mail that never came)
            return web.json_response({"ok": True, "status": "confirmation_pending"})
        mailer = self._mailer()
        if mailer is None:
            return _error(409, "email_unavailable", "answers by email are not offered here")
        # Only a mail that was sent counts: every count taken here is given back when one
        # limit refuses or the mail cannot be sent.
        taken: list[tuple[RateLimit, str]] = []
        for limiter, key in (
            (self.email_per_visitor, visitor.address),
            (self.email_per_address, client_address(request)),
            (self.email_per_recipient, email),
        ):
            wait = await limiter.take(key)
            if wait is not None:
                await _give_back(taken)
                raise Refusal(429, "rate_limited", "too many addresses; try again later", retry_after=wait)
            taken.append((limiter, key))
        claim, code = new_claim(email, now)
        await self.hub.set_state(self._email_key(visitor.address), claim.to_json())
        confirmation = Message(
            id=new_id(),
            conversation_id=conversation.id,
            channel=self.settings.email_channel,
            direction=Direction.OUTBOUND,
            kind=MessageKind.MESSAGE,
            author_type=AuthorType.SYSTEM,
            raw={NO_STATUS_LINK: True},
            text=confirmation_mail(
                best_locale(contact.language) if contact.language else request_locale(request), code
            ),
        )
        try:
            await mailer.send(Outbound(confirmation, conversation, replace(contact, email=email), email))
        except (RetryableDeliveryError, PermanentDeliveryError) as exc:
            self.log.warning("the confirmation code for a visitor's address was not sent: %s", exc)
            await self.hub.set_state(self._email_key(visitor.address), None)
            await _give_back(taken)
            return _error(503, "unavailable", "we could not send the confirmation mail; try again later")
        return web.json_response({"ok": True, "status": "confirmation_sent"})

    async def _confirm_email(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        visitor = await self.visitor_of(str(body.get("token", "")))
        self._site(visitor.site, request)
        wait = await self.code_attempts.take(visitor.address)
        if wait is not None:
            raise Refusal(429, "rate_limited", "too many attempts; try again later", retry_after=wait)
        key = self._email_key(visitor.address)
        claim = AddressClaim.from_json(await self.hub.get_state(key))
        if claim is None:
            return _error(409, "no_address", "leave your address first")
        claim, outcome = try_code(claim, str(body.get("code", "")), time.time())
        await self.hub.set_state(key, claim.to_json())
        if outcome == "expired":
            return _error(410, "code_expired", "this code has expired; leave your address again for a new one")
        if outcome == "wrong":
            return _error(422, "wrong_code", "that code is not right")
        contact = await self.hub.reads.find_identity_contact(self.name, visitor.address)
        if contact is not None and contact.email != claim.email:
            await self.hub.set_contact_email(contact.id, claim.email)
        # the address, partly hidden: the banner says where replies go now (a trial's still asked for one)
        return web.json_response({"ok": True, "status": "confirmed", "email": shown_address(claim.email)})

    async def _remember_verified_email(self, address: str, email: str) -> None:
        """The site vouches for its signed-in user's email: it needs no code."""
        key = self._email_key(address)
        if AddressClaim.from_json(await self.hub.get_state(key)) != confirmed_claim(email.lower()):
            await self.hub.set_state(key, confirmed_claim(email.lower()).to_json())

    async def _confirmed_email(self, address: str) -> str:
        claim = AddressClaim.from_json(await self.hub.get_state(self._email_key(address)))
        return claim.email if claim is not None and claim.confirmed else ""

    def _mailer(self) -> Adapter | None:
        """The email channel's adapter, in this hub process (the confirmation is sent
        directly, never through the conversation, so the code is not shown in the chat)."""
        channel = self.settings.email_channel
        return self._hub.channel_adapter(channel) if channel and self._hub is not None else None

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        visitor = await self.visitor_of(request.query.get("token", ""))
        # A click on the widget's link is a navigation, which sends no Origin: a download
        # needs the visitor's token, and a script on a page the site did not allow is refused.
        if "Origin" in request.headers:
            self._site(visitor.site, request)
        ref = request.match_info["ref"]
        conversation = await self._history_of(await self._latest_conversation(visitor.address))
        messages = await self.hub.reads.list_messages(conversation.id) if conversation else []
        attachment = next(
            (a for m in messages if seen_by_customer(m, visitor.address) for a in m.attachments if a.blob_ref == ref),
            None,
        )
        blob = await self.hub.open_blob(ref) if attachment else None
        if attachment is None or blob is None:
            raise web.HTTPNotFound(text="no such attachment")
        # The type detected at upload; anything else this channel would not accept is opaque.
        content_type = attachment.content_type if attachment.content_type in self.settings.attachment_types else BINARY
        return await stream_blob(request, blob, download_headers(attachment.name, content_type))

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
        payload = {
            "type": "message",
            "message": visitor_message_json(out.message, await self._author_name(out.message)),
        }
        connected = list(self.sockets.get(out.address, ()))
        if connected:
            self._watch(out.address, out.conversation.id)
        for ws in connected:
            await _send(ws, payload)
        # A window open through another hub process: that one pushes it, and says so. Not
        # marked sent before it did: no answer is retried, and a process that died stops
        # counting once its beat lapses (`[storage] hub_lapse_seconds`): the visitor is then
        # away, or back through another process, which is asked instead.
        elsewhere = await self.hub.sockets_elsewhere(self._socket_key(out.address))
        if elsewhere:
            body = {"address": out.address, "conversation_id": out.conversation.id, "frame": payload}
            if connected:
                self._pass_on(elsewhere, body)
            elif not await self.hub.hand_over(elsewhere, self._handover_kind, body, timeout=self.handover_seconds):
                raise RetryableDeliveryError(
                    "the visitor's chat is open through another hub process, which did not confirm the reply"
                )
        # Only to an address its owner confirmed (or the site vouched for): a visitor may
        # type anyone's address, and neither replies nor bot messages go to a stranger.
        if (
            not connected
            and not elsewhere
            and out.contact.email
            and self.settings.email_channel
            and (confirmed := await self._confirmed_email(out.address)) == out.contact.email.lower()
        ):
            await self._also_by_email(out, confirmed)
        return Sent(external_id=out.message.id)

    async def _also_by_email(self, out: Outbound, confirmed: str) -> None:
        """The visitor left and gave an address: the reply goes by email too, in the same
        conversation, so their emailed answer comes back to it (threaded by Message-ID)."""
        # Deterministic (a retried delivery finds it) and sorting right after the original.
        copy_id = f"{int(out.message.id, 16) + 1:024x}"
        # Queued like any reply: the inboxes show it and the outbox sends it at once;
        # a retried delivery finds the copy made already. Addressed now, to the address the
        # visitor confirmed: the contact's email may change before it is sent (a merge keeps
        # the other person's verified one, an agent edits it).
        await self.hub.queue_copy(out.message, copy_id=copy_id, channel=self.settings.email_channel, to=confirmed)

    # -- several hub processes: which one holds the visitor's window ------------------------------
    @property
    def _handover_kind(self) -> str:
        return f"webchat:{self.name}"

    def _socket_key(self, address: str) -> str:
        return f"webchat:{self.name}:{address}"

    async def _hold(self, address: str) -> None:
        try:
            await self.hub.hold_socket(self._socket_key(address))
        except StoreUnavailable:
            self.log.warning("could not record where a visitor's window is open; renewed shortly")

    async def _release(self, address: str) -> None:
        if address not in self.sockets:  # not reopened meanwhile
            with contextlib.suppress(StoreUnavailable):  # else the hold lapses by itself
                await self.hub.release_socket(self._socket_key(address))

    async def _renew_holds(self) -> None:
        await asyncio.sleep(SOCKET_RENEW_SECONDS)
        for address in list(self.sockets):
            await self._hold(address)

    async def _reconnect_all(self) -> None:
        """This process's holds lapsed for a while: replies meanwhile were kept for visitors
        counted as away. Each window reconnects and resumes from the last message it showed."""
        windows = [ws for sockets in list(self.sockets.values()) for ws in sockets]
        await asyncio.gather(*(ws.close(code=SERVICE_RESTART, message=b"catch up") for ws in windows))

    async def _take_handover(self, body: dict[str, Any]) -> bool:
        """Another hub process's reply for a visitor whose window is open here: True once pushed."""
        address = str(body.get("address", ""))
        sockets = [ws for ws in self.sockets.get(address, ()) if not ws.closed]
        if not sockets:
            return False
        self._watch(address, str(body.get("conversation_id", "")))
        for ws in sockets:
            await _send(ws, body.get("frame") or {})
        return True

    def _watch(self, address: str, conversation_id: str) -> None:
        """The visitor's widget shows this ticket now: the one it showed before stops updating it."""
        if self.watching.get(address) != conversation_id:
            self._unwatch(address)
        self.watching[address] = conversation_id
        self.watchers[conversation_id].add(address)

    def _unwatch(self, address: str) -> None:
        conversation_id = self.watching.pop(address, None)
        if conversation_id is None:
            return
        visitors = self.watchers.get(conversation_id, set())
        visitors.discard(address)
        if not visitors:
            self.watchers.pop(conversation_id, None)

    async def _route_next(self, hub: HubPort, subscription: Subscription) -> None:
        """Pass the next live event on to the visitors watching its ticket."""
        event = await subscription.queue.get()
        visitors = self.watchers.get(event.conversation_id)
        if not visitors:
            return
        addresses = list(visitors)
        if event.type == "typing" and event.data.get("who") == "agent":
            frame: dict[str, Any] = {"type": "typing", "who": "agent"}
        elif event.type == "conversation.updated":
            updated = await hub.reads.get_conversation(event.conversation_id)
            if updated is None:
                return  # gone: the widget keeps showing the ticket it knows
            for address in addresses:
                # merged away: its visitors follow the surviving ticket when it is theirs
                shown = await self._followed(updated, address) or updated
                if shown.id != updated.id:
                    self._watch(address, shown.id)
                await self._push(address, {"type": "ticket", "conversation": ticket_json(shown)})
            return
        else:
            return
        for address in addresses:
            await self._push(address, frame)

    async def _push(self, address: str, frame: dict[str, Any]) -> None:
        for ws in list(self.sockets.get(address, ())):
            await _send(ws, frame)


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
        except Refusal as refusal:
            response = _error(refusal.status, refusal.code, refusal.message)
            if refusal.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, round(refusal.retry_after)))
        except web.HTTPException as exc:
            response = _error(exc.status, ERROR_CODES.get(exc.status, f"http_{exc.status}"), exc.text or exc.reason)
    if response.status >= 400 and request.body_exists and not request.content.is_eof():
        # Refused before its body was read (a bad token on /upload): answer and close now.
        # aiohttp would otherwise read (linger on) the unused body for up to 10 s, and a
        # client that sends its whole body before reading sees the refusal only then;
        # a timeout on the body ends that at once (as hub.server.body_deadline does).
        response.force_close()
        request.content.set_exception(TimeoutError())
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept-Language"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def ticket_json(conversation: Conversation | None) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {"number": conversation.number, "status": conversation.status.value}


def visitor_message_json(message: Message, author_name: str = "") -> dict[str, Any]:
    """A message as the widget shows it; `from` (visitor, agent, bot, system) sets its look
    and `author_name` names the agent who wrote it."""
    return {
        "id": message.id,
        "from": "visitor" if message.direction.value == "inbound" else message.author_type.value,
        "author_name": author_name,
        "text": message.text,
        "attachments": [
            {"ref": a.blob_ref, "name": a.name, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
        "choices": [{"id": c.id, "label": c.label} for c in message.choices],
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }


_releasing: set[asyncio.Task[None]] = set()  # holds of closed windows being released, kept until done
_echoes: set[asyncio.Future[Any]] = set()  # messages and replies on their way to the visitor's tabs on other hubs


async def _give_back(taken: list[tuple[RateLimit, str]]) -> None:
    """Uncount what was counted for an action that did not happen."""
    for limiter, key in taken:
        await limiter.give_back(key)


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


def _error_frame(request: web.Request, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """An error frame for the widget, its message in the visitor's language."""
    return {"type": "error", "code": code, **extra, "message": error_message(code, message, request_locale(request))}


def _invalid_text_frame(request: web.Request, raw: str) -> dict[str, Any]:
    """The frame is JSON, but its text cannot be kept (a lone surrogate): say so, naming the
    frame's client_id when it has a usable one, so the widget marks that message unsent
    instead of resending it for ever."""
    with contextlib.suppress(ValueError, RecursionError):
        data = json.loads(raw)
        client_id = data.get("client_id") if isinstance(data, dict) else None
        # ASCII, as the widget makes them: never itself the lone surrogate refused
        if isinstance(client_id, str) and 0 < len(client_id) <= 64 and client_id.isascii():
            return _error_frame(request, "invalid_text", INVALID_TEXT, client_id=client_id)
    return _error_frame(request, "invalid_text", INVALID_TEXT)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)
