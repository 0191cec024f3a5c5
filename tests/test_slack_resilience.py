"""Slack: no event subtype, outage or retry stops the channel (issue 10, points 2-4).

The real slack-sdk clients against the fake Web API in tests/fake_slack.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from conversation.model import AuthorType, DeliveryStatus, MessageKind
from hub.app import Hub, build_app
from tests.conftest import free_port
from tests.fake_slack import TEAM, FakeSlack, message_event
from tests.helpers import clear_proxies, eventually, make_config, serve

SIGNING_SECRET = "slack-signing-secret-0123456789"
SUPPORT_CHANNEL = "C0SUPPORT"
TOKEN_ENV = "HELPLINE_SLACK_BOT_TOKEN"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    clear_proxies(monkeypatch)
    fake = FakeSlack()
    monkeypatch.setenv(TOKEN_ENV, fake.bot_token)
    runner, fake.base = await serve(fake.app())
    yield fake
    await runner.cleanup()


def slack_config(tmp_path: Path, base: str, **settings: Any) -> Any:
    channel = {
        "bot_token": f"env:{TOKEN_ENV}",
        "signing_secret": SIGNING_SECRET,
        "api_base_url": f"{base}/api/",
        "channels": [SUPPORT_CHANNEL],
        **settings,
    }
    return make_config(tmp_path, {"channels": {"slack": channel}})


async def post_event(client: TestClient, payload: Any) -> int:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body),
        "Content-Type": "application/json",
    }
    return (await client.post("/channels/slack/events", data=body, headers=headers)).status


def with_event(**changes: Any) -> dict[str, Any]:
    payload = message_event("", ts="1700000050.000100")
    payload["event"] = {k: v for k, v in {**payload["event"], **changes}.items() if v is not ...}
    return payload


# case -> (the event, the text stored for it, or None when it is acknowledged and ignored)
CASES: dict[str, tuple[dict[str, Any], str | None]] = {
    "channel_join": (
        message_event(
            "<@U1> has joined the channel",
            ts="1700000050.000100",
            channel=SUPPORT_CHANNEL,
            channel_type="channel",
            subtype="channel_join",
        ),
        None,
    ),
    "bot_message": (with_event(subtype="bot_message", bot_id="B1", user=..., text="beep"), None),
    "message_changed, unknown shape": (with_event(subtype="message_changed", message="not an object"), None),
    "message_changed, no ts": (with_event(subtype="message_changed", message={"text": "x"}), None),
    "message_changed of an unknown message": (
        with_event(subtype="message_changed", message={"ts": "1.2", "text": "x", "user": "U1"}),
        None,
    ),
    "message_deleted without deleted_ts": (with_event(subtype="message_deleted"), None),
    "file_share without files": (with_event(subtype="file_share"), "[shared a file]"),
    "huddle_thread": (with_event(subtype="huddle_thread", room={"id": "R1"}), None),
    "no user": (with_event(user=..., text="who am I"), None),
    "user is not a string": (with_event(user={"id": "U1"}, text="odd"), None),
    "no channel": (with_event(channel=..., text="where"), None),
    "no ts": (with_event(ts=..., text="when"), None),
    "no text at all": (with_event(text=...), None),
    "legacy attachments only": (with_event(attachments=[{"fallback": "Invoice #88 &lt;PDF&gt;"}]), "Invoice #88 <PDF>"),
    "blocks only": (with_event(blocks=[{"type": "rich_text", "elements": []}]), "[message with blocks only]"),
    "no event": ({"type": "event_callback", "team_id": TEAM, "event_id": "Ev9"}, None),
    "event is not an object": ({"type": "event_callback", "team_id": TEAM, "event": "message"}, None),
    "app_mention": ({"type": "event_callback", "team_id": TEAM, "event": {"type": "app_mention", "text": "hi"}}, None),
    "app_rate_limited": ({"type": "app_rate_limited", "team_id": TEAM, "minute_rate_limited": 1}, None),
}


def ignored_count(hub: Hub) -> float:
    return sum(
        sample.value
        for metric in hub.metrics.registry.collect()
        if metric.name == "helpline_updates_ignored"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def dm_texts(hub: Hub) -> list[str]:
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    if conv is None:
        return []
    return [
        m.text
        for m in await hub.store.tickets.list_messages(conv.id)
        if m.direction.value == "inbound" and m.kind is MessageKind.MESSAGE
    ]


@pytest.mark.parametrize("case", CASES)
async def test_one_unusual_event_then_a_normal_message(tmp_path: Path, fake: FakeSlack, case: str) -> None:
    payload, stored = CASES[case]
    hub = Hub(slack_config(tmp_path, fake.base))
    async with TestClient(TestServer(build_app(hub))) as client:
        assert await post_event(client, payload) == 200  # anything else: Slack resends it
        assert await post_event(client, message_event("my order is late", ts="1700000099.000100")) == 200
        texts = await dm_texts(hub)
        assert texts == ([stored] if stored is not None else []) + ["my order is late"]
        if stored is None:
            assert ignored_count(hub) >= 1


async def test_socket_mode_acknowledges_unusual_events_and_goes_on(tmp_path: Path, fake: FakeSlack) -> None:
    hub = Hub(slack_config(tmp_path, fake.base, mode="socket", app_token="xapp-test-token-0123456789"))
    await hub.start()
    try:
        for number, (payload, _stored) in enumerate(CASES.values()):
            await fake.socket_envelopes.put({"envelope_id": f"odd-{number}", "type": "events_api", "payload": payload})
        normal = message_event("my order is late", ts="1700000099.000100")
        await fake.socket_envelopes.put({"envelope_id": "normal", "type": "events_api", "payload": normal})
        await eventually(lambda: "normal" in fake.acks, timeout=10)
        assert {f"odd-{n}" for n in range(len(CASES))} <= set(fake.acks)  # none left for Slack to resend
        assert (await dm_texts(hub))[-1] == "my order is late"
    finally:
        await hub.stop()


async def test_slack_unreachable_at_start_degrades_the_channel_not_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_proxies(monkeypatch)
    monkeypatch.setenv(TOKEN_ENV, "xoxb-test")
    hub = Hub(slack_config(tmp_path, f"http://127.0.0.1:{free_port()}"))
    async with TestClient(TestServer(build_app(hub))) as client:
        health = await (await client.get("/healthz")).json()
        assert health["status"] == "ok" and health["channels"]["slack"]["state"] == "degraded"
        assert 'helpline_channel_up{channel="slack"} 0.0' in await (await client.get("/metrics")).text()


async def test_a_revoked_slack_token_is_a_degraded_channel_with_a_clear_message(
    tmp_path: Path, fake: FakeSlack
) -> None:
    fake.fail_next["auth.test"] = [(200, {"ok": False, "error": "invalid_auth"}, {})]
    hub = Hub(slack_config(tmp_path, fake.base))
    await hub.start()
    try:
        state = hub.channels.snapshot()["slack"]
        assert state["state"] == "degraded" and "rejected the bot token (invalid_auth)" in state["reason"]
    finally:
        await hub.stop()


async def test_a_split_reply_resumes_after_the_pieces_already_delivered(tmp_path: Path, fake: FakeSlack) -> None:
    hub = Hub(slack_config(tmp_path, fake.base))
    async with TestClient(TestServer(build_app(hub))) as client:
        await post_event(client, message_event("help", ts="1700000001.000100"))
        conv = await hub.store.tickets.get_conversation_by_number(1000)
        assert conv is not None
        real = fake.m_chat_postMessage

        async def then_fail_once(params: dict[str, Any]) -> Any:
            fake.m_chat_postMessage = real  # type: ignore[method-assign]
            fake.fail_next["chat.postMessage"] = [(503, {"ok": False, "error": "service_unavailable"}, {})]
            return await real(params)

        fake.m_chat_postMessage = then_fail_once  # type: ignore[method-assign]
        text = "\n\n".join((f"Part {n}. " * 400).strip() for n in range(3))  # three pieces of ~3,200 characters
        reply = await hub.actions.send(conv, text, author_type=AuthorType.AGENT, author_id="a")

        async def sent() -> bool:
            found = await hub.store.tickets.get_message(reply.id)
            return found is not None and found.delivery is not None and found.delivery.status is DeliveryStatus.SENT

        await eventually(sent, timeout=10)
    starts = [p["text"].split(".")[0] for p in fake.sent("chat.postMessage")]
    assert starts == ["Part 0", "Part 1", "Part 1", "Part 2"]  # the failed try, then the rest: nothing twice
