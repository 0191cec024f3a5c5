"""The web chat's HTTP endpoints: origin checks, refusals before the body, saved names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from hub.app import Hub, build_app
from tests.email_servers import Sink
from tests.helpers import make_config
from tests.test_webchat import (  # noqa: F401  (client, with_email: fixtures)
    PNG,
    client,
    frames_until,
    say,
    upload_file,
    visitor,
    with_email,
)

SHOP = "https://shop.example"


async def test_an_upload_with_a_bad_token_is_refused_before_its_body_arrives(client: TestClient) -> None:  # noqa: F811
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /channels/webchat/upload?token=forged HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n"
    )
    await writer.drain()
    trickled: list[bytes] = []

    async def trickle() -> None:
        for _ in range(100):  # 100 bytes of a 100,000-byte body, 50 ms apart
            await asyncio.sleep(0.05)
            writer.write(b"x")
            trickled.append(b"x")
            await writer.drain()

    trickling = asyncio.create_task(trickle())
    try:  # the whole answer, and the end of the connection, without waiting for the body
        answer = await asyncio.wait_for(reader.read(), timeout=15)
    finally:
        trickling.cancel()
        writer.close()
    # Measured in bytes, not seconds: answered before the body was even sent, however slow the machine.
    assert answer.startswith(b"HTTP/1.1 401") and len(trickled) < 100


async def test_a_file_is_saved_under_an_extension_that_matches_its_bytes(client: TestClient) -> None:  # noqa: F811
    me = await visitor(client)
    cases = [
        (b"hello <b>x</b><script>alert(1)</script>", "evil.html", "evil.html.txt", "text/plain"),
        (b"<img src=x onerror=alert(1)>", "img.htm", "img.htm.txt", "text/plain"),
        (PNG, "x.exe", "x.exe.png", "image/png"),
        (PNG + b"2", "photo.PNG", "photo.PNG", "image/png"),
    ]
    sent = []
    for data, name, saved, content_type in cases:
        resp = await upload_file(client, me["token"], data, name)
        uploaded = await resp.json()
        assert resp.status == 200 and (uploaded["name"], uploaded["content_type"]) == (saved, content_type)
        sent.append({**uploaded, "name": name})  # the frame repeats the browser's name: it is named again
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await ws.send_json({"type": "message", "client_id": "f1", "text": "", "attachments": sent})
        attached = (await frames_until(ws, "ack"))["message"]["attachments"]
    assert [a["name"] for a in attached] == [saved for _, _, saved, _ in cases]
    for file, (_, _, saved, content_type) in zip(attached, cases, strict=True):
        resp = await client.get(f"/channels/webchat/attachments/{file['ref']}?token={me['token']}")
        assert resp.headers["Content-Type"] == content_type
        assert resp.headers["Content-Disposition"].startswith(f'attachment; filename="{saved}";')


async def test_html_behind_a_byte_order_mark_is_refused_as_html(client: TestClient) -> None:  # noqa: F811
    me = await visitor(client)
    resp = await upload_file(client, me["token"], b"\xef\xbb\xbf<html><script>alert(1)</script></html>", "a.txt")
    assert resp.status == 415 and "text/html" in (await resp.json())["message"]


async def test_every_widget_endpoint_checks_the_sites_allowed_origins(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        {"channels": {"webchat": {"secret": "s" * 20, "sites": {"shop": {"allowed_origins": [SHOP]}}}}},
    )
    async with TestClient(TestServer(build_app(Hub(config)))) as chat:
        resp = await chat.post("/channels/webchat/session", json={"site": "shop"}, headers={"Origin": SHOP})
        token = (await resp.json())["token"]
        form = aiohttp.FormData()
        form.add_field("file", PNG, filename="a.png", content_type="image/png")
        calls = {
            "upload": lambda headers: chat.post(f"/channels/webchat/upload?token={token}", data=form, headers=headers),
            "email": lambda headers: chat.post(
                "/channels/webchat/email", json={"token": token, "email": "a@example.org"}, headers=headers
            ),
            "confirm": lambda headers: chat.post(
                "/channels/webchat/email/confirm", json={"token": token, "code": "1"}, headers=headers
            ),
            "logout": lambda headers: chat.post("/channels/webchat/logout", json={"token": token}, headers=headers),
        }
        for name, call in calls.items():
            for headers in ({"Origin": "https://evil.example"}, {}):
                resp = await call(headers)
                assert (resp.status, (await resp.json())["error"]) == (403, "origin_not_allowed"), (name, headers)
        uploaded = await (await calls["upload"]({"Origin": SHOP})).json()
        async with chat.ws_connect(f"/channels/webchat/ws?token={token}", headers={"Origin": SHOP}) as ws:
            await ws.send_json({"type": "message", "client_id": "o1", "text": "", "attachments": [uploaded]})
            await frames_until(ws, "ack")
        download = f"/channels/webchat/attachments/{uploaded['ref']}?token={token}"
        assert (await chat.get(download, headers={"Origin": "https://evil.example"})).status == 403
        assert (await chat.get(download, headers={"Origin": SHOP})).status == 200
        assert (await chat.get(download)).status == 200  # a link click sends no Origin: the token decides
        assert (await calls["logout"]({"Origin": SHOP})).status == 200


async def test_only_confirmation_mails_that_were_sent_use_up_the_quota(
    with_email: tuple[TestClient, Sink],  # noqa: F811
) -> None:
    chat, sink = with_email
    me = await visitor(chat)
    async with chat.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
        await say(ws, "my order", "e1")
    sink.script = ["554 relay refused"] * 3  # email_requests_per_hour = 2
    for i in range(3):
        resp = await chat.post("/channels/webchat/email", json={"token": me["token"], "email": f"n{i}@example.org"})
        assert resp.status == 503
    for i in range(2):  # the quota is whole: nothing was sent
        resp = await chat.post("/channels/webchat/email", json={"token": me["token"], "email": f"ok{i}@example.org"})
        assert resp.status == 200
    resp = await chat.post("/channels/webchat/email", json={"token": me["token"], "email": "three@example.org"})
    assert resp.status == 429 and [m["To"] for m in sink.mails] == ["ok0@example.org", "ok1@example.org"]
