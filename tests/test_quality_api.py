# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
"""QA reviews through the REST API: admins define scorecards, reviewers (supervisors and
admins) get the week's sample and review tickets, two reviewers' disagreement is shown per
criterion, an agent sees only the reviews of their own work, and the CSAT and QA figures."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestServer

from conversation.model import Role
from conversation.quality import new_survey, rated
from hub.agents import add_agent
from hub.api.serialize import iso
from hub.app_keys import HUB
from tests.test_api import ADMIN, AGENT, Agent, admin, agent, new_ticket, server, sign_in  # noqa: F401

SUPERVISOR = ("zhao.lei@example.com", "supervisor password 1")
WEDNESDAY = datetime(2026, 11, 25, 12, tzinfo=UTC)  # in 2026-W48
OTHER = ("wang.fang@example.com", "agent password 2")
TEAM = "customer-service"  # the supervisor's team: the figures they read are its tickets'
CARD = {
    "name": "在线客服质检",
    "criteria": [
        {"id": "greeting", "label": "礼貌问候", "kind": "yes_no", "weight": 1},
        {"id": "solution", "label": "解决问题", "kind": "scale", "weight": 3, "critical": True},
    ],
}


def hub(who: Agent) -> Any:
    return who.client.server.app[HUB]


async def worked_ticket(admin: Agent, agent: Agent, external_id: str = "m1", thread: str = "t1") -> str:
    conversation_id = await new_ticket(agent, external_id, "我的订单还没到", thread=thread)
    await admin.call("PATCH", f"/api/v1/conversations/{conversation_id}", {"assignee_id": agent.id, "team": TEAM})
    await admin.call("PATCH", f"/api/v1/conversations/{conversation_id}", {"status": "resolved"})
    return conversation_id


async def test_admins_define_scorecards_and_bad_ones_change_nothing(admin: Agent, agent: Agent) -> None:
    await agent.call("POST", "/api/v1/qa/scorecards", CARD, status=403)
    card = await admin.call("POST", "/api/v1/qa/scorecards", CARD, status=201)
    assert [c["id"] for c in card["criteria"]] == ["greeting", "solution"] and card["criteria"][1]["critical"]
    bad = {**CARD, "criteria": [CARD["criteria"][0], {**CARD["criteria"][0]}]}  # an id twice
    await admin.call("PUT", f"/api/v1/qa/scorecards/{card['id']}", bad, status=422)
    await admin.call(
        "POST", "/api/v1/qa/scorecards", {**CARD, "criteria": [{"id": "x", "label": "X", "weight": 0}]}, status=422
    )
    await admin.call("PUT", "/api/v1/qa/scorecards/nope", CARD, status=404)
    listed = await agent.call("GET", "/api/v1/qa/scorecards")
    assert [c["id"] for c in listed["items"]] == [card["id"]] and listed["items"][0]["criteria"] == card["criteria"]
    retired = await admin.call("PUT", f"/api/v1/qa/scorecards/{card['id']}", {**CARD, "active": False})
    assert retired["active"] is False


async def test_two_reviewers_disagree_per_criterion_and_the_agent_sees_only_their_own_results(
    server: TestServer, admin: Agent, agent: Agent
) -> None:
    await add_agent(hub(admin).store, SUPERVISOR[0], Role.SUPERVISOR, SUPERVISOR[1], name="Zhao Lei")
    await add_agent(hub(admin).store, OTHER[0], Role.AGENT, OTHER[1], name="Wang Fang")
    supervisor, other = await sign_in(server, SUPERVISOR), await sign_in(server, OTHER)
    try:
        for member in (supervisor, other, agent):
            await admin.call("PATCH", f"/api/v1/agents/{member.id}", {"teams": [TEAM]})
        card = await admin.call("POST", "/api/v1/qa/scorecards", CARD, status=201)
        ticket = await worked_ticket(admin, agent)
        path = f"/api/v1/conversations/{ticket}/qa"
        body = {"scorecard_id": card["id"], "scores": {"greeting": 1, "solution": 4}, "comment": "很好"}
        await agent.call("POST", path, body, status=403)  # agents do not review
        await supervisor.call("POST", path, {**body, "scores": {"greeting": 1, "solution": 9}}, status=422)
        await supervisor.call("POST", path, {**body, "scores": {"greeting": 1}}, status=422)  # every criterion
        first = await supervisor.call("POST", path, {**body, "notes": {"solution": "步骤清楚"}}, status=201)
        assert (first["score"], first["failed"], first["agent_id"]) == (81.2, False, agent.id)  # (1 + 3*0.75)/4
        await supervisor.call("POST", path, body, status=422)  # once per reviewer
        second = await admin.call("POST", path, {**body, "scores": {"greeting": 1, "solution": 1}}, status=201)
        assert (second["score"], second["failed"]) == (0.0, True)  # a critical criterion failed: 0, not 25 points

        seen = await supervisor.call("GET", path)
        [calibration] = seen["scorecards"]
        assert len(calibration["reviews"]) == 2
        assert calibration["disagreements"] == [
            {"criterion": "greeting", "scores": [1, 1], "spread": 0.0},
            {"criterion": "solution", "scores": [4, 1], "spread": 0.75},
        ]
        mine = await agent.call("GET", path)
        assert mine["reviewer"] is False
        assert [r["comment"] for r in mine["scorecards"][0]["reviews"]] == ["很好", "很好"]
        assert "disagreements" not in mine["scorecards"][0]
        assert [r["score"] for r in (await agent.call("GET", "/api/v1/qa/mine"))["items"]] == [0.0, 81.2]
        assert (await other.call("GET", "/api/v1/qa/mine"))["items"] == []
        assert (await other.call("GET", path))["scorecards"] == []  # not their work

        figures = await supervisor.call("GET", "/api/v1/quality/figures?by=agent_id")
        # by whom, named (a trial read bare ids)
        assert figures["qa"] == [{"key": agent.id, "label": "Li Na", "average": 40.6, "count": 2}]
        by_team = await supervisor.call("GET", "/api/v1/quality/figures?by=team")
        assert [(f["key"], f["label"]) for f in by_team["qa"]] == [(TEAM, "Customer service")]
        own = await worked_ticket(admin, agent, "m2", "t2")
        await admin.call("PATCH", f"/api/v1/conversations/{own}", {"assignee_id": supervisor.id})
        await supervisor.call("POST", f"/api/v1/conversations/{own}/qa", body, status=422)  # not their own work
        still_open = await new_ticket(agent, "m3", "还有一个问题", thread="t3")
        await admin.call("PATCH", f"/api/v1/conversations/{still_open}", {"assignee_id": agent.id, "team": TEAM})
        refused = await supervisor.call("POST", f"/api/v1/conversations/{still_open}/qa", body, status=422)
        assert refused["error"] == "ticket_not_resolved" and "only resolved or closed" in refused["message"]
        assert (await supervisor.call("GET", "/api/v1/quality/figures?by=agent_id"))["qa"][0]["count"] == 2
        await agent.call("GET", "/api/v1/quality/figures", status=403)
    finally:
        await supervisor.client.close()
        await other.client.close()


async def test_the_weekly_sample_is_per_agent_seeded_and_leans_to_low_csat(admin: Agent, agent: Agent) -> None:
    store = hub(admin).store
    # The hub's week, whenever the test runs (on the wall clock a run across Sunday midnight
    # resolved its tickets in one week and asked for the next): a Wednesday, a millisecond a reading.
    ticks = itertools.count()
    hub(admin).actions.clock = hub(admin).pipeline.clock = lambda: WEDNESDAY + timedelta(milliseconds=next(ticks))
    now = WEDNESDAY
    tickets = [await worked_ticket(admin, agent, f"m{i}", f"t{i}") for i in range(8)]
    low = await store.tickets.get_conversation(tickets[5])
    survey = new_survey(low, now, "zh-CN")
    await store.quality.add_survey(survey)
    await store.quality.save_survey(rated(survey, 1, now, "webchat"))
    week = now.isocalendar()
    query = f"/api/v1/qa/sample?week={week.year}-W{week.week:02d}&size=3"
    await agent.call("GET", query, status=403)
    picks = []
    assert await admin.call("GET", f"{query}&seed=a") == await admin.call("GET", f"{query}&seed=a")  # repeatable
    for seed in range(40):
        found = await admin.call("GET", f"{query}&seed=s{seed}")
        assert len(found["items"]) == 3 and {i["agent_id"] for i in found["items"]} == {agent.id}
        picks.append({i["conversation_id"] for i in found["items"]})
    assert len({frozenset(p) for p in picks}) > 1  # another seed, another sample
    # 3 of 8 unbiased: 15 of 40 expected; weighted (x4) about 32: at least 24 fails about once in 10,000 runs
    assert sum(tickets[5] in p for p in picks) >= 24
    # by default this week's sample (the tickets were resolved today), with the caller's reviews marked
    this_week = await admin.call("GET", "/api/v1/qa/sample?size=8")
    assert this_week["week"] == f"{week.year}-W{week.week:02d}" and len(this_week["items"]) == 8
    assert not any(i["reviewed"] for i in this_week["items"])
    card = await admin.call("POST", "/api/v1/qa/scorecards", CARD, status=201)
    body = {"scorecard_id": card["id"], "scores": {"greeting": 1, "solution": 4}}
    await admin.call("POST", f"/api/v1/conversations/{tickets[2]}/qa", body, status=201)
    marked = await admin.call("GET", "/api/v1/qa/sample?size=8")
    assert [i["conversation_id"] for i in marked["items"] if i["reviewed"]] == [tickets[2]]
    empty = await admin.call("GET", "/api/v1/qa/sample?week=2020-W01")
    assert empty["items"] == [] and empty["from"] == "2019-12-30T00:00:00Z"
    await admin.call("GET", "/api/v1/qa/sample?week=2020-W99", status=422)


async def test_a_tickets_survey_is_shown_to_who_may_see_the_ticket_and_csat_figures_group(
    admin: Agent, agent: Agent
) -> None:
    store = hub(admin).store
    ticket_id = await worked_ticket(admin, agent)
    assert (await agent.call("GET", f"/api/v1/conversations/{ticket_id}/csat"))["survey"] is None
    ticket = await store.tickets.get_conversation(ticket_id)
    now = datetime.now(UTC)
    survey = new_survey(ticket, now, "en", timedelta(days=7))
    await store.quality.add_survey(survey)
    await store.quality.save_survey(rated(survey, 2, now, "webchat"))
    shown = (await agent.call("GET", f"/api/v1/conversations/{ticket_id}/csat"))["survey"]
    assert (shown["score"], shown["agent_id"], shown["answer_until"]) == (
        2,
        agent.id,
        iso(now + timedelta(days=7)),
    )
    figures = await admin.call("GET", "/api/v1/quality/figures?by=channel")
    assert figures["csat"] == [{"key": "chat", "label": "chat", "average": 2.0, "count": 1}]  # the ticket's channel
    day = now.date()  # dates and times without an offset are read in the [reports] timezone, as reports do
    period = f"from={day.isoformat()}&to={(day + timedelta(days=1)).isoformat()}T00:00"
    assert (await admin.call("GET", f"/api/v1/quality/figures?{period}"))["csat"] == [
        {"key": "", "label": "", "average": 2.0, "count": 1}
    ]
    bad = await admin.call("GET", "/api/v1/quality/figures?from=yesterday", status=422)
    assert bad["message"] == "from: 'yesterday' is not an ISO date or date-time"
    await admin.call("GET", "/api/v1/quality/figures?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z", status=422)
    refused = await admin.call("GET", "/api/v1/quality/figures?by=score", status=422)
    assert refused["message"].endswith("must be one of agent_id, team, channel, category")  # no empty option


async def test_the_openapi_document_lists_the_quality_routes(agent: Agent) -> None:
    paths = (await agent.call("GET", "/api/openapi.json"))["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/qa/scorecards"])
    assert {"get", "post"} <= set(paths["/api/v1/conversations/{conversation_id}/qa"])
    for path in ("/api/v1/qa/sample", "/api/v1/qa/mine", "/api/v1/quality/figures"):
        assert "get" in paths[path], path
