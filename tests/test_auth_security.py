"""Sign-in, live sockets and /metrics against an attacker: login CSRF, lock-outs and
parallel guesses, sockets that outlive their session, a public metrics page."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

import hub.agents
from conversation.model import Role, utcnow
from hub.agents import add_agent
from hub.api import live
from hub.app import Hub, build_app
from hub.app_keys import AUTH, HUB
from tests.helpers import eventually, make_config

AGENT = ("li.na@example.com", "agent password 1")
ADMIN = ("boss@example.com", "admin password 1")


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its smallest costs: these tests are about who may try, not about the hash."""
    monkeypatch.setattr(hub.agents, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    hub_ = Hub(make_config(tmp_path, {"hub": {"public_url": "http://help.example.com"}}))
    server = TestServer(build_app(hub_))
    await server.start_server()
    await add_agent(hub_.store, AGENT[0], Role.AGENT, AGENT[1])
    await add_agent(hub_.store, ADMIN[0], Role.ADMIN, ADMIN[1])
    yield server
    await server.close()


def client_from(server: TestServer, address: str) -> TestClient:
    """A browser on another machine: connects from its own loopback address."""
    return TestClient(server, connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def login(client: TestClient, who: tuple[str, str], **headers: str) -> aiohttp.ClientResponse:
    return await client.post("/api/v1/auth/login", json={"email": who[0], "password": who[1]}, headers=headers)


# -- 9.7 login CSRF ------------------------------------------------------------------------
async def test_sign_in_takes_only_json_from_this_hubs_own_pages(server: TestServer) -> None:
    async with TestClient(server) as client:
        body = '{"email": "li.na@example.com", "password": "agent password 1"}'
        resp = await client.post("/api/v1/auth/login", data=body, headers={"Content-Type": "text/plain"})
        assert resp.status == 415  # what a cross-site form or no-cors fetch can send
        assert "helpline_session" not in resp.cookies
        for origin in ("https://evil.example", "null"):
            resp = await login(client, AGENT, Origin=origin)
            assert resp.status == 403 and "helpline_session" not in resp.cookies
        resp = await login(client, AGENT, **{"Sec-Fetch-Site": "cross-site"})
        assert resp.status == 403
        own = f"http://{server.host}:{server.port}"
        assert (await login(client, AGENT, Origin=own)).status == 200
        assert (await login(client, AGENT, Origin="http://help.example.com")).status == 200  # public_url
        assert (await login(client, AGENT)).status == 200  # a script sends no Origin


# -- 9.17 lock-outs and parallel guesses -------------------------------------------------------
async def test_a_strangers_wrong_passwords_do_not_lock_the_agent_out(server: TestServer) -> None:
    async with client_from(server, "127.0.0.2") as stranger, client_from(server, "127.0.0.3") as agent:
        for _ in range(5):
            assert (await login(stranger, (AGENT[0], "a wrong guess"))).status == 401
        assert (await login(stranger, (AGENT[0], "a wrong guess"))).status == 429
        assert (await login(agent, AGENT)).status == 200  # the agent, from their own address


async def test_parallel_guesses_are_counted_before_any_is_checked(
    server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = hub.agents.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checked.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(hub.agents, "verify_password", counting)
    async with TestClient(server) as client:
        guesses = [(AGENT[0], f"guess number {i}") for i in range(29)] + [AGENT]
        answers = await asyncio.gather(*(login(client, guess) for guess in guesses))
    statuses = [a.status for a in answers]
    assert len(checked) <= 5 and statuses.count(429) >= 25, statuses
    assert statuses.count(200) <= 1


async def test_password_hashing_runs_in_a_small_pool_off_the_event_loop(
    server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    running = 0
    most = 0
    lock = threading.Lock()

    def watch(function: Any) -> Any:
        def wrapped(*args: Any) -> Any:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            threads.append(threading.current_thread().name)
            try:
                return function(*args)
            finally:
                with lock:
                    running -= 1

        return wrapped

    monkeypatch.setattr(hub.agents, "verify_password", watch(hub.agents.verify_password))
    monkeypatch.setattr(hub.agents, "hash_password", watch(hub.agents.hash_password))
    async with TestClient(server) as admin:
        csrf = (await (await login(admin, ADMIN)).json())["csrf_token"]
        resp = await admin.post(
            "/api/v1/agents",
            json={"email": "new@example.com", "role": "agent", "password": "a new password"},
            headers={"X-CSRF-Token": csrf},
        )
        assert resp.status == 201
        answers = await asyncio.gather(*(login(admin, (f"nobody{i}@example.com", "x")) for i in range(6)))
        assert all(a.status == 401 for a in answers)
    assert threads and all(name.startswith("helpline-argon2") for name in threads)
    assert most <= hub.agents.HASHING_THREADS


# -- 9.12 live sockets end with what opened them --------------------------------------------
async def _live_closes(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    async with asyncio.timeout(5):
        while True:
            message = await ws.receive()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                return ws.close_code


async def test_sign_out_closes_the_live_socket_and_the_agent_goes_offline(server: TestServer) -> None:
    hub_: Hub = server.app[HUB]
    async with TestClient(server) as client:
        csrf = (await (await login(client, AGENT)).json())["csrf_token"]
        ws = await client.ws_connect("/api/v1/live")
        await eventually(lambda: hub_.agents_online() == 1)
        assert (await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})).status == 200
        assert await _live_closes(ws) == live.SIGNED_OUT
        await eventually(lambda: hub_.agents_online() == 0)


async def test_revoking_the_token_or_deactivating_the_agent_closes_their_sockets(server: TestServer) -> None:
    hub_: Hub = server.app[HUB]
    async with TestClient(server) as admin, TestClient(server) as agent:
        csrf = (await (await login(admin, ADMIN)).json())["csrf_token"]
        me = (await (await login(agent, AGENT)).json())["agent"]
        created = await (
            await admin.post(
                "/api/v1/tokens", json={"agent_id": me["id"], "name": "script"}, headers={"X-CSRF-Token": csrf}
            )
        ).json()
        by_token = await agent.ws_connect("/api/v1/live", headers={"Authorization": f"Bearer {created['token']}"})
        by_cookie = await agent.ws_connect("/api/v1/live")
        await eventually(lambda: hub_.agents_online() == 1)
        resp = await admin.delete(f"/api/v1/tokens/{created['id']}", headers={"X-CSRF-Token": csrf})
        assert resp.status == 200
        assert await _live_closes(by_token) == live.SIGNED_OUT
        assert not by_cookie.closed  # the agent's own session still holds
        resp = await admin.patch(f"/api/v1/agents/{me['id']}", json={"active": False}, headers={"X-CSRF-Token": csrf})
        assert resp.status == 200
        assert await _live_closes(by_cookie) == live.SIGNED_OUT
        await eventually(lambda: hub_.agents_online() == 0)


async def test_deactivation_ends_sessions_for_good_and_suspends_tokens(server: TestServer) -> None:
    async with TestClient(server) as admin, TestClient(server) as agent:
        csrf = {"X-CSRF-Token": (await (await login(admin, ADMIN)).json())["csrf_token"]}
        me = (await (await login(agent, AGENT)).json())["agent"]
        token = await (
            await admin.post("/api/v1/tokens", json={"agent_id": me["id"], "name": "ci"}, headers=csrf)
        ).json()
        bearer = {"Authorization": f"Bearer {token['token']}"}
        assert (await agent.get("/api/v1/me")).status == 200
        assert (await admin.patch(f"/api/v1/agents/{me['id']}", json={"active": False}, headers=csrf)).status == 200
        assert (await agent.get("/api/v1/me")).status == 401
        assert (await agent.get("/api/v1/me", headers=bearer)).status == 401  # the token is refused while inactive
        assert (await admin.patch(f"/api/v1/agents/{me['id']}", json={"active": True}, headers=csrf)).status == 200
        assert (await agent.get("/api/v1/me")).status == 401  # the old cookie stays dead: sign in again
        assert (await agent.get("/api/v1/me", headers=bearer)).status == 200  # tokens end only when revoked
        assert (await login(agent, AGENT)).status == 200
        assert (await agent.get("/api/v1/me")).status == 200
        assert (await admin.get("/api/v1/me")).status == 200  # nobody else was signed out


async def test_an_expired_session_closes_its_socket_at_the_next_check(
    server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.05)
    auth = server.app[AUTH]
    async with TestClient(server) as client:
        await login(client, AGENT)
        ws = await client.ws_connect("/api/v1/live")
        await asyncio.sleep(0.2)
        assert not ws.closed  # re-checked, still valid
        later = utcnow() + timedelta(days=8)
        monkeypatch.setattr(auth, "clock", lambda: later)
        assert await _live_closes(ws) == live.SIGNED_OUT


async def test_a_token_with_an_end_is_refused_after_it_and_closes_its_socket(
    server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens lasted until revoked, a script's forgotten one for ever (a trial)."""
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.05)
    auth = server.app[AUTH]
    async with TestClient(server) as admin, TestClient(server) as agent:
        csrf = {"X-CSRF-Token": (await (await login(admin, ADMIN)).json())["csrf_token"]}
        me = (await (await login(agent, AGENT)).json())["agent"]
        for days in (0, 3651, "7"):
            body = {"agent_id": me["id"], "name": "ci", "expires_in_days": days}
            assert (await admin.post("/api/v1/tokens", json=body, headers=csrf)).status == 422, days
        body = {"agent_id": me["id"], "name": "ci", "expires_in_days": 7}
        created = await (await admin.post("/api/v1/tokens", json=body, headers=csrf)).json()
        ends = datetime.fromisoformat(created["expires_at"])
        assert timedelta(days=7) - timedelta(minutes=1) < ends - utcnow() <= timedelta(days=7)
        [listed] = (await (await admin.get("/api/v1/tokens")).json())["items"]
        assert listed["expires_at"] == created["expires_at"]
        bearer = {"Authorization": f"Bearer {created['token']}"}
        assert (await agent.get("/api/v1/me", headers=bearer)).status == 200
        ws = await agent.ws_connect("/api/v1/live", headers=bearer)
        await asyncio.sleep(0.2)
        assert not ws.closed

        later = ends + timedelta(seconds=1)
        monkeypatch.setattr(auth, "clock", lambda: later)
        refused = await agent.get("/api/v1/me", headers=bearer)
        assert refused.status == 401
        answer = await refused.json()
        assert answer["error"] == "token_expired" and ends.strftime("%Y-%m-%d %H:%M") in answer["message"]
        assert await _live_closes(ws) == live.SIGNED_OUT
        monkeypatch.setattr(auth, "clock", lambda: ends - timedelta(seconds=1))
        assert (await agent.get("/api/v1/me", headers=bearer)).status == 200  # until the end, not after


# -- 9.21 /metrics ---------------------------------------------------------------------------
async def test_metrics_can_require_a_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_METRICS_TOKEN", "a-metrics-token-from-the-env")
    hub_ = Hub(make_config(tmp_path, {"hub": {"metrics_token": "env:HELPLINE_METRICS_TOKEN"}}))
    async with TestClient(TestServer(build_app(hub_))) as client:
        for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic a-metrics-token-from-the-env"}):
            resp = await client.get("/metrics", headers=header)
            assert resp.status == 401 and "helpline_" not in await resp.text()
        resp = await client.get("/metrics", headers={"Authorization": "Bearer a-metrics-token-from-the-env"})
        assert resp.status == 200 and "helpline_store_up" in await resp.text()
    public = Hub(make_config(tmp_path / "public"))
    async with TestClient(TestServer(build_app(public))) as client:
        assert (await client.get("/metrics")).status == 200  # no token configured: public, as before


async def test_healthz_tells_strangers_only_up_or_down_when_metrics_need_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_METRICS_TOKEN", "a-metrics-token-from-the-env")
    hub_ = Hub(make_config(tmp_path, {"hub": {"metrics_token": "env:HELPLINE_METRICS_TOKEN"}}))
    async with TestClient(TestServer(build_app(hub_))) as client:
        hub_.report_channel("chat", up=False, reason="imap.internal.example:993 refused the connection")
        for header in ({}, {"Authorization": "Bearer wrong"}):
            resp = await client.get("/healthz", headers=header)
            assert resp.status == 200 and await resp.json() == {"status": "ok"}  # enough for a load balancer
        resp = await client.get("/healthz", headers={"Authorization": "Bearer a-metrics-token-from-the-env"})
        details = await resp.json()
        assert resp.status == 200 and details["channels_degraded"] == ["chat"]
        assert "imap.internal.example" in json.dumps(details) and set(details["loops"]) >= {"outbox"}
        hub_.pipeline.accepting = False  # e.g. shutting down: the short answer still says so
        resp = await client.get("/healthz")
        assert resp.status == 503 and await resp.json() == {"status": "unhealthy"}
