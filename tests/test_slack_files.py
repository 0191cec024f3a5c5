"""Slack's shared files: fetched whole, with the bot token, from Slack's file hosts only."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from adapters.slack.adapter import SlackAdapter
from conversation.model import Message
from hub.app import Hub, build_app
from hub.config import parse_config
from hub.settings import ConfigError
from tests.fake_slack import FakeSlack, message_event
from tests.helpers import clear_proxies, make_config, serve

SIGNING_SECRET = "slack-signing-secret"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HELPLINE_SLACK_BOT_TOKEN", "xoxb-a-bot-token-from-the-env")
    monkeypatch.setenv("HELPLINE_SLACK_SIGNING_SECRET", SIGNING_SECRET)
    fake = FakeSlack(bot_token="xoxb-a-bot-token-from-the-env")
    runner, fake.base = await serve(fake.app())
    yield fake
    await runner.cleanup()


@pytest.fixture
async def collector() -> AsyncIterator[tuple[list[dict[str, str]], str]]:
    """Another host on the internet, recording what it is sent."""
    seen: list[dict[str, str]] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(body=b"stolen")

    app = web.Application()
    app.router.add_get("/{tail:.*}", anything)
    runner, url = await serve(app)
    yield seen, url
    await runner.cleanup()


def config(tmp_path: Path, fake: FakeSlack, **settings: Any) -> Any:
    channel = {
        "bot_token": "env:HELPLINE_SLACK_BOT_TOKEN",
        "signing_secret": "env:HELPLINE_SLACK_SIGNING_SECRET",
        "api_base_url": f"{fake.base}/api/",
        "file_hosts": [fake.base],  # the fake stands in for https://files.slack.com
        **settings,
    }
    return make_config(tmp_path, {"channels": {"slack": channel}})


async def post_event(client: TestClient, payload: Any) -> int:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    resp = await client.post("/channels/slack/events", data=body, headers=headers)
    return resp.status


def shared(ts: str, *files: dict[str, Any]) -> dict[str, Any]:
    return message_event("here it is", ts=ts, subtype="file_share", files=list(files))


async def stored(hub: Hub) -> list[Message]:
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    assert conv is not None
    return [m for m in await hub.store.tickets.list_messages(conv.id) if m.direction.value == "inbound"]


async def test_a_one_megabyte_file_streamed_in_chunks_arrives_whole(tmp_path: Path, fake: FakeSlack) -> None:
    content = bytes(range(256)) * 4096  # 1 MiB, served in 100 KB writes with pauses
    fake.files["big.bin"] = content
    file = {"id": "F1", "name": "big.bin", "size": len(content), "url_private_download": f"{fake.base}/files/big.bin"}
    hub = Hub(config(tmp_path, fake))
    async with TestClient(TestServer(build_app(hub))) as client:
        assert await post_event(client, shared("1700000001.000100", file)) == 200
        adapter = hub.adapters["slack"]
        assert isinstance(adapter, SlackAdapter)
        session = adapter._http
        fake.files["small.txt"] = b"small"
        small = {"id": "F2", "name": "small.txt", "size": 5, "url_private": f"{fake.base}/files/small.txt"}
        assert await post_event(client, shared("1700000002.000100", small)) == 200
        assert adapter._http is session is not None  # one client session for the adapter, not one per event
        [first, second] = await stored(hub)
        path = hub.blobs.path(first.attachments[0].blob_ref)
        assert path is not None and path.read_bytes() == content
        assert first.attachments[0].size == len(content)
        assert second.attachments[0].size == 5
    assert session.closed  # closed when the channel stops


async def test_the_bot_token_goes_only_to_slacks_file_hosts(
    tmp_path: Path, fake: FakeSlack, collector: tuple[list[dict[str, str]], str]
) -> None:
    seen, elsewhere = collector
    host = elsewhere.removeprefix("http://")
    files = [
        {"id": "F1", "name": "a.pdf", "size": 6, "url_private_download": f"{elsewhere}/files-pri/a.pdf"},
        {"id": "F2", "name": "b.pdf", "size": 6, "url_private": f"{fake.base}@{host}/b.pdf"},
        {"id": "F3", "name": "c.pdf", "size": 6, "url_private": f"{fake.base.replace('http', 'https')}/files/c"},
        {
            "id": "F4",
            "name": "Plan (Google Drive)",
            "is_external": True,
            "external_type": "gdrive",
            "url_private": f"{fake.base}/files/c",
        },
        {"id": "F5", "name": "gone.txt", "mode": "tombstone"},
    ]
    hub = Hub(config(tmp_path, fake))
    async with TestClient(TestServer(build_app(hub))) as client:
        assert await post_event(client, shared("1700000003.000100", *files)) == 200
        [message] = await stored(hub)
    assert seen == []  # nothing was sent to the other host, least of all the token
    assert message.attachments == []
    assert message.text.startswith("here it is\n")
    assert "[not kept: a.pdf: not on Slack's file host]" in message.text
    assert "[not kept: b.pdf: not on Slack's file host]" in message.text
    assert "[not kept: c.pdf: not on Slack's file host]" in message.text  # another scheme, another origin
    assert "[not kept: Plan (Google Drive): an external file, not stored in Slack]" in message.text
    assert "[not kept: gone.txt: Slack gave no download link]" in message.text


async def test_a_redirect_away_from_slacks_file_host_is_not_followed(
    tmp_path: Path, fake: FakeSlack, collector: tuple[list[dict[str, str]], str]
) -> None:
    seen, elsewhere = collector
    app = fake.app()  # the fake's routes plus one that redirects to the other host

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{elsewhere}/steal")

    app.router.add_get("/moved", moved)
    runner, base = await serve(app)
    fake.base = base
    try:
        file = {"id": "F1", "name": "r.pdf", "size": 6, "url_private": f"{base}/moved"}
        hub = Hub(config(tmp_path, fake))
        async with TestClient(TestServer(build_app(hub))) as client:
            assert await post_event(client, shared("1700000004.000100", file)) == 200
            [message] = await stored(hub)
    finally:
        await runner.cleanup()
    assert seen == [] and message.attachments == []
    assert "[not kept: r.pdf: not on Slack's file host]" in message.text


@pytest.mark.parametrize(
    "origin", ["http://files.slack.com", "https://files.slack.com/path", "ftp://127.0.0.1", "files.slack.com"]
)
def test_file_hosts_must_be_https_origins(tmp_path: Path, fake: FakeSlack, origin: str) -> None:
    with pytest.raises(ConfigError, match="channels.slack.file_hosts"):
        config(tmp_path, fake, file_hosts=[origin])


def test_the_default_file_host_is_slacks() -> None:
    raw = {"channels": {"slack": {"bot_token": "xoxb-1", "signing_secret": SIGNING_SECRET}}}
    [channel] = parse_config(raw).channels
    assert channel.settings.file_hosts == ("https://files.slack.com",)
