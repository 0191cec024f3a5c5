"""GET /api/v1/board: the desk now, for supervisors and admins (the inbox's live board).

Per team the caller may report on (hub.access.report_teams: a supervisor's teams and the
tickets without a team): its open tickets, queue and oldest wait, SLA breached and at risk
(conversation/board.py), and its agents with their presence, duty and load as routing sees them.
"""

from __future__ import annotations

from typing import Any

from conversation.board import team_loads
from conversation.model import ConversationQuery, Role, Status
from hub.access import NO_TEAM, Access, report_teams
from hub.api.framework import Call
from hub.api.routes import ANY, api, hub_of, services_of

BOARD_SCAN = 1000  # open tickets looked at (the inbox's lists count to 1,000 too)


@api.route(
    "GET",
    "/v1/board",
    summary="The desk now: per team its open tickets, queue, oldest wait, SLA breached and at risk, and its"
    " agents' presence, duty and load (supervisors: their teams and the tickets without one; admins)",
    tag="reports",
    response=ANY,
    roles=(Role.ADMIN, Role.SUPERVISOR),
    refusal="the live board is for supervisors and admins",
)
async def board(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    now = hub.actions.clock()
    allowed = report_teams(call.viewer)
    teams = [t for t in await hub.store.desk.list_teams() if allowed is None or t.id in allowed]
    reach = hub.access.reach(call.viewer, Access.READ)
    tickets, _ = await hub.store.inbox.list_conversations(
        ConversationQuery(status=Status.OPEN, reach=reach, hide_questions=True, limit=BOARD_SCAN)
    )
    shown = {t.id for t in teams} | ({NO_TEAM} if allowed is None or NO_TEAM in allowed else set())
    tickets = [t for t in tickets if t.team in shown]
    loads = team_loads(tickets, await hub.sla.views(tickets), now, [*sorted(shown - {NO_TEAM}), NO_TEAM])
    assigned: dict[str, int] = {}
    for ticket in tickets:
        if ticket.assignee_id:
            assigned[ticket.assignee_id] = assigned.get(ticket.assignee_id, 0) + 1
    names = {a.id: a.name or a.email for a in await hub.store.accounts.list_agents()}
    routing = services_of(call).routing
    rows = []
    for team in teams:
        candidates = await routing.candidates(team.id)
        rows.append(
            {
                **loads.pop(team.id).as_json(),
                "agents": [
                    {
                        "id": c.agent_id,
                        "name": names.get(c.agent_id, c.agent_id),
                        "presence": c.presence,
                        "on_shift": c.on_shift,
                        "on_leave": c.on_leave,
                        "backup_called": c.backup_called,
                        "on_backup": c.on_backup,  # on backup duty now, paged in or not
                        "open": assigned.get(c.agent_id, 0),
                        "capacity": c.capacity,
                    }
                    for c in candidates
                ],
            }
        )
    unteamed = loads.pop(NO_TEAM, None)
    return {
        "at": now.isoformat(),
        "teams": rows,
        "no_team": unteamed.as_json() if unteamed is not None and NO_TEAM in shown else None,
        "scanned": len(tickets),
    }
