"""Knowledge-base routes (/api/v1/kb/...): agents read articles, their versions and the
matcher's suggestions; admins and supervisors write, import and export."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conversation import knowledge as kb
from conversation.knowledge import Article, ArticleStatus, ArticleVersion
from conversation.knowledge_io import FORMATS, read_articles, write_articles
from conversation.markdown_html import render_markdown
from conversation.model import Role
from hub.api.framework import Call, not_found
from hub.api.routes import ANY, api, hub_of, services_of
from hub.api.serialize import iso
from hub.schema import Arr, Int, Obj, Str

ARTICLE = api.schema("Article", {"type": "object", "description": "a knowledge-base article"})
WRITERS = (Role.ADMIN, Role.SUPERVISOR)
MAX_IMPORT_CHARS = 20_000_000
FIELDS = {
    "title": Str(max_length=kb.MAX_TITLE, min_length=1),
    "answer": Str(max_length=kb.MAX_ANSWER, min_length=1, description="Markdown"),
    "language": Str(choices=kb.LANGUAGES),
    "group": Str(max_length=80, description="translations share a group (default: the article's id)"),
    "category": Str(max_length=kb.MAX_CATEGORY),
    "tags": Arr(Str(max_length=kb.MAX_TAG), max_items=kb.MAX_TAGS),
    "examples": Arr(Str(max_length=kb.MAX_EXAMPLE), max_items=kb.MAX_EXAMPLES),
    "status": Str(choices=tuple(s.value for s in ArticleStatus)),
}


# What an agent of another role is told, before the body is read (Api.route's `roles`).
WRITES = "knowledge-base articles are changed by admins and supervisors"


def article_json(article: Article, others: list[Article] | None = None, *, rendered: bool = True) -> dict[str, Any]:
    """`html`: the answer's sanitised HTML (left out of lists, where it is not shown)."""
    return {
        "id": article.id,
        **kb.article_to_input(article),
        "group": article.group_id,
        **({"html": render_markdown(article.answer)} if rendered else {}),
        "slug": kb.slug(article.title),
        "version": article.version,
        "updated_at": iso(article.updated_at),
        "updated_by": article.updated_by,
        **(
            {"translations": [{"id": a.id, "language": a.language, "title": a.title} for a in others]}
            if others is not None
            else {}
        ),
    }


def version_json(version: ArticleVersion) -> dict[str, Any]:
    return {"version": version.version, "changed": list(version.changed), "article": article_json(version.article)}


async def _with_translations(call: Call, article: Article) -> dict[str, Any]:
    articles = await hub_of(call).store.knowledge.list_articles()
    return article_json(article, kb.translations(article, articles))


@api.route(
    "GET",
    "/v1/kb/articles",
    summary="Knowledge-base articles, searched and filtered",
    tag="knowledge",
    query={
        "q": Str(max_length=200),
        "language": Str(choices=kb.LANGUAGES),
        "status": Str(choices=tuple(s.value for s in ArticleStatus)),
        "category": Str(max_length=kb.MAX_CATEGORY),
    },
    response=ANY,
)
async def list_articles(call: Call) -> dict[str, Any]:
    found = kb.search(
        await hub_of(call).store.knowledge.list_articles(),
        query=call.query.get("q", ""),
        language=call.query.get("language"),
        status=ArticleStatus(call.query["status"]) if "status" in call.query else None,
        category=call.query.get("category"),
    )
    return {"items": [article_json(a, rendered=False) for a in found]}


@api.route(
    "POST",
    "/v1/kb/articles",
    summary="Write an article (admins and supervisors)",
    roles=WRITERS,
    refusal=WRITES,
    tag="knowledge",
    body=Obj({"id": Str(max_length=80), **FIELDS}, required=("title", "answer")),
    response=ARTICLE,
    status=201,
)
async def create_article(call: Call) -> dict[str, Any]:
    return await _with_translations(call, await services_of(call).knowledge.create(dict(call.body)))


@api.route("GET", "/v1/kb/articles/{article_id}", summary="One article", tag="knowledge", response=ARTICLE)
async def get_article(call: Call) -> dict[str, Any]:
    return await _with_translations(call, await services_of(call).knowledge.article(call.path["article_id"]))


