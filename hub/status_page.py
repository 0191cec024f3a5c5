"""A ticket's status page for its customer: `/status/<signed token>` (hub/status_links.py).

Server-rendered HTML, no script: the number, status, team, the public messages (never
notes or system events, and only those written by or to the ticket's customer) and a
reply box. A reply is ingested like any message on the ticket's channel, so the agents
see it where they see everything else; the form's nonce is its idempotency key, so a
double submit or a retried POST stores it once. The form also carries an HMAC proof of
the token and nonce (only this page can make one: CSRF) and a cross-site Origin is
refused. A tampered link gets 403, an expired one 410, and neither shows anything of
the ticket. zh-CN or en: `?lang=`, else Accept-Language.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from conversation.inbound import Inbound, InvalidInbound, Sender
from conversation.model import Conversation, Direction, Message
from conversation.progress import public_history
from conversation.store import StoreUnavailable
from hub.app_keys import HUB
from hub.i18n import Texts, texts
from hub.i18n_web import LANG_PARAM, request_locale
from hub.sdk import IngestUnavailable, ticket_zone
from hub.status_links import LinkProblem, StatusLinks

log = logging.getLogger(__name__)

CHANNEL_TAG = "status-page:"  # external ids of replies written on the page
MAX_REPLY_CHARS = 10_000
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OTHER_LANGUAGE = {"zh-CN": "en", "en": "zh-CN"}

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}
header{display:flex;justify-content:space-between;align-items:baseline}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}
ol{list-style:none;padding:0}li{border:1px solid #ddd;border-radius:6px;padding:.5rem .75rem;margin:.5rem 0}
li.us{background:#f3f7ff}.who{font-weight:600}time{color:#666;font-size:.85rem;margin-left:.5rem}
.text{white-space:pre-wrap;overflow-wrap:anywhere}textarea{width:100%;min-height:6rem;font:inherit}
.notice{background:#eef9ee;border:1px solid #9c9;padding:.5rem}
.error{background:#fdeeee;border:1px solid #c99;padding:.5rem}
"""


def build_status_page() -> web.Application:
    sub = web.Application()
    sub.router.add_get("/{token}", show)
    sub.router.add_post("/{token}", reply)
    from hub.status_rating import rate, show_rating  # the csat plugin's one-click rating links

    sub.router.add_get("/{token}/rate/{score}", show_rating)
    sub.router.add_post("/{token}/rate/{score}", rate)
    return sub


def _catalog(request: web.Request) -> Texts:
    return texts("progress", request_locale(request))


def _page(t: Texts, title: str, body: str, *, status: int = 200) -> web.Response:
    nonce = secrets.token_urlsafe(12)
    document = (
        f'<!doctype html><html lang="{t.locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{html.escape(title)}</title><style nonce="{nonce}">{STYLE}</style></head>'
        f"<body>{body}</body></html>"
    )
    response = web.Response(text=document, content_type="text/html", charset="utf-8", status=status)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Cache-Control"] = "no-store"  # a shared computer's back button shows nothing later
    # The token never leaves in a Referer to another site; the form's own POST keeps its Origin.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _problem_page(t: Texts, problem: LinkProblem) -> web.Response:
    key = "page.expired" if problem is LinkProblem.EXPIRED else "page.invalid"
    title = t.get(f"{key}.title")
    body = f"<h1>{html.escape(title)}</h1><p>{html.escape(t.get(f'{key}.text'))}</p>"
    return _page(t, title, body, status=410 if problem is LinkProblem.EXPIRED else 403)


@dataclass(frozen=True, slots=True)
class Visit:
    """A request with a good link: the reader's texts, the signer, the ticket."""

    texts: Texts
    links: StatusLinks
    ticket: Conversation


