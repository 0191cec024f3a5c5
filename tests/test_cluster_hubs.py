"""Two hub processes on one MongoDB (the mongoeco wire server), each serving HTTP: live
events published by one reach the sockets held by the other, a web-chat reply claimed by
the hub without the visitor's window is handed to the one with it (never marked sent
unseen), and limits counted through one hub hold on the other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import AuthorType, Role, utcnow
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.app_keys import HUB
from tests.helpers import customer_message, eventually, make_config

pytestmark = pytest.mark.mongo

PASSWORD = "agent password 1"
WEBCHAT = {"webchat": {"secret": "visitor-token-secret-for-two-hubs", "messages_per_minute": 4}}


@asynccontextmanager
async def two_hubs(tmp_path: Path, uri: str, raw: dict[str, Any] | None = None) -> AsyncIterator[list[TestClient]]:
    config = make_config(tmp_path, raw, storage_url=uri)
    clients = [TestClient(TestServer(build_app(Hub(config)))) for _ in range(2)]
    for client in clients:
        await client.start_server()
    await add_agent(hub(clients[0]).store, "li.na@example.com", Role.AGENT, PASSWORD, name="Li Na")
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


def hub(client: TestClient) -> Hub:
    return client.server.app[HUB]


async def sign_in(client: TestClient, password: str = PASSWORD) -> aiohttp.ClientResponse:
    return await client.post("/api/v1/auth/login", json={"email": "li.na@example.com", "password": password})


async def frames_until(ws: aiohttp.ClientWebSocketResponse, kind: str, **match: Any) -> dict[str, Any]:
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def test_a_message_taken_in_by_one_hub_reaches_the_inbox_open_on_the_other(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    async with two_hubs(tmp_path, mongo_db_uri) as (first, second):
        assert (await sign_in(second)).status == 200
        async with second.ws_connect("/api/v1/live") as inbox:
            record = await hub(first).ingest(customer_message("m1", "我的订单还没到"))
            created = await frames_until(inbox, "message.created", conversation_id=record.conversation.id)
            assert created["message_id"] == record.message.id
            assert hub(second).relay is not None and hub(second).relay.gaps == 0


async def visitor_window(client: TestClient) -> tuple[dict[str, Any], aiohttp.ClientWebSocketResponse]:
    resp = await client.post("/channels/webchat/session", json={})
    me = await resp.json()
    ws = await client.ws_connect(f"/channels/webchat/ws?token={me['token']}")
    await ws.send_json({"type": "hello", "after": ""})
    await frames_until(ws, "hello")
    return me, ws


async def test_a_reply_claimed_by_the_hub_without_the_visitors_window_reaches_it(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    async with two_hubs(tmp_path, mongo_db_uri, {"channels": WEBCHAT}) as (first, second):
        me, ws = await visitor_window(second)  # the visitor's window is on the second hub
        await ws.send_json({"type": "message", "client_id": "c1", "text": "我的订单还没到"})
        ack = await frames_until(ws, "ack")
        await hub(second).outbox.stop(0)  # so the first hub claims the reply
        conversation = await hub(first).store.tickets.get_conversation_by_number(ack["conversation"]["number"])
        assert conversation is not None
        reply = await hub(first).actions.send(conversation, "马上为您查询", author_type=AuthorType.AGENT, author_id="")
        pushed = await frames_until(ws, "message")
        assert pushed["message"]["id"] == reply.id and pushed["message"]["text"] == "马上为您查询"

        async def sent() -> bool:
            stored = await hub(first).store.tickets.get_message(reply.id)
            return stored is not None and stored.delivery is not None and stored.delivery.status.value == "sent"

        await eventually(sent)
        hub(first).actions.typing(conversation.id, who="agent")  # the agent typing on the first hub: seen too
        assert (await frames_until(ws, "typing"))["who"] == "agent"
        await ws.close()


async def test_a_reply_for_a_window_whose_hub_does_not_answer_is_retried_not_marked_sent(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    raw = {"channels": WEBCHAT, "outbox": {"max_attempts": 100}}
    async with two_hubs(tmp_path, mongo_db_uri, raw) as (first, _second):
        webchat: Any = hub(first).adapters["webchat"]
        webchat.handover_seconds = 0.2
        record = await hub(first).ingest(
            customer_message("w1", channel="webchat", thread="v_gone", sender=_sender("v_gone"))
        )
        store = hub(first).store
        # a hub process that died with the visitor's window open: its beat has not lapsed yet
        await store.cluster.beat("a-hub-that-died", until=utcnow() + timedelta(minutes=1))
        await store.cluster.hold("webchat:webchat:v_gone", "a-hub-that-died", until=utcnow() + timedelta(minutes=1))
        reply = await hub(first).actions.send(
            record.conversation, "还在吗？", author_type=AuthorType.AGENT, author_id=""
        )

        async def retried() -> bool:
            stored = await store.tickets.get_message(reply.id)
            return stored is not None and stored.delivery is not None and stored.delivery.attempts >= 1

        await eventually(retried)
        stored = await store.tickets.get_message(reply.id)
        assert stored is not None and stored.delivery is not None
        assert stored.delivery.status.value == "queued" and "another hub process" in stored.delivery.error
        # its beat lapses: a visitor with no window anywhere gets it when back, as before
        await store.cluster.beat("a-hub-that-died", until=utcnow() - timedelta(seconds=1))
        hub(first).outbox.wake()

        async def sent() -> bool:
            found = await store.tickets.get_message(reply.id)
            return found is not None and found.delivery is not None and found.delivery.status.value == "sent"

        await eventually(sent)


def _sender(address: str) -> Any:
    from conversation.inbound import Sender

    return Sender(address=address, display_name="Visitor")


async def test_failed_sign_ins_through_either_hub_add_up(tmp_path: Path, mongo_db_uri: str) -> None:
    async with two_hubs(tmp_path, mongo_db_uri) as (first, second):
        for attempt in range(5):  # the account's allowance: 5 wrong passwords, spread over both hubs
            resp = await sign_in((first, second)[attempt % 2], "a wrong password")
            assert resp.status == 401
        assert (await sign_in(second, "a wrong password")).status == 429
        assert (await sign_in(first)).status == 429  # the right one too, until the window passes


async def test_a_visitors_message_limit_holds_across_hubs(tmp_path: Path, mongo_db_uri: str) -> None:
    async with two_hubs(tmp_path, mongo_db_uri, {"channels": WEBCHAT}) as (first, second):
        me, ws_first = await visitor_window(first)
        ws_second = await second.ws_connect(f"/channels/webchat/ws?token={me['token']}")
        for n in range(4):  # 4 a minute: two through each hub
            ws = (ws_first, ws_second)[n % 2]
            await ws.send_json({"type": "message", "client_id": f"c{n}", "text": f"消息 {n}"})
            await frames_until(ws, "ack")
        await ws_second.send_json({"type": "message", "client_id": "c5", "text": "再一条"})
        refused = await frames_until(ws_second, "error")
        assert refused["code"] == "rate_limited" and refused["retry_after"] > 0
        await ws_first.close()
        await ws_second.close()


async def test_an_inbox_open_on_one_hub_shows_agents_online_to_a_visitor_of_the_other(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    raw = {"channels": WEBCHAT, "routing": {"sweep_seconds": 0.2}}
    async with two_hubs(tmp_path, mongo_db_uri, raw) as (first, second):
        assert (await sign_in(second)).status == 200
        async with second.ws_connect("/api/v1/live"):  # presence is a heartbeat per process in the store
            await eventually(lambda: hub(first).agents_online() > 0)  # what the first hub's widgets are told
            resp = await first.post("/channels/webchat/session", json={})
            assert (await resp.json())["agents_online"] is True


async def test_a_visitors_message_shows_in_their_window_open_on_the_other_hub(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    async with two_hubs(tmp_path, mongo_db_uri, {"channels": WEBCHAT}) as (first, second):
        me, here = await visitor_window(first)
        there = await second.ws_connect(f"/channels/webchat/ws?token={me['token']}")  # another tab, another hub
        await there.send_json({"type": "hello", "after": ""})
        await frames_until(there, "hello")
        await here.send_json({"type": "message", "client_id": "c1", "text": "两个窗口"})
        ack = await frames_until(here, "ack")
        echoed = await frames_until(there, "message")
        assert echoed["message"]["id"] == ack["message"]["id"] and echoed["message"]["text"] == "两个窗口"
        await here.close()
        await there.close()


async def test_an_event_numbered_after_a_hub_started_reaches_its_sockets_when_the_store_answers_slowly(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    started = Hub(make_config(tmp_path, storage_url=mongo_db_uri))
    assert started.relay is not None
    cluster = started.store.cluster
    written = asyncio.Event()
    first_read = cluster.last_event_seq

    async def slow_first_read() -> int:  # a loaded machine: the hub's first look at the log comes late
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(written.wait(), 0.5)
        return await first_read()

    cluster.last_event_seq = slow_first_read  # type: ignore[method-assign]
    await started.start()  # from here the hub serves sockets
    try:
        socket = started.bus.subscribe(remote=True)
        await cluster.append_events("another-hub", [{"type": "message.created", "conversation_id": "c1"}], now=utcnow())
        written.set()
        event = await asyncio.wait_for(socket.queue.get(), 5)
        assert (event.type, event.conversation_id) == ("message.created", "c1")
    finally:
        await started.stop()


async def test_a_hub_process_starting_tells_the_inboxes_open_on_the_others_to_reload(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    # the events a killed hub published but had not yet written are gone with it; its
    # replacement starting is the others' cue to reload what they show (from the store)
    async with two_hubs(tmp_path, mongo_db_uri) as (first, _second):
        assert (await sign_in(first)).status == 200
        async with first.ws_connect("/api/v1/live") as inbox:
            replacement = Hub(make_config(tmp_path, storage_url=mongo_db_uri))
            await replacement.start()
            try:
                assert await frames_until(inbox, "resync") == {"type": "resync"}
            finally:
                await replacement.stop()
