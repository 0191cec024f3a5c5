"""The Store contract for service quality: CSAT surveys, QA scorecards and reviews, and
their figures (average and count per agent, team, channel, category) computed by the
database (both backends, compared with hand-computed values)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conversation.errors import InvalidInput
from conversation.model import Status
from conversation.quality import (
    Figure,
    Review,
    Scorecard,
    Survey,
    commented,
    rated,
    scorecard_from_doc,
)
from conversation.routing import Route
from conversation.store import Store
from tests.store_contract.common import POLICY, inbound, three_tickets

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def survey(conversation_id: str, contact: str = "c1", *, agent: str = "a1", team: str = "care", **kw: object) -> Survey:
    return Survey(
        conversation_id=conversation_id,
        number=1000,
        contact_id=contact,
        channel=str(kw.pop("channel", "webchat")),
        asked_at=kw.pop("asked_at", T0),  # type: ignore[arg-type]
        agent_id=agent,
        team=team,
        category=str(kw.pop("category", "billing")),
        language="zh-CN",
    )


async def test_a_ticket_has_one_survey_and_its_answer_and_comment_are_kept(store: Store) -> None:
    first = survey("t1")
    assert await store.quality.add_survey(first)
    assert not await store.quality.add_survey(replace(first, contact_id="other"))  # one per ticket
    assert await store.quality.get_survey("t1") == first
    assert await store.quality.get_survey("nope") is None

    answered = commented(rated(first, 2, T0 + timedelta(hours=1), "webchat"), "太慢了", T0 + timedelta(hours=2))
    await store.quality.save_survey(answered)
    assert await store.quality.get_survey("t1") == answered


async def test_the_latest_survey_of_a_contact_is_the_last_asked(store: Store) -> None:
    assert await store.quality.latest_survey("c1") is None
    await store.quality.add_survey(survey("t1", asked_at=T0))
    await store.quality.add_survey(survey("t2", asked_at=T0 + timedelta(days=3)))
    await store.quality.add_survey(survey("t3", contact="c2", asked_at=T0 + timedelta(days=9)))
    latest = await store.quality.latest_survey("c1")
    assert latest is not None and latest.conversation_id == "t2"


async def test_a_contacts_surveys_go_with_it_when_it_is_merged(store: Store) -> None:
    """Else a person merged away could no longer answer theirs (found by contact)."""
    from conversation.inbound import Sender

    a = await store.tickets.record_inbound(inbound("m1"), now=T0, policy=POLICY)
    b = await store.tickets.record_inbound(
        inbound("m2", thread="chat-2", sender=Sender(address="user-43")), now=T0, policy=POLICY
    )
    await store.quality.add_survey(survey(b.conversation.id, contact=b.contact.id))
    await store.contacts.merge_contacts(b.contact.id, a.contact.id)
    latest = await store.quality.latest_survey(a.contact.id)
    assert latest is not None and latest.conversation_id == b.conversation.id
    assert latest.contact_id == a.contact.id  # the document says so too
    assert await store.quality.latest_survey(b.contact.id) is None


async def test_csat_figures_are_averages_and_counts_per_group_in_the_period(store: Store) -> None:
    rows = [  # (ticket, agent, team, channel, category, score, hours after T0)
        ("t1", "a1", "care", "webchat", "billing", 5, 1),
        ("t2", "a1", "care", "email", "billing", 2, 2),
        ("t3", "a2", "care", "email", "login", 4, 3),
        ("t4", "a2", "tech", "webchat", "login", 1, 4),
        ("t5", "a2", "tech", "webchat", "login", 3, 24 * 8),  # outside the period
        ("t6", "a3", "tech", "webchat", "login", None, 5),  # asked, never answered
    ]
    for ticket, agent, team, channel, category, score, hours in rows:
        s = survey(ticket, agent=agent, team=team, channel=channel, category=category)
        await store.quality.add_survey(s)
        if score is not None:
            await store.quality.save_survey(rated(s, score, T0 + timedelta(hours=hours), channel))
    until = T0 + timedelta(days=7)
    assert await store.quality.csat_figures(T0, until) == [Figure("", 3.0, 4)]  # (5+2+4+1)/4
    assert await store.quality.csat_figures(T0, until, by="agent_id") == [Figure("a1", 3.5, 2), Figure("a2", 2.5, 2)]
    assert await store.quality.csat_figures(T0, until, by="team") == [Figure("care", 3.67, 3), Figure("tech", 1.0, 1)]
    assert await store.quality.csat_figures(T0, until, by="channel") == [
        Figure("email", 3.0, 2),
        Figure("webchat", 3.0, 2),
    ]
    assert await store.quality.csat_figures(T0, until, by="category") == [
        Figure("billing", 3.5, 2),
        Figure("login", 2.5, 2),
    ]
    assert await store.quality.csat_figures(T0 + timedelta(days=30), T0 + timedelta(days=31)) == []
    # a supervisor's scope: only the ratings of their teams' tickets
    assert await store.quality.csat_figures(T0, until, by="agent_id", teams=("tech",)) == [Figure("a2", 1.0, 1)]
    assert await store.quality.csat_figures(T0, until, teams=("care", "tech")) == [Figure("", 3.0, 4)]
    assert await store.quality.csat_figures(T0, until, teams=()) == []
    with pytest.raises(InvalidInput):
        await store.quality.csat_figures(T0, until, by="score; DROP TABLE csat_surveys")


CARD = scorecard_from_doc(
    {
        "id": "chat",
        "name": "Chat quality",
        "criteria": [
            {"id": "greeting", "label": "Greets by name", "kind": "yes_no", "weight": 1},
            {"id": "solution", "label": "Solves it", "kind": "scale", "weight": 3, "critical": True},
        ],
    }
)


def review(rid: str, ticket: str, reviewer: str, agent: str, score: float, at: datetime, **kw: object) -> Review:
    return Review(
        id=rid,
        conversation_id=ticket,
        number=1000,
        scorecard_id="chat",
        reviewer_id=reviewer,
        agent_id=agent,
        scores={"greeting": 1, "solution": 4},
        created_at=at,
        score=score,
        failed=False,
        comment="ok",
        team=str(kw.get("team", "care")),
        channel="webchat",
        category="billing",
    )


async def test_scorecards_are_saved_replaced_and_listed_by_name(store: Store) -> None:
    await store.quality.save_scorecard(CARD)
    other = Scorecard("email", "Email quality", CARD.criteria)
    await store.quality.save_scorecard(other)
    assert await store.quality.get_scorecard("chat") == CARD
    renamed = replace(CARD, name="Aardvark", active=False)
    await store.quality.save_scorecard(renamed)
    assert [c.id for c in await store.quality.list_scorecards()] == ["chat", "email"]
    assert await store.quality.get_scorecard("chat") == renamed
    assert await store.quality.get_scorecard("none") is None


async def test_reviews_are_one_per_reviewer_and_ticket_listed_newest_first_with_qa_figures(store: Store) -> None:
    assert await store.quality.add_review(review("r1", "t1", "sup1", "a1", 80.0, T0))
    assert not await store.quality.add_review(review("r1b", "t1", "sup1", "a1", 10.0, T0))  # same reviewer again
    assert await store.quality.add_review(review("r2", "t1", "sup2", "a1", 60.0, T0 + timedelta(hours=1)))
    assert await store.quality.add_review(review("r3", "t2", "sup1", "a2", 90.0, T0 + timedelta(hours=2), team="tech"))
    assert [r.id for r in await store.quality.list_reviews(conversation_id="t1")] == ["r2", "r1"]
    assert [r.id for r in await store.quality.list_reviews(agent_id="a2")] == ["r3"]
    assert [r.id for r in await store.quality.list_reviews(reviewer_id="sup1")] == ["r3", "r1"]
    assert (await store.quality.list_reviews(conversation_id="t1"))[1] == review("r1", "t1", "sup1", "a1", 80.0, T0)
    until = T0 + timedelta(days=1)
    assert await store.quality.qa_figures(T0, until) == [Figure("", 76.67, 3)]
    assert await store.quality.qa_figures(T0, until, by="agent_id") == [Figure("a1", 70.0, 2), Figure("a2", 90.0, 1)]
    assert await store.quality.qa_figures(T0, until, by="team") == [Figure("care", 70.0, 2), Figure("tech", 90.0, 1)]
    assert await store.quality.qa_figures(T0, until, by="agent_id", teams=("care",)) == [Figure("a1", 70.0, 2)]
    assert await store.quality.qa_figures(T0, until, teams=()) == []


async def test_review_candidates_are_resolved_worked_tickets_of_the_period_with_their_rating(store: Store) -> None:
    ids = await three_tickets(store)
    now = datetime.now(UTC)
    await store.tickets.update_conversation(ids[0], {"assignee_id": "a1", "status": Status.RESOLVED}, now=now)
    await store.tickets.update_conversation(ids[1], {"assignee_id": "a2", "status": Status.RESOLVED}, now=now)
    await store.tickets.update_conversation(ids[2], {"status": Status.RESOLVED}, now=now)  # nobody worked it
    s = survey(ids[0])
    await store.quality.add_survey(s)
    await store.quality.save_survey(rated(s, 1, now, "email"))
    found = await store.quality.review_candidates(now - timedelta(hours=1), now + timedelta(hours=1))
    assert {(c.conversation_id, c.agent_id, c.csat) for c in found} == {(ids[0], "a1", 1), (ids[1], "a2", None)}
    assert await store.quality.review_candidates(now + timedelta(hours=1), now + timedelta(hours=2)) == []


# -- a rating is routed quietly (Ticketing.answers_bot, set by the pipeline for the csat plugin) ----
ANSWERS_BOT = replace(POLICY, answers_bot=True)


async def test_a_rating_keeps_a_resolved_or_reopened_ticket_as_it_is_and_opens_none(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=datetime.now(UTC), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"status": "resolved"}, now=datetime.now(UTC))
    rating = await store.tickets.record_inbound(inbound("m2", text="5"), now=datetime.now(UTC), policy=ANSWERS_BOT)
    assert rating.route is Route.QUESTION and rating.conversation.id == first.conversation.id
    assert rating.conversation.status is Status.RESOLVED
    assert [m.text for m in await store.tickets.list_messages(first.conversation.id)] == ["my order never arrived", "5"]

    # the same text without the flag is an ordinary message: it reopens
    again = await store.tickets.record_inbound(inbound("m3", text="5"), now=datetime.now(UTC), policy=POLICY)
    assert again.route is Route.REOPEN and again.conversation.status is Status.OPEN
    late = await store.tickets.record_inbound(inbound("m4", text="很满意"), now=datetime.now(UTC), policy=ANSWERS_BOT)
    assert late.route is Route.QUESTION and late.conversation.status is Status.OPEN  # a reopened ticket stays open

    await store.tickets.update_conversation(first.conversation.id, {"status": "closed"}, now=datetime.now(UTC))
    closed = await store.tickets.record_inbound(inbound("m5", text="4"), now=datetime.now(UTC), policy=ANSWERS_BOT)
    assert closed.route is Route.QUESTION_NEW and closed.conversation.status is Status.RESOLVED  # kept out of the queue
