"""Mail as it really arrives (issue 11), through the real SMTP listener: raw 8-bit headers,
encoded names with brackets, answers between quotes, auto-replies without Auto-Submitted,
quote headers of Chinese and Japanese clients, lying iso-8859-1, list-rewritten senders,
read receipts, bounces that are not DSNs, long HTML, and what the API shows of a mail."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import AuthorType, ConversationQuery, DeliveryStatus, Direction, MessageKind, Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.thread_events import event_of
from tests import mail_corpus as corpus
from tests import mail_wild as wild
from tests.conftest import free_port
from tests.email_servers import Sink
from tests.helpers import eventually, make_config, running_hub
from tests.test_email import SUPPORT, channel, customer_mail, email_config, mail_in, sink, ticket

__all__ = ["sink"]  # the fixture, shared with test_email


@pytest.fixture
async def hub(tmp_path: Path, sink: tuple[Sink, int]) -> AsyncIterator[Hub]:
    async with running_hub(email_config(tmp_path, sink[1])) as hub:
        yield hub


async def smtp_in(hub: Hub, raw: bytes, sender: str = "someone@example.org") -> str:
    """Send one raw mail to the listener; its final reply (raises on 4xx/5xx)."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=channel(hub).listen_port) as client:
        _refused, reply = await client.sendmail(sender, [SUPPORT], raw)  # "" is MAIL FROM:<>
    return reply


async def inbound(hub: Hub, number: int) -> Any:
    conv = await ticket(hub, number)
    messages = await hub.store.tickets.list_messages(conv.id)
    [message] = [m for m in messages if m.kind is MessageKind.MESSAGE and m.direction is Direction.INBOUND]
    return conv, message


async def our_reply(hub: Hub, outbox: Sink, text: str = "Hello!") -> str:
    """A ticket and an agent's reply that left; the reply's Message-ID."""
    await mail_in(hub, customer_mail("Order", "where is it?", sender="nobody@gmail.com"), sender="nobody@gmail.com")
    conv = await ticket(hub, 1000)
    reply = await hub.actions.send(conv, text, author_type=AuthorType.AGENT, author_id="agent-1")
    message_id = f"<{reply.id}@support.example.com>"
    await eventually(lambda: any(m["Message-ID"] == message_id for m in outbox.mails))
    return reply.id


# 11.1
@pytest.mark.parametrize(
    ("raw", "name", "subject"),
    [
        (wild.raw_8bit_utf8_headers(), "José Müller", "Rückerstattung für Bestellung 1042 – dringend"),
        (wild.raw_8bit_cp1252_headers(), "Zoë Lefèvre", "Problème de facture – «urgent»"),
        (wild.raw_8bit_gbk_headers(), "王五", "密码忘了"),
    ],
)
async def test_raw_8bit_headers_are_decoded_and_stored_at_once(hub: Hub, raw: bytes, name: str, subject: str) -> None:
    assert "ticket #1000" in await smtp_in(hub, raw)
    conv, message = await inbound(hub, 1000)
    contact = await hub.store.contacts.get_contact(conv.contact_id)
    assert contact is not None and contact.name == name
    assert conv.subject == subject and message.raw["subject"] == subject
    assert "\ufffd" not in contact.name + conv.subject
    assert "raw_8bit_headers" in message.raw["flags"]  # however they were read (README)


async def test_control_characters_in_a_mail_are_kept_nowhere_an_agent_reads(hub: Hub) -> None:
    """A trial's mail with a bell and a NUL: the ticket and its text were clean, the message's
    subject and full text (the API's, the inbox's "show the whole mail") kept both."""
    raw = (
        b"From: Li Na <li.na@example.cn>\r\nTo: help@support.example.com\r\nMessage-ID: <bell-1@example.cn>\r\n"
        b"Subject: Bell\x07 and NUL\x00 here\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Body with bell\x07 and NUL\x00 end.\r\n"
    )
    assert "ticket #1000" in await smtp_in(hub, raw)
    conv, message = await inbound(hub, 1000)
    assert conv.subject == message.raw["subject"] == "Bell and NUL here"
    assert message.text == "Body with bell and NUL end." and "Body with bell and NUL end." in message.raw["full_text"]


