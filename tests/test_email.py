"""The email channel against real SMTP servers on loopback (aiosmtpd both ways)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from adapters.email.adapter import EmailAdapter
from conversation.delivery_errors import split_coded_error
from conversation.model import AuthorType, DeliveryStatus, Direction, MessageKind, Status
from hub.app import Hub
from hub.log_limit import LogLimit
from tests import mail_corpus as corpus
from tests.conftest import ROOT, free_port
from tests.email_servers import Sink, make_certificate, start_sink
from tests.helpers import eventually, make_config, running_hub

SUPPORT = corpus.HELPDESK


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    sink, server, port = await start_sink()
    yield sink, port
    server.close()
    await server.wait_closed()


def email_config(tmp_path: Path, smtp_port: int, **extra: Any) -> Any:
    settings = email_settings(smtp_port, **extra)
    return make_config(tmp_path, {"channels": {"email": settings}, "plugins": {"enabled": ["echo"]}})


def email_settings(smtp_port: int, **extra: Any) -> dict[str, Any]:
    """An email channel's table: the support address, a listener, the loopback relay."""
    return {
        "type": "email",
        "address": SUPPORT,
        "listen_port": free_port(),
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_tls": "none",
        "max_message_bytes": 300_000,
        **extra,
    }


@pytest.fixture
async def hub(tmp_path: Path, sink: tuple[Sink, int]) -> AsyncIterator[Hub]:
    async with running_hub(email_config(tmp_path, sink[1], max_auto_replies_per_hour=2)) as hub:
        yield hub


def channel(hub: Hub) -> EmailAdapter:
    adapter = hub.adapters["email"]
    assert isinstance(adapter, EmailAdapter)
    return adapter


async def mail_in(hub: Hub, raw: bytes | EmailMessage, sender: str = "li.na@gmail.com") -> None:
    await aiosmtplib.send(raw, hostname="127.0.0.1", port=channel(hub).listen_port, sender=sender, recipients=[SUPPORT])


def customer_mail(subject: str, text: str, *, sender: str = "Li Na <li.na@gmail.com>", **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = SUPPORT
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="gmail.com")
    for key, value in headers.items():
        mail[key.replace("_", "-")] = value
    mail.set_content(text)
    return mail


async def ticket(hub: Hub, number: int) -> Any:
    conversation = await hub.store.tickets.get_conversation_by_number(number)
    assert conversation is not None
    return conversation


async def test_a_mail_without_a_message_id_is_not_threaded_on_a_made_up_one(hub: Hub, sink: tuple[Sink, int]) -> None:
    """A review: the key such a mail is stored under became the reply's In-Reply-To, naming a
    message the customer's client never had."""
    outbox, _port = sink
    bare = customer_mail("发票", "请开发票")
    del bare["Message-ID"]
    await mail_in(hub, bare)
    await eventually(lambda: outbox.mails)  # the echo bot's reply
    reply = outbox.mails[0]
    assert "In-Reply-To" not in reply and "no-message-id" not in str(reply.get("References", ""))
    assert str(reply["Subject"]).endswith("[#1000]")


