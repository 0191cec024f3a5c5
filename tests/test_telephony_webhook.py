"""The signed telephony webhook: a PBX or cloud call centre reports calls started, ended, missed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.callbacks import CallbackStatus
from conversation.model import ConversationQuery
from hub.app import Hub, build_app
from hub.app_keys import HUB
from hub.config import parse_config
from hub.settings import ConfigError
from hub.thread_events import ThreadEvent, event_of
from tests.helpers import make_config

SECRET = "pbx-secret-0123456789abcdef"
URL = "/api/v1/telephony/events"


def signed(
    body: dict[str, Any] | bytes, *, secret: str = SECRET, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """Sign as the README tells a telephony system to: HMAC-SHA256 over "v1:<timestamp>:<body>"."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = str(int(time.time() if at is None else at))
    mac = hmac.new(secret.encode(), b"v1:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    headers = {
        "X-Helpline-Timestamp": timestamp,
        "X-Helpline-Signature": f"v1={mac}",
        "Content-Type": "application/json",
    }
    return raw, headers


@pytest.fixture
async def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    monkeypatch.setenv("HELPLINE_PBX_SECRET", SECRET)
    hub = Hub(make_config(tmp_path, {"hotline": {"webhook_secret": "env:HELPLINE_PBX_SECRET"}}))
    async with TestClient(TestServer(build_app(hub))) as client:
        yield client


async def post(client: TestClient, body: dict[str, Any], *, status: int = 200, **sign: Any) -> dict[str, Any]:
    raw, headers = signed(body, **sign)
    resp = await client.post(URL, data=raw, headers=headers)
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


def hub_of(client: TestClient) -> Hub:
    return client.server.app[HUB]


async def thread_keys(client: TestClient, conversation_id: str) -> list[str]:
    messages = await hub_of(client).store.tickets.list_messages(conversation_id)
    return [(m.raw or {}).get("event", {}).get("key", m.kind.value) for m in messages]


async def test_started_then_ended_updates_one_call_and_retries_never_duplicate(client: TestClient) -> None:
    started = {"call_id": "pbx-77", "event": "started", "number": "+86 138 1234 5678", "direction": "in"}
    first = await post(client, started)
    assert first["call"]["state"] == "started" and first["call"]["number"] == "+8613812345678"
    assert first["conversation"]["channel"] == "phone"
    assert (await post(client, started))["duplicate"]  # the PBX retried

    ended = {
        "call_id": "pbx-77",
        "event": "ended",
        "number": "13812345678",
        "duration_seconds": 184,
        "recording_url": "https://pbx.example.com/rec/77.mp3",
    }
    done = await post(client, ended)
    assert done["call"]["state"] == "ended" and done["call"]["duration_seconds"] == 184
    assert done["call"]["recording_url"] == "https://pbx.example.com/rec/77.mp3"
    assert done["conversation"]["id"] == first["conversation"]["id"]
    assert (await post(client, ended))["duplicate"]
    assert (await post(client, started))["duplicate"]  # late: an ended call stays ended

    conversation_id = first["conversation"]["id"]
    assert await thread_keys(client, conversation_id) == [
        "call.summary",
        "event.call_started",
        "event.call_ended_recorded",
    ]
    stored = await hub_of(client).store.calls.get_call("pbx-77")
    assert stored is not None and stored.duration_seconds == 184
    items, _ = await hub_of(client).store.inbox.list_conversations(ConversationQuery())
    assert len(items) == 1


async def test_a_missed_call_becomes_one_callback_task(client: TestClient) -> None:
    missed = {"call_id": "pbx-9", "event": "missed", "number": "+8613812345678"}
    answer = await post(client, missed)
    task = answer["callback"]
    assert task is not None and task["number"] == "+8613812345678" and task["status"] == "open"
    assert (await post(client, missed))["duplicate"]
    tasks = await hub_of(client).store.callbacks.list_callbacks(status=CallbackStatus.OPEN)
    assert [t.id for t in tasks] == [task["id"]] and tasks[0].call_id == "pbx-9"
    keys = await thread_keys(client, answer["conversation"]["id"])
    assert keys == ["call.summary", "event.call_missed", "event.callback_for_missed_call"]

    # Ringing, then missed: the same call, one task.
    await post(client, {"call_id": "pbx-10", "event": "started", "number": "+8613812345678"})
    again = await post(client, {"call_id": "pbx-10", "event": "missed", "number": "+8613812345678"})
    assert again["call"]["state"] == "missed" and again["callback"] is not None
    assert len(await hub_of(client).store.callbacks.list_callbacks()) == 2


async def test_unsigned_forged_or_replayed_reports_are_refused_and_store_nothing(client: TestClient) -> None:
    body = {"call_id": "pbx-1", "event": "started", "number": "+8613812345678"}
    raw, headers = signed(body)
    for name, changed in [
        ("no signature", {k: v for k, v in headers.items() if k != "X-Helpline-Signature"}),
        ("other secret", signed(body, secret="not-the-secret-0123456789")[1]),
        ("replayed", signed(body, at=time.time() - 3600)[1]),
        ("from the future", signed(body, at=time.time() + 3600)[1]),
        ("bad timestamp", {**headers, "X-Helpline-Timestamp": "²"}),
        ("non-ascii signature", {**headers, "X-Helpline-Signature": "v1=é"}),
    ]:
        resp = await client.post(URL, data=raw, headers=changed)
        assert resp.status == 401, (name, await resp.text())
        assert (await resp.json())["error"] == "bad_signature"
    tampered = await client.post(URL, data=raw.replace(b"pbx-1", b"pbx-2"), headers=headers)
    assert tampered.status == 401
    refused = {"channel": "phone", "reason": "bad_signature"}
    assert hub_of(client).metrics.registry.get_sample_value("helpline_requests_refused_total", refused) == 7
    assert await hub_of(client).store.calls.get_call("pbx-1") is None


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        json.dumps({"call_id": "x", "event": "started", "number": "12"}).encode(),
        json.dumps({"call_id": "x", "event": "answered", "number": "+8613812345678"}).encode(),
        json.dumps({"call_id": "x", "event": "ended", "number": "+8613812345678", "duration_seconds": -1}).encode(),
        json.dumps(
            {"call_id": "x", "event": "ended", "number": "+8613812345678", "recording_url": "javascript:x"}
        ).encode(),
        json.dumps(["started"]).encode(),
    ],
)
async def test_signed_reports_that_make_no_call_get_a_clear_4xx_and_store_nothing(
    client: TestClient, body: bytes
) -> None:
    raw, headers = signed(body)
    resp = await client.post(URL, data=raw, headers=headers)
    assert resp.status in (400, 422), await resp.text()
    assert "message" in await resp.json()
    items, _ = await hub_of(client).store.inbox.list_conversations(ConversationQuery())
    assert items == [] and await hub_of(client).store.calls.get_call("x") is None


