"""Team calendars as records: validation of what an admin enters, the stored document,
and importing public holidays and make-up working days from iCalendar (.ics).

The arithmetic is conversation/business_time.py; this module turns input into a `Calendar`.
A team without a calendar works around the clock (`ALWAYS_OPEN`) for SLA clocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conversation.business_time import WEEKDAYS, Calendar, is_open, next_opening, weekly_hours
from conversation.errors import InvalidInput

FIELDS = {"timezone", "hours", "holidays", "workdays", "makeup_weekday"}
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2199, 12, 31)  # keeps a typo like 20277 out of the arithmetic
MAX_SPECIAL_DAYS = 3000
MAX_ICS_BYTES = 1_000_000
# Summaries that mark an event as a working day (调休 make-up day), not a day off.
WORKDAY_WORDS = ("补班", "上班", "调休上班", "班)", "班）", "working day", "workday", "make-up")
# A word calendars use both ways: the weekday given off (调休日) and the weekend day worked in its place.
SWAP_WORD = "调休"
WEEKEND = (5, 6)  # Saturday, Sunday: the statutory days off that a make-up working day falls on


@dataclass(frozen=True)
class Opening:
    """What a customer is told about opening hours: open now, and the usual week."""

    open: bool
    timezone: str
    # The usual week: the weekdays (Monday 0) that share the same spans, e.g.
    # (((0, 1, 2, 3, 4), ("09:00-18:00",)), ((5,), ("10:00-16:00",))), by their first day
    week: tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]
    reopens: datetime | None = None  # closed: when the team is next open (None: open, or never again)
    holiday: str = ""  # closed for a named holiday today (local date), e.g. 国庆节

    @property
    def days(self) -> tuple[int, ...]:
        """Every weekday with opening hours."""
        return tuple(sorted(day for days, _ in self.week for day in days))


def week_of(weekly: Sequence[Sequence[object]]) -> tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]:
    """A week's spans per day (Monday first) grouped by days of the same hours, for `Opening.week`:
    a notice that said "Mon–Sat 09:00-18:00" of a team open 10:00-16:00 on Saturdays misled
    (a trial)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for day, spans in enumerate(weekly):
        if spans:
            groups.setdefault(tuple(str(span) for span in spans), []).append(day)
    return tuple((tuple(days), spans) for spans, days in groups.items())


def opening_of(calendar: Calendar, now: datetime) -> Opening:
    """The team calendar's answer for an out-of-hours notice: a holiday on a 7×24 team's
    calendar said "open every day 00:00-24:00" and nothing of when it opened again (a trial)."""
    week = week_of(calendar.weekly)
    if is_open(calendar, now):
        return Opening(True, calendar.timezone, week)
    holiday = calendar.holidays.get(now.astimezone(calendar.zone).date(), "")
    return Opening(False, calendar.timezone, week, next_opening(calendar, now), holiday)


_HAN = re.compile("[\u3400-\u9fff]")


def holiday_in(name: str, language: str) -> str:
    """A holiday's name as a customer of `language` reads it: calendars (the shipped example's,
    public ones) write both, "元旦 New Year's Day"; the Chinese words to a Chinese reader, the
    others to the rest, the whole name when it is written in one script only (a trial's
    customers read "今天是店庆日 Store anniversary")."""
    words = name.split()
    chinese = [w for w in words if _HAN.search(w)]
    other = [w for w in words if not _HAN.search(w)]
    if not chinese or not other:
        return name
    return "".join(chinese) if language.lower().startswith("zh") else " ".join(other)


def _day(value: Any, where: str) -> date:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"{where}: {value!r} is not a date YYYY-MM-DD between 1970 and 2199")
    return day


def _days(value: Any, key: str) -> dict[date, str]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{key} must be an object of date (YYYY-MM-DD) to name")
    if len(value) > MAX_SPECIAL_DAYS:
        raise InvalidInput(f"{key}: at most {MAX_SPECIAL_DAYS} days")
    days = {}
    for text, name in value.items():
        if not isinstance(name, str) or len(name) > 200:
            raise InvalidInput(f"{key}.{text}: the name must be a text of at most 200 characters")
        days[_day(text, key)] = name.strip()
    return days


def calendar_from_input(data: Mapping[str, Any]) -> Calendar:
    """A calendar from an API body (or a stored document); InvalidInput says what is wrong.

    {"timezone": "Asia/Shanghai", "hours": {"mon": ["09:00-18:00"], "sat": ["22:00-06:00"]},
     "holidays": {"2027-10-01": "国庆节"}, "workdays": {"2027-10-09": "国庆节调休"}, "makeup_weekday": "mon"}
    """
    if not isinstance(data, Mapping):
        raise InvalidInput("a calendar must be a JSON object")
    unknown = set(data) - FIELDS
    if unknown:
        raise InvalidInput(f"unknown calendar field(s): {', '.join(sorted(unknown))}")
    zone = data.get("timezone")
    try:
        if not isinstance(zone, str) or not zone:
            raise ZoneInfoNotFoundError
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone: {zone!r} is not an IANA time zone such as Asia/Shanghai") from None
    hours = data.get("hours", {})
    if not isinstance(hours, Mapping) or not all(
        isinstance(spans, list) and all(isinstance(s, str) for s in spans) for spans in hours.values()
    ):
        raise InvalidInput('hours must be an object of day to a list of spans, e.g. {"mon": ["09:00-18:00"]}')
    try:
        weekly = weekly_hours(hours)
    except ValueError as exc:
        raise InvalidInput(f"hours: {exc}") from None
    makeup = data.get("makeup_weekday", "mon")
    if makeup not in WEEKDAYS:
        raise InvalidInput(f"makeup_weekday must be one of {', '.join(WEEKDAYS)}")
    return Calendar(
        zone,
        weekly,
        holidays=_days(data.get("holidays", {}), "holidays"),
        workdays=_days(data.get("workdays", {}), "workdays"),
        makeup_weekday=WEEKDAYS.index(makeup),
    )


