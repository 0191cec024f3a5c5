"""A simulated day of a 24/7 help line, through the hub's real routing, SLA and escalation code.

    .venv/bin/python bench/simulate.py [--seed 7] [--contacts 520] [--hours 24]

A whole day (in Asia/Shanghai) is replayed in accelerated time on the embedded store: the
hub's pipeline takes every contact, the routing follower and sweep (hub/routing_loop.py,
hub/services/routing.py) give tickets to agents, the SLA engine (hub/sla.py) tracks the
clocks and climbs the ladder, and backup paging calls in the 备班. One clock is shared by
all of them and moved from event to event: nothing sleeps.

What is simulated around the hub (seeded, so `--seed` repeats a run):
- contacts on every channel (web chat, Telegram, Slack, email, phone) along an hourly curve
  with a night trough, noon and evening peaks, and one sudden burst (an outage at 10:30);
  categories and priorities in fixed proportions;
- a roster: 早班 07-15, 中班 15-23, 夜班 23-07 and a backup on duty beside each shift;
  one agent of the 中班 does not turn up (on the roster, never online);
- agents who come online for their shift, take breaks (away), answer their tickets one at a
  time after a random handling time (chats faster than email), resolve them a while later,
  and go offline at the end of the shift once their first responses are done; a paged
  backup comes online a few minutes after the page and leaves when released.

The same arrivals and the same agents' days then go through plain round-robin over all
agents, blind to shifts and presence (the baseline), and both are printed side by side.
The last line is one JSON object (times in business seconds of the team's 24/7 calendar).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py shares its name with the standard library's email package: keep this
# folder off the import path so `import email` finds the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import heapq  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict, deque  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from conversation.business_time import business_time_between  # noqa: E402
from conversation.inbound import Inbound, Sender  # noqa: E402
from conversation.model import Agent, AuthorType, Priority, Role, Status  # noqa: E402
from conversation.roster import Duty, RosterEntry, entry_from_input, expand, on_duty_at  # noqa: E402
from conversation.sla import FIRST_RESPONSE, RESOLUTION  # noqa: E402
from hub.app import Hub  # noqa: E402
from hub.config import parse_config  # noqa: E402
from hub.events import Event  # noqa: E402
from hub.routing_loop import handle  # noqa: E402
from hub.services.hotline import CallDirection, CallForm  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
DAY = datetime(2027, 3, 3, tzinfo=ZONE)  # a Wednesday
TEAM = "customer-service"
SWEEP = timedelta(seconds=60)  # the routing sweep (the hub's default is 15 s; a minute keeps the run short)
SLA_CHECK = timedelta(seconds=60)
ACTIVITY = timedelta(minutes=10)  # an agent at the inbox does something at least this often
DRAIN = timedelta(hours=2)  # after the last arrival: time for the last tickets to be answered

# -- the sample help line -------------------------------------------------------------------------
# local hour -> relative arrival rate: a night trough, a noon and an evening peak
HOURLY = (
    0.5,
    0.3,
    0.2,
    0.2,
    0.2,
    0.3,
    0.6,
    1.0,
    1.5,
    1.8,
    2.0,
    2.3,
    2.5,
    2.1,
    1.9,
    1.8,
    1.7,
    1.6,
    1.8,
    2.3,
    2.5,
    2.1,
    1.4,
    0.9,
)
BURST = (DAY.replace(hour=10, minute=30), timedelta(minutes=15), 40)  # start, length, extra contacts
CHANNELS = {"webchat": 0.35, "telegram": 0.18, "slack": 0.10, "email": 0.27, "phone": 0.10}
CHANNEL_TYPES = {"webchat": "webchat", "telegram": "telegram", "slack": "slack", "email": "email", "phone": "phone"}
CATEGORIES = {"account": 0.45, "faq": 0.30, "other": 0.25}
PRIORITIES = {Priority.URGENT: 0.05, Priority.HIGH: 0.15, Priority.NORMAL: 0.55, Priority.LOW: 0.25}
# (median, spread) of a first response's handling time in minutes, lognormal
HANDLING = {"chat": (2.0, 0.5), "email": (4.0, 0.5), "phone": (2.5, 0.4)}
RESOLVE_AFTER = {"chat": (5, 15), "email": (15, 45), "phone": (4, 12)}  # minutes after the first response
PAGE_ANSWER = (3.0, 7.0)  # minutes a paged backup takes to come online

SHIFTS = {  # label -> (start, end, agents); the backups share the shift's hours
    "早班": ("07:00", "15:00", ["zhang-wei", "wang-fang", "li-na", "liu-yang"]),
    "中班": ("15:00", "23:00", ["chen-jie", "yang-li", "zhao-min", "huang-lei", "xu-jing"]),
    "夜班": ("23:00", "07:00", ["zhou-tao", "wu-xia"]),
}
BACKUPS = {"早班": "sun-hao", "中班": "ma-lin", "夜班": "hu-bo"}
ABSENT = "zhao-min"  # on the 中班 roster, never turns up
SLA = {
    "urgent": {"priorities": ["urgent"], "first_response_minutes": 10, "resolution_minutes": 120},
    "high": {"priorities": ["high"], "first_response_minutes": 20, "resolution_minutes": 240},
    "normal": {"priorities": ["normal"], "first_response_minutes": 30, "resolution_minutes": 480},
    "low": {"priorities": ["low"], "first_response_minutes": 60, "resolution_minutes": 1440},
}
TEAM_ROSTER = {"page_queue": 5, "page_wait_minutes": 6, "min_on_shift": 2}


def kind_of(channel: str) -> str:
    return "email" if channel == "email" else "phone" if channel == "phone" else "chat"


@dataclass(frozen=True)
class Arrival:
    at: datetime
    channel: str
    category: str
    priority: Priority
    handling: timedelta  # the first response's work
    resolve_after: timedelta  # from the first response to resolved
    customer: str


def _pick(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), list(weights.values()))[0]


def arrivals(rng: random.Random, start: datetime, hours: int, contacts: int) -> list[Arrival]:
    """Contacts over `hours` from `start` (local): a Poisson stream along HOURLY scaled to
    `contacts` a day, and the burst when it falls inside."""
    per_weight = contacts / sum(HOURLY)
    times = []
    for hour in range(hours):
        begin = start + timedelta(hours=hour)
        rate = HOURLY[begin.astimezone(ZONE).hour] * per_weight  # contacts in this hour
        moment = 0.0
        while True:
            moment += rng.expovariate(rate / 3600)
            if moment >= 3600:
                break
            times.append(begin + timedelta(seconds=moment))
    burst_at, length, extra = BURST
    if start <= burst_at < start + timedelta(hours=hours):
        times += [burst_at + timedelta(seconds=rng.uniform(0, length.total_seconds())) for _ in range(extra)]
    result = []
    for index, at in enumerate(sorted(times)):
        channel = _pick(rng, CHANNELS)
        kind = kind_of(channel)
        median, spread = HANDLING[kind]
        low, high = RESOLVE_AFTER[kind]
        result.append(
            Arrival(
                at.astimezone(UTC),
                channel,
                _pick(rng, CATEGORIES),
                _pick(rng, PRIORITIES),
                timedelta(minutes=min(rng.lognormvariate(0, spread) * median, 6 * median)),
                timedelta(minutes=rng.uniform(low, high)),
                f"+86138{index:08d}" if channel == "phone" else f"customer-{index}",  # callers have numbers
            )
        )
    return result


# -- the agents' day --------------------------------------------------------------------------------
def roster_entries() -> list[dict[str, Any]]:
    entries = []
    for label, (start, end, agents) in SHIFTS.items():
        base = {"kind": "pattern", "start": start, "end": end, "weekdays": "mon-sun"}
        entries.append({**base, "label": label, "agents": agents})
        entries.append({**base, "label": f"{label}备班", "duty": "backup", "agents": [BACKUPS[label]]})
    return entries


def role_of(agent: str) -> str:
    """The agent's place on the sample roster, for the utilisation table."""
    for label, (start, end, agents) in SHIFTS.items():
        if agent in agents:
            return f"{label} {start}-{end}" + (", absent" if agent == ABSENT else "")
    shift = next(label for label, backup in BACKUPS.items() if backup == agent)
    start, end, _ = SHIFTS[shift]
    return f"{shift}备班 {start}-{end} backup"


