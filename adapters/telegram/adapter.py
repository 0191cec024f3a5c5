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
import re
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from adapters.telegram.content import Content, describe
from conversation.model import Attachment, utcnow
from hub.sdk import (
    MIN_GENERATED_SECRET,
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
    StoredBlob,
    backoff,
    checked_type,
    hub_texts,
    logged_failure,
    parse_json,
    setting,
    split_text,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts as secret_token
LIMIT = 4096  # characters in one Telegram message
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
POLL_RETRY_BASE = 1.0  # seconds after the first failed getUpdates; doubles, with jitter
POLL_RETRY_CAP = 300.0


class _NotKept(Exception):
    """A file of an incoming message that is not stored (the text says why)."""


@dataclass(frozen=True)
class UpdateHandler:
    """PTB's contract in small: `check` decides, `handle` acts."""

    check: Callable[[Update], bool]
    handle: Callable[[TelegramAdapter, Update], Awaitable[None]]


class TelegramAdapter(Adapter):
    sends_attachments: ClassVar[bool] = True  # an agent's files go out with the reply
    shows_choices = True  # a plugin's question comes with buttons

    @dataclass(frozen=True)
    class Settings:
        token: str = setting(str, help="the bot token from @BotFather (or env:NAME)", secret=True)
        mode: str = setting(str, "polling", "webhook or polling", choices=("webhook", "polling"))
        webhook_secret: str = setting(
            str, "", "the secret_token Telegram sends with each webhook", secret=True, min_length=MIN_GENERATED_SECRET
        )
        public_url: str = setting(str, "", "https URL of this hub: the webhook is registered at start")
        api_base_url: str = setting(str, "https://api.telegram.org", "a self-hosted Bot API server instead")
        poll_timeout_seconds: int = setting(int, 25, "long-poll wait of getUpdates", minimum=0)
        max_file_bytes: int = setting(int, 20 * 1024 * 1024, "largest file kept (photo, video, audio...)", minimum=1)

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Settings) -> None:
        if settings.mode == "webhook" and not settings.webhook_secret:
            raise ConfigError(f"{prefix}.webhook_secret: missing secret (mode is webhook)")
        if settings.webhook_secret and not SECRET_TOKEN.fullmatch(settings.webhook_secret):
            raise ConfigError(
                f"{prefix}.webhook_secret: use 16-256 characters A-Z a-z 0-9 _ - only (what Telegram accepts)"
            )
        if settings.public_url and not settings.public_url.startswith("https://"):
            raise ConfigError(f"{prefix}.public_url: Telegram only calls https:// URLs")

    def __init__(self, name: str, settings: Settings) -> None:
        super().__init__(name, settings)
        base = settings.api_base_url.rstrip("/")
        self.bot = Bot(
            settings.token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=HTTPXRequest(connection_pool_size=16, read_timeout=30.0),
            get_updates_request=HTTPXRequest(read_timeout=settings.poll_timeout_seconds + 10.0),
        )
        self._hub: HubPort | None = None
        self._poller: asyncio.Task[None] | None = None
        self._unsupported_logged: set[str] = set()
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests count the waits

    @property
    def hub(self) -> HubPort:
        if self._hub is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self._hub

    # -- lifecycle -------------------------------------------------------------------
    def web_app(self) -> web.Application | None:
        if self.settings.mode != "webhook":
            return None  # polling: no route, so nothing can be posted in unsigned
        app = web.Application()
        app.router.add_post("/webhook", self._webhook)
        return app

    async def start(self, hub: HubPort) -> None:
        self._hub = hub
        try:
            await self.bot.initialize()  # getMe: raises while Telegram is unreachable (the hub retries)
        except InvalidToken:  # PTB's own message repeats the token: say it without it
            raise PermissionError(
                f"Telegram rejected the bot token (401/404): check channels.{self.name}.token"
            ) from None
        if self.settings.mode == "polling":
            if self._poller is None or self._poller.done():
                self._poller = asyncio.create_task(self._poll(), name=f"helpline-{self.name}-polling")
        elif self.settings.public_url:
            url = f"{self.settings.public_url.rstrip('/')}/channels/{self.name}/webhook"
            await self.bot.set_webhook(
                url=url, secret_token=self.settings.webhook_secret, allowed_updates=ALLOWED_UPDATES
            )

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            with logged_failure(self.log, "releasing the polling lease"):
                await self.hub.release_lease(self._lease)
        with logged_failure(self.log, "shutting the bot client down"):
            await self.bot.shutdown()

    # -- inbound: webhook ------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        sent = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.webhook_secret
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            self.hub.note_refused(self.name, "bad_signature")
            return web.json_response({"error": "bad_signature", "message": "wrong secret token"}, status=401)
        try:
            data = parse_json(await request.read())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("an update needs an update_id")
        except (ValueError, TypeError) as exc:
            self.hub.note_refused(self.name, "malformed")
            return web.json_response({"error": "invalid_update", "message": str(exc)}, status=400)
        try:
            await self.handle_update(data)
        except IngestUnavailable:
            return web.json_response({"error": "unavailable", "message": "retry"}, status=503)
        return web.json_response({"ok": True})  # also for what was ignored: Telegram must not resend it

    # -- inbound: long polling -------------------------------------------------------
    @property
    def _lease(self) -> str:
        return f"telegram:{self.name}:polling"

    async def _poll(self) -> None:
        key = f"telegram:{self.name}:offset"
        failures = 0
        while True:
            try:
                if not await self.hub.acquire_lease(
                    self._lease, timedelta(seconds=self.settings.poll_timeout_seconds + 60)
                ):
                    await asyncio.sleep(5)  # another hub polls this bot
                    continue
                offset = int(await self.hub.get_state(key) or 0)
                updates = await self._get_updates(offset)
                self.hub.report_channel(self.name, up=True)
                for data in updates:
                    update_id = data.get("update_id") if isinstance(data, dict) else None
                    if not isinstance(update_id, int):
                        continue
                    await self.handle_update(data)  # stored (or deliberately ignored) first ...
                    await self.hub.set_state(key, update_id + 1)  # ... then confirmed
                if failures:
                    self.log.info("polling works again after %d failed attempt(s)", failures)
                    failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                await self.sleep(self._polling_failed(exc, failures))

    async def _get_updates(self, offset: int) -> list[Any]:
        """getUpdates as raw JSON: one update PTB cannot parse must not hide the others."""
        params: dict[str, Any] = {
            "timeout": self.settings.poll_timeout_seconds,
            "allowed_updates": ALLOWED_UPDATES,
        }
        if offset:
            params["offset"] = offset
        with warnings.catch_warnings():  # PTB suggests Bot.get_updates, which parses all or nothing
            warnings.simplefilter("ignore")
            result = await self.bot.do_api_request(
                "getUpdates", api_kwargs=params, read_timeout=self.settings.poll_timeout_seconds + 10.0
            )
        return result if isinstance(result, list) else []

    def _polling_failed(self, exc: Exception, failures: int) -> float:
        """Log what went wrong in words an operator can act on; return how long to wait."""
        delay = backoff(failures, base=POLL_RETRY_BASE, cap=POLL_RETRY_CAP)
        if isinstance(exc, RetryAfter):
            delay = max(delay, _seconds(exc))
            self.log.warning("polling: Telegram asks to wait %.0fs (429)", delay)
            return delay
        if isinstance(exc, InvalidToken | EndPointNotFound):  # getUpdates exists: a 401/404 is the token
            reason = (
                f"Telegram rejected the bot token (401/404): check channels.{self.name}.token; retrying in {delay:.0f}s"
            )
        elif isinstance(exc, Conflict):
            reason = (
                "another process is polling this bot, or a webhook is set (409 Conflict): "
                f"only one may receive its updates; retrying in {delay:.0f}s"
            )
        elif isinstance(exc, IngestUnavailable):
            self.log.warning("polling paused, the store is unavailable; retrying in %.0fs", delay)
            return delay
        elif isinstance(exc, NetworkError):
            reason = f"Telegram unreachable ({exc.__class__.__name__}: {exc.message}); retrying in {delay:.0f}s"
        else:
            self.log.exception("polling failed; retrying in %.0fs", delay)
            return delay
        self.log.warning("polling: %s", reason)
        if failures > 1 or not isinstance(exc, NetworkError):  # one dropped long poll is not an outage
            self.hub.report_channel(self.name, up=False, reason=reason.split("; retrying")[0])
        return delay

    # -- turning updates into messages ------------------------------------------------
    async def handle_update(self, data: dict[str, Any]) -> None:
        """Store one update or acknowledge it as ignored; only IngestUnavailable escapes (retry it)."""
        kind = next((k for k in data if k != "update_id"), "empty")
        try:
            try:
                update = Update.de_json(data, self.bot)
            except Exception as exc:  # newer than this PTB (a field it now requires is missing, say)
                if not _readable_message(data.get("message")):
                    raise
                self.log.warning("update %s: PTB cannot parse it (%s); stored from its JSON", data["update_id"], exc)
                await self.ingest_message(data["update_id"], data["message"])
                return
            await self.process(update)
        except (IngestUnavailable, web.HTTPException):  # retry later (the hub is not ready or the store is down)
            raise
        except InvalidInbound as exc:
            self._ignored(f"invalid/{kind}", f"update {data.get('update_id')} ({kind}) not stored: {exc}")
        except Exception:  # a bug or an update this version cannot read: it must not block the rest
            self.log.exception("update %s (%s) could not be processed; skipped", data.get("update_id"), kind)
            self._ignored(f"error/{kind}", "")

    def _ignored(self, kind: str, message: str) -> None:
        self.hub.note_ignored(self.name, kind)
        if kind not in self._unsupported_logged:  # acknowledged and counted; said once per kind
            self._unsupported_logged.add(kind)
            self.log.info("%s", message or f"ignoring {kind} updates")

    async def process(self, update: Update) -> None:
        for handler in HANDLERS:
            if handler.check(update):
                await handler.handle(self, update)
                return
        kind = next((k for k in update.to_dict() if k != "update_id"), "empty")
        self._ignored(kind, f"ignoring {kind} updates: not supported")

    async def on_blocked(self, update: Update) -> None:
        """A customer blocked the bot in their private chat: the agents are told on their latest
        ticket here before they write a reply that cannot arrive (unblocking is the customer's
        next message)."""
        change = update.my_chat_member
        assert change is not None
        contact = await self.hub.reads.find_identity_contact(self.name, str(change.from_user.id))
        found = await self.hub.reads.conversations_of(contact.id, channel=self.name, limit=5) if contact else []
        tickets = [t for t in found if not t.merged_into]
        if not tickets:
            self._ignored("my_chat_member/kicked", "a user with no ticket here blocked the bot")
            return
        said = hub_texts(self.hub.language)
        name = contact.name if contact and contact.name else said.get("event.this_customer")
        reason = said.get("event.telegram_blocked_by_user")
        await self.hub.post_event(
            tickets[0].id,
            "event.telegram_blocked",
            {"name": name, "reason": reason},
            once=f"blocked:{update.update_id}",
        )

    async def on_message(self, update: Update) -> None:
        assert update.message is not None
        await self.ingest_message(update.update_id, update.message.to_dict())

    async def ingest_message(self, update_id: int, message: dict[str, Any]) -> None:
        """Store one customer message, read from the Bot API's JSON (also when PTB cannot parse it)."""
        user, chat = message["from"], message["chat"]
        # Another bot in a group (ours never gets its own): no customer wrote it. A person posting
        # as their channel or as an anonymous admin comes as Telegram's bot with `sender_chat`.
        if user.get("is_bot") and not message.get("sender_chat"):
            self._ignored("message/from_a_bot", "ignoring messages from bots: nobody wrote to support")
            return
        content = describe(message, said=hub_texts(self.hub.language))
        if content.ignored:
            self._ignored(content.ignored, f"ignoring {content.ignored} messages: nobody wrote to support")
            return
        text, attachments = await self._keep_files(content)
        name = " ".join(str(part) for part in (user.get("first_name"), user.get("last_name")) if part)
        if user.get("username"):
            name = f"{name} (@{user['username']})" if name else f"@{user['username']}"
        raw: dict[str, Any] = {"update_id": update_id, "chat_type": chat.get("type")}
        if content.payload is not None:
            raw["telegram"] = content.payload  # a location's coordinates, a poll's options: kept as sent
        date = message.get("date")
        sent_at = datetime.fromtimestamp(date, UTC) if isinstance(date, int) and date > 0 else utcnow()
        await self.hub.ingest(
            Inbound(
                channel=self.name,
                external_id=f"{chat['id']}:{message['message_id']}",  # a repeated update_id stores nothing new
                sender=Sender(
                    address=str(user["id"]), display_name=name, language=str(user.get("language_code") or "")
                ),
                thread_key=f"chat:{chat['id']}",
                text=text,
                attachments=tuple(attachments),
                sent_at=sent_at,
                raw=raw,
            )
        )

    async def on_edit(self, update: Update) -> None:
        message = update.edited_message
        assert message is not None
        content = describe(message.to_dict(), files=False, said=hub_texts(self.hub.language))
        if content.ignored or not (content.text or content.files):
            self._ignored(f"edit/{content.kind}", f"ignoring edits of {content.kind} messages")
            return
        if not await self.hub.record_edit(self.name, f"{message.chat.id}:{message.message_id}", text=content.text):
            self._ignored("edit/unknown_message", "ignoring edits of messages that were never stored")

    async def on_callback(self, update: Update) -> None:
        query = update.callback_query
        assert query is not None
        with contextlib.suppress(TelegramError):  # the spinner stops either way after a while
            await query.answer()
        if not query.data:  # a game's button: nothing was chosen
            self._ignored("callback_query/no_data", "ignoring button presses without data")
            return
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        user = query.from_user
        await self.hub.ingest(
            Inbound(
                channel=self.name,
                external_id=f"callback:{query.id}",
                sender=Sender(address=str(user.id), display_name=user.full_name, language=user.language_code or ""),
                thread_key=f"chat:{chat_id}",
                text=_label_of(query),
                choice_id=query.data,
                raw={"update_id": update.update_id},
            )
        )
        if query.message is not None and query.message.chat.type == "private":
            await self._without_buttons(chat_id, query.message.message_id)

    async def _without_buttons(self, chat_id: int, message_id: int) -> None:
        """Take a question's buttons away once one was tapped (and stored), as a person would
        see it answered: a second tap would answer it twice. Only in a private chat: in a
        group, a member who is not the ticket's customer may have tapped, and the customer
        still needs them. Telegram refusing (a message too old, already without them) is fine."""
        try:
            await self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
        except TelegramError as exc:
            self.log.debug("buttons of message %s kept: %s", message_id, exc)

    async def _keep_files(self, content: Content) -> tuple[str, list[Attachment]]:
        """Download the message's files within max_file_bytes; say so in the text when one is not kept."""
        limit = self.settings.max_file_bytes
        said = hub_texts(self.hub.language)  # the agents' notes in the hub's language
        too_large = said.get("placeholder.over_limit", kib=limit // 1024)
        text, attachments = content.text, []
        for wanted in content.files:
            try:
                if wanted.size > limit:
                    raise _NotKept(too_large)
                file = await self.bot.get_file(wanted.file_id)
                if (file.file_size or 0) > limit:
                    raise _NotKept(too_large)
                data = bytes(await file.download_as_bytearray())
                if len(data) > limit:
                    raise _NotKept(too_large)
            except _NotKept as exc:
                text += "\n" + said.get("placeholder.file_not_kept", name=wanted.name, reason=str(exc))
                continue
            except TelegramError as exc:  # the message is kept either way; the agents see what is missing
                self.log.warning("could not download %s: %s", wanted.name, exc)
                text += "\n" + said.get("placeholder.file_not_downloaded", name=wanted.name)
                continue
            ref = await self.hub.put_blob(data)
            kind = checked_type(wanted.content_type, data, wanted.name)  # the bytes, not the sender's app's word
            attachments.append(Attachment(name=wanted.name, content_type=kind, size=len(data), blob_ref=ref))
        return text.strip(), attachments

    # -- outbound -----------------------------------------------------------------------
    async def _note_blocked(self, out: Outbound, reason: str) -> None:
        """Say it in the thread, beside the contact card: no reply will reach this person."""
        said = hub_texts(self.hub.language)  # the name, in the hub's language (as the event's `text`)
        params = {"name": out.contact.name or said.get("event.this_customer"), "reason": reason}
        with logged_failure(self.log, f"recording that Telegram refuses delivery on {out.conversation.id}"):
            await self.hub.post_event(out.conversation.id, "event.telegram_blocked", params)

    async def _send_file(self, chat_id: str, blob: StoredBlob, attachment: Attachment) -> Any:
        data = await blob.read()  # the Bot API takes a file whole
        if attachment.content_type.startswith("image/"):
            return await self.bot.send_photo(chat_id, data)
        return await self.bot.send_document(chat_id, data, filename=attachment.name)

    def shared_thread(self, thread_key: str) -> bool:
        # "chat:<id>": a private chat's id is its user's (positive), a group's is negative.
        return thread_key.removeprefix("chat:").startswith("-")

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
            steps: list[Callable[[], Awaitable[Any]]] = []
            for index, piece in enumerate(pieces):
                # Plain text: no parse mode, so nothing a customer or agent wrote is markup.
                last = index == len(pieces) - 1
                steps.append(partial(self.bot.send_message, chat_id, piece, reply_markup=markup if last else None))
            for attachment in out.message.attachments:
                blob = await self.hub.open_blob(attachment.blob_ref)
                if blob is not None:
                    steps.append(partial(self._send_file, chat_id, blob, attachment))
            for number, step in enumerate(steps, start=1):
                if number <= out.parts_sent:
                    continue  # delivered by an earlier attempt: never twice
                sent = await step()
                sent_id = str(sent.message_id)
                if len(steps) > 1:
                    await out.part_delivered(number)
        except RetryAfter as exc:
            seconds = _seconds(exc)
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


def _readable_message(message: Any) -> bool:
    """Enough of a customer's message to store it without PTB: who, where, which."""
    return (
        isinstance(message, dict)
        and isinstance(message.get("message_id"), int)
        and isinstance(message.get("chat"), dict)
        and isinstance(message["chat"].get("id"), int)
        and isinstance(message.get("from"), dict)
        and isinstance(message["from"].get("id"), int)
    )


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int today, timedelta in PTB 23: both are handled
        warnings.simplefilter("ignore")
        retry = exc.retry_after
    return retry.total_seconds() if isinstance(retry, timedelta) else float(retry)


def _label_of(query: Any) -> str:
    """The text of the button the customer pressed, for the agents reading the thread."""
    message = query.message
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for button in row:
            if button.callback_data == query.data:
                return str(button.text)
    return str(query.data or "")


def _blocked(update: Update) -> bool:
    """The customer blocked the bot in a private chat (Telegram's `my_chat_member`, "kicked")."""
    change = update.my_chat_member
    return change is not None and change.chat.type == "private" and change.new_chat_member.status == "kicked"


HANDLERS = [
    UpdateHandler(_blocked, TelegramAdapter.on_blocked),
    UpdateHandler(lambda u: u.edited_message is not None, TelegramAdapter.on_edit),
    UpdateHandler(lambda u: u.callback_query is not None, TelegramAdapter.on_callback),
    UpdateHandler(lambda u: u.message is not None and u.message.from_user is not None, TelegramAdapter.on_message),
]