@api.route(
    "PATCH",
    "/v1/kb/articles/{article_id}",
    summary="Change an article: a new version (admins and supervisors); 409 when it changed since `version`",
    roles=WRITERS,
    refusal=WRITES,
    tag="knowledge",
    body=Obj(
        {"version": Int(minimum=1, description="the version the edit started from"), **FIELDS}, required=("version",)
    ),
    response=ARTICLE,
)
async def change_article(call: Call) -> dict[str, Any]:
    data = dict(call.body)
    version = data.pop("version")
    saved = await services_of(call).knowledge.update(call.path["article_id"], data, version=version)
    return await _with_translations(call, saved)


@api.route(
    "GET",
    "/v1/kb/articles/{article_id}/versions",
    summary="An article's versions, newest first",
    tag="knowledge",
    response=ANY,
)
async def list_versions(call: Call) -> dict[str, Any]:
    article_id = call.path["article_id"]
    versions = await hub_of(call).store.knowledge.list_versions(article_id)
    if not versions:
        raise not_found("article")
    return {"items": [version_json(v) for v in versions]}


@api.route(
    "GET",
    "/v1/kb/articles/{article_id}/versions/{version}",
    summary="One earlier version of an article",
    tag="knowledge",
    response=ANY,
)
async def get_version(call: Call) -> dict[str, Any]:
    number = call.path["version"]
    if not number.isascii() or not number.isdigit() or len(number) > 9:
        raise not_found("version")
    found = await hub_of(call).store.knowledge.get_version(call.path["article_id"], int(number))
    if found is None:
        raise not_found("version")
    return version_json(found)


@api.route(
    "POST",
    "/v1/kb/preview",
    summary="The sanitised HTML an answer's Markdown becomes (the editor's live preview)",
    tag="knowledge",
    body=Obj({"answer": Str(max_length=kb.MAX_ANSWER)}, required=("answer",)),
    response=ANY,
    personal=True,  # stores nothing: read-only accounts may preview too
)
async def preview(call: Call) -> dict[str, Any]:
    return {"html": render_markdown(call.body["answer"])}


@api.route(
    "GET",
    "/v1/kb/suggestions",
    summary="The published articles that best answer a question, with the matcher's confidence",
    tag="knowledge",
    query={"q": Str(max_length=2000), "k": Int(minimum=1, maximum=10)},
    response=ANY,
)
async def suggestions(call: Call) -> dict[str, Any]:
    model = hub_of(call).knowledge
    found = await model.match(call.query.get("q", ""), call.query.get("k", 3))
    return {
        "revision": model.revision,
        "items": [{"id": a.id, "title": a.title, "confidence": round(p.confidence, 4)} for a, p in found],
    }


@api.route(
    "POST",
    "/v1/kb/import",
    summary="Import articles from JSONL or CSV text; all lines are checked first, an error names the line;"
    " importing the same file again changes nothing (admins and supervisors)",
    roles=WRITERS,
    refusal=WRITES,
    tag="knowledge",
    body=Obj(
        {
            "format": Str(choices=FORMATS),
            "text": Str(max_length=MAX_IMPORT_CHARS),
            "status": Str(
                choices=tuple(s.value for s in ArticleStatus),
                description="for new articles whose line names none (an existing one keeps its own)",
            ),
        },
        required=("format", "text"),
    ),
    response=ANY,
)
async def import_articles(call: Call) -> dict[str, Any]:
    lines = read_articles(call.body["text"], call.body["format"], default_status=call.body.get("status", "published"))
    return (await services_of(call).knowledge.import_articles(lines)).as_dict()


@api.route(
    "GET",
    "/v1/kb/export",
    summary="Every article as JSONL or CSV (admins and supervisors)",
    roles=WRITERS,
    refusal="the knowledge base is exported by admins and supervisors",
    tag="knowledge",
    query={"format": Str(choices=FORMATS)},
)
async def export_articles(call: Call) -> web.Response:
    fmt = call.query.get("format", "jsonl")
    text = write_articles(await hub_of(call).store.knowledge.list_articles(), fmt)
    kind = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    return web.Response(
        text=text,
        content_type=kind,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="knowledge.{fmt}"'},
    )
