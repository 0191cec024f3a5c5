"""The report rules (conversation/reports.py): nearest-rank percentiles, the period a report
covers, per-ticket facts in business time, folding volume into local hours and days, and
when the daily summary is due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversation.business_time import Calendar, weekly_hours
from conversation.errors import InvalidInput
from conversation.model import Conversation, Status
from conversation.reports import (
    backlog_age_label,
    daily_due,
    fact_after,
    fold_volume,
    nearest_rank,
    parse_period,
    percentile,
)
from conversation.sla import SlaPolicy, SlaState

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = Calendar("Asia/Shanghai", weekly_hours({d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}))


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in Shanghai in March 2027 (the 5th is a Friday, the 8th a Monday), as UTC."""
    return datetime(2027, 3, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def test_nearest_rank_percentiles() -> None:
    values = [40, 15, 50, 35, 20]  # sorted: 15 20 35 40 50
    assert [percentile(values, p) for p in (5, 30, 40, 50, 90, 100)] == [15, 20, 20, 35, 50, 50]
    assert percentile([], 50) is None
    assert [nearest_rank(50, n) for n in (0, 1, 2, 3, 4)] == [0, 1, 1, 2, 2]
    assert nearest_rank(90, 10) == 9 and nearest_rank(90, 11) == 10


def test_a_period_is_read_in_its_zone_and_checked() -> None:
    start, end, zone = parse_period("2027-03-01", "2027-03-02", "Asia/Shanghai")
    assert (start, end, zone) == (local(1, 0), local(2, 0), "Asia/Shanghai")
    start, _, _ = parse_period("2027-03-01T08:00:00+00:00", "2027-03-02", "Asia/Shanghai")
    assert start == datetime(2027, 3, 1, 8, tzinfo=UTC)
    for args, words in [
        (("2027-03-02", "2027-03-01"), "from must be before to"),
        (("2027-03-01", "2027-03-01"), "from must be before to"),
        (("2026-01-01", "2027-03-01"), "at most one year"),
        (("yesterday", "2027-03-01"), "from: 'yesterday' is not an ISO date"),
        (("", "2027-03-01"), "from is required"),
        (("0001-01-01T00:00:00+14:00", "2027-03-01"), "from: '0001-01-01T00:00:00[+]14:00' is out of range"),
        (("2027-03-01", "9999-12-31"), "to: '9999-12-31' is out of range"),
        (("2027-03-01", "2027-03-02", "Mars/Olympus"), "unknown time zone"),
    ]:
        with pytest.raises(InvalidInput, match=words):
            parse_period(*args)


def ticket(**kw: object) -> Conversation:
    values: dict[str, object] = {"id": "c1", "number": 1, "channel": "email", "thread_key": "t", "contact_id": "p"}
    values.update({"created_at": local(5, 17), "team": "support", "assignee_id": "agent-1", **kw})
    return Conversation(**values)  # type: ignore[arg-type]


def test_first_response_and_resolution_are_business_time_without_pauses() -> None:
    # created Friday 17:00, answered Monday 09:30: one hour on Friday and half an hour on Monday
    answered = ticket(first_response_at=local(8, 9, 30))
    fact = fact_after(None, answered, SlaState(), OFFICE, None, local(8, 9, 30), responder_id="agent-2")
    assert (fact.first_response_s, fact.first_responder_id, fact.resolved, fact.sla_met) == (
        5400,
        "agent-2",
        False,
        None,
    )
    # resolved Monday 12:00 after waiting on the customer 10:00-11:00: 1 h + 3 h - 1 h
    pauses = SlaState(pauses=((local(8, 10), local(8, 11)), (local(8, 12), None)))
    resolved = ticket(first_response_at=local(8, 9, 30), status=Status.RESOLVED, resolved_at=local(8, 12))
    strict = SlaPolicy("strict", targets={"first_response": timedelta(minutes=60), "resolution": timedelta(hours=4)})
    done = fact_after(fact, resolved, pauses, OFFICE, strict, local(8, 12))
    assert (done.resolution_s, done.first_response_s, done.resolved, done.reopens) == (10800, 5400, True, 0)
    assert done.sla_met is False  # the first response took 90 business minutes of 60
    kind = SlaPolicy("kind", targets={"first_response": timedelta(minutes=120), "resolution": timedelta(hours=4)})
    assert fact_after(fact, resolved, pauses, OFFICE, kind, local(8, 12)).sla_met is True
    assert done.first_resolved_at == done.resolved_at == local(8, 12)


def test_a_ticket_that_moved_team_is_measured_per_stretch_as_its_sla_clocks() -> None:
    """Created Friday 17:00 in the office's team, moved to a 24/7 team at 18:00, answered Saturday
    10:00: one office hour, then 16 hours around the clock (its SLA clocks count the same)."""
    from conversation.business_time import ALWAYS_OPEN
    from conversation.sla import state_after_team

    moved = state_after_team(SlaState(), "support", "night", at=local(5, 18), created_at=local(5, 17))
    answered = ticket(first_response_at=local(6, 10), team="night")
    calendars = {"support": OFFICE, "night": ALWAYS_OPEN}
    fact = fact_after(None, answered, moved, ALWAYS_OPEN, None, local(6, 10), calendars=calendars)
    assert fact.first_response_s == 3600 + 16 * 3600
    # without the teams' calendars, the whole wait in the night team's hours
    assert fact_after(None, answered, moved, ALWAYS_OPEN, None, local(6, 10)).first_response_s == 17 * 3600


def test_a_reopen_counts_once_and_the_next_resolution_is_measured_again() -> None:
    resolved = ticket(first_response_at=local(8, 9, 30), status=Status.RESOLVED, resolved_at=local(8, 12))
    done = fact_after(None, resolved, SlaState(), OFFICE, None, local(8, 12))
    reopened = fact_after(
        done, ticket(first_response_at=local(8, 9, 30), status=Status.OPEN), SlaState(), OFFICE, None, local(8, 13)
    )
    assert (reopened.reopens, reopened.resolved) == (1, False)
    assert reopened.done_spans == ((local(8, 12), local(8, 13)),)  # done from 12:00 to 13:00 (review 18 #4)
    again = fact_after(
        reopened, ticket(status=Status.OPEN, first_response_at=local(8, 9, 30)), SlaState(), OFFICE, None, local(8, 14)
    )
    assert again.reopens == 1  # still open: not a second reopen
    assert again.done_spans == reopened.done_spans
    closed = ticket(first_response_at=local(8, 9, 30), status=Status.CLOSED, resolved_at=local(8, 15))
    final = fact_after(again, closed, SlaState(), OFFICE, None, local(8, 15))
    assert (final.resolved, final.resolved_at, final.first_resolved_at, final.reopens) == (
        True,
        local(8, 15),
        local(8, 12),
        1,
    )
    assert final.resolution_s == 7 * 3600  # Friday 1 h + Monday 09:00-15:00


def test_volume_folds_into_local_hours_and_days_across_a_dst_change() -> None:
    berlin = "Europe/Berlin"  # clocks go from 02:00 to 03:00 on 2027-03-28
    buckets = [
        (datetime(2027, 3, 27, 23, 30, tzinfo=UTC), 2),  # 00:30 CET on the 28th
        (datetime(2027, 3, 28, 0, 45, tzinfo=UTC), 1),  # 01:45 CET
        (datetime(2027, 3, 28, 1, 15, tzinfo=UTC), 4),  # 03:15 CEST
    ]
    by_hour, by_day = fold_volume(buckets, berlin)
    assert (by_hour[0], by_hour[1], by_hour[2], by_hour[3]) == (2, 1, 0, 4)
    assert by_day == {"2027-03-28": 7}


def test_backlog_age_buckets() -> None:
    assert [backlog_age_label(s) for s in (0, 3599, 3600, 86399, 86400, 7 * 86400)] == [
        "lt_1h",
        "lt_1h",
        "1h_4h",
        "4h_1d",
        "1d_3d",
        "ge_7d",
    ]


def test_the_daily_summary_is_due_once_a_day_after_its_time() -> None:
    at = time(8, 0)
    assert daily_due(local(9, 7, 59), "Asia/Shanghai", at, "") is None
    assert daily_due(local(9, 8, 0), "Asia/Shanghai", at, "") == ("2027-03-09", local(8, 0), local(9, 0))
    assert daily_due(local(9, 23, 0), "Asia/Shanghai", at, "2027-03-09") is None  # sent today
    assert daily_due(local(10, 8, 1), "Asia/Shanghai", at, "2027-03-09") is not None
