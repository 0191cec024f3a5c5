"""The roster's pure rules: shifts over midnight and DST, swaps, leave, coverage, CSV."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversation.errors import InvalidInput
from conversation.roster import (
    RosterEntry,
    check_swaps,
    coverage_gaps,
    entry_from_input,
    expand,
    joining_members,
    on_duty_at,
    parse_weekdays,
    read_csv,
    team_roster_from_input,
    write_csv,
)

SHANGHAI = "Asia/Shanghai"  # UTC+8, no DST


def pattern(
    pid: str, agents: tuple[str, ...], start: str, end: str, days: str = "mon-sun", **kw: object
) -> RosterEntry:
    return entry_from_input(
        {"kind": "pattern", "agents": list(agents), "start": start, "end": end, "weekdays": days, **kw},
        entry_id=pid,
        team="cs",
    )


def cst(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    """A Shanghai wall-clock time as UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC) - timedelta(hours=8)


EARLY = pattern("early", ("li",), "08:00", "16:00", "mon-fri", label="早班")
LATE = pattern("late", ("wang",), "16:00", "00:00", label="中班")
NIGHT = pattern("night", ("zhao",), "22:00", "06:00", label="夜班")
BACKUP = pattern("standby", ("chen",), "08:00", "20:00", duty="backup", label="备班")


def test_who_is_on_shift_follows_the_team_time_zone_and_weekdays() -> None:
    roster = [EARLY, LATE, BACKUP]
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 2, 9)) == ["li"]  # a Monday, 09:00 in Shanghai
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 2, 16)) == ["wang"]  # the end is exclusive
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 7, 9)) == []  # Saturday: no early shift
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 2, 9), "backup") == ["chen"]
    assert on_duty_at(roster, "UTC", datetime(2026, 3, 2, 9, tzinfo=UTC)) == ["li"]


def test_a_shift_over_midnight_covers_the_next_morning() -> None:
    roster = [pattern("night", ("zhao",), "22:00", "06:00", "fri")]  # Friday night into Saturday
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 6, 23)) == ["zhao"]
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 7, 5, 59)) == ["zhao"]  # Saturday, still Friday's shift
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 7, 6)) == []
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 6, 5)) == []  # Thursday night is not rostered
    assert on_duty_at([LATE], SHANGHAI, cst(2026, 3, 2, 23, 59)) == ["wang"]  # "00:00" ends at midnight


def test_shifts_keep_their_wall_clock_hours_across_dst() -> None:
    night = pattern("night", ("ana",), "22:00", "06:00")
    # Europe/Berlin springs forward on 2026-03-29 (02:00 -> 03:00) and falls back on 2026-10-25.
    spring = [
        d
        for d in expand(
            [night], "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 29, 12, tzinfo=UTC)
        )
    ]
    assert [(d.start, d.end) for d in spring] == [
        (datetime(2026, 3, 28, 21, tzinfo=UTC), datetime(2026, 3, 29, 4, tzinfo=UTC))  # 7 hours that night
    ]
    autumn = expand(
        [night], "Europe/Berlin", datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 25, 12, tzinfo=UTC)
    )
    assert [(d.end - d.start) for d in autumn] == [timedelta(hours=9)]
    skipped = pattern("odd", ("ana",), "02:30", "05:00", "sun")  # 02:30 does not exist that Sunday
    (duty,) = expand([skipped], "Europe/Berlin", datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC))
    assert duty.start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST: moved on by the gap
    assert on_duty_at([night], "Europe/Berlin", datetime(2026, 3, 29, 3, 59, tzinfo=UTC)) == ["ana"]
    assert on_duty_at([night], "Europe/Berlin", datetime(2026, 3, 29, 4, tzinfo=UTC)) == []


def test_one_off_shifts_swaps_and_leave() -> None:
    extra = entry_from_input(
        {"kind": "extra", "agents": ["sun"], "start": "10:00", "end": "14:00", "date": "2026-03-07"},
        entry_id="x",
        team="cs",
    )
    swap = entry_from_input(
        {"kind": "swap", "agents": ["sun"], "pattern": "early", "replaces": "li", "date": "2026-03-03"},
        entry_id="s",
        team="cs",
    )
    leave = entry_from_input(
        {"kind": "leave", "agents": ["li"], "date": "2026-03-04", "until": "2026-03-05"}, entry_id="l", team="cs"
    )
    roster = [EARLY, extra, swap, leave]
    check_swaps(roster)
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 7, 11)) == ["sun"]  # the one-off Saturday shift
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 3, 9)) == ["sun"]  # Tuesday: swapped
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 4, 9)) == []  # Wednesday, Thursday: on leave
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 5, 15)) == []
    assert on_duty_at(roster, SHANGHAI, cst(2026, 3, 6, 9)) == ["li"]  # back on Friday