async def test_a_display_name_of_any_length_is_cut_to_what_a_name_may_be(hub: Hub) -> None:
    """A mail's display name had no limit where the webhook's is 200 characters: it is cut (the
    person writing cannot be asked to shorten it), the address kept whole."""
    name = "王" * 150 + " Very Long Display Name" * 10
    raw = (
        f"From: =?utf-8?b?{base64.b64encode(name.encode()).decode()}?= <long.name@example.cn>\r\n"
        "To: help@support.example.com\r\nMessage-ID: <long-name-1@example.cn>\r\nSubject: Hi\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    ).encode()
    assert "ticket #1000" in await smtp_in(hub, raw)
    conv, message = await inbound(hub, 1000)
    contact = await hub.store.contacts.get_contact(conv.contact_id)
    assert contact is not None and len(contact.name) == 200 and contact.name == name[:199] + "…"
    assert contact.email == "long.name@example.cn"


async def test_a_mail_that_fails_twice_is_stored_raw_instead_of_retried_for_days(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug no test foresaw")

    monkeypatch.setattr(channel(hub).reader, "parse", broken)
    mail = customer_mail("Broken", "text")
    with pytest.raises(aiosmtplib.SMTPDataError) as first:
        await mail_in(hub, mail)
    assert first.value.code == 451
    await mail_in(hub, mail)  # the sending server's retry: accepted, kept raw for an agent
    conv, message = await inbound(hub, 1000)
    assert conv.subject == "Broken" and message.raw["flags"] == ["unreadable", "truncated"]
    assert [a.name for a in message.attachments] == ["original.eml"] and "could not be read" in message.text
    assert message.automatic  # nobody knows what it is: no bot answers it


# 11.2
async def test_an_encoded_name_with_brackets_keeps_its_address(hub: Hub) -> None:
    assert "ticket #1000" in await smtp_in(hub, wild.big5_name_with_brackets())
    conv, message = await inbound(hub, 1000)
    contact = await hub.store.contacts.get_contact(conv.contact_id)
    assert contact is not None and contact.name == "Stanley Chang[昌育德]"
    assert contact.email == "stanley_chang@realtek.com" and conv.subject == "驅動程式問題"


# 11.3
async def test_answers_below_and_between_quotes_are_shown(hub: Hub) -> None:
    await smtp_in(hub, wild.greeting_then_inline_answers())
    await smtp_in(hub, wild.bottom_posted_answer())
    _conv, inline = await inbound(hub, 1000)
    assert inline.text == "Hi,\n\nVersion 4.2, on Debian 12.\n\nNo, only after about an hour of use.\n\nThanks,\nKai"
    assert "> Which version do you run?" in inline.raw["full_text"]
    _conv, bottom = await inbound(hub, 1001)
    assert bottom.text == "Hello,\n\nAttached to the ticket now, the crash is at 14:02."


# 11.4
async def test_auto_replies_without_auto_submitted_get_no_greeting(hub: Hub, sink: tuple[Sink, int]) -> None:
    outbox, _port = sink
    await smtp_in(hub, wild.exchange_out_of_office(), sender="")  # Exchange's null envelope sender
    await smtp_in(hub, wild.icloud_vacation(), sender="ana@icloud.com")
    await smtp_in(hub, wild.qq_auto_reply(), sender="10001@qq.com")
    await smtp_in(hub, wild.subject_only_auto_reply(), sender="lin.mei@example.cn")
    plain = wild.exchange_out_of_office().replace(b"X-Auto-Response-Suppress: All\r\n", b"")
    plain = plain.replace(b"Message-ID: <oof-1@", b"Message-ID: <oof-2@")
    await smtp_in(hub, plain, sender="")  # only the null envelope sender says it is automatic
    await mail_in(hub, customer_mail("A person", "hello"))
    await eventually(lambda: outbox.mails)
    await asyncio.sleep(0.3)  # the bot had the time to answer the machines too
    assert [e.rcpt_tos for e in outbox.envelopes] == [["li.na@gmail.com"]]
    items, _ = await hub.store.inbox.list_conversations(ConversationQuery(limit=10))
    machines = [
        m.automatic
        for c in items
        for m in await hub.store.tickets.list_messages(c.id)
        if m.direction is Direction.INBOUND and c.subject != "A person"
    ]
    assert machines == [True] * 5


async def test_a_vacation_reply_leaves_a_resolved_or_pending_ticket_as_it_is(hub: Hub, sink: tuple[Sink, int]) -> None:
    """A trial: each "resolved" notice drew the customer's vacation reply, which reopened the
    ticket (three rounds). Kept in the thread; the status stays; a person's reply still reopens."""
    outbox, _port = sink
    reply_id = await our_reply(hub, outbox)
    conv = await ticket(hub, 1000)
    await hub.actions.update_conversation(conv, {"status": "resolved"})
    ours = f"<{reply_id}@support.example.com>"
    headers = {"In_Reply_To": ours, "References": ours}
    away = customer_mail("自动回复: Re: Order", "我正在休假，11月30日回来。", sender="nobody@gmail.com", **headers)
    away["Auto-Submitted"] = "auto-replied"
    await mail_in(hub, away, sender="nobody@gmail.com")
    kept = await ticket(hub, 1000)
    assert kept.status.value == "resolved"
    thread = await hub.store.tickets.list_messages(conv.id)
    assert [m.automatic for m in thread if m.direction is Direction.INBOUND] == [False, True]
    assert not any(m.kind is MessageKind.EVENT and "reopen" in str(m.raw) for m in thread)

    await hub.actions.update_conversation(kept, {"status": "pending"})  # waiting on the customer
    again = customer_mail("Automatic reply: Re: Order", "I am out of office.", sender="nobody@gmail.com", **headers)
    again["X-Autoreply"] = "yes"
    await mail_in(hub, again, sender="nobody@gmail.com")
    assert (await ticket(hub, 1000)).status.value == "pending"
    person = customer_mail("Re: Order", "Here is the order number: 5531.", sender="nobody@gmail.com", **headers)
    await mail_in(hub, person, sender="nobody@gmail.com")
    assert (await ticket(hub, 1000)).status.value == "open"
    assert await hub.store.tickets.get_conversation_by_number(1001) is None  # nothing opened a ticket


def encoded_from(address_line: str) -> bytes:
    word = base64.b64encode(address_line.encode()).decode()
    return (
        f"From: =?utf-8?B?{word}?=\r\nTo: {SUPPORT}\r\nSubject: hello\r\n"
        "Message-ID: <enc-1@example.cn>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n你好\r\n"
    ).encode()


async def inbound_of(hub: Hub, number: int) -> Any:
    conv = await ticket(hub, number)
    [message] = [m for m in await hub.store.tickets.list_messages(conv.id) if m.direction is Direction.INBOUND]
    return message


async def test_a_sender_address_hidden_in_an_encoded_word_is_believed_only_from_its_envelope(
    hub: Hub, sink: tuple[Sink, int]
) -> None:
    """A trial's From: =?utf-8?B?d3htQHFxLmV4YW1wbGU=?= (wxm@qq.example) sent by attacker@evil
    was filed under wxm and answered to wxm: no relay's DMARC check reads an encoded word. Kept
    unconfirmed (no bot answers, it vouches for nothing, it joins no ticket), not refused: a
    forwarder rewrites the envelope sender of real mail too (SRS)."""
    outbox, _port = sink
    await smtp_in(hub, encoded_from("wxm@qq.example"), sender="attacker@evil.example")
    forged = await inbound_of(hub, 1000)
    assert forged.automatic and "sender_unconfirmed" in (forged.raw or {}).get("flags", [])
    # the null sender with a Return-Path header of the sender's own writing confirms nothing (a review)
    nulled = b"Return-Path: <wxm@qq.example>\r\n" + encoded_from("wxm@qq.example").replace(b"<enc-1@", b"<enc-3@")
    await smtp_in(hub, nulled, sender="")
    assert "sender_unconfirmed" in ((await inbound_of(hub, 1001)).raw or {}).get("flags", [])
    # An old mailer that encodes the whole From, sending as itself, is read as before.
    await smtp_in(
        hub, encoded_from("张三 <zhang@example.cn>").replace(b"<enc-1@", b"<enc-4@"), sender="zhang@example.cn"
    )
    conv = await ticket(hub, 1002)
    contact = await hub.store.contacts.get_contact(conv.contact_id)
    assert conv.customer_address == "zhang@example.cn" and contact is not None and contact.name == "张三"
    assert not (await inbound_of(hub, 1002)).automatic
    # Over IMAP there is no envelope: the Return-Path the receiving server wrote stands for it.
    fetched = encoded_from("wxm@qq.example").replace(b"<enc-1@", b"<enc-2@")
    await channel(hub).receive(b"Return-Path: <wxm@qq.example>\r\n" + fetched)
    assert not (await inbound_of(hub, 1003)).automatic
    await eventually(lambda: [e.rcpt_tos for e in outbox.envelopes] == [["zhang@example.cn"], ["wxm@qq.example"]])


# 11.5
@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        (wild.apple_mail_zh_without_zai(), "好的，明天我再试一次。"),
        (wild.outlook_zh_original(), "附件是截图。"),
        (wild.foxmail_reply(), "已经收到退款，谢谢。"),
        (wild.traditional_chinese_reply(), "問題已經解決了。"),
        (wild.japanese_reply(), "ありがとうございます。解決しました。"),
    ],
)
async def test_quote_headers_of_chinese_and_japanese_clients(hub: Hub, raw: bytes, visible: str) -> None:
    await smtp_in(hub, raw)
    _conv, message = await inbound(hub, 1000)
    assert message.text == visible
    assert len(message.raw["full_text"]) > len(visible) + 10


