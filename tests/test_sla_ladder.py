# ruff: noqa: F811  (the desk fixture of tests/test_routing.py is imported by name)
"""The SLA ladder's steps happen exactly once (both backends): a hub that dies or is cancelled
between claiming a step and finishing it leaves the step to the next hub once the claim's
lease ran out, which makes the effects not made yet and repeats none; a hub overtaken while
still acting repeats nothing either. Also: backup is not paged about a ticket the backup
already has, and a ticket already with the higher tier stays there."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conversation.assignment import AgentProfile
from conversation.model import Agent, MessageKind, Role
from conversation.sla import SlaState, claim_step, finish_step, policies_from_config
from hub.agents import add_agent
from hub.app import Hub
from hub.sla import STEP_LEASE, SlaEngine
from tests.test_routing import START, TEAM, Desk, desk  # noqa: F401  (fixture)
from tests.test_sla_hub import at, new_ticket, sla_config, sla_events

POLICIES = policies_from_config(
    {"all": {"first_response_minutes": 10, "escalate_percent": 150, "escalate_to_team": "technical-support"}}
)
STEPS = ["event.sla_warning", "event.sla_breached", "event.sla_lead_told", "event.backup_paged.sla"]


class HubDied(Exception):
    """What a hub dying under a step looks like to the test."""


def engine(desk: Desk, owner: str, breaches: list[Any] | None = None) -> SlaEngine:
    services = desk.services
    return SlaEngine(
        desk.store,
        services.conversations.bus,
        services.conversations,
        POLICIES,
        routing=services.routing,
        owner=owner,
        on_breach=lambda *counted: (breaches if breaches is not None else []).append(counted),
    )


@contextmanager
def dies_once(target: Any, name: str, error: BaseException) -> Iterator[None]:
    """`target.name` raises `error` the first time it is called (the hub dies there), then works."""
    original = getattr(target, name)
    calls = [0]

    async def dying(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise error
        return await original(*args, **kwargs)

    setattr(target, name, dying)
    try:
        yield
    finally:
        setattr(target, name, original)
    assert calls[0] >= 1, f"{name} was never reached"


async def set_up_lead_and_pages(desk: Desk) -> None:
    """A team lead (wang) and page channels, so a breach also sends two page messages."""
    await desk.services.desk.update_team(TEAM, {"lead": "wang"})
    for agent in ("wang", "chen"):
        await desk.store.roster.save_profile(AgentProfile(agent, page_channel="mail", page_address=f"{agent}@x.cn"))


async def ladder_effects(desk: Desk, conversation_id: str) -> dict[str, int]:
    """How many times each SLA effect is in the store: thread events, page messages, pages."""
    counts: dict[str, int] = {}
    for message in await desk.store.tickets.list_messages(conversation_id):
        raw = message.raw or {}
        if message.kind is MessageKind.EVENT and raw.get("event", {}).get("key", "").startswith(
            ("event.sla", "event.b")
        ):
            counts[raw["event"]["key"]] = counts.get(raw["event"]["key"], 0) + 1
        if "page" in raw:
            who = f"message to {raw['page']['agent_id']}"
            counts[who] = counts.get(who, 0) + 1
    for page in await desk.store.roster.list_pages(TEAM):
        counts[f"page of {page.agent_id}"] = counts.get(f"page of {page.agent_id}", 0) + 1
    return counts


BREACH_EFFECTS = {
    "event.sla_warning": 1,
    "event.sla_breached": 1,
    "event.sla_lead_told": 1,
    "event.backup_paged.sla": 1,
    "message to wang": 1,
    "message to chen": 1,
    "page of chen": 1,
}


async def test_a_lead_or_backup_with_no_page_channel_is_said_to_see_it_in_the_inbox_only(desk: Desk) -> None:
    """A trial read 已通知组长 of a lead nothing was sent to."""
    await desk.services.desk.update_team(TEAM, {"lead": "wang"})
    ticket = await desk.ticket()
    desk.tick(minutes=11)
    await engine(desk, "hub-a").check_due()
    keys = [key for key, _ in await desk.events(ticket)]
    assert keys.count("event.sla_lead_told") == 1 and keys.count("event.lead_no_page_channel") == 1
    # the backup paged without a page channel likewise (a trial's offline backup was "paged" four times)
    assert keys.count("event.backup_paged.sla") == 1 and keys.count("event.backup_no_page_channel") == 1
    await desk.store.roster.save_profile(AgentProfile("wang", page_channel="mail", page_address="wang@x.cn"))
    reached = await desk.ticket()
    desk.tick(minutes=11)
    await engine(desk, "hub-a").check_due()
    keys = [key for key, _ in await desk.events(reached)]
    assert "event.sla_lead_told" in keys and "event.lead_no_page_channel" not in keys


# Where the first hub dies in the breach step: right after its claim (before any effect),
# halfway (the lead told, backup not paged yet), or with every effect made but the step not
# marked done; by an error or by a cancellation (a hub shut down under it).
CRASH_POINTS = {
    "after the claim": ("conversations", "add_thread_event_once", HubDied("died")),
    "halfway": ("routing", "page_for", HubDied("died")),
    "halfway, cancelled": ("routing", "page_for", asyncio.CancelledError()),
    "before it is marked done": ("sla", "finish_step", HubDied("died")),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
async def test_a_hub_dying_in_a_breach_step_leaves_it_to_the_next_hub_which_makes_each_effect_once(
    desk: Desk, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await set_up_lead_and_pages(desk)
    breaches: list[Any] = []
    first, second = engine(desk, "hub-a", breaches), engine(desk, "hub-b", breaches)
    ticket = await desk.ticket()
    desk.tick(minutes=8)
    assert await first.check_due() == 1  # the warning, made and done
    desk.tick(minutes=3)
    where, name, error = CRASH_POINTS[point]
    if where == "sla":
        import hub.sla

        original = hub.sla.finish_step
        calls = [0]

        def dying(state: SlaState, **kwargs: Any) -> SlaState | None:
            calls[0] += 1
            if calls[0] == 1:
                raise error
            return original(state, **kwargs)

        monkeypatch.setattr(hub.sla, "finish_step", dying)
        with pytest.raises(type(error)):
            await first.check_due()
    else:
        with dies_once(getattr(desk.services, where), name, error), pytest.raises(type(error)):
            await first.check_due()
    state = await first.state(ticket.id)
    assert "first_response:breach" in state.claims and "first_response:breach" not in state.fired

    assert await second.check_due() == 0  # the dead hub's claim still runs: nobody acts on the step
    desk.tick(seconds=STEP_LEASE.total_seconds() + 1)
    assert await second.check_due() == 1  # taken over
    assert await first.check_due() == 0 and await second.check_due() == 0
    assert await ladder_effects(desk, ticket.id) == BREACH_EFFECTS
    assert breaches == [(TEAM, "first_response", "all")]  # counted once, by the hub that finished it
    done = await second.state(ticket.id)
    assert not done.claims and set(done.fired) == {"first_response:warn", "first_response:breach"}


async def test_a_hub_dying_between_the_escalation_event_and_the_move_leaves_the_move_to_the_next_hub(
    desk: Desk,
) -> None:
    first, second = engine(desk, "hub-a"), engine(desk, "hub-b")
    ticket = await desk.ticket(assignee_id="li")
    desk.tick(minutes=11)
    assert await first.check_due() == 2
    desk.tick(minutes=5)  # 160 % of the target
    with dies_once(desk.services.conversations, "update_conversation", HubDied("died")), pytest.raises(HubDied):
        await first.check_due()
    unmoved = await desk.store.tickets.get_conversation(ticket.id)
    assert unmoved is not None and unmoved.team == TEAM
    desk.tick(seconds=STEP_LEASE.total_seconds() + 1)
    assert await second.check_due() == 1
    moved = await desk.store.tickets.get_conversation(ticket.id)
    assert moved is not None and (moved.team, moved.assignee_id) == ("technical-support", "")
    events = [key for key, _ in await desk.events(ticket)]
    # li is not of technical-support: the move says whom it takes the ticket from
    assert events.count("event.sla_escalated_unassigned") == 1 and "event.sla_already_with" not in events


async def test_a_hub_overtaken_while_still_acting_repeats_nothing(desk: Desk) -> None:
    """The claim's lease ran out under a slow hub (not dead): another hub finishes the step; when
    the slow one goes on, every effect it makes is already there."""
    await set_up_lead_and_pages(desk)
    breaches: list[Any] = []
    slow, other = engine(desk, "hub-a", breaches), engine(desk, "hub-b", breaches)
    ticket = await desk.ticket()
    desk.tick(minutes=11)
    routing = desk.services.routing
    original = routing.page_for
    reached, go_on = asyncio.Event(), asyncio.Event()

    async def stalled(*args: Any, **kwargs: Any) -> Any:
        if not reached.is_set():
            reached.set()
            await go_on.wait()
        return await original(*args, **kwargs)

    routing.page_for = stalled  # type: ignore[method-assign]
    stuck = asyncio.create_task(slow.check_due())
    await reached.wait()
    desk.tick(seconds=STEP_LEASE.total_seconds() + 1)
    assert await other.check_due() == 1  # the breach, taken over from the stalled hub
    go_on.set()
    assert await stuck == 1  # its warning; the breach was finished by the other hub
    assert await ladder_effects(desk, ticket.id) == BREACH_EFFECTS
    assert len(breaches) == 1


def test_a_step_is_claimed_by_one_hub_until_its_lease_runs_out_and_done_once() -> None:
    now = START
    claimed = claim_step(SlaState(), "resolution:warn", owner="a", now=now, lease=STEP_LEASE)
    assert claimed is not None and claimed.claims["resolution:warn"].owner == "a"
    assert claim_step(claimed, "resolution:warn", owner="b", now=now + STEP_LEASE / 2, lease=STEP_LEASE) is None
    assert claim_step(claimed, "resolution:warn", owner="a", now=now + STEP_LEASE / 2, lease=STEP_LEASE) is None
    later = now + STEP_LEASE + timedelta(seconds=1)
    taken = claim_step(claimed, "resolution:warn", owner="b", now=later, lease=STEP_LEASE)
    assert taken is not None and taken.claims["resolution:warn"].owner == "b"
    done = finish_step(taken, "resolution:warn", now=later)
    assert done is not None and not done.claims and done.fired == {"resolution:warn": later}
    assert finish_step(done, "resolution:warn", now=later) is None  # done once
    assert claim_step(done, "resolution:warn", owner="c", now=later + STEP_LEASE * 9, lease=STEP_LEASE) is None
    assert SlaState.from_json(taken.to_json()) == taken


# -- reviewer findings ---------------------------------------------------------------------------
async def test_backup_is_not_paged_about_a_ticket_the_backup_already_has(desk: Desk) -> None:
    sla = engine(desk, "hub-a")
    theirs = await desk.ticket(assignee_id="chen")  # chen is the backup on duty
    desk.tick(minutes=11)
    assert await sla.check_due() == 2
    assert await desk.store.roster.list_pages(TEAM) == []  # nobody else on backup: nobody is paged
    assert ("event.backup_not_paged_own", {"agent": "Chen"}) in await desk.events(theirs)
    assert "event.backup_paged.sla" not in [key for key, _ in await desk.events(theirs)]

    # with a second backup on duty, that one is paged instead
    await desk.services.roster.create_entry(
        TEAM,
        {
            "kind": "pattern",
            "label": "备班2",
            "duty": "backup",
            "agents": ["zhao"],
            "start": "08:00",
            "end": "16:00",
            "weekdays": "mon-sun",
        },
    )
    other = await desk.ticket(assignee_id="chen")
    desk.tick(minutes=11)
    await sla.check_due()
    assert [p.agent_id for p in await desk.store.roster.list_pages(TEAM)] == ["zhao"]
    events = await desk.events(other)
    assert ("event.backup_not_paged_own", {"agent": "Chen"}) in events
    assert [p["agent"] for key, p in events if key == "event.backup_paged.sla"] == ["Zhao"]


async def test_a_ticket_already_with_the_higher_tier_stays_there_and_the_thread_says_so(desk: Desk) -> None:
    sla = engine(desk, "hub-a")
    ticket = await desk.ticket(team="technical-support", assignee_id="li")
    desk.tick(minutes=16)  # 160 %: warn, breach and escalate at once
    assert await sla.check_due() == 3
    kept = await desk.store.tickets.get_conversation(ticket.id)
    assert kept is not None and (kept.team, kept.assignee_id) == ("technical-support", "li")
    events = await desk.events(ticket)
    assert ("event.sla_already_with", {"clock": "first_response", "team": "technical-support"}) in events
    assert "event.sla_escalated" not in [key for key, _ in events]


async def test_two_hubs_on_one_mongodb_make_each_step_once_when_one_dies_in_the_middle(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    """Two hub processes share one MongoDB (the mongoeco wire server); the first dies halfway
    through the breach step; the second takes it over, races the first for the escalation,
    and every step's event, the lead's note and the page are in the store once."""
    first, second = Hub(sla_config(tmp_path, mongo_db_uri, "a")), Hub(sla_config(tmp_path, mongo_db_uri, "b"))
    await first.start()
    await second.start()
    try:
        await add_agent(first.store, "lead@example.com", Role.AGENT, "password-1", name="Lead")
        backup = await add_agent(first.store, "backup@example.com", Role.AGENT, "password-2", name="Backup")
        lead = await first.store.accounts.get_agent_by_email("lead@example.com")
        assert lead is not None
        await first.services.desk.update_team("customer-service", {"lead": lead.id})
        await first.services.roster.create_entry(
            "customer-service",
            {
                "kind": "pattern",
                "label": "备班",
                "duty": "backup",
                "agents": [backup.id],
                "weekdays": "mon-sun",
                "start": "00:00",
                "end": "00:00",  # all day (not 23:59: a breach in the day's last minute would page nobody)
            },
        )
        conv = await new_ticket(first, "two-1")
        at(first, conv.created_at + timedelta(minutes=61))
        at(second, conv.created_at + timedelta(minutes=61))
        with dies_once(first.services.routing, "page_for", HubDied("died")), pytest.raises(HubDied):
            await first.sla.check_due()
        assert await second.sla.check_due() == 0  # the breach is the dead hub's until its claim's lease runs out
        later = conv.created_at + timedelta(minutes=61) + STEP_LEASE + timedelta(seconds=1)
        at(first, later)
        at(second, later)
        assert await second.sla.check_due() == 1
        escalation = conv.created_at + timedelta(minutes=91)
        at(first, escalation)
        at(second, escalation)
        fired = await asyncio.gather(first.sla.check_due(), second.sla.check_due(), first.sla.check_due())
        assert sum(fired) == 1
        thread = await first.store.tickets.list_messages(conv.id)
        keys = [m.raw["event"]["key"] for m in thread if m.raw and "event" in m.raw]
        for step in (*STEPS, "event.sla_escalated"):
            assert keys.count(step) == 1, step
        assert [m.raw["page"]["agent_id"] for m in thread if m.raw and "page" in m.raw] == []  # no page channels
        (page,) = await first.store.roster.list_pages("customer-service")
        assert (page.agent_id, page.reason, page.conversation_id) == (backup.id, "sla", conv.id)
        moved = await second.store.tickets.get_conversation(conv.id)
        assert moved is not None and moved.team == "technical-support"
    finally:
        await second.stop()
        await first.stop()


async def test_a_roster_entry_that_makes_members_keeps_the_teams_lead(desk: Desk) -> None:
    """Found by the two-hub test: joining a team's members through the roster dropped its lead,
    so a missed target was told to nobody."""
    await desk.services.desk.update_team(TEAM, {"lead": "wang"})
    await desk.store.accounts.add_agent(Agent("sun", "sun@example.com", Role.AGENT, "x", name="Sun"))
    await desk.services.roster.create_entry(
        TEAM, {"kind": "pattern", "agents": ["sun"], "start": "08:00", "end": "16:00", "weekdays": "sat"}
    )
    team = await desk.store.desk.get_team(TEAM)
    assert team is not None and "sun" in team.members and team.lead == "wang"


async def test_a_hub_restarted_after_dying_in_a_step_finishes_it_once(tmp_path: Path) -> None:
    """The embedded store: the hub dies between claiming a step and acting on it, and is started
    again (a new process, a new name); the step is made once its claim's lease ran out."""
    config = sla_config(tmp_path, "sqlite://")
    hub = Hub(config)
    await hub.start()
    try:
        conv = await new_ticket(hub, "restart-1")
        at(hub, conv.created_at + timedelta(minutes=61))
        with dies_once(hub.actions, "add_thread_event_once", HubDied("died")), pytest.raises(HubDied):
            await hub.sla.check_due()  # it dies right after claiming the warning, before its event
    finally:
        await hub.stop()
    again = Hub(config)
    await again.start()
    try:
        at(again, conv.created_at + timedelta(minutes=61) + STEP_LEASE / 2)
        assert await again.sla.check_due() == 0  # the dead process's claim still runs
        at(again, conv.created_at + timedelta(minutes=62) + STEP_LEASE)
        assert await again.sla.check_due() == 2
        assert await sla_events(again, conv.id) == ["event.sla_warning", "event.sla_breached"]
        assert await again.sla.check_due() == 0
    finally:
        await again.stop()


