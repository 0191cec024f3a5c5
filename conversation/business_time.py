"""Business-time arithmetic over a team calendar: pure functions, no I/O.

A `Calendar` is a time zone, weekly opening spans, public holidays and make-up working
days (调休: a Saturday that is a working day). Every instant in and out is timezone-aware;
results are UTC. The rules, in one place:

- A span belongs to the local day it starts on: Friday's 22:00-06:00 runs into Saturday
  morning and is closed only when Friday is a holiday. A span may be 24 hours long
  (00:00-24:00); seven of them make a 24/7 calendar.
- A holiday closes every span of that local date. A make-up working day opens the spans of
  `makeup_weekday` (Monday unless said otherwise) instead of its own weekday's. A date that
  is both is a holiday.
- Spans are wall-clock times: a 09:00-17:00 day is 8 hours on a DST change too, a 24-hour
  span is 23 or 25 hours long on those days. A wall time that does not exist (the hour
  skipped in spring) is read with the offset before the change, so it lands just after it.

API (all pure, used by SLA clocks and by routing):
  is_open(cal, at) -> bool
  next_opening(cal, at) -> datetime | None     # `at` itself when open; None: never opens
  add_business_time(cal, start, delta) -> datetime   # also add_business_minutes(cal, start, n)
  business_time_between(cal, start, end) -> timedelta  # negative when end < start
  open_intervals(cal, start) -> iterator of (opens, closes) UTC, merged, from `start` on
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class NeverOpen(ValueError):
    """The calendar has no opening at all from the given instant on: a business deadline cannot be reached."""


@dataclass(frozen=True, order=True)
class Span:
    """Opening time on one day: `start` minutes after local midnight, `minutes` long (1..1440).

    A span whose end passes midnight runs into the next day."""

    start: int
    minutes: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < DAY_MINUTES or not 0 < self.minutes <= DAY_MINUTES:
            raise ValueError(f"a span starts within the day and lasts 1..{DAY_MINUTES} minutes")

    @classmethod
    def parse(cls, text: str) -> Span:
        """'09:00-18:00', '22:00-06:00' (crosses midnight), '00:00-24:00' (the whole day)."""
        try:
            first, second = (part.strip() for part in text.split("-"))
            start, end = _minutes(first), _minutes(second)
        except ValueError:
            raise ValueError(f"hours {text!r} must be HH:MM-HH:MM, e.g. 09:00-18:00 or 22:00-06:00") from None
        if start == DAY_MINUTES:
            raise ValueError(f"hours {text!r}: a span cannot start at 24:00")
        if start == end % DAY_MINUTES and end != DAY_MINUTES:
            raise ValueError(f"hours {text!r}: the start and end are the same; use 00:00-24:00 for a whole day")
        length = end - start if end > start else end + DAY_MINUTES - start
        return cls(start, length)

    def __str__(self) -> str:
        end = self.start + self.minutes
        end_text = "24:00" if end == DAY_MINUTES else _clock(end % DAY_MINUTES)
        return f"{_clock(self.start)}-{end_text}"


def _minutes(text: str) -> int:
    hours, _, mins = text.partition(":")
    if not (hours.isdigit() and mins.isdigit() and len(mins) == 2 and 1 <= len(hours) <= 2):
        raise ValueError(text)
    value = int(hours) * 60 + int(mins)
    if int(mins) >= 60 or value > DAY_MINUTES:
        raise ValueError(text)
    return value


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Calendar:
    """When a team works. `weekly[0]` is Monday's spans ... `weekly[6]` Sunday's."""

    timezone: str = "UTC"
    weekly: tuple[tuple[Span, ...], ...] = ((),) * 7
    holidays: Mapping[date, str] = field(default_factory=dict)  # date -> name
    workdays: Mapping[date, str] = field(default_factory=dict)  # make-up working days (调休) -> name
    makeup_weekday: int = 0  # whose spans a make-up working day opens

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # ZoneInfoNotFoundError (a KeyError) for an unknown zone
        if len(self.weekly) != 7:
            raise ValueError("weekly hours need seven days, Monday first")
        if not 0 <= self.makeup_weekday < 7:
            raise ValueError("makeup_weekday is 0 (Monday) .. 6 (Sunday)")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def spans_on(self, day: date) -> tuple[Span, ...]:
        """The spans that start on this local date."""
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.weekly[self.makeup_weekday]
        return self.weekly[day.weekday()]


WHOLE_DAY = (Span(0, DAY_MINUTES),)
ALWAYS_OPEN = Calendar("UTC", (WHOLE_DAY,) * 7)


def _around_the_clock(cal: Calendar) -> bool:
    """Every day whole and no holiday: business time is wall time (the common 24/7 case, kept cheap)."""
    return not cal.holidays and all(spans == WHOLE_DAY for spans in cal.weekly)


def weekly_hours(hours: Mapping[str, list[str] | tuple[str, ...]]) -> tuple[tuple[Span, ...], ...]:
    """Weekly spans from {'mon': ['09:00-18:00'], ...}; a missing day is closed."""
    unknown = set(hours) - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"unknown day(s) {', '.join(sorted(unknown))}: use {', '.join(WEEKDAYS)}")
    return tuple(tuple(sorted(Span.parse(text) for text in hours.get(day, ()))) for day in WEEKDAYS)


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time `minutes` after the local midnight of `day` (may pass into later days)."""
    moment = datetime.combine(day + timedelta(days=minutes // DAY_MINUTES), time(), tzinfo=zone)
    moment = moment.replace(hour=(minutes % DAY_MINUTES) // 60, minute=minutes % 60)
    return moment.astimezone(UTC)


def _day_intervals(cal: Calendar, day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    result = []
    for span in cal.spans_on(day):
        opens, closes = _local(day, span.start, zone), _local(day, span.start + span.minutes, zone)
        if closes > opens:
            result.append((opens, closes))
    return result


def open_intervals(cal: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals [opens, closes) in UTC from `start` on, in order and not touching (a
    24/7 stretch comes in pieces of a week); the first is clipped to `start`. Ends only when
    no opening can follow: past the last holiday or make-up day with no weekly hours."""
    zone = cal.zone
    start = start.astimezone(UTC)
    day = start.astimezone(zone).date() - timedelta(days=1)  # yesterday's span may run into today
    last_special = max([*cal.holidays, *cal.workdays], default=date.min)
    weekly = any(cal.weekly)
    current: tuple[datetime, datetime] | None = None
    while True:
        for opens, closes in sorted(_day_intervals(cal, day, zone)):
            if closes <= start:
                continue
            opens = max(opens, start)
            if current is not None and opens <= current[1]:
                current = (current[0], max(current[1], closes))
                continue
            if current is not None:
                yield current
            current = (opens, closes)
        day += timedelta(days=1)
        # Spans of `day` and later start at its local midnight at the earliest: an interval that
        # ends before it is complete. A long stretch is handed out in pieces so 24/7 never stalls.
        if current is not None and (current[1] < _local(day, 0, zone) or current[1] - current[0] >= timedelta(days=7)):
            yield current
            current = None
        if current is None and not weekly and day > last_special:
            return


def is_open(cal: Calendar, at: datetime) -> bool:
    """Whether the team is working at this instant."""
    for opens, _closes in open_intervals(cal, at):
        return opens <= at
    return False


def next_opening(cal: Calendar, at: datetime) -> datetime | None:
    """`at` when open, else the next instant the team opens; None when it never opens again."""
    for opens, _closes in open_intervals(cal, at):
        return opens
    return None


def add_business_time(cal: Calendar, start: datetime, delta: timedelta) -> datetime:
    """The earliest instant at which `delta` of business time has passed since `start`.

    A zero delta gives `start` itself. NeverOpen when the calendar runs out of openings."""
    if delta < timedelta(0):
        raise ValueError("business time to add cannot be negative")
    start = start.astimezone(UTC)
    if delta == timedelta(0) or _around_the_clock(cal):
        return start + delta
    left = delta
    for opens, closes in open_intervals(cal, start):
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
    raise NeverOpen("the calendar has no more opening hours")


def add_business_minutes(cal: Calendar, start: datetime, minutes: float) -> datetime:
    return add_business_time(cal, start, timedelta(minutes=minutes))


def open_spans(cal: Calendar, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The open intervals between `start` and `end`, clipped to them."""
    spans = []
    for opens, closes in open_intervals(cal, start):
        if opens >= end:
            break
        spans.append((opens, min(closes, end)))
    return spans


def business_time_between(cal: Calendar, start: datetime, end: datetime) -> timedelta:
    """Business time from `start` to `end`; negative when `end` comes first."""
    if end < start:
        return -business_time_between(cal, end, start)
    if _around_the_clock(cal):
        return end - start
    total = timedelta(0)
    for opens, closes in open_intervals(cal, start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total
