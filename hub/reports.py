"""Reports in the running hub: the figures of conversation/reports.py read from the store,
shaped as the API's summary and tables, and the tables written as CSV or XLSX.

Nothing here loads tickets: each figure is one store query (conversation/areas/reports.py);
this module only joins the small answers (a few hundred volume buckets, one row per agent).
CSAT, QA and the bot's deflection come from the reports area's `quality_figures`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from conversation.areas.reports import Backlog
from conversation.model import utcnow
from conversation.reports import BACKLOG_AGES, ReportQuery, days_of, fold_volume, ratio
from conversation.spreadsheet import safe_cell
from conversation.store import Store
from hub.access import NO_TEAM, members_of
from hub.api.serialize import iso
from hub.i18n import Texts, texts

TABLES = ("summary", "volume_by_hour", "volume_by_day", "agents", "backlog")
SUMMARY_FIGURES = (
    "volume",
    "first_response_p50_s",
    "first_response_p90_s",
    "resolution_p50_s",
    "resolution_p90_s",
    "sla_met",
    "reopen_rate",
    "deflection_rate",
    "csat_average",
    "csat_responses",
    "qa_average",
    "backlog",
)


AGENT_COLUMNS = (
    "agent_id",
    "name",
    "tickets_handled",
    "replies",
    "first_response_p50_s",
    "resolution_p50_s",
    "resolved",
    "csat_average",
)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


class ReportService:
    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    async def _backlog(self, query: ReportQuery) -> Backlog:
        """Open at the period's end, or now when the period ends later (a backlog of the future is unknown)."""
        return await self.store.reports.backlog(replace(query, end=min(query.end, self.clock())))

    def period(self, query: ReportQuery) -> dict[str, Any]:
        f = query.filters
        filters = {"team": f.team, "channel": f.channel, "category": f.category, "agent": f.agent}
        zone = ZoneInfo(query.zone)
        return {
            "from": iso(query.start),
            "to": iso(query.end),
            # the same instants in the report's zone, with their offset (what a reader's calendar says)
            "from_local": query.start.astimezone(zone).isoformat(),
            "to_local": query.end.astimezone(zone).isoformat(),
            "timezone": query.zone,
            "filters": {k: v for k, v in filters.items() if v},
        }

    async def summary(self, query: ReportQuery) -> dict[str, Any]:
        reports = self.store.reports
        buckets = await reports.volume_buckets(query)
        times = await reports.time_figures(query)
        backlog = await self._backlog(query)
        quality = await self.store.reports.quality_figures(query)
        return {
            **self.period(query),
            "volume": sum(n for _, n in buckets),
            "first_response_p50_s": _seconds(times.first_response_p50_s),
            "first_response_p90_s": _seconds(times.first_response_p90_s),
            "first_responses": times.first_responses,
            "resolution_p50_s": _seconds(times.resolution_p50_s),
            "resolution_p90_s": _seconds(times.resolution_p90_s),
            "resolved": times.resolved,
            "sla_met": ratio(times.sla_met, times.sla_counted),
            "sla_counted": times.sla_counted,
            "reopen_rate": ratio(times.reopened, times.first_resolved),
            "deflection_rate": quality.deflection_rate,
            "csat_average": quality.csat_average,
            "csat_responses": quality.csat_responses,
            "qa_average": quality.qa_average,
            "backlog": backlog.total,
        }

    async def volume(self, query: ReportQuery) -> dict[str, Any]:
        by_hour, by_day = fold_volume(await self.store.reports.volume_buckets(query), query.zone)
        days = [
            {"date": d.isoformat(), "tickets": by_day.get(d.isoformat(), 0)}
            for d in days_of(query.start, query.end, query.zone)
        ]
        return {
            **self.period(query),
            "by_hour": [{"hour": hour, "tickets": n} for hour, n in enumerate(by_hour)],
            "by_day": days,
        }

    async def agents(self, query: ReportQuery) -> dict[str, Any]:
        # A supervisor reads the agents of their own teams and those who worked their teams'
        # tickets, over every ticket the summary counts (their teams' and those without a team):
        # an agent of theirs who answered a ticket without a team was left out while the summary
        # counted it (a trial); another team's agent who only answered those is not theirs to read.
        teams = query.filters.teams
        people = None if teams is None else await self._people(query, tuple(t for t in teams if t != NO_TEAM))
        rows = [r for r in await self.store.reports.agent_figures(query) if people is None or r.agent_id in people]
        csat = await self.store.reports.csat_by_agent(query)
        names = {a.id: a.name or a.email for a in await self.store.accounts.list_agents()}
        items = [
            {
                "agent_id": row.agent_id,
                "name": names.get(row.agent_id, row.agent_id),
                "tickets_handled": row.tickets_handled,
                "replies": row.replies,
                "first_response_p50_s": _seconds(row.first_response_p50_s),
                "resolution_p50_s": _seconds(row.resolution_p50_s),
                "resolved": row.resolved,
                "csat_average": csat.get(row.agent_id),
            }
            for row in rows
        ]
        return {**self.period(query), "items": items}

    async def _people(self, query: ReportQuery, own: tuple[str, ...]) -> set[str]:
        """The members of the teams `own`, and whoever worked those teams' tickets in the period."""
        members = members_of(await self.store.desk.list_teams(), own)
        worked = await self.store.reports.agent_figures(replace(query, filters=replace(query.filters, teams=own)))
        return members | {row.agent_id for row in worked}

    async def backlog(self, query: ReportQuery) -> dict[str, Any]:
        backlog = await self._backlog(query)
        ages = [{"age": label, "tickets": backlog.by_age.get(label, 0)} for _, label in BACKLOG_AGES]
        return {**self.period(query), "total": backlog.total, "by_age": ages}

    async def tables(self, names: Sequence[str], query: ReportQuery) -> list[Table]:
        """Reports as rows and columns (what the CSV and XLSX exports write); each report is
        read once however many tables come from it."""
        read: dict[str, dict[str, Any]] = {}

        async def report(kind: str) -> dict[str, Any]:
            if kind not in read:
                read[kind] = await getattr(self, kind)(query)
            return read[kind]

        result = []
        for name in names:
            if name == "summary":
                summary = await report("summary")
                result.append(Table(name, ("figure", "value"), [(key, summary[key]) for key in SUMMARY_FIGURES]))
            elif name == "volume_by_hour":
                rows = [(r["hour"], r["tickets"]) for r in (await report("volume"))["by_hour"]]
                result.append(Table(name, ("hour", "tickets"), rows))
            elif name == "volume_by_day":
                rows = [(r["date"], r["tickets"]) for r in (await report("volume"))["by_day"]]
                result.append(Table(name, ("date", "tickets"), rows))
            elif name == "agents":
                items = (await report("agents"))["items"]
                result.append(Table(name, AGENT_COLUMNS, [tuple(item[c] for c in AGENT_COLUMNS) for item in items]))
            elif name == "backlog":
                rows = [(r["age"], r["tickets"]) for r in (await report("backlog"))["by_age"]]
                result.append(Table(name, ("age", "tickets"), rows))
            else:
                raise ValueError(f"unknown report table {name!r}")
        return result


