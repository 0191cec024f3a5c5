"""Knowledge-base articles, every version of each, and the knowledge revision: a counter
every saved change raises, which each hub process watches to retrain its matcher."""

from __future__ import annotations

from abc import ABC, abstractmethod

from conversation.knowledge import Article, ArticleVersion


class Knowledge(ABC):
    @abstractmethod
    async def save_article(self, version: ArticleVersion, *, previous: int) -> bool:
        """Store `version.article` as the article's current state and keep the version, if
        the stored version is still `previous` (0: the article must not exist yet); raises the
        knowledge revision. False, and nothing stored, when someone else saved first."""

    @abstractmethod
    async def get_article(self, article_id: str) -> Article | None: ...

    @abstractmethod
    async def list_articles(self) -> list[Article]:
        """Every article, by id."""

    @abstractmethod
    async def list_versions(self, article_id: str) -> list[ArticleVersion]:
        """The article's versions, newest first."""

    @abstractmethod
    async def get_version(self, article_id: str, version: int) -> ArticleVersion | None: ...

    @abstractmethod
    async def revision(self) -> int:
        """How many changes were saved so far (0 for none): unchanged means nothing to relearn."""