# 11.6
async def test_iso_8859_1_declared_but_utf8_written_is_read_as_utf8(hub: Hub) -> None:
    await smtp_in(hub, wild.latin1_declared_utf8_body())
    conv, message = await inbound(hub, 1000)
    assert conv.subject == "DISCOVERÆ CARD statement"
    assert message.text == "Your DISCOVERÆ CARD statement is ready: café €12."


# 11.7 and 11.10
async def test_list_rewritten_senders_are_filed_under_the_person_and_answered_alone(
    hub: Hub, sink: tuple[Sink, int]
) -> None:
    outbox, _port = sink
    await smtp_in(hub, wild.list_rewritten("ann@example.com", "Ann Berg", 1))
    await smtp_in(hub, wild.list_rewritten("carl@example.net", "Carl Dahl", 2, google=True))
    names = []
    for number in (1000, 1001):
        conv, message = await inbound(hub, number)
        contact = await hub.store.contacts.get_contact(conv.contact_id)
        assert contact is not None
        names.append((contact.name, contact.email))
        assert conv.participants == [] and message.raw["flags"] == ["list_rewrite"]
    assert names == [("Ann Berg", "ann@example.com"), ("Carl Dahl", "carl@example.net")]
    conv = await ticket(hub, 1000)
    await hub.actions.send(conv, "Use the cursor parameter.", author_type=AuthorType.AGENT, author_id="agent-1")
    await eventually(lambda: outbox.envelopes)
    assert outbox.envelopes[0].rcpt_tos == ["ann@example.com"]


