"""Secrets as the README writes them (`env:NAME`), end to end: the value from the
environment verifies, the literal text `env:NAME` (public, in every README) does not."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from hub.app import Hub, build_app
from tests.fake_slack import FakeSlack, message_event
from tests.helpers import clear_proxies, make_config, serve

IDENTITY = "the-shop-identity-secret-from-env"
SIGNING = "the-slack-signing-secret-from-env"


def user_hash(key: str, user_id: str, email: str) -> str:
    return hmac.new(key.encode(), f"{user_id}\n{email}".encode(), hashlib.sha256).hexdigest()


async def test_a_site_identity_secret_from_the_environment_verifies_and_its_literal_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_WEBCHAT_SECRET", "the-visitor-token-secret-from-env")
    monkeypatch.setenv("HELPLINE_SHOP_IDENTITY_SECRET", IDENTITY)
    channel = {
        "secret": "env:HELPLINE_WEBCHAT_SECRET",
        "sites": {"shop": {"identity_secret": "env:HELPLINE_SHOP_IDENTITY_SECRET"}},
    }
    hub = Hub(make_config(tmp_path, {"channels": {"webchat": channel}}))
    async with TestClient(TestServer(build_app(hub))) as client:
        forged = user_hash("env:HELPLINE_SHOP_IDENTITY_SECRET", "42", "jane@example.com")
        user = {"id": "42", "email": "jane@example.com", "hash": forged}
        resp = await client.post("/channels/webchat/session", json={"site": "shop", "user": user})
        assert resp.status == 403  # keyed with the public literal: any browser could have made it
        user["hash"] = user_hash(IDENTITY, "42", "jane@example.com")
        resp = await client.post("/channels/webchat/session", json={"site": "shop", "user": user})
        assert resp.status == 200 and (await resp.json())["visitor"] == "user:shop:42"


async def test_a_slack_signing_secret_from_the_environment_verifies_and_its_literal_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HELPLINE_SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("HELPLINE_SLACK_SIGNING_SECRET", SIGNING)
    fake = FakeSlack()
    runner, fake.base = await serve(fake.app())
    channel = {
        "bot_token": "env:HELPLINE_SLACK_BOT_TOKEN",
        "signing_secret": "env:HELPLINE_SLACK_SIGNING_SECRET",
        "api_base_url": f"{fake.base}/api/",
    }
    try:
        hub = Hub(make_config(tmp_path, {"channels": {"slack": channel}}))
        async with TestClient(TestServer(build_app(hub))) as client:
            for key, status in (("env:HELPLINE_SLACK_SIGNING_SECRET", 401), (SIGNING, 200)):
                body = json.dumps(message_event("hello", ts="1700000001.000100")).encode()
                timestamp = str(int(time.time()))
                signature = SignatureVerifier(key).generate_signature(timestamp=timestamp, body=body)
                resp = await client.post(
                    "/channels/slack/events",
                    data=body,
                    headers={"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature},
                )
                assert resp.status == status
    finally:
        await runner.cleanup()
