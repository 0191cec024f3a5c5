# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
"""The audit log through the API: agents' and admins' actions are recorded by the services
(who, what, when, before/after), read by admins only with filters and pages, and no secret
(token, password, webhook secret) ever appears in it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from conversation import kb_learning as learn
from conversation.audit import AuditEntry, AuditQuery
from conversation.inbound import Sender
from conversation.model import Role, new_id, utcnow
from conversation.records import Record
from conversation.webhooks import WebhookDelivery, WebhookStatus
from hub.agents import add_agent
from hub.api.framework import ADMIN as ADMIN_ONLY
from hub.api.framework import SAFE
from hub.api.routes import api
from hub.app import Hub, build_app
from hub.app_keys import HUB
from hub.cli import main
from hub.sdk import RecordKind
from tests.helpers import clear_proxies, customer_message, make_config, serve
from tests.test_api import ADMIN, AGENT, Agent, admin, agent, server, sign_in  # noqa: F401  (fixtures)
from tests.test_disputes import BUYER, PLATFORM_SECRET, platform_fake, platform_settings, registry


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
    assert items["token.create"]["after"] == {"agent_id": admin.id, "name": "deploy", "role": None, "teams": None}
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


async def test_an_agents_team_membership_is_recorded_before_and_after(admin: Agent, agent: Agent) -> None:
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}", {"teams": ["finance", "customer-service"]})
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}", {"teams": ["finance"], "name": "Li Na (finance)"})
    first, second = reversed(await entries(admin, f"?target={agent.id}&action=agent.update"))
    assert (first["before"], first["after"]) == ({"teams": []}, {"teams": ["customer-service", "finance"]})
    assert second["before"] == {"name": "Li Na", "teams": ["customer-service", "finance"]}
    assert second["after"] == {"name": "Li Na (finance)", "teams": ["finance"]}
    team = (await entries(admin, "?target=customer-service&action=team.update"))[0]
    assert (team["before"]["members"], team["after"]["members"]) == ([agent.id], [])
    body = {"email": "wang@example.com", "role": "agent", "password": "a long password", "teams": ["finance"]}
    new = await admin.call("POST", "/api/v1/agents", body, status=201)
    created = (await entries(admin, f"?target={new['id']}&action=agent.create"))[0]
    assert created["after"]["teams"] == ["finance"] and "password" not in json.dumps(created)


async def test_a_narrowed_tokens_role_and_teams_are_recorded_never_its_value(admin: Agent) -> None:
    token = await admin.call(
        "POST", "/api/v1/tokens", {"name": "reports", "role": "agent", "teams": ["finance"]}, status=201
    )
    created = (await entries(admin, f"?target={token['id']}"))[0]
    assert created["after"] == {"agent_id": admin.id, "name": "reports", "role": "agent", "teams": ["finance"]}
    assert token["token"] not in json.dumps(created)


async def test_a_hand_over_is_recorded_with_its_reason(admin: Agent, agent: Agent) -> None:
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}", {"teams": ["finance"]})
    ticket = (await hub_of(agent).ingest(customer_message("m-1", "refund twice"))).conversation.id
    await agent.call("PATCH", f"/api/v1/conversations/{ticket}", {"team": "finance"})
    body = {"team": "technical-support", "reason": "the app charges twice: a bug"}
    await agent.call("POST", f"/api/v1/conversations/{ticket}/handoff", body)
    handed = (await entries(admin, f"?target={ticket}"))[0]
    assert handed["action"] == "ticket.hand_over" and handed["actor"]["id"] == agent.id
    assert handed["before"] == {"team": "finance"}
    assert handed["after"] == {"team": "technical-support", "reason": "the app charges twice: a bug"}


# A valid request for each admin route that changes something, in an order that works (a
# delete after its create). A new admin write route fails the walk until it is added here,
# with the proof that it leaves an audit entry. "{x}" names an id the walk learned earlier.
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:1\r\n"
    "DTSTART;VALUE=DATE:20270501\r\nSUMMARY:Labour Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
ROSTER_CSV = "kind,label,duty,agents,weekdays,start,end\npattern,early,shift,{agent_email},mon-fri,08:00,16:00\n"
GREETS = {"id": "greets", "label": "Greets the customer", "kind": "yes_no", "weight": 1}
ADMIN_WALK: list[tuple[str, str, str, Any]] = [
    ("add_canned", "POST", "/api/v1/canned", {"shortcut": "hi", "title": "Hi", "text": "Hello"}),
    ("delete_canned", "DELETE", "/api/v1/canned/{canned}", None),
    ("add_team", "POST", "/api/v1/teams", {"id": "night", "names": {"zh-CN": "夜班", "en": "Night"}}),
    ("change_team", "PATCH", "/api/v1/teams/night", {"members": ["{agent}"]}),
    ("put_team_calendar", "PUT", "/api/v1/teams/night/calendar", {"timezone": "Asia/Shanghai"}),
    ("import_team_calendar", "POST", "/api/v1/teams/night/calendar/import", {"ics": ICS}),
    ("delete_team_calendar", "DELETE", "/api/v1/teams/night/calendar", None),
    ("add_category", "POST", "/api/v1/categories", {"id": "refund", "names": {"zh-CN": "退款", "en": "Refund"}}),
    ("change_category", "PATCH", "/api/v1/categories/refund", {"default_priority": "high"}),
    (
        "add_field",
        "POST",
        "/api/v1/categories/refund/fields",
        {"key": "order_no", "type": "text", "labels": {"zh-CN": "订单号", "en": "Order"}},
    ),
    ("change_field", "PATCH", "/api/v1/categories/refund/fields/order_no", {"required": True}),
    ("delete_field", "DELETE", "/api/v1/categories/refund/fields/order_no", None),
    ("delete_category", "DELETE", "/api/v1/categories/refund", None),
    (
        "add_agent",
        "POST",
        "/api/v1/agents",
        {"email": "wang@example.com", "role": "agent", "password": "a long password", "teams": ["night"]},
    ),
    ("patch_agent", "PATCH", "/api/v1/agents/{new_agent}", {"teams": []}),
    ("reset_agent_password", "POST", "/api/v1/agents/{new_agent}/password", {"new_password": "reset by an admin"}),
    ("change_agent_profile", "PATCH", "/api/v1/agents/{agent}/profile", {"capacity": 4}),
    ("create_token", "POST", "/api/v1/tokens", {"name": "ci", "teams": ["night"]}),
    ("revoke_token", "DELETE", "/api/v1/tokens/{token}", None),
    ("change_roster_settings", "PATCH", "/api/v1/roster/settings/night", {"min_on_shift": 2}),
    (
        "add_roster_entry",
        "POST",
        "/api/v1/roster/entries",
        {
            "team": "night",
            "kind": "pattern",
            "agents": ["{agent}"],
            "start": "20:00",
            "end": "08:00",
            "weekdays": ["mon"],
        },
    ),
    ("change_roster_entry", "PATCH", "/api/v1/roster/entries/{roster_entry}", {"end": "07:00"}),
    ("delete_roster_entry", "DELETE", "/api/v1/roster/entries/{roster_entry}", None),
    ("import_roster", "POST", "/api/v1/roster/import", {"team": "night", "csv": ROSTER_CSV}),
    ("add_webhook", "POST", "/api/v1/webhooks", {"url": "https://hooks.example.com/x", "events": ["*"]}),
    ("change_webhook", "PATCH", "/api/v1/webhooks/{webhook}", {"active": False}),
    ("rotate_webhook_secret", "POST", "/api/v1/webhooks/{webhook}/secret", None),
    ("retry_webhook_delivery", "POST", "/api/v1/webhooks/{webhook}/deliveries/{delivery}/retry", None),
    ("delete_webhook", "DELETE", "/api/v1/webhooks/{webhook}", None),
    ("delete_team", "DELETE", "/api/v1/teams/night", None),
    ("create_scorecard", "POST", "/api/v1/qa/scorecards", {"name": "Basics", "criteria": [GREETS]}),
    (
        "replace_scorecard",
        "PUT",
        "/api/v1/qa/scorecards/{scorecard}",
        {"name": "Basics", "criteria": [GREETS], "active": False},
    ),
]
TEAM_MANAGED = {
    "add_roster_entry",
    "change_roster_entry",
    "delete_roster_entry",
    "import_roster",
    "change_roster_settings",
}
LEARNED = {
    "add_canned": "canned",
    "add_agent": "new_agent",
    "create_token": "token",
    "add_webhook": "webhook",
    "add_roster_entry": "roster_entry",
    "create_scorecard": "scorecard",
}


def filled(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, known in ids.items():
            value = value.replace("{" + name + "}", known)
        return value
    if isinstance(value, list):
        return [filled(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return value


async def audited_step(admin: Agent, step: tuple[str, str, str, Any], ids: dict[str, str]) -> list[AuditEntry]:
    """One request of a walk, by the admin: it must succeed; the audit entries it added."""
    name, method, path, body = step
    store = hub_of(admin).store
    before = await store.audit.list_entries(AuditQuery(limit=200))
    answer = await admin.client.request(
        method, filled(path, ids), json=filled(body, ids), headers={"X-CSRF-Token": admin.csrf}
    )
    assert answer.status < 300, (name, answer.status, await answer.text())
    if name in LEARNED:
        ids[LEARNED[name]] = (await answer.json())["id"]
    after = await store.audit.list_entries(AuditQuery(limit=200))
    new = after[: len(after) - len(before)]
    assert new and all(e.actor_id == admin.id for e in new), f"{method} {path} left no audit entry"
    return new


async def test_every_admin_route_that_changes_something_leaves_an_audit_entry(admin: Agent, agent: Agent) -> None:
    admin_writes = {r.handler.__name__ for r in api.routes if r.auth == ADMIN_ONLY and r.method not in SAFE}
    admin_writes |= TEAM_MANAGED  # admins' too, and the team's supervisors' (hub/access.py manages_team)
    walked = [name for name, *_ in ADMIN_WALK]
    assert set(walked) == admin_writes, f"add these admin routes to ADMIN_WALK: {sorted(admin_writes - set(walked))}"
    hub = hub_of(admin)
    ids = {"agent": agent.id, "agent_email": AGENT[0]}
    for step in ADMIN_WALK:
        if step[0] == "retry_webhook_delivery":  # a failed delivery to send again
            ids["delivery"] = new_id()
            failed = WebhookDelivery(
                ids["delivery"], ids["webhook"], new_id(), "ticket.updated", {}, utcnow(), WebhookStatus.FAILED, 8
            )
            await hub.store.webhooks.enqueue([failed])
        new = await audited_step(admin, step, ids)
        assert all(e.before or e.after or e.action.endswith(("delete", "rotate_secret")) for e in new), (step, new)


async def test_an_agents_change_to_a_plugin_record_is_recorded_the_plugins_own_is_not(agent: Agent) -> None:
    hub = hub_of(agent)
    schema = {"type": "object", "properties": {"order": {"type": "string"}, "amount": {"type": "number"}}}
    hub.services.records.register("disputes", [RecordKind("dispute", schema)])
    ticket = (await hub.ingest(customer_message("m-1", "order A-1"))).conversation
    record = await hub.services.records.create("disputes", "dispute", ticket, {"order": "A-1"}, who="plugin")
    assert await hub.store.audit.list_entries(AuditQuery(action="record.*")) == []  # the hub itself: its timeline
    path = f"/api/v1/records/disputes/dispute/{record.id}"
    await agent.call("PATCH", path, {"data": {"amount": 30}, "status": "done"})
    [entry] = await hub.store.audit.list_entries(AuditQuery(action="record.*"))
    assert (entry.action, entry.target_id, entry.actor_id) == ("record.update", record.id, agent.id)
    assert (entry.before, entry.after) == (
        {"status": "open", "data": {"order": "A-1"}},
        {
            "status": "done",
            "data": {"order": "A-1", "amount": 30},
        },
    )


async def test_a_logged_call_and_its_callback_task_are_recorded(agent: Agent) -> None:
    body = {"number": "+8613812345678", "direction": "in", "duration_seconds": 60, "outcome": "follow_up"}
    logged = await agent.call("POST", "/api/v1/calls", body, status=201)
    ticket = logged["conversation"]
    due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    task = await agent.call("POST", f"/api/v1/conversations/{ticket['id']}/callbacks", {"due_at": due}, status=201)
    await agent.call("PATCH", f"/api/v1/callbacks/{task['id']}", {"status": "done"})
    hub = hub_of(agent)
    entries = await hub.store.audit.list_entries(AuditQuery(actor_id=agent.id))
    closed, created, call = [e for e in entries if e.action.startswith(("call.", "callback."))]
    assert (call.action, call.target_id) == ("call.log", logged["call"]["id"])
    assert call.after == {
        "ticket": ticket["number"],
        "number": "+8613812345678",
        "direction": "in",
        "duration_seconds": 60,
        "outcome": "follow_up",
    }
    assert (created.action, created.target_id, created.after["ticket"]) == (
        "callback.create",
        task["id"],
        ticket["number"],
    )
    assert (closed.action, closed.before, closed.after) == ("callback.close", {"status": "open"}, {"status": "done"})


# The agents' routes that change something, walked the same way. A route that leaves no entry
# is listed here with why: its trace is the ticket's thread, or it is the agent's own state.
NOT_AUDITED = {
    "post_message": "a reply or note is the thread itself",
    "upload_file": "an upload is kept only when a message sends it",
    "retry_message": "the reply's delivery status in the thread",
    "typing": "nothing is stored",
}  # the agent's own presence (set_my_presence, my_activity) is a personal route, not walked
KB_LINE = '{"id": "refund", "title": "Refund", "answer": "Within 7 days.", "examples": ["refund please"]}\n'
AGENT_WALK: list[tuple[str, str, str, Any]] = [
    ("patch_conversation", "PATCH", "/api/v1/conversations/{ticket}", {"tags": ["vip"]}),
    ("handoff", "POST", "/api/v1/conversations/{ticket}/handoff", {"team": "finance", "reason": "a refund"}),
    ("patch_contact", "PATCH", "/api/v1/contacts/{contact}", {"name": "Wang"}),
    ("create_record", "POST", "/api/v1/records/disputes/dispute", {"conversation_id": "{ticket}", "data": {}}),
    ("update_record", "PATCH", "/api/v1/records/disputes/dispute/{record}", {"status": "done"}),
    ("log_call", "POST", "/api/v1/calls", {"number": "+8613812345678", "direction": "in"}),
    (
        "add_callback",  # a chat ticket has no number of its own
        "POST",
        "/api/v1/conversations/{ticket}/callbacks",
        {"due_at": "2099-01-01T08:00:00Z", "number": "+8613812345678"},
    ),
    ("close_callback", "PATCH", "/api/v1/callbacks/{callback}", {"status": "cancelled"}),
    ("create_article", "POST", "/api/v1/kb/articles", {"title": "Invoices", "answer": "In the order page."}),
    ("change_article", "PATCH", "/api/v1/kb/articles/{article}", {"version": 1, "answer": "Order page, Invoice."}),
    ("import_articles", "POST", "/api/v1/kb/import", {"format": "jsonl", "text": KB_LINE}),
    (
        "create_review",
        "POST",
        "/api/v1/conversations/{worked}/qa",
        {"scorecard_id": "{scorecard}", "scores": {"greets": 1}},
    ),
    ("approve_proposal", "POST", "/api/v1/kb/proposals/{proposal}/approve", {"question": "how do I get an invoice"}),
    ("reject_proposal", "POST", "/api/v1/kb/proposals/{other_proposal}/reject", None),
    ("file_complaint", "POST", "/api/v1/conversations/{ticket}/complaint", {"kind": "complaint", "subject": "order"}),
    ("move_complaint", "POST", "/api/v1/complaints/{complaint}/move", {"status": "investigating"}),
    (
        "add_follow_up",
        "POST",
        "/api/v1/complaints/{complaint}/follow-ups",
        {"text": "ask the courier", "owner": "{lina}", "due": "2099-01-01T08:00:00Z"},
    ),
    ("finish_follow_up", "POST", "/api/v1/complaints/{complaint}/follow-ups/{follow_up}/done", None),
    ("complaint_outcome", "POST", "/api/v1/complaints/{complaint}/outcome", {"outcome": "It arrives tomorrow."}),
    (
        "open_dispute",
        "POST",
        "/api/v1/disputes",
        {
            "conversation_id": "{buyer_ticket}",
            "order_id": "A-1001",
            "reason": "not_received",
            "statement": "never came",
        },
    ),
    (
        "ask_dispute_party",
        "POST",
        "/api/v1/disputes/{case}/ask",
        {"party": "buyer", "question": "A photo of the parcel?"},
    ),
    ("decide_dispute", "POST", "/api/v1/disputes/{case}/decide", {"outcome": "favour_seller", "grounds": "tracked"}),
    ("appeal_dispute", "POST", "/api/v1/disputes/{case}/appeal", {"party": "buyer", "grounds": "it never came"}),
    ("move_message", "POST", "/api/v1/messages/{message}/move", {"conversation_id": "{other}", "confirm": True}),
    ("merge_conversation", "POST", "/api/v1/conversations/{ticket}/merge", {"into": "{other}", "confirm": True}),
    ("merge_contact", "POST", "/api/v1/contacts/{contact}/merge", {"into": "{other_contact}", "confirm": True}),
]
# Decisions supervisors trace are named for what they are, not "record.update".
NAMED = {
    "create_review": "review.create",
    "approve_proposal": "kb.proposal.approved",
    "reject_proposal": "kb.proposal.rejected",
    "file_complaint": "complaint.file",
    "move_complaint": "complaint.move",
    "add_follow_up": "complaint.follow_up_add",
    "finish_follow_up": "complaint.follow_up_done",
    "complaint_outcome": "complaint.outcome",
    "open_dispute": "dispute.open",
    "ask_dispute_party": "dispute.ask",
    "decide_dispute": "dispute.decide",
    "appeal_dispute": "dispute.appeal",
}
LEARNED.update(
    {
        "create_record": "record",
        "add_callback": "callback",
        "create_article": "article",
        "file_complaint": "complaint",
        "open_dispute": "case",
    }
)


@pytest.fixture
async def plugged_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Agent]:
    """The admin of a hub with the complaints and disputes plugins on, the platform the fake
    one (tests/fake_platform.py) configured as the README says, sellers on the chat channel."""
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", PLATFORM_SECRET)
    platform = platform_fake()
    runner, platform_url = await serve(platform.app())
    raw = {
        "platform": platform_settings(platform_url),
        "plugins": {"enabled": ["complaints", "disputes"], "disputes": {"seller_channel": "chat"}},
    }
    hub = Hub(make_config(tmp_path, raw, registry=registry()))
    server = TestServer(build_app(hub))
    await server.start_server()
    await add_agent(hub.store, ADMIN[0], Role.ADMIN, ADMIN[1], name="Boss")
    await add_agent(hub.store, AGENT[0], Role.AGENT, AGENT[1], name="Li Na")
    admin = await sign_in(server, ADMIN)
    yield admin
    await admin.client.close()
    await server.close()
    await runner.cleanup()


async def reviewable_setup(hub: Hub) -> dict[str, str]:
    """What the walk's QA, proposal and dispute steps act on, made by the hub itself (not audited):
    a scorecard, a ticket Li Na worked, two pending proposals, a verified buyer's ticket."""
    card = await hub.services.quality.save_scorecard({"name": "Basics", "criteria": [GREETS]})
    lina = await hub.store.accounts.get_agent_by_email(AGENT[0])
    assert lina is not None
    worked = (await hub.ingest(customer_message("m-4", "where is my parcel", thread="c"))).conversation
    worked = await hub.services.conversations.update_conversation(worked, {"assignee_id": lina.id})
    await hub.services.conversations.update_conversation(worked, {"status": "resolved"})  # QA reviews resolved work
    ids = {"scorecard": card.id, "worked": worked.id, "lina": lina.id}
    for name, thread in (("proposal", "d"), ("other_proposal", "e")):
        asked = (
            await hub.ingest(customer_message(f"m-{thread}", "how do I get an invoice", thread=thread))
        ).conversation
        now = utcnow()
        proposal = Record(
            learn.proposal_id(asked.id),
            learn.PLUGIN,
            learn.KIND,
            asked.id,
            asked.contact_id,
            learn.PENDING,
            {"number": asked.number, "question": "how do I get an invoice", "answer": "On the order page."},
            created_at=now,
            updated_at=now,
        )
        await hub.store.records.create_record(proposal)
        ids[name] = proposal.id
    buyer = Sender(BUYER, email=BUYER, verified=True)
    bought = await hub.ingest(customer_message("m-f", "my earphones never came", thread="f", sender=buyer))
    ids["buyer_ticket"] = bought.conversation.id
    return ids


