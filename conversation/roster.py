"""Shifts, backup duty (备班) and leave: the records, their validation, and who is on duty when.

A team's roster is a list of entries, in the team's time zone:

- `pattern`: a recurring shift (早班 08:00-16:00 on Mon-Fri) for some agents; an end before
  the start runs over midnight into the next day, an end equal to it makes a 24-hour duty
  ("00:00"-"00:00", or "00:00"-"24:00" as calendars write a whole day);
- `extra`: a one-off shift on one date;
- `swap`: on one date, `replaces` gives their occurrence of the pattern `pattern` to `agents`;
- `leave`: the agents work no shift that starts from `date` to `until` (whole days, inclusive).

Each of `pattern` and `extra` is a `shift` or a `backup` duty. Everything here is pure:
both store backends and the hub ask these functions, never their own copy of the rules.
Times are local wall-clock times: a shift keeps its hours across a DST change (so it
lasts an hour more or less that night); a time that does not exist that day (in the hour
skipped in spring) moves on by the gap (02:30 becomes 03:30), and a time that happens twice
(in autumn) is its first occurrence.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conversation.errors import InvalidInput
from conversation.spreadsheet import read_cell, safe_cell

KINDS = ("pattern", "extra", "swap", "leave")
DUTIES = ("shift", "backup")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CSV_COLUMNS = ("kind", "label", "duty", "agents", "weekdays", "start", "end", "date", "until", "pattern", "replaces")
ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_AGENTS = 200
Day = date  # the entry's fields `date` and `until` hide the type's own name in its class


@dataclass(frozen=True)
class RosterEntry:
    id: str
    team: str
    kind: str
    agents: tuple[str, ...]
    label: str = ""
    duty: str = "shift"
    weekdays: tuple[int, ...] = ()  # 0 = Monday (patterns)
    start: str = ""  # "HH:MM" local
    end: str = ""
    date: Day | None = None  # extra, swap: the day; leave: the first day; pattern: first day it applies
    until: Day | None = None  # leave: the last day; pattern: the last day it applies (None: open-ended)
    pattern: str = ""  # swap: the id of the pattern whose occurrence changes hands
    replaces: str = ""  # swap: the agent who gives it away


@dataclass(frozen=True)
class TeamRoster:
    """A team's roster settings (admin-set): its time zone and the rules that read the roster."""

    team: str
    timezone: str = "UTC"
    min_on_shift: int = 1  # coverage: fewer agents on shift than this in an hour is a gap
    page_queue: int = 10  # page backup when more tickets than this wait unassigned
    page_wait_minutes: float = 15.0  # ... or when the oldest has waited longer than this
    strategy: str = ""  # "least-loaded" or "round-robin"; "" follows [routing] strategy


@dataclass(frozen=True, order=True)
class Duty:
    """One occurrence: an agent on a shift or on backup duty from `start` to `end` (UTC)."""

    start: datetime
    end: datetime
    agent: str
    duty: str = "shift"
    team: str = ""
    label: str = ""
    entry: str = ""  # the entry it came from


@dataclass(frozen=True)
class Gap:
    """An hour with fewer agents on shift than the team's minimum."""

    start: datetime
    end: datetime
    on_shift: int
    minimum: int


# -- validation --------------------------------------------------------------------------
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone: {name!r} is not a time zone (e.g. Asia/Shanghai)") from None


def parse_hhmm(key: str, value: Any, *, end: bool = False) -> str:
    """A wall-clock time; an `end` may be "24:00", the end of the day as calendars write it
    ("00:00-24:00"), kept as "00:00": an end at or before the start is the next day's."""
    if end and isinstance(value, str) and value.strip() == "24:00":
        return "00:00"
    if not isinstance(value, str) or not HHMM.match(value.strip()):
        ends = ", or 24:00 for the end of the day" if end else ""
        raise InvalidInput(f"{key}: {value!r} is not a time (HH:MM, 00:00-23:59{ends})")
    return value.strip()


