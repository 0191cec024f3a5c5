"""Domain objects as the API's JSON (times as ISO 8601 UTC)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from conversation.delivery_errors import split_coded_error
from conversation.identity import COPY_OF
from conversation.model import Agent, ApiToken, CannedResponse, Contact, Conversation, Direction, Message, MessageKind
from conversation.visitors import anonymous_id
from hub.i18n import hub_texts
from hub.thread_events import event_of, name_in


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


PREVIEW_CHARS = 140


def preview_json(msg: Message | None, locale: str = "") -> dict[str, Any] | None:
    """The start of a ticket's newest message, for the inbox list and the contact panel."""
    if msg is None:
        return None
    return {
        "text": " ".join(shown_text(msg, locale).split())[:PREVIEW_CHARS],
        "kind": msg.kind.value,
        "author_type": msg.author_type.value,
        "attachments": len(msg.attachments),
        "created_at": iso(msg.created_at),
    }


def conversation_json(
    conv: Conversation,
    *,
    contact_name: str = "",
    unread: bool = False,
    latest: Message | None = None,
    locale: str = "",
) -> dict[str, Any]:
    return {
        "id": conv.id,
        "number": conv.number,
        "channel": conv.channel,
        "subject": conv.subject,
        "status": conv.status.value,
        "priority": conv.priority.value,
        "category": conv.category,
        "tags": conv.tags,
        "team": conv.team,
        "assignee_id": conv.assignee_id or None,
        "contact_id": conv.contact_id,
        "contact_name": contact_name,
        # An anonymous visitor's short id: each inbox names them in its language ("访客 V5U_n9").
        "contact_anonymous": anonymous_id(contact_name, [conv.customer_address]),
        "handed_off": conv.handed_off_at is not None,
        "merged_into": conv.merged_into or None,
        "previous_id": conv.previous_id or None,
        "customer_address": conv.customer_address or None,  # who replies go to on its channel
        "unread": unread,
        "created_at": iso(conv.created_at),
        "last_message_at": iso(conv.last_message_at),
        "last_inbound_at": iso(conv.last_inbound_at),
        "first_response_at": iso(conv.first_response_at),
        "resolved_at": iso(conv.resolved_at),
        "snoozed_until": iso(conv.snoozed_until),
        "fields": dict(conv.fields),  # custom field values by key, canonical text ("12.50 CNY")
        "priority_set_by": conv.priority_set_by or None,  # "agent:<id>", "rule:<name>", "plugin:<name>"
        "preview": preview_json(latest, locale),
    }


def message_json(msg: Message, locale: str = "", writer: str = "") -> dict[str, Any]:
    """`locale`: the reader's language, in which a system event's `text` is said (events written
    by the store's pure rules, such as the keyword-priority line, are stored in English);
    `writer`: the name of whoever wrote a customer's message when that is not the ticket's
    customer (a Cc'd colleague, another member of a group chat)."""
    delivery = msg.delivery
    return {
        "id": msg.id,
        "conversation_id": msg.conversation_id,
        "channel": msg.channel,
        "direction": msg.direction.value,
        "kind": msg.kind.value,
        "author_type": msg.author_type.value,
        "author_id": msg.author_id or None,
        "text": shown_text(msg, locale),
        "html": msg.html or None,  # sanitised by the adapter before it was stored
        **channel_details(msg),
        "attachments": [
            {
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "ref": a.blob_ref,
                "url": f"/api/v1/attachments/{quote(a.blob_ref, safe='')}?message={msg.id}",
            }
            for a in msg.attachments
        ],
        "choices": [{"id": c.id, "label": c.label} for c in msg.choices],
        "choice_id": msg.choice_id or None,
        "created_at": iso(msg.created_at),
        "edits": [  # what the customer's message said before each edit, oldest first
            {"at": e.get("at"), "previous_text": e.get("previous_text", "")} for e in (msg.raw or {}).get("edits", [])
        ],
        "deleted_at": (msg.raw or {}).get("deleted_at"),
        # the reply this message repeats on another channel (a web-chat reply also mailed to a
        # visitor who left); null for any other
        "copy_of": (msg.raw or {}).get(COPY_OF),
        # the number of the ticket it was on before a merge moved it here; null for its own
        "merged_from": (msg.raw or {}).get("merged_from"),
        # who wrote a customer's message: the inbox names one who is not the ticket's customer
        "from": (msg.customer_address or None) if msg.direction is Direction.INBOUND else None,
        "from_name": writer or None,
        # A system event's catalog key and parameters: agents' inboxes say it in their language.
        "event": (msg.raw or {}).get("event") if msg.kind is MessageKind.EVENT else None,
        "delivery": None
        if delivery is None
        else {
            "status": delivery.status.value,
            "attempts": delivery.attempts,
            # the cause's stable code (the inbox says it in the agent's language) and the detail
            "error": split_coded_error(delivery.error)[1] or None,
            "error_code": split_coded_error(delivery.error)[0] or None,
            "next_attempt_at": iso(delivery.next_attempt_at),
            "sent_at": iso(delivery.sent_at),
            # the channel's own id of the delivered message (the adapter's Sent.external_id)
            "external_id": msg.external_id or None,
        },
    }