async def test_a_person_writing_on_through_the_list_stays_on_the_ticket_that_list_opened(hub: Hub) -> None:
    """A list-rewritten mail joins a ticket only one of that same list's mails is on: Ann's
    follow-up through the list joins hers; the same follow-up naming Ann through another
    "list" (any sender's own address) opens a ticket of its own."""
    await smtp_in(hub, wild.list_rewritten("ann@example.com", "Ann Berg", 1))
    follow_up = wild.list_rewritten("ann@example.com", "Ann Berg", 2).replace(
        b"Subject: Question 2 about the API", b"Subject: Re: Question 1 about the API [#1000]"
    )
    await smtp_in(hub, follow_up.replace(b"Date:", b"In-Reply-To: <list-1@lists.example.org>\r\nDate:", 1))
    first = await ticket(hub, 1000)
    assert len([m for m in await hub.store.tickets.list_messages(first.id) if m.kind is MessageKind.MESSAGE]) == 2
    forged = wild.list_rewritten("ann@example.com", "Ann Berg", 3).replace(
        b"users@lists.example.org", b"eve@example.net"
    )
    await smtp_in(hub, forged.replace(b"Date:", b"In-Reply-To: <list-1@lists.example.org>\r\nDate:", 1))
    assert (await ticket(hub, 1001)).id != first.id


