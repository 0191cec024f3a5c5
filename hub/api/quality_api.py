"""/api/v1 routes of service quality: a ticket's CSAT survey, QA scorecards (admins define
them), the weekly review sample and reviews (reviewers: supervisors and admins), the
calibration of two reviewers on one ticket, an agent's own results, and the CSAT and QA
figures per agent, team, channel or category (computed by the store).

A ticket's survey and reviews are reached through the ticket (AccessPolicy, a 404 when the
caller may not see it). An agent sees only the reviews of their own work; reviewers see
every review of a ticket they may see, and where reviewers disagree.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from conversation.model import Role
from conversation.quality import (
    GROUPS,
    MAX_CRITERIA,
    MAX_NAME,
    Candidate,
    CriterionKind,
    Figure,
    Review,
    Scorecard,
    Survey,
    parse_week,
    review_to_doc,
    scorecard_to_doc,
    survey_to_doc,
    week_name,
)
from conversation.reports import read_moment
from hub.access import NO_TEAM, Access, members_of, report_teams
from hub.api.framework import ADMIN, ApiError, Call
from hub.api.routes import ANY, api, conversation_or_404, hub_of, reader_language, services_of
from hub.api.serialize import iso
from hub.i18n import match_locale
from hub.schema import Arr, Bool, Int, Map, Obj, Str
from hub.services.quality import Calibration

REVIEWERS = (Role.ADMIN, Role.SUPERVISOR)
MAX_SAMPLE = 20
CRITERION = Obj(
    {
        "id": Str(max_length=40, min_length=1),
        "label": Str(max_length=MAX_NAME, min_length=1),
        "kind": Str(choices=[k.value for k in CriterionKind]),
        "weight": Int(minimum=0, maximum=100),
        "critical": Bool(),
    },
    required=("id", "label"),
)
SCORECARD_BODY = Obj(
    {
        "name": Str(max_length=MAX_NAME, min_length=1),
        "criteria": Arr(CRITERION, max_items=MAX_CRITERIA),
        "active": Bool(),
    },
    required=("name", "criteria"),
)
SCORECARD = api.schema(
    "Scorecard",
    {
        "type": "object",
        "description": "weighted criteria, yes_no (1 yes, 0 no) or scale (1-5); a failed critical one fails "
        "a review, which then scores 0 (in every average too)",
    },
)
REVIEW = api.schema("Review", {"type": "object", "description": "one reviewer's review of one ticket (score 0-100)"})


def _require_reviewer(call: Call) -> None:
    if call.viewer.agent.role not in REVIEWERS:
        raise ApiError(403, "forbidden", "reviews are made by supervisors and admins")


def scorecard_json(card: Scorecard) -> dict[str, Any]:
    doc = scorecard_to_doc(card)
    return {**doc, "updated_at": iso(card.updated_at)}


def review_json(review: Review) -> dict[str, Any]:
    return {**review_to_doc(review), "created_at": iso(review.created_at)}


def survey_json(survey: Survey) -> dict[str, Any]:
    doc = survey_to_doc(survey)
    times = ("asked_at", "rated_at", "commented_at", "answer_until")
    return {**doc, **{key: iso(doc[key]) for key in times}}


def figure_json(figure: Figure) -> dict[str, Any]:
    return {"key": figure.key, "average": figure.average, "count": figure.count}


def calibration_json(found: Calibration) -> dict[str, Any]:
    return {
        "scorecard": scorecard_json(found.scorecard),
        "reviews": [review_json(r) for r in found.reviews],
        "disagreements": [
            {"criterion": d.criterion, "scores": list(d.scores), "spread": d.spread} for d in found.disagreements
        ],
    }


# -- scorecards ----------------------------------------------------------------------------------
@api.route("GET", "/v1/qa/scorecards", summary="QA scorecards, by name", tag="quality", response=ANY)
async def list_scorecards(call: Call) -> dict[str, Any]:
    return {"items": [scorecard_json(c) for c in await hub_of(call).store.quality.list_scorecards()]}


@api.route(
    "POST",
    "/v1/qa/scorecards",
    summary="Define a QA scorecard (admins)",
    tag="quality",
    auth=ADMIN,
    body=SCORECARD_BODY,
    response=SCORECARD,
    status=201,
)
async def create_scorecard(call: Call) -> dict[str, Any]:
    return scorecard_json(await services_of(call).quality.save_scorecard(call.body))


@api.route(
    "PUT",
    "/v1/qa/scorecards/{scorecard_id}",
    summary="Replace a QA scorecard (admins); `active: false` retires it (its reviews stay)",
    tag="quality",
    auth=ADMIN,
    body=SCORECARD_BODY,
    response=SCORECARD,
)
async def replace_scorecard(call: Call) -> dict[str, Any]:
    return scorecard_json(await services_of(call).quality.save_scorecard(call.body, call.path["scorecard_id"]))


# -- the sample and reviews --------------------------------------------------------------------------
@api.route(
    "GET",
    "/v1/qa/sample",
    summary="The review sample of a week: per agent up to `size` tickets they resolved, drawn at random, "
    "biased to low CSAT and SLA breaches; the same `seed` gives the same sample (reviewers)",
    tag="quality",
    query={
        "week": Str(max_length=8, description="ISO week like 2027-W05 ([reports] timezone); default: this week"),
        "size": Int(minimum=1, maximum=MAX_SAMPLE),
        "seed": Str(max_length=64),
    },
    response=ANY,
)
async def sample(call: Call) -> dict[str, Any]:
    _require_reviewer(call)
    hub = hub_of(call)
    zone = ZoneInfo(hub.config.reports.timezone or "UTC")  # weeks start on Monday where reports count them
    week = call.query.get("week") or week_name(hub.actions.clock().astimezone(zone).date())
    since, until = parse_week(week, zone)
    picked = await services_of(call).quality.sample(
        since, until, size=call.query.get("size", 5), seed=call.query.get("seed", week)
    )
    items = []
    for candidate in picked:
        ticket = await hub.store.tickets.get_conversation(candidate.conversation_id)
        if ticket is not None and hub.access.allows(call.viewer, ticket, Access.READ):
            reviews = await hub.store.quality.list_reviews(conversation_id=ticket.id)
            reviewed = any(r.reviewer_id == call.me.id for r in reviews)  # by the caller: what is done
            items.append(
                {**_candidate_json(candidate), "number": ticket.number, "subject": ticket.subject, "reviewed": reviewed}
            )
    return {"week": week, "from": iso(since), "to": iso(until), "items": items}


def _candidate_json(candidate: Candidate) -> dict[str, Any]:
    return {
        "conversation_id": candidate.conversation_id,
        "agent_id": candidate.agent_id,
        "resolved_at": iso(candidate.resolved_at),
        "csat": candidate.csat,
        "sla_breached": candidate.sla_breached,
    }


@api.route(
    "GET",
    "/v1/conversations/{conversation_id}/qa",
    summary="A ticket's QA reviews: reviewers see every review and, per scorecard, where reviewers "
    "disagree (calibration); the ticket's agent sees the reviews of their own work",
    tag="quality",
    response=ANY,
)
async def ticket_reviews(call: Call) -> dict[str, Any]:
    ticket = await conversation_or_404(call)
    calibrations = await services_of(call).quality.calibration(ticket.id)
    if call.viewer.agent.role in REVIEWERS:
        return {"reviewer": True, "scorecards": [calibration_json(c) for c in calibrations]}
    mine = [
        {
            "scorecard": scorecard_json(c.scorecard),
            "reviews": [review_json(r) for r in c.reviews if r.agent_id == call.me.id],
        }
        for c in calibrations
    ]
    return {"reviewer": False, "scorecards": [m for m in mine if m["reviews"]]}


@api.route(
    "POST",
    "/v1/conversations/{conversation_id}/qa",
    summary="Review the agent of a resolved or closed ticket on a scorecard (422 ticket_not_resolved "
    "otherwise): every criterion scored (yes_no 0/1, scale 1-5), "
    "an optional note per criterion and a comment (reviewers; one review per reviewer and scorecard)",
    tag="quality",
    body=Obj(
        {
            "scorecard_id": Str(max_length=64, min_length=1),
            "scores": Map(Int(minimum=0, maximum=5), max_items=MAX_CRITERIA),
            "notes": Map(Str(max_length=4000), max_items=MAX_CRITERIA),
            "comment": Str(max_length=4000),
        },
        required=("scorecard_id", "scores"),
    ),
    response=REVIEW,
    status=201,
)
async def create_review(call: Call) -> dict[str, Any]:
    ticket = await conversation_or_404(call)  # first: a ticket the caller may not see is a 404 for anyone
    _require_reviewer(call)
    review = await services_of(call).quality.review(
        ticket,
        scorecard_id=call.body["scorecard_id"],
        scores=call.body["scores"],
        reviewer_id=call.me.id,
        comment=call.body.get("comment", ""),
        notes=call.body.get("notes"),
    )
    return review_json(review)


@api.route(
    "GET",
    "/v1/qa/mine",
    summary="The reviews of my own work, newest first, with their scorecards",
    tag="quality",
    response=ANY,
)
async def my_reviews(call: Call) -> dict[str, Any]:
    store = hub_of(call).store
    reviews = await store.quality.list_reviews(agent_id=call.me.id)
    cards = {c.id: scorecard_json(c) for c in await store.quality.list_scorecards()}
    return {"items": [{**review_json(r), "scorecard": cards.get(r.scorecard_id)} for r in reviews]}


# -- CSAT --------------------------------------------------------------------------------------------
@api.route(
    "GET",
    "/v1/conversations/{conversation_id}/csat",
    summary="The ticket's satisfaction survey: asked when, the score (1-5) and comment if given",
    tag="quality",
    response=ANY,
)
async def ticket_csat(call: Call) -> dict[str, Any]:
    ticket = await conversation_or_404(call)
    survey = await hub_of(call).store.quality.get_survey(ticket.id)
    return {"survey": survey_json(survey) if survey else None}


@api.route(
    "GET",
    "/v1/quality/figures",
    summary="CSAT and QA averages with their counts for a period, per agent_id, team, channel or category "
    "(or for all), computed by the store (supervisors: their own teams' tickets only; admins)",
    tag="quality",
    query={
        "from": Str(
            max_length=64,
            description="ISO date (2026-11-01) or date-time; without an offset in the [reports] timezone; "
            "default 30 days before `to`",
        ),
        "to": Str(max_length=64, description="ISO date or date-time, as `from`; default now"),
        "by": Str(choices=list(GROUPS), description="group by this; left out: one figure for all"),
    },
    response=ANY,
)
async def figures(call: Call) -> dict[str, Any]:
    try:  # a supervisor reads their own teams' figures and those without a team, as reports do
        teams = report_teams(call.viewer)
    except PermissionError:
        raise ApiError(403, "forbidden", "figures are for supervisors and admins") from None
    hub = hub_of(call)
    zone = hub.config.reports.timezone  # a date or a time without offset is read there, as in reports
    q = call.query
    until = read_moment("to", q["to"], zone) if "to" in q else hub.actions.clock()
    since = read_moment("from", q["from"], zone) if "from" in q else until - timedelta(days=30)
    if since >= until:
        raise ApiError(422, "invalid", "from must be before to")
    by = call.query.get("by", "")
    csat = await hub.store.quality.csat_figures(since, until, by=by, teams=teams)
    qa = await hub.store.quality.qa_figures(since, until, by=by, teams=teams)
    if teams is not None and by == "agent_id":
        # Over the tickets without a team too, but only their teams' people: their members and
        # whoever was rated or reviewed on their teams' tickets (as hub/reports.ReportService.agents).
        own = tuple(t for t in teams if t != NO_TEAM)
        people = members_of(call.viewer.teams, own)
        for figures_of in (hub.store.quality.csat_figures, hub.store.quality.qa_figures):
            people |= {f.key for f in await figures_of(since, until, by=by, teams=own)}
        csat, qa = [f for f in csat if f.key in people], [f for f in qa if f.key in people]
    labels = await _labels(call, by)
    return {
        "from": iso(since),
        "to": iso(until),
        "by": by,
        "csat": [figure_json(f) | {"label": labels.get(f.key, f.key)} for f in csat],
        "qa": [figure_json(f) | {"label": labels.get(f.key, f.key)} for f in qa],
    }


async def _labels(call: Call, by: str) -> dict[str, str]:
    """What each figure's key names, as a reader reads it: an agent's name (a trial read ids),
    a team's or category's name in the reader's language; a channel is its own name."""
    store, language = hub_of(call).store, reader_language(call)
    if by == "agent_id":
        return {a.id: a.name or a.email for a in await store.accounts.list_agents()}
    named = (
        await store.desk.list_teams()
        if by == "team"
        else await store.desk.list_categories()
        if by == "category"
        else []
    )
    return {
        n.id: n.names[chosen] for n in named if (chosen := match_locale(language, n.names) or next(iter(n.names), ""))
    }
