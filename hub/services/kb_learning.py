"""The learning review queue: each ticket an agent resolves proposes its (question, answer)
pair, masked, as a new example of the best-matching article or as a draft article; a
reviewer approves (possibly after editing) or rejects it. Nothing reaches the knowledge base
without that approval, and approving goes through `KnowledgeService`, so the matcher
retrains at once (hub/knowledge_model.py) and the change is versioned and audited.

Proposals are records (`kb`/`proposal`) whose id is the ticket's: a retried or repeated
resolve (reopened, resolved again) never proposes twice."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from conversation import kb_learning as learn
from conversation.errors import InvalidInput
from conversation.knowledge import LANGUAGES, MAX_EXAMPLE, MAX_TITLE, Article, guess_language
from conversation.model import Conversation, utcnow
from conversation.records import Record, RecordQuery, changed
from conversation.store import AlreadyExists, NotFound, Store
from conversation.text_language import clear_language
from hub.services import audit
from hub.services.knowledge import EditConflict, KnowledgeService

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # compare-and-set rounds when the article or the proposal changes meanwhile
Match = Callable[[str, int], Awaitable[Sequence[tuple[Article, Any]]]]  # hub.knowledge_model.KnowledgeModel.match


async def _no_match(_text: str, _k: int) -> Sequence[tuple[Article, Any]]:
    return []


class ProposalDecided(AlreadyExists):
    """The proposal was approved or rejected already (HTTP 409)."""


class LearningService:
    def __init__(self, store: Store, knowledge: KnowledgeService, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.knowledge = knowledge
        self.clock = clock
        self.match: Match = _no_match  # the hub's matcher (set by the hub)
        self.enabled = True  # [knowledge] learn_from_resolved
        self.order_numbers = learn.DEFAULT_ORDER_PATTERN  # [knowledge] order_number_pattern
        self.region = "CN"  # [hotline] default_region: numbers written without +

    def mask(self, text: str) -> str:
        return learn.mask_personal_data(text, order_numbers=self.order_numbers, region=self.region)

    async def agent_resolved(self, conversation: Conversation) -> Record | None:
        """An agent resolved `conversation`: propose what it teaches (None: nothing to
        propose, or proposed before). Never raises: the resolve itself has succeeded."""
        if not self.enabled:
            return None
        try:
            return await self.propose(conversation)
        except Exception:
            log.exception("learning: no proposal from conversation %s", conversation.id)
            return None

    async def propose(self, conversation: Conversation) -> Record | None:
        record_id = learn.proposal_id(conversation.id)
        if await self.store.records.get_record(learn.PLUGIN, learn.KIND, record_id) is not None:
            return None
        pair = learn.question_and_answer(await self.store.tickets.list_messages(conversation.id))
        if pair is None:
            return None
        question, answer = self.mask(pair.question), self.mask(pair.answer)
        best = next(iter(await self.match(question, 1)), None)
        target = best if best is not None and best[1].confidence >= learn.EXAMPLE_CONFIDENCE else None
        contact = await self.store.contacts.get_contact(conversation.contact_id)
        # The question's own language first: it becomes an example of an article in that language.
        contact_language = contact.language if contact and contact.language in LANGUAGES else None
        language = clear_language(question) or contact_language or guess_language(question)
        now = self.clock()
        record = Record(
            id=record_id,
            plugin=learn.PLUGIN,
            kind=learn.KIND,
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            status=learn.PENDING,
            data={
                "number": conversation.number,
                "question": question,
                "answer": answer,
                "language": language,
                "article_id": target[0].id if target else "",
                "article_title": target[0].title if target else "",
                "confidence": round(target[1].confidence, 4) if target else 0.0,
                "preselected": bool(target and target[1].confidence >= learn.PRESELECT_CONFIDENCE),
            },
            created_at=now,
            updated_at=now,
        )
        try:
            await self.store.records.create_record(record)
        except AlreadyExists:  # another hub process proposed it meanwhile
            return None
        return record

    async def pending(self, limit: int = 100) -> list[Record]:
        """Proposals waiting for review, newest first."""
        return await self.store.records.query_records(
            RecordQuery(learn.PLUGIN, learn.KIND, status=learn.PENDING, limit=limit)
        )

    async def get(self, proposal_id: str) -> Record:
        found = await self.store.records.get_record(learn.PLUGIN, learn.KIND, proposal_id)
        if found is None:
            raise NotFound(f"proposal {proposal_id}")
        return found

    async def approve(
        self, proposal_id: str, *, question: str, article_id: str = "", title: str = "", answer: str = "", who: str
    ) -> Record:
        """Add `question` (the reviewer's edit of the proposal) as an example of `article_id`,
        or, with no article, create a draft article from it; then mark the proposal approved.
        Both steps are idempotent, so two reviewers approving at once learn it once."""
        record = await self._undecided(proposal_id)
        question = _text(self.mask(question), "question", MAX_EXAMPLE)
        if article_id:
            await self._add_example(article_id, question)
            outcome: dict[str, Any] = {"learned_article_id": article_id, "example": question}
        else:
            draft = {
                "id": learn.learned_article_id(record.conversation_id),
                "title": _text(self.mask(title or question), "title", MAX_TITLE),
                "answer": _text(self.mask(answer or record.data["answer"]), "answer", learn.MAX_ANSWER),
                "examples": [question],
                "language": record.data.get("language") or guess_language(question),
                "status": "draft",
            }
            try:
                await self.knowledge.create(draft)
            except AlreadyExists:
                pass  # approved meanwhile by someone else: the draft is there
            outcome = {"learned_article_id": draft["id"], "example": question}
        return await self._decide(record, learn.APPROVED, outcome, who)

    async def reject(self, proposal_id: str, *, who: str) -> Record:
        return await self._decide(await self._undecided(proposal_id), learn.REJECTED, {}, who)

    async def _undecided(self, proposal_id: str) -> Record:
        record = await self.get(proposal_id)
        if record.status != learn.PENDING:
            raise ProposalDecided(f"proposal {proposal_id} was {record.status} already")
        return record

    async def _add_example(self, article_id: str, question: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            article = await self.knowledge.article(article_id)
            examples = learn.with_example(article.examples, question)
            if examples is None:
                return
            try:
                await self.knowledge.update(article_id, {"examples": list(examples)}, version=article.version)
                return
            except EditConflict:
                continue  # edited meanwhile: add it to the new version
        raise EditConflict(f"article {article_id} keeps changing: try again")

    async def _decide(self, record: Record, status: str, outcome: dict[str, Any], who: str) -> Record:
        for _ in range(MAX_ATTEMPTS):
            after = changed(record, data=outcome, status=status, deadline=False, who=who, now=self.clock())
            if await self.store.records.replace_record(after, version=record.version):
                await audit.record(
                    self.store,
                    f"kb.proposal.{status}",
                    "proposal",
                    record.id,
                    before={"status": record.status},
                    after={"status": status, **outcome},
                )
                return after
            record = await self.get(record.id)
            if record.status != learn.PENDING:
                raise ProposalDecided(f"proposal {record.id} was {record.status} already")
        raise InvalidInput("the proposal is being changed by others; try again")


def _text(value: str, name: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{name}: must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{name}: at most {limit} characters")
    return value
