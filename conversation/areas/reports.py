"""Reports: per-ticket facts (business-time durations kept when a clock stops) and the
figures computed from them and from tickets and messages by the database itself (SQL on
SQLite, aggregation pipelines on MongoDB). The rules are conversation/reports.py."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime

from conversation.reports import ReportQuery, TicketFact


@dataclass(frozen=True)
class TimeFigures:
    """Percentiles (nearest rank, seconds of business time) and the counts behind the rates."""

    first_response_p50_s: float | None = None
    first_response_p90_s: float | None = None
    first_responses: int = 0
    resolution_p50_s: float | None = None
    resolution_p90_s: float | None = None
    resolved: int = 0  # tickets whose latest resolution is in the period
    sla_counted: int = 0  # of those, tickets under an SLA policy
    sla_met: int = 0
    first_resolved: int = 0  # tickets first resolved in the period
    reopened: int = 0  # of those, tickets reopened since


@dataclass(frozen=True)
class AgentFigures:
    agent_id: str
    tickets_handled: int = 0  # tickets the agent replied in during the period
    replies: int = 0
    first_response_p50_s: float | None = None
    resolution_p50_s: float | None = None
    resolved: int = 0


@dataclass(frozen=True)
class Backlog:
    """Tickets open at the period's end, by age at that moment (labels of conversation.reports.BACKLOG_AGES)."""

    total: int = 0
    by_age: dict[str, int] = field(default_factory=dict)


class Reports(ABC):
    @abstractmethod
    async def get_fact(self, conversation_id: str) -> TicketFact | None: ...

    @abstractmethod
    async def save_fact(self, fact: TicketFact) -> None:
        """Create or replace the ticket's fact."""

    @abstractmethod
    async def volume_buckets(self, query: ReportQuery) -> list[tuple[datetime, int]]:
        """Tickets created in the period (merged ones left out), counted per 15-minute UTC bucket."""

    @abstractmethod
    async def time_figures(self, query: ReportQuery) -> TimeFigures: ...

    @abstractmethod
    async def backlog(self, query: ReportQuery) -> Backlog: ...

    @abstractmethod
    async def agent_figures(self, query: ReportQuery) -> list[AgentFigures]:
        """One row per agent who replied, first responded or resolved in the period, by agent id."""

    # -- figures other parts keep: the one place the reports read them ----------------------------
    @abstractmethod
    async def quality_figures(self, query: ReportQuery) -> QualityFigures:
        """CSAT average and count, QA average, the bot's deflection rate; None where there is no data."""

    @abstractmethod
    async def csat_by_agent(self, query: ReportQuery) -> dict[str, float]:
        """Average CSAT rating per agent id (agents without ratings left out)."""


@dataclass(frozen=True)
class QualityFigures:
    """CSAT, QA and the bot's deflection for a report's period and filters (None: no data).

    deflection_rate: of the tickets the FAQ bot answered in the period, the share it closed
    without a person (an `answer` record whose outcome is deflected)."""

    csat_average: float | None = None
    csat_responses: int = 0
    qa_average: float | None = None
    deflection_rate: float | None = None
