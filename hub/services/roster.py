"""Rosters, routing profiles and presence: every change is validated here, stored, and published;
an admin's change to a roster, its settings or a routing profile is audited (presence is not:
it is each agent's own state).

Presence lives in the store, so every hub process sees the same agents online: each
process records the inboxes open in it (with a heartbeat that expires) under its own
socket key, and an agent's last action and own choice beside them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from conversation.assignment import AgentProfile, profile_from_input, profile_to_doc
from conversation.business_time import open_spans
from conversation.errors import InvalidInput
from conversation.model import new_id, utcnow
from conversation.presence import PresenceRecord, PresenceRules, check_presence_status, presence_of
from conversation.roster import (
    SHIFT_KINDS,
    WEEKDAYS,
    CsvLineError,
    Duty,
    Gap,
    RosterEntry,
    TeamRoster,
    check_swaps,
    coverage_gaps,
    entry_from_input,
    entry_to_doc,
    expand,
    has_shifts,
    joining_members,
    read_csv,
    team_roster_from_input,
    team_roster_to_doc,
    write_csv,
)
from conversation.store import NotFound, Store
from hub.events import Event, EventBus
from hub.services import audit
from hub.services.desk import DeskService

MAX_RANGE = timedelta(days=62)  # the longest span one roster request expands
MAX_COVERAGE_DAYS = 62


def socket_key(instance_id: str) -> str:
    """A hub process's key in the presence record (letters and digits: safe as a MongoDB field name)."""
    return hashlib.sha256(instance_id.encode()).hexdigest()[:16]


