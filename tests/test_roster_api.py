# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
"""The roster, presence and pages through the REST API and a running hub: a ticket is routed
the moment its team is known to the agent whose inbox is open, on shift."""

from __future__ import annotations

from typing import Any

from conversation.paging import PageReason
from hub.app_keys import HUB
from tests.helpers import eventually
from tests.test_api import ADMIN, AGENT, Agent, admin, agent, new_ticket, server  # noqa: F401  (fixtures)

TEAM = "customer-service"
ALL_DAY = {"kind": "pattern", "label": "全天", "start": "00:00", "end": "00:00", "weekdays": ["mon-sun"]}


def hub(who: Agent) -> Any:
    return who.client.server.app[HUB]


async def test_admins_build_a_roster_agents_read_the_week(admin: Agent, agent: Agent) -> None:
    await admin.call("PATCH", f"/api/v1/roster/settings/{TEAM}", {"timezone": "Asia/Shanghai", "min_on_shift": 1})
    body = {
        "team": TEAM,
        "kind": "pattern",
        "label": "早班",
        "agents": [agent.id],
        "start": "08:00",
        "end": "16:00",
        "weekdays": ["mon-fri"],
    }
    await agent.call("POST", "/api/v1/roster/entries", body, status=403)
    early = await admin.call("POST", "/api/v1/roster/entries", body, status=201)
    assert early["weekdays"] == [0, 1, 2, 3, 4] and early["label"] == "早班"
    week = await agent.call(
        "GET", f"/api/v1/roster?team={TEAM}&from=2026-03-02T00:00:00%2B08:00&to=2026-03-09T00:00:00%2B08:00"
    )
    assert week["timezone"] == "Asia/Shanghai"
    assert [(d["start"], d["end"]) for d in week["duties"]][:1] == [
        ("2026-03-02T00:00:00+00:00", "2026-03-02T08:00:00+00:00")
    ]
    assert len(week["duties"]) == 5 and {d["agent_id"] for d in week["duties"]} == {agent.id}
    default_week = await agent.call("GET", f"/api/v1/roster?team={TEAM}")
    assert default_week["from"].endswith("16:00:00+00:00")  # Monday 00:00 in Shanghai
    changed = await admin.call("PATCH", f"/api/v1/roster/entries/{early['id']}", {"end": "17:00"})
    assert changed["end"] == "17:00" and changed["weekdays"] == [0, 1, 2, 3, 4]
    await admin.call("PATCH", f"/api/v1/roster/entries/{early['id']}", {"start": "8am"}, status=422)
    await admin.call("POST", "/api/v1/roster/entries", {**body, "agents": ["nobody"]}, status=422)
    await admin.call("POST", "/api/v1/roster/entries", {**body, "team": "no-team"}, status=404)
    await agent.call("GET", f"/api/v1/roster?team={TEAM}&from=2026-03-02T00:00:00Z&to=2026-06-02T00:00:00Z", status=422)
    await admin.call("DELETE", f"/api/v1/roster/entries/{early['id']}")
    await admin.call("DELETE", f"/api/v1/roster/entries/{early['id']}", status=404)


async def test_coverage_shows_the_hours_below_the_minimum(admin: Agent, agent: Agent) -> None:
    await admin.call("PATCH", f"/api/v1/roster/settings/{TEAM}", {"min_on_shift": 1})
    empty = await agent.call("GET", f"/api/v1/roster/coverage?team={TEAM}&days=14")
    assert len(empty["gaps"]) == 14 * 24 and empty["minimum"] == 1
    await admin.call("POST", "/api/v1/roster/entries", {"team": TEAM, **ALL_DAY, "agents": [agent.id]}, status=201)
    assert (await agent.call("GET", f"/api/v1/roster/coverage?team={TEAM}"))["gaps"] == []
    await admin.call("PATCH", f"/api/v1/roster/settings/{TEAM}", {"min_on_shift": 2})
    assert len((await agent.call("GET", f"/api/v1/roster/coverage?team={TEAM}&days=1"))["gaps"]) == 24