# 11.8
async def test_a_read_receipt_notes_the_reply_read_and_never_failed(hub: Hub, sink: tuple[Sink, int]) -> None:
    reply_id = await our_reply(hub, sink[0])
    forged = wild.read_receipt(f"<{reply_id}@support.example.com>", "eve@example.net")
    assert "names none of the mail's recipients" in await smtp_in(hub, forged)  # only its reader's receipt counts
    receipt = wild.read_receipt(f"<{reply_id}@support.example.com>", "nobody@gmail.com")
    # a retried receipt adds nothing, also when two hub processes read it at once
    answers = await asyncio.gather(*(channel(hub).receive(receipt) for _ in range(3)))
    assert all("read receipt" in answer for answer in [*answers, await smtp_in(hub, receipt)])
    message = await hub.store.tickets.get_message(reply_id)
    assert message is not None and message.delivery is not None
    assert message.delivery.status is DeliveryStatus.SENT
    events = [m for m in await hub.store.tickets.list_messages(message.conversation_id) if m.kind is MessageKind.EVENT]
    # the protocol's words stay in the event's data, not in what agents read (a trial's zh agent
    # read 客户的邮件程序报告回复已读（manual-action/MDN-sent-manually; displayed）)
    assert [e.text for e in events] == ["The customer's mail program reported the reply as read."]
    assert event_of(events[0].raw).text("zh-CN") == "客户的邮件程序报告回复已读。"  # type: ignore[union-attr]
    assert events[0].raw is not None and events[0].raw["event"] == {  # for each agent's language
        "key": "event.read_receipt",
        "params": {"disposition": "manual-action/MDN-sent-manually; displayed"},
    }
    assert await hub.store.tickets.get_conversation_by_number(1001) is None


# 11.9
@pytest.mark.parametrize("bounce", [wild.gmail_text_bounce, wild.exim_text_bounce, wild.alimail_bounce])
async def test_bounces_that_are_not_dsns_mark_the_reply_failed(hub: Hub, sink: tuple[Sink, int], bounce: Any) -> None:
    reply_id = await our_reply(hub, sink[0])  # to nobody@gmail.com
    raw = bounce(f"<{reply_id}@support.example.com>", "nobody@gmail.com")
    assert "bounce recorded" in await smtp_in(hub, raw, sender="")
    message = await hub.store.tickets.get_message(reply_id)
    assert message is not None and message.delivery is not None
    assert message.delivery.status is DeliveryStatus.FAILED and "550 5.1.1" in message.delivery.error
    assert await hub.store.tickets.get_conversation_by_number(1001) is None


@pytest.mark.parametrize("bounce", [wild.gmail_text_bounce, wild.exim_text_bounce, wild.alimail_bounce, corpus.bounce])
async def test_a_bounce_for_someone_the_reply_was_not_sent_to_changes_nothing(
    hub: Hub, sink: tuple[Sink, int], bounce: Any
) -> None:
    """Anyone who has a reply's Message-ID can write a bounce for it: one naming an address
    the reply never went to (forged, or about a forwarded copy) leaves the reply sent."""
    reply_id = await our_reply(hub, sink[0])
    answer = await smtp_in(hub, bounce(f"<{reply_id}@support.example.com>", "eve@example.net"), sender="")
    assert "names none of the mail's recipients" in answer
    message = await hub.store.tickets.get_message(reply_id)
    assert message is not None and message.delivery is not None
    assert message.delivery.status is DeliveryStatus.SENT
    metrics = hub.metrics.render().decode()
    assert 'helpline_updates_ignored_total{channel="email",kind="foreign_report"} 1.0' in metrics
    assert 'helpline_deliveries_failed_total{channel="email"} 1.0' not in metrics
    assert await hub.store.tickets.get_conversation_by_number(1001) is None


