"""The access log: one line per request, whatever the path holds."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from hub.accesslog import SafeAccessLogger
from tests.conftest import free_port
from tests.helpers import clear_proxies, eventually


async def test_an_encoded_newline_in_the_path_cannot_forge_a_log_line(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_proxies(monkeypatch)
    runner = web.AppRunner(
        web.Application(), access_log_class=SafeAccessLogger, access_log=logging.getLogger("helpline.access")
    )
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    forged = '/x%0A10.0.0.1%20"POST%20/api/v1/agents"%20201%201.0ms%0D%1B[2J/caf%C3%A9'
    try:
        with caplog.at_level(logging.INFO, logger="helpline.access"):
            async with aiohttp.ClientSession() as session:
                url = URL(f"http://127.0.0.1:{port}{forged}?token=secret-visitor-token", encoded=True)
                async with session.get(url) as resp:
                    assert resp.status == 404
            await eventually(lambda: any(r.name == "helpline.access" for r in caplog.records))
    finally:
        await runner.cleanup()
    [line] = [r.getMessage() for r in caplog.records if r.name == "helpline.access"]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert '"GET /x%0A10.0.0.1%20%22POST%20/api/v1/agents%22%20201%201.0ms%0D%1B[2J/caf%C3%A9" 404' in line
    assert "secret-visitor-token" not in line


def test_a_status_page_token_never_reaches_the_log() -> None:
    from aiohttp.test_utils import make_mocked_request

    from hub.accesslog import loggable_path

    request = make_mocked_request("GET", "/status/1000.1798317796.XNHgSecretSignature/reply?lang=zh-CN")
    assert loggable_path(request) == "/status/[token]/reply"
    assert loggable_path(make_mocked_request("GET", "/api/v1/conversations/abc")) == "/api/v1/conversations/abc"


async def test_a_malformed_request_is_a_clean_400_without_an_error_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A duplicate Content-Type is the client's fault: a 400, one INFO line, no ERROR or traceback."""
    clear_proxies(monkeypatch)
    runner = web.AppRunner(
        web.Application(), access_log_class=SafeAccessLogger, access_log=logging.getLogger("helpline.access")
    )
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with caplog.at_level(logging.DEBUG):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n"
            )
            await writer.drain()
            answer = await reader.read()
            writer.close()
            await eventually(lambda: any(r.name == "helpline.access" for r in caplog.records))
    finally:
        await runner.cleanup()
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not any(r.exc_info for r in caplog.records)
    [line] = [r.getMessage() for r in caplog.records if r.name == "helpline.access"]
    assert line.startswith("127.0.0.1 ") and " 400 " in line


async def test_a_raw_non_ascii_query_is_a_clean_400_and_its_value_never_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unencoded search sent over a socket: aiohttp refuses the request line and would
    log it whole, query value included; the log keeps the reason, never the value."""
    clear_proxies(monkeypatch)
    runner = web.AppRunner(
        web.Application(), access_log_class=SafeAccessLogger, access_log=logging.getLogger("helpline.access")
    )
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with caplog.at_level(logging.DEBUG):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write("GET /api/v1/search?q=密码Hunter2 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            answer = await reader.read()
            writer.close()
            await eventually(lambda: any(r.name == "helpline.access" for r in caplog.records))
    finally:
        await runner.cleanup()
    assert answer.split(b"\r\n", 1)[0].endswith(b"400 Bad Request")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "Hunter2" not in logged and "q=" not in logged and "\\xe5\\xaf\\x86" not in logged
    assert "Invalid char in url query" in logged  # the reason stays
    [line] = [r.getMessage() for r in caplog.records if r.name == "helpline.access"]
    assert line.startswith("127.0.0.1 ") and " 400 " in line
