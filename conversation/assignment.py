"""Who takes a ticket: agents' routing profiles, capacity and the choice of agent.

Pure decisions shared by every hub process and both store backends; the hub gathers the
facts (the roster, presence records, open tickets) and acts on the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from conversation.errors import InvalidInput
from conversation.model import Agent, Role

STRATEGIES = ("least-loaded", "round-robin")
MAIL_TYPES = frozenset({"email", "webhook"})
# Channels where the customer waits in the conversation now: only their tickets go back to the
# queue when the agent goes offline. An email, a platform webhook or a phone ticket (a call an
# agent logged, a callback they owe) stays with its agent.
LIVE_CHAT_TYPES = frozenset({"webchat", "telegram", "slack"})


def takes_tickets(agent: Agent) -> bool:
    """Whether routing may give this account tickets (or page it to take them): an active
    account whose role answers customers. A read-only account only reads, even when it is
    rostered on a shift (a trainee shadowing it); a deactivated one is gone."""
    return agent.active and agent.role is not Role.READ_ONLY


# -- the agent's routing profile -----------------------------------------------------------
@dataclass(frozen=True)
class AgentProfile:
    """An agent's routing settings: capacity, skills and how backup pages reach them."""

    agent_id: str
    capacity: float | None = None  # None: [routing] default_capacity
    languages: tuple[str, ...] = ()  # empty: any language
    channels: tuple[str, ...] = ()  # channel names; empty: any channel
    page_channel: str = ""  # the hub channel (email, Slack or Telegram) pages go out on; "" not paged
    page_address: str = ""  # their address there: email, Slack user id, Telegram chat id


def profile_from_input(agent_id: str, data: Mapping[str, Any], base: AgentProfile | None = None) -> AgentProfile:
    allowed = {"capacity", "languages", "channels", "page_channel", "page_address"}
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput(f"unknown profile field(s): {', '.join(sorted(unknown))}")
    current = profile_to_doc(base or AgentProfile(agent_id))
    current.update(data)
    capacity = current["capacity"]
    if capacity is not None and (
        not isinstance(capacity, int | float) or isinstance(capacity, bool) or not 0 <= capacity <= 1000
    ):
        raise InvalidInput("capacity: a number from 0 to 1000, or null for the hub's default")
    for key in ("languages", "channels"):
        value = current[key]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
            raise InvalidInput(f"{key}: a list of names")
    if bool(current["page_channel"]) != bool(current["page_address"]):
        raise InvalidInput("page_channel and page_address go together (both set, or both empty)")
    return AgentProfile(
        agent_id=agent_id,
        capacity=float(capacity) if capacity is not None else None,
        languages=tuple(v.strip() for v in current["languages"]),
        channels=tuple(v.strip() for v in current["channels"]),
        page_channel=str(current["page_channel"] or ""),
        page_address=str(current["page_address"] or ""),
    )


def profile_to_doc(profile: AgentProfile) -> dict[str, Any]:
    return {
        "agent_id": profile.agent_id,
        "capacity": profile.capacity,
        "languages": list(profile.languages),
        "channels": list(profile.channels),
        "page_channel": profile.page_channel,
        "page_address": profile.page_address,
    }


def profile_from_doc(doc: Mapping[str, Any]) -> AgentProfile:
    return AgentProfile(
        agent_id=str(doc["agent_id"]),
        capacity=doc.get("capacity"),
        languages=tuple(doc.get("languages", ())),
        channels=tuple(doc.get("channels", ())),
        page_channel=doc.get("page_channel", ""),
        page_address=doc.get("page_address", ""),
    )


# -- capacity ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Weights:
    """How much one open ticket weighs by channel type: a chat needs the agent now, an email can wait."""

    chat: float = 1.0
    mail: float = 0.25

    def of(self, channel_type: str) -> float:
        return self.mail if channel_type in MAIL_TYPES else self.chat


