"""The pure rules of complaints and suggestions (conversation/complaints.py): recognising
them in Chinese and English, routing, the moves a complaint may make, the hold on resolving,
follow-ups, topics, grouping and the monthly report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conversation import complaints as rules
from conversation.errors import InvalidInput
from conversation.faq import text_similarities


@pytest.mark.parametrize(
    ("text", "kind", "subject"),
    [
        ("我要投诉这个卖家", "complaint", "seller"),
        ("举报商家卖假货", "complaint", "seller"),
        ("投诉客服态度太差", "complaint", "agent"),
        ("I want to complain about the agent", "complaint", "agent"),
        ("This is a complaint: my order came broken", "complaint", "order"),
        ("我有个建议，希望增加夜间配送", "suggestion", None),
        ("Suggestion: add a dark mode", "suggestion", None),
        ("Feedback: the checkout is confusing", "suggestion", None),
        ("建议：配送速度太慢了，能不能快一点", "suggestion", None),
        ("建议:周末也发货", "suggestion", None),
        ("我建议周末也送货", "suggestion", None),
        ("提个建议，快递能不能放驿站", "suggestion", None),
        ("你们建议我怎么做？", None, None),
        ("有什么建议吗？我的快递丢了", None, None),
        ("What do you suggest I do?", None, None),
        ("我的订单还没到", None, "order"),
        ("I reported it yesterday, where is my parcel?", None, None),
    ],
)
def test_complaints_and_suggestions_are_recognised_in_both_languages(
    text: str, kind: str | None, subject: str | None
) -> None:
    assert rules.recognise(text) == kind
    assert rules.guess_subject(text) == subject


def test_routing_by_subject_and_severity_and_an_agent_complaint_names_the_agent() -> None:
    route = rules.route("agent", "critical", {"agent": "supervisors"}, about_agent="a1")
    assert route == rules.Route("supervisors", "urgent", "a1")
    assert rules.route("seller", "low", {}, about_agent="a1") == rules.Route("customer-service", "low", "")
    with pytest.raises(InvalidInput, match="subject must be one of"):
        rules.route("weather", "low", {})
    with pytest.raises(InvalidInput, match="severity must be one of"):
        rules.route("order", "apocalyptic", {})


def test_a_complaint_moves_step_by_step_and_reaches_outcome_sent_only_with_an_outcome() -> None:
    assert rules.check_move("received", "investigating") == "investigating"
    assert rules.check_move("awaiting_outcome", "investigating") == "investigating"
    assert rules.check_move("outcome_sent", "closed") == "closed"
    with pytest.raises(InvalidInput, match="moves to investigating, not closed"):
        rules.check_move("received", "closed")
    with pytest.raises(InvalidInput, match="by sending its outcome"):
        rules.check_move("awaiting_outcome", "outcome_sent")
    assert rules.check_outcome("investigating", "  refunded ") == "refunded"
    with pytest.raises(InvalidInput, match="write what was decided"):
        rules.check_outcome("investigating", "  ")
    with pytest.raises(InvalidInput, match="sent already"):
        rules.check_outcome("outcome_sent", "again")


def test_a_ticket_waits_for_the_outcome_of_each_of_its_complaints() -> None:
    assert rules.resolve_refusal([]) == ""
    assert rules.resolve_refusal([("C-1", "outcome_sent"), ("C-2", "closed")]) == ""
    assert "C-3" in rules.resolve_refusal([("C-1", "closed"), ("C-3", "awaiting_outcome")])


def test_the_number_is_the_tickets_and_a_complaint_is_never_shown_to_its_agent() -> None:
    assert rules.complaint_number(1234) == "C-1234"
    assert rules.ticket_of_number(" c-1234 ") == 1234 and rules.ticket_of_number("1234") is None
    assert not rules.may_see("a1", "a1") and rules.may_see("a1", "a2") and rules.may_see("", "a1")


def test_follow_ups_overdue_and_the_next_due_date() -> None:
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    items = [
        rules.FollowUp("1", "call the seller", "a1", now - timedelta(hours=1)),
        rules.FollowUp("2", "check refund", "a2", now + timedelta(days=1)),
        rules.FollowUp("3", "done already", "a1", now - timedelta(days=2), done=True),
    ]
    assert [f.id for f in rules.overdue(items, now)] == ["1"]
    assert rules.next_due(items) == now - timedelta(hours=1)
    assert rules.follow_ups({"follow_ups": [rules.follow_up_doc(f) for f in items]}) == items
    assert rules.next_due(items[2:]) is None


def test_months_of_the_report() -> None:
    moment = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert rules.month_of(moment) == "2026-12"
    assert rules.next_month_start(moment) == datetime(2027, 1, 1, tzinfo=UTC)
    assert rules.previous_month(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-12"


def test_similar_suggestions_are_grouped_and_the_report_counts_topics_with_examples() -> None:
    said = [
        ("希望增加夜间配送", ["delivery"]),
        ("Please add a dark mode", ["app"]),
        ("建议增加夜间配送服务", ["delivery", "service"]),
        ("add a dark mode please", ["app"]),
        ("优惠券可以叠加", ["price"]),
    ]
    similar = rules.groups(text_similarities([t for t, _ in said]), 0.3)
    assert similar[:2] == [[0, 2], [1, 3]] and [4] in similar
    report = rules.report("2026-11", said, similar, examples=1)
    assert report.total == 5
    assert [(line.topic, line.count) for line in report.topics] == [
        ("app", 2),
        ("delivery", 2),
        ("price", 1),
        ("service", 1),
    ]
    assert report.topics[0].examples == ("Please add a dark mode",)
    assert report.groups == (
        ("希望增加夜间配送", "建议增加夜间配送服务"),
        ("Please add a dark mode", "add a dark mode please"),
    )
    assert rules.topics_of("the courier never came", rules.DEFAULT_TOPICS) == ["delivery"]
    assert rules.topics_of("hello", rules.DEFAULT_TOPICS) == ["other"]