class RosterService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        clock: Callable[[], datetime] = utcnow,
        timezone: str = "UTC",
        presence_ttl: timedelta = timedelta(seconds=60),
        rules: PresenceRules | None = None,
        page_channels: frozenset[str] = frozenset(),
        desk: DeskService | None = None,
    ) -> None:
        self.store = store
        self.desk = desk or DeskService(store, bus)  # an agent put on a roster joins the team through it
        self.bus = bus
        self.clock = clock
        self.timezone = timezone  # a team whose roster settings name no time zone
        self.presence_ttl = presence_ttl
        self.rules = rules or PresenceRules()
        self.page_channels = page_channels  # the hub's email, Slack and Telegram channels

    def _published(self, kind: str, **data: Any) -> None:
        self.bus.publish(Event(kind, "", data))  # not about one ticket: the inbox reloads what it shows

    async def _roster_changed(
        self,
        action: str,
        target: tuple[str, str],
        team: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        await audit.record(self.store, f"roster.{action}", target[0], target[1], before=before, after=after)
        self._published("roster.updated", team=team)

    # -- team settings ------------------------------------------------------------------------
    async def _team(self, team: str) -> None:
        if await self.store.desk.get_team(team) is None:
            raise NotFound(f"team {team}")

    async def team_settings(self, team: str) -> TeamRoster:
        """The team's roster settings. Its time zone has one source: the team calendar's zone
        when the team has a calendar, else the roster's own setting, else [routing] timezone."""
        await self._team(team)
        settings = await self.store.roster.get_team_roster(team) or TeamRoster(team, timezone=self.timezone)
        calendar = await self.store.calendars.get_calendar(team)
        return replace(settings, timezone=calendar.timezone) if calendar is not None else settings

    async def update_team_settings(self, team: str, data: dict[str, Any]) -> TeamRoster:
        current = await self.team_settings(team)
        zone_changed = "timezone" in data and data["timezone"] != current.timezone
        if zone_changed and await self.store.calendars.get_calendar(team) is not None:
            raise InvalidInput(
                f"timezone: team {team} has a calendar in {current.timezone}; change the calendar's time zone"
            )
        settings = team_roster_from_input(team, data, current)
        await self.store.roster.save_team_roster(settings)
        await self._roster_changed(
            "settings_update", ("team", team), team, team_roster_to_doc(current), team_roster_to_doc(settings)
        )
        return settings

    # -- entries --------------------------------------------------------------------------------
    async def _checked(self, entry: RosterEntry, others: list[RosterEntry]) -> RosterEntry:
        await self._team(entry.team)
        agents = {a.id for a in await self.store.accounts.list_agents()}
        unknown = [a for a in (*entry.agents, *([entry.replaces] if entry.replaces else [])) if a not in agents]
        if unknown:
            raise InvalidInput(f"agents: no agent with id {', '.join(unknown)}")
        check_swaps([*others, entry])
        return entry

    async def create_entry(self, team: str, data: dict[str, Any]) -> RosterEntry:
        entry = entry_from_input(data, entry_id=new_id(), team=team)
        await self._checked(entry, await self.store.roster.list_entries(team))
        await self.store.roster.save_entry(entry)
        await self._join_team(entry)
        await self._roster_changed("entry_create", ("roster_entry", entry.id), team, after=entry_to_doc(entry))
        return entry

    async def _join_team(self, entry: RosterEntry) -> None:
        """Agents the entry puts on duty become members of its team, so they see the tickets
        routed to them (conversation/roster.joining_members)."""
        team = await self.store.desk.get_team(entry.team)
        for agent_id in joining_members(entry, team.members if team else ()):
            await self.desk.add_member(entry.team, agent_id)

    async def update_entry(self, entry_id: str, changes: dict[str, Any]) -> RosterEntry:
        old = await self.store.roster.get_entry(entry_id)
        if old is None:
            raise NotFound(f"roster entry {entry_id}")
        current = {**entry_to_doc(old), "weekdays": [WEEKDAYS[d] for d in old.weekdays]}
        merged = {
            k: v for k, v in {**current, **changes}.items() if k not in ("id", "team") and v not in (None, "", [])
        }
        entry = entry_from_input(merged, entry_id=entry_id, team=old.team)
        others = [e for e in await self.store.roster.list_entries(old.team) if e.id != entry_id]
        await self._checked(entry, others)  # with the swaps that name this pattern: they still hold
        await self.store.roster.save_entry(entry)
        await self._join_team(entry)
        await self._roster_changed(
            "entry_update", ("roster_entry", entry_id), old.team, entry_to_doc(old), entry_to_doc(entry)
        )
        return entry

    async def delete_entry(self, entry_id: str) -> None:
        old = await self.store.roster.get_entry(entry_id)
        if old is None:
            raise NotFound(f"roster entry {entry_id}")
        users = [
            e.id for e in await self.store.roster.list_entries(old.team) if e.kind == "swap" and e.pattern == entry_id
        ]
        if users:
            raise InvalidInput(f"swaps {', '.join(users)} name this pattern: delete them first")
        await self.store.roster.delete_entry(entry_id)
        await self._roster_changed("entry_delete", ("roster_entry", entry_id), old.team, before=entry_to_doc(old))

    # -- reading the roster ----------------------------------------------------------------------
    async def duties(self, team: str, start: datetime, end: datetime) -> list[Duty]:
        if end <= start or end - start > MAX_RANGE:
            raise InvalidInput(f"to must come after from, at most {MAX_RANGE.days} days later")
        settings = await self.team_settings(team)
        return expand(await self.store.roster.list_entries(team), settings.timezone, start, end)

    async def coverage(self, team: str, days: int) -> tuple[TeamRoster, list[Gap] | None]:
        """The team's settings and the coming hours short of `min_on_shift`; None for a team
        without shifts (no entries, or only leave): it has no shift model (its online members are always on),
        so no hour of it is short (a trial read every hour of such a team as uncovered)."""
        if not 1 <= days <= MAX_COVERAGE_DAYS:
            raise InvalidInput(f"days: 1 to {MAX_COVERAGE_DAYS}")
        settings = await self.team_settings(team)
        entries = await self.store.roster.list_entries(team)
        if not has_shifts(entries):
            return settings, None
        now, hours = self.clock(), days * 24
        calendar = await self.store.calendars.get_calendar(team)  # its closed hours need nobody
        spans = open_spans(calendar, now - timedelta(hours=1), now + timedelta(hours=hours + 1)) if calendar else None
        return settings, coverage_gaps(entries, settings.timezone, settings.min_on_shift, now, hours, spans)

    # -- CSV -----------------------------------------------------------------------------------------
    async def export_csv(self, team: str) -> str:
        await self._team(team)
        emails = {a.id: a.email for a in await self.store.accounts.list_agents()}
        return write_csv(await self.store.roster.list_entries(team), emails)

    async def import_csv(self, team: str, text: str) -> list[RosterEntry]:
        """The team's roster becomes the file's, all or nothing; an error names its line."""
        await self._team(team)
        by_email = {a.email.lower(): a.id for a in await self.store.accounts.list_agents()}
        by_id = set(by_email.values())
        entries: list[RosterEntry] = []
        patterns: dict[str, str] = {}  # label (or id) -> id, for swaps further down
        for line, values in read_csv(text).rows:
            try:
                named = [a for a in re.split(r"[\s;,]+", values["agents"]) if a]
                values = {**values, "agents": [self._agent(a, by_email, by_id) for a in named]}
                if values.get("replaces"):
                    values["replaces"] = self._agent(values["replaces"], by_email, by_id)
                if values.get("pattern"):
                    values["pattern"] = patterns.get(values["pattern"], values["pattern"])
                entry = entry_from_input(values, entry_id=new_id(), team=team)
                check_swaps([*entries, entry])
            except (InvalidInput, KeyError) as exc:
                reason = str(exc) if isinstance(exc, InvalidInput) else "agents: name at least one agent"
                raise CsvLineError(line, reason) from None
            if entry.kind == "pattern":
                patterns[entry.label or entry.id] = entry.id
            entries.append(entry)
        before = await self.store.roster.list_entries(team)
        await self.store.roster.replace_team_entries(team, entries)
        for entry in entries:
            await self._join_team(entry)
        await self._roster_changed("import", ("team", team), team, {"entries": len(before)}, {"entries": len(entries)})
        return entries

    @staticmethod
    def _agent(word: str, by_email: dict[str, str], by_id: set[str]) -> str:
        if word in by_id:
            return word
        if word.lower() in by_email:
            return by_email[word.lower()]
        raise InvalidInput(f"agents: no agent {word!r}")

    # -- routing profiles --------------------------------------------------------------------------
    async def profile(self, agent_id: str) -> AgentProfile:
        if await self.store.accounts.get_agent(agent_id) is None:
            raise NotFound(f"agent {agent_id}")
        return await self.store.roster.get_profile(agent_id) or AgentProfile(agent_id)

    async def update_profile(self, agent_id: str, data: dict[str, Any]) -> AgentProfile:
        before = await self.profile(agent_id)
        profile = profile_from_input(agent_id, data, before)
        if profile.page_channel and profile.page_channel not in self.page_channels:
            known = ", ".join(sorted(self.page_channels)) or "none in this hub"
            raise InvalidInput(f"page_channel: pages go out by email, Slack or Telegram ({known})")
        await self.store.roster.save_profile(profile)
        await audit.record(
            self.store,
            "roster.profile_update",
            "agent",
            agent_id,
            before=profile_to_doc(before),
            after=profile_to_doc(profile),
        )
        return profile

    # -- presence --------------------------------------------------------------------------------------
    async def presence(self) -> dict[str, str]:
        """Every agent with a presence record: online, away or offline now."""
        now = self.clock()
        return {r.agent_id: presence_of(r, now, self.rules) for r in await self.store.roster.list_presence()}

    async def state_of(self, agent_id: str) -> tuple[str, PresenceRecord | None]:
        record = await self.store.roster.get_presence(agent_id)
        return presence_of(record, self.clock(), self.rules), record

    async def set_status(self, agent_id: str, status: str) -> str:
        """The agent's own choice; the answer is their presence now (offline without an open inbox)."""
        checked = check_presence_status(status)
        return await self._changing(
            agent_id, lambda: self.store.roster.set_presence_status(agent_id, checked, now=self.clock())
        )

    async def socket_heartbeat(self, agent_id: str, instance_id: str, *, opened: bool = False) -> None:
        """An open inbox in this process: it counts until the next heartbeat is overdue.
        Opening it is an action (the agent is at the screen)."""
        now = self.clock()
        await self._changing(
            agent_id,
            lambda: self.store.roster.touch_presence(
                agent_id,
                socket=socket_key(instance_id),
                until=now + self.presence_ttl,
                action_at=now if opened else None,
            ),
        )

    async def socket_closed(self, agent_id: str, instance_id: str) -> None:
        """The last inbox of the agent in this process closed. The socket is kept, expiring
        now, rather than dropped: the offline grace period ([routing] offline_grace_seconds)
        counts from this moment, not from the agent's last action minutes ago (which would
        put their chats back in the queue at once, on a mere reload)."""
        now = self.clock()
        await self._changing(
            agent_id,
            lambda: self.store.roster.touch_presence(agent_id, socket=socket_key(instance_id), until=now),
        )

    async def activity(self, agent_id: str) -> str:
        return await self._changing(
            agent_id, lambda: self.store.roster.touch_presence(agent_id, action_at=self.clock())
        )

    async def _changing(self, agent_id: str, change: Callable[[], Awaitable[object]]) -> str:
        """Make the change; when the agent's presence moved (online, away, offline), say so live:
        an agent coming online pulls from the queue (hub/routing_loop.py)."""
        before, _ = await self.state_of(agent_id)
        await change()
        after, _ = await self.state_of(agent_id)
        if after != before:
            self._published("presence.changed", agent_id=agent_id, presence=after)
        return after


def entry_json(entry: RosterEntry) -> dict[str, Any]:
    """An entry as the API gives it; leave and swaps have no duty of their own (a trial read
    leave as "duty": "shift"): null."""
    doc = entry_to_doc(entry)
    return doc if entry.kind in SHIFT_KINDS else {**doc, "duty": None}


def duty_json(duty: Duty) -> dict[str, Any]:
    return {
        "agent_id": duty.agent,
        "duty": duty.duty,
        "label": duty.label,
        "entry_id": duty.entry,
        "start": duty.start.isoformat(),
        "end": duty.end.isoformat(),
    }


def team_roster_json(settings: TeamRoster) -> dict[str, Any]:
    return team_roster_to_doc(settings)
