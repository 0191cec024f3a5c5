"""The pure rules of "how is my ticket?" (conversation/progress.py): what is a status
question, who may hear the answer, what is told when a ticket changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conversation.model import AuthorType, Contact, Conversation, Direction, Identity, Message, MessageKind, Status
from conversation.progress import (
    bare_number,
    chosen_number,
    left_midway,
    listed,
    may_see,
    merged_away,
    next_step,
    notice_for,
    status_question,
    unanswered_on_resolved,
)
from conversation.ticket_changes import ticket_changes, with_told

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("查询工单 1042", 1042),
        ("查询工单1042", 1042),
        ("查询工单＃１０４２", 1042),  # full-width, as typed on a Chinese keyboard
        ("工单进度", None),
        ("工单 1042 的进度？", 1042),
        ("请帮我查一下工单进度", None),
        ("status of #1042", 1042),
        ("Status of ticket 1042?", 1042),
        ("where is my ticket", None),
        ("Where's my ticket?", None),
        ("my ticket status", None),
        ("ticket 1042 status", 1042),
        ("What is the status of my ticket #1042", 1042),
        ("my ticket, how is it going?", None),  # a trial's: greeted as a new ticket
        ("Ticket 1042: any update?", 1042),
        ("Is there any news on my ticket?", None),
        ("what's happening with my ticket", None),
        ("我的工单怎么样了", None),
        ("工单 1042 有进展吗", 1042),
        ("我的工单处理得怎么样了？", None),
        ("status of #1003 please", 1003),  # a trial's mail: filed as an ordinary message
        ("Hi, what is the status of my ticket 1003? Thanks!", 1003),
        ("please check my ticket status, thank you", None),
        ("您好，查询工单 1042，谢谢", 1042),
        ("你好 工单进度 麻烦了", None),
    ],
)
def test_status_questions_are_recognised_in_both_languages(text: str, number: int | None) -> None:
    question = status_question(text)
    assert question is not None and question.number == number


@pytest.mark.parametrize(
    "text",
    [
        "where is my ticket? the refund is wrong again",
        "我的退款工单 1042 金额不对",
        "order 1042 never arrived",
        "1042",  # a bare number is an answer to the greeting only (the plugin decides)
        "status of 1042 and 1043",
        "any update on my refund? it is wrong",
        "my ticket, how is it going? I also need a new invoice",
        "hello",
        "thanks",
        "hi, thanks",
        "please",
        "",
    ],
)
def test_anything_more_than_the_question_is_an_ordinary_message(text: str) -> None:
    assert status_question(text) is None


def test_an_open_ticket_of_a_team_away_waits_for_its_return() -> None:
    assert next_step(ticket(team="finance"), team_away=True) == "progress.next.team_away"
    assert next_step(ticket(team="finance")) == "progress.next.queued"
    assert next_step(ticket(), team_away=True) == "progress.next.queued_no_team"  # no team: no calendar
    assert next_step(ticket(team="finance", status=Status.PENDING), team_away=True) == "progress.next.pending"


def test_bare_numbers_and_buttons() -> None:
    assert bare_number(" #1042 ") == 1042 and bare_number("1042!") == 1042 and bare_number("10 42") is None
    assert chosen_number("progress:1042") == 1042
    assert chosen_number("refund") is None and chosen_number("progress:abc") is None


def ticket(**kw: object) -> Conversation:
    base = Conversation(
        id="c1", number=1042, channel="telegram", thread_key="777", contact_id="p1", customer_address="777"
    )
    return replace(base, **kw)  # type: ignore[arg-type]


PERSON = Contact(
    id="p1",
    identities=[
        Identity("telegram", "777", "p1"),
        Identity("email", "li.na@example.com", "p1", verified=True),
        Identity("slack", "U1", "p1", verified=False),  # merged by an agent, not proved
    ],
)


def test_only_the_opening_identity_or_a_verified_one_of_the_same_contact_may_see() -> None:
    assert may_see(ticket(), PERSON, "telegram", "777")
    assert may_see(ticket(), PERSON, "email", "li.na@example.com")
    assert not may_see(ticket(), PERSON, "slack", "U1")
    stranger = Contact(id="p2", identities=[Identity("telegram", "888", "p2")])
    assert not may_see(ticket(), stranger, "telegram", "888")
    assert not may_see(ticket(contact_id="p2"), PERSON, "telegram", "777")  # the number belongs to someone else
    assert not may_see(ticket(merged_into="c9"), PERSON, "telegram", "777")
    assert merged_away(ticket(merged_into="c9"), PERSON, "telegram", "777")  # told so, not "ask from your address"
    assert not merged_away(ticket(), PERSON, "telegram", "777")
    assert not merged_away(ticket(merged_into="c9", contact_id="p2"), PERSON, "telegram", "777")


def test_several_tickets_are_listed_newest_first_live_ones_only() -> None:
    tickets = [
        ticket(id="a", number=1, last_message_at=T0),
        ticket(id="b", number=2, last_message_at=T0 + timedelta(hours=1), status=Status.PENDING),
        ticket(id="c", number=3, status=Status.RESOLVED),
        ticket(id="d", number=4, contact_id="p2"),
    ]
    assert [t.number for t in listed(tickets, PERSON, "telegram", "777")] == [2, 1]


def test_the_next_step_follows_the_status_and_owner() -> None:
    assert next_step(ticket(team="finance")) == "progress.next.queued"
    assert next_step(ticket(team="finance", assignee_id="a1")) == "progress.next.working"
    assert next_step(ticket()) == "progress.next.queued_no_team"
    assert next_step(ticket(status=Status.PENDING)) == "progress.next.pending"
    assert next_step(ticket(status=Status.RESOLVED)) == "progress.next.resolved"


def notices(before: Conversation, after: Conversation, told: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """What the progress plugin tells of one change (`notice_for` on each changed field, then
    `tell_once`'s rule, `with_told`), and the record of what was told after it."""
    events = []
    for change in ticket_changes(before, after, ["team", "status"]):
        notice = notice_for(change)
        record = with_told(told, notice.event, notice.mark) if notice else None
        if notice and record is not None:
            events.append(notice.event)
            told = record
    return events, told


def test_each_change_is_told_once_and_a_later_one_again() -> None:
    before = ticket(team="customer-service")
    moved = ticket(team="finance")
    events, told = notices(before, moved, {})
    assert events == ["team"]
    assert notices(before, moved, told)[0] == []  # the same change again: a retry, another hub
    back, told = notices(moved, ticket(team="customer-service"), told)
    assert back == ["team"]

    resolved = ticket(team="customer-service", status=Status.RESOLVED, resolved_at=T0)
    events, told = notices(before, resolved, told)
    assert events == ["resolved"]
    assert notices(before, resolved, told)[0] == []
    slip = replace(resolved, resolved_at=T0 + timedelta(minutes=1))  # reopened by an agent, resolved again
    assert notices(before, slip, told)[0] == []  # the customer wrote nothing since: no news
    later = T0 + timedelta(days=1)
    again = replace(resolved, resolved_at=later, last_inbound_at=later)  # reopened by the customer, resolved again
    assert notices(before, again, told)[0] == ["resolved"]


def test_a_first_team_is_no_news_and_other_changes_tell_nothing() -> None:
    assert notices(ticket(), ticket(team="finance"), {})[0] == []
    assert notices(ticket(), ticket(status=Status.SNOOZED), {})[0] == []
    events, told = notices(ticket(), ticket(status=Status.PENDING, last_inbound_at=T0), {})
    assert events == ["pending"] and told == {"pending": T0.isoformat()}


def test_a_change_its_maker_told_the_customer_about_says_so() -> None:
    """The FAQ bot resolves after "yes" with its own thanks (set_status(told=True))."""
    before = ticket(team="customer-service")
    resolved = ticket(team="customer-service", status=Status.RESOLVED, resolved_at=T0)
    [told] = ticket_changes(before, resolved, ["status"], told=True)
    [plain] = ticket_changes(before, resolved, ["status"])
    assert told.told and not plain.told
    assert notice_for(told) == notice_for(plain)  # the same news: the plugin marks it told, quietly


def test_only_a_bots_failed_answer_to_a_message_after_the_resolution_reopens_unless_they_heard_since() -> None:
    from conversation.model import Delivery, DeliveryStatus

    def said(message_id: str, direction: Direction, author: AuthorType, at: datetime, **raw: str) -> Message:
        return Message(
            message_id, "c1", "email", direction, MessageKind.MESSAGE, author, created_at=at, raw=raw or None
        )

    asked = said("q", Direction.INBOUND, AuthorType.CONTACT, T0 + timedelta(minutes=5))
    answer = said("a", Direction.OUTBOUND, AuthorType.BOT, T0 + timedelta(minutes=5), answers="q")
    thread = [said("first", Direction.INBOUND, AuthorType.CONTACT, T0 - timedelta(hours=1)), asked, answer]
    resolved = ticket(status=Status.RESOLVED, resolved_at=T0, last_inbound_at=asked.created_at)
    assert unanswered_on_resolved(resolved, answer, thread)  # a status question after it
    question_only = ticket(status=Status.RESOLVED, created_at=T0, resolved_at=T0, last_inbound_at=T0)
    assert unanswered_on_resolved(question_only, answer, [replace(asked, created_at=T0), answer])
    # a rating typed after it, kept quietly with no answer: the question is still unanswered (a review)
    rating = said("r", Direction.INBOUND, AuthorType.CONTACT, T0 + timedelta(minutes=6))
    assert unanswered_on_resolved(resolved, answer, [*thread, rating])
    agent = replace(answer, author_type=AuthorType.AGENT)
    assert not unanswered_on_resolved(resolved, agent, thread)  # its agent saw it fail
    survey = said("s", Direction.OUTBOUND, AuthorType.BOT, T0 + timedelta(minutes=10))  # of its own accord
    assert not unanswered_on_resolved(resolved, survey, [*thread, survey])
    sent = Delivery(status=DeliveryStatus.SENT)
    survey_sent = replace(survey, delivery=sent)  # a survey that reached them answers nothing they asked
    assert unanswered_on_resolved(resolved, answer, [*thread, survey_sent])
    agent_reply = replace(survey, author_type=AuthorType.AGENT, delivery=sent)  # an agent answered since
    assert not unanswered_on_resolved(resolved, answer, [*thread, agent_reply])
    asked_again = said("q2", Direction.INBOUND, AuthorType.CONTACT, T0 + timedelta(minutes=8))
    answered_again = said("a2", Direction.OUTBOUND, AuthorType.BOT, T0 + timedelta(minutes=8), answers="q2")
    answered_again = replace(answered_again, delivery=sent)  # a later question's answer reached them
    assert not unanswered_on_resolved(resolved, answer, [*thread, asked_again, answered_again])
    early = replace(asked, created_at=T0 - timedelta(minutes=1))  # written before the resolution
    assert not unanswered_on_resolved(resolved, answer, [early, answer])
    assert not unanswered_on_resolved(replace(resolved, status=Status.OPEN), answer, thread)  # in view already
    assert not unanswered_on_resolved(replace(resolved, merged_into="c2"), answer, thread)


def test_only_a_bot_message_held_back_by_the_mail_budget_hands_an_open_ticket_on() -> None:
    """A trial's dispute by mail stopped at its fourth question, unseen. A review: a relay outage,
    a forged sender's bounce or a receive-only channel fail every bot message alike, and must not
    hand every ticket on; nor a copy of a message delivered elsewhere."""
    question = Message("m", "c1", "email", Direction.OUTBOUND, MessageKind.MESSAGE, AuthorType.BOT, created_at=T0)
    assert left_midway(ticket(), question, "auto_reply_budget")
    for code in ("", "receive_only", "bounced", "refused"):
        assert not left_midway(ticket(), question, code), code
    assert not left_midway(ticket(), replace(question, raw={"copy_of": "x"}), "auto_reply_budget")
    assert not left_midway(ticket(), replace(question, author_type=AuthorType.AGENT), "auto_reply_budget")
    assert not left_midway(ticket(assignee_id="a1"), question, "auto_reply_budget")
    assert not left_midway(ticket(status=Status.RESOLVED), question, "auto_reply_budget")
