"""Roster, presence and backup pages in the agent API: /api/v1/roster..., /v1/presence, /v1/pages.

A team's roster, coverage, CSV and page log are for its members and admins; its supervisors
and admins change its roster and operational settings (the time zone is admin-only: it moves
every shift and the team's calendar); admins change agents' routing profiles; each agent sets
their own presence and sees that of their teams' members (hub/access.py decides all of it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from conversation.assignment import profile_to_doc
from conversation.model import Role
from conversation.paging import Page, page_to_doc
from conversation.presence import PRESENCE_STATES
from conversation.roster import DUTIES, KINDS, zone
from hub.access import Access, manages_team, sees_contact_fields, sees_team, shares_team
from hub.api.framework import ADMIN, ApiError, Call
from hub.api.routes import ANY, api, hub_of, parse_time, services_of
from hub.schema import Arr, Int, Nullable, Obj, Str
from hub.services.roster import duty_json, entry_json, team_roster_json

TEAM_QUERY = Str(max_length=64, min_length=1)
HHMM = Str(max_length=5, min_length=5, description="HH:MM, the team's local time")
DAY = Str(max_length=10, min_length=10, description="YYYY-MM-DD")
ENTRY_FIELDS = {
    "kind": Str(choices=KINDS),
    "agents": Arr(Str(max_length=64, min_length=1), max_items=200),
    "label": Str(max_length=50, description="e.g. 早班, 中班, 夜班"),
    "duty": Str(choices=DUTIES),
    "weekdays": Arr(Str(max_length=7, min_length=1), max_items=7),
    "start": HHMM,
    "end": HHMM,
    "date": Nullable(DAY),
    "until": Nullable(DAY),
    "pattern": Str(max_length=64, description="swap: the pattern's id"),
    "replaces": Str(max_length=64, description="swap: the agent who gives the shift away"),
}
ENTRY = api.schema("RosterEntry", {"type": "object", "description": "a shift pattern, one-off shift, swap or leave"})
SETTINGS_FIELDS = {
    "timezone": Str(max_length=64, min_length=1),
    "min_on_shift": Int(minimum=0, maximum=10_000),
    "page_queue": Int(minimum=0, maximum=10_000),
    "page_wait_minutes": Int(minimum=1, maximum=10_080),
    "strategy": Str(choices=("", "least-loaded", "round-robin")),
}
PROFILE_FIELDS = {
    "capacity": Nullable(Int(minimum=0, maximum=1000)),
    "languages": Arr(Str(max_length=35, min_length=1), max_items=20),
    "channels": Arr(Str(max_length=100, min_length=1), max_items=50),
    "page_channel": Str(max_length=100),
    "page_address": Str(max_length=320),
}


def _team_or_422(call: Call) -> str:
    team = call.query.get("team")
    if not team:
        raise ApiError(422, "invalid", "team: name the team (?team=...)")
    return str(team)


ADMIN_ONLY_SETTINGS = ("timezone",)  # moves every shift and the team's calendar: a company decision


def _seen_team(call: Call, team: str) -> str:
    """`team`, when the caller may read its operations data; else 403 (team names are public)."""
    if not sees_team(call.viewer, team):
        raise ApiError(403, "team_only", f"team {team}'s roster is for its members and admins")
    return team


def _managed_team(call: Call, team: str) -> str:
    """`team`, when the caller may change its roster: a supervisor of the team or an admin."""
    if not manages_team(call.viewer, team):
        raise ApiError(403, "supervisor_needed", f"changing team {team}'s roster needs a supervisor of it or an admin")
    return team


async def _entry_team(call: Call, entry_id: str) -> str:
    entry = await hub_of(call).store.roster.get_entry(entry_id)
    if entry is None or not sees_team(call.viewer, entry.team):
        raise ApiError(404, "not_found", "no such roster entry")  # another team's entry: as if there were none
    return _managed_team(call, entry.team)


def _week_start(now: datetime, tz_name: str) -> datetime:
    local = now.astimezone(zone(tz_name))
    monday = (local - timedelta(days=local.weekday())).date()
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone(tz_name)).astimezone(UTC)


@api.route(
    "GET",
    "/v1/roster",
    summary="A team's roster expanded into duties (default: this week, Monday 00:00 in the team's time zone)",
    tag="roster",
    query={"team": TEAM_QUERY, "from": Str(max_length=40), "to": Str(max_length=40)},
    response=ANY,
)
async def roster_week(call: Call) -> dict[str, Any]:
    team = _seen_team(call, _team_or_422(call))
    roster = services_of(call).roster
    settings = await roster.team_settings(team)
    start = (
        parse_time(call.query["from"], "from")
        if "from" in call.query
        else _week_start(roster.clock(), settings.timezone)
    )
    end = parse_time(call.query["to"], "to") if "to" in call.query else start + timedelta(days=7)
    duties = await roster.duties(team, start, end)
    return {
        "team": team,
        "timezone": settings.timezone,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "duties": [duty_json(d) for d in duties],
        "entries": [entry_json(e) for e in await hub_of(call).store.roster.list_entries(team)],
        "settings": team_roster_json(settings),
    }


@api.route(
    "GET",
    "/v1/roster/coverage",
    summary="Hours of the coming days with fewer agents on shift than the team's minimum",
    tag="roster",
    query={"team": TEAM_QUERY, "days": Int(minimum=1, maximum=62)},
    response=ANY,
)
async def roster_coverage(call: Call) -> dict[str, Any]:
    settings, gaps = await services_of(call).roster.coverage(
        _seen_team(call, _team_or_422(call)), call.query.get("days", 14)
    )
    return {
        "team": settings.team,
        "timezone": settings.timezone,
        "minimum": settings.min_on_shift,
        "rostered": gaps is not None,  # false: no roster entries, its online members are always on
        "gaps": [{"start": g.start.isoformat(), "end": g.end.isoformat(), "on_shift": g.on_shift} for g in gaps or []],
    }


@api.route(
    "POST",
    "/v1/roster/entries",
    summary="Add a shift pattern, one-off shift, swap or leave to a team's roster (admin); agents it puts on duty"
    " who are not members of the team become members (they see the tickets routed to them)"
    " (the team's supervisors and admins)",
    tag="roster",
    body=Obj({"team": Str(max_length=64, min_length=1), **ENTRY_FIELDS}, required=("team", "kind", "agents")),
    response=ENTRY,
    status=201,
)
async def add_roster_entry(call: Call) -> dict[str, Any]:
    data = {k: v for k, v in call.body.items() if k != "team"}
    return entry_json(await services_of(call).roster.create_entry(_managed_team(call, call.body["team"]), data))


@api.route(
    "PATCH",
    "/v1/roster/entries/{entry_id}",
    summary="Change a roster entry (the team's supervisors and admins)",
    tag="roster",
    body=Obj(ENTRY_FIELDS, at_least_one=True),
    response=ENTRY,
)
async def change_roster_entry(call: Call) -> dict[str, Any]:
    await _entry_team(call, call.path["entry_id"])
    return entry_json(await services_of(call).roster.update_entry(call.path["entry_id"], dict(call.body)))


@api.route(
    "DELETE",
    "/v1/roster/entries/{entry_id}",
    summary="Delete a roster entry (the team's supervisors and admins)",
    tag="roster",
    response=ANY,
)
async def delete_roster_entry(call: Call) -> dict[str, Any]:
    await _entry_team(call, call.path["entry_id"])
    await services_of(call).roster.delete_entry(call.path["entry_id"])
    return {"ok": True}


@api.route("GET", "/v1/roster/settings/{team_id}", summary="A team's roster settings", tag="roster", response=ANY)
async def roster_settings(call: Call) -> dict[str, Any]:
    return team_roster_json(await services_of(call).roster.team_settings(_seen_team(call, call.path["team_id"])))


@api.route(
    "PATCH",
    "/v1/roster/settings/{team_id}",
    summary="Change a team's minimum on shift, paging thresholds or routing strategy (the team's supervisors and"
    " admins) or its time zone (admins)",
    tag="roster",
    body=Obj(SETTINGS_FIELDS, at_least_one=True),
    response=ANY,
)
async def change_roster_settings(call: Call) -> dict[str, Any]:
    team = _managed_team(call, call.path["team_id"])
    admin_only = [k for k in ADMIN_ONLY_SETTINGS if k in call.body]
    if admin_only and not (call.viewer.every_ticket and call.viewer.agent.role is Role.ADMIN):
        raise ApiError(403, "forbidden", f"{', '.join(admin_only)}: this needs an admin")
    return team_roster_json(await services_of(call).roster.update_team_settings(team, dict(call.body)))


@api.route(
    "GET",
    "/v1/roster/export",
    summary="A team's roster as CSV (agents by email)",
    tag="roster",
    query={"team": TEAM_QUERY},
    response=None,
)
async def export_roster(call: Call) -> web.Response:
    team = _seen_team(call, _team_or_422(call))
    text = await services_of(call).roster.export_csv(team)
    return web.Response(
        text="\ufeff" + text,  # the BOM, as the reports': Excel then reads 早班 and the names as UTF-8
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="roster-{team}.csv"'},
    )


@api.route(
    "POST",
    "/v1/roster/import",
    summary="Replace a team's roster with a CSV (all or nothing; an error names the line)"
    " (the team's supervisors and admins)",
    tag="roster",
    body=Obj(
        {"team": Str(max_length=64, min_length=1), "csv": Str(max_length=1_000_000, min_length=1)},
        required=("team", "csv"),
    ),
    response=ANY,
)
async def import_roster(call: Call) -> dict[str, Any]:
    entries = await services_of(call).roster.import_csv(_managed_team(call, call.body["team"]), call.body["csv"])
    return {"items": [entry_json(e) for e in entries]}


# -- agents' routing profiles -----------------------------------------------------------------
@api.route(
    "GET",
    "/v1/agents/{agent_id}/profile",
    summary="An agent's capacity and skills; how pages reach them (page_channel, page_address) only for admins,"
    " the agent and supervisors of their teams",
    tag="roster",
    response=ANY,
)
async def agent_profile(call: Call) -> dict[str, Any]:
    agent_id = call.path["agent_id"]
    teams = await hub_of(call).store.desk.list_teams()
    if not shares_team(call.viewer, agent_id, teams):  # as presence: the members of one's teams
        raise ApiError(403, "team_only", "an agent's routing profile is for their teams' members and admins")
    doc = profile_to_doc(await services_of(call).roster.profile(agent_id))
    if not sees_contact_fields(call.viewer, agent_id, teams):
        del doc["page_channel"], doc["page_address"]
    return doc


@api.route(
    "PATCH",
    "/v1/agents/{agent_id}/profile",
    summary="Change an agent's capacity, skills (languages, channels) or how backup pages reach them (admin)",
    tag="roster",
    auth=ADMIN,
    body=Obj(PROFILE_FIELDS, at_least_one=True),
    response=ANY,
)
async def change_agent_profile(call: Call) -> dict[str, Any]:
    return profile_to_doc(await services_of(call).roster.update_profile(call.path["agent_id"], dict(call.body)))


# -- presence -----------------------------------------------------------------------------------
@api.route(
    "GET",
    "/v1/presence",
    summary="The presence (online, away or offline) of the members of your teams (admins: every agent)",
    tag="roster",
    response=ANY,
)
async def presence(call: Call) -> dict[str, Any]:
    states = await services_of(call).roster.presence()
    agents = await hub_of(call).store.accounts.list_agents()
    teams = await hub_of(call).store.desk.list_teams()
    shown = [a for a in agents if shares_team(call.viewer, a.id, teams)]
    return {"items": {a.id: states.get(a.id, "offline") for a in shown}}


@api.route("GET", "/v1/me/presence", summary="Your own presence and what you chose", tag="roster", response=ANY)
async def my_presence(call: Call) -> dict[str, Any]:
    state, record = await services_of(call).roster.state_of(call.me.id)
    return {"status": record.status if record else "online", "presence": state}


@api.route(
    "PUT",
    "/v1/me/presence",
    summary="Set your own presence (offline: no tickets are routed to you)",
    tag="roster",
    body=Obj({"status": Str(choices=PRESENCE_STATES)}, required=("status",)),
    response=ANY,
    personal=True,  # the caller's own state, like the inbox language
)
async def set_my_presence(call: Call) -> dict[str, Any]:
    roster = services_of(call).roster
    await roster.set_status(call.me.id, call.body["status"])
    state, record = await roster.state_of(call.me.id)
    return {"status": record.status if record else call.body["status"], "presence": state}


@api.route(
    "POST",
    "/v1/me/activity",
    summary="You are at the screen (keeps you from going away when idle)",
    tag="roster",
    response=ANY,
    personal=True,  # the caller's own presence: a read-only account's open inbox beats too
)
async def my_activity(call: Call) -> dict[str, Any]:
    return {"presence": await services_of(call).roster.activity(call.me.id)}


# -- backup pages ---------------------------------------------------------------------------------
def page_json(page: Page) -> dict[str, Any]:
    return {**page_to_doc(page), "channel": page.channel or None, "conversation_id": page.conversation_id or None}


@api.route(
    "GET",
    "/v1/pages",
    summary="Backup pages of your teams (admins: all), newest first, with their reasons; a page about a ticket"
    " you may not read is left out",
    tag="roster",
    query={"team": TEAM_QUERY, "active": Str(choices=("true", "false")), "limit": Int(minimum=1, maximum=500)},
    response=ANY,
)
async def list_pages(call: Call) -> dict[str, Any]:
    team = call.query.get("team")
    if team is not None:
        _seen_team(call, team)
    hub = hub_of(call)
    pages = await hub.store.roster.list_pages(
        team, active_only=call.query.get("active") == "true", limit=call.query.get("limit", 100)
    )
    return {"items": [page_json(p) for p in pages if await _page_shown(call, p)]}


async def _page_shown(call: Call, page: Page) -> bool:
    """A page of the viewer's teams; one about a ticket they may not read is left out whole:
    its number and text would say what the ticket is."""
    if not sees_team(call.viewer, page.team):
        return False
    if not page.conversation_id and "number" not in page.params:
        return True
    hub = hub_of(call)
    conversation = await hub.store.tickets.get_conversation(page.conversation_id) if page.conversation_id else None
    return conversation is not None and hub.access.allows(call.viewer, conversation, Access.READ)
