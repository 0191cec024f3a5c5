"""Knowledge-base articles: every change is validated here, stored as a new version (who,
when, which fields), audited and published as `kb.article.saved` (which the hub's
matcher watches; hub/knowledge_model.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from conversation.errors import InvalidInput, InvalidLine
from conversation.knowledge import (
    Article,
    ArticleVersion,
    article_from_input,
    article_to_doc,
    article_to_input,
    changed_fields,
    check_id,
    check_translation,
    foreign_category,
)
from conversation.knowledge_io import ImportLine, import_target, plan_import
from conversation.model import new_id, utcnow
from conversation.store import AlreadyExists, NotFound, Store
from hub.actor import current_actor
from hub.events import Event, EventBus
from hub.services import audit

SAVED = "kb.article.saved"


class EditConflict(AlreadyExists):
    """The article changed since the caller read it (HTTP 409): reload, then edit again."""


@dataclass(frozen=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class KnowledgeService:
    def __init__(self, store: Store, bus: EventBus, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.saved: Callable[[], None] = lambda: None  # the hub's matcher retrains (hub/knowledge_model.py)

    async def article(self, article_id: str) -> Article:
        found = await self.store.knowledge.get_article(article_id)
        if found is None:
            raise NotFound(f"article {article_id}")
        return found

    async def create(self, data: Mapping[str, Any]) -> Article:
        article_id = check_id(data["id"]) if data.get("id") else new_id()
        if await self.store.knowledge.get_article(article_id) is not None:
            raise AlreadyExists(f"an article with id {article_id!r} exists")
        article = article_from_input(data, article_id=article_id)
        await self._check_category(article, None)
        return await self._save(None, article)

    async def update(self, article_id: str, data: Mapping[str, Any], *, version: int) -> Article:
        """Change the fields given; `version` is the one the editor started from."""
        current = await self.article(article_id)
        if current.version != version:
            raise EditConflict(f"article {article_id} is at version {current.version} now, not {version}: reload it")
        article = article_from_input(data, article_id=article_id, base=current)
        await self._check_category(article, current)
        return await self._save(current, article)

    async def _desk_categories(self) -> set[str]:
        return {c.id for c in await self.store.desk.list_categories()}

    async def _check_category(self, article: Article, current: Article | None) -> None:
        foreign = foreign_category(article, current, await self._desk_categories())
        if foreign is not None:
            raise InvalidInput(f"category: {foreign!r} is not a category of this desk")

    async def _check_import_categories(self, lines: list[ImportLine], existing: dict[str, Article]) -> None:
        """Every line's category before anything is stored: one the desk lacks refuses the file."""
        desk = await self._desk_categories()
        for line in lines:
            foreign = foreign_category(line.article, existing.get(import_target(line.article, existing).id), desk)
            if foreign is not None:
                raise InvalidLine(line.line, f"category {foreign!r} is not a category of this desk")

    async def import_articles(self, lines: list[ImportLine]) -> ImportReport:
        """Create or update each article (all were checked before this is called, their
        categories here); an article whose content is the same is left alone, so importing a
        file again changes nothing."""
        existing = {a.id: a for a in await self.store.knowledge.list_articles()}
        await self._check_import_categories(lines, existing)
        planned = plan_import(lines, existing)  # every line checked before anything is stored
        created = updated = unchanged = 0
        for incoming, current in planned:
            if current is not None and article_to_input(current) == article_to_input(
                replace(incoming, version=current.version)
            ):
                unchanged += 1
                continue
            wanted = replace(incoming, version=current.version if current else 1)
            saved = await self._save(current, wanted, others=existing.values())
            existing[saved.id] = saved
            if current is None:
                created += 1
            else:
                updated += 1
        return ImportReport(created, updated, unchanged)

    async def _save(self, current: Article | None, wanted: Article, *, others: Iterable[Article] = ()) -> Article:
        """Store `wanted` as the next version of `current`; `others`: every article, when the
        caller has them at hand (an import), else they are read for the translation check."""
        check_translation(wanted, others or await self.store.knowledge.list_articles())
        changed = changed_fields(current, wanted)
        if current is not None and not changed:
            return current  # nothing to keep: no version, no event
        actor = current_actor()
        article = replace(
            wanted,
            version=(current.version + 1) if current else 1,
            updated_at=self.clock(),
            updated_by=actor.name if actor else "",
        )
        if not await self.store.knowledge.save_article(
            ArticleVersion(article, changed), previous=current.version if current else 0
        ):
            raise EditConflict(f"article {article.id} was changed meanwhile: reload it")
        before = article_to_doc(current) if current else {}
        after = article_to_doc(article)
        for volatile in ("version", "updated_at", "updated_by"):
            before.pop(volatile, None)
            after.pop(volatile, None)
        action = "kb.article.update" if current else "kb.article.create"
        await audit.record(self.store, action, "article", article.id, before=before, after=after)
        self.bus.publish(Event(SAVED, "", {"id": article.id, "version": article.version}))
        self.saved()
        return article
