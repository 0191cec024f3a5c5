"""The JSON Schemas of the API's main answers (tickets, messages) for the OpenAPI document:
what `hub/api/serialize.py` writes. A test validates real answers against them and checks that
every member an answer has is declared, so the document cannot fall behind. They do not forbid
other members: a client that validates strictly keeps working when a later version adds one."""

from __future__ import annotations

from typing import Any

from conversation.model import AuthorType, DeliveryStatus, Direction, MessageKind, Priority, Status


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STRING = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
MAYBE_TIME = _nullable(TIME)
MAYBE_STRING = _nullable(STRING)

MESSAGE_SHAPE: dict[str, Any] = {
    "type": "object",
    "description": "one message, note or system event",
    "properties": {
        "id": STRING,
        "conversation_id": STRING,
        "channel": STRING,
        "direction": {"type": "string", "enum": [d.value for d in Direction]},
        "kind": {"type": "string", "enum": [k.value for k in MessageKind]},
        "author_type": {"type": "string", "enum": [a.value for a in AuthorType]},
        "author_id": MAYBE_STRING,
        "text": {"type": "string", "description": "events and bots' notes in the reader's language"},
        "html": _nullable({"type": "string", "description": "sanitised HTML the channel gave"}),
        "subject": MAYBE_STRING,
        "message_id": MAYBE_STRING,
        "full_text": _nullable({"type": "string", "description": "the whole text, quoted history included"}),
        "full_html": MAYBE_STRING,
        "flags": {"type": "array", "items": STRING, "description": "e.g. automatic, truncated"},
        "metadata": _nullable(
            {"type": "object", "description": "the webhook channel's `metadata`: the platform's own fields, as sent"}
        ),
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": STRING,
                    "content_type": STRING,
                    "size": {"type": "integer"},
                    "ref": STRING,
                    "url": STRING,
                },
            },
        },
        "choices": {
            "type": "array",
        },
        "choice_id": MAYBE_STRING,
        "created_at": TIME,
        "edits": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"at": MAYBE_STRING, "previous_text": STRING},
            },
        },
        "deleted_at": MAYBE_STRING,
        "copy_of": {
            "type": ["string", "null"],
            "description": "the reply this message repeats on another channel (a web-chat reply also mailed)",
        },
        "merged_from": {
            "type": ["integer", "null"],
            "description": "the number of the ticket it was on before a merge moved it here",
        },
        "from_name": {
            "type": ["string", "null"],
            "description": "in a thread's list: the name of whoever wrote a customer's message that is not the"
            " ticket's customer's",
        },
        "from": {
            "type": ["string", "null"],
            "description": "a customer's message: the identity that wrote it on its channel (an email address,"
            " a chat user id), which may be another than the ticket's customer (a Cc'd colleague, a group member)",
        },
        "event": _nullable(
            {
                "type": "object",
                "description": "a system event's catalog key, parameters and names by language",
                "properties": {"key": STRING, "params": {"type": "object"}, "names": {"type": "object"}},
            }
        ),
        "delivery": _nullable(
            {
                "type": "object",
                "properties": {
                    "status": {"type": "string", "enum": [d.value for d in DeliveryStatus]},
                    "attempts": {"type": "integer"},
                    "error": MAYBE_STRING,
                    "error_code": MAYBE_STRING,
                    "next_attempt_at": MAYBE_TIME,
                    "sent_at": MAYBE_TIME,
                    "external_id": {
                        "type": ["string", "null"],
                        "description": "the channel's own id of the delivered message (an adapter's Sent.external_id)",
                    },
                },
            }
        ),
    },
}

PREVIEW_SHAPE: dict[str, Any] = _nullable(
    {
        "type": "object",
        "description": "the start of the ticket's newest message",
        "properties": {
            "text": STRING,
            "kind": STRING,
            "author_type": STRING,
            "attachments": {"type": "integer"},
            "created_at": TIME,
        },
    }
)

CONVERSATION_SHAPE: dict[str, Any] = {
    "type": "object",
    "description": "a ticket",
    "properties": {
        "id": STRING,
        "number": {"type": "integer"},
        "channel": STRING,
        "subject": STRING,
        "status": {"type": "string", "enum": [s.value for s in Status]},
        "priority": {"type": "string", "enum": [p.value for p in Priority]},
        "category": STRING,
        "tags": {"type": "array", "items": STRING},
        "team": STRING,
        "assignee_id": MAYBE_STRING,
        "contact_id": STRING,
        "contact_name": STRING,
        "contact_anonymous": MAYBE_STRING,
        "handed_off": {"type": "boolean"},
        "merged_into": MAYBE_STRING,
        "previous_id": MAYBE_STRING,
        "customer_address": MAYBE_STRING,
        "unread": {"type": "boolean"},
        "created_at": TIME,
        "last_message_at": MAYBE_TIME,
        "last_inbound_at": MAYBE_TIME,
        "first_response_at": MAYBE_TIME,
        "resolved_at": MAYBE_TIME,
        "snoozed_until": MAYBE_TIME,
        "fields": {"type": "object", "additionalProperties": STRING},
        "priority_set_by": MAYBE_STRING,
        "preview": PREVIEW_SHAPE,
        "sla": _nullable({"type": "object", "description": "the ticket's SLA policy and clocks"}),
        # in the list: since when the customer waits for an answer (null: nobody waits)
        "waiting_since": MAYBE_TIME,
    },
}
