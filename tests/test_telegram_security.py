"""Telegram and its secrets: the webhook route only in webhook mode, always signed, and
neither the bot token nor the webhook secret in any log record (DEBUG included)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.settings import ConfigError
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import clear_proxies, eventually, make_config, serve

TOKEN = "4242:AAE-a-realistic_bot-token-of-35c"
WEBHOOK_SECRET = "a-webhook-secret-from-the-env"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeTelegram, str]]:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HELPLINE_TELEGRAM_TOKEN", TOKEN)  # as the README configures it
    monkeypatch.setenv("HELPLINE_TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    fake = FakeTelegram(token=TOKEN)
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


def config(tmp_path: Path, base: str, **settings: Any) -> Any:
    channel = {"token": "env:HELPLINE_TELEGRAM_TOKEN", "api_base_url": base, **settings}
    return make_config(tmp_path, {"channels": {"telegram": channel}})


async def test_polling_mode_has_no_webhook_route(tmp_path: Path, fake: tuple[FakeTelegram, str]) -> None:
    _, base = fake
    hub = Hub(config(tmp_path, base, mode="polling", poll_timeout_seconds=0))
    async with TestClient(TestServer(build_app(hub))) as client:
        for secret in ("", "anything"):  # the empty header once matched the empty configured secret
            resp = await client.post(
                "/channels/telegram/webhook",
                json=text_update(1, "forged"),
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            )
            assert resp.status == 404
        assert await hub.store.tickets.get_conversation_by_number(1000) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mode": "webhook"}, "channels.telegram.webhook_secret: missing secret"),
        ({"mode": "webhook", "webhook_secret": "short"}, "channels.telegram.webhook_secret: the secret is too short"),
        (
            {"mode": "webhook", "webhook_secret": "sixteen chars and spaces"},
            "channels.telegram.webhook_secret: use 16-256",
        ),
    ],
)
def test_webhook_mode_always_has_a_usable_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], message: str
) -> None:
    monkeypatch.setenv("HELPLINE_TELEGRAM_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, "http://127.0.0.1:1", **settings)


async def test_no_log_record_holds_the_token_or_the_webhook_secret(
    tmp_path: Path, fake: tuple[FakeTelegram, str], caplog: pytest.LogCaptureFixture
) -> None:
    bot, base = fake
    caplog.set_level(logging.DEBUG)
    # polling, with a file to download (the file URL carries the token too) and one failed poll
    bot.files = {"doc": b"%PDF-1.4"}
    doc = {"file_id": "doc", "file_unique_id": "d", "file_name": "a.pdf", "mime_type": "application/pdf"}
    bot.updates = [text_update(10, "", caption="invoice", document=doc)]
    bot.fail_next["getUpdates"] = [(502, {"description": "Bad Gateway"})]
    hub = Hub(config(tmp_path / "polling", base, mode="polling", poll_timeout_seconds=0))
    await hub.start()
    try:
        await eventually(lambda: bot.confirmed_offset == 11, timeout=10)
    finally:
        await hub.stop()
    # webhook registration, a signed update, and replies that fail (retried, then permanently)
    hub = Hub(
        config(
            tmp_path / "webhook",
            base,
            mode="webhook",
            webhook_secret="env:HELPLINE_TELEGRAM_WEBHOOK_SECRET",
            public_url="https://help.example.com",
        )
    )
    async with TestClient(TestServer(build_app(hub))) as client:
        assert bot.sent("setWebhook")[0]["secret_token"] == WEBHOOK_SECRET
        resp = await client.post(
            "/channels/telegram/webhook",
            json=text_update(1, "hello"),
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        )
        assert resp.status == 200
        await add_agent(hub.store, "agent@example.com", Role.AGENT, "agent password 1")
        login = await client.post(
            "/api/v1/auth/login", json={"email": "agent@example.com", "password": "agent password 1"}
        )
        headers = {"X-CSRF-Token": (await login.json())["csrf_token"]}
        conv = await hub.store.tickets.get_conversation_by_number(1000)
        assert conv is not None
        bot.fail_next["sendMessage"] = [(502, {"description": "Bad Gateway"}), (400, {"description": "chat gone"})]
        resp = await client.post(f"/api/v1/conversations/{conv.id}/messages", json={"text": "hi"}, headers=headers)
        assert resp.status == 201
        await eventually(lambda: len(bot.sent("sendMessage")) == 2, timeout=10)
    text = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert "getUpdates" in text and "sendMessage" in text  # the libraries did log these calls
    secret_part = TOKEN.split(":", 1)[1]
    for secret in (TOKEN, quote(TOKEN, safe=""), secret_part, WEBHOOK_SECRET):
        assert secret not in text
