"""The HTTP server as `helpline serve` runs it: slow clients are cut off, and a shutdown
answers new requests 503 with Retry-After while the requests in flight finish."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.webhook import signed_headers
from hub.app import Hub, build_app
from hub.server import DRAIN, serve
from tests.conftest import free_port
from tests.helpers import eventually, make_config

SECRET = "webhook-secret-for-server-tests"
HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 0.5


@dataclass
class Served:
    hub: Hub
    app: web.Application
    port: int
    stop: asyncio.Event


@asynccontextmanager
async def serving(tmp_path: Path, **hub: Any) -> AsyncIterator[Served]:
    config = make_config(
        tmp_path,
        {
            "hub": {
                "data_dir": str(tmp_path / "data"),
                "header_timeout_seconds": HEADER_TIMEOUT,
                "body_timeout_seconds": BODY_TIMEOUT,
                **hub,
            },
            "channels": {
                "api": {"type": "webhook", "secret": SECRET},
                "web": {"type": "webchat", "secret": "webchat-secret-for-server-tests"},
            },
        },
    )
    instance = Hub(config)
    app = build_app(instance)
    port, stop, listening = free_port(), asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(serve(app, "127.0.0.1", port, stop, on_listening=listening.set))
    await asyncio.wait_for(listening.wait(), timeout=10)
    try:
        yield Served(instance, app, port, stop)
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=15)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if it is still open after `seconds`."""
    received = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(4096), timeout=left)
        except TimeoutError:
            return None
        except ConnectionError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


async def test_a_client_sending_its_headers_byte_by_byte_is_cut_off(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"X-Slow: " + b"a" * 200
        started = time.monotonic()
        closed = False
        for byte in head:  # one byte every 20 ms: 4.8 s of header if nobody stops it
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                closed = True
                break
            if await closed_within(reader, 0.02) is not None:
                closed = True
                break
        elapsed = time.monotonic() - started
        writer.close()
        assert closed, "the connection was still open after the whole slow header"
        assert elapsed < HEADER_TIMEOUT + 1.0, elapsed


async def test_an_idle_connection_is_closed_after_the_header_timeout(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        started = time.monotonic()
        assert await closed_within(reader, HEADER_TIMEOUT + 1.0) == b""
        assert time.monotonic() - started >= HEADER_TIMEOUT - 0.1
        writer.close()


async def test_a_body_sent_a_byte_at_a_time_gets_408_and_the_connection_closes(tmp_path: Path) -> None:
    async with serving(tmp_path) as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        body = json.dumps({"id": "p-1", "sender": {"id": "u-1"}, "text": "x" * 200}).encode()
        headers = {"Host": "localhost", "Content-Length": str(len(body)), **signed_headers(SECRET, body)}
        head = "POST /channels/api/messages HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(head.encode() + b"\r\n")
        started = time.monotonic()
        answer: bytes | None = None
        for byte in body:  # 20 ms a byte: 4 s of body if nobody stops it
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                answer = b""
                break
            answer = await closed_within(reader, 0.02)
            if answer is not None:
                break
        elapsed = time.monotonic() - started
        writer.close()
        assert answer is not None, "the connection was still open after the whole slow body"
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"did not arrive within" in answer
        assert elapsed < BODY_TIMEOUT + 1.0, elapsed
        assert await served.hub.store.tickets.get_conversation_by_number(1000) is None  # nothing half-read was stored


async def test_ordinary_requests_still_work_with_short_deadlines(tmp_path: Path) -> None:
    async with serving(tmp_path) as served, aiohttp.ClientSession() as session:
        body = json.dumps({"id": "p-1", "sender": {"id": "u-1"}, "text": "hello"}).encode()
        url = f"http://127.0.0.1:{served.port}/channels/api/messages"
        for _ in range(2):  # the second one reuses the kept-alive connection
            async with session.post(url, data=body, headers=signed_headers(SECRET, body)) as resp:
                assert resp.status == 200, await resp.text()


async def test_an_open_websocket_outlives_the_header_timeout(tmp_path: Path) -> None:
    async with serving(tmp_path) as served, aiohttp.ClientSession() as session:
        base = f"http://127.0.0.1:{served.port}/channels/web"
        async with session.post(f"{base}/session", json={"site": "default"}) as resp:
            token = (await resp.json())["token"]
        async with session.ws_connect(f"{base}/ws?token={token}") as ws:
            await asyncio.sleep(HEADER_TIMEOUT * 3)  # quiet, but not idle: a chat is open
            await ws.send_json({"type": "ping"})
            assert (await ws.receive_json(timeout=2)) == {"type": "pong"}


async def test_requests_arriving_during_the_drain_get_503_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(tmp_path, shutdown_grace_seconds=10) as served:
        hub, drain = served.hub, served.app[DRAIN]
        entered, release = asyncio.Event(), asyncio.Event()
        ingest = hub.ingest

        async def slow_ingest(inbound: Any) -> Any:
            entered.set()
            await release.wait()
            return await ingest(inbound)

        monkeypatch.setattr(hub, "ingest", slow_ingest)
        body = json.dumps({"id": "p-1", "sender": {"id": "u-1"}, "text": "in flight"}).encode()
        base = f"http://127.0.0.1:{served.port}"
        async with aiohttp.ClientSession() as first, aiohttp.ClientSession() as second:
            in_flight = asyncio.create_task(
                first.post(f"{base}/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
            )
            await asyncio.wait_for(entered.wait(), timeout=5)
            served.stop.set()  # what SIGTERM does in `helpline serve`
            await eventually(lambda: drain.draining)

            late = json.dumps({"id": "p-2", "sender": {"id": "u-2"}, "text": "too late"}).encode()
            async with second.post(
                f"{base}/channels/api/messages", data=late, headers=signed_headers(SECRET, late)
            ) as resp:
                assert resp.status == 503
                assert resp.headers["Retry-After"].isdigit()
                assert (await resp.json())["error"] == "unavailable"
            async with second.get(f"{base}/healthz") as resp:
                assert resp.status == 503 and "Retry-After" in resp.headers

            release.set()
            resp = await asyncio.wait_for(in_flight, timeout=5)
            assert resp.status == 200, await resp.text()  # the request in flight finished normally
            resp.release()
        assert drain.in_flight == 0


async def test_a_completed_shutdown_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="hub.server")
    async with serving(tmp_path):
        pass
    messages = [r.getMessage() for r in caplog.records if r.name == "hub.server"]
    assert messages[0].startswith("shutting down") and messages[-1].startswith("stopped")