async def test_mail_over_smtp_opens_a_ticket_and_the_reply_is_threaded(hub: Hub, sink: tuple[Sink, int]) -> None:
    outbox, _port = sink
    first = customer_mail("订单没有到", "我的订单三天了还没有到。", Cc="Wang Fang <fang@example.com>")
    await mail_in(hub, first)
    conv = await ticket(hub, 1000)
    assert (conv.channel, conv.subject, conv.participants) == ("email", "订单没有到", ["fang@example.com"])
    contact = await hub.store.contacts.get_contact(conv.contact_id)
    assert contact is not None and contact.identities[0].address == "li.na@gmail.com"

    await eventually(lambda: outbox.mails)  # the echo bot's reply
    bot = outbox.mails[0]
    assert bot["Auto-Submitted"] == "auto-replied"
    reply = await hub.actions.send(conv, "您好，已为您补发。", author_type=AuthorType.AGENT, author_id="agent-1")
    await eventually(lambda: len(outbox.mails) == 2)
    mail = outbox.mails[1]
    assert mail["Subject"] == "Re: 订单没有到 [#1000]"
    assert mail["To"] == "li.na@gmail.com" and mail["Cc"] == "fang@example.com"
    assert mail["Message-ID"] == f"<{reply.id}@support.example.com>"
    assert mail["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in mail["References"] and bot["Message-ID"] in mail["References"]
    assert "Auto-Submitted" not in mail
    assert mail.get_body(("plain",)).get_content().strip() == "您好，已为您补发。"
    assert mail.get_body(("html",)).get_content_charset() == "utf-8"

    # the customer's client answers the agent's mail: In-Reply-To joins the ticket
    answer = customer_mail(
        "Re: 订单没有到 [#1000]",
        "收到了，谢谢！",
        In_Reply_To=mail["Message-ID"],
        References=f"{first['Message-ID']} {mail['Message-ID']}",
    )
    await mail_in(hub, answer)
    texts = [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.MESSAGE]
    assert "收到了，谢谢！" in texts
    assert await hub.store.tickets.get_conversation_by_number(1001) is None


async def test_the_subject_token_joins_only_from_the_tickets_people(hub: Hub) -> None:
    await mail_in(hub, customer_mail("Refund", "Please refund order 5531."))
    # a client that drops References but keeps the subject
    await mail_in(hub, customer_mail("Re: Refund [#1000]", "Any news?"))
    conv = await ticket(hub, 1000)
    assert [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.direction.value == "inbound"] == [
        "Please refund order 5531.",
        "Any news?",
    ]
    # a stranger with the same token opens their own ticket
    await mail_in(
        hub,
        customer_mail("Re: Refund [#1000]", "I am someone else", sender="eve@example.net"),
        sender="eve@example.net",
    )
    stranger = await ticket(hub, 1001)
    assert stranger.id != conv.id
    # the same subject without a token or references: a new ticket too
    await mail_in(hub, customer_mail("Refund", "A new problem"))
    assert (await ticket(hub, 1002)).id != conv.id


async def test_a_message_id_joins_only_from_the_tickets_people(hub: Hub, sink: tuple[Sink, int]) -> None:
    """A Message-ID is no secret: a stranger's mail naming one in In-Reply-To opens a ticket of
    its own, and its Cc is never copied on the agents' replies to that ticket's customer. A
    participant answering the same mail joins."""
    outbox, _port = sink
    first = customer_mail("订单没有到", "我的订单三天了还没有到。", Cc="Wang Fang <fang@example.com>")
    await mail_in(hub, first)
    conv = await ticket(hub, 1000)
    forged = customer_mail(
        "Re: 订单没有到",
        "请把退款打到这个账户",
        sender="eve@example.net",
        In_Reply_To=first["Message-ID"],
        References=first["Message-ID"],
        Cc="eve.other@example.net",
    )
    await mail_in(hub, forged, sender="eve@example.net")
    strangers = await ticket(hub, 1001)
    assert strangers.customer_address == "eve@example.net"
    # The agents are told which ticket it named, to merge it there if it belongs.
    from hub.api.serialize import shown_text

    events = [m for m in await hub.store.tickets.list_messages(strangers.id) if m.kind is MessageKind.EVENT]
    [named] = [e for e in events if (e.raw or {}).get("event", {}).get("key") == "event.names_other_ticket"]
    assert shown_text(named, "en").startswith("This mail names ticket #1000, but its sender is none of")
    assert shown_text(named, "zh-CN").startswith("这封邮件提到了工单 #1000")
    conv = await ticket(hub, 1000)
    assert conv.participants == ["fang@example.com"]
    texts = [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.MESSAGE]
    assert "请把退款打到这个账户" not in texts
    await hub.actions.send(conv, "已为您补发。", author_type=AuthorType.AGENT, author_id="agent-1")
    await eventually(lambda: any(m["To"] == "li.na@gmail.com" and "Auto-Submitted" not in m for m in outbox.mails))
    agents = [m for m in outbox.mails if m["To"] == "li.na@gmail.com" and "Auto-Submitted" not in m]
    assert [m["Cc"] for m in agents] == ["fang@example.com"]
    # Wang Fang, copied on the first mail, answers it: that ticket.
    colleague = customer_mail(
        "Re: 订单没有到", "我也没收到", sender="Wang Fang <fang@example.com>", In_Reply_To=first["Message-ID"]
    )
    await mail_in(hub, colleague, sender="fang@example.com")
    texts = [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.MESSAGE]
    assert "我也没收到" in texts and await hub.store.tickets.get_conversation_by_number(1002) is None


@pytest.mark.parametrize(
    "posing",
    [
        {"sender": "Eve <eve@example.net>", "X_Original_From": "Li Na <li.na@gmail.com>"},
        {"sender": "Li Na via Friends <eve@example.net>", "Reply_To": "li.na@gmail.com", "List_Id": "<f.example.net>"},
    ],
)
async def test_a_list_rewritten_sender_is_a_claim_that_joins_and_copies_nothing(
    hub: Hub, sink: tuple[Sink, int], posing: dict[str, str]
) -> None:
    """X-Original-From and Reply-To are anyone's to write (Eve's own domain passes DMARC): a mail
    naming Li Na there is filed under her as a claim, in a ticket of its own, which its Cc never
    reads and no bot answers; Li Na's ticket and its replies stay hers."""
    outbox, _port = sink
    await mail_in(hub, customer_mail("订单没有到", "我的订单三天了还没有到。"))
    await eventually(lambda: outbox.mails)  # the echo bot answered Li Na
    forged = customer_mail("Re: 订单没有到 [#1000]", "以后请也发给我的助理", Cc="eve.other@example.net", **posing)
    await mail_in(hub, forged, sender="eve@example.net")
    conv = await ticket(hub, 1000)
    assert conv.participants == []
    texts = [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.MESSAGE]
    assert "以后请也发给我的助理" not in texts
    claimed = await ticket(hub, 1001)
    assert claimed.participants == [] and claimed.customer_address == "li.na@gmail.com"
    (message,) = [m for m in await hub.store.tickets.list_messages(claimed.id) if m.kind is MessageKind.MESSAGE]
    assert message.automatic and "list_rewrite" in message.raw["flags"]  # type: ignore[index]
    await hub.actions.send(conv, "退款已退回尾号 1234 的卡。", author_type=AuthorType.AGENT, author_id="agent-1")
    await eventually(lambda: any("Auto-Submitted" not in m for m in outbox.mails))
    assert all("eve" not in str(m.get("Cc", "")) + str(m["To"]) for m in outbox.mails)  # no bot wrote to Eve either
    assert len([m for m in outbox.mails if m["Auto-Submitted"]]) == 1  # the echo bot answered the real mail only


async def test_another_senders_mail_reusing_a_message_id_is_kept_and_learns_nothing(hub: Hub) -> None:
    """A Message-ID is the sender's to choose: a stranger's mail reusing Li Na's is no retry of
    hers (it was dropped, and the SMTP answer named her ticket), but a mail of its own."""
    first = customer_mail("订单没有到", "我的订单三天了还没有到。")
    await mail_in(hub, first)
    again = await aiosmtplib.send(
        first, hostname="127.0.0.1", port=channel(hub).listen_port, sender="li.na@gmail.com", recipients=[SUPPORT]
    )
    assert "ticket #1000" in again[1]  # her own retry: the same ticket, stored once
    forged = customer_mail("hello", "someone else's words", sender="eve@example.net")
    forged.replace_header("Message-ID", first["Message-ID"])
    answer = await aiosmtplib.send(
        forged, hostname="127.0.0.1", port=channel(hub).listen_port, sender="eve@example.net", recipients=[SUPPORT]
    )
    assert "#1000" not in answer[1] and "ticket #1001" in answer[1]
    eves = await ticket(hub, 1001)
    assert eves.customer_address == "eve@example.net"
    hers = await hub.store.tickets.list_messages((await ticket(hub, 1000)).id)
    assert [m.text for m in hers if m.direction is Direction.INBOUND] == ["我的订单三天了还没有到。"]
    texts = [m.text for m in await hub.store.tickets.list_messages(eves.id) if m.kind is MessageKind.MESSAGE]
    assert "someone else's words" in texts
    # Eve's own retry is one mail, and a reply to her own mail joins her ticket, not Li Na's
    # (a trial's went to a new ticket "naming #1000")
    retried = await aiosmtplib.send(
        forged, hostname="127.0.0.1", port=channel(hub).listen_port, sender="eve@example.net", recipients=[SUPPORT]
    )
    assert "ticket #1001" in retried[1]
    follow_up = customer_mail("Re: hello", "any news?", sender="eve@example.net", In_Reply_To=first["Message-ID"])
    await mail_in(hub, follow_up, sender="eve@example.net")
    eves_thread = await hub.store.tickets.list_messages(eves.id)
    inbound = [m for m in eves_thread if m.direction is Direction.INBOUND]
    assert [m.text for m in inbound] == ["someone else's words", "any news?"]
    assert inbound[0].raw["message_id"] == first["Message-ID"]  # type: ignore[index]
    assert "names_ticket" not in (inbound[1].raw or {})
    assert await hub.store.tickets.get_conversation_by_number(1002) is None
    assert [m.text for m in hers if m.direction is Direction.INBOUND] == ["我的订单三天了还没有到。"]


async def test_a_contacts_claimed_email_does_not_let_that_address_join_its_tickets(hub: Hub) -> None:
    """An email typed for a contact (by a visitor, by an agent) is a claim: mail from that
    address with the contact's ticket token opens a ticket of its own (else its owner's words
    joined a stranger's ticket, and were answered to the stranger)."""
    await mail_in(hub, customer_mail("Refund", "Please refund", sender="eve@example.net"), sender="eve@example.net")
    eves = await ticket(hub, 1000)
    await hub.services.contacts.update(eves.contact_id, {"email": "li.na@gmail.com"})
    await mail_in(hub, customer_mail("Re: Refund [#1000]", "my own words"))
    assert (await ticket(hub, 1001)).customer_address == "li.na@gmail.com"
    texts = [m.text for m in await hub.store.tickets.list_messages(eves.id) if m.kind is MessageKind.MESSAGE]
    assert "my own words" not in texts


async def test_someone_an_agent_copied_answers_on_the_ticket(hub: Hub, sink: tuple[Sink, int]) -> None:
    """The Cc an agent chose for a reply is someone the hub wrote to on the ticket: their answer
    joins it (a review: it opened a ticket of its own once Message-IDs counted only from the
    ticket's people). Mail from the address of a webhook user, no mailbox of theirs, does not."""
    outbox, _port = sink
    await mail_in(hub, customer_mail("发票", "请把发票也发给我的经理"))
    conv = await ticket(hub, 1000)
    await hub.actions.send(
        conv, "已开票。", author_type=AuthorType.AGENT, author_id="agent-1", raw={"cc": ["boss@example.com"]}
    )
    await eventually(lambda: any(m["Cc"] == "boss@example.com" for m in outbox.mails))
    sent = next(m for m in outbox.mails if m["Cc"] == "boss@example.com")
    answer = customer_mail("Re: 发票", "收到，谢谢", sender="Boss <boss@example.com>", In_Reply_To=sent["Message-ID"])
    await mail_in(hub, answer, sender="boss@example.com")
    texts = [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.MESSAGE]
    assert "收到，谢谢" in texts and await hub.store.tickets.get_conversation_by_number(1001) is None
    # the agent's next reply, copying the boss again, answers the boss's mail
    await hub.actions.send(
        conv, "不客气。", author_type=AuthorType.AGENT, author_id="agent-1", raw={"cc": ["boss@example.com"]}
    )
    await eventually(lambda: len([m for m in outbox.mails if m["Cc"] == "boss@example.com"]) == 2)
    latest = [m for m in outbox.mails if m["Cc"] == "boss@example.com"][-1]
    assert latest["In-Reply-To"] == answer["Message-ID"]


async def test_someone_copied_on_a_customers_ticket_answers_on_after_it_is_merged_into_her_other(
    hub: Hub, sink: tuple[Sink, int]
) -> None:
    """What a merge brings from the same customer's other ticket still counts (a review: the boss
    copied on Li Na's #1001 opened a ticket of their own once #1001 was merged into her #1000)."""
    outbox, _port = sink
    await mail_in(hub, customer_mail("订单没有到", "我的订单三天了还没有到。"))
    await mail_in(hub, customer_mail("发票", "请开发票"))  # her second ticket
    invoice = await ticket(hub, 1001)
    await hub.actions.send(
        invoice, "已开票。", author_type=AuthorType.AGENT, author_id="agent-1", raw={"cc": ["boss@example.com"]}
    )
    await eventually(lambda: any(m["Cc"] == "boss@example.com" for m in outbox.mails))
    sent = next(m for m in outbox.mails if m["Cc"] == "boss@example.com")
    await hub.services.conversations.merge(invoice, await ticket(hub, 1000), who="agent")
    answer = customer_mail("Re: 发票", "收到", sender="Boss <boss@example.com>", In_Reply_To=sent["Message-ID"])
    await mail_in(hub, answer, sender="boss@example.com")
    texts = [m.text for m in await hub.store.tickets.list_messages((await ticket(hub, 1000)).id)]
    assert "收到" in texts and await hub.store.tickets.get_conversation_by_number(1002) is None


async def test_a_webhook_user_id_that_looks_like_an_address_is_no_mailbox(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    """A platform's user id is its own string, however it looks: mail from "li.na@gmail.com"
    with the token of that user's webhook ticket opens a ticket of its own (a review)."""
    from aiohttp.test_utils import TestClient, TestServer

    from adapters.webhook import signed_headers
    from hub.app import build_app

    secret = "webhook-secret-for-mailbox-test"
    channels = {"email": email_settings(sink[1]), "api": {"type": "webhook", "secret": secret}}
    hub = Hub(make_config(tmp_path, {"channels": channels}))
    async with TestClient(TestServer(build_app(hub))) as client:
        body = json.dumps({"id": "p1", "sender": {"id": "li.na@gmail.com"}, "text": "where is my refund?"}).encode()
        resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(secret, body))
        assert (await resp.json())["ticket"] == 1000
        await mail_in(hub, customer_mail("Re: refund [#1000]", "words from the mailbox"))
        assert (await ticket(hub, 1001)).channel == "email"
        platform = await ticket(hub, 1000)
        texts = [m.text for m in await hub.store.tickets.list_messages(platform.id)]
        assert "words from the mailbox" not in texts


async def test_a_stranger_whose_ticket_was_merged_into_a_customers_writes_on_in_one_of_their_own(
    hub: Hub, sink: tuple[Sink, int]
) -> None:
    """README: merged into another customer's ticket, the next message opens a ticket of its
    own. A trial: by email the stranger went on writing into the customer's ticket (the bot's
    mail to them, moved there by the merge, made them "written to on it")."""
    outbox, _port = sink
    meis = customer_mail("订单没有到", "我的订单三天了还没有到。")
    await mail_in(hub, meis)
    eves_first = customer_mail("Re: 订单没有到 [#1000]", "我也是", sender="eve@example.net")
    await mail_in(hub, eves_first, sender="eve@example.net")
    await eventually(lambda: any(m["To"] == "eve@example.net" for m in outbox.mails))  # the echo bot answered her
    mei, eve = await ticket(hub, 1000), await ticket(hub, 1001)
    await hub.services.conversations.merge(eve, mei, who="agent")  # an agent confirmed it
    again = customer_mail("Re: 订单没有到 [#1000]", "请把退款打到我的账户", sender="eve@example.net")
    again["In-Reply-To"] = eves_first["Message-ID"]
    await mail_in(hub, again, sender="eve@example.net")
    assert (await ticket(hub, 1002)).customer_address == "eve@example.net"
    texts = [m.text for m in await hub.store.tickets.list_messages(mei.id) if m.kind is MessageKind.MESSAGE]
    assert "请把退款打到我的账户" not in texts
    # The agent's reply to Mei threads on her mail; Eve's, merged in, are none of hers to see.
    await hub.actions.send(await ticket(hub, 1000), "已补发。", author_type=AuthorType.AGENT, author_id="agent-1")
    await eventually(lambda: any("Auto-Submitted" not in m and m["To"] == "li.na@gmail.com" for m in outbox.mails))
    reply = next(m for m in outbox.mails if "Auto-Submitted" not in m and m["To"] == "li.na@gmail.com")
    assert reply["In-Reply-To"] == meis["Message-ID"]
    assert eves_first["Message-ID"] not in str(reply["References"])


async def test_a_mails_references_name_only_the_mails_before_it(hub: Hub, sink: tuple[Sink, int]) -> None:
    """A trial: a greeting and a hand-off queued in one instant each named the other in References."""
    outbox, _port = sink
    await mail_in(hub, customer_mail("订单没有到", "我的订单三天了还没有到。"))
    await eventually(lambda: outbox.mails)  # the echo bot's
    conv = await ticket(hub, 1000)
    first = await hub.actions.send(conv, "第一封", author_type=AuthorType.AGENT, author_id="a1")
    second = await hub.actions.send(conv, "第二封", author_type=AuthorType.AGENT, author_id="a1")
    ids = {m.id: f"<{m.id}@support.example.com>" for m in (first, second)}
    await eventually(lambda: {m["Message-ID"] for m in outbox.mails} >= set(ids.values()))
    sent = {m["Message-ID"]: str(m["References"]) for m in outbox.mails}
    assert ids[second.id] not in sent[ids[first.id]] and ids[first.id] in sent[ids[second.id]]


async def test_a_reply_to_ones_own_ticket_merged_into_a_strangers_says_where_it_goes_on_from(
    hub: Hub, sink: tuple[Sink, int]
) -> None:
    """A trial: Ed's ticket merged into Eve's, Ed answered his own ticket's mail ("Re: … [#1001]"):
    a new ticket, fresh greeting, nothing linking it to the conversation it goes on from."""
    await mail_in(hub, customer_mail("订单没有到", "我的订单三天了还没有到。"))
    eds = customer_mail("建议", "希望增加夜间配送", sender="ed@example.net")
    await mail_in(hub, eds, sender="ed@example.net")
    await hub.services.conversations.merge(await ticket(hub, 1001), await ticket(hub, 1000), who="agent")
    again = customer_mail("Re: 建议 [#1001]", "还有一个想法", sender="ed@example.net", In_Reply_To=eds["Message-ID"])
    await mail_in(hub, again, sender="ed@example.net")
    opened = await ticket(hub, 1002)
    assert opened.customer_address == "ed@example.net"
    events = [m for m in await hub.store.tickets.list_messages(opened.id) if m.kind is MessageKind.EVENT]
    [said] = [e for e in events if (e.raw or {}).get("event", {}).get("key") == "event.goes_on_from_merged"]
    assert "#1001" in said.text and "#1000" in said.text


async def test_merging_a_ticket_only_a_list_claims_is_the_customers_asks_first(hub: Hub) -> None:
    """A trial: a forged list mail naming Li Na was filed under her and merged into her real
    ticket without a question (the same identity on both). Its mails prove no one: it asks."""
    from hub.api.confirm import require_confirmation
    from hub.api.framework import ApiError

    await mail_in(hub, customer_mail("订单没有到", "我的订单三天了还没有到。"))
    await mail_in(hub, customer_mail("Re: 订单没有到", "还有一件事"))  # a second ticket of hers, direct
    claimed = customer_mail(
        "Refund", "把退款打到这个账户", sender="Li Na via Friends <eve@example.net>", Reply_To="li.na@gmail.com"
    )
    claimed["List-Id"] = "<friends.example.net>"
    await mail_in(hub, claimed, sender="eve@example.net")
    hers, also_hers, list_claim = [await ticket(hub, n) for n in (1000, 1001, 1002)]
    assert list_claim.customer_address == hers.customer_address == "li.na@gmail.com"
    for source, target in ((list_claim, hers), (hers, list_claim)):  # either way round
        with pytest.raises(ApiError) as asked:
            await require_confirmation(hub.store, source, target, moving_one=False, confirmed=False)
        assert asked.value.code == "confirm_needed" and "mailing list" in str(asked.value)
    await require_confirmation(hub.store, also_hers, hers, moving_one=False, confirmed=False)  # hers: no question
    await require_confirmation(hub.store, list_claim, hers, moving_one=False, confirmed=True)


async def test_a_reply_after_the_reopen_window_opens_a_linked_ticket(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    config = email_config(tmp_path, sink[1])
    config = replace(config, tickets=replace(config.tickets, reopen_window_days=0.0))
    async with running_hub(config) as hub:
        first = customer_mail("Login", "I cannot log in")
        await mail_in(hub, first)
        conv = await ticket(hub, 1000)
        await hub.actions.update_conversation(conv, {"status": Status.RESOLVED})
        await asyncio.sleep(0.01)
        await mail_in(hub, customer_mail("Re: Login", "Again!", In_Reply_To=first["Message-ID"]))
        follow_up = await ticket(hub, 1001)
        assert follow_up.previous_id == conv.id and follow_up.channel == "email"


async def test_loops_are_prevented(hub: Hub, sink: tuple[Sink, int]) -> None:
    outbox, _port = sink
    await mail_in(hub, corpus.out_of_office(), sender="wei@example.com")
    await mail_in(hub, corpus.html_newsletter(), sender="news@shop.example.net")
    ooo = await ticket(hub, 1000)
    stored = await hub.store.tickets.list_messages(ooo.id)
    assert stored[0].automatic

    async def processed() -> bool:
        for number in (1000, 1001):
            if not all(m.plugins_done for m in await hub.store.tickets.list_messages((await ticket(hub, number)).id)):
                return False
        return True

    await eventually(processed)
    assert outbox.mails == []  # no robot answers a robot or a list

    for i in range(3):  # max_auto_replies_per_hour = 2 in this hub
        await mail_in(hub, customer_mail(f"Question {i}", "hello"))
    await eventually(lambda: len(outbox.mails) == 2)
    failed: list[str] = []

    async def one_failed() -> bool:
        failed.clear()
        for number in (1002, 1003, 1004):
            for message in await hub.store.tickets.list_messages((await ticket(hub, number)).id):
                if message.delivery and message.delivery.status is DeliveryStatus.FAILED:
                    failed.append(message.delivery.error)
        return len(failed) == 1

    await eventually(one_failed)
    code, detail = split_coded_error(failed[0])
    assert code == "auto_reply_budget" and "automatic replies" in detail  # the inbox says it in the agent's language

    # Its ticket goes to a person, saying why: a trial's customer was left mid-dialogue, unseen.
    async def handed_on() -> list[Any]:
        tickets = [await ticket(hub, number) for number in (1002, 1003, 1004)]
        return [t for t in tickets if t.handed_off_at is not None]

    assert len(await eventually(handed_on)) == 1
    withheld = (await handed_on())[0]
    events = [m for m in await hub.store.tickets.list_messages(withheld.id) if m.kind is MessageKind.EVENT]
    assert [(e.raw or {}).get("event", {}).get("key") for e in events][-1] == "event.bot_message_not_sent"
    zh = json.loads((ROOT / "hub/static/inbox/i18n/zh-CN.json").read_text("utf-8"))
    assert "自动回复已达上限" in zh["delivery.error.auto_reply_budget"]


def progress_config(tmp_path: Path, smtp_port: int, **extra: Any) -> Any:
    """A hub whose bots answer status questions and tell the customer of a resolution."""
    channels = {"email": email_settings(smtp_port, **extra)}
    return make_config(tmp_path, {"channels": channels, "plugins": {"enabled": ["progress"]}})


async def refund_ticket(hub: Hub) -> tuple[EmailMessage, Any]:
    first = customer_mail("Refund", "Where is my refund?")
    await mail_in(hub, first)
    return first, await ticket(hub, 1000)


async def test_a_status_answer_stopped_by_the_budget_reopens_the_resolved_ticket(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    """A trial: over the auto-reply budget, the bot's answer to a real person's status
    question failed, and the question sat in a resolved ticket, out of every view."""
    async with running_hub(progress_config(tmp_path, sink[1], max_auto_replies_per_hour=1)) as hub:
        first, conv = await refund_ticket(hub)

        async def bot_replies() -> list[Any]:
            messages = await hub.store.tickets.list_messages(conv.id)
            bot = [m for m in messages if m.author_type is AuthorType.BOT]
            settled = all(m.plugins_done for m in messages) and all(
                m.delivery and m.delivery.status is not DeliveryStatus.QUEUED for m in bot
            )
            return bot if settled else []

        await hub.actions.update_conversation(conv, {"status": Status.RESOLVED})
        [notice] = await eventually(bot_replies)  # "resolved": the hour's one automatic reply
        assert notice.delivery.status is DeliveryStatus.SENT
        assert (await ticket(hub, 1000)).status is Status.RESOLVED
        await mail_in(hub, customer_mail("Re: Refund [#1000]", "工单进度", In_Reply_To=first["Message-ID"]))
        _notice, answer = await eventually(lambda: _two(bot_replies()))
        assert answer.delivery.status is DeliveryStatus.FAILED
        reopened = await ticket(hub, 1000)
        assert reopened.status is Status.OPEN  # back in the agents' queue
        events = [m for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.EVENT]
        metrics = hub.metrics.render().decode()  # held back on purpose: no delivery outage to alert on
        assert 'helpline_auto_replies_withheld_total{channel="email"} 1.0' in metrics
        assert 'helpline_deliveries_failed_total{channel="email"} 0.0' in metrics
        failed = [e for e in events if (e.raw or {}).get("event", {}).get("key") == "event.bot_answer_failed"]
        assert (
            len(failed) == 1 and "automatic replies" in failed[0].text and "[auto_reply_budget]" not in failed[0].text
        )


async def test_a_bounced_status_answer_reopens_the_resolved_ticket_and_a_bounced_notice_does_not(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    async with running_hub(progress_config(tmp_path, sink[1])) as hub:
        first, conv = await refund_ticket(hub)

        async def sent_bot_replies() -> list[Any]:
            messages = await hub.store.tickets.list_messages(conv.id)
            return [m for m in messages if m.author_type is AuthorType.BOT and m.delivery.status is DeliveryStatus.SENT]

        async def bounce(reply: Any) -> None:
            raw = corpus.bounce(f"<{reply.id}@support.example.com>", "li.na@gmail.com")
            await mail_in(hub, raw, sender="MAILER-DAEMON@mx.example.com")

        await hub.actions.update_conversation(conv, {"status": Status.RESOLVED})
        [notice] = await eventually(sent_bot_replies)
        await bounce(notice)  # told after the customer's last word: nothing of theirs is unanswered
        assert (await ticket(hub, 1000)).status is Status.RESOLVED
        await mail_in(hub, customer_mail("Re: Refund [#1000]", "工单进度", In_Reply_To=first["Message-ID"]))
        [answer] = await eventually(sent_bot_replies)
        assert (await ticket(hub, 1000)).status is Status.RESOLVED  # asking does not reopen
        await bounce(answer)
        assert (await ticket(hub, 1000)).status is Status.OPEN


async def _two(found: Any) -> list[Any]:
    replies = await found
    return replies if len(replies) == 2 else []


async def test_our_own_mail_is_never_a_customer_message(hub: Hub) -> None:
    await mail_in(hub, customer_mail("loop?", "from ourselves", sender=f"Support <{SUPPORT}>"), sender=SUPPORT)
    assert await hub.store.tickets.get_conversation_by_number(1000) is None


async def test_a_bounce_marks_the_message_failed_and_opens_nothing(hub: Hub, sink: tuple[Sink, int]) -> None:
    outbox, _port = sink
    await mail_in(hub, customer_mail("Hi", "hello", sender="nobody@example.com"), sender="nobody@example.com")
    conv = await ticket(hub, 1000)
    reply = await hub.actions.send(conv, "Hello!", author_type=AuthorType.AGENT, author_id="agent-1")
    await eventually(lambda: any(m["Message-ID"] == f"<{reply.id}@support.example.com>" for m in outbox.mails))
    await mail_in(hub, corpus.bounce(f"<{reply.id}@support.example.com>"), sender="MAILER-DAEMON@mx.example.com")
    message = await hub.store.tickets.get_message(reply.id)
    assert message is not None and message.delivery is not None
    assert message.delivery.status is DeliveryStatus.FAILED and "Recipient address rejected" in message.delivery.error
    assert await hub.store.tickets.get_conversation_by_number(1001) is None
    # alerts on failed deliveries see it, once however often it bounces
    await mail_in(hub, corpus.bounce(f"<{reply.id}@support.example.com>"), sender="MAILER-DAEMON@mx.example.com")
    assert 'helpline_deliveries_failed_total{channel="email"} 1.0' in hub.metrics.render().decode()


async def test_outbound_4xx_is_retried_and_5xx_fails_visibly(hub: Hub, sink: tuple[Sink, int]) -> None:
    outbox, _port = sink
    await mail_in(hub, customer_mail("Hi", "hello"))
    await eventually(lambda: outbox.mails)  # echo
    conv = await ticket(hub, 1000)
    outbox.script = ["451 4.3.0 greylisted, try later"]
    retried = await hub.actions.send(conv, "first", author_type=AuthorType.AGENT, author_id="a")
    await eventually(lambda: len(outbox.mails) == 2, timeout=10)

    async def recorded() -> bool:  # the mail arrives a moment before the outbox notes it
        found = await hub.store.tickets.get_message(retried.id)
        return found is not None and found.delivery is not None and found.delivery.status is DeliveryStatus.SENT

    await eventually(recorded)
    message = await hub.store.tickets.get_message(retried.id)
    assert message is not None and message.delivery is not None and message.delivery.attempts == 2

    outbox.script = ["550 5.7.1 relay denied"]
    refused = await hub.actions.send(conv, "second", author_type=AuthorType.AGENT, author_id="a")

    async def failed() -> bool:
        found = await hub.store.tickets.get_message(refused.id)
        return found is not None and found.delivery is not None and found.delivery.status is DeliveryStatus.FAILED

    await eventually(failed)
    found = await hub.store.tickets.get_message(refused.id)
    assert found is not None and found.delivery is not None and "550 5.7.1 relay denied" in found.delivery.error


async def test_the_listener_refuses_strangers_and_oversized_mail(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    port = channel(hub).listen_port
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(
            customer_mail("x", "y"), hostname="127.0.0.1", port=port, recipients=["sales@else.example"]
        )
    big = customer_mail("big", "x" * 400_000)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await aiosmtplib.send(big, hostname="127.0.0.1", port=port, recipients=[SUPPORT])  # SIZE=: at MAIL FROM
    assert refused.value.code == 552
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:  # no SIZE: as its data passes the limit
        assert "MAIL" in await client.help()  # the listener's MAIL keeps aiosmtpd's syntax for HELP
        await client.mail("li.na@gmail.com")
        await client.rcpt(SUPPORT)
        with pytest.raises(aiosmtplib.SMTPDataError) as too_much:
            await client.data(big.as_bytes())
    assert too_much.value.code == 552
    assert await hub.store.tickets.get_conversation_by_number(1000) is None
    # each refusal logged and counted (a trial found neither, though README said so)
    assert caplog.text.count("refused a mail from li.na@gmail.com: larger than 300000 bytes") == 2
    metrics = hub.metrics.render().decode()
    assert 'helpline_requests_refused_total{channel="email",reason="too_large"} 2.0' in metrics


async def test_a_reply_to_a_mail_without_a_subject_takes_the_hubs_subject_not_its_first_line(
    hub: Hub, sink: tuple[Sink, int]
) -> None:
    """A trial: a photo sent with no subject and no text was answered "Re: (empty mail)"."""
    outbox, _port = sink
    photo = customer_mail("", "")
    del photo["Subject"]
    photo.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, maintype="image", subtype="png", filename="a.png")
    await mail_in(hub, photo)
    conv = await ticket(hub, 1000)
    assert conv.subject == "(empty mail)"  # what the agents' list shows

    def subject_of(reply: Any) -> str | None:  # the echo bot's mails come in between, in any order
        found = [m["Subject"] for m in outbox.mails if m["Message-ID"] == f"<{reply.id}@support.example.com>"]
        return found[0] if found else None

    thanks = await hub.actions.send(conv, "Thanks.", author_type=AuthorType.AGENT, author_id="agent-1")
    forwarded = customer_mail("Fwd:", "屏幕坏了", sender="Wang Fang <fang@example.cn>")  # a prefix alone says nothing
    await mail_in(hub, forwarded, sender="fang@example.cn")
    got_it = await hub.actions.send(await ticket(hub, 1001), "Got it.", author_type=AuthorType.AGENT, author_id="a1")
    await eventually(lambda: subject_of(thanks) and subject_of(got_it))
    assert subject_of(thanks) == "Re: Your request [#1000]"
    # in the customer's language, as the bot's greeting was: not the English reply's (a trial)
    assert subject_of(got_it) == "Re: 您的咨询 [#1001]"
    renamed = await hub.services.conversations.update_by(conv, {"subject": "Broken screen"}, who="Li", names={})
    which = await hub.actions.send(renamed, "Which model?", author_type=AuthorType.AGENT, author_id="agent-1")
    await eventually(lambda: subject_of(which))
    assert subject_of(which) == "Re: Broken screen [#1000]"


async def test_a_ticket_without_a_subject_keeps_the_hubs_after_another_customers_mail_is_merged_in(
    hub: Hub, sink: tuple[Sink, int]
) -> None:
    """A trial: Ian's "Ian private subject" ticket merged into Hal's ticket without a subject
    made the agent's next reply "Re: hal first [#1001]" (Hal's first line, read as written
    since the oldest mail on the ticket, Ian's, had a subject); it was "Your request"."""
    outbox, _port = sink
    await mail_in(
        hub, customer_mail("Ian private subject", "first words", sender="ian@example.net"), sender="ian@example.net"
    )
    hals = customer_mail("Re:", "hal first line\nand the rest", sender="hal@example.net")
    await mail_in(hub, hals, sender="hal@example.net")
    ian, hal = await ticket(hub, 1000), await ticket(hub, 1001)
    await hub.services.conversations.merge(ian, hal, who="agent")
    reply = await hub.actions.send(await ticket(hub, 1001), "Sorted.", author_type=AuthorType.AGENT, author_id="a1")
    mine = f"<{reply.id}@support.example.com>"
    await eventually(lambda: any(m["Message-ID"] == mine for m in outbox.mails))
    sent = next(m for m in outbox.mails if m["Message-ID"] == mine)
    assert (sent["To"], sent["Subject"]) == ("hal@example.net", "Re: Your request [#1001]")


async def test_refused_mail_is_counted_by_reason(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    """A trial: refused mail showed nowhere in /metrics, and a refused recipient in no log."""
    caplog.set_level(logging.INFO)
    port = channel(hub).listen_port
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(
            customer_mail("x", "y"), hostname="127.0.0.1", port=port, recipients=["sales@else.example"]
        )
    assert "refused mail for sales@else.example from li.na@gmail.com" in caplog.text
    # an address-guessing sender: each guess counted, one log line a minute (a review)
    now = [0.0]
    channel(hub).refusal_log = LogLimit(60, clock=lambda: now[0])
    for guess in ("a@else.example", "b@else.example", "c@else.example"):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await aiosmtplib.send(customer_mail("x", "y"), hostname="127.0.0.1", port=port, recipients=[guess])
    now[0] = 61.0
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(customer_mail("x", "y"), hostname="127.0.0.1", port=port, recipients=["d@else.example"])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused mail for")]
    assert lines[1:] == [
        "refused mail for a@else.example from li.na@gmail.com: no such mailbox here",
        "refused mail for d@else.example from li.na@gmail.com: no such mailbox here"
        " (2 more refused since the last such line)",
    ]
    nameless = b"To: help@support.example.com\r\nSubject: who am I\r\n\r\nno sender at all\r\n"
    assert (await channel(hub).receive(nameless)).startswith("550 5.6.0")
    assert (await channel(hub).receive(b"x" * 300_001)).startswith("552")  # as IMAP hands it over
    metrics = hub.metrics.render().decode()
    for reason in ("unknown_recipient", "unreadable", "too_large"):
        count = 5 if reason == "unknown_recipient" else 1
        assert f'helpline_requests_refused_total{{channel="email",reason="{reason}"}} {count}.0' in metrics
    assert await hub.store.tickets.get_conversation_by_number(1000) is None


async def test_the_corpus_lands_where_it_should(hub: Hub) -> None:
    await mail_in(hub, corpus.qq_mail_gbk(), sender="123456@qq.com")
    conv = await ticket(hub, 1000)
    [message] = [m for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.MESSAGE][:1]
    assert message.text == "张喆收到了，谢谢！" and conv.subject == "订单 喆镕 没有到"
    assert message.raw is not None and "请查收" in message.raw["full_text"]
    await mail_in(hub, corpus.hostile_html(), sender="mallory@example.net")
    hostile = [
        m for m in await hub.store.tickets.list_messages((await ticket(hub, 1001)).id) if m.direction.value == "inbound"
    ]
    assert "<script" not in hostile[0].html and "onerror" not in hostile[0].html
    await mail_in(hub, corpus.chinese_filename(), sender="li@example.cn")
    [invoice] = [
        m for m in await hub.store.tickets.list_messages((await ticket(hub, 1002)).id) if m.direction.value == "inbound"
    ][0].attachments
    assert invoice.name == "发票.pdf" and hub.blobs.path(invoice.blob_ref) is not None


async def test_a_visitor_who_left_gets_the_reply_by_email_and_can_answer_by_email(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    outbox, port = sink
    config = make_config(
        tmp_path,
        {
            "channels": {
                "email": {
                    "type": "email",
                    "address": SUPPORT,
                    "listen_port": free_port(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "smtp_tls": "none",
                },
                "webchat": {"secret": "visitor-token-secret", "email_channel": "email"},
            },
            # The copy by email must wake the outbox itself, as every queued reply does: no poll helps it.
            "outbox": {"poll_seconds": 60},
        },
    )
    from aiohttp.test_utils import TestClient, TestServer

    from hub.app import build_app

    hub = Hub(config)
    async with TestClient(TestServer(build_app(hub))) as client:
        session = await (await client.post("/channels/webchat/session", json={})).json()
        async with client.ws_connect(f"/channels/webchat/ws?token={session['token']}") as ws:
            await ws.send_json({"type": "message", "client_id": "c1", "text": "我的快递丢了"})
            while (await ws.receive_json(timeout=5))["type"] != "ack":
                pass
        resp = await client.post(
            "/channels/webchat/email", json={"token": session["token"], "email": "ming@example.org"}
        )
        assert resp.status == 200
        [confirmation] = outbox.mails  # the address is confirmed first (double opt-in)
        code = re.search(r"\b\d{8}\b", confirmation.get_body(("plain",)).get_content())
        assert code is not None
        resp = await client.post(
            "/channels/webchat/email/confirm", json={"token": session["token"], "code": code.group()}
        )
        assert resp.status == 200
        outbox.mails.clear()
        conv = await ticket(hub, 1000)
        events = hub.bus.subscribe()
        reply = await hub.actions.send(
            conv, "我们已经找到您的快递。", author_type=AuthorType.AGENT, author_id="agent-1"
        )
        await eventually(lambda: outbox.mails, timeout=10)
        mail = outbox.mails[0]
        created = []
        while not events.queue.empty():
            event = events.queue.get_nowait()
            if event.type == "message.created":
                created.append(event.data["message_id"])
        assert len(created) == 2 and created[0] == reply.id  # the copy by email is shown live too
        copy = await hub.store.tickets.get_message(created[1])
        assert copy is not None and copy.customer_address == "ming@example.org"  # addressed when queued
        assert mail["To"] == "ming@example.org" and "[#1000]" in mail["Subject"]
        answer = customer_mail(
            "Re: " + str(mail["Subject"]), "太好了，谢谢！", sender="ming@example.org", In_Reply_To=mail["Message-ID"]
        )
        await mail_in(hub, answer, sender="ming@example.org")
        thread = await hub.store.tickets.list_messages(conv.id)
        assert [(m.channel, m.text) for m in thread if m.kind is MessageKind.MESSAGE] == [
            ("webchat", "我的快递丢了"),
            ("webchat", "我们已经找到您的快递。"),
            ("email", "我们已经找到您的快递。"),
            ("email", "太好了，谢谢！"),
        ]
        assert await hub.store.tickets.get_conversation_by_number(1001) is None
        # The customer's own history (status page) shows the reply once, not again as its copy (a trial).
        from conversation.progress import public_history

        shown = [m.text for m in public_history(thread, await ticket(hub, 1000)) if m.kind is MessageKind.MESSAGE]
        assert shown.count("我们已经找到您的快递。") == 1
        # ...and so does the chat window when the visitor comes back (a review)
        async with client.ws_connect(f"/channels/webchat/ws?token={session['token']}") as ws:
            await ws.send_json({"type": "hello", "after": ""})
            hello = await ws.receive_json(timeout=5)
            while hello["type"] != "hello":
                hello = await ws.receive_json(timeout=5)
        assert [m["text"] for m in hello["messages"]].count("我们已经找到您的快递。") == 1
        # A copy queued before copies were addressed names the visitor: an answer to it still joins.
        with sqlite3.connect(tmp_path / "data" / "helpline.sqlite3") as db:
            db.execute("UPDATE messages SET customer_address = ? WHERE id = ?", (conv.customer_address, created[1]))
        again = customer_mail("Re: " + str(mail["Subject"]), "还有一个问题", sender="ming@example.org")
        again.replace_header("Message-ID", make_msgid(domain="example.org"))
        again["In-Reply-To"] = mail["Message-ID"]
        await mail_in(hub, again, sender="ming@example.org")
        assert "还有一个问题" in [m.text for m in await hub.store.tickets.list_messages(conv.id)]
        assert await hub.store.tickets.get_conversation_by_number(1001) is None


async def test_end_to_end_through_the_inbox_api(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    """A customer mails in, an agent answers from the inbox API, the customer's client
    drops References but keeps the subject token, and the answer lands in the same ticket."""
    from aiohttp.test_utils import TestClient, TestServer

    from conversation.model import Role
    from hub.agents import add_agent
    from hub.app import build_app

    outbox, port = sink
    hub = Hub(email_config(tmp_path, port))
    hub.plugins.clear()
    async with TestClient(TestServer(build_app(hub))) as client:
        await add_agent(hub.store, "agent@example.com", Role.AGENT, "agent password 1", name="Wang")
        login = await client.post(
            "/api/v1/auth/login", json={"email": "agent@example.com", "password": "agent password 1"}
        )
        headers = {"X-CSRF-Token": (await login.json())["csrf_token"]}
        first = customer_mail("Invoice missing", "I did not get my invoice for order 88.")
        await mail_in(hub, first)
        page = await (await client.get("/api/v1/conversations?channel=email")).json()
        [item] = page["items"]
        assert item["subject"] == "Invoice missing" and item["contact_name"] == "Li Na"
        resp = await client.post(
            f"/api/v1/conversations/{item['id']}/messages", json={"text": "Attached again."}, headers=headers
        )
        assert resp.status == 201
        await eventually(lambda: outbox.mails, timeout=10)
        sent = outbox.mails[0]
        assert sent["In-Reply-To"] == first["Message-ID"] and sent["References"] == first["Message-ID"]
        assert sent["Subject"] == "Re: Invoice missing [#1000]"
        stripped = customer_mail(str(sent["Subject"]), "Got it, thanks!")  # no In-Reply-To, no References
        await mail_in(hub, stripped)
        thread = await (await client.get(f"/api/v1/conversations/{item['id']}/messages")).json()
        assert [m["text"] for m in thread["items"] if m["kind"] == "message"] == [
            "I did not get my invoice for order 88.",
            "Attached again.",
            "Got it, thanks!",
        ]
        assert (await (await client.get("/api/v1/conversations")).json())["total"] == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


async def test_the_listener_can_require_starttls_and_auth(
    tmp_path: Path, sink: tuple[Sink, int], certificate: tuple[str, str]
) -> None:
    cert, key = certificate
    config = email_config(
        tmp_path, sink[1], listen_user="relay", listen_password="relay-secret-0123456789", tls_cert=cert, tls_key=key
    )
    async with running_hub(config) as hub:
        port = channel(hub).listen_port
        with pytest.raises(aiosmtplib.SMTPException):  # no AUTH: refused
            await aiosmtplib.send(
                customer_mail("x", "y"), hostname="127.0.0.1", port=port, start_tls=True, cert_bundle=cert
            )
        with pytest.raises(aiosmtplib.SMTPException):  # wrong password
            await aiosmtplib.send(
                customer_mail("x", "y"),
                hostname="127.0.0.1",
                port=port,
                start_tls=True,
                cert_bundle=cert,
                username="relay",
                password="guess",
            )
        # A login that is not UTF-8: refused as a wrong login (535), not an error of the session.
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True, cert_bundle=cert)
        await client.connect()
        try:
            await client.ehlo()
            odd = base64.b64encode(b"\x00\xff\xfe-relay\x00relay-secret-0123456789").decode()
            answer = await client.execute_command(b"AUTH", b"PLAIN", odd.encode())
            assert answer.code == 535, answer
        finally:
            client.close()
        assert await hub.store.tickets.get_conversation_by_number(1000) is None
        await aiosmtplib.send(
            customer_mail("Hello", "over TLS"),
            hostname="127.0.0.1",
            port=port,
            start_tls=True,
            cert_bundle=cert,
            username="relay",
            password="relay-secret-0123456789",
        )
        assert (await ticket(hub, 1000)).subject == "Hello"


async def test_a_listener_without_listen_user_offers_no_auth_and_logs_no_addresses(
    tmp_path: Path, sink: tuple[Sink, int], caplog: pytest.LogCaptureFixture
) -> None:
    """A trial's mail client saw AUTH offered by a listener with no listen_user (every login
    then 535), and each SMTP command, addresses and all, was in the log at info."""
    caplog.set_level(logging.INFO)
    async with running_hub(email_config(tmp_path, sink[1])) as hub:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=channel(hub).listen_port)
        await smtp.connect()
        await smtp.ehlo()
        assert "auth" not in smtp.esmtp_extensions and "size" in smtp.esmtp_extensions
        code, _ = await smtp.execute_command(b"AUTH", b"PLAIN", b"AHVzZXIAcGFzcw==")
        assert code == 504  # not offered: no such mechanism, not "wrong password"
        await smtp.sendmail("li.na@gmail.com", [SUPPORT], customer_mail("Hi", "still taken").as_bytes())
        await smtp.quit()
        assert (await ticket(hub, 1000)).subject == "Hi"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "mail.log")
    assert "li.na@gmail.com" not in logged and "MAIL FROM" not in logged.upper()


async def test_outbound_uses_starttls_and_authenticates(tmp_path: Path, certificate: tuple[str, str]) -> None:
    import ssl

    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    cert, key = certificate
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    relay = Sink()
    logins: list[str] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"helpline", b"relay-pass")
        logins.append(data.login.decode())
        return AuthResult(success=ok)

    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(relay, tls_context=tls, require_starttls=True, auth_required=True, authenticator=authenticator),
        host="127.0.0.1",
        port=port,
    )
    try:
        config = email_config(
            tmp_path, port, smtp_user="helpline", smtp_password="relay-pass", smtp_tls="starttls", smtp_ca_file=cert
        )
        async with running_hub(config) as hub:
            hub.plugins.clear()
            await mail_in(hub, customer_mail("Hi", "hello"))
            conv = await ticket(hub, 1000)
            await hub.actions.send(conv, "Secure reply", author_type=AuthorType.AGENT, author_id="a")
            await eventually(lambda: relay.mails, timeout=10)
            assert relay.mails[0]["To"] == "li.na@gmail.com" and logins == ["helpline"]
    finally:
        server.close()
        await server.wait_closed()


async def test_replies_carry_attachments_and_the_configured_reply_to(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    from conversation.model import Attachment, Delivery, Direction, Message, new_id, utcnow

    outbox, port = sink
    async with running_hub(email_config(tmp_path, port, reply_to="tickets@support.example.com")) as hub:
        hub.plugins.clear()
        await mail_in(hub, customer_mail("Invoice", "Please send the invoice."))
        conv = await ticket(hub, 1000)
        ref = await hub.blobs.put(b"%PDF-1.4 invoice")
        now = utcnow()
        await hub.store.tickets.add_message(
            Message(
                id=new_id(),
                conversation_id=conv.id,
                channel="email",
                direction=Direction.OUTBOUND,
                kind=MessageKind.MESSAGE,
                author_type=AuthorType.AGENT,
                author_id="agent-1",
                text="Here it is.",
                attachments=[Attachment(name="发票.pdf", content_type="application/pdf", size=16, blob_ref=ref)],
                created_at=now,
                delivery=Delivery(next_attempt_at=now),
            )
        )
        hub.outbox.wake()
        await eventually(lambda: outbox.mails, timeout=10)
        mail = outbox.mails[0]
        assert mail["Reply-To"] == "tickets@support.example.com"
        [attachment] = list(mail.iter_attachments())
        assert attachment.get_filename() == "发票.pdf" and attachment.get_content() == b"%PDF-1.4 invoice"
