"""MongoDB: knowledge-base articles (`kb_articles`) and their versions (`kb_versions`).

A save replaces the article only while its stored version is the expected one (a new
article: a unique `_id` insert), then adds the version and raises the revision in
`counters`; should the process die between, the article is saved and the next save's
version row follows it, so history only misses that one snapshot."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from conversation.areas.knowledge import Knowledge
from conversation.knowledge import (
    Article,
    ArticleVersion,
    article_from_doc,
    article_to_doc,
    version_from_doc,
    version_to_doc,
)
from conversation.mongo.db import Area, _unavailable_when_unreachable


class MongoKnowledge(Area, Knowledge):
    @_unavailable_when_unreachable
    async def save_article(self, version: ArticleVersion, *, previous: int) -> bool:
        article = version.article
        doc = {"_id": article.id, **article_to_doc(article)}
        if previous == 0:
            try:
                await self._db.kb_articles.insert_one(doc)
            except DuplicateKeyError:
                return False
        else:
            result = await self._db.kb_articles.replace_one({"_id": article.id, "version": previous}, doc)
            if result.matched_count != 1:
                return False
        await self._db.kb_versions.replace_one(
            {"_id": f"{article.id}\x1f{article.version}"},
            {"article_id": article.id, "version": article.version, **version_to_doc(version)},
            upsert=True,
        )
        await self._counters.update_one({"_id": "knowledge"}, {"$inc": {"value": 1}}, upsert=True)
        return True

    @_unavailable_when_unreachable
    async def get_article(self, article_id: str) -> Article | None:
        doc = await self._db.kb_articles.find_one({"_id": article_id}, {"_id": 0})
        return article_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def list_articles(self) -> list[Article]:
        return [article_from_doc(doc) async for doc in self._db.kb_articles.find({}, {"_id": 0}).sort("_id", 1)]

    @_unavailable_when_unreachable
    async def list_versions(self, article_id: str) -> list[ArticleVersion]:
        cursor = self._db.kb_versions.find({"article_id": article_id}).sort("version", -1)
        return [version_from_doc(doc) async for doc in cursor]

    @_unavailable_when_unreachable
    async def get_version(self, article_id: str, version: int) -> ArticleVersion | None:
        doc = await self._db.kb_versions.find_one({"_id": f"{article_id}\x1f{version}"})
        return version_from_doc(doc) if doc else None

    @_unavailable_when_unreachable
    async def revision(self) -> int:
        doc = await self._counters.find_one({"_id": "knowledge"})
        return int(doc["value"]) if doc else 0