async def test_without_a_secret_the_webhook_is_off(tmp_path: Path) -> None:
    hub = Hub(make_config(tmp_path))
    async with TestClient(TestServer(build_app(hub))) as client:
        raw, headers = signed({"call_id": "pbx-1", "event": "started", "number": "+8613812345678"})
        resp = await client.post(URL, data=raw, headers=headers)
        assert resp.status == 404
        assert await hub.store.calls.get_call("pbx-1") is None


def test_hotline_settings_are_checked_with_the_key_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"hotline.default_region: 'XX' is not a region code"):
        parse_config({"hotline": {"default_region": "XX"}})
    with pytest.raises(ConfigError, match=r"hotline.webhook_secret: the secret is too short"):
        parse_config({"hotline": {"webhook_secret": "short"}})
    monkeypatch.setenv("HELPLINE_PBX_SECRET", SECRET)
    config = parse_config({"hotline": {"default_region": "gb", "webhook_secret": "env:HELPLINE_PBX_SECRET"}})
    assert (config.hotline.default_region, config.hotline.webhook_secret) == ("GB", SECRET)


async def test_an_end_racing_the_start_of_a_new_call_is_not_lost(client: TestClient) -> None:
    hub = hub_of(client)
    real_get_call = hub.store.calls.get_call
    await post(client, {"call_id": "pbx-5", "event": "started", "number": "+8613812345678"})

    async def not_seen_yet(call_id: str) -> Any:  # the end was read before the start was stored
        hub.store.calls.get_call = real_get_call  # type: ignore[method-assign]
        return None

    hub.store.calls.get_call = not_seen_yet  # type: ignore[method-assign]
    ended = await post(
        client, {"call_id": "pbx-5", "event": "ended", "number": "+8613812345678", "duration_seconds": 9}
    )
    assert ended["call"]["state"] == "ended" and not ended["duplicate"]
    stored = await hub.store.calls.get_call("pbx-5")
    assert stored is not None and stored.duration_seconds == 9


async def test_at_is_the_time_of_the_reported_event(client: TestClient) -> None:
    start = datetime(2026, 11, 26, 7, 0, 0, tzinfo=UTC)
    await post(client, {"call_id": "pbx-1", "event": "started", "number": "+8613812345678", "at": start.isoformat()})
    end = start + timedelta(seconds=184)
    ended = await post(
        client, {"call_id": "pbx-1", "event": "ended", "number": "+8613812345678", "at": end.isoformat()}
    )
    assert datetime.fromisoformat(ended["call"]["started_at"]) == start  # `at` of ended is the end, not the start
    assert ended["call"]["duration_seconds"] == 184  # from started to ended

    # The README's example: the first report is `ended`, with its duration.
    readme = {
        "call_id": "pbx-20261126-0042",
        "event": "ended",
        "number": "+8613812345678",
        "direction": "in",
        "at": "2026-11-26T15:04:05+08:00",
        "duration_seconds": 184,
    }
    answer = await post(client, readme)
    started_at = datetime.fromisoformat(answer["call"]["started_at"])
    assert started_at == datetime(2026, 11, 26, 7, 1, 1, tzinfo=UTC)  # 15:04:05+08:00 less 184 s
    assert answer["call"]["duration_seconds"] == 184 and set(answer) == {
        "call",
        "conversation",
        "callback",
        "duplicate",
    }


async def test_a_call_without_a_duration_says_duration_unknown_in_both_languages(client: TestClient) -> None:
    answer = await post(client, {"call_id": "pbx-3", "event": "ended", "number": "+8613812345678"})
    messages = await hub_of(client).store.tickets.list_messages(answer["conversation"]["id"])
    (ended,) = [m for m in messages if (m.raw or {}).get("event", {}).get("key", "").startswith("event.call_ended")]
    assert ended.text == "Call with +8613812345678 ended, duration unknown"
    event = event_of(ended.raw)
    assert event is not None and event.text("zh-CN") == "与 +8613812345678 的通话结束，时长未知"
    logged = ThreadEvent(
        "event.call_logged_untimed", {"who": "Li", "direction": "in", "number": "+1", "outcome": "follow_up"}
    )
    assert "duration unknown" in logged.text("en") and "时长未知" in logged.text("zh-CN")
    assert "?" not in ended.text


async def test_an_ended_report_at_the_calendars_first_moment_gets_a_4xx(client: TestClient) -> None:
    report = {"call_id": "pbx-0", "event": "ended", "number": "+8613812345678", "duration_seconds": 60}
    answer = await post(client, {**report, "at": "0001-01-01T00:00:30Z"}, status=422)
    assert "at" in answer["message"]