async def test_csv_import_replaces_the_roster_and_an_error_names_its_line(admin: Agent, agent: Agent) -> None:
    csv = (
        "kind,label,duty,agents,weekdays,start,end,date,until,pattern,replaces\n"
        "pattern,早班,shift,agent@example.com,mon-fri,08:00,16:00,,,,\n"
        "pattern,备班,backup,admin@example.com;agent@example.com,mon-fri,08:00,16:00,,,,\n"
        "swap,,,admin@example.com,,,,2026-03-03,,早班,agent@example.com\n"
        "leave,,,agent@example.com,,,,2026-03-05,2026-03-06,,\n"
    )
    csv = csv.replace("agent@example.com", AGENT[0]).replace("admin@example.com", ADMIN[0])
    imported = await admin.call("POST", "/api/v1/roster/import", {"team": TEAM, "csv": csv})
    assert [e["kind"] for e in imported["items"]] == ["pattern", "pattern", "swap", "leave"]
    assert len(imported["items"][1]["agents"]) == 2  # agents separated by ";" (or spaces)
    resp = await agent.client.get(f"/api/v1/roster/export?team={TEAM}")
    assert resp.status == 200 and resp.content_type == "text/csv"
    exported = await resp.text()
    assert (
        "pattern,早班,shift," + AGENT[0] in exported and ",早班," + AGENT[0] in exported
    )  # the swap names its pattern
    bad = csv + "pattern,晚班,shift,nobody@example.com,mon,16:00,24:00,,,,\n"
    refused = await admin.call("POST", "/api/v1/roster/import", {"team": TEAM, "csv": bad}, status=422)
    assert refused["message"].startswith("line 6: ")
    # the line and the reason apart, for the inbox to show beside the file
    assert (refused["error"], refused["line"], refused["reason"]) == (
        "csv_line",
        6,
        "agents: no agent 'nobody@example.com'",
    )
    refused = await admin.call(
        "POST", "/api/v1/roster/import", {"team": TEAM, "csv": csv.replace("16:00", "16h", 1)}, status=422
    )
    assert refused["message"] == "line 2: end: '16h' is not a time (HH:MM, 00:00-23:59)"
    assert (refused["line"], refused["reason"]) == (2, "end: '16h' is not a time (HH:MM, 00:00-23:59)")
    header = await admin.call("POST", "/api/v1/roster/import", {"team": TEAM, "csv": "who,when\nx,y\n"}, status=422)
    assert (header["error"], header["line"]) == ("csv_line", 1)
    assert len((await agent.call("GET", f"/api/v1/roster?team={TEAM}"))["entries"]) == 4  # nothing changed


async def test_an_open_inbox_makes_the_agent_routable_and_presence_is_theirs_to_set(admin: Agent, agent: Agent) -> None:
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}", {"teams": [TEAM]})
    await admin.call("POST", "/api/v1/roster/entries", {"team": TEAM, **ALL_DAY, "agents": [agent.id]}, status=201)
    assert (await agent.call("GET", "/api/v1/presence"))["items"][agent.id] == "offline"
    async with agent.client.ws_connect("/api/v1/live") as _socket:
        await eventually(lambda: _presence(agent, "online"))
        assert agent.id in (await admin.call("GET", "/api/v1/agents"))["online"]
        ticket = await new_ticket(agent, text="我的订单还没到")
        await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "faq"})  # its team: customer service

        async def routed() -> bool:
            found = await agent.call("GET", f"/api/v1/conversations/{ticket}")
            return bool(found["conversation"]["assignee_id"] == agent.id)

        await eventually(routed)
        assert (await agent.call("PUT", "/api/v1/me/presence", {"status": "away"}))["presence"] == "away"
        assert (await agent.call("GET", "/api/v1/presence"))["items"][agent.id] == "away"
        await agent.call("PUT", "/api/v1/me/presence", {"status": "busy"}, status=422)
        await agent.call("PUT", "/api/v1/me/presence", {"status": "online"})
        assert (await agent.call("POST", "/api/v1/me/activity"))["presence"] == "online"
    await eventually(lambda: _presence(agent, "offline"))


async def _presence(agent: Agent, state: str) -> bool:
    return bool((await agent.call("GET", "/api/v1/presence"))["items"][agent.id] == state)


async def test_profiles_and_the_page_list(admin: Agent, agent: Agent) -> None:
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}/profile", {"languages": ["zh"], "capacity": 6})
    profile = await agent.call("GET", f"/api/v1/agents/{agent.id}/profile")
    assert (profile["page_channel"], profile["languages"], profile["capacity"]) == ("", ["zh"], 6)
    refused = await admin.call(
        "PATCH", f"/api/v1/agents/{agent.id}/profile", {"page_channel": "chat", "page_address": "x"}, status=422
    )
    assert refused["message"].startswith("page_channel: pages go out by email, Slack or Telegram")  # a test double
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}/profile", {"page_address": "x"}, status=422)  # no channel
    await agent.call("PATCH", f"/api/v1/agents/{agent.id}/profile", {"capacity": 9}, status=403)
    await admin.call(
        "POST", "/api/v1/roster/entries", {"team": TEAM, **ALL_DAY, "duty": "backup", "agents": [agent.id]}, status=201
    )
    hub_ = hub(agent)
    conversation = await hub_.store.tickets.get_conversation(await new_ticket(agent))
    await hub_.services.routing.page_backup(TEAM, PageReason("sla", {"number": str(conversation.number)}), conversation)
    (page,) = (await agent.call("GET", f"/api/v1/pages?team={TEAM}"))["items"]
    assert (page["agent_id"], page["reason"], page["channel"], page["released_at"]) == (agent.id, "sla", None, None)
    assert (await agent.call("GET", "/api/v1/pages?active=true"))["items"] == [page]