def calendar_to_doc(calendar: Calendar) -> dict[str, Any]:
    """The stored and API form; `calendar_from_input` reads it back."""
    return {
        "timezone": calendar.timezone,
        "hours": {day: [str(span) for span in spans] for day, spans in zip(WEEKDAYS, calendar.weekly, strict=True)},
        "holidays": {day.isoformat(): name for day, name in sorted(calendar.holidays.items())},
        "workdays": {day.isoformat(): name for day, name in sorted(calendar.workdays.items())},
        "makeup_weekday": WEEKDAYS[calendar.makeup_weekday],
    }


def special_days_from_ics(data: bytes | str) -> tuple[dict[date, str], dict[date, str]]:
    """(holidays, make-up working days) from an iCalendar file of all-day events.

    An event is a working day when its `X-HELPLINE-DAY` is `workday`, or (without that
    property) when its summary says so (补班, 上班, "working day"); every other event is a day
    off, except a bare 调休 (see `is_makeup_day`). A multi-day event covers DTSTART up to, not
    including, DTEND. InvalidInput for a file that is not iCalendar or holds timed events."""
    import icalendar  # imported here: only an import needs it

    if len(data) > MAX_ICS_BYTES:
        raise InvalidInput(f"the calendar file is larger than {MAX_ICS_BYTES} bytes")
    try:
        parsed = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise InvalidInput(f"not an iCalendar file: {exc}") from None
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for event in parsed.walk("VEVENT"):
        summary = str(event.get("SUMMARY", "")).strip()
        start_prop = event.get("DTSTART")
        if start_prop is None:
            raise InvalidInput(f"event {summary!r} has no DTSTART")
        start = start_prop.dt
        if isinstance(start, datetime) or not isinstance(start, date):
            raise InvalidInput(f"event {summary!r} is not an all-day event (DTSTART;VALUE=DATE)")
        end_prop = event.get("DTEND")
        end = (
            end_prop.dt
            if end_prop is not None
            else start + event.get("DURATION", icalendar.vDuration(timedelta(days=1))).dt
        )
        if isinstance(end, datetime) or end <= start or (end - start).days > 366:
            raise InvalidInput(f"event {summary!r}: DTEND must be a date after DTSTART, at most a year later")
        kind = str(event.get("X-HELPLINE-DAY", "")).strip().lower()
        if kind not in ("", "holiday", "workday"):
            raise InvalidInput(f"event {summary!r}: X-HELPLINE-DAY is holiday or workday")
        days = [start + timedelta(days=n) for n in range((end - start).days)]
        is_workday = kind == "workday" or (not kind and is_makeup_day(summary, days))
        target = workdays if is_workday else holidays
        for day in days:
            target[_day(day.isoformat(), "event date")] = summary
    if not holidays and not workdays:
        raise InvalidInput("the calendar file has no all-day events")
    return holidays, workdays


def is_makeup_day(summary: str, days: list[date]) -> bool:
    """Whether an event's summary names a make-up working day: 补班, 上班 (调休上班), "working
    day"... A bare 调休 is read from the days it covers, as the published calendars mean it: on
    a Saturday or Sunday (all of its days) it is the weekend day worked in exchange; on a weekday
    (or a span of the holiday) it is time off."""
    text = summary.lower()
    if any(word in text for word in WORKDAY_WORDS):
        return True
    return SWAP_WORD in text and bool(days) and all(day.weekday() in WEEKEND for day in days)


def with_special_days(calendar: Calendar, holidays: Mapping[date, str], workdays: Mapping[date, str]) -> Calendar:
    """The calendar with imported days added (an imported date replaces what the calendar said for it)."""
    merged_holidays = {d: n for d, n in calendar.holidays.items() if d not in workdays} | dict(holidays)
    merged_workdays = {d: n for d, n in calendar.workdays.items() if d not in holidays} | dict(workdays)
    if len(merged_holidays) + len(merged_workdays) > 2 * MAX_SPECIAL_DAYS:
        raise InvalidInput(f"a calendar holds at most {MAX_SPECIAL_DAYS} holidays and as many make-up days")
    return Calendar(calendar.timezone, calendar.weekly, merged_holidays, merged_workdays, calendar.makeup_weekday)
