"""The OpenAPI document's Conversation and Message schemas describe what the API answers:
real answers validate against them, and every member an answer has is declared (the schemas
forbid others), so the document cannot fall behind the serializers. A developer's trial found
them untyped ("object")."""

# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
from __future__ import annotations

from typing import Any

import jsonschema

from conversation.model import Attachment
from hub.app_keys import HUB
from tests.helpers import customer_message, eventually
from tests.test_api import Agent, admin, new_ticket, server  # noqa: F401  (fixtures)


def _json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema's `[type, "null"]` (and `$ref`s kept); an
    object with declared members takes no others here (the document itself allows them)."""
    if isinstance(schema, dict):
        converted = {k: _json_schema(v) for k, v in schema.items() if k != "nullable"}
        if "properties" in converted and "additionalProperties" not in converted:
            converted["additionalProperties"] = False
        if schema.get("nullable"):
            if "type" in converted:
                converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        return converted
    if isinstance(schema, list):
        return [_json_schema(v) for v in schema]
    return schema


async def test_tickets_and_messages_as_answered_match_the_documented_schemas(admin: Agent) -> None:
    hub = admin.client.server.app[HUB]
    photo = Attachment("photo.png", "image/png", 8, await hub.blobs.put(b"\x89PNG\r\n\x1a\n"))
    conv = await new_ticket(admin, text="我的订单还没到", attachments=(photo,))
    await hub.ingest(customer_message("m2", "订单号 12345678901"))
    await admin.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": "正在查", "kind": "note"}, status=201)
    await admin.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": "已为您加急"}, status=201)
    await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"priority": "high", "tags": ["vip"]})

    document = await (await admin.client.get("/api/openapi.json")).json()
    components = _json_schema(document["components"]["schemas"])

    def check(value: Any, name: str) -> None:
        schema = {**components[name], "components": {"schemas": components}}
        jsonschema.validate(value, schema)

    async def thread() -> list[dict[str, Any]]:
        return (await admin.call("GET", f"/api/v1/conversations/{conv}/messages"))["items"]

    await eventually(lambda: _delivered(thread))
    items = await thread()
    assert {m["kind"] for m in items} == {"message", "note", "event"}
    assert any(m["attachments"] for m in items) and any(m["delivery"] for m in items)
    for message in items:
        check(message, "Message")
    check({"items": items}, "MessagePage")
    listed = await admin.call("GET", "/api/v1/conversations?status=open")
    assert listed["items"] and listed["items"][0]["preview"] is not None
    check(listed, "ConversationPage")
    one = await admin.call("GET", "/api/v1/conversations/by-number/1000")
    check(one, "Conversation")
    card = await admin.call("GET", f"/api/v1/conversations/{conv}")
    check(card["conversation"], "Conversation")

    # a member the serializer adds and the schema does not declare fails, and so does a wrong type
    for wrong, name in (({**one, "undocumented": 1}, "Conversation"), ({**items[0], "kind": 5}, "Message")):
        try:
            check(wrong, name)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"the {name} schema takes {wrong}")


async def _delivered(thread: Any) -> bool:
    return any((m["delivery"] or {}).get("status") == "sent" for m in await thread())