async def test_the_openapi_document_lists_the_roster_routes(agent: Agent) -> None:
    resp = await agent.client.get("/api/openapi.json")
    paths = (await resp.json())["paths"]
    for path in (
        "/api/v1/roster",
        "/api/v1/roster/coverage",
        "/api/v1/roster/entries",
        "/api/v1/roster/import",
        "/api/v1/pages",
        "/api/v1/me/presence",
    ):
        assert path in paths, path


async def test_an_agent_opening_the_inbox_pulls_the_waiting_ticket(admin: Agent, agent: Agent) -> None:
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}", {"teams": [TEAM]})  # a member: sees the team's queue
    await admin.call("POST", "/api/v1/roster/entries", {"team": TEAM, **ALL_DAY, "agents": [agent.id]}, status=201)
    ticket = await new_ticket(agent, text="还在吗")
    await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "faq"})
    waiting = await agent.call("GET", f"/api/v1/conversations?assignee=unassigned&team={TEAM}")
    assert [c["id"] for c in waiting["items"]] == [ticket]  # nobody there: it waits in the queue

    async def assigned() -> bool:
        found = await agent.call("GET", f"/api/v1/conversations/{ticket}")
        return bool(found["conversation"]["assignee_id"] == agent.id)

    async with agent.client.ws_connect("/api/v1/live") as _socket:
        await eventually(assigned)


async def test_the_readme_24_7_set_up_and_one_time_zone_per_team(admin: Agent, agent: Agent) -> None:
    """The calls of README "24/7 operations", as written there; the calendar's zone is the team's."""
    from tests.conftest import ROOT

    whole_day = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    await admin.call("PUT", f"/api/v1/teams/{TEAM}/calendar", {"timezone": "Asia/Shanghai", "hours": whole_day})
    office = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    await admin.call("PUT", "/api/v1/teams/finance/calendar", {"timezone": "Asia/Shanghai", "hours": office})
    ics = (ROOT / "hub" / "calendars" / "cn-public-holidays-2027.example.ics").read_text(encoding="utf-8")
    imported = await admin.call("POST", "/api/v1/teams/finance/calendar/import", {"ics": ics})
    assert imported["imported"]["holidays"] > 0 and imported["imported"]["workdays"] > 0
    shift = {"team": TEAM, "kind": "pattern", "weekdays": ["mon-sun"]}
    for label, start, end in (("早班", "07:00", "15:00"), ("中班", "15:00", "23:00"), ("夜班", "23:00", "07:00")):
        await admin.call(
            "POST",
            "/api/v1/roster/entries",
            {**shift, "label": label, "agents": [agent.id], "start": start, "end": end},
            status=201,
        )
    backup = {**shift, "label": "早班备班", "duty": "backup", "agents": [admin.id], "start": "07:00", "end": "15:00"}
    await admin.call("POST", "/api/v1/roster/entries", backup, status=201)
    settings = {"min_on_shift": 2, "page_queue": 5, "page_wait_minutes": 6}
    await admin.call("PATCH", f"/api/v1/roster/settings/{TEAM}", settings)
    coverage = await agent.call("GET", f"/api/v1/roster/coverage?team={TEAM}&days=14")
    assert coverage["timezone"] == "Asia/Shanghai" and len(coverage["gaps"]) == 14 * 24  # one agent of two
    refused = await admin.call("PATCH", f"/api/v1/roster/settings/{TEAM}", {"timezone": "Europe/Berlin"}, status=422)
    assert "calendar" in refused["message"]
    assert (await agent.call("GET", f"/api/v1/roster/settings/{TEAM}"))["timezone"] == "Asia/Shanghai"


async def test_an_agent_put_on_a_teams_roster_joins_the_team_and_sees_the_tickets_routed_to_them(
    admin: Agent, agent: Agent
) -> None:
    ticket = await new_ticket(admin, text="我的退款什么时候到账")
    await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"team": "finance"})  # in finance's queue
    await agent.call("GET", f"/api/v1/conversations/{ticket}", status=404)  # not of her teams
    leave = {"team": "finance", "kind": "leave", "agents": [agent.id], "date": "2026-03-05", "until": "2026-03-06"}
    await admin.call("POST", "/api/v1/roster/entries", leave, status=201)

    def teams_of(listed: dict[str, Any]) -> list[str]:
        return next(a["teams"] for a in listed["items"] if a["id"] == agent.id)

    assert teams_of(await admin.call("GET", "/api/v1/agents")) == []  # a leave puts nobody on duty
    await admin.call("POST", "/api/v1/roster/entries", {"team": "finance", **ALL_DAY, "agents": [agent.id]}, status=201)
    assert teams_of(await admin.call("GET", "/api/v1/agents")) == ["finance"]
    queue = await agent.call("GET", "/api/v1/conversations?team=finance&assignee=unassigned")
    assert [c["id"] for c in queue["items"]] == [ticket]  # the queue her shifts work from
    joined = (await admin.call("GET", "/api/v1/audit?action=team.update"))["items"][0]
    assert agent.id in joined["after"]["members"] and agent.id not in joined["before"]["members"]
