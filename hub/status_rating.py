"""Rating a ticket from its status page: `/status/<token>/rate/<score>`, the one-click links
of the `csat` plugin's email survey (hub/status_links.StatusLinks.rating_urls).

The GET records nothing: it shows the chosen score with one button to confirm it (and a box
for an optional comment), and the POST records it. Mail scanners and link previews (Outlook
Safe Links, antivirus gateways, chat unfurlers) fetch every link of a message, often all
five; recording on GET would let the scanner answer the survey, and the last link fetched
would win. A customer clicks once more, and the score is theirs. A later POST (another
score) replaces the earlier one until the survey's answer window ends. The form carries
the status page's nonce and proof (only a page we served can post: CSRF) and a cross-site
Origin is refused; the token is the ticket's own signed status link, so it needs no sign-in
and nobody without the link can rate.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from conversation.errors import InvalidInput
from conversation.quality import MAX_COMMENT_CHARS, SCORES, Survey, takes_answer
from conversation.store import StoreUnavailable
from hub.app_keys import HUB, SERVICES
from hub.i18n import Texts, texts
from hub.i18n_web import LANG_PARAM, request_locale
from hub.status_page import FORM_TYPES, Refused, Visit, _cross_site, _form_refused, _page, _unavailable, _visit

VIA = "status_page"


def _catalog(request: web.Request) -> Texts:
    return texts("csat", request_locale(request))


def _score(request: web.Request) -> int | None:
    value = request.match_info["score"]
    return int(value) if value.isdigit() and int(value) in SCORES else None


async def _survey(request: web.Request, visit: Visit) -> Survey | None:
    """The ticket's survey while it takes answers; None otherwise."""
    hub = request.config_dict[HUB]
    survey = await hub.store.quality.get_survey(visit.ticket.id)
    if survey is None or not takes_answer(survey, hub.actions.clock()):
        return None
    return survey


def _closed(t: Texts) -> web.Response:
    title = t.get("csat.page.closed")
    return _page(t, title, f"<h1>{html.escape(title)}</h1>", status=410)


def _confirm_page(request: web.Request, visit: Visit, t: Texts, score: int, *, done: bool) -> web.Response:
    title = t.get("csat.page.title", number=visit.ticket.number)
    label = html.escape(t.get(f"csat.score.{score}"))
    if done:
        body = (
            f'<h1>{html.escape(title)}</h1><p class="notice" role="status">{html.escape(t.get("csat.page.thanks"))}</p>'
        )
        return _page(t, title, body)
    nonce, proof = visit.links.new_form(request.match_info["token"])
    action = f"{request.path}?{urlencode({LANG_PARAM: t.locale})}"
    body = (
        f"<h1>{html.escape(title)}</h1>"
        f'<p id="chosen">{html.escape(t.get("csat.page.chosen"))} <strong>{label}</strong></p>'
        f'<form method="post" action="{html.escape(action)}">'
        f'<label for="comment">{html.escape(t.get("csat.page.comment"))}</label>'
        f'<textarea id="comment" name="comment" maxlength="{MAX_COMMENT_CHARS}"></textarea>'
        f'<input type="hidden" name="nonce" value="{html.escape(nonce)}">'
        f'<input type="hidden" name="proof" value="{html.escape(proof)}">'
        f'<button type="submit">{html.escape(t.get("csat.page.confirm"))}</button></form>'
    )
    return _page(t, title, body)


async def show_rating(request: web.Request) -> web.Response:
    t = _catalog(request)
    try:
        visit = await _visit(request)
        score = _score(request)
        if score is None:
            raise web.HTTPNotFound()
        if await _survey(request, visit) is None:
            return _closed(t)
        return _confirm_page(request, visit, t, score, done=request.query.get("done") == "1")
    except Refused as refused:
        return refused.response
    except StoreUnavailable:
        return _unavailable(t)


async def rate(request: web.Request) -> web.StreamResponse:
    t = _catalog(request)
    try:
        visit = await _visit(request)
        score = _score(request)
        if score is None:
            raise web.HTTPNotFound()
        return await _rate(request, visit, t, score)
    except Refused as refused:
        return refused.response
    except StoreUnavailable:
        return _unavailable(t)


async def _rate(request: web.Request, visit: Visit, t: Texts, score: int) -> web.StreamResponse:
    try:
        if request.content_type not in FORM_TYPES:
            raise ValueError(request.content_type)
        form = await request.post()
    except (ValueError, UnicodeDecodeError, AssertionError, HttpProcessingError):
        return _form_refused(t, 400)
    nonce, proof, comment = (str(form.get(k, "")) for k in ("nonce", "proof", "comment"))
    if _cross_site(request) or not visit.links.form_ok(request.match_info["token"], nonce, proof):
        return _form_refused(t, 403)
    survey = await _survey(request, visit)
    if survey is None:
        return _closed(t)
    quality = request.config_dict[SERVICES].quality
    comment = comment.replace("\r\n", "\n").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        return _form_refused(t, 400)
    survey = await quality.rate(survey, score, via=VIA)
    if comment:
        try:
            await quality.comment(survey, comment)
        except InvalidInput:
            return _form_refused(t, 400)
    raise web.HTTPSeeOther(f"{request.path}?{urlencode({LANG_PARAM: t.locale, 'done': '1'})}")
