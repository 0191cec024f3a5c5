"""Mail from strangers can neither freeze the hub nor make it write to strangers
(issue 9.14, 9.16, 10.13), over the real SMTP listener and a real outgoing relay."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable
from email import contentmanager, message_from_bytes, policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import Attachment, AuthorType, Direction, Message, MessageKind, new_id, utcnow
from hub.app import Hub, build_app
from hub.sdk import Outbound
from tests.email_servers import Sink
from tests.helpers import eventually, running_hub
from tests.test_email import SUPPORT, channel, customer_mail, email_config, mail_in, sink, ticket

__all__ = ["sink"]  # the fixture, shared with test_email


def html_mail(subject: str, html: str, *, sender: str = "Li Na <li.na@gmail.com>") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, SUPPORT, subject
    mail["Message-ID"] = make_msgid(domain="gmail.com")
    mail.set_content(html, subtype="html")
    return mail


async def worst_latency(client: TestClient, work: Awaitable[Any]) -> float:
    """The slowest /healthz answer while `work` runs (every answer must be 200)."""
    task = asyncio.ensure_future(work)
    worst = 0.0
    while not task.done():
        started = time.perf_counter()
        resp = await client.get("/healthz")
        assert resp.status == 200
        worst = max(worst, time.perf_counter() - started)
        await asyncio.sleep(0.01)
    await task
    return worst


async def test_hostile_mail_is_read_without_stalling_the_hub(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    """32 KB of blank lines (13.8 s of parsing before) and 700 KB of nested <div>s (5.8 s)."""
    hub = Hub(email_config(tmp_path, sink[1], max_message_bytes=2_000_000))
    hub.plugins.clear()
    async with TestClient(TestServer(build_app(hub))) as client:
        blank = customer_mail("blank lines", "hello\n" + "\n" * 32_000 + "bye")
        nested = html_mail("nested", "<div>" * 58_000 + "deep inside" + "</div>" * 58_000)

        async def send_both() -> None:
            await mail_in(hub, blank)
            await mail_in(hub, nested)

        # Generous on purpose: a loaded machine may deschedule the process for a while, but
        # reading either mail on the loop held every answer back for 5.8 s to 13.8 s.
        assert await worst_latency(client, send_both()) < 4.0
        first, second = [(await hub.store.tickets.list_messages((await ticket(hub, n)).id))[0] for n in (1000, 1001)]
        assert first.text == "hello\n\nbye"
        assert second.text == "deep inside" and "deep inside" in second.html


async def test_a_mail_slower_than_the_budget_is_kept_unread_with_its_original(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    async with running_hub(
        email_config(tmp_path, sink[1], max_message_bytes=2_000_000, parse_timeout_seconds=0.2)
    ) as hub:
        heavy = html_mail("Order 5531", "<p>x" * 220_000)  # ~1.5 s to read, and its HTML too big to keep
        await mail_in(hub, heavy)  # accepted (250): never refused for ever, never lost
        conv = await ticket(hub, 1000)
        [message, *_bot] = await hub.store.tickets.list_messages(conv.id)
        assert conv.subject == "Order 5531" and message.raw is not None
        assert "could not be read within 0.2 s" in message.text and message.raw["unreadable"]
        [original] = message.attachments
        assert (original.name, original.content_type) == ("original.eml", "message/rfc822")
        path = hub.blobs.path(original.blob_ref)
        assert path is not None and path.read_bytes().replace(b"\r\n", b"\n") == heavy.as_bytes()

        # the reader that ran out of time was replaced: the next mail is read as usual
        await mail_in(hub, customer_mail("Re: Order 5531 [#1000]", "Any news?"))
        texts = [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.direction is Direction.INBOUND]
        assert texts[-1] == "Any news?"


async def test_mail_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    """The listener refuses it during DATA; mail fetched over IMAP is checked the same way."""
    async with running_hub(email_config(tmp_path, sink[1], max_message_bytes=50_000)) as hub:
        reply = await channel(hub).receive(customer_mail("big", "x" * 60_000).as_bytes())
        assert reply.startswith("552")
        assert await hub.store.tickets.get_conversation_by_number(1000) is None


async def test_the_bot_answers_the_sender_alone_and_participants_are_capped(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    outbox, _port = sink
    async with running_hub(email_config(tmp_path, sink[1])) as hub:  # max_participants: 10 by default
        listed = ", ".join(f"person{i}@example.org" for i in range(50))
        mail = customer_mail("Hello all", "hi", Cc="person0@example.org, boss@example.org")
        mail.replace_header("To", f"{SUPPORT}, {listed}")
        await mail_in(hub, mail)
        await eventually(lambda: outbox.mails)  # the echo bot's greeting
        assert outbox.envelopes[0].rcpt_tos == ["li.na@gmail.com"] and "Cc" not in outbox.mails[0]
        conv = await ticket(hub, 1000)
        assert conv.participants == [f"person{i}@example.org" for i in range(10)]

        await hub.actions.send(conv, "Answer for everyone", author_type=AuthorType.AGENT, author_id="agent-1")
        await eventually(lambda: len(outbox.mails) == 2)
        assert sorted(outbox.envelopes[1].rcpt_tos) == sorted(["li.na@gmail.com", *conv.participants])


async def test_a_big_reply_is_composed_off_the_loop(
    tmp_path: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Composing and flattening a 10 MiB reply stalled the event loop for 263 ms. Where the MIME
    work runs is asserted, not how long the loop waited: a loaded machine may deschedule the
    whole process, which no code controls."""
    async with running_hub(email_config(tmp_path, sink[1])) as hub:
        hub.plugins.clear()
        await mail_in(hub, customer_mail("Logs please", "Can you send the logs?"))
        conv = await ticket(hub, 1000)
        contact = await hub.store.contacts.get_contact(conv.contact_id)
        assert contact is not None
        data = bytes(range(256)) * (4 * 1024)  # 1 MiB
        ref = await hub.blobs.put(data)
        reply = Message(
            id=new_id(),
            conversation_id=conv.id,
            channel="email",
            direction=Direction.OUTBOUND,
            kind=MessageKind.MESSAGE,
            author_type=AuthorType.AGENT,
            author_id="agent-1",
            text="Here they are.",
            attachments=[
                Attachment(name="logs.bin", content_type="application/octet-stream", size=len(data), blob_ref=ref)
            ],
            created_at=utcnow(),
        )
        ran_on = mime_work_threads(monkeypatch, len(data), reply.id)
        out = Outbound(message=reply, conversation=conv, contact=contact, address="li.na@gmail.com")
        _mail, raw = await channel(hub).render(out, "li.na@gmail.com")
        assert set(ran_on) == {"encode", "flatten"}, ran_on  # both steps seen: the check can fail
        assert threading.get_ident() not in ran_on.values(), "MIME work ran on the event loop's thread"
        [attachment] = list(message_from_bytes(raw, policy=policy.default).iter_attachments())
        assert attachment.get_content() == data


def mime_work_threads(monkeypatch: pytest.MonkeyPatch, size: int, message_id: str) -> dict[str, int]:
    """Record the thread that base64-encodes an attachment of `size` bytes and the thread that
    flattens the mail of `message_id` (the two long CPU steps of a big reply)."""
    ran_on: dict[str, int] = {}
    encode, flatten = contentmanager._encode_base64, BytesGenerator.flatten  # type: ignore[attr-defined]

    def recording_encode(data: bytes, max_line_length: int) -> str:
        if len(data) == size:
            ran_on["encode"] = threading.get_ident()
        return encode(data, max_line_length)

    def recording_flatten(self: BytesGenerator, msg: Any, *args: Any, **kwargs: Any) -> None:
        if message_id in str(msg.get("Message-ID", "")):
            ran_on["flatten"] = threading.get_ident()
        flatten(self, msg, *args, **kwargs)

    monkeypatch.setattr(contentmanager, "_encode_base64", recording_encode)
    monkeypatch.setattr(BytesGenerator, "flatten", recording_flatten)
    return ran_on