def everyone() -> list[str]:
    return sorted({a for _, _, agents in SHIFTS.values() for a in agents} | set(BACKUPS.values()))


@dataclass
class Plan:
    """Each agent's day, the same in both runs: shifts (from the roster rules) and breaks."""

    shifts: dict[str, list[tuple[datetime, datetime]]]
    breaks: dict[str, list[tuple[datetime, datetime]]]

    def on_shift(self, agent: str, at: datetime) -> bool:
        return agent != ABSENT and any(s <= at < e for s, e in self.shifts.get(agent, ()))

    def on_break(self, agent: str, at: datetime) -> bool:
        return any(s <= at < e for s, e in self.breaks.get(agent, ()))

    def at_work(self, agent: str, at: datetime) -> bool:
        return self.on_shift(agent, at) and not self.on_break(agent, at)


def plan_day(rng: random.Random, duties: list[Duty]) -> Plan:
    shifts: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    breaks: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    crews: dict[tuple[datetime, str], list[Duty]] = defaultdict(list)
    for duty in duties:
        if duty.duty == "shift":
            shifts[duty.agent].append((duty.start, duty.end))
            crews[(duty.start, duty.entry)].append(duty)
    for crew in crews.values():
        for place, duty in enumerate(crew):  # a shift staggers its breaks: never everyone away at once
            stagger = place / len(crew)
            for offset_hours, minutes in ((1.5, 15), (3.0, 30), (5.5, 15)):  # two short breaks and a meal
                begin = duty.start + timedelta(hours=offset_hours + 1.5 * stagger + rng.uniform(0, 0.2))
                breaks[duty.agent].append((begin, begin + timedelta(minutes=minutes)))
    return Plan(dict(shifts), dict(breaks))


