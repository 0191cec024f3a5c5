"""The web-chat channel: visitor tokens, identity verification, live socket, limits."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.app_keys import HUB
from tests.helpers import eventually, make_config

IDENTITY_SECRET = "site-identity-secret"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    config = make_config(
        tmp_path,
        {
            "channels": {
                "webchat": {
                    "secret": "visitor-token-secret",
                    "sites": {"default": {}, "shop": {"identity_secret": IDENTITY_SECRET}},
                    "messages_per_minute": 5,
                    "max_connections_per_visitor": 2,
                    "max_message_chars": 500,
                    "max_attachment_bytes": 1000,
                }
            }
        },
    )
    hub = Hub(config)
    client = TestClient(TestServer(build_app(hub)))
    await client.start_server()
    await add_agent(hub.store, "li.na@example.com", Role.AGENT, "agent password 1", name="Li Na")
    yield client
    await client.close()


async def visitor(client: TestClient, **body: Any) -> dict[str, Any]:
    resp = await client.post("/channels/webchat/session", json=body)
    answer = await resp.json()
    assert resp.status == 200, answer
    return answer


async def frames_until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == kind:
            return frame


async def say(ws: aiohttp.ClientWebSocketResponse, text: str, client_id: str) -> dict[str, Any]:
    await ws.send_json({"type": "message", "client_id": client_id, "text": text})
    return await frames_until(ws, "ack")


async def agent_session(client: TestClient) -> dict[str, str]:
    resp = await client.post("/api/v1/auth/login", json={"email": "li.na@example.com", "password": "agent password 1"})
    return {"X-CSRF-Token": (await resp.json())["csrf_token"]}


async def test_a_visitor_chats_and_sees_the_agents_reply_live(client: TestClient) -> None:
    me = await visitor(client)
    assert me["conversation"] is None and me["agents_online"] is False
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        assert (await frames_until(ws, "hello"))["messages"] == []
        ack = await say(ws, "我的订单还没到", "c1")
        assert ack["conversation"] == {"number": 1000, "status": "open"}
        assert ack["message"]["text"] == "我的订单还没到" and ack["message"]["from"] == "visitor"
        again = await say(ws, "我的订单还没到", "c1")  # resent after a reconnect: the same message
        assert again["message"]["id"] == ack["message"]["id"]

        headers = await agent_session(client)
        conv_id = client.server.app[HUB].store
        conv = await conv_id.get_conversation_by_number(1000)
        resp = await client.post(
            f"/api/v1/conversations/{conv.id}/messages", json={"text": "马上为您查询"}, headers=headers
        )
        assert resp.status == 201
        pushed = await frames_until(ws, "message")
        assert pushed["message"]["text"] == "马上为您查询" and pushed["message"]["from"] == "agent"

        await client.post(f"/api/v1/conversations/{conv.id}/typing", headers=headers)
        assert (await frames_until(ws, "typing"))["who"] == "agent"
        await client.patch(f"/api/v1/conversations/{conv.id}", json={"status": "pending"}, headers=headers)
        assert (await frames_until(ws, "ticket"))["conversation"] == {"number": 1000, "status": "pending"}

        resp = await client.post(
            f"/api/v1/conversations/{conv.id}/messages", json={"text": "secret", "kind": "note"}, headers=headers
        )
        assert resp.status == 201

    # a reload: the whole history, without notes or system events; a resume: only what is new
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        hello = await frames_until(ws, "hello")
        assert [m["text"] for m in hello["messages"]] == ["我的订单还没到", "马上为您查询"]
        await ws.send_json({"type": "hello", "after": hello["messages"][0]["id"]})
        assert [m["text"] for m in (await frames_until(ws, "hello"))["messages"]] == ["马上为您查询"]


async def test_visitors_only_reach_their_own_conversation(client: TestClient) -> None:
    alice, bob = await visitor(client), await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={alice['token']}") as ws:
        await say(ws, "alice's private question", "a1")
    async with client.ws_connect(f"/channels/webchat/ws?token={bob['token']}") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        hello = await frames_until(ws, "hello")
        assert hello["conversation"] is None and hello["messages"] == []
    again = await visitor(client, token=alice["token"])
    assert again["conversation"]["number"] == 1000 and again["visitor"] == alice["visitor"]
    forged = alice["token"][:-2] + ("AA" if not alice["token"].endswith("AA") else "BB")
    resp = await client.get(f"/channels/webchat/ws?token={forged}")
    assert resp.status == 401
    resp = await client.post("/channels/webchat/session", json={"token": forged})
    assert resp.status == 401


def user_hash(user_id: str, email: str = "") -> str:
    return hmac.new(
        IDENTITY_SECRET.encode(), (user_id + ("\n" + email if email else "")).encode(), hashlib.sha256
    ).hexdigest()


async def test_a_signed_in_user_is_verified_by_hmac_and_a_bad_hash_is_refused(client: TestClient) -> None:
    good = await visitor(
        client,
        site="shop",
        user={"id": "42", "email": "wei@example.com", "name": "Wei", "hash": user_hash("42", "wei@example.com")},
    )
    assert good["visitor"] == "user:shop:42"
    for bad in (
        {"id": "42", "hash": "0" * 64},
        {"id": "42", "email": "other@example.com", "hash": user_hash("42")},
        {"id": "43", "hash": user_hash("42")},
    ):
        resp = await client.post("/channels/webchat/session", json={"site": "shop", "user": bad})
        assert resp.status == 403 and (await resp.json())["error"] == "identity_rejected"
    resp = await client.post("/channels/webchat/session", json={"site": "default", "user": {"id": "42", "hash": "x"}})
    assert resp.status == 403  # a site without an identity secret verifies nobody
    resp = await client.post("/channels/webchat/session", json={"site": "elsewhere"})
    assert resp.status == 403

    async with client.ws_connect(f"/channels/webchat/ws?token={good['token']}") as ws:
        await say(ws, "hello from my account", "u1")
    contact = await client.server.app[HUB].store.find_identity_contact("webchat", "user:shop:42")
    assert contact is not None and contact.email == "wei@example.com" and contact.identities[0].verified


async def test_limits_answer_with_error_frames_and_affect_no_one_else(client: TestClient) -> None:
    me, other = await visitor(client), await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "message", "client_id": "long", "text": "x" * 501})
        error = await frames_until(ws, "error")
        assert error["code"] == "too_long" and error["client_id"] == "long"
        for i in range(5):
            await say(ws, f"message {i}", f"m{i}")
        await ws.send_json({"type": "message", "client_id": "m5", "text": "one too many"})
        error = await frames_until(ws, "error")
        assert error["code"] == "rate_limited" and error["retry_after"] > 0
        await ws.send_json({"type": "ping"})
        assert (await frames_until(ws, "pong"))["type"] == "pong"  # still open and answering

        second = await client.ws_connect(f"/channels/webchat/ws?token={me['token']}")
        third = await client.ws_connect(f"/channels/webchat/ws?token={me['token']}")
        assert (await third.receive_json(timeout=5))["code"] == "too_many_connections"
        closing = await third.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and third.close_code == 4008
        await second.close()
    async with client.ws_connect(f"/channels/webchat/ws?token={other['token']}") as ws:
        assert (await say(ws, "I am fine", "o1"))["message"]["text"] == "I am fine"
    stored = await client.server.app[HUB].store.get_conversation_by_number(1000)
    assert len(await client.server.app[HUB].store.list_messages(stored.id)) == 5


async def test_attachments_are_checked_and_private(client: TestClient) -> None:
    me, other = await visitor(client), await visitor(client)

    async def upload(token: str, data: bytes, content_type: str) -> aiohttp.ClientResponse:
        form = aiohttp.FormData()
        form.add_field("file", data, filename="../../receipt.png", content_type=content_type)
        return await client.post(f"/channels/webchat/upload?token={token}", data=form)

    assert (await upload(me["token"], b"MZ" * 10, "application/x-msdownload")).status == 415
    assert (await upload(me["token"], b"x" * 2000, "image/png")).status == 413
    resp = await upload(me["token"], b"\x89PNG fake", "image/png")
    uploaded = await resp.json()
    assert resp.status == 200 and uploaded["name"] == "receipt.png" and uploaded["size"] == 9

    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "message", "client_id": "f1", "text": "", "attachments": [uploaded]})
        ack = await frames_until(ws, "ack")
        assert ack["message"]["attachments"][0]["ref"] == uploaded["ref"]
        await ws.send_json(
            {"type": "message", "client_id": "f2", "text": "x", "attachments": [{**uploaded, "ref": "f" * 64}]}
        )
        assert (await frames_until(ws, "error"))["code"] == "invalid"
    mine = await client.get(f"/channels/webchat/attachments/{uploaded['ref']}?token={me['token']}")
    assert mine.status == 200 and await mine.read() == b"\x89PNG fake"
    assert mine.headers["Content-Disposition"] == "attachment"
    theirs = await client.get(f"/channels/webchat/attachments/{uploaded['ref']}?token={other['token']}")
    assert theirs.status == 404


async def test_with_no_agent_online_a_visitor_leaves_an_email(client: TestClient) -> None:
    me = await visitor(client)
    assert me["agents_online"] is False
    resp = await client.post("/channels/webchat/email", json={"token": me["token"], "email": "li@example.com"})
    assert resp.status == 409  # nothing to answer yet
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await say(ws, "please email me", "e1")
    resp = await client.post("/channels/webchat/email", json={"token": me["token"], "email": "not an address"})
    assert resp.status == 422
    resp = await client.post("/channels/webchat/email", json={"token": me["token"], "email": "li@example.com"})
    assert resp.status == 200
    contact = await client.server.app[HUB].store.find_identity_contact("webchat", me["visitor"])
    assert contact is not None and contact.email == "li@example.com"

    headers = await agent_session(client)
    async with client.ws_connect("/api/v1/live"):
        await eventually(lambda: client.server.app[HUB].agents_online() == 1)
        assert (await visitor(client, token=me["token"]))["agents_online"] is True
    del headers


async def test_visitor_typing_reaches_the_inbox(client: TestClient) -> None:
    me = await visitor(client)
    await agent_session(client)
    async with (
        client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws,
        client.ws_connect("/api/v1/live") as live,
    ):
        await say(ws, "hello", "t1")
        await ws.send_json({"type": "typing"})
        while (event := await live.receive_json(timeout=5))["type"] != "typing":
            pass
        assert event["who"] == "customer"
    await asyncio.sleep(0)


async def test_the_event_router_survives_a_store_outage(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from conversation.store import StoreUnavailable
    from hub.events import Event

    hub = client.server.app[HUB]
    me = await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        await frames_until(ws, "hello")
        await say(ws, "我的订单还没到", "c1")
        conv = await hub.store.get_conversation_by_number(1000)
        real_get = hub.store.get_conversation

        async def down_once(conversation_id: str) -> Any:
            monkeypatch.setattr(hub.store, "get_conversation", real_get)
            raise StoreUnavailable("database is locked")

        monkeypatch.setattr(hub.store, "get_conversation", down_once)
        hub.bus.publish(Event("conversation.updated", conv.id, {"changes": ["status"]}))  # cannot be routed
        hub.bus.publish(Event("typing", conv.id, {"who": "agent"}))  # a later event still reaches the visitor
        assert (await frames_until(ws, "typing"))["who"] == "agent"
        await eventually(lambda: hub.supervisor.report()["webchat-events"] == {"status": "running", "failures": 0})
