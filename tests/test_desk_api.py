# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
"""Teams and categories through the REST API: agents read, admins change, bad input changes nothing."""

from __future__ import annotations

from tests.test_api import Agent, admin, agent, new_ticket, server  # noqa: F401  (fixtures)


async def test_a_new_hub_has_the_default_teams_and_categories(agent: Agent) -> None:
    teams = (await agent.call("GET", "/api/v1/teams"))["items"]
    assert {t["names"]["zh-CN"] for t in teams} == {"客服", "技术支持", "财务/退款", "投诉", "主管", "账户安全"}
    categories = {c["id"]: c for c in (await agent.call("GET", "/api/v1/categories"))["items"]}
    assert categories["dispute"]["names"] == {"zh-CN": "交易纠纷", "en": "Transaction dispute"}
    assert categories["dispute"]["default_team"] == "finance"
    assert categories["dispute"]["default_priority"] == "high"


async def test_agents_may_read_but_only_admins_change(agent: Agent) -> None:
    body = {"id": "vip", "names": {"en": "VIP"}}
    assert (await agent.call("POST", "/api/v1/teams", body, status=403))["error"] == "forbidden"
    await agent.call("PATCH", "/api/v1/categories/faq", {"default_priority": "urgent"}, status=403)
    await agent.call("DELETE", "/api/v1/categories/other", status=403)
    assert len((await agent.call("GET", "/api/v1/categories"))["items"]) == 6


async def test_admin_manages_teams_and_a_category_subtree(admin: Agent) -> None:
    team = {"id": "fraud", "names": {"zh-CN": "反欺诈", "en": "Fraud"}, "members": [admin.id]}
    assert await admin.call("POST", "/api/v1/teams", team, status=201) == {**team, "visibility": "team", "lead": ""}
    await admin.call("POST", "/api/v1/teams", team, status=409)
    changed = await admin.call("PATCH", "/api/v1/teams/fraud", {"members": [], "visibility": "assigned"})
    assert changed == {**team, "members": [], "visibility": "assigned", "lead": ""}
    await admin.call("PATCH", "/api/v1/teams/fraud", {"members": ["no-such-agent"]}, status=422)
    await admin.call("PATCH", "/api/v1/teams/fraud", {"visibility": "everything"}, status=422)

    stolen = {"id": "stolen", "names": {"zh-CN": "盗号"}, "parent_id": "account", "default_team": "fraud"}
    created = await admin.call("POST", "/api/v1/categories", {**stolen, "default_priority": "urgent"}, status=201)
    assert created["parent_id"] == "account" and created["default_priority"] == "urgent"
    await admin.call("PATCH", "/api/v1/categories/account", {"parent_id": "stolen"}, status=422)  # a cycle
    await admin.call("PATCH", "/api/v1/categories/stolen", {"default_team": "nobody"}, status=422)
    await admin.call("PATCH", "/api/v1/categories/nope", {"default_team": "fraud"}, status=404)

    refused = await admin.call("DELETE", "/api/v1/categories/account", status=409)
    assert refused == {"error": "in_use", "message": "the category has subcategories"}
    refused = await admin.call("DELETE", "/api/v1/teams/fraud", status=409)
    assert "stolen" in refused["message"]
    await admin.call("DELETE", "/api/v1/categories/stolen")
    await admin.call("DELETE", "/api/v1/teams/fraud")
    await admin.call("DELETE", "/api/v1/teams/fraud", status=404)


async def test_a_category_with_tickets_is_not_deleted(admin: Agent) -> None:
    ticket = await new_ticket(admin, text="my payment was taken twice")
    await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "dispute"})
    refused = await admin.call("DELETE", "/api/v1/categories/dispute", status=409)
    assert refused["message"] == "tickets are filed under the category"
    assert any(c["id"] == "dispute" for c in (await admin.call("GET", "/api/v1/categories"))["items"])


async def test_bad_input_is_refused_and_changes_nothing(admin: Agent) -> None:
    before = await admin.call("GET", "/api/v1/categories")
    await admin.call("POST", "/api/v1/categories", {"id": "Bad Id!", "names": {"en": "x"}}, status=422)
    await admin.call("POST", "/api/v1/categories", {"id": "x", "names": {}}, status=422)
    await admin.call(
        "POST", "/api/v1/categories", {"id": "x", "names": {"en": "x"}, "default_priority": "asap"}, status=422
    )
    await admin.call("POST", "/api/v1/categories", {"id": "x", "names": {"en": "x"}, "parent_id": "ghost"}, status=422)
    assert await admin.call("GET", "/api/v1/categories") == before


