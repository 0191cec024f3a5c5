"""Bots answer in the customer's language, on every channel: the widget's language, Telegram's
language_code, a mail's Content-Language or its writing, Slack's locale; and hub.toml can
give the greeting per language."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from conversation.inbound import Sender
from conversation.model import AuthorType, MessageKind
from hub.app import Hub, build_app
from hub.config import load_config
from hub.settings import ConfigError
from plugins.greeting import GreetingPlugin
from tests.conftest import free_port
from tests.email_servers import Sink, start_sink
from tests.fake_slack import FakeSlack, message_event
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import (
    GREETING_ALWAYS_OPEN,
    clear_proxies,
    customer_message,
    eventually,
    make_config,
    running_hub,
    serve,
)

CHINESE = "感谢您联系我们。您的工单号是 #1000"
ENGLISH = "Thanks for contacting us. Your ticket number is #1000"


def config(tmp_path: Path, channels: dict[str, Any], **greeting: Any) -> Any:
    plugins = {"enabled": ["greeting"], "greeting": {**GREETING_ALWAYS_OPEN, **greeting}}
    return make_config(tmp_path, {"channels": channels, "plugins": plugins})


# -- the widget ---------------------------------------------------------------------------
async def widget_greeting(client: TestClient, lang: str, text: str) -> str:
    session = await (await client.post("/channels/webchat/session", json={})).json()
    async with client.ws_connect(f"/channels/webchat/ws?token={session['token']}&lang={lang}") as ws:
        await ws.send_json({"type": "message", "client_id": "c1", "text": text})
        while True:
            frame = await ws.receive_json(timeout=5)
            if frame["type"] == "message" and frame["message"]["from"] == "bot":
                return str(frame["message"]["text"])


@pytest.mark.parametrize(("lang", "expected"), [("zh-CN", CHINESE), ("zh-Hans-CN", CHINESE), ("en-US", ENGLISH)])
async def test_a_widget_visitor_is_greeted_in_the_widgets_language(tmp_path: Path, lang: str, expected: str) -> None:
    hub = Hub(config(tmp_path, {"webchat": {"secret": "visitor-token-secret", "sites": {"default": {}}}}))
    async with TestClient(TestServer(build_app(hub))) as client:
        # words too few to say a language ("order 5531"): the widget's word (plain sentences are
        # answered in their own language, test_greeting)
        greeting = await widget_greeting(client, lang, "order 5531")
        assert greeting.startswith(expected)
        conversation = await hub.store.tickets.get_conversation_by_number(1000)
        contact = await hub.store.contacts.get_contact(conversation.contact_id)  # type: ignore[union-attr]
        assert contact is not None and contact.language == lang


# -- Telegram, the real python-telegram-bot against the fake Bot API -----------------------
@pytest.fixture
async def telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeTelegram, str]]:
    clear_proxies(monkeypatch)
    fake = FakeTelegram()
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


@pytest.mark.parametrize(("language_code", "expected"), [("zh-hans", CHINESE), ("zh-hant", CHINESE), ("en", ENGLISH)])
async def test_a_telegram_user_is_greeted_in_their_language_code(
    tmp_path: Path, telegram: tuple[FakeTelegram, str], language_code: str, expected: str
) -> None:
    bot, base = telegram
    channel = {"token": bot.token, "mode": "webhook", "webhook_secret": "telegram-webhook-secret", "api_base_url": base}
    async with TestClient(TestServer(build_app(Hub(config(tmp_path, {"telegram": channel}))))) as client:
        update = text_update(1, "hi")
        update["message"]["from"]["language_code"] = language_code
        resp = await client.post(
            "/channels/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": channel["webhook_secret"]},
        )
        assert resp.status == 200
        await eventually(lambda: bot.sent("sendMessage"))
        assert bot.sent("sendMessage")[0]["text"].startswith(expected)


async def test_a_telegram_delivery_failure_is_said_in_the_thread_in_the_hubs_language(
    tmp_path: Path, telegram: tuple[FakeTelegram, str]
) -> None:
    bot, base = telegram
    channel = {"token": bot.token, "mode": "webhook", "webhook_secret": "telegram-webhook-secret", "api_base_url": base}
    raw = {"hub": {"language": "zh-CN"}, "channels": {"telegram": channel}}
    hub = Hub(make_config(tmp_path, raw))
    async with TestClient(TestServer(build_app(hub))) as client:
        headers = {"X-Telegram-Bot-Api-Secret-Token": channel["webhook_secret"]}
        assert (
            await client.post("/channels/telegram/webhook", json=text_update(1, "hi"), headers=headers)
        ).status == 200
        conversation = await hub.store.tickets.get_conversation_by_number(1000)
        assert conversation is not None
        bot.fail_next["sendMessage"] = [(403, {"description": "Forbidden: bot was blocked by the user"})]
        await hub.actions.send(conversation, "are you there?", author_type=AuthorType.AGENT, author_id="a1")

        async def said() -> list[str]:
            messages = await hub.store.tickets.list_messages(conversation.id)
            return [m.text for m in messages if m.kind is MessageKind.EVENT]

        await eventually(said)
        [event] = await said()
        assert event.startswith("Telegram 拒绝向 Li (@lina) 投递：Forbidden: bot was blocked by the user。在对方解除")
        # ... and kept by key and parameters, for each agent's inbox to say it in the agent's language
        [stored] = [m for m in await hub.store.tickets.list_messages(conversation.id) if m.kind is MessageKind.EVENT]
        assert stored.raw == {
            "event": {
                "key": "event.telegram_blocked",
                "params": {"name": "Li (@lina)", "reason": "Forbidden: bot was blocked by the user"},
            }
        }


# -- email, through the real SMTP listener ------------------------------------------------
@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    sink, server, port = await start_sink()
    yield sink, port
    server.close()
    await server.wait_closed()


def mail(text: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Li Na <li.na@example.com>"
    message["To"] = "help@support.example.com"
    message["Subject"] = "order"
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content(text)  # first: it drops any Content-* header set before
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (mail("我的订单三天了还没有到，请帮忙查一下。"), CHINESE),  # nothing says: the writing does
        (mail("Order 5531", Content_Language="zh-CN"), CHINESE),  # the mail says so
        (mail("My order has not arrived."), ENGLISH),
    ],
)
async def test_a_mail_is_answered_in_its_language(
    tmp_path: Path, sink: tuple[Sink, int], message: EmailMessage, expected: str
) -> None:
    outbox, smtp_port = sink
    channel = {
        "type": "email",
        "address": "help@support.example.com",
        "listen_port": free_port(),
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_tls": "none",
    }
    async with running_hub(config(tmp_path, {"email": channel})) as hub:
        port = hub.adapters["email"].listen_port  # type: ignore[attr-defined]
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port, recipients=["help@support.example.com"])
        await eventually(lambda: outbox.mails)
        assert outbox.mails[0].get_body(("plain",)).get_content().startswith(expected)


# -- Slack: users.info's locale -------------------------------------------------------------
async def test_a_slack_user_is_greeted_in_their_slack_locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxies(monkeypatch)
    fake = FakeSlack()
    runner, fake.base = await serve(fake.app())
    fake.users["U1"] = {"id": "U1", "name": "li", "locale": "zh-CN", "profile": {"display_name": "Li Na"}}
    channel = {
        "bot_token": fake.bot_token,
        "signing_secret": "slack-signing-secret",
        "api_base_url": f"{fake.base}/api/",
    }
    try:
        async with TestClient(TestServer(build_app(Hub(config(tmp_path, {"slack": channel}))))) as client:
            body = json.dumps(message_event("hi there", ts="1700000001.000100")).encode()
            timestamp = str(int(time.time()))
            signature = SignatureVerifier("slack-signing-secret").generate_signature(timestamp=timestamp, body=body)
            headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
            resp = await client.post("/channels/slack/events", data=body, headers=headers)
            assert resp.status == 200
            await eventually(lambda: fake.sent("chat.postMessage"))
            assert fake.sent("chat.postMessage")[0]["text"].startswith(CHINESE)
            assert fake.sent("users.info")[0]["include_locale"] in ("true", "1", "True")
    finally:
        await runner.cleanup()


# -- per-language texts in hub.toml --------------------------------------------------------
async def replies(hub: Hub, count: int) -> list[str]:
    await eventually(lambda: len(hub.adapters["chat"].sent) >= count)
    return [o.message.text for o in hub.adapters["chat"].sent]


async def test_hub_toml_gives_the_greeting_per_language_and_the_catalog_fills_the_rest(tmp_path: Path) -> None:
    table = {"zh": "您好！工单 #{number} 已创建。", "en": "Hi! Ticket #{number} is open."}
    async with running_hub(config(tmp_path, {"chat": {"type": "recording"}}, greeting=table)) as hub:
        await hub.ingest(customer_message("m1", "你好", thread="t1", sender=_sender("u1", "zh-TW")))
        await hub.ingest(customer_message("m2", "hello", thread="t2", sender=_sender("u2", "en-GB")))
        await hub.ingest(customer_message("m3", "bonjour", thread="t3", sender=_sender("u3", "fr")))
        texts = sorted(await replies(hub, 3))
    assert texts == sorted(["您好！工单 #1000 已创建。", "Hi! Ticket #1001 is open.", "Hi! Ticket #1002 is open."])


async def test_a_customer_of_unknown_language_gets_the_hubs_default_language(tmp_path: Path) -> None:
    raw = {"hub": {"language": "zh-CN"}, "plugins": {"enabled": ["greeting"], "greeting": GREETING_ALWAYS_OPEN}}
    async with running_hub(make_config(tmp_path, raw)) as hub:
        await hub.ingest(customer_message("m1", "12345", sender=_sender("u1", "")))
        [text] = await replies(hub, 1)
    assert text.startswith(CHINESE)


async def test_an_agents_correction_of_the_language_is_what_bots_use(tmp_path: Path) -> None:
    async with running_hub(config(tmp_path, {"chat": {"type": "recording"}})) as hub:
        first = await hub.ingest(customer_message("m1", "hello", thread="t1", sender=_sender("u1", "")))
        await replies(hub, 1)  # greeted as the message said; then an agent corrects the language
        await hub.store.contacts.update_contact(first.contact.id, language="zh-CN")
        await hub.ingest(customer_message("m2", "hello again", thread="t2", sender=_sender("u1", "en")))
        texts = await replies(hub, 2)
    assert texts[0].startswith(ENGLISH) and texts[1].startswith("感谢您联系我们。您的工单号是 #1001")


@pytest.mark.parametrize(
    ("greeting", "problem"),
    [
        (
            {"zh-CN": "工单 #{numbr}"},
            r"plugins.greeting.greeting.zh-CN: unknown placeholder \{numbr\} \(this text takes \{number\}\)",
        ),
        # a lone brace in Python's words was "Single '{' encountered in format string" (a trial)
        ({"en": "Hi #{number} {"}, r"plugins.greeting.greeting.en: a \{ or \} without its pair; write \{\{ or \}\}"),
        ({"en": "Hi {0}"}, r"greeting.en: unknown placeholder \{0\} \(this text takes \{number\}\)"),
        ({"en": "Hi {number.x}"}, r"greeting.en: unknown placeholder \{number.x\}"),
        ({"not a language": "Hi #{number}"}, r"'not a language' is not a language tag"),
        # shaped like a tag, or empty: no customer's language could ever pick it (a developer's trial)
        ({"xx-nonsense-tag": "Hi #{number}"}, r"greeting.xx-nonsense-tag: 'xx-nonsense-tag' is not a language tag"),
        ({"": "Hi #{number}"}, r"plugins.greeting.greeting.: '' is not a language tag"),
        ({"en": 5}, r"plugins.greeting.greeting.en: expected a string, got int"),
        (["Hi"], r"plugins.greeting.greeting: expected string or table"),
    ],
)
def test_per_language_texts_are_checked_at_start(tmp_path: Path, greeting: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        config(tmp_path, {}, greeting=greeting)


def test_a_placeholder_with_a_format_is_a_good_text(tmp_path: Path) -> None:
    """Checked by the format parser, not by formatting with stand-ins: "{number:05d}" was refused
    as a lone brace (a review)."""
    config(tmp_path, {}, greeting={"en": "Ticket #{number:05d}", "zh-CN": "工单 {{编号}} #{number}"})


def test_a_single_text_still_answers_everyone() -> None:
    GreetingPlugin.check_settings("plugins.greeting", GreetingPlugin.Settings(greeting="Hello #{number}"))


def _sender(address: str, language: str) -> Sender:
    return Sender(address=address, display_name="Zhang Wei", language=language)


def test_the_starter_hub_toml_with_its_per_language_lines_uncommented_is_valid(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "hub.toml").read_text(encoding="utf-8").replace("# greeting.", "greeting.")
    (tmp_path / "hub.toml").write_text(text, encoding="utf-8")
    loaded = load_config(tmp_path / "hub.toml")
    [greeting] = [p for p in loaded.plugins if p.name == "greeting"]
    assert greeting.settings.greeting["zh-CN"] == "感谢您的来信！您的工单号是 #{number}。"
    assert loaded.hub.language == "en"


# -- the web chat's email confirmation -------------------------------------------------------
async def test_a_chinese_visitor_gets_the_email_confirmation_in_chinese(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    outbox, smtp_port = sink
    channels = {
        "email": {
            "type": "email",
            "address": "help@support.example.com",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_tls": "none",
        },
        "webchat": {"secret": "visitor-token-secret", "sites": {"default": {}}, "email_channel": "email"},
    }
    raw = {"channels": channels, "plugins": {"enabled": []}}
    async with TestClient(TestServer(build_app(Hub(make_config(tmp_path, raw))))) as client:
        session = await (await client.post("/channels/webchat/session", json={})).json()
        async with client.ws_connect(f"/channels/webchat/ws?token={session['token']}&lang=zh-CN") as ws:
            await ws.send_json({"type": "message", "client_id": "c1", "text": "hi"})
            while (await ws.receive_json(timeout=5))["type"] != "ack":
                pass
        resp = await client.post("/channels/webchat/email", json={"token": session["token"], "email": "li@example.com"})
        assert resp.status == 200
        await eventually(lambda: outbox.mails)
    [confirmation] = outbox.mails
    assert str(confirmation["Subject"]) == "您的咨询 [#1000]"
    body = confirmation.get_body(("plain",)).get_content()
    assert body.startswith("您好！有人在我们网站的在线客服中留下了这个邮箱地址") and "Hello" not in body