class Refused(Exception):
    """The page to answer instead (a bad link, the store away): it shows nothing of any ticket."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _unavailable(t: Texts) -> web.Response:
    return _page(t, t.get("page.unavailable"), f"<p>{html.escape(t.get('page.unavailable'))}</p>", status=503)


async def _visit(request: web.Request) -> Visit:
    """The ticket the link names; raises Refused with the page that says why there is none."""
    t = _catalog(request)
    hub = request.config_dict[HUB]
    links = hub.status_links
    if links is None:  # the hub has not started yet
        raise Refused(_unavailable(t))
    checked = links.check(request.match_info["token"])
    if checked.problem is not None:
        raise Refused(_problem_page(t, checked.problem))
    try:
        ticket = await hub.store.tickets.get_conversation_by_number(checked.number)
    except StoreUnavailable:
        raise Refused(_unavailable(t)) from None
    if ticket is None:
        raise Refused(_problem_page(t, LinkProblem.TAMPERED))
    return Visit(t, links, ticket)


def _self_url(request: web.Request, t: Texts, **extra: str) -> str:
    query = urlencode({LANG_PARAM: t.locale, **extra})
    return f"{request.path}?{query}"


def _own_link_line(own_links: str) -> re.Pattern[str]:
    """The hub's own "see your ticket here: <link>" line (progress.link, in either language)
    naming a status page; an agent's sentence with the link in it stays as they wrote it."""
    variants = []
    for locale in ("en", "zh-CN"):
        before, _, after = texts("progress", locale).get("progress.link", url="\0").partition("\0")
        variants.append(re.escape(before) + re.escape(own_links) + r"\S+" + re.escape(after))
    return re.compile("^(?:" + "|".join(variants) + ")$")


def _history(t: Texts, messages: list[Message], zone: str, own_links: str) -> str:
    """The public messages, their times in `zone` (named as the reader says it: 北京时间), without
    the hub's line that links to this page (`own_links`, the status page's address): a
    greeting that said "follow your ticket here" read oddly on the page itself (a trial)."""
    if not messages:
        return f"<p>{html.escape(t.get('page.empty'))}</p>"
    zone_name = texts("hub", t.locale).zone_name(zone)
    own_line = _own_link_line(own_links)
    items = []
    for message in messages:
        ours = message.direction is Direction.OUTBOUND
        who = t.get("page.us") if ours else t.get("page.you")
        names = "".join(f"<li>{html.escape(a.name)}</li>" for a in message.attachments)
        text = "\n".join(line for line in message.text.split("\n") if not own_line.match(line.strip())).strip()
        local = message.created_at.astimezone(ZoneInfo(zone))
        items.append(
            f'<li class="{"us" if ours else "you"}"><span class="who">{html.escape(who)}</span>'
            f'<time datetime="{message.created_at.isoformat()}">{local:%Y-%m-%d %H:%M} {html.escape(zone_name)}</time>'
            f'<div class="text">{html.escape(text)}</div>{f"<ul>{names}</ul>" if names else ""}</li>'
        )
    return f"<ol>{''.join(items)}</ol>"


