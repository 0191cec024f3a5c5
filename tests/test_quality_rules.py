"""The pure rules of service quality (conversation/quality.py): what answer is a rating, who
is surveyed, until when an answer counts, scorecards and a review's weighted score, the
disagreement of two reviewers, and the seeded, biased weekly sample."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversation.errors import InvalidInput
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, Status
from conversation.quality import (
    Candidate,
    NoSurvey,
    Review,
    awaits_comment,
    check_scores,
    commented,
    credited_agent,
    disagreement,
    new_survey,
    parse_week,
    rated,
    rating_from_choice,
    rating_from_text,
    reads_as_comment,
    review_score,
    scorecard_from_doc,
    survey_wanted,
    takes_answer,
    week_name,
    week_of,
    weekly_sample,
)

NOW = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        ("１", 1),  # full-width
        (" 4分 ", 4),
        ("3 stars", 3),
        ("很满意", 5),
        ("很不满意！", 1),
        ("不满意", 2),
        ("满意。", 4),
        ("一般", 3),
        ("Very good!", 5),
        ("very bad", 1),
        ("OK", 3),
        ("6", None),
        ("15", None),
        ("my order 5 never came", None),
        ("", None),
        ("不太满意，订单还没到", None),
    ],
)
def test_a_typed_rating_is_a_digit_or_a_word_and_nothing_longer(text: str, score: int | None) -> None:
    assert rating_from_text(text) == score


def test_a_rating_button_is_its_own_choice() -> None:
    assert rating_from_choice("csat:4") == 4
    assert rating_from_choice("csat:0") is None and rating_from_choice("csat:x") is None
    assert rating_from_choice("ticket:1042") is None


def ticket(**kw: object) -> Conversation:
    base = Conversation(
        id="t1",
        number=1000,
        channel="webchat",
        thread_key="v1",
        contact_id="c1",
        status=Status.RESOLVED,
        created_at=NOW - timedelta(hours=2),
        resolved_at=NOW,
        category="billing",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def message(direction: Direction, author: AuthorType, *, automatic: bool = False) -> Message:
    return Message(
        id="m",
        conversation_id="t1",
        channel="webchat",
        direction=direction,
        kind=MessageKind.MESSAGE,
        author_type=author,
        text="x",
        automatic=automatic,
    )


CUSTOMER = message(Direction.INBOUND, AuthorType.CONTACT)
AGENT = message(Direction.OUTBOUND, AuthorType.AGENT)
BOT = message(Direction.OUTBOUND, AuthorType.BOT)


def wanted(t: Conversation, messages: list[Message], **kw: object) -> NoSurvey | None:
    args: dict[str, object] = {"categories": {}, "last_asked": None, "cooldown": timedelta(days=30), "now": NOW}
    return survey_wanted(t, messages, **{**args, **kw})  # type: ignore[arg-type]


def test_who_is_surveyed() -> None:
    assert wanted(ticket(), [CUSTOMER, AGENT]) is None
    assert wanted(ticket(status=Status.OPEN), [CUSTOMER, AGENT]) is NoSurvey.NOT_RESOLVED
    assert wanted(ticket(), [CUSTOMER, BOT]) is NoSurvey.BOT_ONLY
    auto = message(Direction.INBOUND, AuthorType.CONTACT, automatic=True)
    assert wanted(ticket(), [auto, AGENT]) is NoSurvey.AUTOMATIC
    assert wanted(ticket(), [CUSTOMER, AGENT], categories={"billing": False}) is NoSurvey.CATEGORY_OFF
    assert wanted(ticket(), [CUSTOMER, AGENT], categories={"billing": True, "spam": False}) is None
    assert wanted(ticket(), [CUSTOMER, AGENT], last_asked=NOW - timedelta(days=29)) is NoSurvey.COOLDOWN
    assert wanted(ticket(), [CUSTOMER, AGENT], last_asked=NOW - timedelta(days=31)) is None
    question = ticket(created_at=NOW, resolved_at=NOW)  # a status question's own ticket
    assert wanted(question, [CUSTOMER, AGENT]) is NoSurvey.QUESTION_ONLY


def test_answers_count_until_the_window_and_a_comment_follows_a_score_soon() -> None:
    survey = new_survey(ticket(assignee_id="a1", team="care"), NOW, "zh-CN", timedelta(days=14))
    assert (survey.agent_id, survey.team, survey.answer_until) == ("a1", "care", NOW + timedelta(days=14))
    assert takes_answer(survey, NOW + timedelta(days=14)) and not takes_answer(survey, NOW + timedelta(days=15))
    assert not awaits_comment(survey, NOW, timedelta(minutes=30))
    scored = rated(survey, 2, NOW + timedelta(hours=1), "webchat")
    assert scored.low and scored.status.value == "rated"
    assert awaits_comment(scored, NOW + timedelta(minutes=80), timedelta(minutes=30))
    assert not awaits_comment(scored, NOW + timedelta(minutes=100), timedelta(minutes=30))
    done = commented(scored, "  太慢了 ", NOW + timedelta(hours=2))
    assert done.comment == "太慢了" and not awaits_comment(done, NOW + timedelta(hours=2), timedelta(minutes=30))
    again = rated(done, 5, NOW + timedelta(hours=3), "status_page")  # a later score replaces, the comment stays
    assert (again.score, again.comment, again.status.value, again.low) == (5, "太慢了", "commented", False)
    with pytest.raises(InvalidInput):
        rated(survey, 6, NOW, "x")
    with pytest.raises(InvalidInput):
        commented(scored, "   ", NOW)


CARD = scorecard_from_doc(
    {
        "id": "chat",
        "name": "Chat",
        "criteria": [
            {"id": "greeting", "label": "Greets", "kind": "yes_no", "weight": 1},
            {"id": "solution", "label": "Solves", "kind": "scale", "weight": 3, "critical": True},
        ],
    }
)


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"name": "", "criteria": [{"id": "a", "label": "A"}]}, "name"),
        ({"name": "X", "criteria": []}, "criteria"),
        ({"name": "X", "criteria": [{"id": "A b", "label": "A"}]}, "criteria.0.id"),
        ({"name": "X", "criteria": [{"id": "a", "label": "A", "kind": "stars"}]}, "criteria.0.kind"),
        ({"name": "X", "criteria": [{"id": "a", "label": "A", "weight": -1}]}, "criteria.0.weight"),
        ({"name": "X", "criteria": [{"id": "a", "label": "A", "critical": "yes"}]}, "criteria.0.critical"),
        ({"name": "X", "criteria": [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}, "each id once"),
        ({"name": "X", "criteria": [{"id": "a", "label": "A", "weight": 0}]}, "weight above 0"),
    ],
)
def test_a_bad_scorecard_is_refused_naming_the_problem(doc: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        scorecard_from_doc(doc)


def test_a_review_is_weighted_and_a_failed_critical_criterion_fails_it() -> None:
    assert review_score(CARD, {"greeting": 1, "solution": 5}) == (100.0, False)
    assert review_score(CARD, {"greeting": 0, "solution": 3}) == (37.5, False)  # 3 * 0.5 / 4
    assert review_score(CARD, {"greeting": 1, "solution": 1}) == (0.0, True)  # failed: 0, not its 25 points
    assert check_scores(CARD, {"greeting": True, "solution": 2}) == {"greeting": 1, "solution": 2}
    for bad in ({"greeting": 2, "solution": 3}, {"greeting": 1, "solution": 0}, {"greeting": 1}, {"x": 1}):
        with pytest.raises(InvalidInput):
            check_scores(CARD, {**bad} if "x" not in bad else {"greeting": 1, "solution": 3, **bad})
    with pytest.raises(InvalidInput, match=r"^scores\.solution: missing"):  # not "1 to 5": it was not given
        check_scores(CARD, {"greeting": 1})
    with pytest.raises(InvalidInput, match=r"^scores\.solution: 1 to 5$"):
        check_scores(CARD, {"greeting": 1, "solution": 9})


def review(reviewer: str, scores: dict[str, int]) -> Review:
    return Review("r-" + reviewer, "t1", 1000, "chat", reviewer, "a1", scores, NOW, 0.0, False)


def test_calibration_shows_each_criterions_spread() -> None:
    a, b = review("s1", {"greeting": 1, "solution": 5}), review("s2", {"greeting": 1, "solution": 2})
    found = disagreement(CARD, [a, b])
    assert [(d.criterion, d.scores, d.spread) for d in found] == [("greeting", (1, 1), 0.0), ("solution", (5, 2), 0.75)]
    assert disagreement(CARD, [a]) == []


def candidates(n: int, agent: str = "a1") -> list[Candidate]:
    return [Candidate(f"{agent}-t{i:02d}", agent, NOW) for i in range(n)]


def test_the_sample_is_per_agent_repeatable_and_leans_to_low_csat_and_breaches() -> None:
    pool = candidates(10) + candidates(2, "a2") + [Candidate("x", "", NOW)]  # nobody's ticket is never sampled
    first = weekly_sample(pool, 3, "2027-W09")
    assert first == weekly_sample(list(reversed(pool)), 3, "2027-W09")  # order does not matter
    assert sorted(c.agent_id for c in first) == ["a1", "a1", "a1", "a2", "a2"]
    assert first != weekly_sample(pool, 3, "2027-W10")
    low = [replace(c, csat=1) if c.conversation_id == "a1-t07" else c for c in candidates(10)]
    breached = [replace(c, sla_breached=True) if c.conversation_id == "a1-t03" else c for c in candidates(10)]
    seeds = [f"s{i}" for i in range(200)]
    picked_low = sum(any(c.conversation_id == "a1-t07" for c in weekly_sample(low, 3, s)) for s in seeds)
    picked_plain = sum(any(c.conversation_id == "a1-t07" for c in weekly_sample(candidates(10), 3, s)) for s in seeds)
    picked_breach = sum(any(c.conversation_id == "a1-t03" for c in weekly_sample(breached, 3, s)) for s in seeds)
    assert picked_plain < 90 and picked_low > 130 and picked_breach > 110  # 3 of 10: about 60 unbiased


def test_weeks_are_iso_weeks_in_utc() -> None:
    assert parse_week("2027-W01") == (datetime(2027, 1, 4, tzinfo=UTC), datetime(2027, 1, 11, tzinfo=UTC))
    for bad in ("2027-W54", "2027-1", "W01"):
        with pytest.raises(InvalidInput):
            parse_week(bad)


@pytest.mark.parametrize(
    ("text", "comment"),
    [
        ("态度不错，就是太慢了", True),
        ("Quick and kind.", True),
        ("退款什么时候到账？", False),
        ("怎么修改收货地址", False),
        ("How do I change my address", False),
        ("I still have a problem with the app", False),
        ("好" * 281, False),
        ("   ", False),
    ],
)
def test_only_a_short_remark_without_a_question_reads_as_a_surveys_comment(text: str, comment: bool) -> None:
    assert reads_as_comment(text) is comment


def test_a_week_starts_on_monday_midnight_in_the_reports_time_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert week_of(date(2026, 11, 26), shanghai) == (
        datetime(2026, 11, 22, 16, tzinfo=UTC),
        datetime(2026, 11, 29, 16, tzinfo=UTC),
    )
    assert parse_week("2026-W48", shanghai) == week_of(date(2026, 11, 23), shanghai)
    assert week_name(date(2026, 11, 26)) == "2026-W48" and week_name(date(2027, 1, 1)) == "2026-W53"


def test_a_rating_is_the_assignees_else_the_resolvers_else_the_last_agent_who_answered() -> None:
    """A trial: an unassigned ticket an agent answered and resolved was rated for nobody."""
    li, wang = replace(AGENT, author_id="li"), replace(AGENT, author_id="wang")
    assert credited_agent(ticket(assignee_id="zhou"), "li", [li]) == "zhou"
    assert credited_agent(ticket(), "li", [wang]) == "li"
    assert credited_agent(ticket(), "", [CUSTOMER, li, BOT, wang, CUSTOMER]) == "wang"
    assert credited_agent(ticket(), "", [CUSTOMER, BOT]) == ""
    assert new_survey(ticket(), NOW, "en", agent_id="wang").agent_id == "wang"
