"""Merging or moving messages between two customers' tickets, and merging two contacts
that may be two people, needs the agent to confirm.

Each customer keeps seeing only the messages written by or to them (see
conversation/identity.py), but agents should know before they mix two people's
conversations, and scripts must say so explicitly: without `confirm: true` the API
answers 409 `confirm_needed` with what will happen, and the inbox asks with that text.
Two tickets are of one customer only when the same identity opened both
(`identity.same_customer`): after a contact merge, its tickets may still be two people's.
"""

from __future__ import annotations

from typing import Any

from conversation.identity import MergeDoubts, merge_doubts, same_customer
from conversation.model import Contact, Conversation, Direction, MessageKind
from conversation.store import Store
from hub.api.framework import ApiError
from hub.i18n import SOURCE_LOCALE, Phrase, hub_texts, say
from hub.i18n_web import said_as


async def require_confirmation(
    store: Store, source: Conversation, target: Conversation, *, moving_one: bool, confirmed: bool
) -> None:
    """Raise 409 when source and target belong to different customers and it was not confirmed."""
    if confirmed:
        return
    if same_customer(source, target):
        for claimed, other in ((source, target), (target, source)):
            if await _only_claimed(store, claimed):
                raise confirm_needed(
                    "confirm.claimed_by_list", {"source": str(claimed.number), "target": str(other.number)}
                )
        return
    labels = await store.contacts.contact_labels([source.contact_id, target.contact_id])
    who: list[str | Phrase] = [
        labels.get(conv.contact_id) or {"key": "confirm.another_customer"} for conv in (source, target)
    ]
    if source.contact_id == target.contact_id:  # one contact, two people: name each by the identity
        who = [
            {
                "key": "confirm.identity",
                "params": {"who": name, "channel": conv.channel, "address": conv.customer_address},
            }
            for name, conv in zip(who, (source, target), strict=True)
        ]
    params = {"source": str(source.number), "source_who": who[0], "target": str(target.number), "target_who": who[1]}
    raise confirm_needed("confirm.move_across" if moving_one else "confirm.merge_across", params)


def confirm_needed(key: str, params: dict[str, Any]) -> ApiError:
    """The 409 for a hub catalog text (its parameters may be phrases: hub.i18n.say): in English
    as the API's words, in the reader's language once localized_errors has it (said_as)."""
    return ApiError(409, "confirm_needed", say(SOURCE_LOCALE, key, params), details=said_as(key, params))


async def _only_claimed(store: Store, ticket: Conversation) -> bool:
    """Whether every customer's mail on the ticket came through a list that rewrote its From:
    the person is only named in headers anyone can write (README "list rewrote From"), so the
    same identity as the other ticket's proves nothing."""
    written = [
        m
        for m in await store.tickets.list_messages(ticket.id)
        if m.direction is Direction.INBOUND and m.kind is MessageKind.MESSAGE
    ]
    return bool(written) and all("list_rewrite" in (m.raw or {}).get("flags", []) for m in written)


def require_contact_confirmation(source: Contact, target: Contact, *, confirmed: bool) -> None:
    """Raise 409 when the two contacts may be two people and it was not confirmed."""
    doubts = merge_doubts(source, target)
    if confirmed or not doubts:
        return
    raise confirm_needed("confirm.merge_contacts", contacts_may_differ(source, target, doubts))


def contacts_may_differ(source: Contact, target: Contact, doubts: MergeDoubts) -> dict[str, Any]:
    """Why merging these contacts asks, as the parameters of its catalog text (each reason a
    phrase of its own, said in the agent's language with the sentence)."""
    a = source.name or {"key": "confirm.this_contact"}
    b = target.name or {"key": "confirm.other_contact"}
    reasons: list[Phrase] = []
    if doubts.emails is not None:
        emails = {"a": a, "a_email": doubts.emails[0], "b": b, "b_email": doubts.emails[1]}
        reasons.append({"key": "confirm.contacts.emails", "params": emails})
    if doubts.channels:
        channels = [_channel_said(name) for name in doubts.channels]
        reasons.append({"key": "confirm.contacts.channels", "params": {"channels": channels}})
    return {"a": a, "b": b, "reasons": reasons}


def _channel_said(name: str) -> str | Phrase:
    """A channel by its name in the reader's language (邮件, 网页聊天) when it is one of the
    kinds the hub names; a channel named otherwise in hub.toml by that name (a trial read
    "两人在 email 上…")."""
    key = f"channel.{name}"
    return {"key": key} if hub_texts(SOURCE_LOCALE).has(key) else name
