"""Routing, presence and backup paging through the services, on both store backends.

A fixed clock (a Monday, 10:00 in Shanghai) and a small team: Li and Wang on the early
shift, Zhao on the night shift (off now), Chen on backup duty.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conversation.assignment import Weights
from conversation.errors import InvalidInput
from conversation.inbound import Sender
from conversation.model import Agent, Conversation, MessageKind, Role, Status
from conversation.paging import PageDigest, PageReason
from conversation.presence import PresenceRules
from conversation.routing import Route
from conversation.store import Store, Ticketing
from hub.events import EventBus
from hub.services import Services
from hub.services.routing import RoutingRules
from tests.store_contract.common import inbound

TEAM = "customer-service"
START = datetime(2026, 3, 2, 2, tzinfo=UTC)  # Monday 10:00 in Shanghai
POLICY = Ticketing(reopen_window=timedelta(days=3), first_number=1000)


@dataclass
class Desk:
    store: Store
    services: Services
    now: list[datetime]
    counter: list[int]

    def tick(self, **delta: float) -> None:
        self.now[0] += timedelta(**delta)

    async def online(self, *agents: str, process: str = "hub-1") -> None:
        for agent in agents:
            await self.services.roster.socket_heartbeat(agent, process, opened=True)

    async def ticket(self, customer: str = "user-1", channel: str = "web", **changes: Any) -> Conversation:
        self.counter[0] += 1
        record = await self.store.tickets.record_inbound(
            inbound(
                f"m{self.counter[0]}",
                thread=f"t-{customer}-{self.counter[0]}",
                channel=channel,
                sender=Sender(address=customer),
            ),
            now=self.now[0],
            policy=POLICY,
        )
        return await self.store.tickets.update_conversation(
            record.conversation.id, {"team": TEAM, **changes}, now=self.now[0]
        )

    async def route(self, conversation: Conversation) -> str:
        await self.services.routing.route(conversation)
        return await self.assignee(conversation)

    async def assignee(self, conversation: Conversation) -> str:
        found = await self.store.tickets.get_conversation(conversation.id)
        assert found is not None
        return found.assignee_id

    async def events(self, conversation: Conversation) -> list[tuple[str, dict[str, str]]]:
        messages = await self.store.tickets.list_messages(conversation.id)
        return [
            (m.raw["event"]["key"], m.raw["event"]["params"]) for m in messages if m.kind is MessageKind.EVENT and m.raw
        ]


@pytest.fixture
async def desk(store: Store) -> AsyncIterator[Desk]:
    now = [START]
    await store.desk.create_defaults()
    for agent_id in ("li", "wang", "zhao", "chen"):
        await store.accounts.add_agent(
            Agent(agent_id, f"{agent_id}@example.com", Role.AGENT, "x", name=agent_id.title())
        )
    services = Services.build(
        store,
        EventBus(),
        lambda: None,
        clock=lambda: now[0],
        routing=RoutingRules(
            default_capacity=3.0, weights=Weights(chat=1.0, mail=0.25), offline_grace=timedelta(minutes=2)
        ),
        presence=PresenceRules(idle_away=timedelta(minutes=10)),
        presence_ttl=timedelta(seconds=60),
        channel_types={"web": "webchat", "mail": "email", "tg": "telegram"},
        owner="hub-1",
    )
    roster = services.roster
    await roster.update_team_settings(TEAM, {"timezone": "Asia/Shanghai", "page_queue": 2, "page_wait_minutes": 15})
    early = {"kind": "pattern", "label": "早班", "start": "08:00", "end": "16:00", "weekdays": "mon-sun"}
    await roster.create_entry(TEAM, {**early, "agents": ["li", "wang"]})
    await roster.create_entry(
        TEAM,
        {
            "kind": "pattern",
            "label": "夜班",
            "agents": ["zhao"],
            "start": "22:00",
            "end": "06:00",
            "weekdays": "mon-sun",
        },
    )
    await roster.create_entry(TEAM, {**early, "label": "备班", "duty": "backup", "agents": ["chen"]})
    yield Desk(store, services, now, [0])


async def test_a_new_ticket_goes_to_an_agent_on_shift_and_online_never_off_shift(desk: Desk) -> None:
    await desk.online("zhao")  # online, but the night shift is not on
    ticket = await desk.ticket()
    assert await desk.route(ticket) == ""  # nobody on shift is online: it waits
    await desk.online("wang")
    assert await desk.route(ticket) == "wang"
    assert ("event.routed", {"agent": "Wang", "how": "least-loaded"}) in await desk.events(ticket)
    desk.tick(hours=12)  # 22:00: the night shift
    await desk.online("zhao")
    assert await desk.route(await desk.ticket(customer="user-2")) == "zhao"


async def test_least_loaded_then_round_robin_per_team_setting(desk: Desk) -> None:
    await desk.online("li", "wang")
    picks = [await desk.route(await desk.ticket(customer=f"c{i}")) for i in range(4)]
    assert sorted(picks) == ["li", "li", "wang", "wang"]  # least-loaded evens them out
    await desk.services.roster.update_team_settings(TEAM, {"strategy": "round-robin"})
    picks = [await desk.route(await desk.ticket(customer=f"d{i}", channel="mail")) for i in range(4)]
    assert picks[0] != picks[1] and picks[0] == picks[2] and picks[1] == picks[3]


async def test_capacity_weighs_chats_more_than_emails(desk: Desk) -> None:
    await desk.online("li")
    for i in range(3):
        assert await desk.route(await desk.ticket(customer=f"c{i}")) == "li"
    assert await desk.route(await desk.ticket(customer="c9")) == ""  # three chats: li is full
    await desk.services.roster.update_profile("li", {"capacity": 4})
    for i in range(4):  # room for one chat's worth: four emails
        assert await desk.route(await desk.ticket(customer=f"m{i}", channel="mail")) == "li"
    assert await desk.route(await desk.ticket(customer="m9", channel="mail")) == ""


async def test_the_customers_previous_agent_gets_their_next_ticket_when_available(desk: Desk) -> None:
    await desk.online("li", "wang")
    first = await desk.ticket(customer="vip")
    agent = await desk.route(first)
    other = "wang" if agent == "li" else "li"
    await desk.route(await desk.ticket(customer="someone"))  # the other agent is now less loaded... or equal
    second = await desk.ticket(customer="vip")
    assert await desk.route(second) == agent
    assert ("event.routed", {"agent": agent.title(), "how": "sticky"}) in await desk.events(second)
    await desk.services.roster.set_status(agent, "away")
    assert await desk.route(await desk.ticket(customer="vip")) == other  # not available: someone else


async def test_skills_filter_by_language_and_channel(desk: Desk) -> None:
    await desk.online("li", "wang")
    await desk.services.roster.update_profile("li", {"languages": ["en"]})
    await desk.services.roster.update_profile("wang", {"languages": ["zh"], "channels": ["web"]})
    chinese = await desk.ticket(customer="zh-user")
    await desk.store.contacts.update_contact(chinese.contact_id, language="zh-CN")
    assert await desk.route(chinese) == "wang"
    english_mail = await desk.ticket(customer="en-user", channel="mail")
    await desk.store.contacts.update_contact(english_mail.contact_id, language="en-GB")
    assert await desk.route(english_mail) == "li"
    french = await desk.ticket(customer="fr-user", channel="tg")
    await desk.store.contacts.update_contact(french.contact_id, language="fr")
    assert await desk.route(french) == ""  # nobody speaks French: it waits
    chinese_telegram = await desk.ticket(customer="zh-user-2", channel="tg")
    await desk.store.contacts.update_contact(chinese_telegram.contact_id, language="zh-CN")
    assert await desk.route(chinese_telegram) == ""  # wang takes the web chat only, li speaks English


async def test_an_agent_coming_online_pulls_from_the_queue(desk: Desk) -> None:
    waiting = [await desk.ticket(customer=f"c{i}") for i in range(2)]
    await desk.services.routing.sweep()
    assert [await desk.assignee(t) for t in waiting] == ["", ""]
    await desk.online("li")
    await desk.services.routing.sweep()
    assert [await desk.assignee(t) for t in waiting] == ["li", "li"]


async def test_open_chats_of_an_agent_gone_offline_are_reassigned_after_the_grace_period(desk: Desk) -> None:
    await desk.online("li")
    chat = await desk.ticket(customer="c1")
    mail = await desk.ticket(customer="c2", channel="mail")
    assert await desk.route(chat) == "li" and await desk.route(mail) == "li"
    await desk.services.roster.socket_closed("li", "hub-1")
    await desk.online("wang")
    desk.tick(seconds=60)
    await desk.services.roster.socket_heartbeat("wang", "hub-1")
    await desk.services.routing.sweep()
    assert await desk.assignee(chat) == "li"  # within the grace period
    desk.tick(seconds=61)
    await desk.services.roster.socket_heartbeat("wang", "hub-1")
    await desk.services.routing.sweep()
    assert await desk.assignee(chat) == "wang"
    assert await desk.assignee(mail) == "li"  # an email waits for its agent
    assert ("event.requeued", {"agent": "Li"}) in await desk.events(chat)


async def test_only_live_chats_go_back_to_the_queue_when_their_agent_goes_offline(desk: Desk) -> None:
    await desk.online("li")
    chat = await desk.ticket(customer="c1")
    call = await desk.ticket(customer="+8613812345678", channel="phone", assignee_id="li")  # a call li logged
    mail = await desk.ticket(customer="c3", channel="mail", assignee_id="li")
    assert await desk.route(chat) == "li"
    await desk.services.roster.socket_closed("li", "hub-1")
    desk.tick(minutes=5)  # past the grace period
    await desk.services.routing.sweep()
    assert await desk.assignee(chat) == ""
    assert await desk.assignee(call) == "li" and await desk.assignee(mail) == "li"
    assert not [key for key, _ in await desk.events(call) if key == "event.requeued"]


async def test_a_reopened_ticket_whose_agent_left_the_shift_goes_to_who_is_on(desk: Desk) -> None:
    await desk.online("li", "zhao")
    ticket = await desk.ticket(customer="c1", assignee_id="zhao", status=Status.RESOLVED)  # given by hand last night
    record = await desk.store.tickets.record_inbound(
        inbound("again", thread=ticket.thread_key, channel="web", sender=Sender(address="c1")),
        now=desk.now[0],
        policy=POLICY,
    )
    assert record.route is Route.REOPEN and record.conversation.assignee_id == "zhao"
    assert await desk.services.routing.route(record.conversation) is None  # not reopened: zhao keeps it
    await desk.services.routing.route(record.conversation, reopened=True)
    assert await desk.assignee(ticket) == "li"  # zhao is off shift now
    reopened = await desk.store.tickets.get_conversation(ticket.id)
    assert reopened is not None
    await desk.services.routing.route(reopened, reopened=True)
    assert await desk.assignee(ticket) == "li"  # li qualifies: it stays


async def test_backup_is_paged_on_a_long_queue_becomes_routable_and_is_released_when_it_drains(desk: Desk) -> None:
    await desk.services.roster.update_profile("chen", {"page_channel": "tg", "page_address": "tg-chat-77"})
    waiting = [await desk.ticket(customer=f"c{i}") for i in range(3)]  # more than page_queue = 2
    await desk.services.routing.sweep()
    (page,) = await desk.store.roster.list_pages(TEAM)
    assert (page.agent_id, page.reason, dict(page.params), page.channel) == (
        "chen",
        "queue",
        {"depth": "3", "threshold": "2"},
        "tg",
    )
    assert page.conversation_id == waiting[0].id  # the longest waiting
    events = await desk.events(waiting[0])
    assert (
        "event.backup_paged.queue",
        {"agent": "Chen", "team": "Customer service", "depth": "3", "threshold": "2"},
    ) in events
    # the page goes out through the outbox: a private note delivered to the agent's own address
    notes = [m for m in await desk.store.tickets.list_messages(waiting[0].id) if m.kind is MessageKind.NOTE]
    assert len(notes) == 1 and notes[0].channel == "tg" and notes[0].customer_address == "tg-chat-77"
    assert notes[0].delivery is not None and "#" in notes[0].text
    await desk.services.routing.sweep()
    assert len(await desk.store.roster.list_pages(TEAM)) == 1  # paged once, not every sweep
    await desk.online("chen")
    await desk.services.routing.sweep()
    assert {await desk.assignee(t) for t in waiting} == {"chen"}  # called in: routable
    assert await desk.store.roster.list_pages(TEAM, active_only=True) == []  # queue drained: released
    assert await desk.route(await desk.ticket(customer="later")) == ""  # released: not routable again


async def test_backup_is_paged_when_the_oldest_ticket_waits_too_long(desk: Desk) -> None:
    await desk.services.roster.update_profile("li", {"channels": ["mail"]})  # there, but not for this chat
    await desk.online("li")
    ticket = await desk.ticket()
    await desk.services.routing.sweep()
    assert await desk.store.roster.list_pages(TEAM) == []
    desk.tick(minutes=16)
    await desk.services.roster.socket_heartbeat("li", "hub-1", opened=True)
    await desk.services.routing.sweep()
    (page,) = await desk.store.roster.list_pages(TEAM)
    assert (page.reason, page.params["minutes"], page.conversation_id) == ("wait", "16", ticket.id)


async def test_one_call_pages_backup_for_a_missed_sla(desk: Desk) -> None:
    ticket = await desk.ticket()
    pages = await desk.services.routing.page_for(ticket, "sla", number=str(ticket.number))
    assert [p.agent_id for p in pages] == ["chen"]
    assert (
        "event.backup_paged.sla",
        {"agent": "Chen", "team": "Customer service", "number": str(ticket.number), "clock": "sla"},
    ) in await desk.events(ticket)
    assert await desk.services.routing.page_backup(TEAM, PageReason("sla"), ticket) == []  # already paged


async def test_nobody_on_backup_duty_means_no_page(desk: Desk) -> None:
    desk.tick(hours=10)  # 20:00: backup duty ended at 16:00
    for i in range(3):
        await desk.ticket(customer=f"c{i}")
    await desk.services.routing.sweep()
    assert await desk.store.roster.list_pages(TEAM) == []


async def test_presence_is_shared_between_hub_processes(desk: Desk) -> None:
    other = Services.build(
        desk.store, EventBus(), lambda: None, clock=lambda: desk.now[0], presence_ttl=timedelta(seconds=60)
    )
    await other.roster.socket_heartbeat("li", "hub-2", opened=True)  # li's inbox is open in another process
    assert (await desk.services.roster.presence())["li"] == "online"
    assert await desk.route(await desk.ticket()) == "li"
    desk.tick(seconds=61)  # hub-2 stopped beating (it died): li is offline everywhere
    assert (await desk.services.roster.presence())["li"] == "offline"


async def test_presence_set_by_the_agent_and_by_idleness(desk: Desk) -> None:
    roster = desk.services.roster
    assert await roster.set_status("li", "away") == "offline"  # no inbox open yet
    await desk.online("li")
    assert (await roster.presence())["li"] == "away"
    await roster.set_status("li", "online")
    desk.tick(minutes=9)
    await roster.socket_heartbeat("li", "hub-1")
    assert (await roster.presence())["li"] == "online"
    desk.tick(minutes=1)
    await roster.socket_heartbeat("li", "hub-1")  # the inbox is open, but nobody touched it
    assert (await roster.presence())["li"] == "away"
    assert await roster.activity("li") == "online"


async def test_one_hub_process_routes_at_a_time(desk: Desk) -> None:
    other = Services.build(
        desk.store,
        EventBus(),
        lambda: None,
        clock=lambda: desk.now[0],
        channel_types={"web": "webchat"},
        owner="hub-2",
    )
    await desk.online("li")
    await desk.services.routing.sweep()  # hub-1 takes the routing lease
    ticket = await desk.ticket()
    assert await other.routing.route(ticket) is None  # hub-2 leaves it to the lease holder
    assert await desk.assignee(ticket) == ""
    await other.routing.sweep()
    assert await desk.assignee(ticket) == ""
    assert await desk.route(ticket) == "li"
    desk.tick(minutes=2)  # hub-1 stopped renewing (it died): hub-2 takes over
    await desk.online("li")
    second = await desk.ticket(customer="c2")
    await other.routing.sweep()
    assert await desk.assignee(second) == "li"


async def test_presence_changes_are_announced_once_each(desk: Desk) -> None:
    subscription = desk.services.roster.bus.subscribe()
    await desk.online("li")  # offline -> online
    await desk.services.roster.activity("li")  # still online: nothing to say
    await desk.services.roster.socket_heartbeat("li", "hub-1")
    await desk.services.roster.set_status("li", "away")  # online -> away
    await desk.services.roster.socket_closed("li", "hub-1")  # away -> offline
    said = []
    while not subscription.queue.empty():
        event = subscription.queue.get_nowait()
        if event.type == "presence.changed":
            said.append((event.data["agent_id"], event.data["presence"]))
    assert said == [("li", "online"), ("li", "away"), ("li", "offline")]


async def test_tickets_without_a_team_go_to_the_default_team(desk: Desk) -> None:
    untriaged = await desk.store.tickets.record_inbound(
        inbound("u1", thread="u1", channel="web"), now=desk.now[0], policy=POLICY
    )
    await desk.online("li")
    await desk.services.routing.sweep()
    assert await desk.assignee(untriaged.conversation) == ""  # no default team: it waits for triage
    desk.services.routing.rules = replace(desk.services.routing.rules, default_team=TEAM)
    await desk.services.routing.sweep()
    assert await desk.assignee(untriaged.conversation) == "li"
    updated = await desk.store.tickets.get_conversation(untriaged.conversation.id)
    assert updated is not None and updated.team == TEAM  # filed under the team that took it


async def test_a_missed_sla_pages_backup_through_the_routing_service(desk: Desk) -> None:
    """The SLA engine's breach step pages through the routing service's page_for: the page is
    logged with reason `sla` and the backup on duty becomes routable."""
    from conversation.sla import policies_from_config
    from hub.sla import SlaEngine

    services = desk.services
    engine = SlaEngine(
        desk.store,
        services.conversations.bus,
        services.conversations,
        policies_from_config({"all": {"first_response_minutes": 10}}),
        routing=services.routing,
    )
    ticket = await desk.ticket()
    desk.tick(minutes=11)
    assert await engine.check_due() == 2  # warn and breach
    (page,) = await desk.store.roster.list_pages(TEAM)
    assert (page.agent_id, page.reason, page.conversation_id) == ("chen", "sla", ticket.id)
    paged = {"agent": "Chen", "team": "Customer service", "number": str(ticket.number), "clock": "first_response"}
    assert ("event.backup_paged.sla", paged) in (await desk.events(ticket))
    await desk.online("chen")
    assert await desk.route(ticket) == "chen"  # paged in: routable


SHANGHAI_OFFICE = {
    "timezone": "Asia/Shanghai",
    "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
}


async def test_a_ticket_of_a_closed_team_waits_for_the_calendar_to_open(desk: Desk) -> None:
    await desk.services.calendars.put(TEAM, SHANGHAI_OFFICE)
    desk.tick(hours=12)  # Monday 22:00 in Shanghai: the team is closed, zhao's night shift is on
    await desk.online("zhao")
    ticket = await desk.ticket()
    decision = await desk.services.routing.route(ticket)
    assert decision is not None and (decision.agent_id, decision.reason) == ("", "team closed")
    for _ in range(3):
        await desk.ticket(customer="more")
    desk.tick(minutes=30)
    await desk.services.routing.sweep()
    assert await desk.assignee(ticket) == ""
    assert await desk.store.roster.list_pages(TEAM) == []  # a closed team's queue pages nobody
    desk.tick(hours=11)  # Tuesday 09:30: open; the early shift is on
    await desk.online("li")
    await desk.services.routing.sweep()
    assert await desk.assignee(ticket) == "li"


async def test_a_team_with_a_calendar_has_its_calendars_time_zone(desk: Desk) -> None:
    roster = desk.services.roster
    await roster.update_team_settings(TEAM, {"timezone": "Europe/Berlin"})
    await desk.services.calendars.put(TEAM, SHANGHAI_OFFICE)
    assert (await roster.team_settings(TEAM)).timezone == "Asia/Shanghai"  # the calendar's zone wins
    with pytest.raises(InvalidInput, match="calendar"):
        await roster.update_team_settings(TEAM, {"timezone": "Europe/Berlin"})
    await roster.update_team_settings(TEAM, {"timezone": "Asia/Shanghai", "page_queue": 5})  # the same zone: fine
    assert (await roster.team_settings(TEAM)).page_queue == 5
    # the shifts are read in that zone: 10:00 in Shanghai is the early shift
    assert await desk.route(await desk.ticket()) == ""  # nobody online yet
    await desk.online("li")
    assert await desk.route(await desk.ticket(customer="u2")) == "li"


async def test_a_ticket_waiting_for_an_agent_waits_in_the_default_teams_queue(desk: Desk) -> None:
    """Nobody online to take it: it still belongs to the default team, so its SLA clocks follow
    that team's calendar and the team's queue metrics count it (not a team named "")."""
    desk.services.routing.rules = replace(desk.services.routing.rules, default_team=TEAM)
    waiting = await desk.store.tickets.record_inbound(
        inbound("w1", thread="w1", channel="web"), now=desk.now[0], policy=POLICY
    )
    await desk.services.routing.sweep()
    stored = await desk.store.tickets.get_conversation(waiting.conversation.id)
    assert stored is not None and (stored.assignee_id, stored.team) == ("", TEAM)


async def test_filing_a_ticket_under_its_team_from_a_stale_copy_changes_nothing_else(desk: Desk) -> None:
    """The queue's copy of a ticket may predate an agent's change: filing it under its team must
    neither undo that change nor write a priority event of its own."""
    desk.services.routing.rules = replace(desk.services.routing.rules, default_team=TEAM)
    waiting = await desk.store.tickets.record_inbound(
        inbound("s1", thread="s1", channel="web"), now=desk.now[0], policy=POLICY
    )
    stale = waiting.conversation
    await desk.services.conversations.update_by(stale, {"priority": "urgent"}, who="Li", names={}, agent_id="li")
    before = await desk.store.tickets.list_messages(stale.id)
    await desk.services.routing.route(stale)
    after = await desk.store.tickets.get_conversation(stale.id)
    assert after is not None and (after.team, after.priority.value) == (TEAM, "urgent")
    assert await desk.store.tickets.list_messages(stale.id) == before  # no event of the filing's own


async def test_read_only_and_deactivated_accounts_on_a_shift_are_never_given_tickets(desk: Desk) -> None:
    # Rostered like everyone else (a trainee shadowing the early shift; a colleague who left)
    for agent_id, role, active in (("reader", Role.READ_ONLY, True), ("gone", Role.AGENT, False)):
        await desk.store.accounts.add_agent(
            Agent(agent_id, f"{agent_id}@example.com", role, "x", name=agent_id.title(), active=active)
        )
    early = {"kind": "pattern", "label": "早班", "start": "08:00", "end": "16:00", "weekdays": "mon-sun"}
    await desk.services.roster.create_entry(TEAM, {**early, "agents": ["reader", "gone"]})
    await desk.services.roster.create_entry(TEAM, {**early, "duty": "backup", "agents": ["reader"]})
    await desk.online("reader", "gone")
    tickets = [await desk.ticket(customer=f"c{i}") for i in range(3)]  # more than page_queue = 2
    assert [await desk.route(t) for t in tickets] == ["", "", ""]  # they wait for someone who can answer
    await desk.services.routing.sweep()
    assert {await desk.assignee(t) for t in tickets} == {""}
    assert [p.agent_id for p in await desk.store.roster.list_pages(TEAM)] == ["chen"]  # the reader is not paged
    await desk.online("li")
    assert await desk.route(await desk.ticket(customer="later")) == "li"


async def test_a_reopened_ticket_of_a_read_only_account_goes_to_who_can_answer(desk: Desk) -> None:
    await desk.store.accounts.add_agent(Agent("reader", "reader@example.com", Role.READ_ONLY, "x", name="Reader"))
    await desk.online("li")
    ticket = await desk.ticket(customer="c1", assignee_id="reader", status=Status.RESOLVED)  # before the role changed
    record = await desk.store.tickets.record_inbound(
        inbound("again", thread=ticket.thread_key, channel="web", sender=Sender(address="c1")),
        now=desk.now[0],
        policy=POLICY,
    )
    await desk.services.routing.route(record.conversation, reopened=True)
    assert await desk.assignee(ticket) == "li"  # not kept "by hand" by someone who cannot answer


async def test_a_sweep_reads_an_empty_queue_once_and_unteamed_tickets_once_a_round(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = await desk.ticket(customer="c1", team="")  # no team: looked at, and not this team's
    reads: list[str] = []
    list_conversations = desk.store.inbox.list_conversations

    async def counted(query: Any) -> Any:
        reads.append(query.team)
        return await list_conversations(query)

    monkeypatch.setattr(desk.store.inbox, "list_conversations", counted)
    await desk.services.routing.sweep()
    # The team's own tickets once, and those without a team once for all teams of the round.
    assert reads.count(TEAM) == 1 and reads.count("") == 1
    assert await desk.assignee(elsewhere) == ""


async def test_closing_the_inbox_keeps_the_agents_chats_for_the_grace_period_and_a_reload_keeps_them(
    desk: Desk,
) -> None:
    await desk.online("li", "wang")
    chat = await desk.ticket(customer="c1")
    assert await desk.route(chat) == "li"
    desk.tick(minutes=5)  # li reads for a while: heartbeats, no action
    await desk.services.roster.socket_heartbeat("li", "hub-1")
    await desk.services.roster.socket_heartbeat("wang", "hub-1")
    await desk.services.roster.socket_closed("li", "hub-1")  # the tab closes (a reload, a blip)
    await desk.services.routing.sweep()
    assert await desk.assignee(chat) == "li"  # the grace counts from the close, not the last action
    desk.tick(seconds=30)
    await desk.services.roster.socket_heartbeat("li", "hub-1", opened=True)  # the reload is back
    await desk.services.roster.socket_heartbeat("wang", "hub-1")
    desk.tick(seconds=100)
    await desk.services.routing.sweep()
    assert await desk.assignee(chat) == "li"
    assert "event.requeued" not in [key for key, _ in await desk.events(chat)]


async def test_a_team_without_a_roster_routes_to_its_online_members(desk: Desk) -> None:
    await desk.services.desk.update_team("technical-support", {"members": ["zhao"]})
    await desk.online("zhao")  # zhao's roster shift is another team's: this team has no roster
    escalated = await desk.ticket(customer="c1", team="technical-support")
    assert await desk.route(escalated) == "zhao"


async def test_a_team_without_shifts_still_routes_when_a_member_takes_leave(desk: Desk) -> None:
    """One leave entry made a team "rostered" with nobody on shift: nothing was routed to the
    members at work for a fortnight (a trial). Only the one on leave is left out."""
    await desk.services.desk.update_team("technical-support", {"members": ["zhao", "wang"]})
    today = START.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    leave = {"kind": "leave", "agents": ["zhao"], "date": today, "until": today}
    await desk.services.roster.create_entry("technical-support", leave)
    await desk.online("zhao")
    await desk.online("wang")
    first = await desk.ticket(customer="c1", team="technical-support")
    second = await desk.ticket(customer="c2", team="technical-support")
    assert [await desk.route(first), await desk.route(second)] == ["wang", "wang"]  # zhao is on leave
    _settings, gaps = await desk.services.roster.coverage("technical-support", 1)
    assert gaps is None  # no shift model: not every hour short


async def test_a_team_with_nobody_on_shift_there_pages_backup_at_once_else_tells_the_lead(desk: Desk) -> None:
    waiting = await desk.ticket(customer="c1")  # li and wang are on shift but offline
    await desk.services.routing.sweep()
    pages = await desk.store.roster.list_pages(TEAM)
    assert [(p.agent_id, p.reason) for p in pages] == [("chen", "nobody")]  # not after page_wait_minutes
    await desk.store.roster.release_pages(TEAM, now=desk.now[0])
    await desk.services.desk.update_team(TEAM, {"lead": "zhao"})
    desk.tick(hours=8)  # 18:00: nobody on backup duty now either
    await desk.services.routing.sweep()
    await desk.services.routing.sweep()
    told = [p for key, p in await desk.events(waiting) if key == "event.lead_nobody_there"]
    assert told == [{"lead": "Zhao"}]  # once


async def test_a_category_set_later_moves_a_ticket_that_only_had_the_default_team(desk: Desk) -> None:
    desk.services.routing.rules = replace(desk.services.routing.rules, default_team=TEAM)
    await desk.online("li")
    conversations = desk.services.conversations
    arrived = []
    for n in (1, 2):
        record = await desk.store.tickets.record_inbound(
            inbound(f"d{n}", thread=f"d{n}", channel="web"), now=desk.now[0], policy=POLICY
        )
        await desk.services.routing.route(record.conversation)
        arrived.append(await desk.store.tickets.get_conversation(record.conversation.id))
    first, second = arrived
    assert first is not None and (first.team, first.assignee_id) == (TEAM, "li")
    moved = await conversations.update_conversation(first, {"category": "dispute"})
    assert (moved.team, moved.assignee_id) == ("finance", "")  # li is not in finance: its queue

    assert second is not None
    chosen = await conversations.update_conversation(second, {"team": "complaints"})  # an agent's choice
    kept = await conversations.update_conversation(chosen, {"category": "dispute"})
    assert kept.team == "complaints"


def test_the_team_source_rule() -> None:
    from conversation.desk import team_follows_category, team_source

    assert team_source({}, "") == "" and team_follows_category("")
    assert team_source({"team": "cs", "source": "default"}, "cs") == "default"
    assert team_source({"team": "cs", "source": "default"}, "finance") == "manual"  # changed since
    assert [team_follows_category(s) for s in ("default", "category", "manual", "handoff")] == [
        True,
        True,
        False,
        False,
    ]


async def lead_paged_three_times(desk: Desk, *, retried: bool = False) -> list[Conversation]:
    """Three tickets whose missed target is told to their lead Wang, paged by mail (`retried`:
    each step twice, as a retry repeats it)."""
    await desk.services.desk.update_team(TEAM, {"lead": "wang"})
    await desk.services.roster.update_profile("wang", {"page_channel": "mail", "page_address": "wang@x.cn"})
    tickets = [await desk.ticket(customer=f"c{n}") for n in range(3)]
    for n, ticket in enumerate(tickets):
        for _ in range(2 if retried else 1):
            await desk.services.routing.tell_lead(ticket, "first_response", once=f"breach-{n}")
    return tickets


async def page_mails(desk: Desk, tickets: list[Conversation]) -> list[str]:
    found = []
    for ticket in tickets:
        found += [m.text for m in await desk.store.tickets.list_messages(ticket.id) if "page" in (m.raw or {})]
    return found


async def test_pages_to_one_person_are_coalesced_into_a_digest(desk: Desk) -> None:
    tickets = await lead_paged_three_times(desk, retried=True)  # a step retried: paged once
    routing = desk.services.routing
    assert len(await page_mails(desk, tickets)) == 1  # the first goes out, the next two are held
    desk.tick(seconds=200)
    await routing.sweep()
    assert len(await page_mails(desk, tickets)) == 1  # still within page_coalesce
    desk.tick(seconds=101)
    await routing.sweep()
    sent = await page_mails(desk, tickets)
    assert len(sent) == 2 and f"#{tickets[1].number}" in sent[1] and f"#{tickets[2].number}" in sent[1]
    await routing.sweep()
    assert len(await page_mails(desk, tickets)) == 2  # the digest goes once


async def test_a_digest_taken_by_a_hub_that_died_before_queueing_it_goes_out_once(desk: Desk) -> None:
    tickets = await lead_paged_three_times(desk)
    desk.tick(seconds=301)
    # Another hub took the two held pages for a digest and died before queueing it.
    coordination = desk.store.coordination
    stored, version = await coordination.load_shared("paging:digest:wang")
    taken = PageDigest.from_json(stored).take(desk.now[0])
    assert await coordination.save_shared("paging:digest:wang", taken.to_json(), version=version)
    for _ in range(2):  # this hub's sweeps: queued once, then let go
        await desk.services.routing.sweep()
    sent = await page_mails(desk, tickets)
    assert len(sent) == 2 and f"#{tickets[1].number}" in sent[1] and f"#{tickets[2].number}" in sent[1]
    assert PageDigest.from_json((await coordination.load_shared("paging:digest:wang"))[0]).sending == ()


def test_sla_pages_name_their_clock_and_ticket() -> None:
    from hub.thread_events import ThreadEvent

    said = {
        clock: ThreadEvent(
            "event.backup_paged.sla", {"agent": "Chen", "team": "CS", "number": "1000", "clock": clock}
        ).text(language)
        for clock in ("first_response", "resolution")
        for language in ("en",)
    }
    assert said["first_response"] != said["resolution"]
    assert "first response" in said["first_response"] and "#1000" in said["resolution"]
    zh = ThreadEvent("event.backup_paged.sla", {"agent": "陈", "number": "1000", "clock": "resolution"}).text("zh-CN")
    assert "#1000" in zh


async def test_a_sweep_never_routes_a_ticket_moved_or_given_away_since_its_queue_was_read(desk: Desk) -> None:
    """The sweep reads a team's queue, then routes its tickets one by one: one an agent moved to
    another team meanwhile was given to a customer-service agent (a trial's finance ticket
    went to Li Na), and one given to somebody by hand was given again."""
    await desk.online("li", "wang")
    moved, given = await desk.ticket(customer="c1"), await desk.ticket(customer="c2")
    queued = [moved, given]  # the sweep's copies
    await desk.services.conversations.update_conversation(moved, {"team": "finance"})
    await desk.services.conversations.update_conversation(given, {"assignee_id": "zhao"})
    await desk.services.routing._route_all(TEAM, queued)
    assert await desk.assignee(moved) == ""
    after = await desk.store.tickets.get_conversation(moved.id)
    assert after is not None and after.team == "finance"
    assert await desk.assignee(given) == "zhao"


async def test_routing_does_not_write_over_a_change_made_while_it_decided(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deciding takes several reads (the team's hours, settings, the last agent given one): a
    person who moves the ticket meanwhile keeps their change (a review)."""
    await desk.online("li", "wang")
    ticket = await desk.ticket(customer="c1")
    routing = desk.services.routing
    real_closed = routing.closed

    async def moved_while_deciding(team: str) -> bool:
        current = await desk.store.tickets.get_conversation(ticket.id)
        assert current is not None
        await desk.services.conversations.update_conversation(current, {"team": "finance"})
        return await real_closed(team)

    monkeypatch.setattr(routing, "closed", moved_while_deciding)
    await routing.route(ticket)
    after = await desk.store.tickets.get_conversation(ticket.id)
    assert after is not None and (after.team, after.assignee_id) == ("finance", "")
