"""The `progress` plugin on real channels: "how is my ticket?" answered to the ticket's own
customer only (Telegram with buttons, email without), and the customer told of changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.inbound import Sender
from conversation.model import AuthorType, Conversation, Status, utcnow
from hub.app import Hub, build_app
from tests.email_servers import Sink, start_sink
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import GREETING_ALWAYS_OPEN, clear_proxies, customer_message, eventually, make_config, serve
from tests.test_email import SUPPORT, customer_mail

SECRET = "telegram-webhook-secret"
PUBLIC = "https://help.example.com"


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeTelegram, str]]:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    fake = FakeTelegram()
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    sink, server, port = await start_sink()
    yield sink, port
    server.close()
    await server.wait_closed()


def progress_config(
    tmp_path: Path,
    bot: tuple[FakeTelegram, str],
    smtp_port: int,
    enabled: tuple[str, ...] = ("progress", "greeting"),
    **settings: Any,
) -> Any:
    fake, base = bot
    from tests.conftest import free_port

    return make_config(
        tmp_path,
        {
            "hub": {"public_url": PUBLIC},
            "storage": {"timeout_seconds": 10},  # a busy test machine: not 503 for a slow disk
            "status_page": {"enabled": True, "secret": "env:HELPLINE_STATUS_SECRET"},
            "channels": {
                "telegram": {
                    "token": fake.token,
                    "mode": "webhook",
                    "webhook_secret": SECRET,
                    "api_base_url": base,
                },
                "email": {
                    "address": SUPPORT,
                    "listen_port": free_port(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_tls": "none",
                },
            },
            "plugins": {"enabled": list(enabled), "progress": settings, "greeting": GREETING_ALWAYS_OPEN},
        },
    )


@pytest.fixture
async def desk(
    tmp_path: Path, bot: tuple[FakeTelegram, str], sink: tuple[Sink, int]
) -> AsyncIterator[tuple[TestClient, Hub]]:
    hub = Hub(progress_config(tmp_path, bot, sink[1]))
    async with TestClient(TestServer(build_app(hub))) as client:
        yield client, hub


async def telegram(client: TestClient, update: dict[str, Any]) -> None:
    for _ in range(5):  # as Telegram does, an update refused with 503 (store busy) is sent again
        resp = await client.post(
            "/channels/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        if resp.status != 503:
            break
        await asyncio.sleep(0.2)
    assert resp.status == 200


def said(fake: FakeTelegram, chat: int = 777) -> list[str]:
    return [m["text"] for m in fake.sent("sendMessage") if int(m["chat_id"]) == chat]


async def said_count(fake: FakeTelegram, count: int, chat: int = 777) -> list[str]:
    await eventually(lambda: len(said(fake, chat)) >= count, timeout=15.0)  # a busy machine is slow
    return said(fake, chat)


async def number(hub: Hub, n: int) -> Conversation:
    found = await hub.store.tickets.get_conversation_by_number(n)
    assert found is not None
    return found


async def test_the_customer_asks_on_telegram_and_hears_where_the_ticket_stands_in_chinese(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "我的订单一直没到，已经一周了"))
    [greeting] = await said_count(fake, 1)
    assert "#1000" in greeting and f"{PUBLIC}/status/1000." in greeting  # the status link, in the greeting
    ticket = await number(hub, 1000)
    await hub.services.conversations.update_by(ticket, {"team": "finance"}, who="王芳", names={})
    await hub.services.conversations.send(
        await number(hub, 1000), "我们已联系仓库核实。", author_type=AuthorType.AGENT, author_id="a1"
    )
    await hub.services.conversations.add_note(await number(hub, 1000), "内部：仓库说下周", author="a1")
    await said_count(fake, 2)

    await telegram(client, text_update(2, "查询工单 1000", message_id=2))
    answer = (await said_count(fake, 3))[-1]
    assert "工单 #1000：处理中" in answer and "财务/退款" in answer and "我们已联系仓库核实" in answer
    assert "下一步" in answer and "内部" not in answer  # never a private note
    assert (await number(hub, 1000)).status is Status.OPEN
    assert await hub.store.tickets.get_conversation_by_number(1001) is None  # asking opened nothing

    # The ticket is resolved; asking again answers without reopening it.
    await hub.services.conversations.update_by(await number(hub, 1000), {"status": "resolved"}, who="王芳", names={})
    await telegram(client, text_update(3, "工单进度", message_id=3))
    texts = await said_count(fake, 5)  # the resolved notice, then the answer
    assert "已解决" in texts[-1] and (await number(hub, 1000)).status is Status.RESOLVED
    assert await hub.store.tickets.get_conversation_by_number(1001) is None

    # Closed, it is no live ticket: asked without a number, the answer still says where it ended
    # (a trial's customer got "you have no open tickets", no word of the one they had).
    closing = {"status": "closed", "team": ""}  # and with no team: a closed ticket has no "not yet"
    await hub.services.conversations.update_by(await number(hub, 1000), closing, who="王芳", names={})
    await telegram(client, text_update(4, "我的工单怎么样了", message_id=4))
    texts = await said_count(fake, 6)
    assert "工单 #1000：已关闭" in texts[-1] and "没有处理中的工单" not in texts[-1]
    assert "尚未分配团队" not in texts[-1] and "处理团队：无" in texts[-1]  # never "not yet" on a closed one (a trial)
    await telegram(client, text_update(5, "我的工单怎么样了", chat_id=888, user_id=888))  # someone without any
    assert "您目前没有处理中的工单" in (await said_count(fake, 1, chat=888))[-1]


async def test_a_ticket_of_a_team_out_of_hours_is_said_to_wait_for_its_return(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    """A trial's customer was promised 账户的客服会尽快接手 at 01:51 on a Sunday by a team closed
    until Monday 09:00."""
    from conversation.calendars import calendar_from_input

    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "我的订单一直没到"))
    await said_count(fake, 1)
    await hub.services.conversations.update_by(await number(hub, 1000), {"team": "finance"}, who="王芳", names={})
    sent = await hub.services.conversations.send(
        await number(hub, 1000), "我们已联系仓库核实。", author_type=AuthorType.AGENT, author_id="a1"
    )
    await said_count(fake, 2)
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    closed_today = {
        "timezone": "Asia/Shanghai",
        "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    closed_today["holidays"] = {today.isoformat(): "盘点日"}
    await hub.store.calendars.save_calendar("finance", calendar_from_input(closed_today))
    await telegram(client, text_update(2, "查询工单 1000", message_id=2))
    answer = (await said_count(fake, 3))[-1]
    # the update's time in the team's zone, as its return is (a trial read UTC beside 北京时间)
    local = sent.created_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"最近更新（{local:%Y-%m-%d %H:%M} 北京时间）：我们已联系仓库核实。" in answer, answer
    tomorrow = today + timedelta(days=1)
    assert f"下一步：财务/退款目前不在服务时间，将于{tomorrow.month}月{tomorrow.day}日" in answer, answer
    assert "09:00（北京时间）恢复服务后继续处理。" in answer and "尽快接手" not in answer
    await hub.store.calendars.delete_calendar("finance")  # open again: the usual words
    await telegram(client, text_update(3, "查询工单 1000", message_id=3))
    answer = (await said_count(fake, 4))[-1]
    assert "下一步：将由财务/退款尽快接手。" in answer and f"最近更新（{sent.created_at:%Y-%m-%d %H:%M} UTC）" in answer
    await hub.services.conversations.update_by(
        await number(hub, 1000), {"team": "customer-service"}, who="王芳", names={}
    )
    assert (await said_count(fake, 5))[-1] == "您的工单 #1000 已转交给客服继续处理。"  # told first
    await telegram(client, text_update(4, "查询工单 1000", message_id=4))
    # a trial read 客服的客服会尽快接手
    assert "下一步：将由客服尽快接手。" in (await said_count(fake, 6))[-1]
    hub.timezone = "Asia/Shanghai"  # [reports] timezone: the desk's own zone, where no calendar names one
    await telegram(client, text_update(5, "查询工单 1000", message_id=5))
    local = sent.created_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"最近更新（{local:%Y-%m-%d %H:%M} 北京时间）" in (await said_count(fake, 7))[-1]


async def test_a_stranger_hears_nothing_not_even_whether_the_number_exists(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "我的订单一直没到"))
    await said_count(fake, 1)

    stranger = {"chat_id": 888, "user_id": 888, "first_name": "Zhao", "username": "zhao"}
    await telegram(client, text_update(10, "查询工单 1000", **stranger))
    await telegram(client, text_update(11, "查询工单 4242", message_id=2, **stranger))
    first, second = await said_count(fake, 2, chat=888)
    assert first == second  # an existing and an unknown number get the same words
    assert "1000" not in first and "订单" not in first and "/status/" not in first
    # The stranger's questions are kept in a ticket that never entered the agents' queue.
    theirs = await number(hub, 1001)
    assert theirs.status is Status.RESOLVED and theirs.customer_address == "888"
    assert await hub.store.tickets.get_conversation_by_number(1002) is None


async def test_a_ticket_merged_away_is_told_so_and_where_it_goes_on_only_when_that_is_the_askers(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    """A trial's customer whose ticket was merged into another customer's was told to ask "from
    the address you wrote from", the one they were writing from."""
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "I was charged twice", first_name="Li"))  # 1000, Li's
    await said_count(fake, 1)
    await telegram(client, text_update(2, "My card does not work", chat_id=-100, chat_type="group", message_id=2))
    await said_count(fake, 1, chat=-100)  # 1001, Li's too (a group chat with the bot)
    stranger = {"chat_id": 888, "user_id": 888, "first_name": "Zhao", "username": "zhao"}
    await telegram(client, text_update(3, "I was charged twice as well", **stranger))  # 1002, Zhao's
    await said_count(fake, 1, chat=888)
    conversations = hub.services.conversations
    await conversations.merge(await number(hub, 1001), await number(hub, 1000), who="王芳")  # Li's into Li's
    await telegram(client, text_update(4, "status of #1001", message_id=4))
    told = (await said_count(fake, 2))[-1]
    assert told.startswith("Ticket #1001 was merged into your ticket #1000, where it goes on.\nTicket #1000: open"), (
        told
    )

    await conversations.merge(await number(hub, 1000), await number(hub, 1002), who="王芳")  # Li's into Zhao's
    await telegram(client, text_update(5, "status of #1000", message_id=5))
    told = (await said_count(fake, 3))[-1]
    assert told.startswith("Ticket #1000 was merged into another ticket by our team and is closed."), told
    assert "1002" not in told and "charged twice as well" not in told and "account or email address" not in told
    await telegram(client, text_update(6, "status of #1001", message_id=6))  # merged into 1000, merged on
    assert (await said_count(fake, 4))[-1].startswith("Ticket #1001 was merged into another ticket")
    await telegram(client, text_update(9, "how is my ticket going?", message_id=9))  # nothing of Li's is open
    assert (await said_count(fake, 5))[-1].startswith("Ticket #1000 was merged into another ticket by our team")
    await telegram(client, text_update(7, "查询工单 1000", message_id=7, **stranger))  # Zhao: not theirs
    assert "合并" not in (await said_count(fake, 2, chat=888))[-1]
    await telegram(client, text_update(8, "查询工单 1002", **stranger, message_id=8))  # Zhao's own, unmerged
    assert "工单 #1002：处理中" in (await said_count(fake, 3, chat=888))[-1]


