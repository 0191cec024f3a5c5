"""The Telegram channel, on python-telegram-bot (v22).

Updates come by webhook (verified by the secret-token header, in constant time) or by
long polling (the offset is stored and advanced only after the updates are stored, so a
crash re-reads rather than drops; one hub polls, holding a lease). Each update is handed
to the first handler whose `check` accepts it, in the order of HANDLERS, the way PTB's
own handlers are chosen; replies go out through the real `telegram.Bot`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from conversation.model import Attachment, AuthorType, Direction, MessageKind, new_id
from conversation.model import Message as Message_
from hub.events import Event
from hub.sdk import (
    MIN_GENERATED_SECRET,
    Adapter,
    ConfigError,
    Field,
    HubPort,
    Inbound,
    IngestUnavailable,
    InvalidInbound,
    Outbound,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Sender,
    Sent,
    split_text,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts as secret_token
LIMIT = 4096  # characters in one Telegram message
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


@dataclass(frozen=True)
class UpdateHandler:
    """PTB's contract in small: `check` decides, `handle` acts."""

    check: Callable[[Update], bool]
    handle: Callable[[TelegramAdapter, Update], Awaitable[None]]


class TelegramAdapter(Adapter):
    sends_attachments: ClassVar[bool] = True  # an agent's files go out with the reply
    config_fields: ClassVar[dict[str, Field]] = {
        "token": Field(str, help="the bot token from @BotFather (or env:NAME)", secret=True),
        "mode": Field(str, "polling", "webhook or polling", choices=("webhook", "polling")),
        "webhook_secret": Field(
            str, "", "the secret_token Telegram sends with each webhook", secret=True, min_length=MIN_GENERATED_SECRET
        ),
        "public_url": Field(str, "", "https URL of this hub: the webhook is registered at start"),
        "api_base_url": Field(str, "https://api.telegram.org", "a self-hosted Bot API server instead"),
        "poll_timeout_seconds": Field(int, 25, "long-poll wait of getUpdates", minimum=0),
        "max_file_bytes": Field(int, 20 * 1024 * 1024, "largest photo, document or voice kept", minimum=1),
    }

    @classmethod
    def check_settings(cls, prefix: str, settings: dict[str, Any]) -> None:
        if settings["mode"] == "webhook" and not settings["webhook_secret"]:
            raise ConfigError(f"{prefix}.webhook_secret: missing secret (mode is webhook)")
        if settings["webhook_secret"] and not SECRET_TOKEN.fullmatch(settings["webhook_secret"]):
            raise ConfigError(f"{prefix}.webhook_secret: Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and - only")
        if settings["public_url"] and not settings["public_url"].startswith("https://"):
            raise ConfigError(f"{prefix}.public_url: Telegram only calls https:// URLs")

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        base = settings["api_base_url"].rstrip("/")
        self.bot = Bot(
            settings["token"],
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=HTTPXRequest(connection_pool_size=16, read_timeout=30.0),
            get_updates_request=HTTPXRequest(read_timeout=settings["poll_timeout_seconds"] + 10.0),
        )
        self._hub: HubPort | None = None
        self._poller: asyncio.Task[None] | None = None
        self._unsupported_logged: set[str] = set()

    @property
    def hub(self) -> HubPort:
        if self._hub is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self._hub

    # -- lifecycle -------------------------------------------------------------------
    def web_app(self) -> web.Application | None:
        if self.settings["mode"] != "webhook":
            return None  # polling: no route, so nothing can be posted in unsigned
        app = web.Application()
        app.router.add_post("/webhook", self._webhook)
        return app

    async def start(self, hub: HubPort) -> None:
        self._hub = hub
        await self.bot.initialize()
        if self.settings["mode"] == "polling":
            self._poller = asyncio.create_task(self._poll(), name=f"helpline-{self.name}-polling")
        elif self.settings["public_url"]:
            url = f"{self.settings['public_url'].rstrip('/')}/channels/{self.name}/webhook"
            await self.bot.set_webhook(
                url=url, secret_token=self.settings["webhook_secret"], allowed_updates=ALLOWED_UPDATES
            )

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.hub.store.release_lease(self._lease, self.hub.instance_id)
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

    # -- inbound: webhook ------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        sent = request.headers.get(SECRET_HEADER, "")
        expected = self.settings["webhook_secret"]
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            return web.json_response({"error": "forbidden", "message": "wrong secret token"}, status=403)
        try:
            data = json.loads(await request.read())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("an update needs an update_id")
            update = Update.de_json(data, self.bot)
        except (ValueError, TypeError, KeyError) as exc:
            return web.json_response({"error": "invalid_update", "message": str(exc)}, status=400)
        try:
            await self.process(update)
        except IngestUnavailable:
            return web.json_response({"error": "unavailable", "message": "retry"}, status=503)
        except InvalidInbound as exc:
            return web.json_response({"error": "invalid_message", "message": str(exc)}, status=400)
        return web.json_response({"ok": True})

    # -- inbound: long polling -------------------------------------------------------
    @property
    def _lease(self) -> str:
        return f"telegram:{self.name}:polling"

    async def _poll(self) -> None:
        key = f"telegram:{self.name}:offset"
        while True:
            try:
                if not await self.hub.acquire_lease(
                    self._lease, timedelta(seconds=self.settings["poll_timeout_seconds"] + 60)
                ):
                    await asyncio.sleep(5)
                    continue
                offset = int(await self.hub.store.get_value(key) or 0)
                updates = await self.bot.get_updates(
                    offset=offset or None,
                    timeout=self.settings["poll_timeout_seconds"],
                    allowed_updates=ALLOWED_UPDATES,
                )
                for update in updates:
                    await self.process(update)  # stored first ...
                    await self.hub.store.set_value(key, update.update_id + 1)  # ... then confirmed
            except asyncio.CancelledError:
                raise
            except (IngestUnavailable, NetworkError) as exc:
                self.log.warning("polling paused: %s", exc)
                await asyncio.sleep(2)
            except Exception:
                self.log.exception("polling failed; retrying")
                await asyncio.sleep(2)

    # -- turning updates into messages ------------------------------------------------
    async def process(self, update: Update) -> None:
        for handler in HANDLERS:
            if handler.check(update):
                await handler.handle(self, update)
                return
        kind = next((k for k in update.to_dict() if k != "update_id"), "empty")
        if kind not in self._unsupported_logged:  # acknowledged and ignored, said once
            self._unsupported_logged.add(kind)
            self.log.info("ignoring %s updates: not supported", kind)

    async def on_message(self, update: Update) -> None:
        message = update.message
        assert message is not None and message.from_user is not None
        text, attachments = await self._content(message)
        user = message.from_user
        name = " ".join(part for part in (user.first_name, user.last_name) if part)
        if user.username:
            name = f"{name} (@{user.username})" if name else f"@{user.username}"
        await self.hub.ingest(
            Inbound(
                channel=self.name,
                external_id=f"{message.chat.id}:{message.message_id}",  # a repeated update_id stores nothing new
                sender=Sender(address=str(user.id), display_name=name),
                thread_key=f"chat:{message.chat.id}",
                text=text,
                attachments=tuple(attachments),
                sent_at=message.date,
                raw={"update_id": update.update_id, "chat_type": message.chat.type},
            )
        )

    async def on_edit(self, update: Update) -> None:
        message = update.edited_message
        assert message is not None
        text, _ = await self._content(message, files=False)
        await self.hub.record_edit(self.name, f"{message.chat.id}:{message.message_id}", text=text)

    async def on_callback(self, update: Update) -> None:
        query = update.callback_query
        assert query is not None
        with contextlib.suppress(TelegramError):  # the spinner stops either way after a while
            await query.answer()
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        user = query.from_user
        await self.hub.ingest(
            Inbound(
                channel=self.name,
                external_id=f"callback:{query.id}",
                sender=Sender(address=str(user.id), display_name=user.full_name),
                thread_key=f"chat:{chat_id}",
                text=_label_of(query),
                choice_id=query.data or "",
                raw={"update_id": update.update_id},
            )
        )

    async def _content(self, message: Message, *, files: bool = True) -> tuple[str, list[Attachment]]:
        text = message.text or message.caption or ""
        attachments: list[Attachment] = []
        if message.sticker is not None:
            text = text or f"[sticker {message.sticker.emoji or ''}]".replace(" ]", "]")
        wanted: list[tuple[Any, str, str]] = []
        if message.photo:
            wanted.append((max(message.photo, key=lambda p: p.width * p.height), "photo.jpg", "image/jpeg"))
        if message.document is not None:
            wanted.append(
                (
                    message.document,
                    message.document.file_name or "document",
                    message.document.mime_type or "application/octet-stream",
                )
            )
        if message.voice is not None:
            wanted.append((message.voice, "voice.ogg", message.voice.mime_type or "audio/ogg"))
        for item, name, content_type in wanted if files else []:
            if (item.file_size or 0) > self.settings["max_file_bytes"]:
                text += f"\n[not kept: {name} is over the {self.settings['max_file_bytes'] // 1024} KiB limit]"
                continue
            file = await item.get_file()
            data = bytes(await file.download_as_bytearray())
            ref = await self.hub.blobs.put(data)
            attachments.append(Attachment(name=name, content_type=content_type, size=len(data), blob_ref=ref))
        if not text and message.voice is not None:
            text = "[voice message]"  # agents see what it is before they open the file
        return text.strip(), attachments

    # -- outbound -----------------------------------------------------------------------
    async def _note_blocked(self, out: Outbound, reason: str) -> None:
        """Say it in the thread, beside the contact card: no reply will reach this person."""
        event = Message_(
            id=new_id(),
            conversation_id=out.conversation.id,
            channel=self.name,
            direction=Direction.OUTBOUND,
            kind=MessageKind.EVENT,
            author_type=AuthorType.SYSTEM,
            text=f"Telegram refuses delivery to {out.contact.name or 'this customer'}: {reason}. "
            "Replies cannot reach them here until they unblock the bot.",
        )
        with contextlib.suppress(Exception):
            await self.hub.store.add_message(event)
            self.hub.bus.publish(
                Event("message.created", out.conversation.id, {"message_id": event.id, "kind": "event"})
            )

    async def send(self, out: Outbound) -> Sent:
        chat_id = out.conversation.thread_key.removeprefix("chat:") or out.address
        choices = out.message.choices
        markup = (
            InlineKeyboardMarkup([[InlineKeyboardButton(c.label, callback_data=c.id[:64])] for c in choices])
            if choices
            else None
        )
        try:
            sent_id = ""
            pieces = split_text(out.message.text, LIMIT) if out.message.text.strip() else []
            for index, piece in enumerate(pieces):
                # Plain text: no parse mode, so nothing a customer or agent wrote is markup.
                sent = await self.bot.send_message(
                    chat_id, piece, reply_markup=markup if index == len(pieces) - 1 else None
                )
                sent_id = str(sent.message_id)
            for attachment in out.message.attachments:
                path = self.hub.blobs.path(attachment.blob_ref)
                if path is None:
                    continue
                data = await asyncio.to_thread(path.read_bytes)
                if attachment.content_type.startswith("image/"):
                    sent = await self.bot.send_photo(chat_id, data)
                else:
                    sent = await self.bot.send_document(chat_id, data, filename=attachment.name)
                sent_id = str(sent.message_id)
        except RetryAfter as exc:
            with warnings.catch_warnings():  # int today, timedelta in PTB 23: both are handled
                warnings.simplefilter("ignore")
                retry = exc.retry_after
            seconds = retry.total_seconds() if isinstance(retry, timedelta) else float(retry)
            raise RetryableDeliveryError(
                f"429 Too Many Requests: retry after {seconds:g}s", retry_after=seconds
            ) from exc
        except Forbidden as exc:
            await self._note_blocked(out, exc.message)
            raise PermanentDeliveryError(f"403 {exc.message}") from exc
        except BadRequest as exc:
            raise PermanentDeliveryError(f"400 {exc.message}") from exc
        except NetworkError as exc:  # timeouts, 5xx, dropped connections
            raise RetryableDeliveryError(f"{exc.__class__.__name__}: {exc.message}") from exc
        except TelegramError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        return Sent(external_id=sent_id)


def _label_of(query: Any) -> str:
    """The text of the button the customer pressed, for the agents reading the thread."""
    message = query.message
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for button in row:
            if button.callback_data == query.data:
                return str(button.text)
    return str(query.data or "")


HANDLERS = [
    UpdateHandler(lambda u: u.edited_message is not None, TelegramAdapter.on_edit),
    UpdateHandler(lambda u: u.callback_query is not None, TelegramAdapter.on_callback),
    UpdateHandler(lambda u: u.message is not None and u.message.from_user is not None, TelegramAdapter.on_message),
]
