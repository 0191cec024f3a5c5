"""Client addresses behind a reverse proxy (`[hub] trusted_proxies`): every per-address limit
and the access log see the real client when the proxy is trusted, and a forwarding header
from anyone else changes nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from argon2 import PasswordHasher

import hub.agents
from conversation.model import Role
from hub.accesslog import SafeAccessLogger
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.clientaddr import FORWARDED_HEADER, TRUSTED_PROXIES, client_address, trusted_networks
from hub.settings import ConfigError
from tests.helpers import make_config

ADMIN = ("boss@example.com", "admin password 1")
PROXY = "127.0.0.2"  # the reverse proxy, on its own loopback address
STRANGER, BOSS = "203.0.113.9", "198.51.100.7"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.agents, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


async def start(tmp_path: Path, **hub_settings: Any) -> TestServer:
    config = make_config(
        tmp_path,
        {
            "hub": hub_settings,
            "channels": {"webchat": {"secret": "webchat-secret-for-proxy-tests", "new_visitors_per_hour_per_ip": 2}},
        },
    )
    instance = Hub(config)
    server = TestServer(build_app(instance))
    await server.start_server()
    await add_agent(instance.store, ADMIN[0], Role.ADMIN, ADMIN[1])
    return server


@pytest.fixture
async def behind_proxy(tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await start(tmp_path, trusted_proxies=[PROXY, "10.0.0.0/8"])
    yield server
    await server.close()


@pytest.fixture
async def direct(tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await start(tmp_path)
    yield server
    await server.close()


def client_from(server: TestServer, address: str) -> TestClient:
    return TestClient(server, connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def login(client: TestClient, who: tuple[str, str], forwarded_for: str) -> int:
    resp = await client.post(
        "/api/v1/auth/login",
        json={"email": who[0], "password": who[1]},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return resp.status


async def test_a_stranger_behind_the_proxy_cannot_lock_the_admin_out(behind_proxy: TestServer) -> None:
    async with client_from(behind_proxy, PROXY) as proxy:
        # The stranger writes a new X-Forwarded-For each time; the proxy appends what it saw.
        for i in range(20):
            assert await login(proxy, (f"made-up{i}@example.com", "guess"), f"10.{i}.0.1, {STRANGER}") == 401
        assert await login(proxy, ("made-up@example.com", "guess"), f"10.99.0.1, {STRANGER}") == 429
        assert await login(proxy, ADMIN, BOSS) == 200  # another client behind the same proxy


async def test_a_forwarding_header_from_an_untrusted_peer_changes_nothing(direct: TestServer) -> None:
    async with client_from(direct, "127.0.0.3") as stranger:
        for i in range(20):
            assert await login(stranger, (f"made-up{i}@example.com", "guess"), f"192.0.2.{i}") == 401
        assert await login(stranger, ADMIN, "192.0.2.200") == 429  # still one address: the TCP peer's


async def new_chat(client: TestClient, forwarded_for: str) -> int:
    resp = await client.post("/channels/webchat/session", json={}, headers={"X-Forwarded-For": forwarded_for})
    return resp.status


async def test_each_web_chat_visitor_behind_the_proxy_has_their_own_allowance(behind_proxy: TestServer) -> None:
    async with client_from(behind_proxy, PROXY) as proxy:
        assert [await new_chat(proxy, STRANGER) for _ in range(3)] == [200, 200, 429]
        assert await new_chat(proxy, BOSS) == 200  # the limit is no longer site-wide


async def test_web_chat_limits_ignore_a_forwarding_header_from_an_untrusted_peer(direct: TestServer) -> None:
    async with client_from(direct, "127.0.0.3") as visitor:
        assert [await new_chat(visitor, f"192.0.2.{i}") for i in range(3)] == [200, 200, 429]


def request_from(peer: str, headers: dict[str, str], *, trusted: list[str], header: str = "X-Forwarded-For") -> Any:
    app = web.Application()
    app[TRUSTED_PROXIES] = trusted_networks("hub.trusted_proxies", trusted)
    app[FORWARDED_HEADER] = header
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (peer, 4711) if name == "peername" else default
    return make_mocked_request("GET", "/", headers=headers, app=app, transport=transport)


@pytest.mark.parametrize(
    ("peer", "headers", "header", "expected"),
    [
        ("10.1.1.1", {}, "X-Forwarded-For", "10.1.1.1"),  # a trusted proxy that sent no header
        ("192.0.2.5", {"X-Forwarded-For": "1.2.3.4"}, "X-Forwarded-For", "192.0.2.5"),  # untrusted peer
        ("10.1.1.1", {"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}, "X-Forwarded-For", "203.0.113.9"),
        ("10.1.1.1", {"X-Forwarded-For": "203.0.113.9, 10.2.2.2"}, "X-Forwarded-For", "203.0.113.9"),  # two proxies
        ("10.1.1.1", {"X-Forwarded-For": "203.0.113.9:5555"}, "X-Forwarded-For", "203.0.113.9"),
        ("10.1.1.1", {"X-Forwarded-For": "1.2.3.4, garbage"}, "X-Forwarded-For", "10.1.1.1"),
        ("10.1.1.1", {"Forwarded": 'for=1.2.3.4, for="[2001:db8::7]:4711";proto=https'}, "Forwarded", "2001:db8::7"),
        ("10.1.1.1", {"Forwarded": "for=unknown"}, "Forwarded", "10.1.1.1"),
        # The proxy writes Forwarded: an X-Forwarded-For the client wrote is not read.
        ("10.1.1.1", {"X-Forwarded-For": "1.2.3.4", "Forwarded": "for=203.0.113.9"}, "Forwarded", "203.0.113.9"),
        ("10.1.1.1", {"X-Forwarded-For": "1.2.3.4"}, "Forwarded", "10.1.1.1"),
    ],
)
def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(
    peer: str, headers: dict[str, str], header: str, expected: str
) -> None:
    assert client_address(request_from(peer, headers, trusted=["10.0.0.0/8"], header=header)) == expected


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ConfigError, match=r"hub.trusted_proxies\[1\]: 'proxy.local' is not an IP address"):
        make_config(Path("/nonexistent"), {"hub": {"trusted_proxies": ["10.0.0.1", "proxy.local"]}})


def test_the_access_log_names_the_client_not_the_proxy(caplog: pytest.LogCaptureFixture) -> None:
    request = request_from("10.1.1.1", {"X-Forwarded-For": "203.0.113.9"}, trusted=["10.0.0.0/8"])
    logger = logging.getLogger("test.access")
    caplog.set_level("INFO", logger="test.access")
    SafeAccessLogger(logger, "").log(request, web.Response(status=204), 0.001)
    [record] = caplog.records
    assert record.getMessage().startswith('203.0.113.9 "GET /" 204')
