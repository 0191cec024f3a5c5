"""SQLite: CSAT surveys and QA reviews (a JSON document each; what the figures group and
filter by in columns, so averages and counts are one GROUP BY)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conversation.areas.quality import Quality
from conversation.codec import from_epoch_ms, state_from_doc, state_to_doc, to_epoch_ms
from conversation.model import Status
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
from conversation.sqlite.db import Area


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(state_to_doc(doc), ensure_ascii=False)


def _doc(text: str) -> dict[str, Any]:
    return state_from_doc(json.loads(text))  # type: ignore[no-any-return]


def _survey_row(s: Survey) -> tuple[Any, ...]:
    return (
        s.conversation_id,
        s.contact_id,
        to_epoch_ms(s.asked_at),
        to_epoch_ms(s.rated_at),
        s.score,
        s.agent_id,
        s.team,
        s.channel,
        s.category,
        _json(survey_to_doc(s)),
    )


def _figures(
    conn: sqlite3.Connection,
    table: str,
    score: str,
    at: str,
    by: str,
    since: int | None,
    until: int | None,
    teams: Sequence[str] | None,
) -> list[Figure]:
    """AVG and COUNT per group; `table`, `score`, `at` and `by` are this module's own names (checked)."""
    key = by or "''"
    in_teams = "" if teams is None else f" AND team IN ({', '.join('?' * len(teams)) or 'NULL'})"
    sql = (
        f"SELECT {key}, AVG({score}), COUNT(*) FROM {table}"  # noqa: S608 - fixed names, values bound
        f" WHERE {score} IS NOT NULL AND {at} >= ? AND {at} < ?{in_teams} GROUP BY {key} ORDER BY {key}"
    )
    return [
        Figure(row[0], round(row[1], 2) if row[1] is not None else None, row[2])
        for row in conn.execute(sql, (since, until, *(teams or ())))
    ]


class SQLiteQuality(Area, Quality):
    async def add_survey(self, survey: Survey) -> bool:
        sql = "INSERT INTO csat_surveys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id) DO NOTHING"
        row = _survey_row(survey)
        return bool(await self._call(lambda conn: conn.execute(sql, row).rowcount))

    async def get_survey(self, conversation_id: str) -> Survey | None:
        sql = "SELECT doc FROM csat_surveys WHERE conversation_id = ?"
        return await self._one(sql, (conversation_id,), lambda row: survey_from_doc(_doc(row[0])))  # type: ignore[no-any-return]

    async def save_survey(self, survey: Survey) -> None:
        row = _survey_row(survey)
        sql = (
            "UPDATE csat_surveys SET contact_id = ?, asked_at = ?, rated_at = ?, score = ?, agent_id = ?, team = ?,"
            " channel = ?, category = ?, doc = ? WHERE conversation_id = ?"
        )
        await self._call(lambda conn: conn.execute(sql, (*row[1:], row[0])))

    async def latest_survey(self, contact_id: str) -> Survey | None:
        sql = "SELECT doc FROM csat_surveys WHERE contact_id = ? ORDER BY asked_at DESC LIMIT 1"
        return await self._one(sql, (contact_id,), lambda row: survey_from_doc(_doc(row[0])))  # type: ignore[no-any-return]

    async def csat_figures(
        self, since: datetime, until: datetime, *, by: str = "", teams: Sequence[str] | None = None
    ) -> list[Figure]:
        by = check_group(by)
        a, b = to_epoch_ms(since), to_epoch_ms(until)
        return await self._call(  # type: ignore[no-any-return]
            lambda conn: _figures(conn, "csat_surveys", "score", "rated_at", by, a, b, teams), write=False
        )

    async def save_scorecard(self, card: Scorecard) -> None:
        sql = (
            "INSERT INTO qa_scorecards VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc"
        )
        params = (card.id, card.name, _json(scorecard_to_doc(card)))
        await self._call(lambda conn: conn.execute(sql, params))

    async def get_scorecard(self, card_id: str) -> Scorecard | None:
        sql = "SELECT doc FROM qa_scorecards WHERE id = ?"
        return await self._one(sql, (card_id,), lambda row: scorecard_from_doc(_doc(row[0])))  # type: ignore[no-any-return]

    async def list_scorecards(self) -> list[Scorecard]:
        def job(conn: sqlite3.Connection) -> list[Scorecard]:
            rows = conn.execute("SELECT doc FROM qa_scorecards ORDER BY name, id")
            return [scorecard_from_doc(_doc(row[0])) for row in rows]

        return await self._call(job, write=False)  # type: ignore[no-any-return]

    async def add_review(self, review: Review) -> bool:
        params = (
            review.id,
            review.conversation_id,
            review.scorecard_id,
            review.reviewer_id,
            review.agent_id,
            review.team,
            review.channel,
            review.category,
            review.score,
            to_epoch_ms(review.created_at),
            _json(review_to_doc(review)),
        )
        sql = "INSERT INTO qa_reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        return bool(await self._call(lambda conn: conn.execute(sql, params).rowcount))

    async def list_reviews(
        self, *, conversation_id: str = "", agent_id: str = "", reviewer_id: str = "", limit: int = 200
    ) -> list[Review]:
        where, params = ["1"], []
        for column, value in (
            ("conversation_id", conversation_id),
            ("agent_id", agent_id),
            ("reviewer_id", reviewer_id),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT doc FROM qa_reviews WHERE {' AND '.join(where)} ORDER BY created_at DESC, id LIMIT ?"

        def job(conn: sqlite3.Connection) -> list[Review]:
            return [review_from_doc(_doc(row[0])) for row in conn.execute(sql, (*params, limit))]

        return await self._call(job, write=False)  # type: ignore[no-any-return]

    async def qa_figures(
        self, since: datetime, until: datetime, *, by: str = "", teams: Sequence[str] | None = None
    ) -> list[Figure]:
        by = check_group(by)
        a, b = to_epoch_ms(since), to_epoch_ms(until)
        return await self._call(  # type: ignore[no-any-return]
            lambda conn: _figures(conn, "qa_reviews", "score", "created_at", by, a, b, teams), write=False
        )

    async def review_candidates(self, since: datetime, until: datetime, *, limit: int = 5000) -> list[Candidate]:
        sql = (
            "SELECT c.id, c.assignee_id, c.resolved_at, s.score FROM conversations c"
            " LEFT JOIN csat_surveys s ON s.conversation_id = c.id"
            " WHERE c.assignee_id != '' AND c.resolved_at >= ? AND c.resolved_at < ? AND c.status IN (?, ?)"
            " AND c.merged_into = '' AND c.resolved_at != c.created_at ORDER BY c.resolved_at LIMIT ?"
        )
        params = (to_epoch_ms(since), to_epoch_ms(until), Status.RESOLVED.value, Status.CLOSED.value, limit)

        def job(conn: sqlite3.Connection) -> list[Candidate]:
            return [Candidate(r[0], r[1], from_epoch_ms(r[2]), r[3]) for r in conn.execute(sql, params)]  # type: ignore[arg-type]

        return await self._call(job, write=False)  # type: ignore[no-any-return]
