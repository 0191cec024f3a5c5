"""Slack as a customer channel, on slack-sdk: people in a workspace write to the support
app in a DM or in a support channel; agents answer from the inbox.

Events arrive over the Events API (each request verified with slack-sdk's
SignatureVerifier: v0 signature and 5-minute window over the raw body) or over Socket
Mode. Either way a message is stored before Slack is acknowledged, and its (channel, ts)
is its idempotency key, so Slack's retries of one event store it once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from adapters.slack.text import mentioned_users, readable
from conversation.model import Attachment
from hub.sdk import (
    Adapter,
    ConfigError,
    HubPort,
    Inbound,
    IngestUnavailable,
    InvalidInbound,
    Outbound,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Sender,
    Sent,
    Texts,
    checked_type,
    hub_texts,
    logged_failure,
    parse_json,
    refused_response,
    setting,
    split_text,
)

# Errors saying the conversation itself is closed to the app: the agents are told in the thread.
UNREACHABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
LIMIT = 3900  # characters per message (Slack truncates long text; keep pieces readable)
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "account_inactive",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "msg_too_long",
    "no_text",
    "restricted_action",
}
PROFILE_TTL = 3600.0
# A lookup that failed (a deleted user, a rate limit, Slack down) is not tried again for a
# minute: every message naming them would wait on it again before Slack's 3 s for an answer.
FAILED_PROFILE_TTL = 60.0
MAX_NAMED_MENTIONS = 5  # users.info lookups one message may cause; others keep their id
SLACK_FILE_HOSTS = ("https://files.slack.com",)  # where url_private points; the bot token is sent nowhere else
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
MAX_REDIRECTS = 3
CHUNK = 64 * 1024


def escape(text: str) -> str:
    """Slack's escaping for message text: &, < and > (so no one can @channel or link by accident)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackAdapter(Adapter):
    shows_choices = True  # a plugin's question comes with buttons

    @dataclass(frozen=True)
    class Settings:
        bot_token: str = setting(str, help="the app's bot token, xoxb-... (or env:NAME)", secret=True)
        mode: str = setting(str, "events", "events (HTTP) or socket (Socket Mode)", choices=("events", "socket"))
        signing_secret: str = setting(str, "", "verifies Events API and interaction requests", secret=True)
        app_token: str = setting(str, "", "xapp-... token for Socket Mode", secret=True)
        channels: tuple[str, ...] = setting(
            list, [], "channel ids whose messages are support requests (DMs always are)"
        )
        api_base_url: str = setting(str, "https://slack.com/api/", "Web API base, e.g. for GovSlack")
        max_file_bytes: int = setting(int, 20 * 1024 * 1024, "largest shared file kept", minimum=1)
        file_hosts: tuple[str, ...] = setting(
            list, list(SLACK_FILE_HOSTS), "origins files are fetched from with the bot token (https; http on loopback)"
        )

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Settings) -> None:
        if settings.mode == "events" and not settings.signing_secret:
            raise ConfigError(f"{prefix}.signing_secret: missing secret (mode is events)")
        if settings.mode == "socket" and not settings.app_token:
            raise ConfigError(f"{prefix}.app_token: missing secret (mode is socket)")
        for origin in settings.file_hosts:
            if not isinstance(origin, str) or not _is_trusted_origin(origin):
                raise ConfigError(
                    f"{prefix}.file_hosts: {origin!r} is not an https origin such as 'https://files.slack.com'"
                    " (plain http is allowed on loopback only)"
                )

    def __init__(self, name: str, settings: Settings, *, clock: Clock | None = None) -> None:
        super().__init__(name, settings)
        base = settings.api_base_url.rstrip("/") + "/"
        self.client = AsyncWebClient(token=settings.bot_token, base_url=base)
        self.verifier = (
            SignatureVerifier(settings.signing_secret, **({"clock": clock} if clock else {}))
            if settings.signing_secret
            else None  # Socket Mode only: the HTTP endpoints verify nothing, so they take nothing
        )
        self.channels = set(settings.channels)
        self.bot_user_id = ""
        self.team_id = ""
        self._profiles: dict[str, tuple[float, str, str]] = {}  # user -> (fetched at, name, email)
        self._locales: dict[str, str] = {}  # user -> users.info locale
        self._hub: HubPort | None = None
        self._socket: SocketModeClient | None = None
        self._unsupported_logged: set[str] = set()
        self.file_origins = {origin.rstrip("/").lower() for origin in settings.file_hosts}
        self._http: aiohttp.ClientSession | None = None  # one for the adapter's life: file downloads

    @property
    def hub(self) -> HubPort:
        if self._hub is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self._hub

    # -- lifecycle -------------------------------------------------------------------
    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/events", self._events)
        app.router.add_post("/interactions", self._interactions)
        return app

    async def start(self, hub: HubPort) -> None:
        self._hub = hub
        try:
            identity = await self.client.auth_test()  # raises while Slack is unreachable (the hub retries)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if hasattr(exc.response, "get") else ""
            if error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
                raise PermissionError(
                    f"Slack rejected the bot token ({error}): check channels.{self.name}.bot_token"
                ) from None
            raise
        self.bot_user_id = str(identity.get("user_id", ""))
        self.team_id = str(identity.get("team_id", ""))
        if self.settings.mode == "socket":
            if self._socket is not None:  # an earlier start that got this far: one connection only
                with logged_failure(self.log, "closing the earlier Socket Mode connection"):
                    await self._socket.close()
            self._socket = SocketModeClient(app_token=self.settings.app_token, web_client=self.client)
            self._socket.socket_mode_request_listeners.append(self._socket_request)
            await self._socket.connect()

    async def stop(self) -> None:
        if self._socket is not None:
            with logged_failure(self.log, "closing the Socket Mode connection"):
                await self._socket.close()
        if self._http is not None:
            await self._http.close()

    # -- inbound: HTTP ---------------------------------------------------------------
    def _verified(self, request: web.Request, body: bytes) -> bool:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        # slack_sdk int()s the timestamp and compares text: "abc", 5,000 digits or "ü" would raise, not refuse.
        if self.verifier is None or not re.fullmatch(r"[0-9]{1,12}", timestamp) or not signature.isascii():
            return False
        return self.verifier.is_valid(body, timestamp, signature)

    async def _events(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self._verified(request, body):
            return refused_response(self._hub, self.name, 401, "bad_signature", "signature or timestamp invalid")
        try:
            payload = parse_json(body)
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            return refused_response(self._hub, self.name, 400, "malformed", str(exc), error="invalid_event")
        if payload.get("type") == "url_verification":
            return web.json_response({"challenge": payload.get("challenge", "")})
        try:
            await self.handle(self.process_event, payload, "event")
        except IngestUnavailable:
            return web.json_response({"error": "unavailable", "message": "retry"}, status=503)
        return web.json_response({"ok": True})  # also for what was ignored: Slack must not resend it

    async def _interactions(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self._verified(request, body):
            return refused_response(self._hub, self.name, 401, "bad_signature", "signature or timestamp invalid")
        try:
            payload = parse_json(parse_qs(body.decode())["payload"][0])
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            return refused_response(self._hub, self.name, 400, "malformed", str(exc), error="invalid_payload")
        try:
            await self.handle(self.process_interaction, payload, "interaction")
        except IngestUnavailable:
            return web.json_response({"error": "unavailable", "message": "retry"}, status=503)
        return web.Response(status=200)

    # -- inbound: Socket Mode ---------------------------------------------------------
    async def _socket_request(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        try:
            if request.type == "events_api":
                await self.handle(self.process_event, request.payload, "event")
            elif request.type == "interactive":
                await self.handle(self.process_interaction, request.payload, "interaction")
        except IngestUnavailable:
            return  # no ack: Slack delivers it again
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    # -- events into messages --------------------------------------------------------------
    async def handle(self, process: Callable[[dict[str, Any]], Awaitable[None]], payload: Any, what: str) -> None:
        """Store one event or acknowledge it as ignored; only IngestUnavailable escapes (Slack retries)."""
        try:
            if not isinstance(payload, dict):
                raise InvalidInbound(f"the {what} is not a JSON object")
            await process(payload)
        except (IngestUnavailable, web.HTTPException):  # retry later (the hub is not ready or the store is down)
            raise
        except (InvalidInbound, ValueError, KeyError, TypeError, AttributeError) as exc:
            kind = _kind_of(payload)
            self._ignore(f"invalid/{kind}", f"{what} {kind} not stored: {exc.__class__.__name__}: {exc}")
        except Exception:  # a bug or a shape this version cannot read: it must not block the rest
            kind = _kind_of(payload)
            self.log.exception("%s %s could not be processed; skipped", what, kind)
            self._ignore(f"error/{kind}", "")

    async def process_event(self, payload: dict[str, Any]) -> None:
        if payload.get("type") != "event_callback":
            self._ignore(str(payload.get("type")))
            return
        event = payload["event"]
        team = str(payload.get("team_id") or self.team_id)
        if event.get("type") != "message":
            self._ignore(str(event.get("type")))
            return
        subtype = event.get("subtype")
        channel = str(event["channel"])
        if event.get("channel_type") != "im" and channel not in self.channels:
            self._not_a_support_channel(channel, str(event.get("channel_type") or ""))
            return
        if subtype == "message_changed":
            changed = event.get("message")
            if not isinstance(changed, dict) or not changed.get("ts") or changed.get("bot_id"):
                self._ignore("message/message_changed/unknown_shape")
                return
            if not await self.hub.record_edit(
                self.name, f"{channel}:{changed['ts']}", text=await self._readable(str(changed.get("text", "")))
            ):
                self._ignore("message/message_changed/unknown_message")
            return
        if subtype == "message_deleted":
            deleted = event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
            if not deleted or not await self.hub.record_edit(
                self.name, f"{channel}:{deleted}", text=None, deleted=True
            ):
                self._ignore("message/message_deleted/unknown_message")
            return
        if subtype not in (None, "file_share", "thread_broadcast"):
            self._ignore(f"message/{subtype}")
            return
        user = event.get("user")
        if not isinstance(user, str) or not user or event.get("bot_id") or user == self.bot_user_id:
            self._ignore("message/from_a_bot")
            return  # our own and other bots' messages
        if event.get("channel_type") == "im":
            thread_key = f"{team}:{channel}"  # one ticket per DM until it is resolved
        else:
            thread_key = f"{team}:{channel}:{event.get('thread_ts') or event['ts']}"
        name, email = await self._profile(user)
        files = [f for f in event.get("files") or [] if isinstance(f, dict)]
        external_id = f"{channel}:{event['ts']}"
        if files and await self.hub.reads.find_inbound(self.name, external_id) is not None:
            files = []  # Slack's retry of a message stored with its files: not fetched again (ingest counts it)
        attachments, not_kept = await self._files(files)  # what is not kept is named in the text
        text = "\n".join([await self._readable(str(event.get("text") or "")), *not_kept])
        if not text.strip() and not attachments:
            text = _fallback_text(event, self._said)
        if not text.strip() and not attachments:
            self._ignore("message/empty")
            return
        await self.hub.ingest(
            Inbound(
                channel=self.name,
                external_id=external_id,
                sender=self._sender(team, user, name, email),
                thread_key=thread_key,
                text=text.strip(),
                attachments=tuple(attachments),
                raw={"event_id": payload.get("event_id"), "channel": channel, "ts": event["ts"]},
            )
        )

    def _sender(self, team: str, user: str, name: str, email: str) -> Sender:
        """A workspace member; Slack confirmed the email users.info gives (so it is verified)."""
        return Sender(
            address=f"{team}:{user}",
            display_name=name,
            email=email,
            verified=bool(email),
            language=self._locales.get(user, ""),
        )

    async def process_interaction(self, payload: dict[str, Any]) -> None:
        if payload.get("type") != "block_actions" or not payload.get("actions"):
            self._ignore(f"interaction/{payload.get('type')}")
            return
        action = payload["actions"][0]
        user = payload["user"]["id"]
        team = str((payload.get("team") or {}).get("id") or self.team_id)
        channel = str(
            (payload.get("channel") or payload.get("container") or {}).get("id") or payload["container"]["channel_id"]
        )
        message = payload.get("message") or {}
        in_thread = message.get("thread_ts")
        thread_key = f"{team}:{channel}:{in_thread}" if in_thread and channel in self.channels else f"{team}:{channel}"
        name, email = await self._profile(user)
        await self.hub.ingest(
            Inbound(
                channel=self.name,
                external_id=f"action:{action.get('action_ts') or payload.get('trigger_id')}",
                sender=self._sender(team, user, name, email),
                thread_key=thread_key,
                text=str((action.get("text") or {}).get("text") or action.get("value", "")),
                choice_id=str(action.get("value", "")),
            )
        )

    def _not_a_support_channel(self, channel: str, channel_type: str) -> None:
        """A message where the app is a member but that is not listed in `channels` (another
        channel, a group DM): acknowledged, counted, and said once per channel, so a mistyped
        id in `channels` shows in the log and in /metrics instead of customers going unheard."""
        group_dm = channel_type == "mpim"
        if self._hub is not None:
            self._hub.note_ignored(self.name, "message/group_dm" if group_dm else "message/not_a_support_channel")
        if channel in self._unsupported_logged:
            return
        self._unsupported_logged.add(channel)
        if group_dm:
            self.log.warning(
                "ignoring messages in the group DM %s: only direct messages to the app and "
                "channels.%s.channels become tickets",
                channel,
                self.name,
            )
        else:
            self.log.warning(
                "ignoring messages in %s: not in channels.%s.channels (%s); add it there to take them as tickets",
                channel,
                self.name,
                ", ".join(sorted(self.channels)) or "none listed",
            )

    def _ignore(self, kind: str, message: str = "") -> None:
        if self._hub is not None:
            self._hub.note_ignored(self.name, kind)
        if kind not in self._unsupported_logged:  # acknowledged, counted, and said once
            self._unsupported_logged.add(kind)
            self.log.info("%s", message or f"ignoring {kind} events: not supported")

    async def _readable(self, text: str) -> str:
        """The text as Slack shows it, people mentioned by their display names (users.info,
        cached; a few at most, so a message naming many costs no more than a few lookups)."""
        users = mentioned_users(text)[:MAX_NAMED_MENTIONS]
        profiles = await asyncio.gather(*(self._profile(user) for user in users))  # at once, not one by one
        return readable(text, {user: name for user, (name, _email) in zip(users, profiles, strict=True)})

    async def _profile(self, user: str) -> tuple[str, str]:
        """Display name and email from users.info, cached for an hour."""
        cached = self._profiles.get(user)
        if cached and time.monotonic() - cached[0] < (PROFILE_TTL if cached[1] else FAILED_PROFILE_TTL):
            return cached[1], cached[2]
        try:
            info = (await self.client.users_info(user=user, include_locale=True))["user"]
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            self.log.warning("users.info for %s failed: %s", user, exc)
            self._profiles[user] = (time.monotonic(), "", "")
            return "", ""
        profile = info.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or info.get("real_name") or info.get("name", "")
        email = profile.get("email", "")  # only with the users:read.email scope
        self._profiles[user] = (time.monotonic(), name, email)
        self._locales[user] = info.get("locale") or ""  # e.g. zh-CN: the customer's language
        return name, email

    async def _files(self, files: list[dict[str, Any]]) -> tuple[list[Attachment], list[str]]:
        """Shared files, fetched with the bot token from Slack's own file hosts only; what is
        not fetched is named in the message, so the agent knows it was there."""
        attachments: list[Attachment] = []
        not_kept: list[str] = []
        for file in files:
            name = str(file.get("name") or file.get("title") or "file")[:200]
            url = str(file.get("url_private_download") or file.get("url_private") or "")
            if file.get("is_external") or file.get("mode") == "external":
                not_kept.append(self._not_kept(name, self._said.get("placeholder.external_file")))
                continue
            if not url:  # deleted ("tombstone") or hidden by the workspace's plan
                not_kept.append(self._not_kept(name, self._said.get("placeholder.no_download_link")))
                continue
            size = file.get("size", 0)
            if not isinstance(size, int) or size > self.settings.max_file_bytes:
                too_large = self._said.get("placeholder.over_limit", kib=self.settings.max_file_bytes // 1024)
                not_kept.append(self._not_kept(name, too_large))
                continue
            try:
                data = await self._download(url)
            except FileRefused as exc:
                self.log.warning("file %s not kept: %s", file.get("id", ""), exc)
                not_kept.append(self._not_kept(name, str(exc)))
                continue
            ref = await self.hub.put_blob(data)
            content_type = checked_type(str(file.get("mimetype") or ""), data, name)  # the bytes, not Slack's word
            attachments.append(Attachment(name=name, content_type=content_type, size=len(data), blob_ref=ref))
        return attachments, not_kept

    async def _download(self, url: str) -> bytes:
        """The whole body, read in chunks against a running cap; redirects only between trusted hosts."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, sock_read=20))
        limit = self.settings.max_file_bytes
        for _hop in range(MAX_REDIRECTS + 1):
            if not self._trusted(url):
                raise FileRefused("not on Slack's file host")  # the bot token goes nowhere else
            try:
                async with self._http.get(
                    url, headers={"Authorization": f"Bearer {self.settings.bot_token}"}, allow_redirects=False
                ) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                        url = str(resp.url.join(URL(resp.headers["Location"])))
                        continue
                    if resp.status != 200:
                        raise FileRefused(f"download failed: HTTP {resp.status}")
                    if (resp.content_length or 0) > limit:
                        raise FileRefused(self._said.get("placeholder.over_limit", kib=limit // 1024))
                    data = bytearray()
                    async for chunk in resp.content.iter_chunked(CHUNK):
                        data += chunk
                        if len(data) > limit:
                            raise FileRefused(self._said.get("placeholder.over_limit", kib=limit // 1024))
                    return bytes(data)
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise FileRefused(f"download failed: {exc.__class__.__name__}") from exc
        raise FileRefused("download failed: too many redirects")

    @property
    def _said(self) -> Texts:
        """The hub's language: what the agents read in place of what is not text."""
        return hub_texts(self.hub.language)

    def _not_kept(self, name: str, why: str) -> str:
        return self._said.get("placeholder.file_not_kept", name=name, reason=why)

    def _trusted(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower() in self.file_origins

    # -- outbound ---------------------------------------------------------------------------
    def shared_thread(self, thread_key: str) -> bool:
        # "team:channel" is a direct message; "team:channel:ts" a thread in a channel its members read.
        return thread_key.count(":") >= 2

    async def send(self, out: Outbound) -> Sent:
        parts = out.conversation.thread_key.split(":")
        if len(parts) < 2:
            raise PermanentDeliveryError(f"not a Slack conversation: {out.conversation.thread_key}")
        channel = parts[1]
        thread_ts = parts[2] if len(parts) > 2 else None  # replies in a channel go into the thread
        pieces = split_text(escape(out.message.text), LIMIT) or [""]
        try:
            ts = ""
            for index, piece in enumerate(pieces):
                if index < out.parts_sent:
                    continue  # delivered by an earlier attempt: never twice
                last = index == len(pieces) - 1
                blocks = _choice_blocks(piece, out) if last and out.message.choices else None
                answer = await self.client.chat_postMessage(
                    channel=channel, text=piece, thread_ts=thread_ts, blocks=blocks
                )
                ts = str(answer.get("ts", ""))
                if len(pieces) > 1:
                    await out.part_delivered(index + 1)
        except SlackApiError as exc:
            error = _delivery_error(exc)
            if str(error) in UNREACHABLE:
                await self._note_unreachable(out, str(error))
            raise error from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryableDeliveryError(f"{exc.__class__.__name__}: {exc}") from exc
        return Sent(external_id=ts)

    async def _note_unreachable(self, out: Outbound, error: str) -> None:
        """Say it in the thread, as Telegram's "blocked" is: beside the failed reply, why no
        reply will reach the customer in this conversation until the app is let back in."""
        with logged_failure(self.log, f"recording that Slack refuses replies on {out.conversation.id}"):
            # once per ticket and error: every reply after it (a bot's too) fails the same way
            once = f"slack-unreachable:{out.conversation.id}:{error}"
            await self.hub.post_event(out.conversation.id, "event.slack_unreachable", {"reason": error}, once=once)


def _choice_blocks(text: str, out: Outbound) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}},
        {
            "type": "actions",
            "block_id": f"helpline-{out.message.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"choice-{i}",
                    "value": choice.id[:2000],
                    "text": {"type": "plain_text", "text": choice.label[:75], "emoji": True},
                }
                for i, choice in enumerate(out.message.choices[:25])
            ],
        },
    ]


