"""Knowledge-base articles: what one is, how input becomes one, and the rules both store
backends and the hub share (validation, versions, translations, search, URL slugs).

An article is written in one language; its translations are the other articles of its
`group` (one article per language in a group). Every change is a new version whose full
snapshot is kept, so any earlier version can be read back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from conversation.errors import InvalidInput

LANGUAGES = ("zh-CN", "en")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
MAX_TITLE = 300
MAX_ANSWER = 50_000
MAX_CATEGORY = 100
MAX_TAGS = 20
MAX_TAG = 50
MAX_EXAMPLES = 500
MAX_EXAMPLE = 500
EDITABLE = ("title", "answer", "category", "tags", "examples", "status", "language", "group")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class ArticleStatus(StrEnum):
    DRAFT = "draft"  # agents see it; the bot and the help centre do not
    PUBLISHED = "published"


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    answer: str  # Markdown; shown only through render_markdown (sanitised)
    language: str = "zh-CN"
    group: str = ""  # its translations share it; "" means the article's own id
    category: str = ""
    tags: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()  # ways customers ask it: what the matcher learns
    status: ArticleStatus = ArticleStatus.DRAFT
    version: int = 1
    updated_at: datetime | None = None
    updated_by: str = ""  # the name of whoever made this version

    @property
    def group_id(self) -> str:
        return self.group or self.id

    @property
    def published(self) -> bool:
        return self.status is ArticleStatus.PUBLISHED


@dataclass(frozen=True)
class ArticleVersion:
    """One version as it was saved: the full article, and which fields it changed."""

    article: Article
    changed: tuple[str, ...] = field(default=())

    @property
    def version(self) -> int:
        return self.article.version


def guess_language(text: str) -> str:
    """zh-CN when the text has Chinese characters, else en (for imports that do not say)."""
    return "zh-CN" if _CJK.search(text) else "en"


def _text(data: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{key} is required")
    if len(value) > limit:
        raise InvalidInput(f"{key} is longer than {limit} characters")
    return value


def _texts(data: Mapping[str, Any], key: str, *, count: int, limit: int) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{key} must be a list of texts")
    if len(value) > count:
        raise InvalidInput(f"{key}: at most {count}")
    seen: dict[str, None] = {}
    for item in value:
        item = " ".join(item.split())
        if len(item) > limit:
            raise InvalidInput(f"{key}: each at most {limit} characters")
        if item:
            seen.setdefault(item, None)  # keeps the first of duplicates, in order
    return tuple(seen)


def check_id(article_id: Any, what: str = "id") -> str:
    if not isinstance(article_id, str) or not ID_PATTERN.match(article_id):
        raise InvalidInput(f"{what} must be 1-80 letters, digits, '_', '.' or '-' (starting with a letter or digit)")
    return article_id


def article_from_input(data: Mapping[str, Any], *, article_id: str, base: Article | None = None) -> Article:
    """The article `data` describes, over `base` (the current version) for the fields it leaves out.

    Raises InvalidInput naming the first wrong field; the version is the caller's to set."""
    unknown = sorted(set(data) - set(EDITABLE) - {"id", "version"})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]}")
    check_id(article_id)
    old = base or Article(id=article_id, title="", answer="")
    merged = {**article_to_input(old), **{k: v for k, v in data.items() if k in EDITABLE}}
    language = data.get("language") or (base.language if base else guess_language(str(merged.get("title") or "")))
    if language not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}")
    status = merged.get("status") or ArticleStatus.DRAFT.value
    if status not in {s.value for s in ArticleStatus}:
        raise InvalidInput("status must be draft or published")
    group = merged.get("group") or ""
    if group:
        check_id(group, "group")
    return replace(
        old,
        title=_text(merged, "title", MAX_TITLE, required=True),
        answer=_text(merged, "answer", MAX_ANSWER, required=True),
        language=language,
        group="" if group == article_id else group,
        category=_text(merged, "category", MAX_CATEGORY),
        tags=_texts(merged, "tags", count=MAX_TAGS, limit=MAX_TAG),
        examples=_texts(merged, "examples", count=MAX_EXAMPLES, limit=MAX_EXAMPLE),
        status=ArticleStatus(status),
    )