def load(open_tickets: Iterable[str], weights: Weights) -> float:
    """An agent's load: their open tickets' channel types, each by its weight."""
    return sum(weights.of(kind) for kind in open_tickets)


# -- choosing an agent -------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    agent_id: str
    on_shift: bool
    backup_called: bool = False  # on backup duty and paged in
    on_backup: bool = False  # on backup duty now, paged in or not (the board shows who could be called)
    on_leave: bool = False  # on leave today (the team's local day)
    presence: str = "offline"
    load: float = 0.0
    capacity: float = 0.0
    languages: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Need:
    """What the ticket asks of its agent."""

    channel: str  # the channel's name (skills name channels)
    channel_type: str  # its adapter type (weights)
    language: str = ""  # the customer's, "" unknown
    previous_agent: str = ""  # who handled the customer's previous ticket


@dataclass(frozen=True)
class Decision:
    agent_id: str  # "" nobody qualifies
    reason: str  # sticky, least-loaded, round-robin, backup (a paged backup), or why nobody


def _speaks(candidate: Candidate, language: str) -> bool:
    if not candidate.languages or not language:
        return True
    base = language.split("-")[0].lower()
    return any(lang.lower() == language.lower() or lang.split("-")[0].lower() == base for lang in candidate.languages)


def qualifies(candidate: Candidate, need: Need, weights: Weights) -> bool:
    """On shift (or paged-in backup), online, with room for this ticket, and its skills."""
    return (
        (candidate.on_shift or candidate.backup_called)
        and candidate.presence == "online"
        and candidate.load + weights.of(need.channel_type) <= candidate.capacity
        and (not candidate.channels or need.channel in candidate.channels)
        and _speaks(candidate, need.language)
    )


def choose_agent(
    need: Need, candidates: Sequence[Candidate], weights: Weights, *, strategy: str = "least-loaded", after: str = ""
) -> Decision:
    """The agent for a ticket: the customer's previous agent when they qualify, else the
    least-loaded (by share of capacity, then by id) or the next after `after` in id order
    (round-robin). Nobody when nobody qualifies: never someone off shift."""
    if strategy not in STRATEGIES:
        raise InvalidInput(f"strategy: one of {', '.join(STRATEGIES)}")
    able = sorted((c for c in candidates if qualifies(c, need, weights)), key=lambda c: c.agent_id)
    if not able:
        return Decision("", _nobody_reason(candidates))
    if need.previous_agent and any(c.agent_id == need.previous_agent for c in able):
        return Decision(need.previous_agent, "sticky")
    if strategy == "round-robin":
        following = [c for c in able if c.agent_id > after]
        return _as_backup(Decision((following or able)[0].agent_id, "round-robin"), able)
    best = min(able, key=lambda c: (c.load / c.capacity if c.capacity else float("inf"), c.load, c.agent_id))
    return _as_backup(Decision(best.agent_id, "least-loaded"), able)


def _as_backup(decision: Decision, able: Sequence[Candidate]) -> Decision:
    """A paged backup agent who is not on shift was chosen as backup, not as the least-loaded
    of the shift: the thread says so ("backup")."""
    chosen = next(c for c in able if c.agent_id == decision.agent_id)
    return replace(decision, reason="backup") if chosen.backup_called and not chosen.on_shift else decision


def _nobody_reason(candidates: Sequence[Candidate]) -> str:
    working = [c for c in candidates if c.on_shift or c.backup_called]
    if not working:
        return "nobody on shift"
    if not any(c.presence == "online" for c in working):
        return "nobody on shift is online"
    return "everyone on shift is at capacity or lacks the skills"


def requeued_when_offline(channel_type: str) -> bool:
    """Whether a ticket of this channel type goes back to the queue when its agent goes offline."""
    return channel_type in LIVE_CHAT_TYPES


def reassign_due(offline_at: datetime | None, now: datetime, grace: timedelta) -> bool:
    """An offline agent's open chats go back to the queue once the grace period has passed."""
    return offline_at is not None and now - offline_at >= grace