def _delivery_error(exc: SlackApiError) -> Exception:
    response = exc.response
    status = getattr(response, "status_code", 200)
    error = str(response.get("error", "")) if hasattr(response, "get") else ""
    if status == 429:
        retry_after = float(response.headers.get("Retry-After", response.headers.get("retry-after", 1)))
        return RetryableDeliveryError(f"429 rate limited: retry after {retry_after:g}s", retry_after=retry_after)
    if status >= 500:
        return RetryableDeliveryError(f"{status} from Slack")
    if error in PERMANENT or status < 500:
        return PermanentDeliveryError(error or f"{status} from Slack")
    return RetryableDeliveryError(error)


class FileRefused(Exception):
    """A shared file is not fetched; the message says why."""


def _is_trusted_origin(origin: str) -> bool:
    """An https origin (scheme://host[:port], nothing else), or http on loopback for local fakes."""
    parts = urlsplit(origin.rstrip("/"))
    if parts.path or parts.query or parts.fragment or parts.username or not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def _kind_of(payload: Any) -> str:
    if not isinstance(payload, dict):
        return "not_an_object"
    event = payload.get("event")
    if isinstance(event, dict):
        return "/".join(str(p) for p in (event.get("type"), event.get("subtype")) if p) or "unknown"
    return str(payload.get("type") or "unknown")


def _fallback_text(event: dict[str, Any], said: Texts) -> str:
    """What a message without text of its own shows: its attachments' fallbacks, or what it is."""
    fallbacks = [
        str(a.get("fallback") or a.get("text") or "")
        for a in event.get("attachments") or []
        if isinstance(a, dict) and (a.get("fallback") or a.get("text"))
    ]
    if fallbacks:
        return readable("\n".join(fallbacks))
    if event.get("subtype") == "file_share" or event.get("files"):
        return said.get("placeholder.shared_a_file")
    if event.get("blocks"):
        return said.get("placeholder.blocks_only")
    return ""
