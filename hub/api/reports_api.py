"""Reports for supervisors and admins: GET /api/v1/reports/summary and one route per table
(volume, agents, backlog), and their CSV/XLSX export. A supervisor reads the figures of
their own teams; agents are refused (403). The figures are hub/reports.py's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from conversation.errors import InvalidInput
from conversation.reports import ReportFilters, ReportQuery, parse_period
from hub.access import NO_TEAM, members_of, report_teams
from hub.api.framework import ApiError, Call
from hub.api.routes import api, hub_of, reader_language
from hub.reports import TABLES, to_csv, to_xlsx
from hub.schema import Schema, Str

FILTERS: dict[str, Schema] = {
    "from": Str(max_length=40, description="start, inclusive: an ISO date (2026-01-01) or date-time"),
    "to": Str(
        max_length=40,
        description="end, exclusive: an ISO date or date-time (offset '+' as %2B); at most a year after from",
    ),
    "tz": Str(max_length=64, description="zone of offset-less dates, days and hours ([reports] timezone)"),
    "team": Str(max_length=64, description="a team id"),
    "channel": Str(max_length=64, description="a channel name"),
    "category": Str(max_length=64, description="a category id"),
    "agent": Str(max_length=64, description="an agent id"),
}
PERIOD = {
    "from": {"type": "string"},
    "to": {"type": "string"},
    "from_local": {"type": "string", "description": "from in the report's time zone (ISO 8601 with its offset)"},
    "to_local": {"type": "string", "description": "to in the report's time zone (ISO 8601 with its offset)"},
    "timezone": {"type": "string"},
    "filters": {"type": "object"},
}
NUMBER = {"type": ["number", "null"]}
SUMMARY = api.schema(
    "ReportSummary",
    {
        "type": "object",
        "properties": {
            **PERIOD,
            "volume": {"type": "integer"},
            "first_response_p50_s": NUMBER,
            "first_response_p90_s": NUMBER,
            "resolution_p50_s": NUMBER,
            "resolution_p90_s": NUMBER,
            "sla_met": NUMBER,
            "reopen_rate": NUMBER,
            "deflection_rate": NUMBER,
            "csat_average": NUMBER,
            "csat_responses": {"type": "integer"},
            "qa_average": NUMBER,
            "backlog": {"type": "integer"},
            "scope": {
                "type": "object",
                "description": "the teams and agents the caller's filters may offer (null: every one)",
            },
        },
    },
)
TABLE = api.schema("ReportTable", {"type": "object", "properties": PERIOD})


EXPORT_OPTIONS: dict[str, Schema] = {
    "table": Str(choices=TABLES, description="the table (CSV; XLSX: all of them when not given)"),
    "format": Str(choices=("csv", "xlsx"), description="csv (default) or xlsx"),
    "lang": Str(
        max_length=35,
        description="column headers: keys (machine-readable) or a language such as zh-CN or en "
        "(default: the caller's language)",
    ),
}


def report_query(call: Call, known: Collection[str] = FILTERS) -> ReportQuery:
    """The period and filters asked for, narrowed to the teams the caller may read. A query
    parameter the route does not know is refused: a misspelt filter must not widen a report."""
    try:
        teams = report_teams(call.viewer)
    except PermissionError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    unknown = sorted(set(call.request.query) - set(known))
    if unknown:
        raise InvalidInput(f"unknown query parameter(s): {', '.join(unknown)} (known: {', '.join(known)})")
    q = call.query
    team = q.get("team", "")
    if teams is not None and team and team not in teams:
        raise ApiError(403, "forbidden", f"team {team!r} is not one of your teams")
    zone = q.get("tz") or hub_of(call).config.reports.timezone
    start, end, zone = parse_period(q.get("from", ""), q.get("to", ""), zone)
    filters = ReportFilters(team, q.get("channel", ""), q.get("category", ""), q.get("agent", ""), teams)
    return ReportQuery(start, end, zone, filters)


@api.route(
    "GET",
    "/v1/reports/summary",
    summary="A period's figures: volume, first-response and resolution percentiles (business time), SLA met, "
    "reopen rate, deflection, CSAT, QA, backlog (supervisors: their teams; admins)",
    tag="reports",
    query=FILTERS,
    response=SUMMARY,
    open_query=True,  # report_query refuses unknown ones, after the caller's role
)
async def report_summary(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    summary = await hub.reports.summary(report_query(call))
    return summary | {"scope": await report_scope(call)}


async def report_scope(call: Call) -> dict[str, list[str] | None]:
    """What the caller's filters may offer: their teams and those teams' members (None: every one)."""
    teams = report_teams(call.viewer)
    if teams is None:
        return {"teams": None, "agents": None}
    members = members_of(call.viewer.teams, teams)
    return {"teams": [t for t in teams if t != NO_TEAM], "agents": sorted(members)}


# One route per table, each answering its hub/reports.py method (GET /v1/reports/<name>).
TABLE_ROUTES = {
    "volume": "Tickets created per local hour of day and per local day",
    "agents": "Per agent: tickets handled, replies, first-response and resolution medians, CSAT",
    "backlog": "Tickets open at the period's end, by age",
}


def _table_route(name: str, summary: str) -> None:
    async def report_table(call: Call) -> dict[str, Any]:
        reports = hub_of(call).reports
        read: Callable[[ReportQuery], Awaitable[dict[str, Any]]] = getattr(reports, name)
        return await read(report_query(call))

    report_table.__name__ = report_table.__qualname__ = f"report_{name}"  # the OpenAPI operationId
    api.route(
        "GET", f"/v1/reports/{name}", summary=summary, tag="reports", query=FILTERS, response=TABLE, open_query=True
    )(report_table)


for _name, _summary in TABLE_ROUTES.items():
    _table_route(_name, _summary)


@api.route(
    "GET",
    "/v1/reports/export",
    summary="A report table as CSV, or every table as an XLSX workbook (a sheet each)",
    tag="reports",
    query={**FILTERS, **EXPORT_OPTIONS},
    open_query=True,
)
async def report_export(call: Call) -> web.StreamResponse:
    query = report_query(call, {**FILTERS, **EXPORT_OPTIONS})
    reports = hub_of(call).reports
    kind = call.query.get("format", "csv")
    language = call.query.get("lang") or reader_language(call)
    day = query.start.astimezone(ZoneInfo(query.zone)).date().isoformat()  # the local first day, as the page shows
    if kind == "csv":
        if "table" not in call.query:
            raise InvalidInput("table: a CSV holds one table; name it (or ask for format=xlsx)")
        [table] = await reports.tables([call.query["table"]], query)
        return _download(to_csv(table, language), "text/csv; charset=utf-8", f"{table.name}-{day}.csv")
    names = [call.query["table"]] if "table" in call.query else list(TABLES)
    tables = await reports.tables(names, query)
    body = to_xlsx(tables, reports.period(query), language)
    return _download(body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"reports-{day}.xlsx")


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    response = web.Response(body=body, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    response.content_type, _, charset = content_type.partition("; charset=")
    if charset:
        response.charset = charset
    return response