async def test_more_open_tickets_than_are_offered_are_counted(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    """An integrator's user with seven open tickets was offered five, with no word of the rest."""
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "I was charged twice", first_name="Li"))
    await said_count(fake, 1)
    li = Sender(address="777", display_name="Li")
    for n in range(6):  # six more of Li's, on other threads of the same chat app
        await hub.ingest(
            customer_message(f"more-{n}", f"problem {n}", channel="telegram", thread=str(-1000 - n), sender=li)
        )
    await telegram(client, text_update(2, "where is my ticket?", message_id=2))
    offer = (await said_count(fake, 2))[-1]
    assert offer.startswith("You have 7 open tickets; the latest 5:"), offer
    assert offer.count("#10") == 5


async def test_several_open_tickets_come_as_buttons_on_telegram_and_a_tap_answers(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "I was charged twice", first_name="Li"))
    await said_count(fake, 1)
    # A second live ticket of the same Telegram user: written in a group chat with the bot.
    group = {"chat_id": -100, "chat_type": "group", "message_id": 2}
    await telegram(client, text_update(2, "My card does not work", **group))
    await said_count(fake, 1, chat=-100)

    await telegram(client, text_update(3, "where is my ticket?", message_id=3))
    await said_count(fake, 2)
    offer = fake.sent("sendMessage")[-1]
    markup = offer["reply_markup"]
    keyboard = (markup if isinstance(markup, dict) else json.loads(markup))["inline_keyboard"]
    buttons = [b["callback_data"] for row in keyboard for b in row]
    assert buttons == ["progress:1000", "progress:1001"]  # latest activity first
    assert "#1001" in offer["text"] and "#1000" in offer["text"]

    tap = {
        "update_id": 4,
        "callback_query": {
            "id": "cb1",
            "chat_instance": "ci",
            "data": "progress:1000",
            "from": {"id": 777, "is_bot": False, "first_name": "Li"},
            "message": {"message_id": 101, "date": 0, "chat": {"id": 777, "type": "private"}, "text": offer["text"]},
        },
    }
    await telegram(client, tap)
    answer = (await said_count(fake, 3))[-1]
    assert answer.startswith("Ticket #1000: open") and "I was charged twice" not in answer
    assert (await number(hub, 1000)).status is Status.OPEN