def article_to_input(article: Article) -> dict[str, Any]:
    """The editable fields, as an API caller or an import line gives them."""
    return {
        "title": article.title,
        "answer": article.answer,
        "language": article.language,
        "group": article.group,
        "category": article.category,
        "tags": list(article.tags),
        "examples": list(article.examples),
        "status": article.status.value,
    }


def changed_fields(before: Article | None, after: Article) -> tuple[str, ...]:
    if before is None:
        return tuple(k for k, v in article_to_input(after).items() if v)
    old, new = article_to_input(before), article_to_input(after)
    return tuple(k for k in EDITABLE if old[k] != new[k])


def article_to_doc(article: Article) -> dict[str, Any]:
    """The stored shape (JSON types only, times as ISO text): one for both backends."""
    return {
        "id": article.id,
        **article_to_input(article),
        "version": article.version,
        "updated_at": article.updated_at.isoformat() if article.updated_at else None,
        "updated_by": article.updated_by,
    }


def article_from_doc(doc: Mapping[str, Any]) -> Article:
    return Article(
        id=doc["id"],
        title=doc["title"],
        answer=doc["answer"],
        language=doc.get("language", "zh-CN"),
        group=doc.get("group", ""),
        category=doc.get("category", ""),
        tags=tuple(doc.get("tags", ())),
        examples=tuple(doc.get("examples", ())),
        status=ArticleStatus(doc.get("status", "draft")),
        version=int(doc.get("version", 1)),
        updated_at=datetime.fromisoformat(doc["updated_at"]) if doc.get("updated_at") else None,
        updated_by=doc.get("updated_by", ""),
    )


def version_to_doc(version: ArticleVersion) -> dict[str, Any]:
    return {"article": article_to_doc(version.article), "changed": list(version.changed)}


def version_from_doc(doc: Mapping[str, Any]) -> ArticleVersion:
    return ArticleVersion(article_from_doc(doc["article"]), tuple(doc.get("changed", ())))


def check_translation(article: Article, others: Iterable[Article]) -> None:
    """One article per language in a group: InvalidInput naming the one already there."""
    for other in others:
        if other.id != article.id and other.group_id == article.group_id and other.language == article.language:
            raise InvalidInput(f"group {article.group_id} already has a {article.language} article: {other.id}")


def foreign_category(article: Article, current: Article | None, desk_categories: Collection[str]) -> str | None:
    """The category `article` gives anew that is not one of the desk's (its team is where the
    bot hands the article's questions), else None. One kept unchanged from `current` is left
    alone, so an article whose category was removed since can still be saved or re-imported."""
    if not article.category or article.category in desk_categories:
        return None
    if current is not None and current.category == article.category:
        return None
    return article.category


def folded(text: str) -> str:
    """Width- and case-folded (NFKC, casefold): how searches compare words."""
    return unicodedata.normalize("NFKC", text).casefold()


def matches(article: Article, query: str) -> bool:
    """Whether every word of the query is in the article's title, answer, tags, category or
    examples (case- and width-insensitive; Chinese has no spaces, so a word is any run)."""
    words = folded(query).split()
    if not words:
        return True
    haystack = folded(
        "\n".join((article.id, article.title, article.answer, article.category, *article.tags, *article.examples))
    )
    return all(word in haystack for word in words)


def search(
    articles: Iterable[Article],
    *,
    query: str = "",
    language: str | None = None,
    status: ArticleStatus | None = None,
    category: str | None = None,
) -> list[Article]:
    """The articles that fit, those with the query in their title first, then by title."""
    found = [
        a
        for a in articles
        if (language is None or a.language == language)
        and (status is None or a.status is status)
        and (category is None or a.category == category)
        and matches(a, query)
    ]
    words = folded(query).split()
    return sorted(found, key=lambda a: (not all(w in folded(a.title) for w in words), folded(a.title), a.id))


def slug(title: str, limit: int = 60) -> str:
    """The readable part of an article's URL: words of the title joined by '-' (Chinese
    characters kept: browsers show them, search engines read them)."""
    words = re.findall(r"\w+", folded(title))
    return "-".join(words)[:limit].strip("-") or "article"


def translations(article: Article, articles: Iterable[Article]) -> list[Article]:
    """The other articles of its group, by language."""
    return sorted(
        (a for a in articles if a.id != article.id and a.group_id == article.group_id), key=lambda a: a.language
    )
