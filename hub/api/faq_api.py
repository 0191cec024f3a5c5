"""The FAQ bot's figures (/api/v1/faq/stats, /api/v1/kb/articles/{id}/stats): per article, how
many answers it gave, how many resolved their ticket without a person (deflected) and how
many the customer said did not help, counted from the bot's `answer` records (plugins/faq.py).
Any signed-in account reads them: they name articles, never a ticket or a customer."""

from __future__ import annotations

from typing import Any

from conversation.faq_bot import ArticleStats, stats_by_article, total
from hub.api.framework import Call, not_found
from hub.api.routes import ANY, api, hub_of
from hub.metrics import faq_counts

STATS = api.schema(
    "FaqStats",
    {
        "type": "object",
        "description": "answered, deflected (resolved by the bot, no person since), helpful (deflected included),"
        " not_helpful, unconfirmed, waiting (no word yet), reopened (resolved by the bot, then the customer came"
        " back and a person took it: not deflected), deflection_rate and not_helpful_rate (of answered)",
    },
)


@api.route(
    "GET",
    "/v1/faq/stats",
    summary="The FAQ bot's deflection and 'not helpful' figures, in total and per article (most answered first)",
    tag="knowledge",
    response=ANY,
)
async def faq_stats(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    stats = stats_by_article(await faq_counts(hub.store))
    titles = {a.id: (a.title, a.language) for a in await hub.store.knowledge.list_articles()}
    ranked = sorted(stats.items(), key=lambda item: (-item[1].answered, item[0]))
    return {
        "totals": total(stats).as_dict(),
        "items": [
            {
                "article_id": article_id,
                "title": titles.get(article_id, ("", ""))[0],  # "" for an article deleted since
                "language": titles.get(article_id, ("", ""))[1],
                **figures.as_dict(),
            }
            for article_id, figures in ranked
        ],
    }


@api.route(
    "GET",
    "/v1/kb/articles/{article_id}/stats",
    summary="How the FAQ bot's answers with one article went: deflection and 'not helpful' figures",
    tag="knowledge",
    response=STATS,
)
async def article_stats(call: Call) -> dict[str, Any]:
    hub = hub_of(call)
    article_id = call.path["article_id"]
    if await hub.store.knowledge.get_article(article_id) is None:
        raise not_found("article")
    figures = stats_by_article(await faq_counts(hub.store, article_id)).get(article_id, ArticleStats())
    return {"article_id": article_id, **figures.as_dict()}