def _dsn(original: str, blocks: list[tuple[str, str]], quoted_to: str) -> bytes:
    """A DSN with one block per (recipient, action), quoting the original's To."""
    codes = {"failed": ("5.1.1", "550 5.1.1 user unknown"), "delayed": ("4.4.1", "451 try later")}
    status = "".join(
        f"\r\nFinal-Recipient: rfc822; {who}\r\nAction: {action}\r\nStatus: {codes[action][0]}"
        f"\r\nDiagnostic-Code: smtp; {codes[action][1]}\r\n"
        for who, action in blocks
    )
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: help@support.example.com\r\n"
        "Subject: Delivery Status Notification\r\nMessage-ID: <dsn-mixed@mx.example.com>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nReport.\r\n"
        f"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n{status}"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nTo: {quoted_to}\r\nMessage-ID: {original}\r\n\r\n--b--\r\n"
    ).encode()


async def test_real_bounces_in_odd_shapes_still_fail_the_reply(hub: Hub, sink: tuple[Sink, int]) -> None:
    """A review: a Chinese bounce writing the address inside its sentence, a mailbox forwarded
    elsewhere (the DSN names the forward's address and quotes ours), and a DSN whose To block
    failed beside a delayed one."""
    to = "nobody@gmail.com"
    cases: list[Callable[[str], bytes]] = [
        lambda about: _glued_chinese_bounce(about, to),
        lambda about: _dsn(about, [("forwarded.to@other.example", "failed")], to),
        lambda about: _dsn(about, [("someone@else.example", "delayed"), (to, "failed")], to),
    ]
    for number, bounce in enumerate(cases):
        reply_id = await our_reply(hub, sink[0], text=f"reply {number}")
        answer = await smtp_in(hub, bounce(f"<{reply_id}@support.example.com>"), sender="")
        assert "bounce recorded" in answer, (number, answer)
        message = await hub.store.tickets.get_message(reply_id)
        assert message is not None and message.delivery is not None
        assert message.delivery.status is DeliveryStatus.FAILED
        assert not message.delivery.error.endswith("）")  # the sentence's closing bracket is not the reason's


def _glued_chinese_bounce(original: str, recipient: str) -> bytes:
    body = base64.b64encode(
        f"您发送到{recipient}的邮件无法送达。\n退信原因：收件人地址不存在（550 5.1.1 Mailbox not found）\n\n"
        f"Message-ID: {original}\n".encode()
    ).decode()
    return (
        "From: postmaster@163.com\r\nTo: help@support.example.com\r\n"
        f"Subject: =?utf-8?B?{base64.b64encode('系统退信'.encode()).decode()}?=\r\n"
        "Message-ID: <163-bounce@163.com>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{body}\r\n"
    ).encode()


async def reply_copied_to(hub: Hub, outbox: Sink, cc: str) -> tuple[Any, str]:
    """An agent's reply to nobody@gmail.com with `cc` copied, once it left; it and its Message-ID."""
    await mail_in(hub, customer_mail("Invoice", "please", sender="nobody@gmail.com"), sender="nobody@gmail.com")
    conv = await ticket(hub, 1000)
    reply = await hub.actions.send(
        conv, "Attached.", author_type=AuthorType.AGENT, author_id="agent-1", raw={"cc": [cc]}
    )
    message_id = f"<{reply.id}@support.example.com>"
    await eventually(lambda: any(m["Message-ID"] == message_id for m in outbox.mails))
    return reply, message_id


async def test_a_dsn_whose_to_is_only_delayed_leaves_the_reply_sent(hub: Hub, sink: tuple[Sink, int]) -> None:
    reply, message_id = await reply_copied_to(hub, sink[0], "boss@example.com")
    raw = _dsn(message_id, [("nobody@gmail.com", "delayed"), ("boss@example.com", "failed")], "nobody@gmail.com")
    assert "bounce of a copy recorded" in await smtp_in(hub, raw, sender="")
    message = await hub.store.tickets.get_message(reply.id)
    assert message is not None and message.delivery is not None and message.delivery.status is DeliveryStatus.SENT


