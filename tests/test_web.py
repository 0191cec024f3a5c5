"""The web server: health, metrics, a signed webhook channel, bad input, store outages."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.webhook import signed_headers
from conversation.model import AuthorType, Choice, DeliveryStatus, Direction, MessageKind
from hub.app import HUB, Hub, build_app
from hub.config import Config
from tests.conftest import MongoServer, database_uri, free_port
from tests.helpers import break_claims, eventually, make_config

SECRET = "s3cret-for-tests"


def webhook_config(tmp_path: Path, callback_url: str = "", **raw: Any) -> Config:
    return make_config(
        tmp_path,
        {"channels": {"api": {"type": "webhook", "secret": SECRET, "callback_url": callback_url}}, **raw},
    )


async def start_client(config: Config) -> TestClient:
    client = TestClient(TestServer(build_app(Hub(config))))
    await client.start_server()
    return client


@asynccontextmanager
async def hub_replying_to(
    tmp_path: Path, callback: Callable[[web.Request], Awaitable[web.Response]]
) -> AsyncIterator[TestClient]:
    """A hub whose webhook channel posts its replies to a platform answering with `callback`."""
    platform = web.Application()
    platform.router.add_post("/replies", callback)
    platform_server = TestServer(platform)
    await platform_server.start_server()
    client = await start_client(webhook_config(tmp_path, str(platform_server.make_url("/replies"))))
    try:
        yield client
    finally:
        await client.close()
        await platform_server.close()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    client = await start_client(webhook_config(tmp_path, hub={"max_body_bytes": 4096}))
    yield client
    await client.close()


def body_of(message_id: str = "p-1", text: str = "我的订单还没到", **extra: Any) -> bytes:
    payload = {"id": message_id, "sender": {"id": "user-9", "name": "陈静"}, "thread": "order-5531", "text": text}
    return json.dumps({**payload, **extra}, ensure_ascii=False).encode()


async def post(client: TestClient, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        "/channels/api/messages", data=body, headers=signed_headers(SECRET, body) if headers is None else headers
    )
    return resp.status, await resp.json()


async def stored_count(client: TestClient) -> int:
    hub = client.server.app[HUB]
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    return 0 if conv is None else len(await hub.store.tickets.list_messages(conv.id))


async def test_healthz_and_metrics(client: TestClient) -> None:
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and {k: body[k] for k in ("status", "store", "accepting", "loops")} == {
        "status": "ok",
        "store": "ok",
        "accepting": True,
        "loops": {
            "outbox": {"status": "running", "failures": 0},
            "plugin-recovery": {"status": "running", "failures": 0},
            "kb-retrain": {"status": "running", "failures": 0},  # the FAQ matcher follows knowledge changes
            "plugin-timers": {"status": "running", "failures": 0},  # plugins' durable timers
            "callbacks-due": {"status": "running", "failures": 0},  # hotline callback tasks falling due
            "snooze-wake": {"status": "running", "failures": 0},
            "webhooks": {"status": "running", "failures": 0},  # published events to webhook deliveries
            "webhook-log": {"status": "running", "failures": 0},  # the delivery log's retention
            "routing-sweep": {"status": "running", "failures": 0},  # shifts, presence, queue, backup pages
            "routing-follow": {"status": "running", "failures": 0},  # new tickets routed as their team is known
            "report-facts": {"status": "running", "failures": 0},  # durations kept as clocks stop (reports)
        },
    }
    assert body["channels"]["api"]["state"] == "up" and body["channels_degraded"] == []

    await post(client, body_of())
    resp = await client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/plain"
    for line in (
        'helpline_messages_ingested_total{channel="api"} 1.0',
        'helpline_deliveries_sent_total{channel="api"} 0.0',
        'helpline_deliveries_failed_total{channel="api"} 0.0',
        'helpline_auto_replies_withheld_total{channel="api"} 0.0',  # a rate can be taken from the start
        "helpline_outbox_queue_depth 0.0",
    ):
        assert line in text


async def test_a_signed_message_opens_a_ticket_and_a_retry_is_acknowledged_once(client: TestClient) -> None:
    assert await post(client, body_of()) == (200, {"ok": True, "duplicate": False, "ticket": 1000})
    assert await post(client, body_of()) == (200, {"ok": True, "duplicate": True, "ticket": 1000})
    assert await stored_count(client) == 1
    hub = client.server.app[HUB]
    contact = await hub.store.contacts.find_identity_contact("api", "user-9")
    assert contact is not None and contact.name == "陈静"


async def test_optional_fields_sent_as_null_are_left_out(client: TestClient) -> None:
    """A trial: many backends write null for "none"; `email: null` was refused with 400."""
    sender = {"id": "user-9", "name": None, "email": None, "email_verified": None, "language": None, "tier": None}
    body = body_of("null-1", sender=sender, subject=None, thread=None, choice=None)
    assert await post(client, body) == (200, {"ok": True, "duplicate": False, "ticket": 1000})
    hub = client.server.app[HUB]
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    assert conv is not None and conv.thread_key == "user-9"  # thread null: the sender's id, as left out


async def test_an_id_another_sender_used_first_is_kept_as_their_own_message(client: TestClient) -> None:
    """A trial: user-10's message reusing user-9's `id` was answered as user-9's retry, with
    user-9's ticket number, and dropped."""
    assert await post(client, body_of("dup-1")) == (200, {"ok": True, "duplicate": False, "ticket": 1000})
    other = body_of("dup-1", "我的退款呢", sender={"id": "user-10"}, thread="refund-1")
    assert await post(client, other) == (200, {"ok": True, "duplicate": False, "ticket": 1001})
    assert await post(client, other) == (200, {"ok": True, "duplicate": True, "ticket": 1001})  # its own retry
    assert await post(client, body_of("dup-1")) == (200, {"ok": True, "duplicate": True, "ticket": 1000})
    hub = client.server.app[HUB]
    duplicates = 'helpline_messages_duplicate_total{channel="api"} 2.0'  # the two retries, not user-10's first
    assert duplicates in hub.metrics.render().decode()
    second = await hub.store.tickets.get_conversation_by_number(1001)
    messages = await hub.store.tickets.list_messages(second.id)
    assert [m.text for m in messages if m.kind is MessageKind.MESSAGE] == ["我的退款呢"]
    assert await stored_count(client) == 1
    # at the same moment: each is its sender's whichever is stored first
    answers = await asyncio.gather(
        *(post(client, body_of("dup-2", f"第{n}条", sender={"id": f"racer-{n}"}, thread=f"r-{n}")) for n in range(4))
    )
    assert [status for status, _ in answers] == [200] * 4
    assert not any(answer["duplicate"] for _, answer in answers)
    assert len({answer["ticket"] for _, answer in answers}) == 4


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Helpline-Timestamp": str(int(time.time())), "X-Helpline-Signature": "v1=" + "0" * 64},
        signed_headers("another-secret", body_of()),
        signed_headers(SECRET, body_of(), now=time.time() - 3600),  # a replay an hour later
        signed_headers(SECRET, body_of(text="something else")),  # the body was changed
    ],
    ids=["unsigned", "forged", "wrong-secret", "stale", "tampered"],
)
async def test_unverified_requests_are_refused_and_store_nothing(client: TestClient, headers: dict[str, str]) -> None:
    status, body = await post(client, body_of(), headers)
    assert status == 401 and body["error"] == "bad_signature"
    assert await stored_count(client) == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "Expecting"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"id": "x", "text": "hi"}).encode(), "sender"),
        (json.dumps({"sender": {"id": "u"}, "text": "hi"}).encode(), "id is required"),
        (json.dumps({"id": "x", "sender": {"id": "u"}, "text": 5}).encode(), "text must be a string"),
        (json.dumps({"id": "x", "sender": {"id": "u"}, "text": ""}).encode(), "no text"),
        (json.dumps({"id": "x", "sender": {"id": "u"}, "text": "a", "sent_at": "noon"}).encode(), "ISO 8601"),
        # a trial: these were taken with 200 and went nowhere, without a word
        (json.dumps({"id": "x", "sender": {"id": "u", "name": "n" * 201}, "text": "a"}).encode(), "sender.name"),
        (
            json.dumps({"id": "x", "sender": {"id": "u", "email": "not-an-address"}, "text": "a"}).encode(),
            "mail address",
        ),
        (
            json.dumps({"id": "x", "sender": {"id": "u", "email": "li na@example.com"}, "text": "a"}).encode(),
            "mail address",
        ),
        (json.dumps({"id": "x", "sender": {"id": "u", "email_verified": "yes"}, "text": "a"}).encode(), "true or"),
        (json.dumps({"id": None, "sender": {"id": "u"}, "text": "a"}).encode(), "id must be a string"),
    ],
)
async def test_malformed_messages_get_400_with_the_reason(client: TestClient, body: bytes, problem: str) -> None:
    status, answer = await post(client, body)
    assert status == 400 and answer["error"] == "invalid_message" and problem in answer["message"]
    assert await stored_count(client) == 0


