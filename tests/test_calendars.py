"""Team calendars as records (conversation/calendars.py): what an admin may enter, the
stored form, and holidays imported from iCalendar, including the shipped example."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from conversation.business_time import is_open
from conversation.calendars import (
    calendar_from_input,
    calendar_to_doc,
    special_days_from_ics,
    with_special_days,
)
from conversation.errors import InvalidInput

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "hub" / "calendars" / "cn-public-holidays-2027.example.ics"
DOC = {
    "timezone": "Asia/Shanghai",
    "hours": {"mon": ["09:00-18:00"], "fri": ["09:00-12:00", "22:00-06:00"], "sun": ["00:00-24:00"]},
    "holidays": {"2027-10-01": "国庆节"},
    "workdays": {"2027-10-09": "国庆节调休"},
    "makeup_weekday": "fri",
}


def test_a_calendar_round_trips_through_its_document() -> None:
    calendar = calendar_from_input(DOC)
    assert calendar.weekly[4][1].minutes == 8 * 60 and calendar.makeup_weekday == 4
    doc = calendar_to_doc(calendar)
    assert doc["hours"]["fri"] == ["09:00-12:00", "22:00-06:00"] and doc["hours"]["tue"] == []
    assert calendar_from_input(doc) == calendar


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"hours": {"mon": ["9-5"]}}, "hours"),
        ({"hours": {"funday": ["09:00-10:00"]}}, "unknown day"),
        ({"hours": {"mon": "09:00-10:00"}}, "hours"),
        ({"holidays": {"2027-02-30": "x"}}, "holidays"),
        ({"holidays": {"20277-01-01": "x"}}, "holidays"),
        ({"holidays": ["2027-01-01"]}, "holidays"),
        ({"workdays": {"2027-01-01": 5}}, "workdays"),
        ({"makeup_weekday": "someday"}, "makeup_weekday"),
        ({"colour": "red"}, "unknown calendar field"),
    ],
)
def test_bad_input_is_refused_with_the_key(change: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        calendar_from_input({**DOC, **change})


ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:1\r
DTSTART;VALUE=DATE:20270501\r
DTEND;VALUE=DATE:20270504\r
SUMMARY:\xe5\x8a\xb3\xe5\x8a\xa8\xe8\x8a\x82\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2\r
DTSTART;VALUE=DATE:20270508\r
SUMMARY:\xe5\x8a\xb3\xe5\x8a\xa8\xe8\x8a\x82\xe8\xa1\xa5\xe7\x8f\xad\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_ics_holidays_span_to_the_exclusive_end_and_补班_is_a_working_day() -> None:
    holidays, workdays = special_days_from_ics(ICS)
    assert holidays == {date(2027, 5, d): "劳动节" for d in (1, 2, 3)}
    assert workdays == {date(2027, 5, 8): "劳动节补班"}


@pytest.mark.parametrize(
    "data",
    [
        b"not a calendar",
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270501T090000Z\r\nSUMMARY:timed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    ],
)
def test_a_file_that_is_not_a_holiday_calendar_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        special_days_from_ics(data)


def test_the_shipped_example_names_its_source_and_says_it_is_an_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("\r\n ", "")
    assert "EXAMPLE" in text and "国务院办公厅" in text
    holidays, workdays = special_days_from_ics(EXAMPLE.read_bytes())
    assert date(2027, 10, 1) in holidays and date(2027, 1, 1) in holidays
    assert all(day.year == 2027 for day in [*holidays, *workdays])
    office = calendar_from_input(
        {"timezone": "Asia/Shanghai", "hours": {"mon": ["09:00-18:00"], "fri": ["09:00-18:00"]}}
    )
    calendar = with_special_days(office, holidays, workdays)
    assert not is_open(calendar, datetime(2027, 10, 1, 2, tzinfo=UTC))  # a Friday: National Day
    saturday = sorted(d for d in workdays if d.weekday() == 5)[0]
    assert is_open(calendar, datetime(saturday.year, saturday.month, saturday.day, 2, tzinfo=UTC))  # 10:00 local


def ics_of(*events: tuple[str, str, str]) -> bytes:
    """A calendar of all-day events (start, exclusive end, summary)."""
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{n}\r\nDTSTART;VALUE=DATE:{start}\r\nDTEND;VALUE=DATE:{end}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"
        for n, (start, end, summary) in enumerate(events)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n".encode()


def test_a_bare_调休_is_read_from_its_days_a_weekend_day_is_worked_a_weekday_or_a_holiday_span_is_off() -> None:
    holidays, workdays = special_days_from_ics(
        ics_of(
            ("20270220", "20270221", "调休"),  # a Saturday: the make-up working day
            ("20270213", "20270214", "春节 调休"),  # a Saturday too
            ("20270215", "20270216", "调休"),  # a Monday: the day given off in exchange
            ("20270206", "20270213", "春节调休"),  # a span over a weekend: the holiday itself
            ("20271010", "20271011", "国庆节调休上班"),  # a Sunday said outright
            ("20271004", "20271005", "国庆节（休）"),
        )
    )
    assert workdays == {date(2027, 2, 20): "调休", date(2027, 2, 13): "春节 调休", date(2027, 10, 10): "国庆节调休上班"}
    assert date(2027, 2, 15) in holidays and date(2027, 10, 4) in holidays
    assert {date(2027, 2, d) for d in range(6, 13)} <= set(holidays)


def test_a_bilingual_holiday_name_is_said_in_the_readers_script() -> None:
    """Calendars write both ("元旦 New Year's Day"); a trial's Chinese customer read
    "今天是店庆日 Store anniversary"."""
    from conversation.calendars import holiday_in

    assert holiday_in("店庆日 Store anniversary", "zh-CN") == "店庆日"
    assert holiday_in("店庆日 Store anniversary", "en") == "Store anniversary"
    assert holiday_in("元旦 New Year's Day", "zh") == "元旦"
    assert (
        holiday_in("国庆节", "en") == "国庆节" and holiday_in("Boxing Day", "zh-CN") == "Boxing Day"
    )  # one script: as is