async def test_a_bounced_copy_is_noted_once_and_the_reply_stays_sent(hub: Hub, sink: tuple[Sink, int]) -> None:
    reply, message_id = await reply_copied_to(hub, sink[0], "Boss@Example.com")
    conv = await ticket(hub, 1000)
    # a retried report adds nothing, also when two hub processes read it at once
    bounce = corpus.bounce(message_id, "boss@example.com")
    answers = [*await asyncio.gather(*(channel(hub).receive(bounce, envelope_sender="") for _ in range(3)))]
    answers.append(await smtp_in(hub, bounce, sender=""))
    assert all("bounce of a copy recorded" in answer for answer in answers)
    # the colleague's mail program says it was read: not the customer's reading, nor a stranger's report
    receipt = wild.read_receipt(message_id, "boss@example.com")
    assert "read receipt of a copy noted" in await smtp_in(hub, receipt)
    assert "foreign_report" not in hub.metrics.render().decode()
    message = await hub.store.tickets.get_message(reply.id)
    assert message is not None and message.delivery is not None
    assert message.delivery.status is DeliveryStatus.SENT
    events = [m for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.EVENT]
    bounced = [e for e in events if (e.raw or {}).get("event", {}).get("key") == "event.copy_bounced"]
    assert (
        len(bounced) == 1 and "boss@example.com" in bounced[0].text and "Recipient address rejected" in bounced[0].text
    )


async def test_a_bounce_naming_none_of_our_mails_is_kept_as_automatic_mail(hub: Hub, sink: tuple[Sink, int]) -> None:
    """README: with no Message-ID of ours in it there is no reply to mark; an agent gets it, no bot."""
    bounce = (
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        b"To: support@example.com\r\nSubject: Delivery Status Notification (Failure)\r\n"
        b"Message-ID: <bounce-1@mx.google.com>\r\nAuto-Submitted: auto-replied\r\n\r\n"
        b"Your message wasn't delivered to nobody@example.net because the address couldn't be found.\r\n"
        b"550 5.1.1 The email account that you tried to reach does not exist.\r\n"
    )
    assert "ticket #1000" in await smtp_in(hub, bounce, sender="")
    _conv, message = await inbound(hub, 1000)
    assert message.automatic

    async def handled() -> bool:
        found = await hub.store.tickets.get_message(message.id)
        return found is not None and found.plugins_done

    await eventually(handled)  # the echo bot had its turn, and did not answer
    assert sink[0].mails == []


