"""Report rules shared by both store backends and the API: pure functions, no I/O.

- Percentiles use the nearest-rank rule: the p-th percentile of n ascending values is the
  value at 1-based rank ceil(p * n / 100). Both stores pick that rank themselves
  (SQLite: ROW_NUMBER over the sorted values; MongoDB: $sort, $push, $arrayElemAt), so a
  percentile never loads the values into Python; `percentile` here is the reference.
- Durations are business time in the ticket's team calendar, with the SLA pauses left out
  (waiting on the customer, resolved): `fact_after` computes them once, when a clock stops
  (first agent reply, resolution), and the store keeps them per ticket (`TicketFact`).
- Each figure is filed under the moment its event happened: volume under creation, first
  response under the reply, resolution and SLA met under the (latest) resolution, the
  reopen rate under the first resolution. A fact carries the team, channel, category and
  agent the ticket had when it was last written, so filters need no join.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conversation import faq_bot
from conversation.business_time import Calendar, NeverOpen
from conversation.errors import InvalidInput
from conversation.model import Conversation, Status
from conversation.sla import FIRST_RESPONSE, RESOLUTION, SlaPolicy, SlaState, clocks

FIRST_YEAR, LAST_YEAR = 1970, 9998  # the stores keep times from the epoch; a year's period ends before 9999
BUCKET_SECONDS = 900  # volume is counted by the store in 15-minute UTC buckets: every zone's offset is a multiple
# Backlog ages (seconds, label): a ticket falls in the first bucket whose bound exceeds its age.
BACKLOG_AGES: tuple[tuple[int | None, str], ...] = (
    (3600, "lt_1h"),
    (4 * 3600, "1h_4h"),
    (24 * 3600, "4h_1d"),
    (3 * 86400, "1d_3d"),
    (7 * 86400, "3d_7d"),
    (None, "ge_7d"),
)
DONE = frozenset({Status.RESOLVED, Status.CLOSED})
# The FAQ bot's answers (plugins/faq.py): SDK records of this plugin and kind, outcome as status.
BOT_PLUGIN, BOT_ANSWER_KIND, DEFLECTED = faq_bot.PLUGIN, faq_bot.ANSWER_KIND, faq_bot.Outcome.DEFLECTED.value


def nearest_rank(percent: int, count: int) -> int:
    """The 1-based rank of the p-th percentile among `count` sorted values (0 when there are none)."""
    if count <= 0:
        return 0
    return max(1, (percent * count + 99) // 100)


def percentile(values: Iterable[float], percent: int) -> float | None:
    """The nearest-rank percentile of `values`; None when there are none."""
    ordered = sorted(values)
    rank = nearest_rank(percent, len(ordered))
    return ordered[rank - 1] if rank else None


@dataclass(frozen=True)
class ReportFilters:
    """Optional filters: empty means any. `teams` limits to a supervisor's teams (None: every team)."""

    team: str = ""
    channel: str = ""
    category: str = ""
    agent: str = ""
    teams: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ReportQuery:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    zone: str = "UTC"  # days and hours of the volume tables are counted in this zone
    filters: ReportFilters = ReportFilters()


def parse_period(start_text: str, end_text: str, zone_name: str = "UTC") -> tuple[datetime, datetime, str]:
    """`from`/`to` as ISO dates or date-times (a date, or a time without offset, is read in
    `zone_name`), checked: from before to, at most a year. InvalidInput says what is wrong."""
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"tz: unknown time zone {zone_name!r}") from None
    start = _moment("from", start_text, zone)
    end = _moment("to", end_text, zone)
    if start >= end:
        raise InvalidInput("from must be before to")
    if end > _a_year_after(start.astimezone(zone)):
        raise InvalidInput("the period may be at most one year (e.g. from=2026-01-01&to=2027-01-01)")
    return start, end, zone.key