async def test_an_oversized_body_gets_413_and_stores_nothing(client: TestClient) -> None:
    big = body_of(text="x" * 10_000)
    status, answer = await post(client, big)
    assert status == 413 and answer["error"] == "too_large" and "4096" in answer["message"]
    assert await stored_count(client) == 0


async def test_unknown_routes_answer_json_404(client: TestClient) -> None:
    resp = await client.get("/channels/nope/messages")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"


async def test_replies_are_posted_signed_to_the_callback_and_429_is_retried(tmp_path: Path) -> None:
    received: list[tuple[dict[str, Any], dict[str, str]]] = []
    answers = [web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "0.3"})]

    async def callback(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((json.loads(body), dict(request.headers)))
        from adapters.webhook import verify

        verify(SECRET, request.headers, body, max_skew=300, clock=time.time)  # raises if unsigned
        return answers.pop(0) if answers else web.json_response({"id": "platform-msg-1"})

    async with hub_replying_to(tmp_path, callback) as client:
        await post(client, body_of())
        hub = client.server.app[HUB]
        conv = await hub.store.tickets.get_conversation_by_number(1000)
        assert conv is not None
        reply = await hub.actions.send(conv, "已为您退款", author_type=AuthorType.AGENT, author_id="agent-1")

        async def sent() -> bool:
            message = await hub.store.tickets.get_message(reply.id)
            return (
                message is not None and message.delivery is not None and message.delivery.status is DeliveryStatus.SENT
            )

        await eventually(sent)
        assert len(received) == 2  # the 429, then the retry
        payload, headers = received[-1]
        assert payload["ticket"] == 1000 and payload["to"] == "user-9" and payload["thread"] == "order-5531"
        assert payload["message"]["text"] == "已为您退款" and payload["message"]["author"] == "agent"
        # when it was written: a reply waiting for its retry lets later ones pass (README)
        assert payload["message"]["created_at"] == reply.created_at.isoformat().replace("+00:00", "Z")
        assert headers["X-Helpline-Signature"].startswith("v1=")
        message = await hub.store.tickets.get_message(reply.id)
        assert message is not None and message.external_id == "platform-msg-1"
        # a plugin's reply says so (README: `author` is agent or bot)
        await hub.actions.send(conv, "您好", author_type=AuthorType.BOT, author_id="faq")
        await eventually(lambda: len(received) == 3)
        assert received[-1][0]["message"]["author"] == "bot"


async def test_a_reply_on_a_thread_another_sender_took_first_goes_to_its_own_customer(tmp_path: Path) -> None:
    """Mallory names "order-9~buyer" before the buyer writes on the seller's "order-9": the
    buyer's message opens a ticket of their own, whose reply reaches the buyer on the thread
    README promises, and mallory is told nothing of it."""
    received: list[dict[str, Any]] = []

    async def callback(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.json_response({})

    async with hub_replying_to(tmp_path, callback) as client:
        numbers = []
        for message_id, thread, sender in (
            ("s1", "order-9", "seller"),
            ("x1", "order-9~buyer", "mallory"),
            ("b1", "order-9", "buyer"),
        ):
            status, answer = await post(client, body_of(message_id, thread=thread, sender={"id": sender}))
            assert status == 200, answer
            numbers.append(answer["ticket"])
        assert len(set(numbers)) == 3
        hub = client.server.app[HUB]
        buyers = await hub.store.tickets.get_conversation_by_number(numbers[2])
        assert buyers is not None
        choices = [Choice("got-it", "收到了")]
        await hub.actions.send(buyers, "包裹已寄出", author_type=AuthorType.BOT, author_id="faq", choices=choices)
        await eventually(lambda: len(received) == 1)
        assert (received[0]["to"], received[0]["thread"]) == ("buyer", "order-9~buyer")
        # The platform names that thread back: the buyer's ticket, not mallory's; and a tap on
        # the button, sent on the seller's thread, is kept as one (it was offered there).
        status, answer = await post(client, body_of("b2", thread="order-9~buyer", sender={"id": "buyer"}))
        assert (status, answer["ticket"]) == (200, numbers[2])
        tap = body_of("b3", text="收到了", thread="order-9", sender={"id": "buyer"}, choice="got-it")
        status, answer = await post(client, tap)
        assert (status, answer["ticket"]) == (200, numbers[2])
        thread = await hub.store.tickets.list_messages(buyers.id)
        assert [m.choice_id for m in thread if m.direction is Direction.INBOUND] == ["", "", "got-it"]


@pytest.mark.mongo
async def test_losing_the_store_answers_503_and_recovers_without_losing_anything(tmp_path: Path) -> None:
    from tests.conftest import require_mongo

    require_mongo()
    server = MongoServer(free_port(), "sqlite", tmp_path / "mongo.sqlite3")
    server.start()
    config = make_config(
        tmp_path,
        {"channels": {"api": {"type": "webhook", "secret": SECRET}}, "storage": {"timeout_seconds": 0.5}},
        storage_url=database_uri(server.uri, "outage"),
    )
    client = await start_client(config)
    try:
        assert (await post(client, body_of("before")))[0] == 200

        server.stop()  # the database goes away
        status, answer = await post(client, body_of("during"))
        assert status == 503 and answer["error"] == "unavailable"
        resp = await client.get("/healthz")
        assert resp.status == 503 and (await resp.json())["store"] == "unreachable"

        server.start()  # and comes back, with what it had
        await eventually(lambda: _healthy(client), timeout=15)
        assert (await post(client, body_of("during")))[0] == 200  # the channel's retry now lands
        assert (await post(client, body_of("before")))[1]["duplicate"] is True
        hub = client.server.app[HUB]
        conv = await hub.store.tickets.get_conversation_by_number(1000)
        assert conv is not None
        assert [m.external_id for m in await hub.store.tickets.list_messages(conv.id)] == ["before", "during"]
    finally:
        await client.close()
        server.stop()


async def _healthy(client: TestClient) -> bool:
    return (await client.get("/healthz")).status == 200


async def test_a_loop_that_keeps_failing_shows_in_healthz(client: TestClient) -> None:
    hub = client.server.app[HUB]
    hub.supervisor.base_delay = hub.supervisor.max_delay = 0.01
    broken = break_claims(hub.store, TypeError("a bug in the claim"), 10_000)
    await eventually(lambda: _unhealthy(client))
    body = await (await client.get("/healthz")).json()
    assert body["loops"]["outbox"]["status"] == "failing" and body["store"] == "ok"

    broken["left"] = 0  # fixed (or the cause went away): healthy again, without a restart
    await eventually(lambda: _healthy(client))


async def _unhealthy(client: TestClient) -> bool:
    return (await client.get("/healthz")).status == 503


async def test_a_full_disk_shows_in_healthz_and_webhooks_get_503_until_writes_work(tmp_path: Path) -> None:
    client = await start_client(webhook_config(tmp_path))
    try:
        hub = client.server.app[HUB]
        assert (await post(client, body_of("before")))[0] == 200

        # Index the first message now: the search indexer's own commit, landing during the
        # "full" phase, would otherwise (rightly) tell the store that writes work again.
        assert await hub.store.tickets.search_messages("before") is not None

        async def limit_pages(extra: int) -> None:  # SQLite's page limit stands in for a full disk
            await hub.store._call(
                lambda conn: conn.execute(
                    f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0] + extra}"
                ),
                write=False,
            )

        await limit_pages(0)
        status, answer = await post(client, body_of("during", text="满" * 20_000))
        assert status == 503 and answer["error"] == "unavailable"
        resp = await client.get("/healthz")
        assert resp.status == 503 and (await resp.json())["store"] == "not writable"
        assert "helpline_store_up 0.0" in await (await client.get("/metrics")).text()
        assert (await post(client, body_of("during", text="满" * 20_000)))[0] == 503  # still full: still 503

        await limit_pages(100_000)  # room again: the channel's retry lands and health follows
        assert (await post(client, body_of("during", text="满" * 20_000)))[0] == 200
        assert await _healthy(client)
        assert "helpline_store_up 1.0" in await (await client.get("/metrics")).text()
    finally:
        await client.close()


async def test_storage_timeout_bounds_how_long_a_webhook_waits_for_its_503(tmp_path: Path) -> None:
    client = await start_client(webhook_config(tmp_path, storage={"timeout_seconds": 0.5}))
    try:
        hub = client.server.app[HUB]
        assert (await post(client, body_of("before")))[0] == 200
        other = sqlite3.connect(hub.store.path, isolation_level=None, timeout=0.1)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            started = time.monotonic()
            status, _ = await post(client, body_of("during"))
            waited = time.monotonic() - started
            assert status == 503 and waited < 1.2, waited
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await post(client, body_of("during")))[0] == 200
    finally:
        await client.close()
