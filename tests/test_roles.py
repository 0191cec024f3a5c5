"""Roles and teams set by an admin through the API, a read-only account that changes nothing
whatever the route, and API tokens that carry a narrower role or fewer teams."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from conversation.inbound import Sender
from hub.api.framework import PUBLIC, SAFE
from hub.api.routes import api
from hub.app_keys import HUB
from tests.helpers import customer_message, eventually
from tests.test_api import ADMIN, AGENT, Agent, server, sign_in

__all__ = ["server"]  # the API test server fixture

VIEWER = {"email": "auditor@example.com", "role": "read-only", "password": "auditor password 1"}


async def ticket(server: TestServer, admin: Agent, team: str, thread: str) -> str:
    record = await server.app[HUB].ingest(
        customer_message(thread, f"question {thread}", thread=thread, sender=Sender(thread))
    )
    await admin.call("PATCH", f"/api/v1/conversations/{record.conversation.id}", {"team": team})
    return record.conversation.id


async def test_an_admin_sets_roles_and_teams(server: TestServer) -> None:
    admin = await sign_in(server, ADMIN)
    try:
        body = {"email": "sup@example.com", "role": "supervisor", "password": "a long password", "teams": ["finance"]}
        created = await admin.call("POST", "/api/v1/agents", body, status=201)
        assert created["role"] == "supervisor" and created["teams"] == ["finance"]
        bad = {**body, "email": "x@example.com", "teams": ["nope"]}
        assert "nope" in (await admin.call("POST", "/api/v1/agents", bad, status=422))["message"]
        assert await server.app[HUB].store.accounts.get_agent_by_email("x@example.com") is None
        changed = await admin.call(
            "PATCH", f"/api/v1/agents/{created['id']}", {"role": "read-only", "teams": ["complaints", "finance"]}
        )
        assert changed["role"] == "read-only" and changed["teams"] == ["complaints", "finance"]
        listed = {a["email"]: a for a in (await admin.call("GET", "/api/v1/agents"))["items"]}
        assert listed["sup@example.com"]["teams"] == ["complaints", "finance"] and listed[ADMIN[0]]["teams"] == []
        finance = next(t for t in (await admin.call("GET", "/api/v1/teams"))["items"] if t["id"] == "finance")
        assert created["id"] in finance["members"]  # membership is the team's, one record
        await admin.call("PATCH", f"/api/v1/agents/{created['id']}", {"teams": ["nope"]}, status=422)
        await admin.call("PATCH", "/api/v1/agents/nobody", {"teams": []}, status=404)
        for role in ("supervisor", "agent", "read-only"):  # an admin cannot lock themselves out
            await admin.call("PATCH", f"/api/v1/agents/{admin.id}", {"role": role}, status=422)
    finally:
        await admin.client.close()


async def test_a_read_only_account_reads_its_teams_tickets_and_changes_nothing(server: TestServer) -> None:
    admin = await sign_in(server, ADMIN)
    await admin.call("POST", "/api/v1/agents", {**VIEWER, "teams": ["finance"]}, status=201)
    viewer = await sign_in(server, (VIEWER["email"], VIEWER["password"]))
    try:
        conv = await ticket(server, admin, "finance", "f1")
        assert (await viewer.call("GET", f"/api/v1/conversations/{conv}"))["conversation"]["id"] == conv
        await viewer.call("POST", f"/api/v1/conversations/{conv}/read")  # its own read marker
        await viewer.call("PATCH", "/api/v1/me", {"language": "zh-CN"})
        before = await server.app[HUB].store.tickets.list_messages(conv)
        ids = {"conversation_id": conv, "message_id": before[0].id, "contact_id": "x", "ref": "x", "number": "1"}
        for route in api.routes:
            if route.method in SAFE or route.personal or route.auth == PUBLIC:  # sign-in, signed webhooks
                continue
            path = "/api" + route.path
            for key, value in ids.items():
                path = path.replace("{" + key + "}", value)
            path = re.sub(r"{\w+}", "x", path)  # any other id: refused before it is looked up
            resp = await viewer.client.request(route.method, path, json={}, headers={"X-CSRF-Token": viewer.csrf})
            assert resp.status == 403, (route.method, route.path, resp.status)
        assert await server.app[HUB].store.tickets.list_messages(conv) == before
        reply = f"/api/v1/conversations/{conv}/messages?lang=zh-CN"
        resp = await viewer.client.post(reply, json={"text": "hi"}, headers={"X-CSRF-Token": viewer.csrf})
        assert (await resp.json())["message"] == "此账号为只读，只能查看，不能修改。"  # said in the reader's language
        stored = await server.app[HUB].store.tickets.get_conversation(conv)
        assert stored is not None and stored.status.value == "open"
    finally:
        await admin.client.close()
        await viewer.client.close()


async def bearer(client: TestClient, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A script's call with a token (a bearer token wins over the client's cookie)."""
    resp = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def test_a_token_carries_a_narrower_role_or_fewer_teams(server: TestServer) -> None:
    admin = await sign_in(server, ADMIN)
    try:
        finance = await ticket(server, admin, "finance", "f1")
        tech = await ticket(server, admin, "technical-support", "t1")
        token = await admin.call("POST", "/api/v1/tokens", {"name": "finance bot", "teams": ["finance"]}, status=201)
        assert token["teams"] == ["finance"] and token["role"] is None
        status, page = await bearer(admin.client, token["token"], "GET", "/api/v1/conversations")
        assert status == 200 and [c["id"] for c in page["items"]] == [finance]
        assert (await bearer(admin.client, token["token"], "GET", f"/api/v1/conversations/{tech}"))[0] == 404
        assert (await bearer(admin.client, token["token"], "GET", "/api/v1/tokens"))[0] == 403  # no longer an admin's
        body = {"text": "on it"}
        assert (await bearer(admin.client, token["token"], "POST", f"/api/v1/conversations/{finance}/messages", body))[
            0
        ] == 201

        reader = await admin.call("POST", "/api/v1/tokens", {"name": "report", "role": "read-only"}, status=201)
        assert (await bearer(admin.client, reader["token"], "GET", f"/api/v1/conversations/{tech}"))[0] == 200
        status, error = await bearer(
            admin.client, reader["token"], "POST", f"/api/v1/conversations/{tech}/messages", body
        )
        assert status == 403 and error["error"] == "read_only"
        me = (await bearer(admin.client, reader["token"], "GET", "/api/v1/me"))[1]
        assert me["agent"]["role"] == "read-only"

        lina = next(a["id"] for a in (await admin.call("GET", "/api/v1/agents"))["items"] if a["email"] == AGENT[0])
        wider = {"name": "x", "agent_id": lina, "role": "admin"}
        assert "cannot do more" in (await admin.call("POST", "/api/v1/tokens", wider, status=422))["message"]
        await admin.call("POST", "/api/v1/tokens", {"name": "x", "teams": ["nope"]}, status=422)
        await admin.call("POST", "/api/v1/tokens", {"name": "x", "role": "admin", "teams": ["finance"]}, status=422)
    finally:
        await admin.client.close()


