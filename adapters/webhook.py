"""A generic signed-JSON channel: a platform's own backend posts customer messages in,
and Helpline posts replies back to the platform's callback URL.

Both directions are signed the same way, as Slack signs its events: the header
`X-Helpline-Signature: v1=<hex>` is HMAC-SHA256 over `v1:<timestamp>:<raw body>` with
the channel's secret, and `X-Helpline-Timestamp` must be within `max_skew_seconds`
of now, so a captured request cannot be replayed later.

Inbound: POST /channels/<name>/messages with
    {"id": "msg-1", "sender": {"id": "user-7", "name": "Li Na", "email": "...", "email_verified": false,
                               "tier": "vip"},
     "thread": "order-5531", "text": "...", "subject": "...", "choice": "..."}
"thread" defaults to the sender's id (one running conversation per person). A thread belongs
to the sender who started it: another sender naming it gets a conversation of their own
(thread "<thread>~<their id>", or a key only they reach when a third sender named that one
first: routing.own_thread), never joins that one. Identifiers with control characters are
refused: one taken out would name another sender or thread. The email is
a claim unless the platform sets "email_verified": true (it confirmed the address itself);
only a verified email joins the sender to a contact known on another channel. "tier" is the
customer's tier on the platform: it replaces the contact's, and `[desk] tier_priorities` gives
their new tickets at least the priority it names.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from conversation.codec import choices_to_list
from conversation.errors import InvalidInput
from conversation.inbound import EMAIL_ADDRESS, MAX_NAME_CHARS, NOT_IN_IDENTIFIERS
from conversation.routing import shown_thread
from hub.sdk import (  # noqa: F401  (sign, signed_headers, SIGNATURE: what senders and tests use)
    MIN_GENERATED_SECRET,
    SIGNATURE,
    TIMESTAMP,
    Adapter,
    BadSignature,
    ConfigError,
    HubPort,
    Inbound,
    InboundLimits,
    InvalidInbound,
    InvalidJson,
    MalformedTimestamp,
    Outbound,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Sender,
    Sent,
    canonical_tag,
    check_signature,
    client_address,
    ingest_response,
    parse_json,
    refused_response,
    setting,
    sign,
    signed_headers,
)


class SignatureError(Exception):
    pass


class MalformedHeader(InvalidJson):
    """A signing header is present but cannot be what a sender computes: 400, not 401."""


def verify(secret: str, headers: Any, body: bytes, *, max_skew: float, clock: Callable[[], float]) -> None:
    try:
        check_signature(secret, headers, body, now=clock(), max_skew=max_skew)
    except MalformedTimestamp as exc:
        raise MalformedHeader(str(exc)) from None
    except BadSignature as exc:
        raise SignatureError(str(exc)) from None


# The hub checks every channel's message again (conversation/inbound.py), in its own field
# names; these checks come first so a refusal names the field as the sender wrote it.
MAX_KEY_CHARS = InboundLimits().max_key_chars


def _text(payload: dict[str, Any], key: str, *, where: str = "", required: bool = False) -> str:
    """The string at `key`; `where` is the object's path in the body ("sender."). An optional
    field sent as null is left out (many backends write null for "none")."""
    value = payload.get(key, "")
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInbound(f"{where}{key} must be a string")
    if required and not value.strip():
        raise InvalidInbound(f"{where}{key} is required")
    return value


def _key(payload: dict[str, Any], key: str, *, where: str = "", required: bool = False) -> str:
    """An identifier (message id, thread, sender id): a string of at most MAX_KEY_CHARS."""
    value = _text(payload, key, where=where, required=required)
    if len(value) > MAX_KEY_CHARS:
        raise InvalidInbound(f"{where}{key} is longer than {MAX_KEY_CHARS} characters")
    # Refused, not taken out: "user-7\x00" cleaned to "user-7" would write as user-7.
    if NOT_IN_IDENTIFIERS.search(value):
        raise InvalidInbound(f"{where}{key} must not contain control or invisible characters")
    return value


def _email_verified(sender: dict[str, Any]) -> bool:
    """The platform vouches that the sender proved this email (it signed the request; only
    it knows whether a guest typed the address or a user confirmed it). Default: a claim."""
    value = sender.get("email_verified")
    value = False if value is None else value  # null: not vouched for, as when left out
    if not isinstance(value, bool):
        raise InvalidInbound("sender.email_verified must be true or false")
    return value and bool(_text(sender, "email", where="sender.").strip())


def _name(sender: dict[str, Any]) -> str:
    name = _text(sender, "name", where="sender.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInbound(f"sender.name is longer than {MAX_NAME_CHARS} characters")
    return name


def _email(sender: dict[str, Any]) -> str:
    """A claimed (or, with email_verified, vouched) address: refused when it is none, rather
    than kept where replies, threading and the contact card would read it."""
    email = _text(sender, "email", where="sender.").strip()
    if email and not EMAIL_ADDRESS.match(email):
        raise InvalidInbound("sender.email must be a mail address like li@example.com")
    return email


def _language(sender: dict[str, Any]) -> str:
    """The sender's language as the platform knows it (a BCP 47 tag); bots answer in it."""
    language = _text(sender, "language", where="sender.")
    if language and not canonical_tag(language):
        raise InvalidInbound("sender.language must be a language tag like en or zh-CN")
    return language


