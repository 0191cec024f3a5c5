"""SQLite: report facts and figures, each one SQL statement (percentiles by ROW_NUMBER over
the sorted values: the nearest-rank rule of conversation/reports.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conversation.areas.reports import AgentFigures, Backlog, QualityFigures, Reports, TimeFigures
from conversation.codec import from_epoch_ms, to_epoch_ms
from conversation.reports import (
    BACKLOG_AGES,
    BOT_ANSWER_KIND,
    BOT_PLUGIN,
    BUCKET_SECONDS,
    DEFLECTED,
    ReportFilters,
    ReportQuery,
    TicketFact,
    ratio,
)
from conversation.sqlite.db import Area
from conversation.sqlite.inbox import NOT_ONLY_A_QUESTION

FACT_COLUMNS = (
    "conversation_id",
    "created_at",
    "team",
    "channel",
    "category",
    "agent_id",
    "first_response_at",
    "first_response_s",
    "first_responder_id",
    "resolved_at",
    "first_resolved_at",
    "resolution_s",
    "sla_met",
    "reopens",
    "resolved",
    "resolver_id",
)
# Resolutions are the resolver's (older facts, written before it was kept: the assignee's).
RESOLVER = "COALESCE(NULLIF(resolver_id, ''), agent_id)"
TIMES = {"created_at", "first_response_at", "resolved_at", "first_resolved_at"}


def _where(filters: ReportFilters, agent_column: str, prefix: str = "") -> tuple[str, list[Any]]:
    """The filters as SQL conditions (each starting with AND) over a table with team, channel, category columns."""
    sql, params = "", []
    for column, value in (("team", filters.team), ("channel", filters.channel), ("category", filters.category)):
        if value:
            sql += f" AND {prefix}{column} = ?"
            params.append(value)
    if filters.agent:
        sql += f" AND {prefix}{agent_column} = ?"
        params.append(filters.agent)
    if filters.teams is not None:
        sql += f" AND {prefix}team IN ({', '.join('?' * len(filters.teams))})"
        params.extend(filters.teams)
    return sql, params


def _period(query: ReportQuery) -> list[Any]:
    return [to_epoch_ms(query.start), to_epoch_ms(query.end)]


def _percentiles_sql(value: str, table_where: str, percents: Sequence[int], group: str = "") -> str:
    """Nearest-rank percentiles of `value` among the rows of `table_where`, per `group` (or overall)."""
    over = f"PARTITION BY {group} " if group else ""
    picks = ", ".join(f"MAX(CASE WHEN rn = ({p} * n + 99) / 100 THEN v END)" for p in percents)
    key = "g, " if group else ""
    return (
        f"WITH r AS (SELECT {group + ' AS g, ' if group else ''}{value} AS v, "
        f"ROW_NUMBER() OVER ({over}ORDER BY {value}) AS rn, COUNT(*) OVER ({over.strip()}) AS n "
        f"FROM {table_where}) SELECT {key}MAX(n), {picks} FROM r{' GROUP BY g' if group else ''}"
    )


class SQLiteReports(Area, Reports):
    async def get_fact(self, conversation_id: str) -> TicketFact | None:
        def job(conn: sqlite3.Connection) -> TicketFact | None:
            row = conn.execute(
                f"SELECT {', '.join(FACT_COLUMNS)} FROM report_facts WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                return None
            values = dict(zip(FACT_COLUMNS, tuple(row), strict=True))
            for name in TIMES:
                values[name] = from_epoch_ms(values[name])
            values["sla_met"] = None if values["sla_met"] is None else bool(values["sla_met"])
            values["resolved"] = bool(values["resolved"])
            spans = conn.execute(
                "SELECT resolved_at, reopened_at FROM report_done_spans WHERE conversation_id = ? ORDER BY resolved_at",
                (conversation_id,),
            ).fetchall()
            values["done_spans"] = tuple((from_epoch_ms(a), from_epoch_ms(b)) for a, b in spans)
            return TicketFact(**values)

        return await self._call(job, write=False)

    async def save_fact(self, fact: TicketFact) -> None:
        values = [getattr(fact, name) for name in FACT_COLUMNS]
        row = [to_epoch_ms(v) if name in TIMES else v for name, v in zip(FACT_COLUMNS, values, strict=True)]
        row = [int(v) if isinstance(v, bool) else v for v in row]
        sql = (
            f"INSERT OR REPLACE INTO report_facts ({', '.join(FACT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(FACT_COLUMNS))})"
        )
        spans = [(fact.conversation_id, to_epoch_ms(a), to_epoch_ms(b)) for a, b in fact.done_spans]

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(sql, row)
            conn.execute("DELETE FROM report_done_spans WHERE conversation_id = ?", (fact.conversation_id,))
            conn.executemany("INSERT INTO report_done_spans VALUES (?, ?, ?)", spans)

        await self._call(job)

    async def volume_buckets(self, query: ReportQuery) -> list[tuple[datetime, int]]:
        where, params = _where(query.filters, "assignee_id")
        width = BUCKET_SECONDS * 1000

        def job(conn: sqlite3.Connection) -> list[tuple[datetime, int]]:
            rows = conn.execute(
                # a ticket that only holds a status question is no contact to count (the inbox hides it too)
                f"SELECT created_at / {width} AS b, COUNT(*) FROM conversations c WHERE created_at >= ? "
                f"AND created_at < ? AND merged_into = '' AND {NOT_ONLY_A_QUESTION}{where} GROUP BY b ORDER BY b",
                [*_period(query), *params],
            ).fetchall()
            return [(from_epoch_ms(b * width), n) for b, n in rows]  # type: ignore[misc]

        return await self._call(job, write=False)

    async def time_figures(self, query: ReportQuery) -> TimeFigures:
        first_where, first_params = _where(query.filters, "first_responder_id")
        where, params = _where(query.filters, "agent_id")
        resolved_where, resolved_params = _where(query.filters, RESOLVER)
        period = _period(query)

        def job(conn: sqlite3.Connection) -> TimeFigures:
            first = conn.execute(
                _percentiles_sql(
                    "first_response_s",
                    "report_facts WHERE first_response_at >= ? AND first_response_at < ? "
                    f"AND first_response_s IS NOT NULL{first_where}",
                    (50, 90),
                ),
                [*period, *first_params],
            ).fetchone()
            resolution = conn.execute(
                _percentiles_sql(
                    "resolution_s",
                    "report_facts WHERE resolved_at >= ? AND resolved_at < ? AND resolution_s IS NOT NULL"
                    f" AND resolved = 1{resolved_where}",
                    (50, 90),
                ),
                [*period, *resolved_params],
            ).fetchone()
            sla = conn.execute(
                "SELECT COUNT(sla_met), COALESCE(SUM(sla_met), 0) FROM report_facts "
                f"WHERE resolved_at >= ? AND resolved_at < ? AND resolved = 1{resolved_where}",
                [*period, *resolved_params],
            ).fetchone()
            reopen = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(reopens > 0), 0) FROM report_facts "
                f"WHERE first_resolved_at >= ? AND first_resolved_at < ?{where}",
                [*period, *params],
            ).fetchone()
            return TimeFigures(
                first[1],
                first[2],
                first[0] or 0,
                resolution[1],
                resolution[2],
                resolution[0] or 0,
                sla[0],
                sla[1],
                reopen[0],
                reopen[1],
            )

        return await self._call(job, write=False)

    async def backlog(self, query: ReportQuery) -> Backlog:
        where, params = _where(query.filters, "assignee_id")
        end = to_epoch_ms(query.end)
        cases = " ".join(
            f"WHEN ? - created_at < {bound * 1000} THEN '{label}'" for bound, label in BACKLOG_AGES if bound is not None
        )
        bounded = sum(1 for bound, _ in BACKLOG_AGES if bound is not None)

        # Two index scans rather than one OR: the tickets open now (a partial index) and those
        # resolved since the end (by resolution time).
        sql = (
            f"SELECT CASE {cases} ELSE '{BACKLOG_AGES[-1][1]}' END AS age, COUNT(*) FROM ("
            "SELECT created_at FROM conversations WHERE status IN ('open', 'pending', 'snoozed') "
            f"AND merged_into = '' AND created_at < ?{where} UNION ALL "
            "SELECT created_at FROM conversations WHERE resolved_at >= ? AND merged_into = '' "
            f"AND status IN ('resolved', 'closed') AND created_at < ?{where}) GROUP BY age"
        )

        # Of those, the ones done at the end and reopened since (one span at most each): out.
        c_where, c_params = _where(query.filters, "assignee_id", "c.")
        done_sql = (
            f"SELECT CASE {cases.replace('created_at', 'c.created_at')} ELSE '{BACKLOG_AGES[-1][1]}' END AS age, "
            "COUNT(*) FROM report_done_spans s JOIN conversations c ON c.id = s.conversation_id "
            f"WHERE s.reopened_at >= ? AND s.resolved_at < ? AND c.created_at < ? AND c.merged_into = ''{c_where} "
            "GROUP BY age"
        )

        def job(conn: sqlite3.Connection) -> Backlog:
            rows = conn.execute(sql, [*([end] * bounded), end, *params, end, end, *params]).fetchall()
            by_age = {label: 0 for _, label in BACKLOG_AGES}
            by_age.update({label: n for label, n in rows})
            for label, n in conn.execute(done_sql, [*([end] * bounded), end, end, end, *c_params]):
                by_age[label] -= n
            return Backlog(sum(by_age.values()), by_age)

        return await self._call(job, write=False)

    async def agent_figures(self, query: ReportQuery) -> list[AgentFigures]:
        filters = query.filters
        period = _period(query)
        conv_where, conv_params = _where(
            ReportFilters(filters.team, filters.channel, filters.category, "", filters.teams), "", "c."
        )
        first_where, first_params = _where(filters, "first_responder_id")
        where, params = _where(filters, RESOLVER)
        join = " JOIN conversations c ON c.id = m.conversation_id" if conv_where else ""
        agent = " AND m.author_id = ?" if filters.agent else ""

        def job(conn: sqlite3.Connection) -> list[AgentFigures]:
            rows: dict[str, dict[str, Any]] = {}
            for author, replies, tickets in conn.execute(
                "SELECT m.author_id, COUNT(*), COUNT(DISTINCT m.conversation_id) FROM messages m" + join + " "
                "WHERE m.author_type = 'agent' AND m.kind = 'message' AND m.created_at >= ? AND m.created_at < ?"
                f"{agent}{conv_where} GROUP BY m.author_id",
                [*period, *([filters.agent] if filters.agent else []), *conv_params],
            ):
                rows.setdefault(author, {}).update(replies=replies, tickets_handled=tickets)
            for author, _n, p50 in conn.execute(
                _percentiles_sql(
                    "first_response_s",
                    "report_facts WHERE first_response_at >= ? AND first_response_at < ? "
                    f"AND first_response_s IS NOT NULL AND first_responder_id != ''{first_where}",
                    (50,),
                    group="first_responder_id",
                ),
                [*period, *first_params],
            ):
                rows.setdefault(author, {})["first_response_p50_s"] = p50
            for author, n, p50 in conn.execute(
                _percentiles_sql(
                    "resolution_s",
                    "report_facts WHERE resolved_at >= ? AND resolved_at < ? AND resolution_s IS NOT NULL "
                    f"AND resolved = 1 AND {RESOLVER} != ''{where}",
                    (50,),
                    group=RESOLVER,
                ),
                [*period, *params],
            ):
                rows.setdefault(author, {}).update(resolution_p50_s=p50, resolved=n)
            return [AgentFigures(agent_id, **values) for agent_id, values in sorted(rows.items())]

        return await self._call(job, write=False)

    async def quality_figures(self, query: ReportQuery) -> QualityFigures:
        """CSAT and QA from the quality area's tables (each keeps the ticket's agent, team,
        channel and category as rated), the bot's deflection from its answer records."""
        where, params = _where(query.filters, "assignee_id", "c.")
        bot_sql = (
            "SELECT COUNT(DISTINCT r.conversation_id), "
            f"COUNT(DISTINCT CASE WHEN r.status = '{DEFLECTED}' THEN r.conversation_id END) "
            "FROM records r JOIN conversations c ON c.id = r.conversation_id "
            f"WHERE r.plugin = ? AND r.kind = ? AND r.created_at >= ? AND r.created_at < ?{where}"
        )
        rated_where, rated_params = _where(query.filters, "agent_id")
        csat_sql = (
            "SELECT AVG(score), COUNT(*) FROM csat_surveys "
            f"WHERE score IS NOT NULL AND rated_at >= ? AND rated_at < ?{rated_where}"
        )
        qa_sql = f"SELECT AVG(score) FROM qa_reviews WHERE created_at >= ? AND created_at < ?{rated_where}"
        period = _period(query)

        def job(conn: sqlite3.Connection) -> QualityFigures:
            answered, deflected = conn.execute(bot_sql, [BOT_PLUGIN, BOT_ANSWER_KIND, *period, *params]).fetchone()
            csat, rated = conn.execute(csat_sql, [*period, *rated_params]).fetchone()
            (qa,) = conn.execute(qa_sql, [*period, *rated_params]).fetchone()
            return QualityFigures(_rounded(csat), rated, _rounded(qa), ratio(deflected, answered))

        return await self._call(job, write=False)

    async def csat_by_agent(self, query: ReportQuery) -> dict[str, float]:
        where, params = _where(query.filters, "agent_id")
        sql = (
            "SELECT agent_id, AVG(score) FROM csat_surveys "
            f"WHERE score IS NOT NULL AND rated_at >= ? AND rated_at < ? AND agent_id != ''{where} GROUP BY agent_id"
        )
        rows = await self._call(lambda conn: conn.execute(sql, [*_period(query), *params]).fetchall(), write=False)
        return {agent: round(average, 2) for agent, average in rows}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
