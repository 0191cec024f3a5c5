"""MongoDB: CSAT surveys (`_id` = the ticket's id) and QA reviews; the figures are
aggregation pipelines ($match on the period, $group per key), never Python loops."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from conversation.areas.quality import Quality
from conversation.model import Status
from conversation.mongo.db import Area, _unavailable_when_unreachable
from conversation.quality import (
    Candidate,
    Figure,
    Review,
    Scorecard,
    Survey,
    check_group,
    review_from_doc,
    review_to_doc,
    scorecard_from_doc,
    scorecard_to_doc,
    survey_from_doc,
    survey_to_doc,
)


async def create_quality_indexes(db: Any) -> None:
    await db.csat_surveys.create_index([("contact_id", ASCENDING), ("asked_at", DESCENDING)], name="contact")
    await db.csat_surveys.create_index([("rated_at", ASCENDING)], name="rated")
    await db.qa_reviews.create_index(
        [("conversation_id", ASCENDING), ("reviewer_id", ASCENDING), ("scorecard_id", ASCENDING)],
        unique=True,
        name="one_per_reviewer",
    )
    for key in ("agent_id", "reviewer_id"):
        await db.qa_reviews.create_index([(key, ASCENDING), ("created_at", DESCENDING)], name=key)
    await db.qa_reviews.create_index([("created_at", ASCENDING)], name="created")
    await db.conversations.create_index([("resolved_at", ASCENDING)], name="resolved")


async def _figures(
    collection: Any, at: str, by: str, since: datetime, until: datetime, teams: Sequence[str] | None
) -> list[Figure]:
    match: dict[str, Any] = {"score": {"$ne": None}, at: {"$gte": since, "$lt": until}}
    if teams is not None:
        match["team"] = {"$in": list(teams)}
    pipeline = [
        {"$match": match},
        {"$group": {"_id": f"${by}" if by else "", "average": {"$avg": "$score"}, "count": {"$sum": 1}}},
        {"$sort": {"_id": ASCENDING}},
    ]
    cursor = await collection.aggregate(pipeline)
    return [
        Figure(doc["_id"] or "", round(doc["average"], 2) if doc["average"] is not None else None, doc["count"])
        async for doc in cursor
    ]


class MongoQuality(Area, Quality):
    @_unavailable_when_unreachable
    async def add_survey(self, survey: Survey) -> bool:
        try:
            await self._db.csat_surveys.insert_one({"_id": survey.conversation_id, **survey_to_doc(survey)})
        except DuplicateKeyError:
            return False
        return True

    @_unavailable_when_unreachable
    async def get_survey(self, conversation_id: str) -> Survey | None:
        doc = await self._db.csat_surveys.find_one({"_id": conversation_id}, {"_id": 0})
        return survey_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def save_survey(self, survey: Survey) -> None:
        await self._db.csat_surveys.replace_one({"_id": survey.conversation_id}, survey_to_doc(survey))

    @_unavailable_when_unreachable
    async def latest_survey(self, contact_id: str) -> Survey | None:
        cursor = self._db.csat_surveys.find({"contact_id": contact_id}, {"_id": 0}).sort("asked_at", DESCENDING)
        docs = await cursor.limit(1).to_list(1)
        return survey_from_doc(docs[0]) if docs else None

    @_unavailable_when_unreachable
    async def csat_figures(
        self, since: datetime, until: datetime, *, by: str = "", teams: Sequence[str] | None = None
    ) -> list[Figure]:
        return await _figures(self._db.csat_surveys, "rated_at", check_group(by), since, until, teams)

    @_unavailable_when_unreachable
    async def save_scorecard(self, card: Scorecard) -> None:
        await self._db.qa_scorecards.replace_one({"_id": card.id}, scorecard_to_doc(card), upsert=True)

    @_unavailable_when_unreachable
    async def get_scorecard(self, card_id: str) -> Scorecard | None:
        doc = await self._db.qa_scorecards.find_one({"_id": card_id}, {"_id": 0})
        return scorecard_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_scorecards(self) -> list[Scorecard]:
        cursor = self._db.qa_scorecards.find({}, {"_id": 0}).sort([("name", ASCENDING), ("id", ASCENDING)])
        return [scorecard_from_doc(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def add_review(self, review: Review) -> bool:
        try:
            await self._db.qa_reviews.insert_one({"_id": review.id, **review_to_doc(review)})
        except DuplicateKeyError:
            return False
        return True

    @_unavailable_when_unreachable
    async def list_reviews(
        self, *, conversation_id: str = "", agent_id: str = "", reviewer_id: str = "", limit: int = 200
    ) -> list[Review]:
        query = {
            k: v
            for k, v in (("conversation_id", conversation_id), ("agent_id", agent_id), ("reviewer_id", reviewer_id))
            if v
        }
        cursor = self._db.qa_reviews.find(query, {"_id": 0}).sort([("created_at", DESCENDING), ("id", ASCENDING)])
        return [review_from_doc(doc) async for doc in cursor.limit(limit)]

    @_unavailable_when_unreachable
    async def qa_figures(
        self, since: datetime, until: datetime, *, by: str = "", teams: Sequence[str] | None = None
    ) -> list[Figure]:
        return await _figures(self._db.qa_reviews, "created_at", check_group(by), since, until, teams)

    @_unavailable_when_unreachable
    async def review_candidates(self, since: datetime, until: datetime, *, limit: int = 5000) -> list[Candidate]:
        pipeline = [
            {
                "$match": {
                    "resolved_at": {"$gte": since, "$lt": until},
                    "assignee_id": {"$nin": ["", None]},
                    "status": {"$in": [Status.RESOLVED.value, Status.CLOSED.value]},
                    "merged_into": {"$in": ["", None]},
                    "$expr": {"$ne": ["$resolved_at", "$created_at"]},
                }
            },
            {"$sort": {"resolved_at": ASCENDING}},
            {"$limit": limit},
            {"$lookup": {"from": "csat_surveys", "localField": "_id", "foreignField": "_id", "as": "survey"}},
            {"$project": {"assignee_id": 1, "resolved_at": 1, "score": {"$first": "$survey.score"}}},
        ]
        cursor = await self._db.conversations.aggregate(pipeline)
        return [Candidate(doc["_id"], doc["assignee_id"], doc["resolved_at"], doc.get("score")) async for doc in cursor]