def _thread(payload: dict[str, Any], sender_id: str) -> str:
    """The conversation this continues: "thread", or by default the sender's id."""
    thread = _key(payload, "thread")
    if thread and not thread.strip():
        raise InvalidInbound("thread must not be blank (leave it out for one conversation per sender)")
    return thread or sender_id


# "metadata": the platform's own fields (an order id, the app's version), kept with the message
MESSAGE_FIELDS = ("id", "sender", "thread", "text", "subject", "choice", "sent_at", "metadata")
SENDER_FIELDS = ("id", "name", "email", "email_verified", "language", "tier")


def _known_fields(payload: dict[str, Any], known: tuple[str, ...], where: str = "") -> None:
    """A field this channel does not read is refused, not dropped: a misspelt "threadd" put the
    message in the sender's default thread, and "attachments" lost the customer's file, each
    answered 200 (a trial)."""
    unknown = sorted(set(payload) - set(known))
    if "attachments" in unknown and not where:
        raise InvalidInbound("attachments: this channel takes no files; put a link to the file in text")
    if unknown:
        raise InvalidInbound(f"{where}{unknown[0]}: unknown field (known: {', '.join(known)})")


def parse_message(channel: str, payload: Any) -> Inbound:
    if not isinstance(payload, dict):
        raise InvalidInbound("the body must be a JSON object")
    _known_fields(payload, MESSAGE_FIELDS)
    sender = payload.get("sender")
    if not isinstance(sender, dict):
        raise InvalidInbound("sender must be an object with an id")
    _known_fields(sender, SENDER_FIELDS, "sender.")
    sender_id = _key(sender, "id", where="sender.", required=True)
    sent_at = _text(payload, "sent_at")
    if payload.get("metadata") is None:
        payload = {k: v for k, v in payload.items() if k != "metadata"}  # null: left out, as for every field
    elif not isinstance(payload["metadata"], dict):
        raise InvalidInbound("metadata must be an object (your platform's own fields)")
    inbound = Inbound(
        channel=channel,
        external_id=_key(payload, "id", required=True),
        sender=Sender(
            address=sender_id,
            display_name=_name(sender),
            email=_email(sender),
            verified=_email_verified(sender),
            language=_language(sender),
            tier=_text(sender, "tier", where="sender."),  # the customer's tier on the platform ([desk] tier_priorities)
        ),
        thread_key=_thread(payload, sender_id),
        text=_text(payload, "text"),
        subject=_text(payload, "subject"),
        choice_id=_text(payload, "choice"),
        own_threads=True,  # a thread is its sender's: another user naming it gets one of their own
        raw=payload,
    )
    if sent_at:
        try:
            moment = datetime.fromisoformat(sent_at)
        except ValueError:
            raise InvalidInbound("sent_at must be an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise InvalidInbound("sent_at needs a UTC offset")
        inbound = replace(inbound, sent_at=moment)
    return inbound


class WebhookAdapter(Adapter):
    shows_choices = True  # a plugin's question comes with buttons
    receives_files = False  # "attachments" is refused: put a link in the text

    @dataclass(frozen=True)
    class Settings:
        secret: str = setting(
            str, help="shared HMAC secret (or env:NAME)", secret=True, min_length=MIN_GENERATED_SECRET
        )
        callback_url: str = setting(str, "", "where replies are POSTed; empty: this channel only receives")
        max_skew_seconds: int = setting(int, 300, "how old a signed request may be", minimum=1)
        buttons: bool = setting(
            bool,
            True,
            "the platform's app shows a question's choices as buttons; false: they come as a numbered"
            " list in the text, and the customer's typed number answers",
        )

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Settings) -> None:
        url = settings.callback_url
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{prefix}.callback_url: must be an http:// or https:// URL, not {url!r}")

    def __init__(self, name: str, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name, settings)
        self.shows_choices = settings.buttons  # per channel: the platform's app decides
        self.clock = clock
        self._hub: HubPort | None = None
        self._session: aiohttp.ClientSession | None = None

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/messages", self._receive)
        return app

    async def start(self, hub: HubPort) -> None:
        self._hub = hub
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()  # over the hub's max_body_bytes: 413 before we get here
        try:
            verify(
                self.settings.secret,
                request.headers,
                body,
                max_skew=self.settings.max_skew_seconds,
                clock=self.clock,
            )
        except SignatureError as exc:
            self.log.warning("rejected a request from %s: %s", client_address(request), exc)
            return refused_response(self._hub, self.name, 401, "bad_signature", str(exc))
        except MalformedHeader as exc:
            return refused_response(self._hub, self.name, 400, "bad_header", str(exc))
        try:
            data = parse_json(body)
        except InvalidJson as exc:
            return refused_response(self._hub, self.name, 400, "malformed", str(exc), error="invalid_message")
        try:
            inbound = parse_message(self.name, data)
        except InvalidInput as exc:  # a field parse_message refuses
            if self._hub is not None:
                self._hub.note_rejected(self.name)
            return web.json_response({"error": "invalid_message", "message": str(exc)}, status=400)
        if self._hub is None:
            return web.json_response({"error": "unavailable", "message": "starting"}, status=503)
        return await ingest_response(self._hub, inbound, ids_per_sender=True)

    @property
    def sends_replies(self) -> bool:  # type: ignore[override]
        """Without a callback_url the channel only receives: a reply is refused at once and a
        bot's words become notes for the agents (a trial: each failed, and reopened its ticket)."""
        return bool(self.settings.callback_url)

    async def send(self, out: Outbound) -> Sent:
        url = self.settings.callback_url
        if not url:
            raise PermanentDeliveryError(
                f"channel {self.name} has no callback_url: it cannot send replies", code="no_callback_url"
            )
        assert self._session is not None, "send() before start()"
        body = json.dumps(
            {
                "ticket": out.conversation.number,
                "conversation_id": out.conversation.id,
                "thread": shown_thread(out.conversation.thread_key),
                "to": out.address,
                "message": {
                    "id": out.message.id,
                    "text": out.message.text,
                    "choices": choices_to_list(out.message.choices),
                    "author": out.message.author_type.value,
                    # a reply waiting for its retry does not hold the later ones back: this
                    # puts them in order again where that matters (a trial got R1 after R3)
                    "created_at": out.message.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                },
            },
            ensure_ascii=False,
        ).encode()
        try:
            async with self._session.post(url, data=body, headers=signed_headers(self.settings.secret, body)) as resp:
                text = await resp.text()
                if resp.status == 429 or resp.status >= 500:
                    raise RetryableDeliveryError(f"{resp.status}: {text[:200]}", retry_after=_retry_after(resp))
                if resp.status >= 400:
                    raise PermanentDeliveryError(f"{resp.status}: {text[:200]}")
                try:
                    answer = parse_json(text) if text else {}
                except ValueError:
                    answer = {}
                return Sent(external_id=str(answer.get("id", "")) if isinstance(answer, dict) else "")
        except aiohttp.ClientError as exc:
            raise RetryableDeliveryError(f"{exc.__class__.__name__}: {exc}") from exc


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    value = resp.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
