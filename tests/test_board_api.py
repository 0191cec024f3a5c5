"""GET /api/v1/board: the live board a supervisor watches (a trial's supervisor had only
/metrics and the presence API to see queues, SLA and who is on)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer

from conversation.model import Role, utcnow
from hub.agents import add_agent
from hub.app import Hub
from hub.app_keys import HUB
from tests.helpers import customer_message, make_config
from tests.test_api import ADMIN, AGENT, serving, sign_in

SUPERVISOR = ("zhao@example.com", "supervisor password 1")
SLA = {"policies": {"standard": {"first_response_minutes": 60, "resolution_minutes": 480}}}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    hub = Hub(make_config(tmp_path, {"sla": SLA}))
    server = await serving(hub)
    li = await hub.store.accounts.get_agent_by_email(AGENT[0])
    zhao = await add_agent(hub.store, SUPERVISOR[0], Role.SUPERVISOR, SUPERVISOR[1], name="Zhao")
    assert li is not None
    await hub.services.desk.update_team("customer-service", {"members": [li.id, zhao.id]})
    yield server
    await server.close()


async def ticket(hub: Hub, key: str, *, minutes_ago: float, team: str = "", assignee: str = "") -> None:
    hub.pipeline.clock = lambda: utcnow() - timedelta(minutes=minutes_ago)
    record = await hub.ingest(customer_message(key, f"question {key}", thread=key))
    hub.pipeline.clock = utcnow
    changes = {**({"team": team} if team else {}), **({"assignee_id": assignee} if assignee else {})}
    if changes:
        await hub.store.tickets.update_conversation(record.conversation.id, changes, now=utcnow())


def zhao_id(agents: dict[str, Any]) -> str:
    return str(agents["Zhao"]["id"])


async def test_a_supervisor_sees_their_teams_queue_sla_and_agents_now(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    li = await hub.store.accounts.get_agent_by_email(AGENT[0])
    assert li is not None
    await ticket(hub, "late", minutes_ago=70, team="customer-service")  # waiting, first response overdue
    await ticket(hub, "soon", minutes_ago=50, team="customer-service")  # waiting, 83 % of the hour used
    await ticket(hub, "taken", minutes_ago=5, team="customer-service", assignee=li.id)
    await ticket(hub, "loose", minutes_ago=20)  # no team: the supervisor triages these too
    await ticket(hub, "tech", minutes_ago=90, team="technical-support")  # not theirs
    zhao, lina, boss = await sign_in(server, SUPERVISOR), await sign_in(server, AGENT), await sign_in(server, ADMIN)
    try:
        board = await zhao.call("GET", "/api/v1/board")
        [cs] = board["teams"]
        assert (cs["team"], cs["open"], cs["waiting"], cs["sla_breached"], cs["sla_at_risk"]) == (
            "customer-service",
            3,
            2,
            1,
            1,
        )
        assert 69 * 60 <= cs["oldest_wait_seconds"] <= 71 * 60
        agents = {a["name"]: a for a in cs["agents"]}
        assert agents["Li Na"]["open"] == 1 and agents["Li Na"]["presence"] == "offline"
        assert agents["Li Na"]["on_shift"] is True  # no roster: always on
        assert (board["no_team"]["open"], board["no_team"]["waiting"]) == (1, 1)
        # an agent on leave is said so, not only "off shift" (a trial)
        zone = (await hub.services.roster.team_settings("customer-service")).timezone
        today = utcnow().astimezone(ZoneInfo(zone)).date().isoformat()
        leave = {"team": "customer-service", "kind": "leave", "agents": [li.id], "date": today, "until": today}
        await boss.call("POST", "/api/v1/roster/entries", leave, status=201)
        [cs] = (await zhao.call("GET", "/api/v1/board"))["teams"]
        agents = {a["name"]: a for a in cs["agents"]}
        assert (agents["Li Na"]["on_leave"], agents["Li Na"]["on_shift"], agents["Zhao"]["on_leave"]) == (
            True,
            False,
            False,
        )
        # who is on backup duty now shows, paged in or not (a trial's 24-hour backup read "off shift")
        backup = {"team": "customer-service", "kind": "pattern", "duty": "backup", "agents": [zhao_id(agents)]}
        backup |= {"start": "00:00", "end": "00:00", "weekdays": ["mon-sun"]}
        await boss.call("POST", "/api/v1/roster/entries", backup, status=201)
        [cs] = (await zhao.call("GET", "/api/v1/board"))["teams"]
        agents = {a["name"]: a for a in cs["agents"]}
        assert (agents["Zhao"]["on_backup"], agents["Zhao"]["backup_called"]) == (True, False)
        assert agents["Li Na"]["on_backup"] is False
        refused = await lina.call("GET", "/api/v1/board", status=403)
        assert refused["message"] == "the live board is for supervisors and admins"
        everything = await boss.call("GET", "/api/v1/board")
        tech = next(t for t in everything["teams"] if t["team"] == "technical-support")
        assert (tech["open"], tech["sla_breached"]) == (1, 1)
    finally:
        for who in (zhao, lina, boss):
            await who.client.close()