async def _render(request: web.Request, visit: Visit, *, error: str = "", status: int = 200) -> web.Response:
    hub = request.config_dict[HUB]
    t, links, ticket = visit.texts, visit.links, visit.ticket
    messages = public_history(await hub.store.tickets.list_messages(ticket.id), ticket)
    team = await hub.team_name(ticket.team, t.locale) if ticket.team else t.get("progress.team.none")
    nonce, proof = links.new_form(request.match_info["token"])
    # times in the zone status answers use (a trial's Chinese customer read UTC)
    zone = await ticket_zone(hub.actions, ticket.team, hub.timezone)
    own_links = hub.config.hub.public_url.rstrip("/") + "/status/"
    title = t.get("page.title", number=ticket.number)
    other = OTHER_LANGUAGE.get(t.locale, "en")
    notice = ""
    if error:
        notice = f'<p class="error" role="alert">{html.escape(error)}</p>'
    elif request.query.get("sent") == "1":
        notice = f'<p class="notice" role="status">{html.escape(t.get("page.sent"))}</p>'
    body = (
        f"<header><h1>{html.escape(title)}</h1>"
        f'<a href="{html.escape(f"{request.path}?{urlencode({LANG_PARAM: other})}")}" hreflang="{other}">'
        f"{html.escape(t.get('page.language'))}</a></header>{notice}"
        f"<dl><dt>{html.escape(t.get('page.status'))}</dt>"
        f'<dd id="status">{html.escape(t.get(f"progress.status.{ticket.status.value}"))}</dd>'
        f'<dt>{html.escape(t.get("page.team"))}</dt><dd id="team">{html.escape(team)}</dd></dl>'
        f"<h2>{html.escape(t.get('page.history'))}</h2>{_history(t, messages, zone, own_links)}"
        f'<form method="post" action="{html.escape(_self_url(request, t))}">'
        f'<label for="text">{html.escape(t.get("page.reply"))}</label>'
        f'<textarea id="text" name="text" maxlength="{MAX_REPLY_CHARS}" required></textarea>'
        f'<input type="hidden" name="nonce" value="{html.escape(nonce)}">'
        f'<input type="hidden" name="proof" value="{html.escape(proof)}">'
        f'<button type="submit">{html.escape(t.get("page.send"))}</button></form>'
    )
    return _page(t, title, body, status=status)


async def show(request: web.Request) -> web.Response:
    try:
        visit = await _visit(request)
        return await _render(request, visit)
    except Refused as refused:
        return refused.response
    except StoreUnavailable:
        return _unavailable(_catalog(request))


def _cross_site(request: web.Request) -> bool:
    """A browser's Origin naming another site, or hiding it ("null": a sandboxed frame): a forged
    form. No Origin at all is allowed (old browsers); the form's proof still has to hold."""
    origin = request.headers.get("Origin", "")
    if not origin:
        return False
    public = urlsplit(request.config_dict[HUB].config.hub.public_url).netloc
    return urlsplit(origin).netloc not in {request.host, public}


def _form_refused(t: Texts, status: int) -> web.Response:
    return _page(
        t, t.get("page.form_invalid"), f'<p class="error">{html.escape(t.get("page.form_invalid"))}</p>', status=status
    )


async def reply(request: web.Request) -> web.StreamResponse:
    try:
        visit = await _visit(request)
        return await _reply(request, visit)
    except Refused as refused:
        return refused.response
    except StoreUnavailable:
        return _unavailable(_catalog(request))


async def _reply(request: web.Request, visit: Visit) -> web.StreamResponse:
    t, links, ticket = visit.texts, visit.links, visit.ticket
    try:  # a browser sends a form; anything else (undecodable, broken multipart, JSON) is refused
        if request.content_type not in FORM_TYPES:
            raise ValueError(request.content_type)
        form = await request.post()
    except (ValueError, UnicodeDecodeError, AssertionError, HttpProcessingError):
        return _form_refused(t, 400)
    nonce, proof, text = (str(form.get(k, "")) for k in ("nonce", "proof", "text"))
    token = request.match_info["token"]
    if _cross_site(request) or not links.form_ok(token, nonce, proof):
        return _form_refused(t, 403)
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return await _render(request, visit, error=t.get("page.reply_empty"), status=400)
    if len(text) > MAX_REPLY_CHARS:
        return await _render(request, visit, error=t.get("page.reply_too_long"), status=400)
    hub = request.config_dict[HUB]
    inbound = Inbound(
        channel=ticket.channel,
        external_id=f"{CHANNEL_TAG}{nonce}",  # the form's nonce: a second submit is the same message
        sender=Sender(address=ticket.customer_address or ticket.thread_key),
        thread_key=ticket.thread_key,
        text=text,
        conversation_hint=ticket.id,
        raw={"via": "status_page"},
    )
    try:
        await hub.ingest(inbound)
    except InvalidInbound as exc:
        return await _render(request, visit, error=str(exc), status=400)
    except IngestUnavailable:
        return _unavailable(t)
    raise web.HTTPSeeOther(_self_url(request, t, sent="1"))  # reload shows the page, never re-posts