async def test_by_email_a_verified_address_of_the_contact_gets_the_status_and_a_list_has_numbers(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str], sink: tuple[Sink, int]
) -> None:
    client, hub = desk
    fake, _ = bot
    mails, _ = sink
    email = hub.adapters["email"]

    async def mail(subject: str, text: str, sender: str = "Li Na <li.na@gmail.com>") -> None:
        envelope = sender.split("<")[-1].rstrip(">")
        await aiosmtplib.send(
            customer_mail(subject, text, sender=sender),
            hostname="127.0.0.1",
            port=email.listen_port,  # type: ignore[attr-defined]
            sender=envelope,
            recipients=[SUPPORT],
        )

    await telegram(client, text_update(1, "我的订单一直没到"))
    await said_count(fake, 1)
    await mail("发票", "请开发票")  # ticket 1001, from the same person's mailbox
    await eventually(lambda: len(mails.mails) >= 1)
    telegram_contact = (await number(hub, 1000)).contact_id
    await hub.services.conversations.merge_contacts((await number(hub, 1001)).contact_id, telegram_contact, who="王芳")

    await mail("查询", "查询工单 1000")  # a verified address (the mail's sender) of the ticket's contact
    await eventually(lambda: len(mails.mails) >= 2)
    answer = mails.mails[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "工单 #1000：处理中" in answer

    await mail("Where", "where is my ticket")  # no number, two open tickets, no buttons in mail
    await eventually(lambda: len(mails.mails) >= 3)
    listing = mails.mails[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "#1000" in listing and "#1001" in listing and '"status of #1001"' in listing
    # Asked in English: answered in English, its footer too, though the contact writes Chinese.
    assert "You have several open tickets" in listing and "工单" not in listing.replace("查询工单 1000", "")

    await mail("查询", "查询工单 1000", sender="Someone <someone@example.org>")
    await eventually(lambda: len(mails.mails) >= 4)
    refused = mails.mails[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "处理中" not in refused and "/status/1000." not in refused
    for n in (1002, 1003, 1004):  # each question is kept in a ticket resolved from the start
        assert (await number(hub, n)).status is Status.RESOLVED
    # whose page shows nothing of the ticket an answer is about: no footer links it (a trial's
    # answer about #1015 linked "your ticket" to the question's own #1019)
    footers = [m.get_body(("plain",)).get_content() for m in mails.mails[1:]]  # type: ignore[union-attr]
    assert not [text for text in footers for n in (1002, 1003, 1004) if f"/status/{n}." in text]


async def test_the_customer_is_told_of_a_new_team_waiting_and_resolved_once_each(
    tmp_path: Path, bot: tuple[FakeTelegram, str], sink: tuple[Sink, int]
) -> None:
    fake, _ = bot
    hub = Hub(progress_config(tmp_path, bot, sink[1], notify_pending=False))
    async with TestClient(TestServer(build_app(hub))) as client:
        await telegram(client, text_update(1, "我的订单一直没到"))
        await said_count(fake, 1)
        change = hub.services.conversations.update_by
        first = await change(await number(hub, 1000), {"team": "customer-service"}, who="A", names={})
        moved = await change(first, {"team": "finance"}, who="A", names={})
        await change(first, {"team": "finance"}, who="A", names={})  # a retried request with the old view
        [told] = (await said_count(fake, 2))[1:]
        assert told == "您的工单 #1000 已转交给财务/退款继续处理。"

        waiting = await change(moved, {"status": "pending"}, who="A", names={})  # notify_pending = false
        await change(waiting, {"status": "resolved"}, who="A", names={})
        await change(waiting, {"status": "resolved"}, who="A", names={})  # a double click
        texts = await said_count(fake, 3)
        assert texts[2].startswith("您的工单 #1000 已解决")
        await hub.plugin_host.settle()  # notices come through on_event, each in its own task
        messages = await hub.store.tickets.list_messages(first.id)
        assert sum(1 for m in messages if m.author_id == "progress") == 2  # stored once each, through the outbox
        assert len(said(fake)) == 3


def test_the_channels_that_show_buttons_say_so() -> None:
    """The plugin offers buttons only where they are shown (Telegram's inline keyboard, Slack
    blocks, web chat quick replies, the webhook's `choices`); mail gets the phrase to reply with."""
    from adapters.email.adapter import EmailAdapter
    from adapters.slack.adapter import SlackAdapter
    from adapters.telegram.adapter import TelegramAdapter
    from adapters.webchat.adapter import WebChatAdapter
    from adapters.webhook import WebhookAdapter

    assert [a.shows_choices for a in (TelegramAdapter, SlackAdapter, WebChatAdapter, WebhookAdapter)] == [True] * 4
    assert not EmailAdapter.shows_choices


async def test_the_bare_number_answers_the_greeting_only(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "I was charged twice"))
    await said_count(fake, 1)
    await telegram(client, text_update(2, "#1000", message_id=2))  # in answer to the greeting
    answer = (await said_count(fake, 2))[-1]
    assert (
        answer.startswith("Ticket #1000: open")
        and "Last update: none yet, no one from our team has replied to you so far." in answer
    )
    assert "Next: an agent will pick it up." in answer

    await hub.services.conversations.send(
        await number(hub, 1000), "Which order number?", author_type=AuthorType.AGENT, author_id="a1"
    )
    await said_count(fake, 3)
    await telegram(client, text_update(3, "1000", message_id=3))  # an order number the agent asked for
    ticket = await number(hub, 1000)

    async def processed() -> bool:
        thread = await hub.store.tickets.list_messages(ticket.id)
        return thread[-1].text == "1000" and thread[-1].plugins_done

    await eventually(processed)
    assert len(said(fake)) == 3

    # Another customer's bare "1" or "1000" after their greeting is no status question: a
    # number of none of their tickets gets no bot answer (the same for one that exists).
    await telegram(client, text_update(10, "my parcel is late", chat_id=888, user_id=888, message_id=10))
    await said_count(fake, 1, chat=888)
    theirs = await number(hub, 1001)
    for n, text in enumerate(("1", "1000"), 11):
        await telegram(client, text_update(n, text, chat_id=888, user_id=888, message_id=n))

        async def stored(text: str = text) -> bool:
            thread = await hub.store.tickets.list_messages(theirs.id)
            return any(m.text == text and m.plugins_done for m in thread)

        await eventually(stored)
    assert len(said(fake, 888)) == 1


async def test_with_the_faq_bot_a_hello_then_the_own_tickets_number_is_answered(
    tmp_path: Path, bot: tuple[FakeTelegram, str], sink: tuple[Sink, int]
) -> None:
    """A re-trial with `enabled = ["progress", "greeting", "faq"]`: the FAQ bot handed "你好" on,
    so the number after the greeting was no longer its answer and got nothing."""
    fake, _ = bot
    hub = Hub(progress_config(tmp_path, bot, sink[1], enabled=("progress", "greeting", "faq")))
    async with TestClient(TestServer(build_app(hub))) as client:
        await telegram(client, text_update(1, "你好"))
        [greeting] = await said_count(fake, 1)
        assert "#1000" in greeting
        await telegram(client, text_update(2, "1000", message_id=2))
        answer = (await said_count(fake, 2))[-1]
        assert answer.startswith("工单 #1000") and len(said(fake)) == 2


async def test_the_platform_webhook_says_a_message_was_kept_only_as_a_status_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial's backend was answered {"ticket": 1001} for "查询工单 1000": a ticket its user was
    then told nothing of (it keeps the question, out of the agents' queue)."""
    from adapters.webhook import signed_headers

    monkeypatch.setenv("HELPLINE_API_SECRET", "platform-secret-for-tests")
    channels = {"platform": {"type": "webhook", "secret": "env:HELPLINE_API_SECRET"}}
    config = make_config(tmp_path, {"channels": channels, "plugins": {"enabled": ["progress"]}})

    async def post(n: int, text: str) -> dict[str, Any]:
        body = {"id": f"p-{n}", "sender": {"id": "user-9"}, "thread": f"t-{n}", "text": text}
        raw = json.dumps(body).encode()
        resp = await client.post(
            "/channels/platform/messages", data=raw, headers=signed_headers("platform-secret-for-tests", raw)
        )
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
        return answer

    async with TestClient(TestServer(build_app(Hub(config)))) as client:
        assert await post(1, "我的订单一直没到") == {"ok": True, "duplicate": False, "ticket": 1000}
        asked = await post(2, "查询工单 1000")
        assert asked == {"ok": True, "duplicate": False, "ticket": 1001, "status_question": True}
        assert (await post(2, "查询工单 1000"))["status_question"] is True  # a retry says the same
