"""Service quality: every change to a CSAT survey (asked, rated, commented) and to QA
(scorecards, reviews) goes through here, whoever makes it: the `csat` plugin, the status
page's rating links, an agent in the inbox, the API.

A survey's answer leaves an event in the ticket's thread and is published live
(`conversation.updated` with `csat`), so the sidebar shows it; a score of
quality.LOW_SCORE or less tells the team's lead the way a missed SLA target does
(RoutingService.tell_lead_event), once each time the score turns low. Scorecard changes
are audited; a review is scored by conversation/quality.review_score.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from conversation.errors import InvalidInput
from conversation.model import Conversation, new_id, utcnow
from conversation.quality import (
    Candidate,
    Disagreement,
    Review,
    Scorecard,
    Survey,
    check_reviewable,
    check_scores,
    commented,
    credited_agent,
    disagreement,
    new_survey,
    rated,
    review_score,
    scorecard_from_doc,
    scorecard_to_doc,
    weekly_sample,
)
from conversation.sla import BREACH, STATE_PLUGIN, SlaState
from conversation.store import NotFound, Store
from hub.events import Event, EventBus
from hub.services import audit
from hub.services.conversations import ConversationService
from hub.services.routing import RoutingService

log = logging.getLogger(__name__)

MAX_REVIEW_COMMENT = 4000
CSAT_CHANGE = "csat"  # in a conversation.updated event's `changes`


@dataclass(frozen=True)
class Calibration:
    """Several reviewers' reviews of one ticket on one scorecard, and where they disagree."""

    scorecard: Scorecard
    reviews: tuple[Review, ...]
    disagreements: tuple[Disagreement, ...]


