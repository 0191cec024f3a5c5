"""The live board: what a supervisor watches now, per team (queue, oldest wait, SLA) from the
open tickets and their SLA clocks. Pure: the API reads the tickets, the clocks and who is on
duty, and this says what they add up to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversation.model import Conversation

AT_RISK_PERCENT = 75.0  # a running clock this far through its target is shown as at risk (the inbox's amber)


@dataclass
class TeamLoad:
    """One team's open tickets now ("" : those without a team)."""

    team: str
    open: int = 0
    waiting: int = 0  # open and unassigned: the queue
    oldest_wait_seconds: float = 0.0  # the queue's longest wait since the customer last wrote
    breached: int = 0  # open tickets with a running SLA clock past its target
    at_risk: int = 0  # ... with one at AT_RISK_PERCENT or more, not yet past

    def as_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "open": self.open,
            "waiting": self.waiting,
            "oldest_wait_seconds": round(self.oldest_wait_seconds),
            "sla_breached": self.breached,
            "sla_at_risk": self.at_risk,
        }


def sla_state(view: Mapping[str, Any] | None) -> str:
    """ "breached", "at_risk" or "" for a ticket's `sla` view (its running clocks only)."""
    running = [c for c in (view or {}).get("clocks", []) if c.get("met") is None and not c.get("paused")]
    if any(c.get("breached") for c in running):
        return "breached"
    if any(c.get("percent", 0) >= AT_RISK_PERCENT for c in running):
        return "at_risk"
    return ""


def team_loads(
    tickets: Iterable[Conversation], sla: Mapping[str, Mapping[str, Any] | None], now: datetime, teams: Iterable[str]
) -> dict[str, TeamLoad]:
    """Open tickets added up per team; every team in `teams` is listed, with nothing open too."""
    loads = {team: TeamLoad(team) for team in teams}
    for ticket in tickets:
        load = loads.setdefault(ticket.team, TeamLoad(ticket.team))
        load.open += 1
        if not ticket.assignee_id:
            load.waiting += 1
            since = ticket.last_inbound_at or ticket.created_at
            load.oldest_wait_seconds = max(load.oldest_wait_seconds, (now - since).total_seconds())
        state = sla_state(sla.get(ticket.id))
        load.breached += state == "breached"
        load.at_risk += state == "at_risk"
    return loads