def shown_text(msg: Message, locale: str) -> str:
    """The message's text for a reader of `locale` ("": as stored): a system event said in
    that language, a bot's note in that language when it was written in several."""
    if not locale:
        return msg.text
    if msg.kind is MessageKind.EVENT:
        return event_text(msg, locale)
    texts = (msg.raw or {}).get("texts") if msg.kind is MessageKind.NOTE else None
    if isinstance(texts, dict):  # its tag, else its language; else the stored text, never a third language
        said = {str(k): str(v) for k, v in texts.items()}
        return name_in(said, locale, any_language=False) or msg.text
    return msg.text


def event_text(msg: Message, locale: str) -> str:
    """A system event's line in `locale` from its key and parameters; its stored text when the
    catalog does not know the key (an event stored before keys, a plugin's own line)."""
    event = event_of(msg.raw)
    if event is None or not hub_texts(locale).has(event.key):
        return msg.text
    return event.text(locale)


def channel_details(msg: Message) -> dict[str, Any]:
    """What a channel kept beside the message (an email's subject, Message-ID and whole
    text, quoted history included; flags such as `truncated`): for "show quoted text"."""
    raw = msg.raw or {}
    flags = [f for f in raw.get("flags", []) if isinstance(f, str)]
    if msg.automatic and "automatic" not in flags:
        flags.append("automatic")  # an auto-reply or a machine's mail: no person is waiting on it
    return {
        "subject": raw.get("subject") or None,
        "message_id": raw.get("message_id") or None,
        "full_text": whole_text(raw.get("full_text"), msg.text),
        "full_html": raw.get("full_html") or None,  # the whole HTML when `html` was shortened
        "flags": flags,
        # the webhook channel's `metadata`: the platform's own fields, kept as sent (redacted)
        "metadata": raw.get("metadata") if isinstance(raw.get("metadata"), dict) else None,
    }


def whole_text(full: Any, shown: str) -> str | None:
    """The whole text when `shown` is only its new part; None when it adds nothing.

    A mail's text keeps its CRLF line ends while the shown part has LF: compared (and
    given) with LF, and trailing blanks aside, so "show quoted text" appears only when
    there is more to see."""
    if not isinstance(full, str) or not full:
        return None
    full = full.replace("\r\n", "\n").replace("\r", "\n")
    if _lines(full) == _lines(shown):
        return None
    return full


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n")]


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "anonymous": anonymous_id(contact.name, [i.address for i in contact.identities]),  # as contact_anonymous
        "email": contact.email or None,
        "email_verified": contact.email_verified,  # False: only claimed, never used to join contacts
        "merged_into": contact.merged_into or None,
        "language": contact.language or None,  # as the channel said it, detected, or set by an agent
        "tier": contact.tier or None,  # the platform's customer tier ([desk] tier_priorities)
        "created_at": iso(contact.created_at),
        "identities": [
            {
                "channel": i.channel,
                "address": i.address,
                "display_name": i.display_name,
                # the hub's "Visitor …" name of an anonymous visitor: the inbox says it in the agent's language
                "anonymous": anonymous_id(i.display_name, [i.address]),
                "verified": i.verified,
            }
            for i in contact.identities
        ],
    }


def agent_json(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.name,
        "role": agent.role.value,
        "active": agent.active,
        "created_at": iso(agent.created_at),
        "language": agent.language or None,
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "agent_id": token.agent_id,
        "name": token.name,
        "created_at": iso(token.created_at),
        "revoked_at": iso(token.revoked_at),
        "expires_at": iso(token.expires_at),  # null: until revoked
        "role": token.role.value if token.role else None,  # null: the agent's
        "teams": token.teams,  # null: the agent's teams
    }


def canned_json(canned: CannedResponse) -> dict[str, Any]:
    return {"id": canned.id, "shortcut": canned.shortcut, "title": canned.title, "text": canned.text}
