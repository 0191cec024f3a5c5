"""The widget's protocol as README "Web chat" documents it, checked against the running channel.

The README's tables are read here: each documented client frame is sent with its documented
fields, each reply must have exactly the documented fields, and the error codes, close codes
and upload refusals the adapter can produce must be the documented ones. A change to either
side that is not made to the other fails here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.webchat import adapter as webchat
from hub.app import Hub, build_app
from hub.app_keys import HUB
from tests.helpers import make_config

README = Path(__file__).parent.parent / "README.md"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
MAX_CHARS = 200
TICK = re.compile(r"`([^`]*)`")


def protocol_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### The widget's protocol")
    return text[start : text.index("\n## ", start)]


def table(header: str) -> list[list[str]]:
    """The rows (cells) of the README table whose first header cell is `header`."""
    lines = protocol_section().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def ticked(cell: str) -> list[str]:
    return TICK.findall(cell)


def client_frames() -> dict[str, tuple[list[str], str]]:
    """Documented client frame -> (its fields, the frame type that answers it or "none")."""
    return {
        ticked(name)[0]: (ticked(fields), (ticked(answer) or [answer])[0])
        for name, fields, answer in table("Client frame")
    }


def server_frames() -> dict[str, tuple[set[str], set[str]]]:
    """Documented server frame -> (fields it always has, fields it has when they apply)."""
    found = {}
    for name, fields, _when in table("Server frame"):
        always, _, sometimes = fields.partition(";")
        found[ticked(name)[0]] = (set(ticked(always)), set(ticked(sometimes)))
    return found


@pytest.fixture
async def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    monkeypatch.setenv("HELPLINE_WEBCHAT_SECRET", "visitor-token-secret-for-protocol")
    settings = {
        "secret": "env:HELPLINE_WEBCHAT_SECRET",
        "max_message_chars": MAX_CHARS,
        "max_attachment_bytes": 1000,
        "uploads_per_hour": 4,
    }
    client = TestClient(TestServer(build_app(Hub(make_config(tmp_path, {"channels": {"webchat": settings}})))))
    await client.start_server()
    yield client
    await client.close()


async def session(client: TestClient) -> dict[str, Any]:
    resp = await client.post("/channels/webchat/session", json={"site": "default"})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def upload(client: TestClient, token: str, data: bytes, name: str = "a.png") -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return await client.post(f"/channels/webchat/upload?token={token}", data=form)


def check_shape(frame: dict[str, Any], documented: dict[str, tuple[set[str], set[str]]]) -> None:
    assert frame["type"] in documented, f"undocumented server frame {frame}"
    always, sometimes = documented[frame["type"]]
    assert always <= set(frame) - {"type"} <= always | sometimes, (frame, always, sometimes)


def test_the_documented_client_frames_are_the_ones_the_channel_dispatches() -> None:
    assert tuple(client_frames()) == webchat.CLIENT_FRAMES


async def test_each_documented_client_frame_gets_the_documented_reply(client: TestClient) -> None:
    visitor = await session(client)
    token = visitor["token"]
    attachment = await (await upload(client, token, PNG)).json()
    samples: dict[str, Any] = {"after": "", "text": "hello", "attachments": [attachment], "choice_id": "yes"}
    documented = server_frames()
    seen: dict[str, dict[str, Any]] = {}
    async with (
        client.ws_connect(f"/channels/webchat/ws?token={token}") as ws,
        client.ws_connect(f"/channels/webchat/ws?token={token}") as other_window,
    ):
        for i, (kind, (fields, answer)) in enumerate(client_frames().items()):
            frame = {"type": kind, **{f: f"c-{i}" if f == "client_id" else samples[f] for f in fields}}
            await ws.send_json(frame)
            if answer == "none":  # nothing comes back: the next frame is the answer to a ping
                await ws.send_json({"type": "ping"})
                answer, kind = "pong", "ping"
            reply = await ws.receive_json(timeout=5)
            assert reply["type"] == answer, (kind, frame, reply)
            check_shape(reply, documented)
            seen.setdefault(reply["type"], reply)  # the first ack: the message with its attachment
        message = await other_window.receive_json(timeout=5)  # the visitor wrote in another window
        check_shape(message, documented)
        seen[message["type"]] = message

        hub: Hub = client.server.app[HUB]
        ticket = await hub.store.tickets.get_conversation_by_number(seen["ack"]["conversation"]["number"])
        assert ticket is not None
        hub.services.conversations.typing(ticket.id, who="agent")
        await hub.actions.update_conversation(ticket, {"status": "pending"})
        await ws.send_json({"type": "nonsense"})
        while len(seen) < len(documented):
            reply = await ws.receive_json(timeout=5)
            check_shape(reply, documented)
            seen[reply["type"]] = reply
    assert set(seen) == set(documented)
    assert seen["typing"]["who"] == "agent" and seen["ticket"]["conversation"]["status"] == "pending"
    message_fields = {ticked(name)[0] for name, _ in table("Message field")}
    assert set(seen["ack"]["message"]) == message_fields
    assert set(seen["ack"]["conversation"]) == {"number", "status"}
    assert [a["ref"] for a in seen["ack"]["message"]["attachments"]] == [attachment["ref"]]


def test_the_documented_error_codes_are_the_ones_the_channel_sends() -> None:
    source = inspect.getsource(webchat)
    sent = set(re.findall(r'_error_frame\(\s*request,\s*"(\w+)"', source)) | set(re.findall(r'"code": "(\w+)"', source))
    assert {ticked(code)[0] for code, _ in table("Error code")} == sent


async def test_the_documented_close_codes_are_the_ones_the_channel_uses(client: TestClient) -> None:
    documented = {int(code) for code, *_ in table("Close code")}
    assert {webchat.POLICY_VIOLATION, webchat.SIGNED_OUT, 1001} <= documented
    token = (await session(client))["token"]
    async with client.ws_connect(f"/channels/webchat/ws?token={token}") as ws:  # the size limit: 1009
        await ws.send_str('{"type": "ping", "pad": "' + "x" * webchat.frame_limit(MAX_CHARS) + '"}')
        closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and ws.close_code == 1009
    assert documented == {webchat.POLICY_VIOLATION, webchat.SIGNED_OUT, 1001, 1009}


async def test_a_message_at_the_limit_is_taken_however_its_json_is_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial's client (Python's json.dumps, which writes every Chinese character as \\uXXXX)
    had its valid 4,000-character message closed with 1009 and resent for ever."""

    monkeypatch.setenv("HELPLINE_WEBCHAT_SECRET", "visitor-token-secret-for-protocol")
    limit = 4000  # the default: its escaped JSON was over the old frame cap, 4 bytes a character
    settings = {"secret": "env:HELPLINE_WEBCHAT_SECRET", "max_message_chars": limit, "messages_per_minute": 100}
    hub = Hub(make_config(tmp_path, {"channels": {"webchat": settings}}))
    async with TestClient(TestServer(build_app(hub))) as client:
        await escaped_messages_are_taken(client, limit)


