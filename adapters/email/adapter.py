"""The email channel: mail in over SMTP (a listener your mail server forwards to) and/or
IMAP (polling a support mailbox), mail out over SMTP, threaded so tickets never split
or merge wrongly, with loop prevention (RFC 3834) and bounce handling."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime, formataddr, getaddresses
from typing import Any, AnyStr, ClassVar

import aiosmtplib
from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from adapters.email.charsets import without_surrogates
from adapters.email.imap import ImapPoller
from adapters.email.loops import budget_round
from adapters.email.parse import (
    ParsedMail,
    UnreadableMail,
    html_for_text,
    message_id_of,
    normalise_address,
    parse_headers,
    sanitise_html,
)
from adapters.email.parse_pool import MailReader, ParseFailed
from adapters.email.reports import DeliveryReport
from adapters.email.threading import (
    OUR_ID,
    ThreadMatch,
    answered_page,
    find_thread,
    our_message_id,
    own_mails,
    page_message_id,
    reused_id_key,
    sent_to,
    token_pattern,
)
from conversation.codec import subject_from
from conversation.inbound import plain_text
from conversation.model import Attachment, AuthorType, Conversation, Direction, Message, MessageKind, new_id
from conversation.progress import only_a_question
from conversation.redaction import visible_text
from conversation.routing import Route
from conversation.secrets import find_secrets
from conversation.text_language import main_language
from hub.sdk import (
    MIN_GENERATED_SECRET,
    NO_STATUS_LINK,
    Adapter,
    ConfigError,
    HubPort,
    Inbound,
    IngestUnavailable,
    InvalidInbound,
    LogLimit,
    Outbound,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Sender,
    Sent,
    SlidingWindow,
    StoreUnavailable,
    Texts,
    accept_language,
    best_locale,
    hub_texts,
    setting,
    texts,
)

log = logging.getLogger(__name__)
TLS_MODES = ("starttls", "tls", "none")
# What agents read in a ticket about a mail the hub could not fully show (one place, for translation).
# How many failed mails are remembered, so that the second failure of the same mail stores
# it raw instead of asking the sender to retry for days.
REMEMBERED_FAILURES = 1000
REFUSAL_LOG_SECONDS = 60  # one "refused mail for ..." line a minute at most; /metrics counts each
MAX_ROUNDS_KEPT = 10_000  # budget rounds remembered; an older round's later replies pay again
# At DEBUG these log every line of every mail, received or fetched, in whatever transfer
# encoding it came (base64 included): customers' words and secrets the hub's log redaction
# cannot read. They are kept at INFO whatever `hub.log_level` says.
# The least each mail library logs at: aiosmtpd ("mail.log") logs every SMTP command line,
# senders' and recipients' addresses in them, at info.
MAIL_LIBRARY_LOGGERS = {"mail.log": logging.WARNING, "aioimaplib": logging.INFO}
ORIGINAL_NAME = "original.eml"


class EmailAdapter(Adapter):
    sends_attachments: ClassVar[bool] = True  # an agent's files go out with the reply
    shows_html: ClassVar[bool] = True  # a bot's article answer goes out as its (sanitised) HTML

    @dataclass(frozen=True)
    class Settings:
        address: str = setting(str, help="the support address: From of every reply")
        from_name: str = setting(str, "Support")
        reply_to: str = setting(str, "")
        other_addresses: tuple[str, ...] = setting(list, [], "aliases that are also ours (never ingested as customers)")
        subject_token: str = setting(str, "[#{number}]", "the ticket token added to subjects")
        listen_port: int = setting(int, 0, "SMTP listener port; 0: no listener", minimum=0)
        listen_host: str = setting(str, "127.0.0.1")
        accepted_recipients: tuple[str, ...] = setting(
            list, [], "addresses the listener accepts; empty: `address` and aliases"
        )
        max_message_bytes: int = setting(int, 25 * 1024 * 1024, "largest mail the listener accepts", minimum=1024)
        listen_user: str = setting(str, "", "require AUTH with this user (and listen_password)")
        listen_password: str = setting(
            str, "", "what the forwarding server must send", secret=True, min_length=MIN_GENERATED_SECRET
        )
        tls_cert: str = setting(str, "", "certificate file for STARTTLS on the listener")
        tls_key: str = setting(str, "")
        imap_host: str = setting(str, "", "poll this mailbox; empty: no polling")
        imap_port: int = setting(int, 993, minimum=1)
        imap_tls: bool = setting(bool, True)
        imap_ca_file: str = setting(str, "", "CA certificate(s) to trust for the IMAP server; empty: the system's")
        imap_user: str = setting(str, "")
        imap_password: str = setting(str, "", secret=True)
        imap_mailbox: str = setting(str, "INBOX")
        imap_move_to: str = setting(str, "", "folder for processed mail; empty: mark it \\Seen")
        imap_poll_seconds: float = setting(float, 30.0, minimum=0.05)
        smtp_host: str = setting(str, "", "relay for outgoing mail")
        relay_channel: str = setting(
            str, "", "with no smtp_host: the email channel whose relay sends this one's mail, from its address"
        )
        smtp_port: int = setting(int, 587, minimum=1)
        smtp_tls: str = setting(str, "starttls", choices=TLS_MODES)
        smtp_user: str = setting(str, "")
        smtp_password: str = setting(str, "", secret=True)
        smtp_timeout_seconds: float = setting(float, 30.0, minimum=0.1)
        smtp_ca_file: str = setting(
            str, "", "CA certificate(s) to trust for the relay (a private CA); empty: the system's"
        )
        max_attachment_bytes: int = setting(int, 10 * 1024 * 1024, minimum=1)
        attachment_types: tuple[str, ...] = setting(list, [], "content types kept from inbound mail; empty: any")
        max_auto_replies_per_hour: int = setting(int, 10, "automatic replies to one address", minimum=0)
        max_participants: int = setting(int, 10, "Cc'd people kept on a ticket from one mail", minimum=0)
        parse_timeout_seconds: float = setting(
            float, 10.0, "time one mail may take to read; a slower one is kept unread, as an .eml", minimum=0.05
        )
        parse_workers: int = setting(int, 2, "processes that read inbound mail", minimum=1)

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Settings) -> None:
        if "@" not in settings.address:
            raise ConfigError(f"{prefix}.address: {settings.address!r} is not an email address")
        if "{number}" not in settings.subject_token:
            raise ConfigError(f"{prefix}.subject_token: must contain {{number}}")
        if settings.imap_host and not (settings.imap_user and settings.imap_password):
            raise ConfigError(f"{prefix}.imap_password: missing secret (imap_host is set)")
        if bool(settings.listen_user) != bool(settings.listen_password):
            raise ConfigError(f"{prefix}.listen_password: set both listen_user and listen_password, or neither")
        if bool(settings.tls_cert) != bool(settings.tls_key):
            raise ConfigError(f"{prefix}.tls_key: set both tls_cert and tls_key, or neither")
        if settings.smtp_host and settings.relay_channel:
            raise ConfigError(f"{prefix}.relay_channel: set smtp_host or relay_channel, not both")

    def __init__(self, name: str, settings: Settings) -> None:
        super().__init__(name, settings)
        self.address = normalise_address(settings.address)
        self.domain = self.address.split("@", 1)[1]
        self.own = {self.address} | {normalise_address(a) for a in settings.other_addresses}
        self.accepted = {normalise_address(a) for a in settings.accepted_recipients} or self.own
        self.token = token_pattern(settings.subject_token)
        self.auto_replies = SlidingWindow(settings.max_auto_replies_per_hour, 3600)
        self._rounds: dict[str, None] = {}  # rounds (answered messages) that took a budget slot, oldest first
        self._client_tls = ssl.create_default_context(cafile=settings.smtp_ca_file) if settings.smtp_ca_file else None
        self.reader = MailReader(workers=settings.parse_workers, budget_seconds=settings.parse_timeout_seconds)
        self._hub: HubPort | None = None
        self._server: asyncio.base_events.Server | None = None
        self._poller: ImapPoller | None = None
        self._failed_once: dict[str, None] = {}  # digests of mails whose processing raised, oldest first
        self.refusal_log = LogLimit(REFUSAL_LOG_SECONDS)  # anyone can guess addresses at the listener

    @property
    def _said(self) -> Texts:
        """The hub's language: the notes the agents read about what a mail did not bring."""
        return hub_texts(self.hub.language)

    @property
    def hub(self) -> HubPort:
        assert self._hub is not None, "the channel has not started"
        return self._hub

    @property
    def sends_replies(self) -> bool:  # type: ignore[override]
        return bool(self.settings.smtp_host or self.settings.relay_channel)

    @property
    def listen_port(self) -> int:
        """The listener's port (the configured one, or the one the OS gave for 0 in tests)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def web_app(self) -> web.Application | None:
        return None

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self, hub: HubPort) -> None:
        self._hub = hub
        quiet_mail_libraries()
        if not self.sends_replies:
            self.log.warning(
                "channel %s only receives mail (no smtp_host, no relay_channel): replies to its tickets are not sent",
                self.name,
            )
        if self.settings.listen_port:
            await self._start_listener()
        if self.settings.imap_host:
            self._poller = ImapPoller(self, hub)
            self._poller.start()

    async def stop(self) -> None:
        if self._poller is not None:
            await self._poller.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.reader.close()

    async def _start_listener(self) -> None:
        tls = None
        if self.settings.tls_cert:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        auth_required = bool(self.settings.listen_user)

        def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
            if not isinstance(data, LoginPassword):
                return AuthResult(success=False, handled=False)
            # Compared as bytes in constant time: no timing hint, and a login that is not UTF-8
            # is a failed login, not an error inside the session.
            user = hmac.compare_digest(data.login, self.settings.listen_user.encode())
            password = hmac.compare_digest(data.password, self.settings.listen_password.encode())
            return AuthResult(success=user and password, handled=False)

        loop = asyncio.get_running_loop()
        host, port = self.settings.listen_host, self.settings.listen_port
        try:
            self._server = await loop.create_server(
                lambda: _Listener(
                    self,
                    _Handler(self),
                    data_size_limit=self.settings.max_message_bytes,
                    enable_SMTPUTF8=True,
                    hostname=self.domain,
                    tls_context=tls,
                    auth_required=auth_required,
                    auth_require_tls=tls is not None,
                    authenticator=authenticate if auth_required else None,
                    # no listen_user: no AUTH to offer (every login would fail), see _Handler.handle_EHLO
                    auth_exclude_mechanism=None if auth_required else ["LOGIN", "PLAIN"],
                ),
                host=host,
                port=port,
            )
        except OSError as exc:  # the channel is degraded with this reason and started again later
            raise OSError(
                f"the SMTP listener cannot listen on {host}:{port} ({exc.strerror or exc});"
                " check listen_host and listen_port"
            ) from exc
        self.log.info("SMTP listener on %s:%d", host, self.listen_port)

    # -- inbound -------------------------------------------------------------------------
    async def receive(self, raw: bytes, *, envelope_sender: str | None = None) -> str:
        """Take one mail; the SMTP reply that says what became of it.

        2xx: stored, or deliberately not (our own mail, a report recorded on the message
        it is about); 4xx: try again later (the store is unavailable, or an unexpected
        failure the first time); 5xx: never. `envelope_sender` is MAIL FROM ("" for the
        null sender of bounces and auto-replies; None when unknown, as over IMAP).
        """
        try:
            reply = await self._receive(raw, envelope_sender)
            if reply.startswith("5"):  # refused for good: counted, as a webhook's refusals are
                self.hub.note_refused(self.name, refusal_reason(reply))
            return reply
        except StoreUnavailable as exc:  # not the mail's fault: the sender retries, nothing is counted
            self.log.warning("a mail of %d bytes not stored yet: %s", len(raw), exc)
            return "451 4.3.0 Temporary failure: please retry later"
        except Exception as exc:  # a bug or a mail no code foresaw: never lost, never retried for ever
            digest = hashlib.sha256(raw).hexdigest()
            if digest not in self._failed_once:
                self.log.exception("a mail of %d bytes could not be processed; the sender will retry", len(raw))
                self._failed_once[digest] = None
                while len(self._failed_once) > REMEMBERED_FAILURES:
                    del self._failed_once[next(iter(self._failed_once))]
                return "451 4.3.0 Temporary failure: please retry later"
            self.log.warning("a mail of %d bytes failed twice; stored raw for an agent", len(raw))
            reason = self._said.get("placeholder.mail.failed_twice", error=exc.__class__.__name__)
            reply = await self._keep_unreadable(raw, reason, envelope_sender or "")
            self._failed_once.pop(digest, None)
            return reply

    async def _receive(self, raw: bytes, envelope_sender: str | None) -> str:
        if len(raw) > self.settings.max_message_bytes:  # the listener enforces it; IMAP does not
            return f"552 5.3.4 Message larger than {self.settings.max_message_bytes} bytes"
        try:
            mail = await self.reader.parse(
                raw,
                max_attachment_bytes=self.settings.max_attachment_bytes,
                attachment_types=self.settings.attachment_types or None,
            )
            unreadable = ""
        except UnreadableMail as exc:
            return f"550 5.6.0 {exc}"
        except ParseFailed as exc:
            # Never lost, never refused for ever: kept with its headers, the raw mail attached.
            self.log.warning("mail of %d bytes kept unread: %s", len(raw), exc)
            try:
                mail, unreadable = parse_headers(raw), str(exc)
            except UnreadableMail as no_sender:
                return f"550 5.6.0 {no_sender}"
            except Exception:  # headers no parser can read: say so for good, not "retry" for ever
                self.log.exception("the headers of a mail of %d bytes cannot be read", len(raw))
                return "550 5.6.0 the mail's headers cannot be read"
        if envelope_sender == "":  # MAIL FROM:<>: only bounces and auto-replies use the null sender
            mail.automatic = mail.auto_reply = True
        if mail.hidden_sender:
            # The From address only inside an encoded word, which no relay's DMARC check reads:
            # believed when the envelope sender (over IMAP, the Return-Path the receiving server
            # wrote) is the same address; else kept unconfirmed (a trial's forged From).
            claimed = mail.return_path if envelope_sender is None else envelope_sender
            mail.hidden_sender = normalise_address(claimed) != mail.from_address
            if mail.hidden_sender:
                mail.flags.append("sender_unconfirmed")  # the agents read why no bot answered it
        if mail.from_address in self.own:
            self.log.info("ignored mail from our own address %s", mail.from_address)
            return "250 2.0.0 OK: our own mail, not a customer's"
        if mail.report is not None:
            return await self._report(mail)
        page = answered_page([*mail.in_reply_to, *reversed(mail.references)], self.domain)
        if page:
            return await self._page_reply(page, mail)
        return await self._store(await self._inbound(raw, mail, unreadable=unreadable))

    async def _store(self, inbound: Inbound) -> str:
        try:
            record = await self.hub.ingest(inbound)
        except IngestUnavailable:
            return "451 4.3.0 Temporary failure: please retry later"
        except InvalidInbound as exc:
            return f"550 5.6.0 {exc}"
        named = (inbound.raw or {}).get("names_ticket")
        if named and record.route is Route.OPEN_NEW:
            # A colleague answering, the customer from another address: the agents decide, and
            # merge it there when it belongs (it joins only from that ticket's people).
            await self.hub.post_event(record.conversation.id, "event.names_other_ticket", {"number": str(named)})
        return f"250 2.0.0 OK: ticket #{record.conversation.number}"

    async def _keep_unreadable(self, raw: bytes, reason: str, envelope_sender: str) -> str:
        """A placeholder ticket for a mail no code could process: its sender (as far as
        the headers tell), a note, and the raw mail attached for an agent."""
        try:
            mail = parse_headers(raw)
        except Exception:  # not even the headers: the envelope is all there is
            self.log.warning("the headers of a failed mail cannot be read either", exc_info=True)
            address = normalise_address(without_surrogates(envelope_sender)) or "unknown-sender@invalid"
            mail = ParsedMail(
                message_id="", in_reply_to=[], references=[], subject="", from_name="",
                from_address=address, to=[], cc=[], date=None, text="", visible_text="", html="",
                keep_original=True,
            )  # fmt: skip
        mail.automatic = True  # nobody knows what it is: no bot answers it
        mail.flags.append("unreadable")
        return await self._store(await self._inbound(raw, mail, unreadable=reason))

    async def _inbound(self, raw: bytes, mail: ParsedMail, *, unreadable: str = "") -> Inbound:
        # A From a list rewrote (parse.py): the person is only what X-Original-From or Reply-To
        # say, which anyone can write, not a From the receiving server checked (DMARC). Such a
        # mail is filed under that person and answered to them, but it joins only a ticket that
        # list's mail is on already (threading.py), copies no one on replies, vouches for no
        # email and no bot acts on it: else a stranger could write as any customer and read the
        # replies through their own Cc. A From whose address only an encoded word holds, and
        # no envelope confirms, is the same and joins no ticket at all.
        vouched = not mail.list_address and not mail.hidden_sender
        match = (
            ThreadMatch(None, "new")
            if mail.hidden_sender
            else await find_thread(
                self.hub.reads,
                channel=self.name,
                domain=self.domain,
                in_reply_to=mail.in_reply_to,
                references=mail.references,
                subject=mail.subject,
                sender=mail.from_address,
                token=self.token,
                via_list=mail.list_address,
            )
        )
        message_id = mail.message_id or f"<{hashlib.sha256(raw).hexdigest()}{MADE_UP_ID}>"
        key = message_id
        taken = await self.hub.reads.find_inbound(self.name, message_id) if mail.message_id else None
        if taken is not None and taken.customer_address not in ("", mail.from_address):
            # A Message-ID is its sender's to choose: another sender's mail reusing one is no
            # retry of that mail (dropped, and answered with its ticket's number) but a mail of
            # its own, kept under a key of that sender's (their own retry is still one mail).
            key = reused_id_key(message_id, mail.from_address)
        attachments = []
        for item in mail.attachments:
            ref = await self.hub.put_blob(item.data)
            attachments.append(
                Attachment(name=item.name, content_type=item.content_type, size=len(item.data), blob_ref=ref)
            )
        text, html = without_surrogates(mail.visible_text), without_surrogates(mail.html)
        limits = self.hub.inbound_limits
        room = limits.max_text_chars - 1000  # the notes below need a few lines
        if len(text) > room:  # never refuse a customer's mail for size: show its start, keep it whole
            mail.skipped.append(("text_cut", {"chars": room}))
            text, mail.keep_original = text[:room], True
        if len(html) > limits.max_html_chars:
            html = await asyncio.to_thread(sanitise_html, html[: limits.max_html_chars // 2])
            mail.keep_original = True
        if mail.keep_original and "truncated" not in mail.flags:
            mail.flags.append("truncated")
        if mail.keep_original and await asyncio.to_thread(holds_secrets, raw, mail):
            # The hub redacts the text it stores; the raw .eml cannot be, so it is not kept.
            mail.keep_original = False
            mail.skipped.append(("secret_original", {}))
        if mail.skipped:
            said = self._said
            reasons = [said.get(f"placeholder.mail.{key}", **params) for key, params in mail.skipped]
            text += "\n\n" + "\n".join(said.get("placeholder.mail.not_kept", reason=reason) for reason in reasons)
        if mail.keep_original:
            ref = await self.hub.put_blob(raw)
            attachments.append(
                Attachment(name=ORIGINAL_NAME, content_type="message/rfc822", size=len(raw), blob_ref=ref)
            )
            note = "unreadable" if unreadable else "original_kept"
            text += "\n\n" + self._said.get(f"placeholder.mail.{note}", reason=unreadable, name=ORIGINAL_NAME)
        participants = kept_participants(
            [*mail.to, *mail.cc] if vouched else [],
            exclude={*self.own, mail.from_address, mail.list_address},  # a list is never copied on replies
            limit=self.settings.max_participants,
        )
        subject = without_surrogates(mail.subject)
        return Inbound(
            channel=self.name,
            external_id=key,
            sender=Sender(
                address=mail.from_address,
                display_name=without_surrogates(mail.from_name),
                email=mail.from_address,
                verified=vouched,
                language=mail_language(raw),
            ),
            thread_key=key,  # a new ticket is keyed by the mail that opened it
            text=text.strip() or subject or self._said.get("placeholder.empty_mail"),
            html=html,
            subject=_strip_reply_prefix(self.token.sub("", subject))[:1000],
            attachments=tuple(attachments),
            conversation_hint=match.conversation.id if match.conversation else "",
            participants=participants,
            automatic=mail.automatic or not vouched,
            auto_reply=mail.auto_reply,
            raw={
                "message_id": message_id,
                "subject": plain_text(subject),  # the inbox shows it: no control characters (as in `text`)
                "from": mail.from_address,
                "to": mail.to,
                "cc": mail.cc,
                "full_text": plain_text(without_surrogates(mail.text)),
                "full_html": without_surrogates(mail.html) if html != mail.html else "",
                "threaded_by": match.how,
                **({"names_ticket": match.named} if match.named else {}),
                "flags": mail.flags,
                **({"list": mail.list_address} if mail.list_address else {}),
                **({"unreadable": unreadable} if unreadable else {}),
                # the mails it answers: a plugin's question is answered only by a reply to it
                "in_reply_to": mail.in_reply_to[:20],
                "references": mail.references[-20:],
            },
        )

    async def _page_reply(self, page_id: str, mail: ParsedMail) -> str:
        """An answer to a page: the paged agent's is a note on the ticket; anyone else's is
        dropped (logged and counted). Neither is a customer message: no reopen, no clock."""
        text = without_surrogates(mail.visible_text or mail.text).strip()
        external_id = mail.message_id or hashlib.sha256(text.encode()).hexdigest()
        try:
            kept = await self.hub.page_reply(page_id, sender=mail.from_address, text=text, external_id=external_id)
        except StoreUnavailable:
            return "451 4.3.0 Temporary failure: please retry later"
        if kept:
            return "250 2.0.0 OK: kept as the agent's note"
        self.hub.note_ignored(self.name, "page_reply")  # helpline_updates_ignored_total{kind="page_reply"}
        self.log.info("a reply to page %s from %s is not from the paged agent: dropped", page_id, mail.from_address)
        return "250 2.0.0 OK: a reply to a page, not kept"

    async def _report(self, mail: ParsedMail) -> str:
        """A bounce marks the reply it is about failed; a read receipt notes it was read.
        Neither opens a ticket. Anyone can write a report naming one of our Message-IDs (every
        recipient of a reply has it), so it counts only for an address the reply was sent to:
        the failure of its To fails the reply, a copy's adds a note that the copy bounced."""
        assert mail.report is not None
        report = mail.report
        ours = OUR_ID.match(report.original_message_id)
        if ours is None or ours.group(2) != self.domain:
            self.log.info(
                "a %s report about %s, not one of our mails: noted", report.action, report.original_message_id
            )
            return "250 2.0.0 OK: report noted"
        try:
            reply = await self.hub.reads.get_message(ours.group(1))
            if reply is None or reply.direction is not Direction.OUTBOUND:
                return "250 2.0.0 OK: report noted"
            to, copies = await self._sent_to(reply)
            if report.action in ("read", "deleted"):
                if to in report.recipients:
                    return await self._read_receipt(reply, report.reason)
                if report.recipients & copies:  # a Cc's mail program: not the customer's reading
                    return "250 2.0.0 OK: read receipt of a copy noted"
                return self._report_of_stranger(report, reply)
            if report.action not in ("failed", ""):
                return "250 2.0.0 OK: report noted"
            bounced_copies = sorted(report.recipients & copies)
            # A forwarded or aliased mailbox fails under its own address: a report naming none
            # of the reply's recipients but quoting its To counts, when the To was all it had.
            forwarded = not copies and not bounced_copies and to in report.mentioned
            if to in report.recipients or forwarded:
                await self.hub.mark_undelivered(reply.id, f"bounced: {report.reason}")
                return "250 2.0.0 OK: bounce recorded"
            if not bounced_copies:
                return self._report_of_stranger(report, reply)
            return await self._copy_bounced(reply, bounced_copies, report.reason)
        except StoreUnavailable as exc:  # the reporting server retries; anything else is a bug handle_DATA logs
            self.log.warning("report for %s not recorded yet: %s", ours.group(1), exc)
            return "451 4.3.0 Temporary failure: please retry later"

    async def _sent_to(self, reply: Message) -> tuple[str, frozenset[str]]:
        conversation = await self.hub.reads.get_conversation(reply.conversation_id)
        contact = await self.hub.reads.get_contact(conversation.contact_id) if conversation else None
        return sent_to(reply, conversation, contact.email if contact else "")

    def _report_of_stranger(self, report: DeliveryReport, reply: Message) -> str:
        """A report about one of our mails for none of its recipients: forged, or about a
        forwarded copy. The reply's state is not anyone else's to change."""
        self.hub.note_ignored(self.name, "foreign_report")  # helpline_updates_ignored_total{kind="foreign_report"}
        self.log.info(
            "a %s report about reply %s names none of its recipients (%s): noted",
            report.action,
            reply.id,
            ", ".join(sorted(report.recipients)) or "no address",
        )
        return "250 2.0.0 OK: report noted, it names none of the mail's recipients"

    async def _copy_bounced(self, reply: Message, addresses: list[str], reason: str) -> str:
        """A copy (Cc) bounced: the reply reached its customer, so it stays sent; the agents
        read whose copy failed, once per reply and address."""
        for address in addresses:  # once per reply and address, whichever hub process reads a resent report
            params = {"addresses": address, "reason": reason[:300]}
            raw = {"copy_bounced_for": reply.id, "addresses": [address]}
            once = f"copy_bounced:{reply.id}:{address.lower()}"
            await self.hub.post_event(reply.conversation_id, "event.copy_bounced", params, raw=raw, once=once)
        return "250 2.0.0 OK: bounce of a copy recorded"

    async def _read_receipt(self, message: Message, disposition: str) -> str:
        """An MDN: a system event on the ticket, once per reply (a retried MDN adds nothing)."""
        for earlier in await self.hub.reads.list_messages(message.conversation_id):
            if earlier.kind is MessageKind.EVENT and (earlier.raw or {}).get("read_receipt_for") == message.id:
                return "250 2.0.0 OK: read receipt already recorded"
        params = {"disposition": disposition[:200] or "displayed"}  # each agent's inbox says it in their language
        raw, once = {"read_receipt_for": message.id}, f"read_receipt:{message.id}"  # once, whichever hub reads it
        await self.hub.post_event(message.conversation_id, "event.read_receipt", params, raw=raw, once=once)
        self.hub.message_changed(message.conversation_id, message.id, read=True)
        return "250 2.0.0 OK: read receipt recorded"

    # -- outbound -------------------------------------------------------------------------
    async def send(self, out: Outbound) -> Sent:
        self._sender()  # a channel that cannot send says so before anything is charged
        to = out.address if "@" in out.address else out.contact.email
        if not to:
            raise PermanentDeliveryError("the customer has no email address")
        charged = await self._charge_auto_reply(out, to)
        try:
            return await self._send_mail(out, to)
        except BaseException:
            if charged:  # the budget counts mail that left: a relay outage spends none of it
                self.auto_replies.give_back(to)
                self._rounds.pop(charged, None)
            raise

    async def _charge_auto_reply(self, out: Outbound, to: str) -> str:
        """Take a slot of the loop budget for a bot's mail (see adapters/email/loops.py):
        one per round, so a customer's own mail may get several bot replies; the round's
        key when a slot was taken, "" when none was needed."""
        if out.message.author_type is not AuthorType.BOT:
            return ""
        round_key = budget_round(await self.hub.reads.list_messages(out.conversation.id), out.message)
        if round_key in self._rounds:
            return ""  # this round already paid
        if self.auto_replies.take(to) is not None:
            raise PermanentDeliveryError(
                f"not sent: more than {self.settings.max_auto_replies_per_hour} automatic replies to {to} in an hour",
                code="auto_reply_budget",
            )
        self._rounds[round_key] = None
        while len(self._rounds) > MAX_ROUNDS_KEPT:  # oldest first: memory stays bounded
            del self._rounds[next(iter(self._rounds))]
        return round_key

    async def _send_mail(self, out: Outbound, to: str) -> Sent:
        mail, data = await self.render(out, to)
        await self._relay(data, envelope_recipients(mail))
        return Sent(external_id=str(mail["Message-ID"]))

    async def send_mail(self, recipients: list[str], subject: str, text: str) -> None:
        """A plain mail from the channel's address to staff (a plugin's report), through the
        same relay as replies; RetryableDeliveryError / PermanentDeliveryError as `send`."""
        self._sender()
        mail = EmailMessage()
        mail["From"] = self.address
        mail["To"] = ", ".join(recipients)
        mail["Subject"] = subject
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = our_message_id(new_id(), self.domain)
        mail.set_content(text)
        await self._relay(mail.as_bytes(), recipients)

    def _sender(self) -> EmailAdapter:
        """The channel whose relay sends this one's mail: itself when it has an smtp_host, else
        its relay_channel; PermanentDeliveryError when there is none (a receive-only channel)."""
        if self.settings.smtp_host:
            return self
        if self.settings.relay_channel:
            # The outbox starts before the channels: a reply left from before a restart may come first.
            relay = self._hub.channel_adapter(self.settings.relay_channel) if self._hub is not None else None
            if isinstance(relay, EmailAdapter) and relay.settings.smtp_host:
                return relay
            raise RetryableDeliveryError(
                f"channel {self.name}: its relay_channel {self.settings.relay_channel!r} has not started yet"
            )
        raise PermanentDeliveryError(
            f"channel {self.name} has no smtp_host and no relay_channel: it only receives mail", code="receive_only"
        )

    async def _relay(self, data: bytes, recipients: list[str]) -> None:
        """Hand a mail to the SMTP relay (this channel's, or its relay_channel's: the mail and
        its envelope stay from this channel's address); a refusal or an outage as a delivery error."""
        relay = self._sender()
        settings = relay.settings
        try:
            await aiosmtplib.send(
                data,
                sender=self.address,
                recipients=recipients,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user or None,
                password=settings.smtp_password or None,
                use_tls=settings.smtp_tls == "tls",
                start_tls=settings.smtp_tls == "starttls",
                tls_context=relay._client_tls,
                timeout=settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            reason = "; ".join(f"{e.code} {e.message}" for e in exc.recipients)
            if all(400 <= code < 500 for code in codes):
                raise RetryableDeliveryError(reason) from exc
            raise PermanentDeliveryError(reason) from exc
        except aiosmtplib.SMTPResponseException as exc:
            reason = f"{exc.code} {exc.message}"
            if 400 <= exc.code < 500:
                raise RetryableDeliveryError(reason) from exc
            raise PermanentDeliveryError(reason) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RetryableDeliveryError(f"{exc.__class__.__name__}: {exc}") from exc

    async def render(self, out: Outbound, to: str) -> tuple[EmailMessage, bytes]:
        """The reply as a mail and as the bytes to send. Encoding and flattening a big reply
        (base64 of its attachments) is long CPU work: it runs in a thread, off the loop."""
        mail = await self.compose(out, to)
        return mail, await asyncio.to_thread(mail.as_bytes)

    async def compose(self, out: Outbound, to: str) -> EmailMessage:
        """The reply as a mail. What needs the store or disk is read here; the MIME work
        (encoding attachments) runs in a thread, off the event loop."""
        conversation, message = out.conversation, out.message
        if "page" in (message.raw or {}):
            return await asyncio.to_thread(self._compose_page, out, to)
        thread = await self.hub.reads.list_messages(conversation.id)
        ids: list[str] = []
        last_inbound = ""
        # People's replies keep the thread's participants unless the agent chose the Cc
        # explicitly (the `cc` of the reply, kept in the message's raw dict; [] for none).
        chosen = (message.raw or {}).get("cc")
        copied = [str(p) for p in chosen] if isinstance(chosen, list) else []
        # A merge may have brought another customer's mails onto the ticket: their Message-IDs
        # are none of these recipients' to see, nor to thread on.
        recipients = {to.lower(), *(p.lower() for p in [*conversation.participants, *copied]), ""}
        for earlier in thread:
            if earlier.id == message.id:
                # only what came before it: two bot mails queued in one instant (a greeting and a
                # hand-off) each named the other in References (a trial)
                break
            if earlier.kind is not MessageKind.MESSAGE:
                continue
            if (earlier.raw or {}).get("merged_from") and earlier.customer_address.lower() not in recipients:
                continue
            if earlier.direction is Direction.INBOUND and earlier.channel == self.name:
                # Only a mail's own Message-ID: a reply through the status page ("status-page:…")
                # or a mail that had none (a digest) is no mail to thread on (a trial's client lost it).
                header_id = str((earlier.raw or {}).get("message_id") or earlier.external_id)
                if _MESSAGE_ID.fullmatch(header_id) and not header_id.endswith(f"{MADE_UP_ID}>"):
                    ids.append(header_id)
                    last_inbound = header_id
            elif earlier.direction is Direction.OUTBOUND and earlier.channel == self.name:
                ids.append(our_message_id(earlier.id, self.domain))
        headers: dict[str, str] = {"From": formataddr((self.settings.from_name, self.address)), "To": to}
        automatic = message.author_type in (AuthorType.BOT, AuthorType.SYSTEM)
        # A robot answers the sender alone: a mail listing fifty addresses must not make the
        # hub write to fifty strangers. People's replies keep the thread's Cc (or the agent's).
        people = chosen if isinstance(chosen, list) else conversation.participants
        cc = [] if automatic else [p for p in dict.fromkeys(people) if p != to and p not in self.own]
        if cc:
            headers["Cc"] = ", ".join(cc)
        if self.settings.reply_to:
            headers["Reply-To"] = self.settings.reply_to
        token = self.settings.subject_token.format(number=conversation.number)
        # A ticket from another channel (the web chat) has a subject a visitor wrote: never
        # put that in a mail from the support address; the hub's own is in the customer's
        # language. A subject an agent gave the ticket is the support's own, on any channel.
        own = _renamed(thread) or (
            conversation.channel == self.name and not _subject_made_up(conversation, thread, self.name, self.token)
        )
        subject = (conversation.subject if own else "") or hub_texts(self._subject_language(out, thread)).get(
            "email.subject"
        )
        headers["Subject"] = f"{'Re: ' if last_inbound else ''}{subject} {token}"
        headers["Message-ID"] = our_message_id(message.id, self.domain)
        headers["Date"] = format_datetime(datetime.now(UTC))
        if last_inbound:
            headers["In-Reply-To"] = last_inbound
        if ids:
            headers["References"] = " ".join(ids[-20:])
        if automatic:
            headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: robots must not answer this
        headers["X-Helpline-Ticket"] = str(conversation.number)
        files: list[tuple[str, str, bytes]] = []
        for attachment in message.attachments:
            blob = await self.hub.open_blob(attachment.blob_ref)
            if blob is not None:  # a mail carries its files whole
                files.append((attachment.name, attachment.content_type, await blob.read()))
        footer = self._status_footer(out, private=not cc)
        text = f"{message.text}\n\n-- \n{footer}" if footer else message.text
        # A message with its own (sanitised) HTML, a bot's article answer, keeps it; else the text's.
        html = (
            message.html + (html_for_text(f"-- \n{footer}") if footer else "") if message.html else html_for_text(text)
        )
        return await asyncio.to_thread(build_mail, headers, text, files, html)

    def _compose_page(self, out: Outbound, to: str) -> EmailMessage:
        """A page to an agent's own address: not part of the customer's thread (its own
        Message-ID form, no References, no ticket token or customer's subject), so a reply
        to it comes back as a page reply, never as the customer's message."""
        message = out.message
        page = (message.raw or {}).get("page") or {}
        language = best_locale(str(page.get("language") or ""), self.hub.language)
        headers = {
            "From": formataddr((self.settings.from_name, self.address)),
            "To": to,
            "Subject": hub_texts(language).get("page.subject", number=str(out.conversation.number)),
            "Message-ID": page_message_id(message.id, self.domain),
            "Date": format_datetime(datetime.now(UTC)),
            "Auto-Submitted": "auto-generated",  # RFC 3834: no auto-reply to a page
        }
        return build_mail(headers, message.text, [])

    def _mail_language(self, out: Outbound) -> str:
        """What the hub adds to a mail's text (the status footer) is in the language of that
        text (an agent's English reply to a contact whose client says zh-CN), else the
        contact's, else the hub's. The subject keeps one language: _subject_language."""
        return best_locale(main_language(out.message.text) or out.contact.language, self.hub.language)

    def _subject_language(self, out: Outbound, thread: list[Message]) -> str:
        """The hub's subject for a ticket with none stays one across its thread (mail programs
        thread by it): in the contact's language, else that of the customer's first words,
        else the hub's; not each reply's (a bot's Chinese greeting, an agent's English reply)."""
        own = own_mails(thread, out.conversation)
        first = next((m.text for m in own if m.direction is Direction.INBOUND and m.text.strip()), "")
        return best_locale(out.contact.language or main_language(first), self.hub.language)

    def _status_footer(self, out: Outbound, *, private: bool) -> str:
        """A footer linking to the ticket's status page (when it is on and the text does not link
        to it already), "" for none. Only in mail to the customer alone: whoever holds the link
        reads the whole ticket, so a mail that also goes to Cc'd people carries none."""
        if f"/status/{out.conversation.number}." in out.message.text:
            return ""  # the text links to it already (the greeting does): once is enough
        if (out.message.raw or {}).get(NO_STATUS_LINK):
            return ""  # to an address nobody has confirmed yet (a visitor's opt-in code)
        if only_a_question(out.conversation):
            # a ticket kept only for a status question: its page shows nothing of the ticket the
            # answer is about (a trial's "you have no open tickets" linked "your ticket" there)
            return ""
        language = self._mail_language(out)
        link = self.hub.status_link(out.conversation, language) if private else ""
        return texts("progress", language).get("progress.link", url=link) if link else ""


_MESSAGE_ID = re.compile(r"<[^<>\s]+>")  # a msg-id as References and In-Reply-To take it (some lack "@")


def _renamed(thread: list[Message]) -> bool:
    """An agent gave the ticket its subject (the event a rename leaves in the thread)."""
    return any(
        m.kind is MessageKind.EVENT and ((m.raw or {}).get("event") or {}).get("key") == "event.subject_changed"
        for m in thread
    )


def _subject_made_up(conversation: Conversation, thread: list[Message], channel: str, token: re.Pattern[str]) -> bool:
    """The ticket's subject is not one its customer wrote: the mail that opened it had none
    (or only "Re:", "Fwd:" or a ticket token), and the hub took its first line ("(empty mail)"
    for a photo alone), which no reply should answer "Re:" to. A subject an agent gave the
    ticket since is theirs: the caller asks _renamed first. Mails a merge brought from another
    customer's ticket say nothing of this one's subject (they may be older)."""
    for message in own_mails(thread, conversation):
        if message.direction is Direction.INBOUND and message.kind is MessageKind.MESSAGE:
            if message.channel != channel:
                return False
            written = _strip_reply_prefix(token.sub("", str((message.raw or {}).get("subject", "")))).strip()
            files = [a.name for a in message.attachments]
            return not written and conversation.subject == subject_from("", message.text, files)
    return False


# helpline_requests_refused_total{channel="email",reason}: by the reply's enhanced status code.
REFUSALS = {"5.3.4": "too_large", "5.6.0": "unreadable", "5.1.1": "unknown_recipient"}


def refusal_reason(reply: str) -> str:
    """The metric's reason for a 5xx answer to a mail: too_large, unreadable (no sender, headers
    no parser reads, a message the hub refuses), unknown_recipient."""
    code = reply.split(" ", 2)[1] if reply.count(" ") >= 1 else ""
    return REFUSALS.get(code, "refused")


MADE_UP_ID = "@no-message-id"  # the domain of the key a mail without a Message-ID is stored under


def build_mail(headers: dict[str, str], text: str, files: list[tuple[str, str, bytes]], html: str = "") -> EmailMessage:
    """A reply: its headers, the text with an HTML alternative (`html`, else the text's), and its files."""
    mail = EmailMessage()
    for key, value in headers.items():
        mail[key] = value
    mail.set_content(text)
    mail.add_alternative(html or html_for_text(text), subtype="html")
    for name, content_type, data in files:
        maintype, _, subtype = content_type.partition("/")
        mail.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=name)
    return mail