# -- figures ------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Outcome:
    """One run's figures. `frt` per arrival index: business seconds to the first response
    (None: never answered; counted as waiting until the run ended for the percentiles)."""

    frt: dict[int, float | None] = field(default_factory=dict)
    busy: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    online: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    met: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))  # policy -> first responses
    resolved_met: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    pages: list[dict[str, Any]] = field(default_factory=list)
    off_shift: int = 0
    never_assigned: int = 0
    unanswered: int = 0

    def frt_values(self, arrivals: list[Arrival], end: datetime) -> list[float]:
        return [value if value is not None else (end - arrivals[i].at).total_seconds() for i, value in self.frt.items()]


# -- the hub run ---------------------------------------------------------------------------------------
@dataclass
class SimAgent:
    id: str
    pending: deque[str] = field(default_factory=deque)  # tickets given to them, not answered yet
    open: set[str] = field(default_factory=set)  # tickets given to them, not resolved yet
    working_on: str = ""
    presence: str = "offline"
    since: datetime | None = None  # online since (utilisation)
    called_at: datetime | None = None  # paged in: online from then on until released


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class HubRun:
    """The simulation around a real Hub: one event queue, one clock."""

    def __init__(self, hub: Hub, clock: Clock, plan: Plan, arrivals: list[Arrival], rng: random.Random) -> None:
        self.hub = hub
        self.clock = clock
        self.plan = plan
        self.arrivals = arrivals
        self.rng = rng
        self.agents = {a: SimAgent(a) for a in everyone()}
        self.queue: list[tuple[datetime, int, str, Any]] = []
        self.seq = 0
        self.index_of: dict[str, int] = {}  # ticket id -> arrival index
        self.assignee: dict[str, str] = {}
        self.outcome = Outcome()
        self.subscription = hub.bus.subscribe(maxsize=100_000)
        self.entries: list[Any] = []

    def at(self, when: datetime, kind: str, payload: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (when, self.seq, kind, payload))

    async def pump(self) -> None:
        """Deliver the hub's live events as its background loops would: to the routing follower
        and the SLA tracker; and watch assignments (the agents' inboxes)."""
        while not self.subscription.queue.empty():
            event = self.subscription.queue.get_nowait()
            await self.hub.sla.track(event)
            await handle(event, self.hub.services.routing)
            if event.type == "conversation.updated" and "assignee_id" in event.data.get("changes", ()):
                await self.assigned(event)

    async def assigned(self, event: Event) -> None:
        conv = await self.hub.store.tickets.get_conversation(event.conversation_id)
        if conv is None or conv.assignee_id == self.assignee.get(conv.id, ""):
            return
        before = self.assignee.get(conv.id, "")
        if before:
            self.agents[before].open.discard(conv.id)
        self.assignee[conv.id] = conv.assignee_id
        if not conv.assignee_id:
            return
        now = self.clock.now
        on_shift = on_duty_at(self.entries, "Asia/Shanghai", now, "shift")
        # paged in at that instant (a sweep may release the page right after routing to them)
        paged = {
            p.agent_id
            for p in await self.hub.store.roster.list_pages(TEAM, limit=1000)
            if p.at <= now and (p.released_at is None or p.released_at >= now)
        }
        backup = set(on_duty_at(self.entries, "Asia/Shanghai", now, "backup")) & paged
        if conv.assignee_id not in on_shift and conv.assignee_id not in backup:
            self.outcome.off_shift += 1
        agent = self.agents[conv.assignee_id]
        agent.open.add(conv.id)
        if conv.first_response_at is None:
            agent.pending.append(conv.id)
            await self.next_work(agent)

    # -- agents ---------------------------------------------------------------------------------------
    def should_be_online(self, agent: SimAgent, now: datetime) -> str:
        if self.plan.on_shift(agent.id, now) or agent.called_at is not None and agent.called_at <= now:
            # a break starts once the first responses in hand are done (it ends on time anyway)
            on_break = self.plan.on_break(agent.id, now) and not (agent.pending or agent.working_on)
            return "away" if on_break else "online"
        if agent.pending or agent.working_on or agent.open:
            return agent.presence if agent.presence != "offline" else "online"  # finishes their tickets first
        return "offline"

    async def set_presence(self, agent: SimAgent, wanted: str) -> None:
        if wanted == agent.presence:
            return
        roster, now = self.hub.services.roster, self.clock.now
        if agent.presence == "online" and agent.since is not None:
            self.outcome.online[agent.id] += (now - agent.since).total_seconds()
            agent.since = None
        if wanted == "offline":
            await roster.socket_closed(agent.id, "sim")
        else:
            if agent.presence == "offline":
                await roster.socket_heartbeat(agent.id, "sim", opened=True)
            await roster.set_status(agent.id, wanted)
        if wanted == "online":
            agent.since = now
        agent.presence = wanted
        await self.pump()
        await self.next_work(agent)

    async def presence_round(self) -> None:
        pages = {p.agent_id: p for p in await self.hub.store.roster.list_pages(TEAM, active_only=True)}
        now = self.clock.now
        for agent in self.agents.values():
            page = pages.get(agent.id)
            if page is None:
                agent.called_at = None
            elif agent.called_at is None:
                agent.called_at = page.at + timedelta(minutes=self.rng.uniform(*PAGE_ANSWER))
            await self.set_presence(agent, self.should_be_online(agent, now))

    async def next_work(self, agent: SimAgent) -> None:
        if agent.working_on or agent.presence != "online":
            return
        while agent.pending:
            ticket = agent.pending.popleft()
            conv = await self.hub.store.tickets.get_conversation(ticket)
            if conv is None or conv.assignee_id != agent.id or conv.first_response_at is not None:
                continue  # requeued meanwhile, or answered
            agent.working_on = ticket
            handling = self.arrivals[self.index_of[ticket]].handling
            self.outcome.busy[agent.id] += handling.total_seconds()
            self.at(self.clock.now + handling, "answer", agent.id)
            return

    async def answer(self, agent: SimAgent) -> None:
        ticket, agent.working_on = agent.working_on, ""
        conv = await self.hub.store.tickets.get_conversation(ticket)
        if conv is not None and conv.assignee_id == agent.id and conv.first_response_at is None:
            if conv.channel == "phone":  # a phone contact is answered by calling back, logged as a call
                form = CallForm(conv.customer_address, CallDirection.OUT, conversation_id=conv.id)
                await self.hub.services.hotline.log_call(form, who=agent.id, agent_id=agent.id)
            else:
                await self.hub.actions.send(
                    conv, "您好，我们正在处理。", author_type=AuthorType.AGENT, author_id=agent.id
                )
            await self.hub.services.roster.activity(agent.id)
            self.at(self.clock.now + self.arrivals[self.index_of[ticket]].resolve_after, "resolve", ticket)
        # else: requeued while they wrote (they went offline past the grace period): the new agent answers
        await self.pump()
        await self.set_presence(agent, self.should_be_online(agent, self.clock.now))
        await self.next_work(agent)

    # -- the day ------------------------------------------------------------------------------------------
    async def arrive(self, index: int) -> None:
        arrival = self.arrivals[index]
        inbound = Inbound(
            channel=arrival.channel,
            external_id=f"sim-{index}",
            sender=Sender(address=arrival.customer, display_name=arrival.customer),
            thread_key=f"thread-{index}",
            text="我的订单有问题" if index % 2 else "I cannot sign in",
        )
        record = await self.hub.ingest(inbound)
        conv = record.conversation
        self.index_of[conv.id] = index
        # triage at intake (a form or a bot): the category and priority decide team and SLA policy
        await self.hub.actions.update_conversation(conv, {"category": arrival.category, "priority": arrival.priority})
        await self.pump()

    async def run(self, start: datetime, end: datetime) -> None:
        self.entries = await self.hub.store.roster.list_entries(TEAM)
        for index, arrival in enumerate(self.arrivals):
            self.at(arrival.at, "arrive", index)
        tick = start
        while tick <= end:
            self.at(tick, "sweep")
            tick += SWEEP
        while self.queue:
            when, _, kind, payload = heapq.heappop(self.queue)
            self.clock.now = when
            if kind == "arrive":
                await self.arrive(payload)
            elif kind == "answer":
                await self.answer(self.agents[payload])
            elif kind == "resolve":
                conv = await self.hub.store.tickets.get_conversation(payload)
                if conv is not None and conv.status is Status.OPEN:
                    await self.hub.actions.update_conversation(conv, {"status": Status.RESOLVED})
                    await self.pump()
                if conv is not None and conv.assignee_id:
                    owner = self.agents[conv.assignee_id]
                    owner.open.discard(payload)
                    await self.set_presence(owner, self.should_be_online(owner, when))
            elif kind == "sweep":
                await self.round(when)
        for agent in self.agents.values():  # close the books on utilisation
            await self.set_presence(agent, "offline")

    async def round(self, now: datetime) -> None:
        await self.presence_round()
        if (now - DAY).total_seconds() % ACTIVITY.total_seconds() == 0:
            for agent in self.agents.values():
                if agent.presence == "online":
                    await self.hub.services.roster.activity(agent.id)
        await self.hub.services.routing.sweep()
        await self.pump()
        if (now - DAY).total_seconds() % SLA_CHECK.total_seconds() == 0:
            await self.hub.sla.check_due()
            await self.pump()


