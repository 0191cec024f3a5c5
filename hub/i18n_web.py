"""Languages on the web: which catalog a request reads, API errors in that language,
and the catalogs as JSON for browsers (`GET /i18n/{domain}/{locale}.json`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from hub.i18n import (
    API_DETAIL_KEPT,
    DETAIL_KEPT,
    SOURCE_LOCALE,
    best_locale,
    domains,
    error_message,
    negotiate,
    say,
    texts,
)

# An explicit choice (the widget's data-lang) beats the browser's Accept-Language.
LANG_PARAM = "lang"
# The language a signed-in agent chose for themselves (their account's), set on the request
# once the API knows who asks: it beats the browser's, as for the events they read.
CHOSEN_LANGUAGE = web.RequestKey("chosen_language", str)
# The hub's `[hub] language`, for an agent's request that says no language at all (a script
# with no Accept-Language): as the events they read, not the source language.
HUB_LANGUAGE = web.RequestKey("hub_language", str)


def request_locale(request: web.Request) -> str:
    """The catalog locale for whoever made this request: `?lang=`, else the signed-in agent's
    own choice, else Accept-Language, else (an agent's request) the hub's language."""
    explicit = request.query.get(LANG_PARAM, "") or request.get(CHOSEN_LANGUAGE, "")
    if explicit:
        return best_locale(explicit)
    said = negotiate(request.headers.get("Accept-Language", ""))
    return said or best_locale(request.get(HUB_LANGUAGE, "") or SOURCE_LOCALE)


SAID = "_said"  # an error body's detail as a catalog key and its parameters: said in the reader's language


def said_as(key: str, params: Mapping[str, object]) -> dict[str, object]:
    """An ApiError's `details` whose detail (the English `message` a call site wrote) the reader
    gets from the hub catalog instead: a Chinese agent read a merge's consequences in English."""
    return {SAID: {"key": key, "params": params}}


@web.middleware
async def localized_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The `message` of every JSON error `{"error", "message"}` in the reader's language;
    the stable `error` code is never touched. English keeps the call site's own words."""
    response = await handler(request)
    if response.status < 400 or not isinstance(response, web.Response) or response.content_type != "application/json":
        return response
    locale = request_locale(request)
    if locale == SOURCE_LOCALE and SAID.encode() not in (response.body or b""):  # type: ignore[operator]
        return response
    try:
        body = json.loads(response.body or b"")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return response
    if not isinstance(body, dict) or not isinstance(body.get("error"), str) or "message" not in body:
        return response
    said = body.pop(SAID, None)
    detail = str(body["message"])
    if isinstance(said, dict) and locale != SOURCE_LOCALE:
        detail = say(locale, str(said.get("key")), dict(said.get("params") or {}))
    kept = API_DETAIL_KEPT if request.path.startswith("/api/") else DETAIL_KEPT
    body["message"] = error_message(body["error"], detail, locale, kept=kept)
    response.body = json.dumps(body, ensure_ascii=False).encode()
    response.headers["Content-Language"] = locale
    return response


async def catalog_json(request: web.Request) -> web.Response:
    """One catalog domain for a browser, in the catalog best for the asked locale (the
    answer's `locale` says which). Public and cacheable: catalogs hold no secrets, and
    the widget fetches its own from the customer's website (any origin)."""
    domain, wanted = request.match_info["domain"], request.match_info["locale"]
    if domain not in domains():
        raise web.HTTPNotFound(text=f"no catalog domain {domain!r}")
    body = texts(domain, wanted).as_json()
    return web.json_response(
        body,
        dumps=lambda value: json.dumps(value, ensure_ascii=False),
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/i18n/{domain}/{locale}.json", catalog_json)