async def test_a_breachs_thread_says_only_what_happened_for_each_ticket(desk: Desk) -> None:
    """No lead: the thread says so; two tickets breaching at once: the first pages the backup,
    the second names who was already paged and for which ticket; a team without anyone on
    backup duty: the thread says nobody was paged."""
    sla = engine(desk, "hub-a")
    first, second = await desk.ticket(customer="c1"), await desk.ticket(customer="c2")
    other = await desk.ticket(customer="c3", team="technical-support")
    desk.tick(minutes=11)
    await sla.check_due()
    events = {t.number: await desk.events(t) for t in (first, second, other)}
    breached = {"clock": "first_response"}
    for number in events:
        assert ("event.sla_breached", breached) in events[number]
        assert "event.sla_lead_told" not in [key for key, _ in events[number]]
    assert ("event.no_lead", {"team": "Customer service"}) in events[first.number]
    paged = [n for n in (first.number, second.number) if "event.backup_paged.sla" in dict(events[n])]
    assert len(paged) == 1  # one backup on duty: paged once, for one of the two
    [unpaged] = {first.number, second.number} - set(paged)
    assert [p["agent"] for key, p in events[paged[0]] if key == "event.backup_paged.sla"] == ["Chen"]
    assert ("event.backup_already_paged", {"agents": "Chen", "tickets": f"#{paged[0]}"}) in events[unpaged]
    assert ("event.backup_none_on_duty", {"team": "Technical support"}) in events[other.number]
    text = next(m.text for m in await desk.store.tickets.list_messages(first.id) if "event" in (m.raw or {}))
    assert "paged" not in text and "呼叫" not in text  # the breach event says only that the target was missed