def _cell(value: Any) -> Any:
    return "" if value is None else value


KEYS = "keys"  # ?lang=keys: the machine-readable column keys as headers


def _named(words: Texts, key: str) -> str:
    """A figure or column by its name, with the unit of a duration (its key ends in _s)."""
    name = words.get(f"reports.figure.{key}") if key in SUMMARY_FIGURES else words.get(f"reports.column.{key}")
    return name + words.get("reports.unit.seconds") if key.endswith("_s") else name


def headers(table: Table, language: str) -> list[str]:
    """The table's column headers in `language` (a figure's own name where it is one), or its keys."""
    if language == KEYS:
        return list(table.columns)
    words = texts("reports", language)
    return [_named(words, c) for c in table.columns]


def shown_rows(table: Table, language: str) -> list[tuple[Any, ...]]:
    """The rows as a reader of `language` reads them: the summary's figures and the backlog's
    ages by name (with `lang=keys`, their keys)."""
    if language == KEYS:
        return table.rows
    words = texts("reports", language)
    if table.name == "summary":
        return [(_named(words, key), *rest) for key, *rest in table.rows]
    if table.name == "backlog":
        return [(words.get(f"reports.age.{age}"), *rest) for age, *rest in table.rows]
    return table.rows


def to_csv(table: Table, language: str = KEYS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers(table, language))
    for row in shown_rows(table, language):
        writer.writerow([safe_cell(_cell(v)) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: Excel reads Chinese names as UTF-8


def sheet_name(table: Table, language: str) -> str:
    """The table's sheet in `language` (its key with lang=keys); a sheet name is at most 31 characters."""
    return (table.name if language == KEYS else texts("reports", language).get(f"reports.sheet.{table.name}"))[:31]


def period_row(period: dict[str, Any], language: str) -> list[Any]:
    """The period as the first row of each sheet: labels in `language` (keys with lang=keys)."""
    labels: tuple[str, ...] = ("from", "to", "timezone", "from (UTC)", "to (UTC)")
    if language != KEYS:
        words = texts("reports", language)
        keys = ("from", "to", "timezone", "from_utc", "to_utc")
        labels = tuple(words.get(f"reports.period.{key}") for key in keys)
    values = (period["from_local"], period["to_local"], period["timezone"], period["from"], period["to"])
    return [cell for pair in zip(labels, values, strict=True) for cell in pair]


def to_xlsx(tables: Sequence[Table], period: dict[str, Any], language: str = KEYS) -> bytes:
    """The tables as one workbook, a sheet each, and the period on the first rows of each."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(sheet_name(table, language))
        sheet.append(period_row(period, language))
        sheet.append([])
        sheet.append(headers(table, language))
        for row in shown_rows(table, language):
            sheet.append([_cell(v) for v in row])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    # openpyxl reads "=…" as a formula; a name is text, shown as typed (the CSV
                    # needs an apostrophe for that, a workbook only the cell's type)
                    cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