# 11.12
async def test_a_reply_quoting_long_html_is_accepted_shortened_and_kept_whole(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    settings = {"type": "email", "address": SUPPORT, "listen_port": free_port(), "max_message_bytes": 600_000}
    config = make_config(tmp_path, {"channels": {"email": settings}, "tickets": {"max_text_chars": 20_000}})
    async with running_hub(config) as hub:
        assert "ticket #1000" in await smtp_in(hub, wild.long_html_reply(291_000))
        _conv, message = await inbound(hub, 1000)
        assert message.text.startswith("Yes, please go ahead with the exchange.") and len(message.text) <= 20_000
        assert 0 < len(message.html) <= 80_000 and "go ahead" in message.html
        assert "truncated" in message.raw["flags"]
        [original] = message.attachments
        assert original.name == "original.eml" and original.size > 291_000


def test_an_error_names_the_field_that_is_too_long() -> None:
    from conversation.inbound import Inbound, InboundLimits, InvalidInbound, Sender, validate_inbound

    too_long = Inbound(
        channel="email",
        external_id="<x@y>",
        thread_key="<x@y>",
        sender=Sender(address="a@b.c"),
        text="short",
        html="<p>" * 30_000,
    )
    with pytest.raises(InvalidInbound, match="^html is longer than 80000 characters$"):
        validate_inbound(too_long, InboundLimits(max_text_chars=20_000))


# 11.10 and 11.13
async def test_the_api_shows_the_whole_mail_and_agents_choose_the_cc(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    outbox, port = sink
    hub = Hub(email_config(tmp_path, port))
    hub.plugins.clear()
    async with TestClient(TestServer(build_app(hub))) as client:
        await add_agent(hub.store, "agent@example.com", Role.AGENT, "agent password 1", name="Wang")
        login = await client.post(
            "/api/v1/auth/login", json={"email": "agent@example.com", "password": "agent password 1"}
        )
        headers = {"X-CSRF-Token": (await login.json())["csrf_token"]}
        raw = wild.greeting_then_inline_answers().replace(
            b"To: help@support.example.com", b"To: help@support.example.com\r\nCc: Eva <eva@example.org>"
        )
        await smtp_in(hub, raw)
        by_number = await (await client.get("/api/v1/conversations/by-number/1000")).json()
        assert by_number["contact_name"] == "Kai Berg"
        thread = await (await client.get(f"/api/v1/conversations/{by_number['id']}/messages")).json()
        [mail] = thread["items"]
        assert mail["subject"] == "Re: Setup questions [#1000]" and mail["message_id"] == "<inline-1@example.org>"
        assert "> Does the error appear at start?" in mail["full_text"] and mail["flags"] == []
        url = f"/api/v1/conversations/{by_number['id']}/messages"
        bad = await client.post(url, json={"text": "x", "cc": ["not an address"]}, headers=headers)
        assert bad.status == 422 and "cc" in (await bad.json())["message"]
        for body in ({"text": "To everyone"}, {"text": "Only to you", "cc": []}, {"text": "To Bo", "cc": ["Bo@x.org"]}):
            assert (await client.post(url, json=body, headers=headers)).status == 201
        await eventually(lambda: len(outbox.envelopes) == 3, timeout=10)
        sent = {m.get_body(("plain",)).get_content().strip(): m.get("Cc") for m in outbox.mails}
        assert sent == {"To everyone": "eva@example.org", "Only to you": None, "To Bo": "bo@x.org"}


# 11.11 (over SMTP; tests/test_email_imap.py has it through dovecot)
async def test_refused_mail_is_logged_with_its_message_id(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with pytest.raises(aiosmtplib.SMTPDataError):
        await smtp_in(hub, b"From: nobody\r\nMessage-ID: <no-sender-1@x>\r\nSubject: x\r\n\r\nhello\r\n")
    assert "<no-sender-1@x>" in caplog.text
    items, _ = await hub.store.inbox.list_conversations(ConversationQuery(limit=10))
    assert items == []


async def test_a_customer_pasting_a_bounce_is_a_customer_not_a_bounce(hub: Hub, sink: tuple[Sink, int]) -> None:
    reply_id = await our_reply(hub, sink[0])
    pasted = customer_mail(
        "Re: Order [#1000]",
        "I get this when I write to my colleague:\n\nDelivery to the following recipient failed permanently:\n\n"
        "     nobody@example.org\n",
        sender="nobody@gmail.com",
        In_Reply_To=f"<{reply_id}@support.example.com>",
    )
    assert "ticket #1000" in await smtp_in(hub, pasted.as_bytes(), sender="nobody@gmail.com")
    message = await hub.store.tickets.get_message(reply_id)
    assert message is not None and message.delivery is not None and message.delivery.status is DeliveryStatus.SENT


async def api_thread(client: TestClient, number: int) -> list[dict[str, Any]]:
    """The ticket's messages as the API lists them (not its system events)."""
    conversation = await (await client.get(f"/api/v1/conversations/by-number/{number}")).json()
    items = (await (await client.get(f"/api/v1/conversations/{conversation['id']}/messages")).json())["items"]
    return [m for m in items if m["kind"] == "message"]


async def test_the_api_offers_quoted_text_only_when_something_was_cut_and_flags_automatic_mail(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    from tests import mail_corpus

    hub = Hub(email_config(tmp_path, sink[1]))
    hub.plugins.clear()
    async with TestClient(TestServer(build_app(hub))) as client:
        await add_agent(hub.store, "agent@example.com", Role.AGENT, "agent password 1", name="Wang")
        await client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": "agent password 1"})
        # A plain mail, nothing quoted: its text travels with CRLF line ends, the shown part has LF
        await mail_in(hub, customer_mail("Parcel", "Where is my parcel?\n\nThanks,\nKai"))
        [plain] = await api_thread(client, 1000)
        assert plain["text"] == "Where is my parcel?\n\nThanks,\nKai"
        assert plain["full_text"] is None and plain["flags"] == []
        # An answer above a quote: the whole text is there, with LF line ends
        await smtp_in(hub, wild.greeting_then_inline_answers())
        [answer] = await api_thread(client, 1001)
        assert answer["full_text"] and "\r" not in answer["full_text"]
        # An out-of-office mail says what it is
        await smtp_in(hub, mail_corpus.out_of_office().replace(b" [#1000]", b""), sender="")
        [automatic] = await api_thread(client, 1002)
        assert automatic["flags"] == ["automatic"]