def test_leave_takes_the_shifts_that_start_on_its_days_whole() -> None:
    """A night shift is the day's it starts on: leave on the 7th is the night from the 7th to
    the 8th; the night from the 6th is worked to its end (both were cut at midnight, and the
    agent on leave was on duty from 00:00 to 06:00 of the 8th, a trial)."""
    leave = entry_from_input({"kind": "leave", "agents": ["zhao"], "date": "2026-03-07"}, entry_id="l", team="cs")
    duties = expand([NIGHT, leave], SHANGHAI, cst(2026, 3, 6, 12), cst(2026, 3, 9, 12))
    assert [(d.start, d.end) for d in duties] == [
        (cst(2026, 3, 6, 22), cst(2026, 3, 7, 6)),
        (cst(2026, 3, 8, 22), cst(2026, 3, 9, 6)),
    ]
    assert on_duty_at([NIGHT, leave], SHANGHAI, cst(2026, 3, 8, 3)) == []


def test_a_shift_that_ends_when_it_starts_lasts_24_hours() -> None:
    (duty,) = expand(
        [pattern("all", ("li",), "08:00", "08:00", "mon")], SHANGHAI, cst(2026, 3, 2, 0), cst(2026, 3, 3, 0)
    )
    assert (duty.start, duty.end) == (cst(2026, 3, 2, 8), cst(2026, 3, 3, 8))


def test_a_pattern_applies_between_its_first_and_last_day() -> None:
    limited = pattern("p", ("li",), "08:00", "16:00", date="2026-03-03", until="2026-03-04")
    assert on_duty_at([limited], SHANGHAI, cst(2026, 3, 2, 9)) == []
    assert on_duty_at([limited], SHANGHAI, cst(2026, 3, 3, 9)) == ["li"]
    assert on_duty_at([limited], SHANGHAI, cst(2026, 3, 5, 9)) == []


def test_coverage_gaps_are_hours_below_the_minimum() -> None:
    half = pattern("half", ("li",), "08:00", "12:30")
    gaps = coverage_gaps([half, LATE], SHANGHAI, 1, cst(2026, 3, 2, 8), 10)
    # 12:30-16:00 nobody: the 12:00 hour (lowest 0), 13, 14, 15.
    assert [(g.start, g.on_shift) for g in gaps] == [(cst(2026, 3, 2, h), 0) for h in (12, 13, 14, 15)]
    assert [g.start for g in coverage_gaps([half, LATE], SHANGHAI, 2, cst(2026, 3, 2, 8), 2)] == [
        cst(2026, 3, 2, 8),
        cst(2026, 3, 2, 9),
    ]
    assert coverage_gaps([half, LATE], SHANGHAI, 0, cst(2026, 3, 2, 8), 10) == []
    # backup duty does not count as coverage
    assert len(coverage_gaps([BACKUP], SHANGHAI, 1, cst(2026, 3, 2, 8), 4)) == 4


def test_coverage_counts_only_the_hours_the_team_is_open() -> None:
    """A trial's office-hours team listed every closed night and weekend hour as a gap."""
    office = [(cst(2026, 3, 2, 9), cst(2026, 3, 2, 18, 30))]  # Monday 09:00-18:30
    early = pattern("early", ("li",), "08:00", "17:00", "mon-fri")
    gaps = coverage_gaps([early], SHANGHAI, 1, cst(2026, 3, 2, 0), 24, office)
    # nobody 17:00-18:30: the 17:00 hour and the half-open 18:00 hour; nothing while closed
    assert [(g.start, g.on_shift) for g in gaps] == [(cst(2026, 3, 2, 17), 0), (cst(2026, 3, 2, 18), 0)]
    assert coverage_gaps([early], SHANGHAI, 1, cst(2026, 3, 7, 0), 48, []) == []  # closed all weekend
    assert len(coverage_gaps([early], SHANGHAI, 1, cst(2026, 3, 2, 0), 24)) == 15  # no calendar: always open
    # open only from 08:30 in an hour whose first half nobody works: no gap
    late_start = pattern("late", ("li",), "08:30", "17:00", "mon-fri")
    assert (
        coverage_gaps([late_start], SHANGHAI, 1, cst(2026, 3, 2, 8), 1, [(cst(2026, 3, 2, 8, 30), cst(2026, 3, 2, 9))])
        == []
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "shift", "agents": ["a"]}, "kind"),
        ({"kind": "pattern", "agents": [], "start": "08:00", "end": "09:00", "weekdays": "mon"}, "agents"),
        ({"kind": "pattern", "agents": ["a"], "start": "25:00", "end": "09:00", "weekdays": "mon"}, "start"),
        ({"kind": "pattern", "agents": ["a"], "start": "08:00", "end": "8:00", "weekdays": "mon"}, "end"),
        ({"kind": "pattern", "agents": ["a"], "start": "08:00", "end": "09:00", "weekdays": "someday"}, "weekdays"),
        (
            {"kind": "pattern", "agents": ["a"], "start": "08:00", "end": "09:00", "weekdays": "mon", "duty": "x"},
            "duty",
        ),
        ({"kind": "extra", "agents": ["a"], "start": "08:00", "end": "09:00", "date": "2026-02-30"}, "date"),
        ({"kind": "leave", "agents": ["a"], "date": "2026-03-05", "until": "2026-03-01"}, "until"),
        ({"kind": "swap", "agents": ["a", "b"], "date": "2026-03-05", "pattern": "p", "replaces": "c"}, "agents"),
        ({"kind": "swap", "agents": ["a"], "date": "2026-03-05", "replaces": "c"}, "pattern"),
        ({"kind": "leave", "agents": ["a"], "date": "2026-03-05", "colour": "red"}, "unknown"),
    ],
)
def test_bad_entries_are_refused_naming_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        entry_from_input(data, entry_id="e", team="cs")


