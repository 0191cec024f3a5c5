# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
"""The roster, presence and pages through the REST API and a running hub: a ticket is routed
the moment its team is known to the agent whose inbox is open, on shift."""

from __future__ import annotations

import json
import re
from typing import Any

from conversation.model import Role
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
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}", {"teams": [TEAM]})  # a team's roster is its members'
    await admin.call("PATCH", f"/api/v1/roster/settings/{TEAM}", {"min_on_shift": 1})
    # No roster at all: no shift model, its online members always on, so no hour is short (a
    # trial read every hour of such a team as uncovered, against README).
    empty = await agent.call("GET", f"/api/v1/roster/coverage?team={TEAM}&days=14")
    assert empty["gaps"] == [] and empty["rostered"] is False and empty["minimum"] == 1
    entry = {"team": TEAM, **ALL_DAY, "agents": [agent.id]}
    await admin.call("POST", "/api/v1/roster/entries", entry, status=201)
    covered = await agent.call("GET", f"/api/v1/roster/coverage?team={TEAM}")
    assert covered["gaps"] == [] and covered["rostered"] is True
    await admin.call("PATCH", f"/api/v1/roster/settings/{TEAM}", {"min_on_shift": 2})
    assert len((await agent.call("GET", f"/api/v1/roster/coverage?team={TEAM}&days=1"))["gaps"]) == 24
    # with a calendar, only its open hours count: a team open 09:00-17:00 every day is short 8 hours a day
    week = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    await admin.call("PUT", f"/api/v1/teams/{TEAM}/calendar", {"timezone": "UTC", "hours": week})
    gaps = (await agent.call("GET", f"/api/v1/roster/coverage?team={TEAM}&days=2"))["gaps"]
    assert len(gaps) == 16 and all(9 <= int(g["start"][11:13]) < 17 for g in gaps), gaps


async def test_csv_import_replaces_the_roster_and_an_error_names_its_line(admin: Agent, agent: Agent) -> None:
    await admin.call("PATCH", f"/api/v1/agents/{agent.id}", {"teams": [TEAM]})
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
    # leave and a swap have no duty of their own (a trial read leave as "duty": "shift")
    assert [e["duty"] for e in imported["items"]] == ["shift", "backup", None, None]
    assert len(imported["items"][1]["agents"]) == 2  # agents separated by ";" (or spaces)
    resp = await agent.client.get(f"/api/v1/roster/export?team={TEAM}")
    assert resp.status == 200 and resp.content_type == "text/csv"
    exported = await resp.text()
    assert (await resp.read()).startswith(b"\xef\xbb\xbf")  # a BOM, as the reports' (a trial: 早班 garbled in Excel)
    reimported = await admin.call("POST", "/api/v1/roster/import", {"team": TEAM, "csv": exported})
    assert [e["kind"] for e in reimported["items"]] == ["pattern", "pattern", "swap", "leave"]  # it reads back
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
    assert (
        refused["message"] == "line 2: end: '16h' is not a time (HH:MM, 00:00-23:59, or 24:00 for the end of the day)"
    )
    assert (refused["line"], refused["reason"]) == (
        2,
        "end: '16h' is not a time (HH:MM, 00:00-23:59, or 24:00 for the end of the day)",
    )
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


async def test_a_supervisor_runs_their_own_teams_roster_and_no_other(admin: Agent, agent: Agent) -> None:
    """Supervisors edit their team's roster (entries, swaps, leave, CSV) and its operational
    settings; the time zone stays with admins, other teams' rosters are refused."""
    from hub.agents import add_agent
    from tests.test_api import sign_in

    lead = await add_agent(hub(admin).store, "lead@example.com", Role.SUPERVISOR, "lead password 1", name="Lead")
    await admin.call("PATCH", f"/api/v1/agents/{lead.id}", {"teams": [TEAM]})
    supervisor = await sign_in(admin.client.server, ("lead@example.com", "lead password 1"))
    try:
        body = {"team": TEAM, **ALL_DAY, "agents": [agent.id]}
        pattern = await supervisor.call("POST", "/api/v1/roster/entries", body, status=201)
        swap = {"team": TEAM, "kind": "swap", "agents": [lead.id], "pattern": pattern["id"], "replaces": agent.id}
        await supervisor.call("POST", "/api/v1/roster/entries", {**swap, "date": "2026-12-01"}, status=201)
        leave = {"team": TEAM, "kind": "leave", "agents": [agent.id], "date": "2026-12-05"}
        await supervisor.call("POST", "/api/v1/roster/entries", leave, status=201)
        await supervisor.call("PATCH", f"/api/v1/roster/entries/{pattern['id']}", {"label": "白班"})
        settings = {"min_on_shift": 2, "page_queue": 3, "page_wait_minutes": 5, "strategy": "round-robin"}
        assert (await supervisor.call("PATCH", f"/api/v1/roster/settings/{TEAM}", settings))["min_on_shift"] == 2
        refused = await supervisor.call("PATCH", f"/api/v1/roster/settings/{TEAM}", {"timezone": "UTC"}, status=403)
        assert refused["error"] == "forbidden" and refused["message"].startswith("timezone")
        csv = "kind,agents,label,duty,weekdays,start,end,date,until,pattern,replaces\n"
        csv += "pattern,li.na@example.com,早班,shift,mon-fri,08:00,16:00,,,,\n"
        imported = await supervisor.call("POST", "/api/v1/roster/import", {"team": TEAM, "csv": csv})
        assert [e["kind"] for e in imported["items"]] == ["pattern"]
        # another team's roster: refused, and nothing changes
        for method, path, data in (
            ("POST", "/api/v1/roster/entries", {**body, "team": "finance"}),
            ("POST", "/api/v1/roster/import", {"team": "finance", "csv": csv}),
            ("PATCH", "/api/v1/roster/settings/finance", {"min_on_shift": 3}),
        ):
            assert (await supervisor.call(method, path, data, status=403))["error"] in (
                "supervisor_needed",
                "team_only",
            )
        finance = await admin.call("POST", "/api/v1/roster/entries", {**body, "team": "finance"}, status=201)
        await supervisor.call("DELETE", f"/api/v1/roster/entries/{finance['id']}", status=404)
        assert (await admin.call("GET", "/api/v1/roster/settings/finance"))["min_on_shift"] == 1
        # an agent of the team reads it but does not change it
        refused = await agent.call("POST", "/api/v1/roster/entries", body, status=403)
        assert refused["error"] == "supervisor_needed"
    finally:
        await supervisor.client.close()