async def run_hub(arrivals: list[Arrival], plan: Plan, start: datetime, end: datetime, seed: int) -> Outcome:
    logging.getLogger("hub").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as directory:
        config = parse_config(
            {
                "hub": {"data_dir": directory},
                "plugins": {"enabled": []},
                "routing": {
                    "default_team": TEAM,
                    "idle_away_minutes": 30,
                    "presence_seconds": 7 * 86400,  # the simulated inboxes stay open: no heartbeats to send
                },
                "sla": {"policies": SLA},
            }
        )
        hub = Hub(config)
        clock = Clock(start)
        hub.actions.clock = clock
        hub.pipeline.clock = clock
        hub.services.routing.channel_types.update(CHANNEL_TYPES)
        await hub.store.open()
        try:
            await setup(hub)
            sim = HubRun(hub, clock, plan, arrivals, random.Random(seed + 1))
            await sim.run(start, end)
            await figures(hub, sim, end)
            return sim.outcome
        finally:
            await hub.store.close()


async def setup(hub: Hub) -> None:
    """The sample help line: a 24/7 calendar, the agents, the roster and its paging rules."""
    await hub.store.desk.create_defaults()
    for agent_id in everyone():
        name = agent_id.replace("-", " ").title()
        await hub.store.accounts.add_agent(Agent(agent_id, f"{agent_id}@example.com", Role.AGENT, "x", name=name))
    calendar = {
        "timezone": "Asia/Shanghai",
        "hours": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    await hub.services.calendars.put(TEAM, calendar)
    await hub.services.roster.update_team_settings(TEAM, TEAM_ROSTER)
    for entry in roster_entries():
        await hub.services.roster.create_entry(TEAM, entry)


async def figures(hub: Hub, sim: HubRun, end: datetime) -> None:
    outcome = sim.outcome
    calendars = await hub.sla.calendars()
    calendar = calendars[TEAM]
    for conv_id, index in sim.index_of.items():
        conv = await hub.store.tickets.get_conversation(conv_id)
        assert conv is not None
        if conv.first_response_at is None:
            outcome.frt[index] = None
            outcome.unanswered += 1
        else:
            outcome.frt[index] = business_time_between(
                calendar, conv.created_at, conv.first_response_at
            ).total_seconds()
        if not sim.assignee.get(conv_id) and conv.first_response_at is None:
            outcome.never_assigned += 1
        found = hub.sla.clocks_of(conv, await hub.sla.state(conv.id), calendars, end)
        if found is None:
            continue
        policy, clocks = found
        for clock in clocks:
            met = clock.met if clock.met is not None else not clock.breached
            if clock.kind == FIRST_RESPONSE:
                outcome.met[policy.name].append(met)
            elif clock.kind == RESOLUTION:
                outcome.resolved_met[policy.name].append(met)
    for page in await hub.store.roster.list_pages(TEAM, limit=1000):
        outcome.pages.append(
            {
                "when": page.at,
                "at": page.at.astimezone(ZONE).strftime("%H:%M"),
                "agent": page.agent_id,
                "reason": page.reason,
                **dict(page.params),
            }
        )
    outcome.pages.sort(key=lambda p: p["when"])


# -- the baseline: round-robin over everyone, blind to shifts and presence ----------------------------
def run_round_robin(arrivals: list[Arrival], plan: Plan, end: datetime) -> Outcome:
    """Each contact goes to the next agent in turn, whoever they are. An agent answers their
    tickets one at a time while at work; after the shift they finish only what came in during it."""
    outcome = Outcome()
    agents = everyone()
    given: dict[str, list[int]] = defaultdict(list)
    for index, arrival in enumerate(arrivals):
        agent = agents[index % len(agents)]
        given[agent].append(index)
        outcome.off_shift += not plan.on_shift(agent, arrival.at)
    step = timedelta(seconds=30)
    for agent in agents:
        waiting = deque(given[agent])
        now = min((arrivals[i].at for i in waiting), default=end)
        free_at = now
        while waiting and now < end:
            index = waiting[0]
            arrival = arrivals[index]
            now = max(now, arrival.at, free_at)
            overtime = not plan.on_shift(agent, now) and any(s <= arrival.at < e for s, e in plan.shifts.get(agent, ()))
            if plan.at_work(agent, now) or overtime:
                waiting.popleft()
                free_at = now + arrival.handling
                outcome.busy[agent] += arrival.handling.total_seconds()
                outcome.frt[index] = (free_at - arrival.at).total_seconds()
                now = free_at
            else:
                now += step
        for index in waiting:
            outcome.frt[index] = None
            outcome.unanswered += 1
        outcome.online[agent] = sum(
            (min(e, end) - max(s, arrivals[0].at if arrivals else s)).total_seconds()
            for s, e in plan.shifts.get(agent, ())
            if agent != ABSENT and e > (arrivals[0].at if arrivals else s)
        )
    for index, arrival in enumerate(arrivals):
        value = outcome.frt.get(index)
        target = SLA[arrival.priority.value]["first_response_minutes"] * 60
        outcome.met[arrival.priority.value].append(value is not None and value <= target)
    return outcome


# -- the report ---------------------------------------------------------------------------------------------
def hourly(outcome: Outcome, arrivals: list[Arrival], end: datetime) -> dict[int, tuple[float, float, int]]:
    by_hour: dict[int, list[float]] = defaultdict(list)
    values = outcome.frt_values(arrivals, end)
    for index, value in zip(outcome.frt, values, strict=True):
        by_hour[arrivals[index].at.astimezone(ZONE).hour].append(value)
    return {h: (percentile(v, 0.5), percentile(v, 0.9), len(v)) for h, v in sorted(by_hour.items())}


def share(values: list[bool]) -> float:
    return sum(values) / len(values) if values else 1.0


def minutes(seconds: float) -> str:
    return f"{seconds / 60:6.1f}m" if seconds < 100 * 3600 else "  never"


def report(day: Day, seconds: float) -> dict[str, Any]:
    arrivals, hub, rr, end = day.arrivals, day.hub, day.round_robin, day.end
    outside = day.pages_outside()
    out = print
    out(f"simulated day: {len(arrivals)} contacts, burst of {BURST[2]} at {BURST[0]:%H:%M}, absent: {ABSENT}")
    out("")
    out("SLA first responses met      hub (shifts+presence)   round-robin (blind)")
    for policy in SLA:
        out(
            f"  {policy:<8} {len(hub.met[policy]):4d} tickets   {share(hub.met[policy]):6.1%}"
            f"                  {share(rr.met[policy]):6.1%}"
        )
    resolved = ", ".join(f"{p} {share(hub.resolved_met[p]):.1%}" for p in SLA)
    out(f"  resolution met (hub): {resolved}")
    out("")
    out("first response by hour (local)   hub p50 / p90        round-robin p50 / p90   contacts")
    hub_hours, rr_hours = hourly(hub, arrivals, end), hourly(rr, arrivals, end)
    for hour, (p50, p90, count) in hub_hours.items():
        r50, r90, _ = rr_hours.get(hour, (0.0, 0.0, 0))
        out(f"  {hour:02d}:00   {minutes(p50)} / {minutes(p90)}       {minutes(r50)} / {minutes(r90)}      {count:4d}")
    out("")
    out("backup pages (local time, agent, why)")
    for page in hub.pages:
        detail = ", ".join(f"{k}={v}" for k, v in page.items() if k not in ("when", "at", "agent", "reason"))
        out(f"  {page['at']}  {page['agent']:<10} {page['reason']:<6} {detail}")
    out("")
    out("utilisation (handling time / time online)        hub  (online)   round-robin")
    for agent in everyone():
        h = hub.busy[agent] / hub.online[agent] if hub.online.get(agent) else 0.0
        r = rr.busy[agent] / rr.online[agent] if rr.online.get(agent) else 0.0
        paged = sum(1 for page in hub.pages if page["agent"] == agent)
        role = role_of(agent) + (f", paged {paged}x" if paged else "")
        online = f"{hub.online.get(agent, 0.0) / 3600:5.1f}h"
        out(f"  {agent:<11} {role:<34} {h:6.1%} {online}    {r:6.1%}")
    out("")
    hub_values, rr_values = hub.frt_values(arrivals, end), rr.frt_values(arrivals, end)
    met = [m for values in hub.met.values() for m in values]
    rr_met = [m for values in rr.met.values() for m in values]
    out(f"first responses within target: hub {share(met):.1%}, round-robin {share(rr_met):.1%}")
    out(f"never assigned: hub {hub.never_assigned}")
    out(f"unanswered when the run ended: hub {hub.unanswered}, round-robin {rr.unanswered}")
    out(f"tickets routed to an agent off shift: hub {hub.off_shift}, round-robin {rr.off_shift}")
    out(f"backup pages outside the burst and the absence: {len(outside)}")
    summary = {
        "first_response_met": round(share(met), 4),
        "off_shift_assignments": hub.off_shift,
        "frt_p50_s": round(percentile(hub_values, 0.5)),
        "frt_p90_s": round(percentile(hub_values, 0.9)),
        "round_robin_frt_p90_s": round(percentile(rr_values, 0.9)),
        "round_robin_first_response_met": round(share(rr_met), 4),
        "round_robin_off_shift_assignments": rr.off_shift,
        "backup_pages": [f"{p['at']} {p['agent']} {p['reason']}" for p in hub.pages],
        "pages_outside_burst_and_absence": len(outside),
        "never_assigned": hub.never_assigned,
        "contacts": len(arrivals),
        "seconds": round(seconds, 1),
    }
    out(json.dumps(summary, ensure_ascii=False))
    return summary


@dataclass(frozen=True)
class Day:
    arrivals: list[Arrival]
    plan: Plan
    hub: Outcome
    round_robin: Outcome
    end: datetime

    def expected_pages(self) -> list[tuple[datetime, datetime]]:
        """When backup may be paged: the burst (and the hour after it, while its queue clears)
        and the absent agent's shift."""
        burst_at, length, _ = BURST
        return [(burst_at, burst_at + length + timedelta(hours=1)), *self.plan.shifts.get(ABSENT, [])]

    def pages_outside(self) -> list[dict[str, Any]]:
        windows = self.expected_pages()
        return [p for p in self.hub.pages if not any(s <= p["when"] < e for s, e in windows)]


def simulate(seed: int, *, hours: int = 24, contacts: int = 520, start_hour: int = 0, drain: timedelta = DRAIN) -> Day:
    """The simulation's core: the arrivals, both runs' outcomes, and when the runs ended."""
    rng = random.Random(seed)
    start = DAY.replace(hour=start_hour).astimezone(UTC)
    day_arrivals = arrivals(rng, start, hours, contacts)
    end = start + timedelta(hours=hours) + drain
    entries = [_entry(e, i) for i, e in enumerate(roster_entries())]
    plan = plan_day(rng, expand(entries, "Asia/Shanghai", start, end))
    hub = asyncio.run(run_hub(day_arrivals, plan, start, end, seed))
    rr = run_round_robin(day_arrivals, plan, end)
    return Day(day_arrivals, plan, hub, rr, end)


def _entry(data: dict[str, Any], index: int) -> RosterEntry:
    return entry_from_input(data, entry_id=f"e{index}", team=TEAM)


def main(argv: list[str] | None = None, clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7, help="repeat a run exactly")
    parser.add_argument("--contacts", type=int, default=520, help="contacts in a whole day, before the burst")
    parser.add_argument("--hours", type=int, default=24, help="simulated hours from midnight")
    args = parser.parse_args(argv)
    started = clock()
    day = simulate(args.seed, hours=args.hours, contacts=args.contacts)
    return report(day, clock() - started)


if __name__ == "__main__":
    main()
