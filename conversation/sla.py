"""SLA clocks and the escalation ladder: pure functions over a ticket, its SLA state, the
policy that applies and the owning team's calendar. Both store backends and every hub
process compute the same clocks from the same inputs, so a due time is never stored: a
change of calendar, priority or category changes the next computation, nothing else.

Three clocks, each in the owning team's business time:
- first response: from the ticket's creation to its first agent reply;
- next response: from the first customer message after an agent reply to the next reply
  (a new clock each time, once the first response was given);
- resolution: from creation to resolved (time spent resolved before a reopen does not count).
Every clock pauses while the ticket waits on the customer (pending) and while it is
resolved or closed. The pauses are kept in the ticket's SLA state as wall-time intervals.

The ladder, per clock: `warn` at the policy's warn percentage (75 %), `breach` at 100 %
(tell the team lead, page backup), `escalate` at the escalation percentage (move to a
higher tier; a ticket already with that team stays, and the thread says so). `due_steps`
says which steps have come and are not done.

Each step happens exactly once, across hub processes and restarts: a hub first claims the
step in the state (`claim_step`: its name and a lease), then acts, each effect stored under
its own `effect_key` so that doing it again is a no-op (the thread event, the lead's note,
each page, the move), then marks it done (`finish_step`). A step claimed and not done
whose claim's lease ran out (its hub died while acting) is claimed again by the next hub,
which repeats the effects: those already made stay as they are, the rest are made once.
While a step is claimed, the steps above it on its clock wait, so the thread keeps the
ladder's order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from conversation.business_time import ALWAYS_OPEN, Calendar, add_business_time, business_time_between
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, Priority, Status

FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION = "first_response", "next_response", "resolution"
KINDS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
WARN, BREACH, ESCALATE = "warn", "breach", "escalate"
PAUSING = frozenset({Status.PENDING, Status.RESOLVED, Status.CLOSED})
STATE_PLUGIN = "sla"  # the ticket's SLA state lives in the coordination area's per-ticket state under this name


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for the tickets it matches (empty `priorities`/`categories`: any)."""

    name: str
    priorities: frozenset[Priority] = frozenset()
    categories: frozenset[str] = frozenset()
    targets: Mapping[str, timedelta] = field(default_factory=dict)  # kind -> business time; a missing kind: none
    warn_percent: float = 75.0
    escalate_percent: float = 150.0
    escalate_to_team: str = ""  # the higher tier: a team id ("" - no move)

    def matches(self, conversation: Conversation) -> bool:
        return (not self.priorities or conversation.priority in self.priorities) and (
            not self.categories or conversation.category in self.categories
        )


def policy_for(policies: Sequence[SlaPolicy], conversation: Conversation) -> SlaPolicy | None:
    """The first policy (in configuration order) that matches the ticket's priority and category."""
    return next((p for p in policies if p.matches(conversation)), None)


