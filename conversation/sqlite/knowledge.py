"""SQLite: knowledge-base articles and their versions (JSON documents); a save is one
transaction that checks the version, writes both rows and raises the revision."""

from __future__ import annotations

import json
import sqlite3

from conversation.areas.knowledge import Knowledge
from conversation.knowledge import (
    Article,
    ArticleVersion,
    article_from_doc,
    article_to_doc,
    version_from_doc,
    version_to_doc,
)
from conversation.sqlite.db import Area


class SQLiteKnowledge(Area, Knowledge):
    async def save_article(self, version: ArticleVersion, *, previous: int) -> bool:
        article = version.article
        doc = json.dumps(article_to_doc(article), ensure_ascii=False)
        kept = json.dumps(version_to_doc(version), ensure_ascii=False)

        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT version FROM kb_articles WHERE id = ?", (article.id,)).fetchone()
            if (row[0] if row else 0) != previous:
                return False
            conn.execute(
                "INSERT INTO kb_articles VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET version = excluded.version, doc = excluded.doc",
                (article.id, article.version, doc),
            )
            conn.execute("INSERT INTO kb_versions VALUES (?, ?, ?)", (article.id, article.version, kept))
            conn.execute(
                "INSERT INTO counters (name, value) VALUES ('knowledge', 1)"
                " ON CONFLICT (name) DO UPDATE SET value = value + 1"
            )
            return True

        return await self._call(job)

    async def get_article(self, article_id: str) -> Article | None:
        return await self._one(
            "SELECT doc FROM kb_articles WHERE id = ?", (article_id,), lambda r: article_from_doc(json.loads(r[0]))
        )

    async def list_articles(self) -> list[Article]:
        return await self._call(
            lambda conn: [
                article_from_doc(json.loads(r[0])) for r in conn.execute("SELECT doc FROM kb_articles ORDER BY id")
            ],
            write=False,
        )

    async def list_versions(self, article_id: str) -> list[ArticleVersion]:
        return await self._call(
            lambda conn: [
                version_from_doc(json.loads(r[0]))
                for r in conn.execute(
                    "SELECT doc FROM kb_versions WHERE article_id = ? ORDER BY version DESC", (article_id,)
                )
            ],
            write=False,
        )

    async def get_version(self, article_id: str, version: int) -> ArticleVersion | None:
        return await self._one(
            "SELECT doc FROM kb_versions WHERE article_id = ? AND version = ?",
            (article_id, version),
            lambda r: version_from_doc(json.loads(r[0])),
        )

    async def revision(self) -> int:
        row = await self._one("SELECT value FROM counters WHERE name = 'knowledge'", (), lambda r: r[0])
        return int(row or 0)
