# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
"""The audit log through the API: agents' and admins' actions are recorded by the services
(who, what, when, before/after), read by admins only with filters and pages, and no secret
(token, password, webhook secret) ever appears in it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from conversation.audit import AuditQuery
from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub
from hub.app_keys import HUB
from hub.cli import main
from tests.helpers import customer_message, make_config
from tests.test_api import ADMIN, AGENT, Agent, admin, agent, server, sign_in  # noqa: F401  (fixtures)


def hub_of(agent: Agent) -> Hub:
    return agent.client.server.app[HUB]


async def entries(admin: Agent, query: str = "") -> list[dict[str, Any]]:
    return (await admin.call("GET", f"/api/v1/audit{query}"))["items"]


async def test_ticket_changes_are_recorded_with_who_before_and_after(admin: Agent, agent: Agent) -> None:
    record = await hub_of(agent).ingest(customer_message("m-1", "my order never arrived"))
    ticket = record.conversation.id
    await agent.call("PATCH", f"/api/v1/conversations/{ticket}", {"status": "pending", "assignee_id": agent.id})
    await agent.call("PATCH", f"/api/v1/conversations/{ticket}", {"team": "finance", "priority": "high"})

    items = await entries(admin, f"?target={ticket}")
    assert [e["action"] for e in items] == ["ticket.update", "ticket.update"]
    latest, first = items
    assert first["actor"] == {"id": agent.id, "name": "Li Na", "via": "session"}
    # named by its number too: people know a ticket as #1000, not by its id
    assert first["target"] == {"type": "ticket", "id": ticket, "number": record.conversation.number}
    assert first["before"] == {"status": "open", "assignee_id": ""}
    assert first["after"] == {"status": "pending", "assignee_id": agent.id}
    assert latest["before"] == {"team": "", "priority": "normal"}
    assert latest["after"] == {"team": "finance", "priority": "high"}
    assert datetime.fromisoformat(latest["at"]) >= datetime.fromisoformat(first["at"])


async def test_merges_contact_edits_agents_tokens_and_webhooks_are_recorded_without_secrets(
    admin: Agent, server: TestServer
) -> None:
    hub = hub_of(admin)
    one = await hub.ingest(customer_message("m-1", thread="a"))
    two = await hub.ingest(customer_message("m-2", thread="b"))
    await admin.call("POST", f"/api/v1/conversations/{one.conversation.id}/merge", {"into": two.conversation.id})
    await admin.call("PATCH", f"/api/v1/contacts/{one.conversation.contact_id}", {"name": "王芳"})
    password = "a new secret password"
    new = await admin.call(
        "POST", "/api/v1/agents", {"email": "new@example.com", "role": "agent", "password": password}, status=201
    )
    await admin.call("PATCH", f"/api/v1/agents/{new['id']}", {"role": "admin"})
    token = await admin.call("POST", "/api/v1/tokens", {"name": "deploy"}, status=201)
    await admin.call("DELETE", f"/api/v1/tokens/{token['id']}")
    hook = await admin.call(
        "POST",
        "/api/v1/webhooks",
        {"url": "https://hooks.example.com/x?key=their-key", "events": ["ticket.*"]},
        status=201,
    )
    rotated = await admin.call("POST", f"/api/v1/webhooks/{hook['id']}/secret")
    await admin.call("PATCH", f"/api/v1/webhooks/{hook['id']}", {"events": ["*"]})

    items = {e["action"]: e for e in reversed(await entries(admin))}
    assert items["ticket.merge"]["after"] == {"merged_into": two.conversation.number, "status": "closed"}
    assert items["contact.update"]["before"] == {"name": "Zhang Wei"}
    assert items["contact.update"]["after"] == {"name": "王芳"}
    assert items["agent.create"]["after"]["email"] == "new@example.com"
    assert (items["agent.update"]["before"], items["agent.update"]["after"]) == ({"role": "agent"}, {"role": "admin"})
    assert items["token.create"]["after"] == {"agent_id": admin.id, "name": "deploy"}
    assert items["token.revoke"]["target"]["id"] == token["id"]
    assert items["webhook.create"]["after"]["url"] == "https://hooks.example.com/x?key=%5Bredacted%5D"
    assert (items["webhook.update"]["before"], items["webhook.update"]["after"]) == (
        {"events": ["ticket.*"]},
        {"events": ["*"]},
    )
    assert "webhook.rotate_secret" in items and "auth.login" in items

    # No secret anywhere in the stored log: not the token, its hash, a password or a webhook secret.
    database = hub.config.data_dir / "helpline.sqlite3"
    with sqlite3.connect(database) as db:
        stored = json.dumps(db.execute("SELECT * FROM audit").fetchall(), ensure_ascii=False)
        token_hash = db.execute("SELECT token_hash FROM api_tokens WHERE id = ?", (token["id"],)).fetchone()[0]
        password_hash = db.execute("SELECT password_hash FROM agents WHERE id = ?", (new["id"],)).fetchone()[0]
    secrets = (token["token"], token_hash, password, password_hash, hook["secret"], rotated["secret"], "their-key")
    for secret in secrets:
        assert secret not in stored


async def test_sign_ins_and_team_changes_are_recorded(admin: Agent, server: TestServer) -> None:
    await admin.call("PATCH", "/api/v1/teams/finance", {"names": {"zh-CN": "财务", "en": "Finance"}})
    wrong = await admin.client.post("/api/v1/auth/login", json={"email": AGENT[0], "password": "guess 123456"})
    assert wrong.status == 401
    other = await sign_in(server, AGENT)
    await other.call("POST", "/api/v1/auth/logout")
    items = await entries(admin, "?action=auth.*")
    assert [(e["action"], e["actor"]["name"]) for e in items] == [
        ("auth.logout", "Li Na"),
        ("auth.login", "Li Na"),
        ("auth.login_failed", AGENT[0]),
        ("auth.login", "Boss"),
    ]
    assert items[1]["after"] == {"address": "127.0.0.1"}
    assert items[2]["after"] == {"email": AGENT[0], "address": "127.0.0.1"}
    assert items[2]["target"]["id"] == items[1]["target"]["id"]  # the account that was tried
    assert "guess" not in json.dumps(items)
    team = (await entries(admin, "?action=team.update"))[0]
    assert team["before"]["names"] == {"zh-CN": "财务/退款", "en": "Finance / refunds"}
    assert team["after"]["names"] == {"zh-CN": "财务", "en": "Finance"}
    await other.client.close()  # last: it closes the shared test server


async def test_filters_and_pages(admin: Agent, agent: Agent) -> None:
    hub = hub_of(agent)
    ticket = (await hub.ingest(customer_message("m-1"))).conversation.id
    for priority in ("low", "high", "urgent"):
        await agent.call("PATCH", f"/api/v1/conversations/{ticket}", {"priority": priority})
    mine = await entries(admin, f"?actor={agent.id}&action=ticket.update")
    assert [e["after"]["priority"] for e in mine] == ["urgent", "high", "low"]
    page = await admin.call("GET", f"/api/v1/audit?actor={agent.id}&per_page=2")
    assert [e["after"].get("priority") for e in page["items"]] == ["urgent", "high"] and page["has_more"]
    rest = await admin.call("GET", f"/api/v1/audit?actor={agent.id}&per_page=2&page=2")
    assert len(rest["items"]) == 2 and not rest["has_more"]  # "low", then the agent's sign-in
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await entries(admin, f"?since={future.replace('+00:00', 'Z')}") == []
    assert await entries(admin, "?until=2000-01-01T00:00:00Z") == []
    await admin.call("GET", "/api/v1/audit?since=yesterday", status=422)
    await admin.call("GET", "/api/v1/audit?since=2026-01-01T00:00:00", status=422)  # no zone
    await admin.call("GET", "/api/v1/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", status=422)


async def test_only_admins_read_the_audit_log(agent: Agent) -> None:
    assert (await agent.call("GET", "/api/v1/audit", status=403))["error"] == "forbidden"


async def test_the_command_line_and_the_hub_itself_are_told_apart(tmp_path: Path) -> None:
    """A token made on the command line is recorded as the command line's; the hub's own
    changes (a plugin, an ingest) have no actor and stay out of the log."""
    config_path = tmp_path / "hub.toml"
    config_path.write_text(f'[hub]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    hub = Hub(make_config(tmp_path))
    await hub.start()
    try:
        await add_agent(hub.store, ADMIN[0], Role.ADMIN, ADMIN[1])
        record = await hub.ingest(customer_message("m-1"))
        await hub.services.conversations.update_conversation(record.conversation, {"priority": "high"})
        assert await hub.store.audit.list_entries(AuditQuery()) == []
    finally:
        await hub.stop()
    command = ["token", "create", ADMIN[0], "--name", "ci", "--config", str(config_path)]
    assert await asyncio.to_thread(main, command) == 0
    hub = Hub(make_config(tmp_path))
    await hub.store.open()
    try:
        [entry] = await hub.store.audit.list_entries(AuditQuery())
    finally:
        await hub.store.close()
    assert entry.action == "token.create" and entry.via == "cli" and entry.actor_name.startswith("command line")