def parse_day(key: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{key}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_weekdays(value: Any) -> tuple[int, ...]:
    """Days as a list or a text: names (mon, tue...), ISO numbers 1-7, or ranges (mon-fri)."""
    words = value if isinstance(value, list) else re.split(r"[\s;,]+", str(value or "").strip().lower())
    days: set[int] = set()
    for word in (str(w).strip().lower() for w in words):
        if not word:
            continue
        first, _, last = word.partition("-")
        a = _weekday(first)
        b = _weekday(last) if last else a
        days.update(range(a, b + 1) if b >= a else [*range(a, 7), *range(b + 1)])  # fri-mon wraps the week
    if not days:
        raise InvalidInput("weekdays: name at least one day (mon-sun or 1-7)")
    return tuple(sorted(days))


def _weekday(word: str) -> int:
    if word in WEEKDAYS:
        return WEEKDAYS.index(word)
    if word.isdigit() and word.isascii() and 1 <= int(word) <= 7:
        return int(word) - 1
    raise InvalidInput(f"weekdays: {word!r} is not a day (mon-sun or 1-7)")


def entry_from_input(data: Mapping[str, Any], *, entry_id: str, team: str) -> RosterEntry:
    """An entry from an API body or a CSV row; InvalidInput names the field that is wrong."""
    unknown = set(data) - {*CSV_COLUMNS, "id", "team"}
    if unknown:
        raise InvalidInput(f"unknown roster field(s): {', '.join(sorted(unknown))}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"kind: must be one of {', '.join(KINDS)}, not {kind!r}")
    agents = data.get("agents", [])
    if isinstance(agents, str):
        agents = [a for a in re.split(r"[\s;,]+", agents) if a]
    if not isinstance(agents, list) or not all(isinstance(a, str) and a for a in agents):
        raise InvalidInput("agents: a list of agent ids")
    if not agents or len(agents) > MAX_AGENTS:
        raise InvalidInput(f"agents: name 1 to {MAX_AGENTS} agents")
    label = data.get("label") or ""
    if not isinstance(label, str) or len(label) > 50:
        raise InvalidInput("label: a text of at most 50 characters")
    entry = RosterEntry(id=entry_id, team=team, kind=kind, agents=tuple(dict.fromkeys(agents)), label=label.strip())
    if kind in ("pattern", "extra"):
        duty = data.get("duty") or "shift"
        if duty not in DUTIES:
            raise InvalidInput(f"duty: must be shift or backup, not {duty!r}")
        entry = replace(
            entry,
            duty=duty,
            start=parse_hhmm("start", data.get("start")),
            end=parse_hhmm("end", data.get("end"), end=True),
        )
    if kind == "pattern":
        entry = replace(entry, weekdays=parse_weekdays(data.get("weekdays")))
        first = data.get("date")
        last = data.get("until")
        entry = replace(
            entry, date=parse_day("date", first) if first else None, until=parse_day("until", last) if last else None
        )
    if kind in ("extra", "swap", "leave"):
        entry = replace(entry, date=parse_day("date", data.get("date")))
    if kind == "leave":
        last = data.get("until") or entry.date
        entry = replace(entry, until=parse_day("until", last))
    if entry.date and entry.until and entry.until < entry.date:
        raise InvalidInput("until: the last day comes before the first")
    if kind == "swap":
        pattern, replaces = data.get("pattern"), data.get("replaces")
        if not isinstance(pattern, str) or not pattern:
            raise InvalidInput("pattern: the id of the shift pattern whose day changes hands")
        if not isinstance(replaces, str) or not replaces:
            raise InvalidInput("replaces: the agent who gives the shift away")
        if len(entry.agents) != 1:
            raise InvalidInput("agents: a swap gives the shift to exactly one agent")
        entry = replace(entry, pattern=pattern, replaces=replaces)
    return entry


def team_roster_from_input(team: str, data: Mapping[str, Any], base: TeamRoster | None = None) -> TeamRoster:
    allowed = {"timezone", "min_on_shift", "page_queue", "page_wait_minutes", "strategy"}
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput(f"unknown roster setting(s): {', '.join(sorted(unknown))}")
    settings = replace(base or TeamRoster(team), team=team)
    if "timezone" in data:
        zone(str(data["timezone"]))
        settings = replace(settings, timezone=str(data["timezone"]))
    if "min_on_shift" in data:
        settings = replace(settings, min_on_shift=_count("min_on_shift", data["min_on_shift"]))
    if "page_queue" in data:
        settings = replace(settings, page_queue=_count("page_queue", data["page_queue"]))
    if "page_wait_minutes" in data:
        value = data["page_wait_minutes"]
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 10_080:
            raise InvalidInput("page_wait_minutes: minutes, more than 0 and at most a week")
        settings = replace(settings, page_wait_minutes=float(value))
    if "strategy" in data:
        if data["strategy"] not in ("", "least-loaded", "round-robin"):
            raise InvalidInput("strategy: least-loaded, round-robin, or empty for the hub's default")
        settings = replace(settings, strategy=data["strategy"])
    return settings


def _count(key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
        raise InvalidInput(f"{key}: a whole number from 0 to 10000")
    return value


def check_swaps(entries: Sequence[RosterEntry]) -> None:
    """A swap names a pattern of its team that the agent it replaces works."""
    patterns = {e.id: e for e in entries if e.kind == "pattern"}
    for entry in entries:
        if entry.kind != "swap":
            continue
        pattern = patterns.get(entry.pattern)
        if pattern is None or pattern.team != entry.team:
            raise InvalidInput(f"pattern: {entry.pattern!r} is not a shift pattern of team {entry.team}")
        if entry.replaces not in pattern.agents:
            raise InvalidInput(f"replaces: {entry.replaces!r} does not work the pattern {pattern.label or pattern.id}")


def joining_members(entry: RosterEntry, members: Iterable[str]) -> list[str]:
    """The agents an entry puts on duty for its team who are not yet the team's members.

    Being on a team's roster makes an agent a member: the team's tickets are routed to them,
    and an agent sees (hub/access.py) only the tickets of their teams. A leave puts nobody on
    duty, so it makes nobody a member."""
    if entry.kind == "leave":
        return []
    present = set(members)
    return [agent for agent in entry.agents if agent not in present]


# -- documents -----------------------------------------------------------------------------
def entry_to_doc(entry: RosterEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "team": entry.team,
        "kind": entry.kind,
        "agents": list(entry.agents),
        "label": entry.label,
        "duty": entry.duty,
        "weekdays": list(entry.weekdays),
        "start": entry.start,
        "end": entry.end,
        "date": entry.date.isoformat() if entry.date else None,
        "until": entry.until.isoformat() if entry.until else None,
        "pattern": entry.pattern,
        "replaces": entry.replaces,
    }


def entry_from_doc(doc: Mapping[str, Any]) -> RosterEntry:
    return RosterEntry(
        id=str(doc["id"]),
        team=str(doc["team"]),
        kind=str(doc["kind"]),
        agents=tuple(doc.get("agents", ())),
        label=doc.get("label", ""),
        duty=doc.get("duty", "shift"),
        weekdays=tuple(doc.get("weekdays", ())),
        start=doc.get("start", ""),
        end=doc.get("end", ""),
        date=date.fromisoformat(doc["date"]) if doc.get("date") else None,
        until=date.fromisoformat(doc["until"]) if doc.get("until") else None,
        pattern=doc.get("pattern", ""),
        replaces=doc.get("replaces", ""),
    )


def team_roster_to_doc(settings: TeamRoster) -> dict[str, Any]:
    return {
        "team": settings.team,
        "timezone": settings.timezone,
        "min_on_shift": settings.min_on_shift,
        "page_queue": settings.page_queue,
        "page_wait_minutes": settings.page_wait_minutes,
        "strategy": settings.strategy,
    }


def team_roster_from_doc(doc: Mapping[str, Any]) -> TeamRoster:
    fields = {
        k: doc[k] for k in ("timezone", "min_on_shift", "page_queue", "page_wait_minutes", "strategy") if k in doc
    }
    return TeamRoster(team=str(doc["team"]), **fields)


# -- who is on duty ------------------------------------------------------------------------
def _local(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a day."""
    hour, minute = map(int, hhmm.split(":"))
    # fold=0 (PEP 495): a repeated time is its first occurrence; a skipped one moves on by the gap.
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def _span(day: date, start: str, end: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A shift's instants on the day it starts; an end at or before the start is the next day."""
    last_day = day + timedelta(days=1) if end <= start else day
    return _local(day, start, tz), _local(last_day, end, tz)


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def expand(entries: Iterable[RosterEntry], tz_name: str, start: datetime, end: datetime) -> list[Duty]:
    """Every duty that overlaps [start, end), with swaps and leave applied, sorted."""
    tz = zone(tz_name)
    entries = list(entries)
    # A day's shift may start the evening before `start`: look one day further back.
    first, last = (start.astimezone(tz) - timedelta(days=1)).date(), end.astimezone(tz).date()
    swaps = {(e.pattern, e.date, e.replaces): e.agents[0] for e in entries if e.kind == "swap"}
    duties: list[Duty] = []
    for entry in entries:
        if entry.kind == "pattern":
            for day in _days(max(first, entry.date or first), min(last, entry.until or last)):
                if day.weekday() in entry.weekdays:
                    begin, finish = _span(day, entry.start, entry.end, tz)
                    for agent in entry.agents:
                        who = swaps.get((entry.id, day, agent), agent)
                        duties.append(Duty(begin, finish, who, entry.duty, entry.team, entry.label, entry.id))
        elif entry.kind == "extra" and entry.date is not None and first <= entry.date <= last:
            begin, finish = _span(entry.date, entry.start, entry.end, tz)
            duties += [Duty(begin, finish, a, entry.duty, entry.team, entry.label, entry.id) for a in entry.agents]
    leave = _leave(entries)
    kept = [d for d in duties if not _on_leave(d.start.astimezone(tz).date(), leave.get(d.agent, []))]
    return sorted(d for d in kept if d.start < end and d.end > start)


def _leave(entries: Iterable[RosterEntry]) -> dict[str, list[tuple[Day, Day]]]:
    away: dict[str, list[tuple[Day, Day]]] = {}
    for entry in entries:
        if entry.kind == "leave" and entry.date and entry.until:
            for agent in entry.agents:
                away.setdefault(agent, []).append((entry.date, entry.until))
    return away


def _on_leave(day: Day, leave: list[tuple[Day, Day]]) -> bool:
    """Whether a shift starting on `day` (local) falls in the agent's leave. A shift is the day's
    it starts on, whole: a night shift from the last day's evening is off, the one ending on the
    first morning is worked (cutting both at midnight left an agent on leave alone on the
    small hours of their own night shift, a trial)."""
    return any(first <= day <= last for first, last in leave)


SHIFT_KINDS = ("pattern", "extra")


def team_people(members: Iterable[str], entries: Iterable[RosterEntry]) -> set[str]:
    """Who works in a team: its members and everyone on its roster (routing's candidates, and
    whom an escalated ticket may stay with)."""
    return {*members, *(agent for entry in entries for agent in entry.agents)}


def has_shifts(entries: Iterable[RosterEntry]) -> bool:
    """Whether a team works in shifts: a pattern or a one-off shift. One without (no entries,
    or only leave) has no shift model: its members are always on, but for their leave (one
    leave entry took the whole team off duty for a fortnight, a trial)."""
    return any(e.kind in SHIFT_KINDS for e in entries)


def on_leave_at(entries: Iterable[RosterEntry], tz_name: str, moment: datetime) -> set[str]:
    """The agents whose leave covers this instant's local day."""
    today = moment.astimezone(zone(tz_name)).date()
    return {agent for agent, spans in _leave(entries).items() if _on_leave(today, spans)}


def on_duty_at(entries: Iterable[RosterEntry], tz_name: str, moment: datetime, duty: str = "shift") -> list[str]:
    """The agents on `duty` ("shift" or "backup") at this instant, sorted."""
    duties = expand(entries, tz_name, moment, moment + timedelta(microseconds=1))
    return sorted({d.agent for d in duties if d.duty == duty and d.start <= moment < d.end})


def coverage_gaps(
    entries: Iterable[RosterEntry],
    tz_name: str,
    minimum: int,
    start: datetime,
    hours: int,
    open_spans: Sequence[tuple[datetime, datetime]] | None = None,
) -> list[Gap]:
    """The hours from `start` (rounded down to the hour) with fewer agents on shift than
    `minimum` at some moment of the hour; `on_shift` is that lowest count. `open_spans`: when
    the team works (its calendar's open intervals); only those moments count, so a team
    closed at night and at weekends shows no gap then (a trial's office-hours team listed
    every closed hour, 54 of 72, burying a real one). None: always open."""
    begin = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    finish = begin + timedelta(hours=hours)
    spans = [(begin, finish)] if open_spans is None else list(open_spans)
    shifts = [d for d in expand(entries, tz_name, begin, finish) if d.duty == "shift"]
    gaps = []
    for hour in range(hours):
        slot_start, slot_end = begin + timedelta(hours=hour), begin + timedelta(hours=hour + 1)
        open_parts = [(max(a, slot_start), min(b, slot_end)) for a, b in spans if a < slot_end and b > slot_start]
        if not open_parts:
            continue
        inside = [d for d in shifts if d.start < slot_end and d.end > slot_start]
        changes = {slot_start, *(d.start for d in inside), *(d.end for d in inside)}
        moments = {m for a, b in open_parts for m in (a, *(c for c in changes if a < c < b))}
        lowest = min(len({d.agent for d in inside if d.start <= m < d.end}) for m in moments)
        if lowest < minimum:
            gaps.append(Gap(slot_start, slot_end, lowest, minimum))
    return gaps


# -- CSV ---------------------------------------------------------------------------------------
class CsvLineError(InvalidInput):
    """A roster CSV refused at one line: the API answers the line and the reason as details
    (code `csv_line`), so the inbox can show both beside the file."""

    code = "csv_line"

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason

    def details(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class CsvRows:
    """Rows read from a roster CSV: entry inputs with the line each came from."""

    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def read_csv(text: str, *, max_rows: int = 5000) -> CsvRows:
    """The rows of a roster CSV (header: CSV_COLUMNS, any order; `kind` and `agents` required).
    InvalidInput names the line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "kind" not in header or "agents" not in header:
        raise CsvLineError(1, "the header needs at least the columns kind and agents")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise CsvLineError(1, f"unknown column(s) {', '.join(unknown)} (known: {', '.join(CSV_COLUMNS)})")
    reader.fieldnames = header
    result = CsvRows()
    for row in reader:
        line = reader.line_num
        if None in row:
            raise CsvLineError(line, "more values than columns")
        values = {k: read_cell((v or "").strip()) for k, v in row.items() if (v or "").strip()}
        if not values:
            continue
        if len(result.rows) >= max_rows:
            raise CsvLineError(line, f"a roster CSV holds at most {max_rows} rows")
        result.rows.append((line, values))
    return result


def write_csv(entries: Iterable[RosterEntry], agent_label: Mapping[str, str]) -> str:
    """A roster as CSV; agents by `agent_label` (their email), patterns by label (or id)."""
    entries = list(entries)
    pattern_names = {e.id: e.label or e.id for e in entries if e.kind == "pattern"}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in sorted(entries, key=lambda e: (KINDS.index(e.kind), e.date or date.min, e.label, e.id)):
        row = [
            e.kind,
            e.label,
            e.duty if e.kind in ("pattern", "extra") else "",
            " ".join(agent_label.get(a, a) for a in e.agents),
            " ".join(WEEKDAYS[d] for d in e.weekdays),
            e.start,
            e.end,
            e.date.isoformat() if e.date else "",
            e.until.isoformat() if e.until else "",
            pattern_names.get(e.pattern, e.pattern),
            agent_label.get(e.replaces, e.replaces),
        ]
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
