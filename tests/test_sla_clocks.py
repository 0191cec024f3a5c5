"""SLA clocks and the escalation ladder as pure functions (conversation/sla.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from conversation.business_time import ALWAYS_OPEN, WEEKDAYS, Calendar, weekly_hours
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, Priority, Status
from conversation.sla import (
    BREACH,
    ESCALATE,
    FIRST_RESPONSE,
    NEXT_RESPONSE,
    RESOLUTION,
    WARN,
    SlaPolicy,
    SlaState,
    clocks,
    due_steps,
    policy_for,
    state_after_message,
    state_after_status,
    state_after_team,
    step_key,
)

SHANGHAI_OFFICE = Calendar("Asia/Shanghai", weekly_hours({d: ["09:00-18:00"] for d in WEEKDAYS[:5]}))
POLICY = SlaPolicy(
    "standard",
    targets={
        FIRST_RESPONSE: timedelta(hours=1),
        NEXT_RESPONSE: timedelta(hours=2),
        RESOLUTION: timedelta(hours=8),
    },
    escalate_to_team="technical-support",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ticket(created: datetime, **kw: object) -> Conversation:
    return Conversation(id="c1", number=1000, channel="email", thread_key="t", contact_id="p", created_at=created, **kw)  # type: ignore[arg-type]


def by_kind(result: list) -> dict:
    return {clock.kind: clock for clock in result}


def test_the_first_policy_matching_priority_and_category_applies() -> None:
    urgent = SlaPolicy(
        "urgent", priorities=frozenset({Priority.URGENT}), targets={FIRST_RESPONSE: timedelta(minutes=15)}
    )
    billing = SlaPolicy("billing", categories=frozenset({"dispute"}), targets={RESOLUTION: timedelta(days=1)})
    policies = (urgent, billing, POLICY)
    now = utc(2027, 3, 1)
    assert policy_for(policies, ticket(now, priority=Priority.URGENT, category="dispute")) is urgent
    assert policy_for(policies, ticket(now, category="dispute")) is billing
    assert policy_for(policies, ticket(now)) is POLICY
    assert policy_for((urgent,), ticket(now)) is None


def test_first_response_counts_business_time_only() -> None:
    created = utc(2027, 3, 5, 9, 30)  # Friday 17:30 in Shanghai: half an hour before closing
    conv = ticket(created)
    first = by_kind(clocks(conv, SlaState(), POLICY, SHANGHAI_OFFICE, utc(2027, 3, 6, 12)))[FIRST_RESPONSE]
    assert first.elapsed == timedelta(minutes=30) and first.remaining == timedelta(minutes=30)
    assert first.due_at == utc(2027, 3, 8, 1, 30)  # Monday 09:30 local
    assert not first.breached and first.met is None and first.percent == 50.0
    # the same ticket under a 24/7 calendar is long overdue: clocks follow the calendar they are given
    assert by_kind(clocks(conv, SlaState(), POLICY, ALWAYS_OPEN, utc(2027, 3, 6, 12)))[FIRST_RESPONSE].breached


def test_a_ticket_that_moved_counts_each_stretch_in_the_hours_of_the_team_that_had_it() -> None:
    """A supervisor's trial: a ticket escalated to a team closed until Monday showed its missed
    first response as "1 min left" (its whole life recounted in the new team's hours)."""
    created = utc(2027, 3, 1, 2)  # Monday 10:00 in Shanghai
    sundays = Calendar("UTC", weekly_hours({WEEKDAYS[6]: ["00:00-01:00"]}))  # tier 2: an hour on Sundays
    moved_at = created + timedelta(minutes=90)
    state = state_after_team(SlaState(), "customer-service", "tier2", at=moved_at, created_at=created)
    assert state.teams == ((created, "customer-service"), (moved_at, "tier2"))
    assert SlaState.from_json(state.to_json()) == state
    conv = ticket(created, team="tier2")
    calendars = {"customer-service": SHANGHAI_OFFICE, "tier2": sundays}
    now = created + timedelta(hours=3)
    moved = by_kind(clocks(conv, state, POLICY, sundays, now, calendars))
    assert moved[FIRST_RESPONSE].elapsed == timedelta(minutes=90) and moved[FIRST_RESPONSE].breached
    assert moved[RESOLUTION].elapsed == timedelta(minutes=90) and not moved[RESOLUTION].breached
    # the 6.5 hours left, in tier 2's one hour a week: the seventh Sunday, half an hour in
    assert moved[RESOLUTION].due_at == utc(2027, 4, 18, 0, 30)
    # without the stretches, tier 2's hours all along: nothing spent, nothing missed
    recounted = by_kind(clocks(conv, SlaState(), POLICY, sundays, now, calendars))
    assert recounted[FIRST_RESPONSE].elapsed == timedelta(0) and not recounted[FIRST_RESPONSE].breached
    # time with no team (waiting to be filed) counts around the clock, as it was shown then
    friday_night = utc(2027, 3, 5, 14)  # 22:00 in Shanghai: the office is closed
    filed = state_after_team(SlaState(), "", "support", at=friday_night + timedelta(hours=2), created_at=friday_night)
    waited = by_kind(
        clocks(ticket(friday_night, team="support"), filed, POLICY, SHANGHAI_OFFICE, friday_night + timedelta(hours=3),
               {"support": SHANGHAI_OFFICE})
    )[FIRST_RESPONSE]  # fmt: skip
    assert waited.elapsed == timedelta(hours=2) and waited.breached
    # a move back and forth is kept in order; a "move" to the team it has changes nothing
    back = state_after_team(state, "tier2", "customer-service", at=now, created_at=created)
    assert [team for _, team in back.teams] == ["customer-service", "tier2", "customer-service"]
    assert state_after_team(back, "customer-service", "customer-service", at=now, created_at=created) == back


def test_a_deadline_beyond_the_last_date_is_none_not_an_error() -> None:
    """A calendar open a minute a week and a report's endless target reached past year 9999:
    OverflowError, which stopped the ticket's report fact from being written (found by a test)."""
    minute = Calendar("UTC", weekly_hours({WEEKDAYS[6]: ["00:00-00:01"]}))
    endless = SlaPolicy("report", targets={RESOLUTION: timedelta(days=36500)})
    created = utc(2027, 3, 1)
    [clock] = clocks(ticket(created), SlaState(), endless, minute, created + timedelta(hours=2))
    assert clock.due_at is None and clock.elapsed == timedelta(0) and not clock.breached


def test_a_reply_stops_the_first_response_clock_met_or_not() -> None:
    created = utc(2027, 3, 1, 2)  # Monday 10:00 local
    met = by_kind(
        clocks(
            ticket(created, first_response_at=created + timedelta(minutes=40)),
            SlaState(),
            POLICY,
            SHANGHAI_OFFICE,
            utc(2027, 3, 9),
        )
    )
    assert met[FIRST_RESPONSE].met is True and met[FIRST_RESPONSE].elapsed == timedelta(minutes=40)
    late = by_kind(
        clocks(
            ticket(created, first_response_at=created + timedelta(hours=3)),
            SlaState(),
            POLICY,
            SHANGHAI_OFFICE,
            utc(2027, 3, 9),
        )
    )
    assert late[FIRST_RESPONSE].met is False and late[FIRST_RESPONSE].breached
    assert due_steps(late[FIRST_RESPONSE], POLICY, {}) == []  # a stopped clock fires nothing
    # ... except a step claimed before it stopped, whose hub died while acting: that one is owed
    assert due_steps(late[FIRST_RESPONSE], POLICY, {}, {"first_response:breach"}) == [BREACH]


def test_pending_pauses_every_clock_and_moves_the_deadline() -> None:
    created = utc(2027, 3, 1, 2)  # Monday 10:00 local
    state = state_after_status(SlaState(), Status.PENDING, created + timedelta(minutes=20))
    conv = ticket(created, status=Status.PENDING)
    during = by_kind(clocks(conv, state, POLICY, SHANGHAI_OFFICE, created + timedelta(hours=5)))
    assert during[FIRST_RESPONSE].paused and during[FIRST_RESPONSE].due_at is None
    assert during[FIRST_RESPONSE].elapsed == timedelta(minutes=20)
    assert due_steps(during[FIRST_RESPONSE], POLICY, {}) == []
    resumed_at = created + timedelta(hours=5)  # 15:00 local
    state = state_after_status(state, Status.OPEN, resumed_at)
    after = by_kind(clocks(ticket(created), state, POLICY, SHANGHAI_OFFICE, resumed_at))
    assert not after[FIRST_RESPONSE].paused
    assert after[FIRST_RESPONSE].due_at == resumed_at + timedelta(minutes=40)
    assert after[RESOLUTION].elapsed == timedelta(minutes=20)
    # the same status twice changes nothing; a second pause is its own interval
    assert state_after_status(state, Status.OPEN, resumed_at + timedelta(hours=1)) == state


def test_next_response_starts_with_the_customer_and_ends_with_the_agent() -> None:
    created = utc(2027, 3, 1, 2)
    answered = ticket(created, first_response_at=created + timedelta(minutes=5))
    customer = Message(
        "m",
        "c1",
        "email",
        Direction.INBOUND,
        MessageKind.MESSAGE,
        AuthorType.CONTACT,
        created_at=created + timedelta(hours=1),
    )
    state = state_after_message(SlaState(), customer, answered)
    assert state.awaiting_since == customer.created_at
    again = Message(
        "m2",
        "c1",
        "email",
        Direction.INBOUND,
        MessageKind.MESSAGE,
        AuthorType.CONTACT,
        created_at=created + timedelta(hours=2),
    )
    assert state_after_message(state, again, answered) == state  # the wait started with the first one
    nxt = by_kind(clocks(answered, state, POLICY, SHANGHAI_OFFICE, created + timedelta(hours=3)))[NEXT_RESPONSE]
    assert nxt.elapsed == timedelta(hours=2) and nxt.breached and step_key(nxt, BREACH).startswith("next_response@")
    reply = Message(
        "m3",
        "c1",
        "email",
        Direction.OUTBOUND,
        MessageKind.MESSAGE,
        AuthorType.AGENT,
        created_at=created + timedelta(hours=3),
    )
    assert state_after_message(state, reply, answered).awaiting_since is None
    # before the first response, a customer message is the first-response clock's business
    assert state_after_message(SlaState(), customer, ticket(created)).awaiting_since is None
    auto = Message("m4", "c1", "email", Direction.INBOUND, MessageKind.MESSAGE, AuthorType.CONTACT, automatic=True)
    assert state_after_message(SlaState(), auto, answered).awaiting_since is None


def test_resolution_stops_when_resolved_and_the_resolved_time_does_not_count_after_a_reopen() -> None:
    created = utc(2027, 3, 1, 2)
    resolved_at = created + timedelta(hours=2)
    state = state_after_status(SlaState(), Status.RESOLVED, resolved_at)
    done = by_kind(
        clocks(
            ticket(created, status=Status.RESOLVED, resolved_at=resolved_at),
            state,
            POLICY,
            SHANGHAI_OFFICE,
            utc(2027, 3, 9),
        )
    )
    assert done[RESOLUTION].met is True and done[RESOLUTION].elapsed == timedelta(hours=2)
    reopened_at = utc(2027, 3, 2, 2)  # Tuesday 10:00
    state = state_after_status(state, Status.OPEN, reopened_at)
    clock = by_kind(
        clocks(
            ticket(created, resolved_at=resolved_at), state, POLICY, SHANGHAI_OFFICE, reopened_at + timedelta(hours=1)
        )
    )[RESOLUTION]
    assert clock.elapsed == timedelta(hours=3) and clock.stopped_at is None


def test_the_ladder_fires_each_step_once_in_order() -> None:
    created = utc(2027, 3, 1, 2)
    conv = ticket(created)

    def steps(minutes: int, fired: dict) -> list[str]:
        first = by_kind(clocks(conv, SlaState(), POLICY, SHANGHAI_OFFICE, created + timedelta(minutes=minutes)))[
            FIRST_RESPONSE
        ]
        return due_steps(first, POLICY, fired)

    assert steps(44, {}) == []
    assert steps(45, {}) == [WARN]
    assert steps(60, {"first_response:warn": created}) == [BREACH]
    assert steps(100, {}) == [WARN, BREACH, ESCALATE]  # a hub down for a while catches up, lowest first
    assert steps(100, {"first_response:warn": 1, "first_response:breach": 1, "first_response:escalate": 1}) == []
    no_tier = SlaPolicy("x", targets=POLICY.targets)
    first = by_kind(clocks(conv, SlaState(), no_tier, SHANGHAI_OFFICE, created + timedelta(hours=9)))[FIRST_RESPONSE]
    assert due_steps(first, no_tier, {}) == [WARN, BREACH]


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 60 * 24 * 14),
    st.lists(st.tuples(st.integers(0, 60 * 24 * 10), st.integers(1, 60 * 24)), max_size=3),
    st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York"]),
)
def test_a_running_clock_is_due_exactly_when_its_target_is_used_up(now_minutes: int, pauses: list, zone: str) -> None:
    calendar = Calendar(zone, weekly_hours({d: ["08:00-20:00"] for d in WEEKDAYS[:6]} | {"sun": ["22:00-02:00"]}))
    created = utc(2027, 3, 10)
    closed = sorted((created + timedelta(minutes=s), created + timedelta(minutes=s + length)) for s, length in pauses)
    merged: list[tuple[datetime, datetime | None]] = []
    for start, end in closed:  # a ticket's pauses never overlap
        if merged and start <= merged[-1][1]:
            continue
        merged.append((start, end))
    state = SlaState(tuple(merged))
    policy = SlaPolicy("p", targets={RESOLUTION: timedelta(hours=30)})
    now = created + timedelta(minutes=now_minutes)
    clock = clocks(ticket(created), state, policy, calendar, now)[0]
    assert clock.elapsed + clock.remaining == clock.target
    assert clock.due_at is not None
    at_due = clocks(ticket(created), state, policy, calendar, clock.due_at)[0]
    assert at_due.elapsed == clock.target and at_due.breached
    assert (clock.due_at <= now) == clock.breached
