"""MongoDB: report facts (collection `report_facts`, one document per ticket) and figures,
each an aggregation pipeline (percentiles: $sort, $push, $arrayElemAt at the nearest rank
of conversation/reports.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from conversation.areas.reports import AgentFigures, Backlog, QualityFigures, Reports, TimeFigures
from conversation.codec import as_utc
from conversation.mongo.db import Area, _unavailable_when_unreachable
from conversation.mongo.inbox import NOT_ONLY_A_QUESTION
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

# Resolutions are the resolver's (older facts, written before it was kept: the assignee's).
RESOLVER = {"$ifNull": [{"$cond": [{"$in": ["$resolver_id", ["", None]]}, "$agent_id", "$resolver_id"]}, ""]}
TIMES = ("created_at", "first_response_at", "resolved_at", "first_resolved_at")


def _match(filters: ReportFilters, agent_field: str, prefix: str = "") -> dict[str, Any]:
    match: dict[str, Any] = {}
    for name, value in (("team", filters.team), ("channel", filters.channel), ("category", filters.category)):
        if value:
            match[prefix + name] = value
    if filters.agent and agent_field:
        match[prefix + agent_field] = filters.agent
    if filters.teams is not None:
        match.setdefault(prefix + "team", {"$in": list(filters.teams)})
        if filters.team and filters.team not in filters.teams:
            match[prefix + "team"] = {"$in": []}
    return match


def _resolved_by(filters: ReportFilters) -> dict[str, Any]:
    """The filters over the resolutions: the agent filter is the resolver's."""
    match = _match(filters, "")
    if filters.agent:
        match["$expr"] = {"$eq": [RESOLVER, filters.agent]}
    return match


def _rank_index(percent: int, values: str) -> dict[str, Any]:
    """0-based index of the nearest rank: ceil(p * n / 100) - 1 (n >= 1 where it is used)."""
    return {"$toInt": {"$subtract": [{"$ceil": {"$divide": [{"$multiply": [percent, {"$size": values}]}, 100]}}, 1]}}


def _percentile_stages(value: str, percents: Sequence[int], group: Any = None) -> list[dict[str, Any]]:
    return [
        {"$sort": {value: 1}},
        {"$group": {"_id": group, "v": {"$push": f"${value}"}}},
        {
            "$project": {
                "n": {"$size": "$v"},
                **{f"p{p}": {"$arrayElemAt": ["$v", _rank_index(p, "$v")]} for p in percents},
            }
        },
    ]


def _in(start: datetime, end: datetime) -> dict[str, Any]:
    return {"$gte": start, "$lt": end}


