"""The FAQ bot end to end on two channels, in both languages: the web chat through the
widget's own socket, and Telegram through the real python-telegram-bot client against the
fake Bot API (buttons on both; what the customer taps comes back as the choice); and by
email, where the answer is HTML and auto-replies get none."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import Status
from hub.app import Hub, build_app
from tests.conftest import free_port
from tests.email_servers import Sink, start_sink
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import clear_proxies, eventually, make_config, serve
from tests.test_email import SUPPORT, customer_mail
from tests.test_faq_bot import with_articles
from tests.test_progress import said_count, telegram
from tests.test_webchat import frames_until, visitor

SECRET = "telegram-webhook-secret"

HANDING_OFF = "All right, I'm passing you to a colleague, who will reply as soon as they can."


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeTelegram, str]]:
    clear_proxies(monkeypatch)
    fake = FakeTelegram()
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


@pytest.fixture
async def desk(tmp_path: Path, bot: tuple[FakeTelegram, str]) -> AsyncIterator[tuple[TestClient, Hub]]:
    fake, base = bot
    config = make_config(
        tmp_path,
        {
            "storage": {"timeout_seconds": 10},  # a busy test machine: not 503 for a slow disk
            "channels": {
                "webchat": {"secret": "widget-secret-for-faq-tests"},
                "telegram": {"token": fake.token, "mode": "webhook", "webhook_secret": SECRET, "api_base_url": base},
            },
            "plugins": {"enabled": ["faq"], "faq": {"answer_threshold": 0.8, "suggest_threshold": 0.25}},
        },
    )
    hub = Hub(config)
    async with TestClient(TestServer(build_app(hub))) as client:
        yield client, await with_articles(hub)


async def bot_frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        frame = await frames_until(ws, "message")
        if frame["message"]["from"] == "bot":
            return dict(frame["message"])


async def ticket_of(hub: Hub, number: int = 1000) -> Any:
    return await hub.store.tickets.get_conversation_by_number(number)


async def test_web_chat_in_chinese_answers_with_buttons_and_a_tapped_yes_resolves(
    desk: tuple[TestClient, Hub],
) -> None:
    client, hub = desk
    me = await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=zh-CN") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        await frames_until(ws, "hello")
        await ws.send_json({"type": "message", "client_id": "c1", "text": "忘记密码了怎么办"})
        answer = await bot_frame(ws)
        assert answer["text"].startswith("忘记密码怎么找回\n\n在登录页点击「忘记密码」")
        assert answer["text"].endswith("这解决了您的问题吗？")
        assert answer["choices"] == [{"id": "faq:yes", "label": "是"}, {"id": "faq:no", "label": "否"}]

        await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "faq:yes", "text": "是"})
        seen: dict[str, Any] = {}
        while len(seen) < 2:  # the new status is told at once, the thanks through the outbox
            frame = await ws.receive_json(timeout=5)
            if frame["type"] == "ticket" or (frame["type"] == "message" and frame["message"]["from"] == "bot"):
                seen[frame["type"]] = frame
        assert seen["message"]["message"]["text"] == "很高兴能帮到您！如还有其他问题，随时给我们留言。"
        assert seen["ticket"]["conversation"]["status"] == "resolved"
    done = await ticket_of(hub)
    assert done.status is Status.RESOLVED and not done.human_owned


async def test_web_chat_in_english_a_tapped_no_hands_off_to_the_articles_team(desk: tuple[TestClient, Hub]) -> None:
    client, hub = desk
    me = await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=en") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        await frames_until(ws, "hello")
        await ws.send_json({"type": "message", "client_id": "c1", "text": "how do i get a refund"})
        answer = await bot_frame(ws)
        assert answer["text"].startswith("How to request a refund\n\nOpen the order under My orders, tap Request")
        assert [c["label"] for c in answer["choices"]] == ["Yes", "No"]
        await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "faq:no", "text": "No"})
        assert (await bot_frame(ws))["text"] == HANDING_OFF
    await eventually(lambda: _handed_off(hub))
    assert (await ticket_of(hub)).team == "finance"  # the article's category's team


def keyboard(sent: dict[str, Any]) -> list[tuple[str, str]]:
    markup = sent["reply_markup"]
    rows = (markup if isinstance(markup, dict) else json.loads(markup))["inline_keyboard"]
    return [(b["callback_data"], b["text"]) for row in rows for b in row]


def tap(update_id: int, data: str, sent: dict[str, Any], user: int = 777) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cb{update_id}",
            "chat_instance": "ci",
            "data": data,
            "from": {"id": user, "is_bot": False, "first_name": "Li", "language_code": "zh-hans"},
            "message": {"message_id": 100 + update_id, "date": 0, "chat": {"id": user, "type": "private"},
                        "text": sent["text"]},
        },
    }  # fmt: skip


async def test_telegram_in_chinese_unsure_offers_buttons_a_pick_answers_and_yes_resolves(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "退款多久到账"))
    [offer_text] = await said_count(fake, 1)
    offer = fake.sent("sendMessage")[-1]
    assert offer_text.startswith("我不太确定您想问的是哪一个，请选择：\n1. 提现多久到账\n2. 如何申请退款")
    assert keyboard(offer) == [("faq:pick:1", "提现多久到账"), ("faq:pick:2", "如何申请退款"), ("faq:none", "都不是")]

    await telegram(client, tap(2, "faq:pick:1", offer))
    answer_text = (await said_count(fake, 2))[-1]
    assert answer_text.startswith("提现多久到账\n\n提现一般在 1-3 个工作日内到账") and "**" not in answer_text
    assert keyboard(fake.sent("sendMessage")[-1]) == [("faq:yes", "是"), ("faq:no", "否")]

    await telegram(client, tap(3, "faq:yes", fake.sent("sendMessage")[-1]))
    assert (await said_count(fake, 3))[-1] == "很高兴能帮到您！如还有其他问题，随时给我们留言。"
    await eventually(lambda: _status(hub, Status.RESOLVED))


async def test_telegram_in_english_answers_and_a_typed_request_for_a_person_hands_off(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "where is my package"))
    [answer] = await said_count(fake, 1)
    assert answer.startswith("Track your shipment\n\nOpen the order details and tap Track shipment")
    assert keyboard(fake.sent("sendMessage")[-1]) == [("faq:yes", "Yes"), ("faq:no", "No")]
    await telegram(client, text_update(2, "I want to talk to a real person", message_id=2))
    assert (await said_count(fake, 2))[-1] == HANDING_OFF
    await eventually(lambda: _handed_off(hub))
    handed = await ticket_of(hub)
    notes = [m.text for m in await hub.store.tickets.list_messages(handed.id) if m.kind.value == "note"]
    assert notes and "1. Track your shipment (" in notes[0]  # the bot's guesses, best first
    [record] = await hub.services.records.query("faq", "answer", conversation_id=handed.id)
    assert record.status == "not_helpful"


async def _handed_off(hub: Hub) -> bool:
    return (await ticket_of(hub)).handed_off_at is not None


async def _status(hub: Hub, status: Status) -> bool:
    found = await ticket_of(hub)
    return found is not None and found.status is status


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    sink, server, port = await start_sink()
    yield sink, port
    server.close()
    await server.wait_closed()


async def test_by_email_the_answer_is_the_articles_sanitised_html_and_auto_replies_are_left_alone(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    mails, smtp_port = sink
    config = make_config(
        tmp_path,
        {
            "channels": {
                "email": {
                    "address": SUPPORT,
                    "listen_port": free_port(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_tls": "none",
                }
            },
            "plugins": {"enabled": ["faq"], "faq": {"answer_threshold": 0.8, "suggest_threshold": 0.25}},
        },
    )
    hub = Hub(config)
    async with TestClient(TestServer(build_app(hub))):
        await with_articles(hub)
        port = hub.adapters["email"].listen_port  # type: ignore[attr-defined]

        async def mail(mail: Any) -> None:
            await aiosmtplib.send(mail, hostname="127.0.0.1", port=port, sender="li.na@gmail.com", recipients=[SUPPORT])

        await mail(customer_mail("密码", "忘记密码了怎么办"))
        await eventually(lambda: len(mails.mails) >= 1, timeout=10)
        answer = mails.mails[-1]
        text = answer.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = answer.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "1. 输入注册手机号" in text and "请回复“是”或“否”" in text and "<" not in text
        assert "<strong>短信验证码</strong>" in html and "<ol>" in html and "<p>这解决了您的问题吗？</p>" in html
        assert 'href="https://help.example.com/password"' in html and 'rel="noopener noreferrer nofollow"' in html

        # An out-of-office answer to the bot's mail: no answer, no hand-off, no mail loop.
        thread = {"In_Reply_To": answer["Message-ID"], "References": answer["Message-ID"]}
        await mail(
            customer_mail("自动回复: 密码", "我正在休假，回来后回复您。", Auto_Submitted="auto-replied", **thread)
        )
        ticket = await hub.store.tickets.get_conversation_by_number(1000)
        await eventually(lambda: _messages(hub, ticket.id, 3), timeout=10)
        assert len(mails.mails) == 1 and not (await ticket_of(hub)).human_owned

        # "1" (yes) above the mail program's quote of the answer, with no "wrote:" line (a trial:
        # read as a new question, handed on)
        quoted = "\n".join(f"> {line}" for line in text.splitlines())
        await mail(customer_mail("Re: 密码", f"1\n\n{quoted}", **thread))
        await eventually(lambda: _status(hub, Status.RESOLVED), timeout=10)
        assert not (await ticket_of(hub)).human_owned


async def _messages(hub: Hub, conversation_id: str, count: int) -> bool:
    stored = await hub.store.tickets.list_messages(conversation_id)
    return len(stored) >= count and all(m.plugins_done for m in stored)
