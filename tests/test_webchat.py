"""The web-chat channel: visitor tokens, identity verification, live socket, limits."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import AuthorType, Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.app_keys import HUB
from tests.email_servers import Sink, start_sink
from tests.helpers import eventually, make_config

IDENTITY_SECRET = "site-identity-secret"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17


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
                    "uploads_per_hour": 4,
                    "uploads_per_hour_per_ip": 6,
                    "max_connections_per_ip": 4,
                    "new_visitors_per_hour_per_ip": 6,
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
        conv = await conv_id.tickets.get_conversation_by_number(1000)
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
    contact = await client.server.app[HUB].store.contacts.find_identity_contact("webchat", "user:shop:42")
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
    stored = await client.server.app[HUB].store.tickets.get_conversation_by_number(1000)
    assert len(await client.server.app[HUB].store.tickets.list_messages(stored.id)) == 5


async def test_a_lone_surrogate_or_a_binary_frame_gets_a_clear_error_and_the_socket_stays_usable(
    client: TestClient,
) -> None:
    me = await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_str('{"type":"message","client_id":"s1","text":"\\ud800"}')  # JSON.stringify's escape
        error = await frames_until(ws, "error")
        assert error["code"] == "invalid_text" and error["client_id"] == "s1"  # the widget marks it unsent
        assert "invalid text" in error["message"] and "surrogate" in error["message"]
        await ws.send_bytes(b'{"type":"ping"}')
        error = await frames_until(ws, "error")
        assert error == {"type": "error", "code": "bad_frame", "message": "frames are JSON text, not binary"}
        assert not ws.closed
        assert (await say(ws, "still here", "s2"))["message"]["text"] == "still here"
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=zh-CN") as ws:
        await ws.send_str('{"type":"message","client_id":"s3","text":"a\\udfffb"}')
        error = await frames_until(ws, "error")
        assert error["code"] == "invalid_text" and "代理字符" in error["message"]
    stored = await client.server.app[HUB].store.tickets.get_conversation_by_number(1000)
    texts = [m.text for m in await client.server.app[HUB].store.tickets.list_messages(stored.id)]
    assert texts == ["still here"]


async def test_attachments_are_checked_and_private(client: TestClient) -> None:
    me, other = await visitor(client), await visitor(client)

    async def upload(token: str, data: bytes, content_type: str) -> aiohttp.ClientResponse:
        form = aiohttp.FormData()
        form.add_field("file", data, filename="../../receipt.png", content_type=content_type)
        return await client.post(f"/channels/webchat/upload?token={token}", data=form)

    assert (await upload(me["token"], b"MZ" * 10, "application/x-msdownload")).status == 415
    assert (await upload(me["token"], b"x" * 2000, "image/png")).status == 413
    resp = await upload(me["token"], PNG, "image/png")
    uploaded = await resp.json()
    assert resp.status == 200 and uploaded["name"] == "receipt.png" and uploaded["size"] == len(PNG)

    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "message", "client_id": "f1", "text": "", "attachments": [uploaded]})
        ack = await frames_until(ws, "ack")
        assert ack["message"]["attachments"][0]["ref"] == uploaded["ref"]
        await ws.send_json(
            {"type": "message", "client_id": "f2", "text": "x", "attachments": [{**uploaded, "ref": "f" * 64}]}
        )
        assert (await frames_until(ws, "error"))["code"] == "invalid"
    mine = await client.get(f"/channels/webchat/attachments/{uploaded['ref']}?token={me['token']}")
    assert mine.status == 200 and await mine.read() == PNG
    assert mine.headers["Content-Disposition"].startswith("attachment;")
    theirs = await client.get(f"/channels/webchat/attachments/{uploaded['ref']}?token={other['token']}")
    assert theirs.status == 404


async def test_with_no_agent_online_a_visitor_is_offered_email_only_where_it_is_sent(client: TestClient) -> None:
    me = await visitor(client)
    assert me["agents_online"] is False
    resp = await client.post("/channels/webchat/email", json={"token": me["token"], "email": "li@example.com"})
    assert resp.status == 409  # nothing to answer yet
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await say(ws, "please email me", "e1")
    resp = await client.post("/channels/webchat/email", json={"token": me["token"], "email": "not an address"})
    assert resp.status == 422
    resp = await client.post("/channels/webchat/email", json={"token": me["token"], "email": "li@example.com"})
    assert resp.status == 409 and (await resp.json())["error"] == "email_unavailable"  # no email channel here
    contact = await client.server.app[HUB].store.contacts.find_identity_contact("webchat", me["visitor"])
    assert contact is not None and contact.email == ""

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


def webchat(client: TestClient) -> Any:
    return client.server.app[HUB].adapters["webchat"]


async def history(client: TestClient, token: str) -> list[str]:
    async with client.ws_connect(f"/channels/webchat/ws?token={token}") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        return [m["text"] for m in (await frames_until(ws, "hello"))["messages"]]


async def test_a_stored_token_never_resumes_a_signed_in_user_without_the_page_presenting_them(
    client: TestClient,
) -> None:
    jane = {"id": "jane", "hash": user_hash("jane")}
    signed_in = await visitor(client, site="shop", user=jane)
    async with client.ws_connect(f"/channels/webchat/ws?token={signed_in['token']}") as ws:
        await say(ws, "Jane here: my IBAN is DE89 3704", "j1")

    # the next person on the shared computer: the page no longer names a user
    after = await visitor(client, site="shop", token=signed_in["token"])
    assert after["visitor"].startswith("v_") and after["conversation"] is None
    assert await history(client, after["token"]) == []
    # the page presenting the same user id and hash resumes them, on any device
    again = await visitor(client, site="shop", user=jane, token=after["token"])
    assert again["visitor"] == "user:shop:jane" and again["conversation"]["number"] == 1000
    assert await history(client, again["token"]) == ["Jane here: my IBAN is DE89 3704"]


async def test_logout_revokes_the_visitors_tokens_and_closes_their_windows(client: TestClient) -> None:
    jane = {"id": "jane", "hash": user_hash("jane")}
    first = await visitor(client, site="shop", user=jane)
    ws = await client.ws_connect(f"/channels/webchat/ws?token={first['token']}")
    await say(ws, "private", "p1")
    resp = await client.post("/channels/webchat/logout", json={"token": first["token"]})
    assert resp.status == 200
    closing = await ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and ws.close_code == 4001
    for attempt in (
        client.post("/channels/webchat/session", json={"site": "shop", "token": first["token"]}),
        client.get(f"/channels/webchat/ws?token={first['token']}"),
        client.get(f"/channels/webchat/attachments/{'0' * 64}?token={first['token']}"),
        client.post("/channels/webchat/logout", json={"token": first["token"]}),
    ):
        assert (await attempt).status == 401
    # signing in again (id and hash) gives a new token that works
    again = await visitor(client, site="shop", user=jane)
    assert await history(client, again["token"]) == ["private"]


async def upload_file(client: TestClient, token: str, data: bytes, name: str = "photo.png") -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="image/png")
    return await client.post(f"/channels/webchat/upload?token={token}", data=form)


async def test_a_visitor_can_attach_only_their_own_uploads(client: TestClient) -> None:
    alice, mallory = await visitor(client), await visitor(client)
    alices = await (await upload_file(client, alice["token"], PNG + b"alice's passport")).json()
    elsewhere = await client.server.app[HUB].blobs.put(PNG + b"a file another channel stored")
    async with client.ws_connect(f"/channels/webchat/ws?token={mallory['token']}") as ws:
        for ref in (alices["ref"], elsewhere):
            await ws.send_json(
                {"type": "message", "client_id": ref[:8], "text": "x", "attachments": [{**alices, "ref": ref}]}
            )
            error = await frames_until(ws, "error")
            assert error["code"] == "invalid" and "uploaded" in error["message"]  # the same answer: nothing to probe
    resp = await client.get(f"/channels/webchat/attachments/{alices['ref']}?token={mallory['token']}")
    assert resp.status == 404
    async with client.ws_connect(f"/channels/webchat/ws?token={alice['token']}") as ws:
        await ws.send_json({"type": "message", "client_id": "a1", "text": "", "attachments": [alices]})
        assert (await frames_until(ws, "ack"))["message"]["attachments"][0]["ref"] == alices["ref"]


async def test_uploads_are_typed_by_their_bytes_and_downloaded_under_their_name(client: TestClient) -> None:
    me = await visitor(client)
    page = b"<html><script>steal(document.cookie)</script></html>"
    resp = await upload_file(client, me["token"], page, "cat.png")
    assert resp.status == 415 and "text/html" in (await resp.json())["message"]
    resp = await upload_file(client, me["token"], PNG, "收据 1.png")
    uploaded = await resp.json()
    assert resp.status == 200 and uploaded["content_type"] == "image/png"
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        lying = {**uploaded, "content_type": "text/html", "size": 1}
        await ws.send_json({"type": "message", "client_id": "r1", "text": "", "attachments": [lying]})
        sent = (await frames_until(ws, "ack"))["message"]["attachments"][0]
        assert sent["content_type"] == "image/png" and sent["size"] == len(PNG)  # from the bytes, not the frame
    resp = await client.get(f"/channels/webchat/attachments/{uploaded['ref']}?token={me['token']}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"__ 1.png\"; filename*=UTF-8''%E6%94%B6%E6%8D%AE%201.png"
    )
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_uploads_are_limited_per_visitor_and_per_address(client: TestClient) -> None:
    first, second = await visitor(client), await visitor(client)
    for i in range(4):
        assert (await upload_file(client, first["token"], PNG + bytes([i]))).status == 200
    refused = await upload_file(client, first["token"], PNG + b"5")
    assert refused.status == 429 and (await refused.json())["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    for i in range(2):  # the address's allowance (6) is shared by its visitors
        assert (await upload_file(client, second["token"], PNG + bytes([10 + i]))).status == 200
    assert (await upload_file(client, second["token"], PNG + b"x")).status == 429


async def test_uploads_never_sent_expire_and_are_deleted(client: TestClient) -> None:
    me = await visitor(client)
    kept = await (await upload_file(client, me["token"], PNG + b"sent")).json()
    dropped = await (await upload_file(client, me["token"], PNG + b"never sent")).json()
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "message", "client_id": "k1", "text": "", "attachments": [kept]})
        await frames_until(ws, "ack")
    uploads = webchat(client).uploads
    real_clock = uploads.clock
    uploads.clock = lambda: real_clock() + 3601  # an hour later (upload_expiry_minutes = 60)
    assert await webchat(client).sweep() == 2  # both pending copies; the sent one is kept in the store
    blobs = client.server.app[HUB].blobs
    assert blobs.path(kept["ref"]) is not None and blobs.path(dropped["ref"]) is None
    assert not any(path.is_file() for path in uploads.directory.rglob("*"))
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "message", "client_id": "late", "text": "", "attachments": [dropped]})
        assert (await frames_until(ws, "error"))["code"] == "invalid"
    resp = await client.get(f"/channels/webchat/attachments/{kept['ref']}?token={me['token']}")
    assert resp.status == 200 and await resp.read() == PNG + b"sent"


async def test_an_upload_streamed_without_a_length_stops_at_max_attachment_bytes(client: TestClient) -> None:
    me = await visitor(client)

    async def body() -> Any:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
        for _ in range(500):
            yield PNG * 10
        yield b"\r\n--b--\r\n"

    resp = await client.post(
        f"/channels/webchat/upload?token={me['token']}",
        data=body(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert resp.status == 413
    assert not webchat(client).uploads.directory.exists() or not any(webchat(client).uploads.directory.rglob("*"))


async def test_typing_floods_are_coalesced_and_hello_is_throttled(client: TestClient) -> None:
    me = await visitor(client)
    await agent_session(client)
    async with (
        client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws,
        client.ws_connect("/api/v1/live") as live,
    ):
        await say(ws, "hello", "t1")
        for _ in range(5000):
            await ws.send_str('{"type": "typing"}')
        last = (await say(ws, "after the flood", "t2"))["message"]["id"]
        events = [await live.receive_json(timeout=5)]
        while events[-1].get("message_id") != last:
            events.append(await live.receive_json(timeout=5))
        kinds = [e["type"] for e in events]
        assert kinds.count("typing") == 1 and "resync" not in kinds
        for _ in range(8):
            await ws.send_json({"type": "hello", "after": ""})
        frames = [await ws.receive_json(timeout=5) for _ in range(8)]
        assert [f["type"] for f in frames].count("hello") == 5
        assert {f.get("code") for f in frames if f["type"] == "error"} == {"rate_limited"}


async def test_sockets_and_new_visitors_are_capped_per_address(client: TestClient) -> None:
    tokens = [(await visitor(client))["token"] for _ in range(6)]
    resp = await client.post("/channels/webchat/session", json={})
    assert resp.status == 429 and (await resp.json())["error"] == "rate_limited" and "Retry-After" in resp.headers
    assert (await visitor(client, token=tokens[0]))["visitor"]  # a returning visitor is not new
    sockets = [await client.ws_connect(f"/channels/webchat/ws?token={token}") for token in tokens[:4]]
    refused = await client.ws_connect(f"/channels/webchat/ws?token={tokens[4]}")
    assert (await refused.receive_json(timeout=5))["code"] == "too_many_connections"
    await refused.receive(timeout=5)
    assert refused.close_code == 4008
    await sockets[0].close()
    await eventually(lambda: sum(webchat(client).sockets_per_ip.values()) == 3)
    async with client.ws_connect(f"/channels/webchat/ws?token={tokens[4]}") as ws:
        await ws.send_json({"type": "ping"})
        assert (await frames_until(ws, "pong"))["type"] == "pong"
    for ws in sockets[1:]:
        await ws.close()


@pytest.fixture
async def with_email(tmp_path: Path) -> AsyncIterator[tuple[TestClient, Sink]]:
    sink, server, port = await start_sink()
    config = make_config(
        tmp_path,
        {
            "hub": {"public_url": "https://help.example.com"},
            "status_page": {"enabled": True, "secret": "status-links-secret-0123456789"},
            "channels": {
                "email": {
                    "type": "email",
                    "address": "help@support.example.com",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "smtp_tls": "none",
                },
                "webchat": {"secret": "visitor-token-secret", "email_channel": "email", "email_requests_per_hour": 2},
            },
        },
    )
    client = TestClient(TestServer(build_app(Hub(config))))
    await client.start_server()
    yield client, sink
    await client.close()
    server.close()
    await server.wait_closed()


async def delivered(client: TestClient, message_id: str) -> None:
    store = client.server.app[HUB].store

    async def sent() -> bool:
        message = await store.tickets.get_message(message_id)
        return message is not None and message.delivery is not None and message.delivery.status.value == "sent"

    await eventually(sent)


async def test_a_visitors_address_gets_nothing_but_one_fixed_confirmation_until_confirmed(
    with_email: tuple[TestClient, Sink],
) -> None:
    client, sink = with_email
    hub = client.server.app[HUB]
    spammer = await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={spammer['token']}") as ws:
        await say(ws, "WIN A FREE PHONE at http://spam.example", "s1")
    leave = {"token": spammer["token"], "email": "Victim@Example.org"}
    for status in ("confirmation_sent", "confirmation_pending"):  # asking again does not mail again, and says so
        resp = await client.post("/channels/webchat/email", json=leave)
        assert resp.status == 200 and (await resp.json())["status"] == status
    [confirmation] = sink.mails
    body = confirmation.get_body(("plain",)).get_content()
    assert confirmation["To"] == "victim@example.org" and confirmation["Auto-Submitted"] == "auto-replied"
    assert "WIN" not in str(confirmation["Subject"]) + body and "spam.example" not in body
    assert "/status/" not in body  # a trial: the unconfirmed address got the ticket's page, chat and reply box
    contact = await hub.store.contacts.find_identity_contact("webchat", spammer["visitor"])
    assert contact is not None and contact.email == ""

    # replies and bot messages while the visitor is away: kept in the chat, never mailed
    conversation = await hub.store.tickets.get_conversation_by_number(1000)
    for author in (AuthorType.BOT, AuthorType.AGENT):
        reply = await hub.actions.send(conversation, f"reply by {author}", author_type=author, author_id="x")
        await delivered(client, reply.id)
    assert len(sink.mails) == 1
    assert {m.channel for m in await hub.store.tickets.list_messages(conversation.id)} == {"webchat"}

    confirm = {"token": spammer["token"], "code": "00000000"}
    resp = await client.post("/channels/webchat/email/confirm", json=confirm)
    assert resp.status == 422 and (await resp.json())["error"] == "wrong_code"
    code = re.search(r"\b\d{8}\b", body)
    assert code is not None
    resp = await client.post("/channels/webchat/email/confirm", json={**confirm, "code": code.group()})
    assert resp.status == 200
    contact = await hub.store.contacts.find_identity_contact("webchat", spammer["visitor"])
    assert contact is not None and contact.email == "victim@example.org"
    async with client.ws_connect(f"/channels/webchat/ws?token={spammer['token']}") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        assert (await frames_until(ws, "hello"))["email"] == "v***@example.org"  # not asked for again
    reply = await hub.actions.send(conversation, "Here is your answer.", author_type=AuthorType.AGENT, author_id="a")
    await eventually(lambda: len(sink.mails) == 2)
    answer = sink.mails[1]
    assert answer["To"] == "victim@example.org" and str(answer["Subject"]) == "Your request [#1000]"
    assert "Here is your answer." in answer.get_body(("plain",)).get_content()
    assert "/status/1000." in answer.get_body(("plain",)).get_content()  # confirmed: the page is theirs
    # the hub's own subject stays one across the thread (the contact's language), whatever
    # each reply is written in (a trial saw a greeting's Chinese subject, then the agent's English)
    await hub.actions.send(conversation, "您的退款已经处理好了。", author_type=AuthorType.AGENT, author_id="a")
    await eventually(lambda: len(sink.mails) == 3)
    assert str(sink.mails[2]["Subject"]) == "Your request [#1000]"
    del reply
    # once confirmed, the bots' messages go by email too (README: replies, an agent's and the bots')
    await hub.actions.post_bot_message(conversation, "我们会尽快处理。", plugin="greeting")
    await eventually(lambda: len(sink.mails) == 4)
    assert "我们会尽快处理。" in sink.mails[3].get_body(("plain",)).get_content()
    # a subject an agent gave the ticket is the support's own: its copies by email take it (a review)
    renamed = await hub.services.conversations.update_by(conversation, {"subject": "退款进度"}, who="Li", names={})
    await hub.actions.send(renamed, "已退款。", author_type=AuthorType.AGENT, author_id="a")
    await eventually(lambda: len(sink.mails) == 5)
    assert str(sink.mails[4]["Subject"]) == "退款进度 [#1000]"

    # a visitor cannot make the hub mail address after address
    assert (await client.post("/channels/webchat/email", json={**leave, "email": "two@example.org"})).status == 200
    resp = await client.post("/channels/webchat/email", json={**leave, "email": "three@example.org"})
    assert resp.status == 429 and len(sink.mails) == 6 and sink.mails[5]["To"] == "two@example.org"


async def test_uploads_have_their_own_body_limit_not_max_body_bytes(tmp_path: Path) -> None:
    """Decided: /upload streams its body and is limited by max_attachment_bytes only."""
    config = make_config(
        tmp_path,
        {"hub": {"max_body_bytes": 1024}, "channels": {"webchat": {"secret": "s" * 20, "max_attachment_bytes": 3000}}},
    )
    async with TestClient(TestServer(build_app(Hub(config)))) as client:
        me = await visitor(client)
        assert (await upload_file(client, me["token"], PNG + b"x" * 2500)).status == 200
        assert (await upload_file(client, me["token"], PNG + b"x" * 3000)).status == 413
        resp = await client.post("/channels/webchat/session", data=b"{" + b" " * 2000 + b"}")
        assert resp.status == 413  # every other body keeps the hub's limit


async def test_the_event_router_survives_a_store_outage(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from conversation.store import StoreUnavailable
    from hub.events import Event

    hub = client.server.app[HUB]
    me = await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "hello", "after": ""})
        await frames_until(ws, "hello")
        await say(ws, "我的订单还没到", "c1")
        conv = await hub.store.tickets.get_conversation_by_number(1000)
        real_get = hub.store.tickets.get_conversation

        async def down_once(conversation_id: str) -> Any:
            monkeypatch.setattr(hub.store.tickets, "get_conversation", real_get)
            raise StoreUnavailable("database is locked")

        monkeypatch.setattr(hub.store.tickets, "get_conversation", down_once)
        hub.bus.publish(Event("conversation.updated", conv.id, {"changes": ["status"]}))  # cannot be routed
        hub.bus.publish(Event("typing", conv.id, {"who": "agent"}))  # a later event still reaches the visitor
        assert (await frames_until(ws, "typing"))["who"] == "agent"
        await eventually(lambda: hub.supervisor.report()["webchat-events"] == {"status": "running", "failures": 0})