class QualityService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        conversations: ConversationService,
        routing: RoutingService,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.bus = bus
        self.conversations = conversations
        self.routing = routing
        self.clock = clock

    # -- CSAT ---------------------------------------------------------------------------------------
    async def ask(self, ticket: Conversation, language: str, answer_for: timedelta | None = None) -> Survey | None:
        """Open the ticket's survey (answers count for `answer_for`); None when it has one
        already (a repeated timer asks once)."""
        survey = new_survey(ticket, self.clock(), language, answer_for, agent_id=await self._credited(ticket))
        if not await self.store.quality.add_survey(survey):
            return None
        await self.conversations.add_event(ticket, "event.csat_asked")
        return survey

    async def _credited(self, ticket: Conversation) -> str:
        """Whose the ticket's rating is (credited_agent), reading the report's resolver and the
        thread only for a ticket nobody is assigned."""
        if ticket.assignee_id:
            return ticket.assignee_id
        fact = await self.store.reports.get_fact(ticket.id)
        if fact is not None and fact.resolver_id:
            return fact.resolver_id
        return credited_agent(ticket, "", await self.store.tickets.list_messages(ticket.id))

    async def rate(self, survey: Survey, score: int, *, via: str) -> Survey:
        """Record the score (a later one replaces it); the thread says so, and a score that
        turns low tells the team lead."""
        was_low, before = survey.low, survey.score
        updated = rated(survey, score, self.clock(), via)
        await self.store.quality.save_survey(updated)
        if before == score:
            return updated  # the same answer again (a second click): nothing new to say
        ticket = await self.store.tickets.get_conversation(survey.conversation_id)
        if ticket is not None:
            await self.conversations.add_event(ticket, "event.csat_rated", score=str(score))
            if updated.low and not was_low:
                told = await self.routing.tell_lead_event(ticket, "event.csat_low_lead_told", score=str(score))
                if not told:
                    log.info("ticket %s rated %d; its team has no lead to tell", ticket.number, score)
        self._published(survey.conversation_id)
        return updated

    async def comment(self, survey: Survey, text: str) -> Survey:
        updated = commented(survey, text, self.clock())
        await self.store.quality.save_survey(updated)
        ticket = await self.store.tickets.get_conversation(survey.conversation_id)
        if ticket is not None:
            await self.conversations.add_event(ticket, "event.csat_commented")
        self._published(survey.conversation_id)
        return updated

    async def latest(self, contact_id: str) -> Survey | None:
        return await self.store.quality.latest_survey(contact_id)

    async def of_ticket(self, conversation_id: str) -> Survey | None:
        return await self.store.quality.get_survey(conversation_id)

    def _published(self, conversation_id: str) -> None:
        self.bus.publish(Event("conversation.updated", conversation_id, {"changes": [CSAT_CHANGE]}))

    # -- scorecards ---------------------------------------------------------------------------------
    async def save_scorecard(self, data: Mapping[str, Any], card_id: str = "") -> Scorecard:
        """Create (no id) or replace a scorecard, checked by conversation/quality; audited."""
        before = await self.store.quality.get_scorecard(card_id) if card_id else None
        if card_id and before is None:
            raise NotFound(f"scorecard {card_id}")
        card = replace(scorecard_from_doc({**data, "id": card_id or new_id()}), updated_at=self.clock())
        await self.store.quality.save_scorecard(card)
        await audit.record(
            self.store,
            "scorecard.update" if before else "scorecard.create",
            "scorecard",
            card.id,
            before=_audited(before) if before else {},
            after=_audited(card),
        )
        return card

    async def scorecard(self, card_id: str) -> Scorecard:
        card = await self.store.quality.get_scorecard(card_id)
        if card is None:
            raise NotFound(f"scorecard {card_id}")
        return card

    # -- reviews ------------------------------------------------------------------------------------
    async def review(
        self,
        ticket: Conversation,
        *,
        scorecard_id: str,
        scores: Mapping[str, Any],
        reviewer_id: str,
        comment: str = "",
        notes: Mapping[str, str] | None = None,
    ) -> Review:
        """One reviewer's review of the ticket; InvalidInput for a bad score or a second review
        by the same reviewer on the same scorecard."""
        card = await self.scorecard(scorecard_id)
        if not card.active:
            raise InvalidInput("scorecard_id: this scorecard is retired")
        check_reviewable(ticket)
        if not ticket.assignee_id:
            raise InvalidInput("the ticket has no agent to review")
        if ticket.assignee_id == reviewer_id:
            raise InvalidInput("a reviewer does not review their own work")
        checked = check_scores(card, scores)
        notes = {k: v.strip() for k, v in (notes or {}).items() if v.strip()}
        if set(notes) - set(checked):
            raise InvalidInput(f"notes.{sorted(set(notes) - set(checked))[0]}: not a criterion of this scorecard")
        if len(comment) > MAX_REVIEW_COMMENT or any(len(n) > MAX_REVIEW_COMMENT for n in notes.values()):
            raise InvalidInput(f"comment: at most {MAX_REVIEW_COMMENT} characters")
        score, failed = review_score(card, checked)
        review = Review(
            id=new_id(),
            conversation_id=ticket.id,
            number=ticket.number,
            scorecard_id=card.id,
            reviewer_id=reviewer_id,
            agent_id=ticket.assignee_id,
            scores=checked,
            created_at=self.clock(),
            score=score,
            failed=failed,
            comment=comment.strip(),
            notes=notes,
            team=ticket.team,
            channel=ticket.channel,
            category=ticket.category,
        )
        if not await self.store.quality.add_review(review):
            raise InvalidInput("you reviewed this ticket on this scorecard already")
        await audit.record(self.store, "review.create", "conversation", ticket.id, after={"score": score})
        self.bus.publish(Event("qa.reviewed", ticket.id, {"review_id": review.id, "agent_id": review.agent_id}))
        return review

    async def calibration(self, conversation_id: str) -> list[Calibration]:
        """Per scorecard used on the ticket, its reviews and (two or more reviewers) the disagreement."""
        reviews = await self.store.quality.list_reviews(conversation_id=conversation_id)
        found = []
        for card_id in dict.fromkeys(r.scorecard_id for r in reversed(reviews)):
            card = await self.store.quality.get_scorecard(card_id)
            if card is None:
                continue
            same = tuple(r for r in reversed(reviews) if r.scorecard_id == card_id)
            found.append(Calibration(card, same, tuple(disagreement(card, same))))
        return found

    async def sample(self, since: datetime, until: datetime, *, size: int, seed: str) -> list[Candidate]:
        """The review sample of the period: per agent up to `size` of the tickets they resolved,
        biased to low CSAT and SLA breaches (conversation/quality.weekly_sample)."""
        candidates = await self.store.quality.review_candidates(since, until)
        marked = [replace(c, sla_breached=await self._breached(c.conversation_id)) for c in candidates]
        return weekly_sample(marked, size, seed)

    async def _breached(self, conversation_id: str) -> bool:
        state, _ = await self.store.coordination.load_plugin_state(conversation_id, STATE_PLUGIN)
        fired = SlaState.from_json(state).fired if state else {}
        return any(key.endswith(f":{BREACH}") for key in fired)


def _audited(card: Scorecard) -> dict[str, Any]:
    doc = scorecard_to_doc(card)
    doc.pop("updated_at", None)
    return doc