async def escaped_messages_are_taken(client: TestClient, limit: int) -> None:
    import json

    token = (await session(client))["token"]
    async with client.ws_connect(f"/channels/webchat/ws?token={token}") as ws:
        for client_id, text in (("c1", "长" * limit), ("c2", "😀" * limit)):
            await ws.send_str(json.dumps({"type": "message", "client_id": client_id, "text": text}))  # escaped
            while (frame := await ws.receive_json(timeout=5))["type"] != "ack":
                pass
            assert frame["client_id"] == client_id


async def test_uploads_are_refused_as_documented(client: TestClient) -> None:
    files = protocol_section().split("**Files.**")[1]
    documented = {code: int(status) for status, code in re.findall(r"(\d{3})\s+`(\w+)`", files)}
    token = (await session(client))["token"]
    answers = {}
    for data, name in ((PNG + b"\x00" * 1000, "big.png"), (b"MZ\x90\x00 a program", "a.exe")):
        resp = await upload(client, token, data, name)
        answers[(await resp.json())["error"]] = resp.status
    resp = await client.post(f"/channels/webchat/upload?token={token}", data=b"not multipart")
    answers[(await resp.json())["error"]] = resp.status
    resp = await upload(client, token, PNG)  # the 4th of uploads_per_hour = 4
    assert resp.status == 200 and set(await resp.json()) == {"ref", "name", "content_type", "size"}
    resp = await upload(client, token, PNG)
    answers[(await resp.json())["error"]] = resp.status
    assert "Retry-After" in resp.headers
    assert answers == documented
