"""The inbox's view counts on the embedded store read indexes, not every resolved ticket's row
(issue 12: `bench/inbox.py`'s counts took 3.5 ms at 20,000 tickets once tickets that only keep
a status question were left out; the status index alone answered them in 1.5 ms before)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conversation.sqlite.db import SCHEMA
from conversation.sqlite.inbox import ONLY_A_QUESTION


def plan(conn: sqlite3.Connection, sql: str) -> str:
    return " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def test_the_tickets_that_only_keep_a_question_are_counted_from_their_own_partial_index(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "plan.sqlite3")
    conn.executescript(SCHEMA)
    counted = plan(conn, f"SELECT COUNT(*) FROM conversations c WHERE merged_into = '' AND {ONLY_A_QUESTION} AND 1")
    assert "conversations_questions" in counted, counted
    totals = plan(conn, "SELECT status, COUNT(*) FROM conversations c WHERE merged_into = '' AND 1 GROUP BY status")
    assert "USING INDEX conversations_" in totals and "TEMP B-TREE" not in totals, totals