def _a_year_after(start: datetime) -> datetime:
    """The same local date and time a year later (29 February: 1 March): a year is 365 or 366 days."""
    try:
        return start.replace(year=start.year + 1)
    except ValueError:
        return (start + timedelta(days=1)).replace(year=start.year + 1)


def _moment(name: str, text: str, zone: ZoneInfo) -> datetime:
    if not text:
        raise InvalidInput(f"{name} is required (an ISO date such as 2026-01-31 or a date-time)")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        hint = ""
        if " " in text.strip():  # "…T00:00 08:00": a "+" in a URL reads as a space
            hint = "; a '+' in a URL must be written %2B (e.g. T00:00%2B08:00)"
        raise InvalidInput(f"{name}: {text!r} is not an ISO date or date-time{hint}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        moment = datetime.min.replace(tzinfo=UTC)
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InvalidInput(f"{name}: {text!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    return moment


@dataclass(frozen=True)
class TicketFact:
    """What the reports keep per ticket, written when a clock stops or the ticket reopens."""

    conversation_id: str
    created_at: datetime
    team: str = ""
    channel: str = ""
    category: str = ""
    agent_id: str = ""  # the assignee when last written (resolution figures per agent)
    first_response_at: datetime | None = None
    first_response_s: float | None = None  # business seconds from creation to the first agent reply
    first_responder_id: str = ""
    resolved_at: datetime | None = None  # the latest resolution
    first_resolved_at: datetime | None = None
    resolution_s: float | None = None  # business seconds from creation to the latest resolution, pauses left out
    sla_met: bool | None = None  # every stopped clock of the policy in time; None without a policy
    reopens: int = 0
    resolved: bool = False  # resolved or closed now (a later reopen counts)
    resolver_id: str = ""  # who resolved it last (the agent who did; else the assignee then): per-agent resolutions
    # (resolved_at, reopened_at) of each resolution that a reopen ended: the ticket was done
    # between them, so it is not in the backlog of a moment in between (resolved_at is the latest only)
    done_spans: tuple[tuple[datetime, datetime], ...] = ()


def _business_seconds(
    kind: str,
    conversation: Conversation,
    state: SlaState,
    calendar: Calendar,
    calendars: Mapping[str, Calendar] | None = None,
) -> float:
    """The stopped clock's business time (the SLA clock's own rule, with a target no ticket reaches)."""
    stop = conversation.first_response_at if kind == FIRST_RESPONSE else conversation.resolved_at
    assert stop is not None
    policy = SlaPolicy("report", targets={kind: timedelta(days=36500)})
    try:
        (clock,) = clocks(conversation, state, policy, calendar, stop, calendars)
    except NeverOpen:
        return 0.0
    return clock.elapsed.total_seconds()


def fact_after(
    previous: TicketFact | None,
    conversation: Conversation,
    state: SlaState,
    calendar: Calendar,
    policy: SlaPolicy | None,
    now: datetime,
    *,
    responder_id: str = "",
    resolver_id: str = "",
    calendars: Mapping[str, Calendar] | None = None,
) -> TicketFact:
    """The ticket's fact after a change: a first response or resolution not yet counted is
    measured now (a ticket that moved: each stretch in its team's `calendars`, as its SLA
    clocks); a ticket worked again after its resolution counts one more reopen.
    `resolver_id`: the agent whose change resolved it (the resolution is theirs, whoever is
    assigned); without one (a rule, the system) the assignee at that moment."""
    fact = previous or TicketFact(conversation.id, conversation.created_at)
    fact = replace(
        fact,
        team=conversation.team,
        channel=conversation.channel,
        category=conversation.category,
        agent_id=conversation.assignee_id,
    )
    if conversation.first_response_at is not None and fact.first_response_s is None:
        fact = replace(
            fact,
            first_response_at=conversation.first_response_at,
            first_response_s=_business_seconds(FIRST_RESPONSE, conversation, state, calendar, calendars),
            first_responder_id=responder_id or conversation.assignee_id,
        )
    if conversation.merged_into:
        # Closed by a merge: its work goes on in the other ticket, so this is no resolution
        # (a supervisor saw an agent "resolve" more tickets than she handled); a resolution
        # before the merge stays as it was.
        return fact
    done = conversation.status in DONE and conversation.resolved_at is not None
    if done and (not fact.resolved or fact.resolved_at != conversation.resolved_at):
        resolved_at = conversation.resolved_at
        assert resolved_at is not None
        fact = replace(
            fact,
            resolved=True,
            resolved_at=resolved_at,
            first_resolved_at=fact.first_resolved_at or resolved_at,
            resolution_s=_business_seconds(RESOLUTION, conversation, state, calendar, calendars),
            sla_met=_sla_met(conversation, state, calendar, policy, now, calendars),
            resolver_id=resolver_id or conversation.assignee_id,
        )
    elif not done and conversation.status is not Status.CLOSED and fact.resolved:
        spans = fact.done_spans + ((fact.resolved_at, now),) if fact.resolved_at is not None else fact.done_spans
        fact = replace(fact, resolved=False, reopens=fact.reopens + 1, done_spans=spans)
    return fact


def _sla_met(
    conversation: Conversation,
    state: SlaState,
    calendar: Calendar,
    policy: SlaPolicy | None,
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
) -> bool | None:
    if policy is None:
        return None
    targets = {k: v for k, v in policy.targets.items() if k in (FIRST_RESPONSE, RESOLUTION)}
    if not targets:
        return None
    try:
        measured = clocks(conversation, state, replace(policy, targets=targets), calendar, now, calendars)
    except NeverOpen:
        return None
    return all(c.met if c.stopped_at is not None else not c.breached for c in measured)


def fold_volume(buckets: Sequence[tuple[datetime, int]], zone_name: str) -> tuple[list[int], dict[str, int]]:
    """Counts per store bucket (UTC start) → counts per local hour of day (24) and per local date."""
    zone = ZoneInfo(zone_name)
    by_hour = [0] * 24
    by_day: dict[str, int] = {}
    for start, count in buckets:
        local = start.astimezone(zone)
        by_hour[local.hour] += count
        key = local.date().isoformat()
        by_day[key] = by_day.get(key, 0) + count
    return by_hour, by_day


def days_of(start: datetime, end: datetime, zone_name: str) -> list[date]:
    """Every local date the period touches, in order (a day table shows the empty ones too)."""
    zone = ZoneInfo(zone_name)
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def backlog_age_label(age_seconds: float) -> str:
    for bound, label in BACKLOG_AGES:
        if bound is None or age_seconds < bound:
            return label
    return BACKLOG_AGES[-1][1]


def ratio(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places; None when nothing was counted."""
    return round(part / whole, 4) if whole else None


def daily_time(text: str) -> time:
    """The daily email's local time, HH:MM."""
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        return time(hours, minutes)
    except ValueError:
        raise InvalidInput(f"daily_at: {text!r} must be a time of day, HH:MM (e.g. 08:00)") from None


def daily_due(now: datetime, zone_name: str, at: time, last_sent: str) -> tuple[str, datetime, datetime] | None:
    """Whether today's summary is due: (today's local date, yesterday's start and end in UTC)
    once the local time passed `at` and today's was not sent (`last_sent`: the date it was last sent for)."""
    zone = ZoneInfo(zone_name)
    local = now.astimezone(zone)
    today = local.date()
    if local.time() < at or last_sent == today.isoformat():
        return None
    start = datetime.combine(today - timedelta(days=1), time(), zone).astimezone(UTC)
    end = datetime.combine(today, time(), zone).astimezone(UTC)
    return today.isoformat(), start, end


def read_moment(name: str, text: str, zone_name: str = "UTC") -> datetime:
    """One ISO date or date-time read as reports read `from`/`to` (no offset: in `zone_name`),
    for other routes that take a time (/quality/figures), with the same wording."""
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"tz: unknown time zone {zone_name!r}") from None
    return _moment(name, text, zone)