async def thread_events(admin: Agent, ticket: str) -> list[str]:
    messages = (await admin.call("GET", f"/api/v1/conversations/{ticket}/messages"))["items"]
    return [m["text"] for m in messages if m["kind"] == "event"]


async def test_a_category_brings_its_default_team_and_priority_with_events(admin: Agent) -> None:
    ticket = await new_ticket(admin, text="I paid twice")
    changed = await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "dispute"})
    assert (changed["category"], changed["team"], changed["priority"]) == ("dispute", "finance", "high")
    events = await thread_events(admin, ticket)
    # the category's and the team's names, not their ids
    assert "Category Transaction dispute sent this to team Finance / refunds" in events
    assert "Category Transaction dispute set the priority to high" in events


async def test_what_the_agent_chose_is_kept(admin: Agent) -> None:
    ticket = await new_ticket(admin, text="login problem")
    await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"team": "customer-service", "priority": "low"})
    changed = await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "technical"})
    assert (changed["team"], changed["priority"]) == ("customer-service", "low")
    both = await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "dispute", "priority": "urgent"})
    assert (both["team"], both["priority"]) == ("customer-service", "urgent")
    assert not any(e.startswith("Category ") for e in await thread_events(admin, ticket))


async def test_an_unknown_category_is_refused_and_changes_nothing(admin: Agent) -> None:
    ticket = await new_ticket(admin)
    refused = await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "ghost"}, status=422)
    assert "ghost" in refused["message"]
    conversation = (await admin.call("GET", f"/api/v1/conversations/{ticket}"))["conversation"]
    assert (conversation["category"], conversation["team"]) == ("", "")


async def test_a_ticket_is_moved_only_to_a_team_that_exists(admin: Agent) -> None:
    ticket = await new_ticket(admin, text="where is my parcel")
    before = await admin.call("GET", f"/api/v1/conversations/{ticket}/messages")
    refused = await admin.call(
        "PATCH", f"/api/v1/conversations/{ticket}", {"team": "billing", "priority": "high"}, status=422
    )
    assert refused == {"error": "invalid", "message": "team: 'billing' is not a team"}
    card = (await admin.call("GET", f"/api/v1/conversations/{ticket}"))["conversation"]
    assert (card["team"], card["priority"]) == ("", "normal")  # nothing of the change was kept
    assert await admin.call("GET", f"/api/v1/conversations/{ticket}/messages") == before
    assert not [e for e in (await admin.call("GET", "/api/v1/audit"))["items"] if e.get("action") == "ticket.update"]
    moved = await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"team": "finance"})
    assert moved["team"] == "finance"
    assert (await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"team": ""}))["team"] == ""  # "" removes it


async def test_a_deleted_team_takes_its_calendar_and_roster_along(admin: Agent) -> None:
    """A trial: a team made again under a deleted one's id came back with its old calendar and
    roster, an agent "on shift" in a team with no members."""
    await admin.call(
        "POST", "/api/v1/teams", {"id": "night", "names": {"en": "Night"}, "members": [admin.id]}, status=201
    )
    await admin.call("PUT", "/api/v1/teams/night/calendar", {"timezone": "UTC", "hours": {"mon": ["22:00-06:00"]}})
    shift = {"team": "night", "kind": "pattern", "start": "00:00", "end": "00:00", "weekdays": ["mon-sun"]}
    await admin.call("POST", "/api/v1/roster/entries", {**shift, "agents": [admin.id]}, status=201)
    await admin.call("PATCH", "/api/v1/roster/settings/night", {"min_on_shift": 3})
    await admin.call("DELETE", "/api/v1/teams/night")
    await admin.call("POST", "/api/v1/teams", {"id": "night", "names": {"en": "Night"}}, status=201)
    assert (await admin.call("GET", "/api/v1/teams/night/calendar"))["calendar"] is None
    again = await admin.call("GET", "/api/v1/roster?team=night")
    assert again["entries"] == [] and again["settings"]["min_on_shift"] == 1


async def test_a_team_whose_only_ticket_was_merged_away_is_not_deleted(admin: Agent) -> None:
    """A merged ticket keeps its team: deleting that team would leave it naming none."""
    await admin.call("POST", "/api/v1/teams", {"id": "night", "names": {"en": "Night"}}, status=201)
    kept = await new_ticket(admin, "n1", thread="t-1")
    merged = await new_ticket(admin, "n2", thread="t-2")
    await admin.call("PATCH", f"/api/v1/conversations/{merged}", {"team": "night"})
    await admin.call("POST", f"/api/v1/conversations/{merged}/merge", {"into": kept})
    refused = await admin.call("DELETE", "/api/v1/teams/night", status=409)
    assert refused["message"] == "tickets are with this team: hand them over first"