async def test_an_admin_route_tells_an_admins_narrowed_token_that_the_token_is_why(server: TestServer) -> None:
    admin = await sign_in(server, ADMIN)
    lina = await sign_in(server, AGENT)
    try:
        kept = await admin.call("POST", "/api/v1/tokens", {"name": "finance bot", "teams": ["finance"]}, status=201)
        status, error = await bearer(admin.client, kept["token"], "GET", "/api/v1/tokens")
        assert (status, error["error"]) == (403, "token_limited")
        assert error["message"] == (
            "this token is limited to teams (finance); admin routes need an unrestricted admin token"
        )
        lowered = await admin.call("POST", "/api/v1/tokens", {"name": "helper", "role": "agent"}, status=201)
        status, error = await bearer(admin.client, lowered["token"], "POST", "/api/v1/teams", {})
        assert (status, error["error"]) == (403, "token_limited") and "the role agent" in error["message"]
        status, error = await bearer(admin.client, kept["token"], "GET", "/api/v1/tokens?lang=zh-CN")
        assert error["message"] == "此令牌受到限制（仅限部分团队或较低的角色）；管理操作需要不受限制的管理员令牌。"
        # an agent's own account, and an admin's unrestricted token, are as before
        refused = await lina.call("GET", "/api/v1/tokens", status=403)
        assert refused == {"error": "forbidden", "message": "this needs an admin"}
        full = await admin.call("POST", "/api/v1/tokens", {"name": "deploy"}, status=201)
        assert (await bearer(admin.client, full["token"], "GET", "/api/v1/tokens"))[0] == 200
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_a_read_only_accounts_open_inbox_keeps_its_own_presence(server: TestServer) -> None:
    """The inbox's heartbeat and presence switch change only the caller's own state: a
    read-only account's are accepted (every heartbeat used to answer 403)."""
    admin = await sign_in(server, ADMIN)
    await admin.call("POST", "/api/v1/agents", VIEWER, status=201)
    viewer = await sign_in(server, (VIEWER["email"], VIEWER["password"]))
    try:
        async with viewer.client.ws_connect("/api/v1/live"):  # the open inbox
            await eventually(lambda: online(admin, viewer.id))
            assert (await viewer.call("POST", "/api/v1/me/activity"))["presence"] == "online"
            assert (await viewer.call("PUT", "/api/v1/me/presence", {"status": "away"}))["presence"] == "away"
            assert (await admin.call("GET", "/api/v1/presence"))["items"][viewer.id] == "away"
    finally:
        await admin.client.close()
        await viewer.client.close()


async def online(admin: Agent, agent_id: str) -> bool:
    return bool((await admin.call("GET", "/api/v1/presence"))["items"][agent_id] == "online")
