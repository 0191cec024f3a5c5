"""Service quality: CSAT surveys, QA scorecards and reviews, and their figures per group."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from conversation.quality import Candidate, Figure, Review, Scorecard, Survey


class Quality(ABC):
    # -- CSAT ------------------------------------------------------------------------------------
    @abstractmethod
    async def add_survey(self, survey: Survey) -> bool:
        """Store a ticket's survey; False (nothing written) when the ticket has one already."""

    @abstractmethod
    async def get_survey(self, conversation_id: str) -> Survey | None: ...

    @abstractmethod
    async def save_survey(self, survey: Survey) -> None:
        """Replace a stored survey (its answer or comment)."""

    @abstractmethod
    async def latest_survey(self, contact_id: str) -> Survey | None:
        """The contact's most recently asked survey, on any ticket."""

    @abstractmethod
    async def csat_figures(
        self, since: datetime, until: datetime, *, by: str = "", teams: Sequence[str] | None = None
    ) -> list[Figure]:
        """Average score and count of the ratings given in [since, until), per `by` (one of
        quality.GROUPS; "" one figure for all), computed by the database; groups by key.
        `teams`: only the ratings of tickets of these teams (None: every team)."""

    # -- QA ----------------------------------------------------------------------------------------
    @abstractmethod
    async def save_scorecard(self, card: Scorecard) -> None: ...

    @abstractmethod
    async def get_scorecard(self, card_id: str) -> Scorecard | None: ...

    @abstractmethod
    async def list_scorecards(self) -> list[Scorecard]:
        """By name."""

    @abstractmethod
    async def add_review(self, review: Review) -> bool:
        """False (nothing written) when this reviewer reviewed this ticket on this scorecard already."""

    @abstractmethod
    async def list_reviews(
        self, *, conversation_id: str = "", agent_id: str = "", reviewer_id: str = "", limit: int = 200
    ) -> list[Review]:
        """Newest first, narrowed by whichever of the filters are given."""

    @abstractmethod
    async def qa_figures(
        self, since: datetime, until: datetime, *, by: str = "", teams: Sequence[str] | None = None
    ) -> list[Figure]:
        """Average review score (0-100) and count of the reviews made in [since, until), per `by`;
        `teams` as for csat_figures."""

    @abstractmethod
    async def review_candidates(self, since: datetime, until: datetime, *, limit: int = 5000) -> list[Candidate]:
        """Tickets resolved (or closed) in [since, until) with an assignee, with their CSAT
        score if rated (the SLA breach flag is the caller's: it lives in the SLA state)."""