def readme_week_changes() -> list[tuple[str, str, str]]:
    """The calls of README's "Changes to the week" example, as written there."""
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("Changes to the week", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    calls = re.findall(r"^api -X (\w+) \$API(\S+) -d '(.+)'$", block, re.M)
    assert len(calls) == 5, block
    return calls


async def test_the_readme_examples_of_extra_swap_leave_profile_and_import(admin: Agent, agent: Agent) -> None:
    """Each body posted as README writes it: an extra shift ending at "24:00", a swap, leave,
    a profile's capacity and skills, and a CSV import whose swap names its pattern by label."""
    from hub.agents import add_agent

    wang = await add_agent(hub(admin).store, "wang@example.com", Role.AGENT, "wang password 1", name="王强")
    pattern = await admin.call(
        "POST",
        "/api/v1/roster/entries",
        {"team": TEAM, "kind": "pattern", "label": "早班", "agents": [agent.id], "weekdays": ["mon-sun"]}
        | {"start": "07:00", "end": "15:00"},
        status=201,
    )
    names = {"AGENT_ID_1": agent.id, "AGENT_ID_2": wang.id, "AGENT_ID_3": admin.id, "PATTERN_ID": pattern["id"]}
    answers = []
    for method, path, text in readme_week_changes():
        for placeholder, value in names.items():
            text, path = text.replace(placeholder, value), path.replace(placeholder, value)
        status = 201 if path == "/roster/entries" else 200
        answers.append(await admin.call(method, "/api/v1" + path, json.loads(text), status=status))
        if len(answers) == 1:  # the extra shift, before the import replaces the roster
            week = await admin.call(
                "GET", f"/api/v1/roster?team={TEAM}&from=2027-02-10T00:00:00Z&to=2027-02-11T00:00:00Z"
            )
            (late,) = [d for d in week["duties"] if d["agent_id"] == admin.id]
            assert (late["start"], late["end"]) == ("2027-02-10T18:00:00+00:00", "2027-02-11T00:00:00+00:00")
    extra, swap, leave, profile, imported = answers
    assert (extra["kind"], extra["start"], extra["end"]) == ("extra", "18:00", "00:00")  # 24:00: the day's end
    assert (swap["kind"], swap["replaces"], swap["agents"]) == ("swap", agent.id, [wang.id])
    assert (leave["kind"], leave["until"]) == ("leave", "2027-10-07")
    assert (profile["capacity"], profile["languages"], profile["channels"]) == (
        6,
        ["zh", "en"],
        ["webchat", "telegram"],
    )
    # a real swap (an admin's trial: wang was on the pattern too, so it only took li.na off)
    assert [e["kind"] for e in imported["items"]] == ["pattern", "pattern", "swap", "swap"]
    early, late, swapped, back = imported["items"]
    assert swapped["pattern"] == early["id"] and wang.id not in early["agents"] and wang.id in late["agents"]
    assert (swapped["replaces"], swapped["agents"]) == (agent.id, [wang.id])
    assert (back["pattern"], back["replaces"], back["agents"]) == (late["id"], wang.id, [agent.id])
    whole_day = {"team": TEAM, "kind": "extra", "agents": [agent.id], "date": "2027-02-12", "start": "00:00"}
    assert (await admin.call("POST", "/api/v1/roster/entries", {**whole_day, "end": "24:00"}, status=201))[
        "end"
    ] == "00:00"
    refused = await admin.call(
        "POST", "/api/v1/roster/entries", {**whole_day, "start": "24:00", "end": "08:00"}, status=422
    )
    assert refused["message"].startswith("start: '24:00' is not a time")