class MongoReports(Area, Reports):
    @property
    def _facts(self) -> Any:
        return self._db.report_facts

    async def _aggregate(self, collection: Any, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [doc async for doc in await collection.aggregate(pipeline)]

    @_unavailable_when_unreachable
    async def get_fact(self, conversation_id: str) -> TicketFact | None:
        doc = await self._facts.find_one({"_id": conversation_id})
        if doc is None:
            return None
        doc["conversation_id"] = doc.pop("_id")
        for name in TIMES:
            doc[name] = as_utc(doc.get(name))
        spans = doc.pop("done_spans", [])
        doc["done_spans"] = tuple((as_utc(span["resolved_at"]), as_utc(span["reopened_at"])) for span in spans)
        return TicketFact(**doc)

    @_unavailable_when_unreachable
    async def save_fact(self, fact: TicketFact) -> None:
        doc = asdict(fact)
        doc["_id"] = doc.pop("conversation_id")
        doc["done_spans"] = [{"resolved_at": a, "reopened_at": b} for a, b in fact.done_spans]
        await self._facts.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    @_unavailable_when_unreachable
    async def volume_buckets(self, query: ReportQuery) -> list[tuple[datetime, int]]:
        width = BUCKET_SECONDS * 1000
        match = {"created_at": _in(query.start, query.end), "merged_into": "", **_match(query.filters, "assignee_id")}
        match |= NOT_ONLY_A_QUESTION  # a ticket that only holds a status question is no contact to count
        epoch_ms = {"$toLong": "$created_at"}
        docs = await self._aggregate(
            self._conversations,
            [
                {"$match": match},
                {"$group": {"_id": {"$subtract": [epoch_ms, {"$mod": [epoch_ms, width]}]}, "n": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ],
        )
        return [
            (datetime(1970, 1, 1, tzinfo=query.start.tzinfo) + timedelta(milliseconds=d["_id"]), d["n"]) for d in docs
        ]

    async def _percentiles(self, match: dict[str, Any], value: str, percents: Sequence[int]) -> dict[str, Any]:
        docs = await self._aggregate(self._facts, [{"$match": match}, *_percentile_stages(value, percents)])
        return docs[0] if docs else {"n": 0}

    @_unavailable_when_unreachable
    async def time_figures(self, query: ReportQuery) -> TimeFigures:
        period = _in(query.start, query.end)
        first = await self._percentiles(
            {
                "first_response_at": period,
                "first_response_s": {"$ne": None},
                **_match(query.filters, "first_responder_id"),
            },
            "first_response_s",
            (50, 90),
        )
        resolved_match = {"resolved_at": period, "resolved": True, **_resolved_by(query.filters)}
        resolution = await self._percentiles(
            {**resolved_match, "resolution_s": {"$ne": None}}, "resolution_s", (50, 90)
        )
        sla = await self._aggregate(
            self._facts,
            [
                {"$match": {**resolved_match, "sla_met": {"$ne": None}}},
                {"$group": {"_id": None, "n": {"$sum": 1}, "met": {"$sum": {"$cond": ["$sla_met", 1, 0]}}}},
            ],
        )
        reopen = await self._aggregate(
            self._facts,
            [
                {"$match": {"first_resolved_at": period, **_match(query.filters, "agent_id")}},
                {
                    "$group": {
                        "_id": None,
                        "n": {"$sum": 1},
                        "reopened": {"$sum": {"$cond": [{"$gt": ["$reopens", 0]}, 1, 0]}},
                    }
                },
            ],
        )
        sla_doc = sla[0] if sla else {"n": 0, "met": 0}
        reopen_doc = reopen[0] if reopen else {"n": 0, "reopened": 0}
        return TimeFigures(
            first.get("p50"),
            first.get("p90"),
            first["n"],
            resolution.get("p50"),
            resolution.get("p90"),
            resolution["n"],
            sla_doc["n"],
            sla_doc["met"],
            reopen_doc["n"],
            reopen_doc["reopened"],
        )

    @_unavailable_when_unreachable
    async def backlog(self, query: ReportQuery) -> Backlog:
        age = {"$subtract": [query.end, "$created_at"]}  # milliseconds
        branches: list[dict[str, Any]] = [
            {"case": {"$lt": [age, bound * 1000]}, "then": label} for bound, label in BACKLOG_AGES if bound is not None
        ]
        match = {
            "created_at": {"$lt": query.end},
            "merged_into": "",
            "$or": [{"status": {"$nin": ["resolved", "closed"]}}, {"resolved_at": {"$gte": query.end}}],
            **_match(query.filters, "assignee_id"),
        }
        docs = await self._aggregate(
            self._conversations,
            [
                {"$match": match},
                {
                    "$group": {
                        "_id": {"$switch": {"branches": branches, "default": BACKLOG_AGES[-1][1]}},
                        "n": {"$sum": 1},
                    }
                },
            ],
        )
        by_age = {label: 0 for _, label in BACKLOG_AGES}
        by_age.update({d["_id"]: d["n"] for d in docs})
        # Of those, the ones done at the end and reopened since (one span at most each): out.
        span = {"resolved_at": {"$lt": query.end}, "reopened_at": {"$gte": query.end}}
        c_age = {"$subtract": [query.end, "$c.created_at"]}
        c_branches = [{"case": {"$lt": [c_age, b["case"]["$lt"][1]]}, "then": b["then"]} for b in branches]
        done = await self._aggregate(
            self._facts,
            [
                {"$match": {"done_spans": {"$elemMatch": span}, "created_at": {"$lt": query.end}}},
                {"$lookup": {"from": "conversations", "localField": "_id", "foreignField": "_id", "as": "c"}},
                {"$unwind": "$c"},
                {
                    "$match": {
                        "c.merged_into": "",
                        "c.created_at": {"$lt": query.end},
                        **_match(query.filters, "assignee_id", "c."),
                    }
                },
                {
                    "$group": {
                        "_id": {"$switch": {"branches": c_branches, "default": BACKLOG_AGES[-1][1]}},
                        "n": {"$sum": 1},
                    }
                },
            ],
        )
        for d in done:
            by_age[d["_id"]] -= d["n"]
        return Backlog(sum(by_age.values()), by_age)

    @_unavailable_when_unreachable
    async def agent_figures(self, query: ReportQuery) -> list[AgentFigures]:
        filters = query.filters
        period = _in(query.start, query.end)
        rows: dict[str, dict[str, Any]] = {}
        conv_match = _match(ReportFilters(filters.team, filters.channel, filters.category, "", filters.teams), "", "c.")
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "author_type": "agent",
                    "kind": "message",
                    "created_at": period,
                    **({"author_id": filters.agent} if filters.agent else {}),
                }
            }
        ]
        if conv_match:
            pipeline += [
                {
                    "$lookup": {
                        "from": "conversations",
                        "localField": "conversation_id",
                        "foreignField": "_id",
                        "as": "c",
                    }
                },
                {"$unwind": "$c"},
                {"$match": conv_match},
            ]
        pipeline.append(
            {"$group": {"_id": "$author_id", "replies": {"$sum": 1}, "tickets": {"$addToSet": "$conversation_id"}}}
        )
        for doc in await self._aggregate(self._messages, pipeline):
            rows.setdefault(doc["_id"], {}).update(replies=doc["replies"], tickets_handled=len(doc["tickets"]))
        first_match = {
            "first_response_at": period,
            "first_response_s": {"$ne": None},
            "first_responder_id": {"$ne": ""},
            **_match(filters, "first_responder_id"),
        }
        for doc in await self._aggregate(
            self._facts,
            [{"$match": first_match}, *_percentile_stages("first_response_s", (50,), "$first_responder_id")],
        ):
            rows.setdefault(doc["_id"], {})["first_response_p50_s"] = doc["p50"]
        resolved_match = {
            "resolved_at": period,
            "resolved": True,
            "resolution_s": {"$ne": None},
            **_resolved_by(filters),
        }
        by_resolver = {"$match": {"$expr": {"$ne": [RESOLVER, ""]}}}
        for doc in await self._aggregate(
            self._facts,
            [{"$match": resolved_match}, by_resolver, *_percentile_stages("resolution_s", (50,), RESOLVER)],
        ):
            rows.setdefault(doc["_id"], {}).update(resolution_p50_s=doc["p50"], resolved=doc["n"])
        return [AgentFigures(agent_id, **values) for agent_id, values in sorted(rows.items())]

    @_unavailable_when_unreachable
    async def quality_figures(self, query: ReportQuery) -> QualityFigures:
        match = _match(query.filters, "assignee_id", "c.")
        pipeline: list[dict[str, Any]] = [
            {"$match": {"plugin": BOT_PLUGIN, "kind": BOT_ANSWER_KIND, "created_at": _in(query.start, query.end)}}
        ]
        if match:
            pipeline += [
                {
                    "$lookup": {
                        "from": "conversations",
                        "localField": "conversation_id",
                        "foreignField": "_id",
                        "as": "c",
                    }
                },
                {"$unwind": "$c"},
                {"$match": match},
            ]
        pipeline += [
            {
                "$group": {
                    "_id": "$conversation_id",
                    "deflected": {"$max": {"$cond": [{"$eq": ["$status", DEFLECTED]}, 1, 0]}},
                }
            },
            {"$group": {"_id": None, "answered": {"$sum": 1}, "deflected": {"$sum": "$deflected"}}},
        ]
        docs = await self._aggregate(self._db.records, pipeline)
        bot = docs[0] if docs else {"answered": 0, "deflected": 0}
        rated = {**_match(query.filters, "agent_id"), "score": {"$ne": None}}
        average = {"$group": {"_id": None, "average": {"$avg": "$score"}, "count": {"$sum": 1}}}
        csat = await self._aggregate(
            self._db.csat_surveys, [{"$match": {**rated, "rated_at": _in(query.start, query.end)}}, average]
        )
        qa = await self._aggregate(
            self._db.qa_reviews, [{"$match": {**rated, "created_at": _in(query.start, query.end)}}, average]
        )
        return QualityFigures(
            _rounded(csat[0]["average"]) if csat else None,
            csat[0]["count"] if csat else 0,
            _rounded(qa[0]["average"]) if qa else None,
            ratio(bot["deflected"], bot["answered"]),
        )

    @_unavailable_when_unreachable
    async def csat_by_agent(self, query: ReportQuery) -> dict[str, float]:
        match = {
            **_match(query.filters, "agent_id"),
            "score": {"$ne": None},
            "rated_at": _in(query.start, query.end),
            "agent_id": {"$ne": ""},
        }
        if query.filters.agent:
            match["agent_id"] = query.filters.agent
        docs = await self._aggregate(
            self._db.csat_surveys, [{"$match": match}, {"$group": {"_id": "$agent_id", "average": {"$avg": "$score"}}}]
        )
        return {doc["_id"]: round(doc["average"], 2) for doc in docs}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