async def test_every_agent_route_that_changes_a_ticket_or_record_leaves_an_audit_entry(plugged_admin: Agent) -> None:
    admin = plugged_admin
    writes = {r.handler.__name__ for r in api.routes if r.auth == "agent" and r.method not in SAFE and not r.personal}
    writes -= TEAM_MANAGED  # walked by the admin walk above
    walked = {name for name, *_ in AGENT_WALK}
    assert walked | set(NOT_AUDITED) == writes, f"walk these routes: {sorted(writes - walked - set(NOT_AUDITED))}"
    hub = hub_of(admin)
    hub.services.records.register("disputes", [RecordKind("dispute", {"type": "object"})])
    one = await hub.ingest(customer_message("m-1", "my refund", thread="a"))
    second = await hub.ingest(customer_message("m-2", "and my order number is 42", thread="a"))
    other = await hub.ingest(customer_message("m-3", "another", thread="b", sender=Sender("user-b")))
    ids = {
        "ticket": one.conversation.id,
        "contact": one.contact.id,
        "message": second.message.id,
        "other": other.conversation.id,
        "other_contact": other.contact.id,
        **await reviewable_setup(hub),
    }
    for step in AGENT_WALK:
        if step[0] == "finish_follow_up":  # the follow-up the step before added
            complaint = await hub.services.records.get("complaints", "complaint", ids["complaint"])
            assert complaint is not None
            ids["follow_up"] = complaint.data["follow_ups"][-1]["id"]
        new = await audited_step(admin, step, ids)
        if step[0] in NAMED:
            assert NAMED[step[0]] in [e.action for e in new], (step, [e.action for e in new])
