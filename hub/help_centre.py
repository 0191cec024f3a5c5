"""The public help centre: `/help/` (server-rendered, no script, works without JavaScript).

- `/help/` sends the reader to `/help/zh-CN/` or `/help/en/` (Accept-Language).
- `/help/<lang>/` lists the published articles of that language by category;
  `?q=` searches them: the articles the matcher takes the words to ask (as customers ask
  them, at least SEARCH_CONFIDENCE sure), then those the words find (conversation/help_search.py).
  The matcher's part costs milliseconds of CPU a search (the e5 model embeds the words), so
  one client address gets it MATCHED_SEARCHES_PER_MINUTE times a minute; beyond that its
  searches are the word search only, and the page still answers.
- `/help/sitemap.xml` lists every published article's URL for search engines.
- `/help/<lang>/articles/<id>-<slug>` shows one; a wrong or missing slug redirects (301) to
  the canonical URL, so links stay good when a title changes. Drafts are never shown.

Every text from an article is escaped; the answer is the sanitised HTML of its Markdown
(conversation/markdown_html.py), and the page's CSP allows no script at all.
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import quote

from aiohttp import web

from conversation import knowledge as kb
from conversation.help_search import help_search
from conversation.knowledge import Article
from conversation.markdown_html import plain_text, render_markdown
from conversation.store import StoreUnavailable
from hub.app_keys import HUB
from hub.clientaddr import client_address
from hub.i18n import Texts, texts
from hub.i18n_web import request_locale
from hub.ratelimit import SlidingWindow
from hub.thread_events import name_in

PATH_LANGUAGES = {"zh-CN": "zh-CN", "en": "en"}
_LANGUAGES_ANY_CASE = {tag.lower(): tag for tag in PATH_LANGUAGES}
MAX_QUERY = 200
# The matcher's guesses at least this sure are search results (ranked first); below it a
# question is not taken as asking that article, so nonsense finds nothing.
SEARCH_CONFIDENCE = 0.3
SEARCH_GUESSES = 5
MATCHED_SEARCHES_PER_MINUTE = 20  # a person types a few a minute; a script gets the word search
MATCHED_SEARCHES: web.AppKey[SlidingWindow] = web.AppKey("help_matched_searches", SlidingWindow)
STYLE = """
body{font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}
header a{color:inherit}form{display:flex;gap:.5rem;margin:1rem 0}input[type=search]{flex:1;font:inherit;padding:.4rem}
h2{font-size:1.1rem;margin-top:1.5rem}ul{padding-left:1.2rem}li{margin:.3rem 0}.summary{color:#555;font-size:.9rem}
article img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}
pre{overflow:auto;background:#f5f5f5;padding:.5rem}
"""


def build_help_centre() -> web.Application:
    sub = web.Application()
    sub[MATCHED_SEARCHES] = SlidingWindow(MATCHED_SEARCHES_PER_MINUTE, 60.0)  # per hub process, as the CPU it guards
    sub.router.add_get("/", choose_language)
    sub.router.add_get("/sitemap.xml", sitemap)
    sub.router.add_get("/{lang}", to_index)
    sub.router.add_get("/{lang}/", index)
    sub.router.add_get("/{lang}/articles/{ref}", show)
    sub.router.add_get("/{lang}/articles/{ref}/", without_slash)
    sub.router.add_get("/{tail:.*}", page_not_found)  # last: any other address gets a page, not JSON
    return sub


async def to_help_centre(request: web.Request) -> web.StreamResponse:
    """/help, without its slash (mounted on the main application)."""
    raise web.HTTPMovedPermanently("/help/")


def article_path(article: Article) -> str:
    return f"/help/{article.language}/articles/{article.id}-{quote(kb.slug(article.title))}"


def _page(t: Texts, title: str, body: str, *, status: int = 200, head: str = "", other_page: str = "") -> web.Response:
    """`other_page`: this page in the other language (an article's translation), else its home."""
    nonce = secrets.token_urlsafe(12)
    other = "en" if t.locale == "zh-CN" else "zh-CN"
    other_page = other_page or f"/help/{other}/"
    document = (
        f'<!doctype html><html lang="{t.locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{html.escape(title)}</title>{head}<style nonce="{nonce}">{STYLE}</style></head><body>'
        f'<header><a href="/help/{t.locale}/"><strong>{html.escape(t.get("help.title"))}</strong></a>'
        f'<a href="{html.escape(other_page)}" hreflang="{other}" lang="{other}">'
        f"{html.escape(t.get('help.language'))}</a></header>"
        f"{body}</body></html>"
    )
    response = web.Response(text=document, content_type="text/html", charset="utf-8", status=status)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src https: data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _language(request: web.Request) -> str | None:
    """The address's language; None for another (/help/fr/, /help/zh/: `page_not_found`)."""
    return PATH_LANGUAGES.get(request.match_info["lang"])


async def page_not_found(request: web.Request) -> web.StreamResponse:
    """A page in the address's language (/help/en/…), else the reader's (returned: a raised
    error would be answered as the API's JSON)."""
    first = request.path.removeprefix("/help/").split("/", 1)[0]
    lang = PATH_LANGUAGES.get(first)
    written = _LANGUAGES_ANY_CASE.get(first.lower())
    if lang is None and written is not None:  # /help/zh-cn/…: language tags ignore case (BCP 47)
        _first, _slash, rest = request.raw_path.removeprefix("/help/").partition("/")
        raise web.HTTPMovedPermanently(f"/help/{written}/{rest}")
    t = texts("help", lang or request_locale(request))
    text = t.get("help.page_not_found")
    body = f'<h1>{html.escape(text)}</h1><p><a href="/help/{t.locale}/">{html.escape(t.get("help.back"))}</a></p>'
    page = _page(t, text, body, status=404)
    if lang is None:
        page.headers["Vary"] = "Accept-Language"
    return page


async def without_slash(request: web.Request) -> web.StreamResponse:
    """An article's address with a trailing slash: the address without it, built again from its
    parts, quoted (the decoded path would turn "..%2F" into a step up the site)."""
    lang, ref = request.match_info["lang"], request.match_info["ref"]
    query = f"?{request.query_string}" if request.query_string else ""
    raise web.HTTPMovedPermanently(f"/help/{quote(lang, safe='')}/articles/{quote(ref, safe='')}{query}")


async def _published(request: web.Request, t: Texts) -> list[Article]:
    try:
        articles = await request.config_dict[HUB].store.knowledge.list_articles()
    except StoreUnavailable:
        raise _unavailable(t) from None
    return [a for a in articles if a.published]


async def _category_names(request: web.Request, lang: str) -> dict[str, str]:
    """The desk's categories by id, each named in `lang` (交易纠纷, not "dispute")."""
    try:
        categories = await request.config_dict[HUB].store.desk.list_categories()
    except StoreUnavailable:
        return {}
    return {c.id: name_in(c.names, lang) or c.id for c in categories}


def _unavailable(t: Texts) -> web.HTTPException:
    page = _page(t, t.get("help.title"), f"<p>{html.escape(t.get('help.unavailable'))}</p>", status=503)
    return web.HTTPServiceUnavailable(body=page.body, headers=page.headers)


async def choose_language(request: web.Request) -> web.StreamResponse:
    # Caches keep one answer per Accept-Language: readers of the other language are sent right.
    raise web.HTTPFound(f"/help/{request_locale(request)}/", headers={"Vary": "Accept-Language"})


async def to_index(request: web.Request) -> web.StreamResponse:
    lang = _language(request)
    if lang is None:
        return await page_not_found(request)
    raise web.HTTPMovedPermanently(f"/help/{lang}/")


def _search_form(t: Texts, query: str) -> str:
    label = html.escape(t.get("help.search.label"))
    return (
        f'<form method="get" action="/help/{t.locale}/" role="search">'
        f'<input type="search" name="q" value="{html.escape(query)}" aria-label="{label}" maxlength="{MAX_QUERY}">'
        f'<button type="submit">{html.escape(t.get("help.search"))}</button></form>'
    )


def _item(article: Article) -> str:
    return (
        f'<li><a href="{html.escape(article_path(article))}">{html.escape(article.title)}</a>'
        f'<div class="summary">{html.escape(plain_text(article.answer, 140))}</div></li>'
    )


async def index(request: web.Request) -> web.StreamResponse:
    lang = _language(request)
    if lang is None:
        return await page_not_found(request)
    t = texts("help", lang)
    query = request.query.get("q", "")[:MAX_QUERY].strip()
    articles = await _published(request, t)
    found = (
        help_search([a for a in articles if a.language == lang], query) if query else kb.search(articles, language=lang)
    )
    if query and request.app[MATCHED_SEARCHES].take(client_address(request)) is None:
        found = await _matched(request, articles, query, lang) + found
        found = list({a.id: a for a in found}.values())  # each once, the matcher's ranking first
    body = _search_form(t, query)
    if query:
        body += f"<h1>{html.escape(t.get('help.results', query=query))}</h1>"
        body += f"<ul>{''.join(map(_item, found))}</ul>" if found else f"<p>{html.escape(t.get('help.none'))}</p>"
    elif not found:
        body += f"<h1>{html.escape(t.get('help.title'))}</h1><p>{html.escape(t.get('help.empty'))}</p>"
    else:
        body += f"<h1>{html.escape(t.get('help.title'))}</h1>"
        names = await _category_names(request, lang)
        categories: dict[str, list[Article]] = {}
        for article in sorted(found, key=lambda a: (a.category or "\uffff", a.title)):
            categories.setdefault(article.category, []).append(article)
        for category, items in categories.items():
            heading = names.get(category, category) or t.get("help.other")
            body += f"<h2>{html.escape(heading)}</h2><ul>{''.join(map(_item, items))}</ul>"
    alternates = "".join(f'<link rel="alternate" hreflang="{code}" href="/help/{code}/">' for code in PATH_LANGUAGES)
    head = alternates + ('<meta name="robots" content="noindex">' if query else "")
    return _page(t, t.get("help.title"), body, head=head)


async def _matched(request: web.Request, articles: list[Article], query: str, lang: str) -> list[Article]:
    """The published articles of `lang` the matcher takes `query` to ask (as a customer asks:
    "退款没到账" finds 退款多久到账 with no word of the title in it), surest first; an article
    of the other language counts as its translation in `lang`."""
    found = []
    for article, prediction in await request.config_dict[HUB].knowledge.match(query, SEARCH_GUESSES):
        if prediction.confidence < SEARCH_CONFIDENCE:
            continue
        shown = (
            article
            if article.language == lang
            else next((a for a in kb.translations(article, articles) if a.language == lang), None)
        )
        if shown is not None:
            found.append(shown)
    return found


async def show(request: web.Request) -> web.StreamResponse:
    # /help/zh-cn/articles/<id>: read as zh-CN here, so the one redirect below goes to the
    # article's address (page_not_found's would be followed by that one)
    lang = _language(request) or _LANGUAGES_ANY_CASE.get(request.match_info["lang"].lower())
    if lang is None:
        return await page_not_found(request)
    t = texts("help", lang)
    article_id = request.match_info["ref"]
    articles = await _published(request, t)
    article = _referenced({a.id: a for a in articles if a.language == lang}, article_id)
    if article is None:
        # An article of the other language (a link shared across languages): its translation
        # in this one, else the article itself.
        elsewhere = _referenced({a.id: a for a in articles}, article_id)
        if elsewhere is not None:
            here = [o for o in kb.translations(elsewhere, articles) if o.published and o.language == lang]
            raise web.HTTPFound(article_path(here[0] if here else elsewhere))
        text = t.get("help.not_found")
        return _page(t, text, f"<h1>{html.escape(text)}</h1>", status=404)
    canonical = article_path(article)
    if request.path != canonical and quote(request.path) != canonical:
        raise web.HTTPMovedPermanently(canonical)
    others = [a for a in kb.translations(article, articles) if a.published]
    head = (
        f'<link rel="canonical" href="{html.escape(_origin(request) + canonical)}">'
        f'<meta name="description" content="{html.escape(plain_text(article.answer, 160))}">'
        + "".join(
            f'<link rel="alternate" hreflang="{html.escape(o.language)}" href="{html.escape(article_path(o))}">'
            for o in others
        )
    )
    links = "".join(
        f'<p><a href="{html.escape(article_path(o))}" hreflang="{html.escape(o.language)}">'
        f"{html.escape(t.get('help.translation'))}</a></p>"
        for o in others
    )
    body = (
        f'<p><a href="/help/{lang}/">{html.escape(t.get("help.back"))}</a></p>'
        f"<article><h1>{html.escape(article.title)}</h1>{render_markdown(article.answer)}</article>{links}"
        f"{_search_form(t, '')}"
    )
    other_page = next((article_path(o) for o in others if o.language != lang), "")
    return _page(t, article.title, body, head=head, other_page=other_page)


def _referenced(by_id: dict[str, Article], reference: str) -> Article | None:
    """The article an address names: its id alone, or <id>-<slug> (the longest id it starts with)."""
    if reference in by_id:
        return by_id[reference]
    candidates = [a for i, a in by_id.items() if reference.startswith(i + "-")]
    return max(candidates, key=lambda a: len(a.id), default=None)


def _origin(request: web.Request) -> str:
    """The hub's [hub] public_url without its trailing slash ("" when not set)."""
    return (request.config_dict[HUB].config.hub.public_url or "").rstrip("/")


async def sitemap(request: web.Request) -> web.StreamResponse:
    """Every published article's canonical URL (absolute: the hub's public_url, else this host)."""
    origin = _origin(request) or f"{request.scheme}://{request.host}"
    articles = await _published(request, texts("help", request_locale(request)))
    urls = "".join(
        f"<url><loc>{html.escape(origin + article_path(a))}</loc>"
        + (f"<lastmod>{a.updated_at.date().isoformat()}</lastmod>" if a.updated_at else "")
        + "</url>"
        for a in sorted(articles, key=lambda a: (a.language, a.id))
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )
    return web.Response(text=document, content_type="application/xml", charset="utf-8")
