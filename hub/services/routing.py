"""Routing: who takes a ticket, the queue agents pull from, offline requeues and backup pages.

The decisions are the pure functions of conversation/assignment.py and conversation/roster.py;
this gathers their facts (the roster, presence, open tickets) and acts through the
conversation service, so every change leaves its event in the thread and goes out live.
Only the hub holding the `routing` lease routes, so two processes never give one
ticket to two agents; the others leave it to the holder's next sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from conversation.assignment import (
    Candidate,
    Decision,
    Need,
    Weights,
    choose_agent,
    load,
    qualifies,
    reassign_due,
    requeued_when_offline,
    takes_tickets,
)
from conversation.business_time import is_open
from conversation.model import (
    AuthorType,
    Conversation,
    ConversationQuery,
    Delivery,
    Direction,
    Message,
    MessageKind,
    Status,
    new_id,
)
from conversation.paging import (
    Page,
    PageDigest,
    PageReason,
    Queue,
    backups_to_page,
    page_held,
    page_id,
    page_reason,
    release_backup,
)
from conversation.presence import PresenceRules, offline_since, presence_of
from conversation.roster import has_shifts, on_duty_at, on_leave_at, team_people
from conversation.store import Store, StoreUnavailable
from hub.i18n import available_locales, hub_texts
from hub.services.conversations import ConversationService
from hub.services.roster import RosterService
from hub.thread_events import ThreadEvent, name_in

log = logging.getLogger(__name__)

LEASE = "routing"
QUEUE_LIMIT = 1000  # tickets one sweep looks at per team
OPEN_LIMIT = 200  # open tickets counted per agent
CLOSED = "team closed"  # the decision for a ticket whose team's calendar is closed now
DIGEST_KEY = "paging:digest:{agent}"  # a person's pages held for their next digest
DIGEST_INDEX = "paging:digests"  # who has (or had) pages held
CAS_ATTEMPTS = 20  # reads and compare-and-set writes of one shared value before giving up


@dataclass(frozen=True)
class RoutingRules:
    strategy: str = "least-loaded"
    default_team: str = ""
    default_capacity: float = 4.0
    weights: Weights = field(default_factory=Weights)
    offline_grace: timedelta = timedelta(minutes=2)
    lease: timedelta = timedelta(seconds=60)
    page_coalesce: timedelta = timedelta(minutes=5)  # pages to one person within this go out as one digest
    inbox_url: str = ""  # the inbox's address ([hub] public_url); page mails link to the ticket in it; "" none


class RoutingService:
    def __init__(
        self,
        store: Store,
        actions: ConversationService,
        roster: RosterService,
        *,
        rules: RoutingRules,
        channel_types: Mapping[str, str],
        owner: str,
    ) -> None:
        self.store = store
        self.actions = actions
        self.roster = roster
        self.rules = rules
        self.channel_types = dict(channel_types)  # channel name -> adapter (email, webchat...)
        self.owner = owner
        self._turn = asyncio.Lock()

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.actions.clock  # one clock (tests move it)

    @property
    def presence_rules(self) -> PresenceRules:
        return self.roster.rules

    async def _hold_lease(self) -> bool:
        return await self.store.coordination.acquire_lease(LEASE, self.owner, now=self.clock(), ttl=self.rules.lease)

    # -- facts -----------------------------------------------------------------------------------
    async def team_of(self, conversation: Conversation) -> str:
        return await self.actions.expected_team(conversation, default_team=self.rules.default_team)

    def _type(self, channel: str) -> str:
        return self.channel_types.get(channel, channel)

    async def _open_load(self, agent_id: str) -> float:
        tickets, _ = await self.store.inbox.list_conversations(
            ConversationQuery(status=Status.OPEN, assignee_id=agent_id, limit=OPEN_LIMIT)
        )
        return load((self._type(t.channel) for t in tickets), self.rules.weights)

    async def candidates(self, team: str) -> list[Candidate]:
        """The team's members and everyone on its roster, with what routing needs to know now."""
        now = self.clock()
        settings = await self.roster.team_settings(team)
        entries = await self.store.roster.list_entries(team)
        on_shift = set(on_duty_at(entries, settings.timezone, now, "shift"))
        paged = {p.agent_id for p in await self.store.roster.list_pages(team, active_only=True)}
        on_backup = set(on_duty_at(entries, settings.timezone, now, "backup"))
        backup = on_backup & paged
        found = await self.store.desk.get_team(team)
        members = team_people(found.members if found else (), entries)
        away = on_leave_at(entries, settings.timezone, now)
        if not has_shifts(entries):  # no shift model: its members are always on, but for their leave
            on_shift = set(members) - away
        presence = {r.agent_id: r for r in await self.store.roster.list_presence()}
        profiles = {p.agent_id: p for p in await self.store.roster.list_profiles()}
        result = []
        for agent_id in sorted(members & await self._takers()):
            profile = profiles.get(agent_id)
            capacity = profile.capacity if profile and profile.capacity is not None else self.rules.default_capacity
            result.append(
                Candidate(
                    agent_id,
                    on_shift=agent_id in on_shift,
                    backup_called=agent_id in backup,
                    on_backup=agent_id in on_backup,
                    on_leave=agent_id in away,
                    presence=presence_of(presence.get(agent_id), now, self.presence_rules),
                    load=await self._open_load(agent_id) if agent_id in on_shift | backup else 0.0,
                    capacity=capacity,
                    languages=profile.languages if profile else (),
                    channels=profile.channels if profile else (),
                )
            )
        return result

    async def _takers(self) -> set[str]:
        """The accounts that may be given tickets: rostered read-only or deactivated ones are not."""
        return {a.id for a in await self.store.accounts.list_agents() if takes_tickets(a)}

    async def _need(self, conversation: Conversation) -> Need:
        contact = await self.store.contacts.get_contact(conversation.contact_id)
        previous = ""
        tickets, _ = await self.store.inbox.list_conversations(
            ConversationQuery(contact_id=conversation.contact_id, include_merged=True, limit=20)
        )
        for ticket in tickets:  # newest first: the agent of the customer's latest other ticket
            if ticket.id != conversation.id and ticket.assignee_id:
                previous = ticket.assignee_id
                break
        return Need(
            channel=conversation.channel,
            channel_type=self._type(conversation.channel),
            language=contact.language if contact else "",
            previous_agent=conversation.assignee_id or previous,  # a reopened ticket's own agent first
        )

    # -- routing a ticket --------------------------------------------------------------------------
    async def route(self, conversation: Conversation, *, reopened: bool = False) -> Decision | None:
        """Give an open ticket without an agent to one who qualifies (None: not this hub's turn,
        or nothing to do). A reopened ticket stays with its agent while they qualify; otherwise
        a ticket someone was given is left alone."""
        if not await self.team_of(conversation):
            return None  # no team to route to (the ticket waits for a category or an agent): no lock, no lease
        async with self._turn:  # one decision at a time in this process; the lease: in all of them
            fresh = await self.store.tickets.get_conversation(conversation.id)  # the sweep may have routed it
            if fresh is None or fresh.status is not Status.OPEN or fresh.merged_into:
                return None
            if fresh.assignee_id and not reopened:
                return None
            team = await self.team_of(fresh)
            if await self.store.desk.get_team(team) is None or not await self._hold_lease():
                return None
            return await self._route(fresh, (team, await self.candidates(team)))

    async def _route(self, conversation: Conversation, found: tuple[str, list[Candidate]]) -> Decision | None:
        team, candidates = found
        # Decided on the ticket as it is now: a sweep's queue was read before it routes its
        # tickets one by one, and meanwhile a person may have moved one to another team or
        # given it to someone (a ticket moved to finance was given to a customer-service agent).
        fresh = await self.store.tickets.get_conversation(conversation.id)
        if fresh is None or fresh.status is not Status.OPEN or fresh.merged_into or await self.team_of(fresh) != team:
            return None
        if fresh.assignee_id and fresh.assignee_id != conversation.assignee_id:
            return None  # given to someone since the queue was read
        conversation = fresh
        if team and conversation.team != team:
            # It waits in this team's queue: its SLA clocks (the team's calendar), the queue
            # metrics and who may see it follow the team, not "no team", agent or none.
            conversation = await self.actions.update_conversation(conversation, {"team": team})
            # a category set later may still move it, unless a person chose the team
            source = "category" if team != self.rules.default_team else "default"
            await self.actions.record_team_source(conversation, source)
        need = await self._need(conversation)
        if conversation.assignee_id:
            mine = next((c for c in candidates if c.agent_id == conversation.assignee_id), None)
            if mine is None:
                if conversation.assignee_id in await self._takers():
                    return None  # an agent outside the roster keeps what they were given by hand
            # Their own ticket already counts in their load: only shift and presence matter.
            elif qualifies(replace(mine, load=0.0, capacity=float("inf")), need, self.rules.weights):
                return None
        if not team or not candidates:
            return None
        if await self.closed(team):
            return Decision("", CLOSED)  # it waits for the team's next opening (the sweep routes it then)
        settings = await self.roster.team_settings(team)
        strategy = settings.strategy or self.rules.strategy
        after = str(await self.store.coordination.get_value(f"routing:last:{team}") or "")
        choice = choose_agent(need, candidates, self.rules.weights, strategy=strategy, after=after)
        if not choice.agent_id:
            if conversation.assignee_id:  # their agent left the shift or went offline: back to the queue
                await self._requeue(conversation)
            return choice
        changes = {"assignee_id": choice.agent_id, **({} if conversation.team == team else {"team": team})}
        # Looked at once more just before the write: deciding took several reads, and a person
        # may have moved or assigned the ticket meanwhile (the store has no conditional write).
        latest = await self.store.tickets.get_conversation(conversation.id)
        if latest is None or (latest.team, latest.assignee_id, latest.status) != (
            conversation.team,
            conversation.assignee_id,
            conversation.status,
        ):
            return None
        updated = await self.actions.update_conversation(conversation, changes)
        await self.store.coordination.set_value(f"routing:last:{team}", choice.agent_id)
        await self.actions.add_event(
            updated, "event.routed", agent=await self.name_of(choice.agent_id), how=choice.reason
        )
        return choice

    async def closed(self, team: str) -> bool:
        """Whether the team's calendar says it is closed now (a team without a calendar never is)."""
        calendar = await self.store.calendars.get_calendar(team)
        return calendar is not None and not is_open(calendar, self.clock())

    async def _requeue(self, conversation: Conversation) -> None:
        agent = await self.name_of(conversation.assignee_id)
        updated = await self.actions.update_conversation(conversation, {"assignee_id": ""})
        await self.actions.add_event(updated, "event.requeued", agent=agent)

    async def _team_name(self, team_id: str) -> str:
        """The team as the hub's language names it (the event's stored text, and its `team` parameter)."""
        return self._in_hub_language(await self._team_names(team_id), team_id)

    def _in_hub_language(self, names: Mapping[str, str], team_id: str) -> str:
        return names.get(self.actions.language) or next(iter(names.values()), team_id)

    async def _team_names(self, team_id: str) -> dict[str, str]:
        team = await self.store.desk.get_team(team_id)
        return dict(team.names) if team else {}

    async def _team_event(self, key: str, team_id: str, **params: str) -> ThreadEvent:
        """An event naming a team: each reader sees the team's name in their language (a
        Chinese inbox read "Customer service组" when only the hub's name was kept)."""
        names = await self._team_names(team_id)
        shown = {"team": self._in_hub_language(names, team_id), **params}
        return ThreadEvent(key, shown, names={"team": names} if names else {})

    async def name_of(self, agent_id: str) -> str:
        """An agent as the thread names them: their name, else their email (else the id)."""
        agent = await self.store.accounts.get_agent(agent_id)
        return (agent.name or agent.email) if agent else agent_id

    # -- the sweep ---------------------------------------------------------------------------------
    async def sweep(self) -> None:
        """One round, by the lease holder: requeue chats of agents offline past the grace period,
        give queued tickets to agents who qualify (agents who came online pull from the queue),
        page backup where the queue is too long or too old, release it where the queue drained."""
        async with self._turn:
            if not await self._hold_lease():
                return
            await self._requeue_offline()
            # The tickets without a team are looked at by every team's queue: read once a round
            # (up to QUEUE_LIMIT tickets), and again only after a team's queue was routed.
            unteamed: list[Conversation] | None = None
            await self.flush_page_digests()
            for team in await self.store.desk.list_teams():
                if unteamed is None:
                    unteamed = await self._unassigned("")
                if await self._sweep_team(team.id, unteamed):
                    unteamed = None

    async def page_for(self, conversation: Conversation, code: str, *, once: str = "", **params: str) -> list[Page]:
        """Page the backup of the ticket's team, with a reason code (and its figures) that the
        hub catalog says as `event.backup_paged.<code>`: e.g. `page_for(ticket, "sla")`.
        `once`: the key of a step a retry may repeat (an SLA breach): each page, its event and
        its message are made once for it."""
        team = await self.team_of(conversation)
        if not team:
            return []
        params = {"number": str(conversation.number), **({"clock": "sla"} if code == "sla" else {}), **params}
        async with self._turn:
            return await self._page_backup(team, PageReason(code, params), conversation, once, explain=True)

    async def _requeue_offline(self) -> None:
        now = self.clock()
        for record in await self.store.roster.list_presence():
            if not reassign_due(offline_since(record, now), now, self.rules.offline_grace):
                continue
            tickets, _ = await self.store.inbox.list_conversations(
                ConversationQuery(status=Status.OPEN, assignee_id=record.agent_id, limit=OPEN_LIMIT)
            )
            for ticket in tickets:
                if requeued_when_offline(self._type(ticket.channel)):  # live chats only
                    await self._requeue(ticket)

    async def queue(self, team: str, unteamed: list[Conversation] | None = None) -> list[Conversation]:
        """The team's open tickets without an agent, longest waiting first: those filed under
        the team, and those without a team that would go to it (by category, or `default_team`).
        `unteamed`: the open tickets without a team or agent, when the caller has just read them."""
        tickets = await self._unassigned(team)
        if unteamed is None:
            unteamed = await self._unassigned("")
        tickets += [t for t in unteamed if await self.team_of(t) == team]
        return sorted(tickets, key=lambda t: (waiting_since(t), t.number))

    async def _unassigned(self, team: str) -> list[Conversation]:
        tickets, _ = await self.store.inbox.list_conversations(
            ConversationQuery(status=Status.OPEN, team=team, assignee_id="", limit=QUEUE_LIMIT)
        )
        return tickets

    async def _sweep_team(self, team: str, unteamed: list[Conversation]) -> bool:
        """One team's part of a round; whether its queue was routed (tickets may have changed)."""
        waiting = await self.queue(team, unteamed)
        routed = bool(waiting)
        if waiting:
            await self._route_all(team, waiting)
            waiting = await self.queue(team)  # what is left (an empty queue is not read twice: up to 2,000 tickets)
        now = self.clock()
        queue = Queue(len(waiting), waiting_since(waiting[0]) if waiting else None)
        if release_backup(queue):
            for page in await self.store.roster.release_pages(team, now=now):
                log.info("backup %s released: the queue of team %s is empty", page.agent_id, team)
            return routed
        if await self.closed(team):
            return routed  # a closed team's queue waits for the opening: nobody is paged for it
        settings = await self.roster.team_settings(team)
        reason = page_reason(
            queue, now, threshold=settings.page_queue, max_wait=timedelta(minutes=settings.page_wait_minutes)
        )
        nobody_there = not any(c.on_shift and c.presence == "online" for c in await self.candidates(team))
        reason = reason or (PageReason("nobody", {}) if nobody_there else None)
        if reason is not None and not await self.store.roster.list_pages(team, active_only=True, limit=1):
            pages = await self._page_backup(team, reason, waiting[0])
            if pages:
                await self._route_all(team, waiting)  # the backup just called in takes what waits
            elif nobody_there:  # nobody on shift and no backup to call: the lead hears of it, once per ticket
                await self.tell_lead_event(waiting[0], "event.lead_nobody_there", once=f"nobody:{waiting[0].id}")
        return routed

    async def _route_all(self, team: str, waiting: list[Conversation]) -> None:
        candidates = await self.candidates(team)
        for ticket in waiting:
            choice = await self._route(ticket, (team, candidates))
            if choice is not None and choice.agent_id:
                candidates = await self.candidates(team)  # that agent's load changed
            elif choice is not None and (choice.reason.startswith("nobody") or choice.reason == CLOSED):
                return  # nobody is there: the rest of the queue waits too

    # -- backup paging ------------------------------------------------------------------------------
    async def page_backup(
        self, team: str, reason: PageReason, conversation: Conversation | None = None, *, once: str = ""
    ) -> list[Page]:
        """Call in the team's backup staff on duty now who are not paged yet: each page is logged
        with its reason (the page list, and an event in the ticket's thread), goes out to the
        agent through the outbox on their page channel, and makes them routable until the
        queue drains. This is the one call for anything that needs backup (SLA breaches too).
        Not under the routing lease: a page is never dropped (two processes paging at the same
        instant may page an agent twice)."""
        async with self._turn:
            return await self._page_backup(team, reason, conversation, once)

    async def tell_lead(self, conversation: Conversation, clock: str, *, once: str = "") -> bool:
        """A missed SLA target of the ticket's team is told to the team's lead (see `tell_lead_event`);
        without a lead the thread says nobody was told."""
        if await self.tell_lead_event(conversation, "event.sla_lead_told", once=once, clock=clock):
            return True
        if conversation.team:
            event = await self._team_event("event.no_lead", conversation.team)
        else:  # no team: no lead to tell and no backup to page (`page_for` pages nobody)
            event = ThreadEvent("event.no_team_to_tell", {})
        await self._thread_event(conversation, event, f"{once}:none" if once else "")
        return False

    async def tell_lead_event(self, conversation: Conversation, key: str, *, once: str = "", **params: str) -> bool:
        """Tell the ticket's team lead something (a missed SLA target, a low CSAT score): the
        thread event `key` naming them (`lead`), and the same words on their page channel when
        they have one. False when the team has no lead. `once`: the key of a step a retry may
        repeat (the event and the message are made once for it)."""
        team = await self.store.desk.get_team(conversation.team) if conversation.team else None
        if team is None or not team.lead:
            return False
        event = ThreadEvent(key, {"lead": await self.name_of(team.lead), **params})
        await self._thread_event(conversation, event, f"{once}:event" if once else "")
        profile = await self.store.roster.get_profile(team.lead)
        usable = profile is not None and profile.page_channel in self.channel_types
        where = (profile.page_channel, profile.page_address) if usable and profile is not None else None
        unreached = ThreadEvent("event.lead_no_page_channel", {"lead": event.params["lead"]})
        await self._page_or_say_unreached(conversation, event, team.lead, where, unreached, once)
        return True

    async def _page_or_say_unreached(
        self,
        conversation: Conversation,
        event: ThreadEvent,
        agent_id: str,
        where: tuple[str, str] | None,
        unreached: ThreadEvent,
        once: str,
    ) -> None:
        """The page to the agent on their page channel (`where`); without one the thread says it
        reached nobody (a trial read 已通知组长 of a lead nothing was sent to)."""
        if where is not None:
            await self._send_page(conversation, event, agent_id, where, once=f"{once}:note" if once else "")
        else:
            await self._thread_event(conversation, unreached, f"{once}:unreached" if once else "")

    async def _thread_event(self, conversation: Conversation, event: ThreadEvent, once: str) -> None:
        if once:
            await self.actions.add_thread_event_once(conversation, event, once)
        else:
            await self.actions.add_thread_event(conversation, event)

    async def _page_backup(
        self, team: str, reason: PageReason, conversation: Conversation | None, once: str = "", *, explain: bool = False
    ) -> list[Page]:
        """`explain`: when nobody new is paged, the ticket's thread says why (nobody on backup
        duty, or who was already paged and for which ticket): an SLA breach's thread says only
        what happened."""
        now = self.clock()
        settings = await self.roster.team_settings(team)
        on_duty = on_duty_at(await self.store.roster.list_entries(team), settings.timezone, now, "backup")
        takers = await self._takers()
        on_backup = [agent_id for agent_id in on_duty if agent_id in takers]  # paged to take tickets
        already = {p.agent_id for p in await self.store.roster.list_pages(team, active_only=True)}
        to_page, owner_left_out = backups_to_page(on_backup, already, conversation.assignee_id if conversation else "")
        if owner_left_out and conversation is not None:
            event = ThreadEvent("event.backup_not_paged_own", {"agent": await self.name_of(conversation.assignee_id)})
            await self._thread_event(conversation, event, f"{once}:own:event" if once else "")
        pages = []
        for agent_id in to_page:
            key = f"{once}:{agent_id}" if once else ""
            profile = await self.store.roster.get_profile(agent_id)
            channel = profile.page_channel if profile and profile.page_channel in self.channel_types else ""
            page = Page(
                page_id(key) if key else new_id(),
                team,
                agent_id,
                reason.code,
                dict(reason.params),
                now,
                channel,
                conversation.id if conversation else "",
            )
            name = await self.name_of(agent_id)
            event = await self._team_event(f"event.backup_paged.{reason.code}", team, agent=name, **reason.params)
            if conversation is not None:  # before the page is logged: a retry skips an agent logged as paged
                await self._thread_event(conversation, event, f"{key}:event" if key else "")
                where = (channel, profile.page_address) if channel and profile is not None else None
                unreached = ThreadEvent("event.backup_no_page_channel", {"agent": name})
                await self._page_or_say_unreached(conversation, event, agent_id, where, unreached, key)
            if await self.store.roster.add_page(page):
                pages.append(page)
                log.info("backup %s of team %s paged (%s %s)", agent_id, team, reason.code, dict(reason.params))
        if explain and not to_page and not owner_left_out and conversation is not None:
            why = await self._why_nobody_paged(team, conversation, [a for a in on_backup if a in already])
            if why is not None:
                await self._thread_event(conversation, why, f"{once}:nobody:event" if once else "")
        return pages

    async def _why_nobody_paged(self, team: str, conversation: Conversation, paged: list[str]) -> ThreadEvent | None:
        """None: the backup was paged for this very ticket (a step retried), as its thread says."""
        if not paged:
            return await self._team_event("event.backup_none_on_duty", team)
        active = [p for p in await self.store.roster.list_pages(team, active_only=True) if p.agent_id in paged]
        if any(p.conversation_id == conversation.id for p in active):
            return None
        numbers = []
        for page in active:
            ticket = await self.store.tickets.get_conversation(page.conversation_id) if page.conversation_id else None
            if ticket is not None and f"#{ticket.number}" not in numbers:
                numbers.append(f"#{ticket.number}")
        names = ", ".join([await self.name_of(agent_id) for agent_id in paged])
        return ThreadEvent("event.backup_already_paged", {"agents": names, "tickets": ", ".join(numbers) or "-"})

    async def _send_page(
        self, conversation: Conversation, event: ThreadEvent, agent_id: str, where: tuple[str, str], *, once: str = ""
    ) -> None:
        """A private note on the ticket, delivered to the agent (never the customer) by the outbox.
        Pages to one person within `page_coalesce` of their last one are held and go out
        together as one digest (`flush_page_digests`, run by the sweep)."""
        agent = await self.store.accounts.get_agent(agent_id)
        language = agent.language if agent and agent.language else self.actions.language
        texts = await self._page_texts(conversation, event, language)
        now = self.clock()
        key = DIGEST_KEY.format(agent=agent_id)
        coordination = self.store.coordination
        # Read, decide, write by compare-and-set: another hub paging this person at the same
        # instant makes the write fail, and the page is decided again on what that hub wrote.
        for _ in range(CAS_ATTEMPTS):
            stored, version = await coordination.load_shared(key)
            digest = PageDigest.from_json(stored)
            if page_held(digest.last_sent, now, self.rules.page_coalesce):
                held = digest.hold(once or new_id(), conversation.id, texts, where, language)
                await self._index_digest(agent_id)  # first: a held page is always in a flush's list
                if held is digest or await coordination.save_shared(key, held.to_json(), version=version):
                    return
            elif await coordination.save_shared(key, replace(digest, last_sent=now).to_json(), version=version):
                break
        else:  # never won in CAS_ATTEMPTS: a page not coalesced beats a page lost
            log.warning("pages to %s: the digest kept changing; this page goes out on its own", agent_id)
        await self._queue_page(conversation.id, texts, agent_id, where, language, once)

    async def _page_texts(self, conversation: Conversation, event: ThreadEvent, language: str) -> dict[str, str]:
        """A page's words in the paged person's `language` and in each language of the hub's
        catalogs (the note on the ticket is read by every agent in their own). A summary only:
        the customer's words never go to a personal address."""
        names = await self._team_names(conversation.team) if conversation.team else {}
        texts = {}
        for locale in dict.fromkeys((language, *available_locales())):
            summary = {
                "event": event.text(locale),
                "number": str(conversation.number),
                "team": name_in(names, locale) or conversation.team or "-",
                "priority": conversation.priority.value,
            }
            text = ThreadEvent("page.text", summary).text(locale)
            if self.rules.inbox_url:  # straight to the ticket (the inbox opens /inbox/#/tickets/<id>)
                text = f"{text}\n{self.rules.inbox_url}#/tickets/{conversation.id}"
            texts[locale] = text
        return texts

    async def _queue_page(
        self,
        conversation_id: str,
        texts: Mapping[str, str],
        agent_id: str,
        where: tuple[str, str],
        language: str,
        once: str,
    ) -> None:
        """`texts` by language: the message's text (the mail) is the paged person's `language`."""
        channel, address = where
        now = self.clock()
        message = Message(
            id=new_id(),
            conversation_id=conversation_id,
            channel=channel,
            direction=Direction.OUTBOUND,
            kind=MessageKind.NOTE,
            author_type=AuthorType.SYSTEM,
            text=texts[language],
            created_at=now,
            delivery=Delivery(next_attempt_at=now),
            customer_address=address,  # the agent's own address on the page channel
            # to the agent alone; `texts`: the note in each reader's language (api.serialize.shown_text)
            raw={"page": {"agent_id": agent_id, "language": language}, "cc": [], "texts": dict(texts)},
        )
        if once:
            await self.actions.queue_once(message, once)
        else:
            await self.actions.queue(message)

    async def _index_digest(self, agent_id: str) -> None:
        """Who has pages held (the flush's list); added to by compare-and-set, as hubs add at once."""
        for _ in range(CAS_ATTEMPTS):
            stored, version = await self.store.coordination.load_shared(DIGEST_INDEX)
            agents = list(stored.get("agents", []))
            if agent_id in agents:
                return
            if await self.store.coordination.save_shared(
                DIGEST_INDEX, {"agents": [*agents, agent_id]}, version=version
            ):
                return
        raise StoreUnavailable(f"the page digest index kept changing; {agent_id}'s held pages wait for the next page")

    async def flush_page_digests(self) -> None:
        """Send each person's held pages as one mail once their coalescing window has passed."""
        stored, _version = await self.store.coordination.load_shared(DIGEST_INDEX)
        for agent_id in stored.get("agents", []):
            await self._flush_digest(agent_id, self.clock())

    async def _flush_digest(self, agent_id: str, now: datetime) -> None:
        """Once across hubs and crashes: the held pages are taken by compare-and-set (one hub
        wins; a page held meanwhile makes it read again), then queued under a key of their own
        (queued once, whoever queues them), then let go."""
        key = DIGEST_KEY.format(agent=agent_id)
        coordination = self.store.coordination
        for _ in range(CAS_ATTEMPTS):
            stored, version = await coordination.load_shared(key)
            digest = PageDigest.from_json(stored)
            if digest.sending:
                await self._queue_digest(agent_id, digest)
                await coordination.save_shared(key, replace(digest, sending=()).to_json(), version=version)
            elif not digest.held or page_held(digest.last_sent, now, self.rules.page_coalesce):
                return
            else:
                await coordination.save_shared(key, digest.take(now).to_json(), version=version)
            # read again: queue what was just taken, or see what another hub wrote meanwhile

    async def _queue_digest(self, agent_id: str, digest: PageDigest) -> None:
        texts = {
            locale: hub_texts(locale).plural(
                "page.digest", len(digest.sending), lines="\n".join(f"- {line}" for line in digest.lines(locale))
            )
            for locale in dict.fromkeys((digest.language, *available_locales()))
        }
        first = digest.sending[0]
        once = f"digest:{agent_id}:{first['key']}"
        await self._queue_page(first["conversation_id"], texts, agent_id, digest.where, digest.language, once)


def waiting_since(conversation: Conversation) -> datetime:
    """Since when the customer has waited: the ticket's opening, or their latest message once answered."""
    if conversation.first_response_at is None:
        return conversation.created_at
    return conversation.last_inbound_at or conversation.created_at