def envelope_recipients(mail: EmailMessage) -> list[str]:
    """Everyone a composed mail is addressed to (To and Cc), for the SMTP envelope."""
    return [address for _name, address in getaddresses(mail.get_all("To", []) + mail.get_all("Cc", []))]


def kept_participants(addresses: list[str], *, exclude: set[str], limit: int) -> tuple[str, ...]:
    """The people of one mail kept on its ticket: each once, never ourselves or the
    sender, and at most `limit` of them (a mail may list hundreds)."""
    kept = dict.fromkeys(a for a in addresses if a not in exclude)
    return tuple(kept)[:limit]


class _Listener(SMTP):
    """aiosmtpd's server, saying what it refuses itself: a mail over max_message_bytes is
    refused before any handler sees it (552 for MAIL FROM's SIZE, or once its data passes the
    limit), which went unlogged and uncounted (a trial)."""

    def __init__(self, adapter: EmailAdapter, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adapter = adapter
        self.mail_from = ""  # MAIL FROM's address as given: a SIZE refusal comes before the envelope has it

    @functools.wraps(SMTP.smtp_MAIL)  # keeps aiosmtpd's syntax marks: HELP still lists MAIL
    async def smtp_MAIL(self, arg: str) -> None:
        found = re.search(r"<([^<>]*)>", arg or "")
        self.mail_from = found.group(1) if found else ""
        await super().smtp_MAIL(arg)

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd's own words; the handler's 552 is "552 5.3.4", logged and counted where it is said
        if isinstance(status, str) and status.startswith("552 Error"):
            limit = self.adapter.settings.max_message_bytes
            sender = self.mail_from or "<>"
            self.adapter.log.warning("refused a mail from %s: larger than %d bytes (%s)", sender, limit, status)
            self.adapter.hub.note_refused(self.adapter.name, "too_large")
        await super().push(status)


class _Handler:
    """aiosmtpd's handler: which recipients we take, and what we do with the data."""

    def __init__(self, adapter: EmailAdapter) -> None:
        self.adapter = adapter

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """aiosmtpd's EHLO answer, without its AUTH line when the channel has no listen_user:
        a sender offered AUTH tries it, and every login would fail (535)."""
        session.host_name = hostname  # what aiosmtpd does itself when no handler answers EHLO
        if self.adapter.settings.listen_user:
            return responses
        return [line for line in responses if not line.startswith("250-AUTH")]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if normalise_address(address) not in self.adapter.accepted:
            self.adapter.hub.note_refused(self.adapter.name, "unknown_recipient")
            held = self.adapter.refusal_log.allow()
            if held is not None:  # no Message-ID yet at this step: the envelope is all there is to name it by
                more = f" ({held} more refused since the last such line)" if held else ""
                self.adapter.log.info(
                    "refused mail for %s from %s: no such mailbox here%s", address, envelope.mail_from, more
                )
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        try:
            sender = (envelope.mail_from or "").strip()
            reply = await self.adapter.receive(raw, envelope_sender="" if sender in ("", "<>") else sender)
        except Exception:  # even the raw mail could not be stored: the sending server will retry
            log.exception("mail from %s could not be processed", envelope.mail_from)
            return "451 4.3.0 Temporary failure: please retry later"
        if reply.startswith("5"):
            log.warning("refused a mail from %s (%s): %s", envelope.mail_from, message_id_of(raw), reply)
        return reply


def quiet_mail_libraries() -> None:
    for name, least in MAIL_LIBRARY_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < least:
            logger.setLevel(least)


def holds_secrets(raw: bytes, mail: ParsedMail) -> bool:
    """Whether the mail shows a secret a customer should not have sent: in its decoded text,
    HTML or subject, or in its bytes read as ASCII (quoted-printable soft breaks joined)."""
    as_sent = raw.replace(b"=\r\n", b"").replace(b"=\n", b"").decode("latin-1")
    return any(find_secrets(part) for part in (mail.text, visible_text(mail.html), mail.subject, as_sent))


def _strip_reply_prefix(subject: str) -> str:
    return re.sub(r"^[ \t]*((re|fw|fwd|aw|sv|回复|答复|转发)[ \t]*[:：][ \t]*)+", "", subject, flags=re.I).strip()


def mail_language(raw: bytes) -> str:
    """The writer's language as the mail says it: Content-Language (RFC 3282), else the
    Accept-Language some clients send; "" when neither is there (the hub then guesses)."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw, headersonly=True)
    for name in ("Content-Language", "Accept-Language"):
        tags = accept_language(str(headers.get(name) or ""))
        if tags:
            return tags[0]
    return ""
