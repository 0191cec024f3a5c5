"""Agent assistance and learning: the articles that answer a ticket's latest customer
message (the thread's suggestion panel), and the review queue of what resolved tickets
teach (admins and supervisors approve or reject; hub/services/kb_learning.py)."""

from __future__ import annotations

from typing import Any

from conversation import kb_learning as learn
from conversation.faq_bot import ANSWER_KIND, PLUGIN, SHOWN_MIN_CONFIDENCE, Outcome, one_per_group
from conversation.knowledge import MAX_ANSWER, MAX_EXAMPLE, MAX_TITLE
from conversation.markdown_html import render_markdown, reply_text
from conversation.records import Record, RecordQuery
from conversation.store import Store
from conversation.text_language import reply_language
from hub.access import Access
from hub.api.framework import Call, not_found
from hub.api.kb_api import WRITERS
from hub.api.routes import ANY, api, conversation_or_404, hub_of, services_of
from hub.api.serialize import iso
from hub.schema import Int, Obj, Str

SUGGESTIONS = 3
REVIEWS = "proposals are reviewed by admins and supervisors"


@api.route(
    "GET",
    "/v1/conversations/{conversation_id}/suggestions",
    summary="The published articles that best answer the ticket's latest customer message, with the matcher's"
    " confidence (at least 5 %); an article and its translation once, in the language the bot would answer in (the"
    " question's, else the customer's latest clear one, else the contact's) where a translation exists; an answer"
    " the customer told the FAQ bot did not help is marked `turned_down` and moved to the end",
    tag="knowledge",
    query={"k": Int(minimum=1, maximum=10)},
    response=ANY,
)
async def conversation_suggestions(call: Call) -> dict[str, Any]:
    conv = await conversation_or_404(call)
    hub = hub_of(call)
    messages = await hub.store.tickets.list_messages(conv.id)
    question = learn.latest_question(messages)
    contact = await hub.store.contacts.get_contact(conv.contact_id)
    # The language the bot would answer in: the question's own, else the customer's latest clear one.
    language = reply_language(question, messages, contact.language if contact else "")
    model = hub.knowledge
    articles = list(model.articles.values())
    wanted = call.query.get("k", SUGGESTIONS)
    # An article and its translation are one answer (shown once, in that language): ask for
    # more than wanted so that k different answers remain.
    matched = await model.match(learn.matched_words(question), 2 * wanted)
    said_no = await _turned_down(hub.store, conv.id)
    worth = [(a, p) for a, p in matched if p.confidence >= SHOWN_MIN_CONFIDENCE]
    items = []
    for article, prediction in one_per_group(worth, lambda pair: pair[0].group_id)[:wanted]:
        shown = learn.in_language(article, articles, language)
        items.append(
            {
                "id": article.id,
                "article_id": shown.id,
                "language": shown.language,
                "title": shown.title,
                "answer": shown.answer,
                "html": render_markdown(shown.answer),
                "text": reply_text(shown.answer),  # what "insert" puts in the reply box
                "confidence": round(prediction.confidence, 4),
                "turned_down": article.group_id in said_no,
            }
        )
    items.sort(key=lambda item: bool(item["turned_down"]))  # stable: the rest keep the matcher's order
    return {"question": question, "language": learn.kb_language(language), "items": items}


async def _turned_down(store: Store, conversation_id: str) -> set[str]:
    """The article groups the FAQ bot answered on this ticket that the customer said did not help."""
    query = RecordQuery(PLUGIN, ANSWER_KIND, conversation_id=conversation_id, status=Outcome.NOT_HELPFUL.value)
    return {str(r.data.get("group", "")) for r in await store.records.query_records(query)}


def proposal_json(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "conversation_id": record.conversation_id,
        "status": record.status,
        **record.data,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
    }


async def _visible(call: Call, record: Record) -> bool:
    """A proposal is shown to whoever may read its ticket (the question came from there)."""
    hub = hub_of(call)
    conv = await hub.store.tickets.get_conversation(record.conversation_id)
    return conv is not None and hub.access.allows(call.viewer, conv, Access.READ)


async def _proposal(call: Call) -> Record:
    record = await hub_of(call).store.records.get_record(learn.PLUGIN, learn.KIND, call.path["proposal_id"])
    if record is None or not await _visible(call, record):
        raise not_found("proposal")
    return record


@api.route(
    "GET",
    "/v1/kb/proposals",
    summary="The learning review queue: what tickets agents resolved propose, personal data masked, newest first"
    " (admins and supervisors)",
    tag="knowledge",
    query={"limit": Int(minimum=1, maximum=200)},
    roles=WRITERS,
    refusal=REVIEWS,
    response=ANY,
)
async def list_proposals(call: Call) -> dict[str, Any]:
    found = await services_of(call).learning.pending(call.query.get("limit", 100))
    return {"items": [proposal_json(r) for r in found if await _visible(call, r)]}


@api.route(
    "POST",
    "/v1/kb/proposals/{proposal_id}/approve",
    summary="Approve a proposal, as edited: an example of `article_id`, or without one a draft article"
    " (admins and supervisors); the matcher learns it at once; 409 when decided already",
    tag="knowledge",
    roles=WRITERS,
    refusal=REVIEWS,
    body=Obj(
        {
            "question": Str(max_length=MAX_EXAMPLE, min_length=1, description="the example, as the reviewer edited it"),
            "article_id": Str(max_length=80, description='the article it becomes an example of; "": a draft article'),
            "title": Str(max_length=MAX_TITLE, description="the draft article's title (default: the question)"),
            "answer": Str(max_length=MAX_ANSWER, description="the draft article's answer (default: the agent's)"),
        },
        required=("question",),
    ),
    response=ANY,
)
async def approve_proposal(call: Call) -> dict[str, Any]:
    record = await _proposal(call)
    body = call.body
    approved = await services_of(call).learning.approve(
        record.id,
        question=body["question"],
        article_id=body.get("article_id", ""),
        title=body.get("title", ""),
        answer=body.get("answer", ""),
        who=call.who,
    )
    return proposal_json(approved)


@api.route(
    "POST",
    "/v1/kb/proposals/{proposal_id}/reject",
    summary="Discard a proposal (admins and supervisors); 409 when decided already",
    tag="knowledge",
    roles=WRITERS,
    refusal=REVIEWS,
    response=ANY,
)
async def reject_proposal(call: Call) -> dict[str, Any]:
    record = await _proposal(call)
    return proposal_json(await services_of(call).learning.reject(record.id, who=call.who))
