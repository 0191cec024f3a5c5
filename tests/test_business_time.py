"""Business-time arithmetic (conversation/business_time.py): examples at the edges, and
properties checked by Hypothesis over DST changes, midnight-spanning hours and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversation.business_time import (
    ALWAYS_OPEN,
    WEEKDAYS,
    Calendar,
    NeverOpen,
    Span,
    add_business_minutes,
    add_business_time,
    business_time_between,
    is_open,
    next_opening,
    weekly_hours,
)

ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York")
OFFICE = {day: ["09:00-17:00"] for day in WEEKDAYS[:5]}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_span_parsing_and_its_errors() -> None:
    assert Span.parse("09:00-18:00") == Span(540, 540)
    assert Span.parse("22:00-06:00") == Span(1320, 480)
    assert Span.parse("00:00-24:00") == Span(0, 1440)
    assert str(Span.parse("22:00-06:00")) == "22:00-06:00" and str(Span(0, 1440)) == "00:00-24:00"
    for bad in ("9-5", "09:00-09:00", "24:00-02:00", "09:60-10:00", "25:00-26:00", "09:00"):
        with pytest.raises(ValueError):
            Span.parse(bad)
    with pytest.raises(ValueError, match="unknown day"):
        weekly_hours({"monday": ["09:00-17:00"]})


def test_office_hours_across_a_weekend_in_berlin_spring_forward() -> None:
    cal = Calendar("Europe/Berlin", weekly_hours(OFFICE))
    friday_late = utc(2027, 3, 26, 15, 30)  # 16:30 CET, half an hour before closing
    # 30 minutes on Friday, the rest from Monday 09:00 CEST (07:00 UTC): the clocks moved on Sunday.
    assert add_business_minutes(cal, friday_late, 90) == utc(2027, 3, 29, 8, 0)
    assert business_time_between(cal, friday_late, utc(2027, 3, 29, 8, 0)) == timedelta(minutes=90)
    assert not is_open(cal, utc(2027, 3, 27, 10)) and next_opening(cal, utc(2027, 3, 27, 10)) == utc(2027, 3, 29, 7)


def test_whole_days_are_23_and_25_hours_on_dst_changes() -> None:
    cal = Calendar("America/New_York", weekly_hours({day: ["00:00-24:00"] for day in WEEKDAYS}))
    spring = business_time_between(cal, utc(2027, 3, 14, 5), utc(2027, 3, 15, 4))  # local midnight to midnight
    autumn = business_time_between(cal, utc(2027, 11, 7, 4), utc(2027, 11, 8, 5))
    assert spring == timedelta(hours=23) and autumn == timedelta(hours=25)


def test_a_span_in_the_skipped_hour_starts_after_the_change() -> None:
    cal = Calendar("Europe/Berlin", weekly_hours({"sun": ["02:30-04:00"]}))
    # 28 March 2027: 02:00 CET jumps to 03:00 CEST; 02:30 is read as 03:30 CEST = 01:30 UTC.
    assert next_opening(cal, utc(2027, 3, 27, 12)) == utc(2027, 3, 28, 1, 30)
    assert business_time_between(cal, utc(2027, 3, 27), utc(2027, 3, 29)) == timedelta(minutes=30)


def test_night_shift_belongs_to_the_day_it_starts_and_holidays_close_it() -> None:
    cal = Calendar(
        "Asia/Shanghai",
        weekly_hours({"fri": ["22:00-06:00"]}),
        holidays={date(2027, 1, 1): "元旦"},  # a Friday
    )
    assert not is_open(cal, utc(2027, 1, 1, 15))  # Fri 23:00 local: the holiday's night shift is off
    assert not is_open(cal, utc(2027, 1, 1, 20))  # Sat 04:00 local, still that shift
    assert is_open(cal, utc(2027, 1, 8, 15)) and is_open(cal, utc(2027, 1, 8, 21, 59))  # next Friday, Sat 05:59
    assert not is_open(cal, utc(2027, 1, 8, 22))
    assert next_opening(cal, utc(2027, 1, 1)) == utc(2027, 1, 8, 14)


def test_make_up_working_day_opens_a_saturday_with_monday_hours() -> None:
    cal = Calendar(
        "Asia/Shanghai",
        weekly_hours({**OFFICE, "mon": ["08:00-12:00"]}),
        workdays={date(2027, 2, 20): "春节调休"},  # a Saturday
    )
    assert is_open(cal, utc(2027, 2, 20, 1))  # 09:00 local
    assert not is_open(cal, utc(2027, 2, 20, 5))  # 13:00: Monday's hours end at noon
    assert not is_open(cal, utc(2027, 2, 27, 1))  # an ordinary Saturday


def test_holiday_that_is_also_a_make_up_day_stays_a_holiday() -> None:
    day = date(2027, 10, 4)
    cal = Calendar("Asia/Shanghai", weekly_hours(OFFICE), holidays={day: "国庆"}, workdays={day: "?"})
    assert not is_open(cal, utc(2027, 10, 4, 2))


def test_a_calendar_without_hours_never_opens() -> None:
    cal = Calendar("Asia/Shanghai", holidays={date(2027, 1, 1): "元旦"})
    assert next_opening(cal, utc(2027, 1, 1)) is None
    with pytest.raises(NeverOpen):
        add_business_minutes(cal, utc(2027, 1, 1), 1)
    only_makeup = Calendar("UTC", weekly_hours({"mon": ["09:00-10:00"]}), workdays={date(2030, 1, 5): "x"})
    assert next_opening(Calendar("UTC", only_makeup.weekly[:1] + ((),) * 6), utc(2027, 1, 1)) == utc(2027, 1, 4, 9)


def test_always_open_is_wall_time() -> None:
    start = utc(2027, 3, 28, 0, 30)
    assert add_business_minutes(ALWAYS_OPEN, start, 60 * 24 * 40) == start + timedelta(days=40)
    assert business_time_between(ALWAYS_OPEN, start + timedelta(days=3), start) == -timedelta(days=3)


def test_negative_time_is_refused() -> None:
    with pytest.raises(ValueError):
        add_business_time(ALWAYS_OPEN, utc(2027, 1, 1), timedelta(minutes=-1))


# --- properties ---------------------------------------------------------------------------

times = st.integers(min_value=0, max_value=47).map(lambda half: f"{half // 2:02d}:{half % 2 * 30:02d}")


@st.composite
def spans(draw: st.DrawFn) -> str:
    start = draw(times)
    end = draw(times.filter(lambda end: end != start) | st.just("24:00"))
    return f"{start}-{end}" if not (start == "00:00" and end == "24:00") or draw(st.booleans()) else "00:00-24:00"


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    hours = {day: draw(st.lists(spans(), max_size=2)) for day in WEEKDAYS}
    if not any(hours.values()):
        hours["mon"] = ["09:00-17:00"]
    special = st.dates(min_value=date(2027, 3, 1), max_value=date(2027, 4, 15))  # around both DST springs
    return Calendar(
        draw(st.sampled_from(ZONES)),
        weekly_hours(hours),
        holidays={d: "h" for d in draw(st.lists(special, max_size=6))},
        workdays={d: "w" for d in draw(st.lists(special, max_size=3))},
        makeup_weekday=draw(st.integers(0, 6)),
    )


instants = st.datetimes(min_value=datetime(2027, 3, 1), max_value=datetime(2027, 4, 10), timezones=st.just(UTC))
durations = st.integers(min_value=0, max_value=60 * 24 * 10).map(lambda m: timedelta(minutes=m))
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars(), instants, durations)
def test_adding_then_measuring_gives_the_same_time(cal: Calendar, start: datetime, delta: timedelta) -> None:
    due = add_business_time(cal, start, delta)
    assert due >= start
    assert business_time_between(cal, start, due) == delta
    if delta:
        assert is_open(cal, due - timedelta(microseconds=1))  # the deadline falls at the end of open time


@PROPERTY
@given(calendars(), instants, durations, durations)
def test_adding_is_monotonic_and_composes(cal: Calendar, start: datetime, a: timedelta, b: timedelta) -> None:
    first = add_business_time(cal, start, a)
    both = add_business_time(cal, start, a + b)
    assert first <= both
    if b:
        assert add_business_time(cal, first, b) == both


@PROPERTY
@given(calendars(), instants, instants, instants)
def test_business_time_is_additive_and_at_most_wall_time(cal: Calendar, a: datetime, b: datetime, c: datetime) -> None:
    ab, bc, ac = (business_time_between(cal, x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab + bc == ac
    assert abs(ab) <= abs(b - a)


@PROPERTY
@given(calendars(), instants)
def test_next_opening_is_open_and_nothing_before_it_is(cal: Calendar, at: datetime) -> None:
    opening = next_opening(cal, at)
    assert opening is not None and opening >= at
    assert is_open(cal, opening)
    assert business_time_between(cal, at, opening) == timedelta(0)
    assert (opening == at) == is_open(cal, at)


@PROPERTY
@given(calendars(), instants)
def test_holidays_accrue_no_business_time(cal: Calendar, at: datetime) -> None:
    """Whatever the hours, a holiday is closed from its local midnight to its last span's end
    except for a span of the day before running into it."""
    zone = cal.zone
    for day in cal.holidays:
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        noon = midnight.replace(hour=12)
        carried_over = any(s.start + s.minutes > 24 * 60 + 12 * 60 for s in cal.spans_on(day - timedelta(days=1)))
        if not carried_over:
            assert not is_open(cal, noon)


@PROPERTY
@given(instants, durations, st.sampled_from(ZONES))
def test_the_24_7_shortcut_agrees_with_walking_the_days(start: datetime, delta: timedelta, zone: str) -> None:
    always = Calendar(zone, weekly_hours({day: ["00:00-24:00"] for day in WEEKDAYS}))
    walked = Calendar(zone, always.weekly, holidays={date(2099, 1, 1): "far away"})  # a holiday: no shortcut
    assert add_business_time(always, start, delta) == add_business_time(walked, start, delta)
    assert business_time_between(always, start, start + delta) == business_time_between(walked, start, start + delta)