def policies_from_config(tables: Mapping[str, Mapping[str, Any]]) -> tuple[SlaPolicy, ...]:
    """Policies from the checked [sla.policies.NAME] tables, in order; ValueError names the
    policy and key ("NAME.priorities: ...") for a value the types alone do not catch."""
    result = []
    for name, table in tables.items():
        priorities = set()
        for value in table.get("priorities", []):
            try:
                priorities.add(Priority(value))
            except ValueError:
                raise ValueError(f"{name}.priorities: {value!r} is not one of low, normal, high, urgent") from None
        categories = table.get("categories", [])
        if not all(isinstance(c, str) and c for c in categories):
            raise ValueError(f"{name}.categories: expected category ids")
        targets = {
            kind: timedelta(minutes=table[f"{kind}_minutes"]) for kind in KINDS if table.get(f"{kind}_minutes", 0) > 0
        }
        if not targets:
            raise ValueError(
                f"{name}: set at least one of first_response_minutes, next_response_minutes, resolution_minutes"
            )
        warn = table.get("warn_percent", 75.0)
        if warn >= 100:
            raise ValueError(f"{name}.warn_percent: must be below 100")
        result.append(
            SlaPolicy(
                name,
                frozenset(priorities),
                frozenset(categories),
                targets,
                warn,
                table.get("escalate_percent", 150.0),
                table.get("escalate_to_team", ""),
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class StepClaim:
    """A ladder step a hub is acting on: another hub leaves it alone until `until` (the
    claim's lease), then takes it over if it is still not done."""

    owner: str
    until: datetime


@dataclass(frozen=True)
class SlaState:
    """What the clocks need beyond the ticket: pauses and the open customer wait, and the
    ladder steps done and under way. Stored as JSON (see `to_json`)."""

    pauses: tuple[tuple[datetime, datetime | None], ...] = ()  # wall time; the last may be open
    awaiting_since: datetime | None = None  # a customer message waits for an agent reply since then
    fired: Mapping[str, datetime] = field(default_factory=dict)  # step_key -> when it was done
    claims: Mapping[str, StepClaim] = field(default_factory=dict)  # step_key -> claimed, not done yet
    # The ticket's teams once it moved (since when, team id), the first from its creation: each
    # stretch of a clock counts in the business hours of the team that had the ticket then.
    # Empty: the current team all along (a ticket that never moved).
    teams: tuple[tuple[datetime, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "pauses": [[start, end] for start, end in self.pauses],
            "awaiting_since": self.awaiting_since,
            "fired": dict(self.fired),
            "claims": {key: {"owner": c.owner, "until": c.until} for key, c in self.claims.items()},
            "teams": [[since, team] for since, team in self.teams],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlaState:
        return cls(
            tuple((start, end) for start, end in data.get("pauses", [])),
            data.get("awaiting_since"),
            dict(data.get("fired", {})),
            {key: StepClaim(c["owner"], c["until"]) for key, c in data.get("claims", {}).items()},
            tuple((since, str(team)) for since, team in data.get("teams", [])),
        )


def state_after_status(state: SlaState, status: Status, now: datetime) -> SlaState:
    """Open a pause when the ticket waits on the customer (or is resolved); close it when it is worked again."""
    paused = bool(state.pauses) and state.pauses[-1][1] is None
    if status in PAUSING and not paused:
        return replace(state, pauses=(*state.pauses, (now, None)))
    if status not in PAUSING and paused:
        start = state.pauses[-1][0]
        return replace(state, pauses=(*state.pauses[:-1], (start, max(start, now))))
    return state


def state_after_team(state: SlaState, before: str, after: str, *, at: datetime, created_at: datetime) -> SlaState:
    """The ticket moved from team `before` to `after` at `at` (its first move also records
    `before` from the ticket's creation)."""
    spans = state.teams or ((created_at, before),)
    if spans[-1][1] == after:
        return state
    return replace(state, teams=(*spans, (max(at, spans[-1][0]), after)))


def state_after_message(state: SlaState, message: Message, conversation: Conversation) -> SlaState:
    """A customer message starts the next-response wait (once a first response was given);
    an agent's reply ends it."""
    if message.kind is not MessageKind.MESSAGE:
        return state
    if message.direction is Direction.INBOUND and not message.automatic:
        if conversation.first_response_at is None or state.awaiting_since is not None:
            return state
        return replace(state, awaiting_since=message.created_at)
    if message.author_type is AuthorType.AGENT and state.awaiting_since is not None:
        return replace(state, awaiting_since=None)
    return state


@dataclass(frozen=True)
class Clock:
    kind: str
    target: timedelta
    started_at: datetime
    elapsed: timedelta  # business time counted so far (pauses left out)
    due_at: datetime | None  # None while paused: the deadline moves with the pause
    stopped_at: datetime | None  # the reply or resolution that ended the clock
    paused: bool

    @property
    def remaining(self) -> timedelta:
        return self.target - self.elapsed

    @property
    def percent(self) -> float:
        return 100.0 * self.elapsed / self.target if self.target else 100.0

    @property
    def breached(self) -> bool:
        return self.elapsed >= self.target if self.target else self.stopped_at is None

    @property
    def met(self) -> bool | None:
        """True/False once the clock stopped (in time or not); None while it runs."""
        return None if self.stopped_at is None else self.elapsed <= self.target

    @property
    def key(self) -> str:
        """The clock's identity for its ladder steps: a next response is a new clock per wait."""
        return f"{self.kind}@{self.started_at.isoformat()}" if self.kind == NEXT_RESPONSE else self.kind


def _active_windows(
    start: datetime, end: datetime | None, pauses: Iterable[tuple[datetime, datetime | None]]
) -> list[tuple[datetime, datetime | None]]:
    """[start, end) minus the pauses; None as an end: open ended."""
    windows: list[tuple[datetime, datetime | None]] = []
    cursor: datetime | None = start
    for p_start, p_end in sorted(pauses, key=lambda p: p[0]):
        if cursor is None or (end is not None and p_start >= end):
            break
        if p_end is not None and p_end <= cursor:
            continue
        if p_start > cursor:
            windows.append((cursor, p_start))
        cursor = None if p_end is None else max(cursor, p_end)
    if cursor is not None and (end is None or cursor < end):
        windows.append((cursor, end))
    return windows


# Which calendar counts when: the teams' stretches (since, calendar), the first from the start.
Stretches = tuple[tuple[datetime, Calendar], ...]


def _by_calendar(
    windows: Iterable[tuple[datetime, datetime | None]], stretches: Stretches
) -> list[tuple[datetime, datetime | None, Calendar]]:
    """The windows cut where the ticket changed team, each piece with its team's calendar."""
    pieces: list[tuple[datetime, datetime | None, Calendar]] = []
    for w_start, w_end in windows:
        for i, (since, calendar) in enumerate(stretches):
            stretch_end = stretches[i + 1][0] if i + 1 < len(stretches) else None
            low = w_start if i == 0 else max(w_start, since)
            ends = [e for e in (w_end, stretch_end) if e is not None]
            high = min(ends) if ends else None
            if high is None or low < high:
                pieces.append((low, high, calendar))
    return pieces


def _clock(
    kind: str,
    target: timedelta,
    start: datetime,
    stop: datetime | None,
    state: SlaState,
    stretches: Stretches,
    now: datetime,
) -> Clock:
    until = stop if stop is not None else now
    elapsed = timedelta(0)
    for w_start, w_end, calendar in _by_calendar(_active_windows(start, until, state.pauses), stretches):
        elapsed += business_time_between(calendar, w_start, w_end or until)
    due_at = None
    left = target
    try:
        for w_start, w_end, calendar in _by_calendar(_active_windows(start, None, state.pauses), stretches):
            if w_end is None:
                due_at = add_business_time(calendar, w_start, left)
                break
            span = business_time_between(calendar, w_start, w_end)
            if span >= left:
                due_at = add_business_time(calendar, w_start, left)
                break
            left -= span
    except OverflowError:  # beyond the last date there is (a calendar open minutes a week, a report's endless target)
        due_at = None
    paused = stop is None and bool(state.pauses) and state.pauses[-1][1] is None and state.pauses[-1][0] <= now
    if paused and due_at is not None and due_at > state.pauses[-1][0]:
        due_at = None  # the deadline lies beyond the open pause: unknown until the ticket is worked again
    return Clock(kind, target, start, elapsed, due_at, stop, paused)


def clocks(
    conversation: Conversation,
    state: SlaState,
    policy: SlaPolicy,
    calendar: Calendar,
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
) -> list[Clock]:
    """The ticket's clocks under the policy, as of `now`, in business time: `calendar` (the
    owning team's); with the teams' `calendars`, each stretch since the ticket moved (the SLA
    state's `teams`) in the calendar of the team that had it then, so a move to a team that is
    closed does not take back the time already spent, nor a missed target."""
    stretches: Stretches = ((conversation.created_at, calendar),)
    if calendars is not None and state.teams:
        teams = list(state.teams)
        if teams[-1][1] != conversation.team:  # a move not tracked yet: counted from now
            teams.append((max(now, teams[-1][0]), conversation.team))
        stretches = tuple((since, calendars.get(team, ALWAYS_OPEN)) for since, team in teams)
    result = []
    targets = policy.targets
    if FIRST_RESPONSE in targets:
        result.append(
            _clock(
                FIRST_RESPONSE,
                targets[FIRST_RESPONSE],
                conversation.created_at,
                conversation.first_response_at,
                state,
                stretches,
                now,
            )
        )
    if NEXT_RESPONSE in targets and state.awaiting_since is not None:
        result.append(_clock(NEXT_RESPONSE, targets[NEXT_RESPONSE], state.awaiting_since, None, state, stretches, now))
    if RESOLUTION in targets:
        resolved = conversation.resolved_at if conversation.status in (Status.RESOLVED, Status.CLOSED) else None
        result.append(_clock(RESOLUTION, targets[RESOLUTION], conversation.created_at, resolved, state, stretches, now))
    return result


def step_key(clock: Clock, step: str) -> str:
    return f"{clock.key}:{step}"


def due_steps(
    clock: Clock, policy: SlaPolicy, fired: Mapping[str, Any], claimed: Collection[str] = frozenset()
) -> list[str]:
    """The ladder steps the clock has reached and that are not done yet, lowest first.

    A stopped clock starts no step (a step reached while the clock was stopped never fires),
    but one claimed before it stopped is still owed: it came due, and its hub died while acting."""
    thresholds = [(WARN, policy.warn_percent), (BREACH, 100.0)]
    if policy.escalate_to_team:
        thresholds.append((ESCALATE, policy.escalate_percent))
    running = clock.stopped_at is None
    return [
        step
        for step, percent in thresholds
        if step_key(clock, step) not in fired
        and ((running and clock.percent >= percent) or step_key(clock, step) in claimed)
    ]


def claim_step(state: SlaState, key: str, *, owner: str, now: datetime, lease: timedelta) -> SlaState | None:
    """The state with the step `key` claimed by `owner` until now + lease; None when the step
    is done, or claimed by a hub whose lease still runs (it may be acting now; even the same
    hub waits, so two due checks of one process never act on one step at once)."""
    if key in state.fired:
        return None
    held = state.claims.get(key)
    if held is not None and held.until > now:
        return None
    return replace(state, claims={**state.claims, key: StepClaim(owner, now + lease)})


def finish_step(state: SlaState, key: str, *, now: datetime) -> SlaState | None:
    """The state with the step `key` done; None when it was done already (by another hub
    that took it over: its effects are the same ones, made once)."""
    if key in state.fired:
        return None
    return replace(state, fired={**state.fired, key: now}, claims={k: c for k, c in state.claims.items() if k != key})


def effect_key(conversation_id: str, key: str, effect: str) -> str:
    """The key one effect of a ladder step is stored under, so that making it again is a no-op:
    e.g. ("c1", "first_response:breach", "event")."""
    return f"sla:{conversation_id}:{key}:{effect}"


def keeps_assignee_on_escalation(assignee_id: str, target_members: Collection[str]) -> bool:
    """An escalated ticket stays with its agent when they are of the higher tier too; else it
    goes to that team's queue (a trial's agent, a member of both, lost hers without a word)."""
    return bool(assignee_id) and assignee_id in target_members


def moves_on_escalation(team: str, policy: SlaPolicy) -> bool:
    """Whether the escalate step moves the ticket: not when it is already with the higher tier
    (nothing to move; the thread says it stays there)."""
    return bool(policy.escalate_to_team) and team != policy.escalate_to_team