def test_weekdays_take_names_numbers_and_ranges() -> None:
    assert parse_weekdays("mon-fri") == (0, 1, 2, 3, 4)
    assert parse_weekdays("sat sun") == (5, 6)
    assert parse_weekdays("fri-mon") == (0, 4, 5, 6)
    assert parse_weekdays(["1", "7"]) == (0, 6)


def test_a_swap_must_name_a_pattern_the_replaced_agent_works() -> None:
    swap = entry_from_input(
        {"kind": "swap", "agents": ["sun"], "pattern": "early", "replaces": "wang", "date": "2026-03-03"},
        entry_id="s",
        team="cs",
    )
    with pytest.raises(InvalidInput, match="replaces"):
        check_swaps([EARLY, swap])
    with pytest.raises(InvalidInput, match="pattern"):
        check_swaps([swap])


def test_team_settings_are_validated() -> None:
    settings = team_roster_from_input("cs", {"timezone": SHANGHAI, "min_on_shift": 2})
    assert (settings.timezone, settings.min_on_shift) == (SHANGHAI, 2)
    for bad in ({"timezone": "Mars/Olympus"}, {"min_on_shift": -1}, {"strategy": "random"}, {"page_wait_minutes": 0}):
        with pytest.raises(InvalidInput):
            team_roster_from_input("cs", bad)


def test_csv_round_trip_and_errors_name_the_line() -> None:
    text = write_csv([EARLY, BACKUP], {"li": "li@example.com", "chen": "chen@example.com"})
    rows = read_csv(text).rows
    assert [line for line, _ in rows] == [2, 3]
    assert next(values for _, values in rows if values["label"] == "早班") == {
        "kind": "pattern",
        "label": "早班",
        "duty": "shift",
        "agents": "li@example.com",
        "weekdays": "mon tue wed thu fri",
        "start": "08:00",
        "end": "16:00",
    }
    with pytest.raises(InvalidInput, match="line 1: unknown column"):
        read_csv("kind,agents,colour\npattern,a,red\n")
    with pytest.raises(InvalidInput, match="line 1: the header"):
        read_csv("label,start\n")
    with pytest.raises(InvalidInput, match="line 3: more values"):
        read_csv("kind,agents\nleave,a\nleave,a,b\n")
    assert read_csv("\ufeffkind,agents\n\n,\nleave,a\n").rows == [(4, {"kind": "leave", "agents": "a"})]
    # a label a spreadsheet would run is written as text, and read back as it was
    formula = replace(EARLY, label="=cmd|' /C calc'!A0")
    written = write_csv([formula], {"li": "li@example.com"})
    assert "'=cmd" in written and read_csv(written).rows[0][1]["label"] == formula.label


def test_entries_without_a_date_keep_none() -> None:
    assert EARLY.date is None and EARLY.until is None
    assert entry_from_input(
        {"kind": "leave", "agents": ["a"], "date": "2026-03-05"}, entry_id="l", team="cs"
    ).until == date(2026, 3, 5)


# -- properties: any pattern, any zone, around DST changes -----------------------------------------

times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
zones = st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
instants = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(start=times, end=times, zone_name=zones, moment=instants, days=st.sets(st.integers(0, 6), min_size=1))
def test_on_duty_at_agrees_with_the_expanded_duties_and_shifts_are_sane(
    start: str, end: str, zone_name: str, moment: datetime, days: set[int]
) -> None:
    entry = pattern("p", ("li",), start, end, " ".join(str(d + 1) for d in sorted(days)))
    duties = expand([entry], zone_name, moment - timedelta(days=2), moment + timedelta(days=2))
    for duty in duties:
        assert timedelta(0) < duty.end - duty.start <= timedelta(hours=26)  # at most a day and a DST hour or two
    covering = any(d.start <= moment < d.end for d in duties)
    assert on_duty_at([entry], zone_name, moment) == (["li"] if covering else [])


def test_who_a_roster_entry_makes_a_member_of_its_team() -> None:
    shift = RosterEntry("e1", "finance", "pattern", ("li", "wang", "chen"))
    assert joining_members(shift, ["wang"]) == ["li", "chen"]
    assert joining_members(shift, ["li", "wang", "chen"]) == []
    assert joining_members(RosterEntry("e2", "finance", "leave", ("li",)), []) == []  # on no duty: no access
