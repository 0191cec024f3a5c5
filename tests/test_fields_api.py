"""Custom ticket fields and urgency through the REST API, on both store backends: admins
define fields per category, agents fill them in, search and filter by them, and a resolve
without the required ones is a 422 that changes nothing; a customer's tier raises priority."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from conversation.inbound import Sender
from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.app_keys import HUB
from tests.helpers import customer_message, make_config
from tests.test_api import ADMIN, AGENT, Agent, sign_in
from tests.test_web import post, start_client, webhook_config

ORDER = {
    "key": "order_no",
    "type": "order_number",
    "labels": {"zh-CN": "订单号", "en": "Order number"},
    "pattern": r"[A-Z]{2}\d{8}",
    "required": True,
}
AMOUNT = {"key": "amount", "type": "amount", "labels": {"zh-CN": "金额", "en": "Amount"}, "currencies": ["CNY", "USD"]}
REASON = {
    "key": "reason",
    "type": "choice",
    "labels": {"zh-CN": "原因", "en": "Reason"},
    "options": [{"id": "not_received", "labels": {"zh-CN": "未收到货", "en": "Not received"}}],
}


@pytest.fixture(params=["sqlite", "mongo"])
async def desk(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Agent, Agent]]:
    """An admin and an agent signed in to a hub on each backend; VIP customers' tickets are high."""
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("mongo_db_uri")
    hub = Hub(make_config(tmp_path, {"desk": {"tier_priorities": {"vip": "high"}}}, storage_url=url))
    server = TestServer(build_app(hub))
    await server.start_server()
    await add_agent(hub.store, ADMIN[0], Role.ADMIN, ADMIN[1], name="Boss")
    li_na = await add_agent(hub.store, AGENT[0], Role.AGENT, AGENT[1], name="Li Na")
    every_team = [team.id for team in await hub.store.desk.list_teams()]
    await hub.services.desk.set_agent_teams(li_na.id, every_team)  # whichever team a category routes to
    admin, agent = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    yield admin, agent
    await admin.client.close()
    await agent.client.close()
    await server.close()


async def new_ticket(who: Agent, external_id: str, text: str = "我的订单还没到", **kw: Any) -> str:
    record = await who.client.server.app[HUB].ingest(customer_message(external_id, text, thread=external_id, **kw))
    return record.conversation.id


async def dispute_ticket(admin: Agent, external_id: str = "m1") -> str:
    ticket = await new_ticket(admin, external_id)
    await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "dispute"})
    return ticket


async def define_dispute_fields(admin: Agent) -> None:
    for definition in (ORDER, AMOUNT, REASON):
        await admin.call("POST", "/api/v1/categories/dispute/fields", definition, status=201)


async def test_admins_define_fields_per_category_and_agents_read_them(desk: tuple[Agent, Agent]) -> None:
    admin, agent = desk
    await agent.call("POST", "/api/v1/categories/dispute/fields", ORDER, status=403)
    created = await admin.call("POST", "/api/v1/categories/dispute/fields", ORDER, status=201)
    assert created["labels"] == {"zh-CN": "订单号", "en": "Order number"} and created["required"] is True
    await admin.call("POST", "/api/v1/categories/dispute/fields", ORDER, status=409)
    await admin.call("POST", "/api/v1/categories/ghost/fields", ORDER, status=404)
    changed = await admin.call("PATCH", "/api/v1/categories/dispute/fields/order_no", {"required": False})
    assert changed["required"] is False and changed["pattern"] == ORDER["pattern"]
    await agent.call("PATCH", "/api/v1/categories/dispute/fields/order_no", {"required": True}, status=403)
    assert [d["key"] for d in (await agent.call("GET", "/api/v1/fields"))["items"]] == ["order_no"]
    await admin.call("DELETE", "/api/v1/categories/dispute/fields/order_no")
    await admin.call("DELETE", "/api/v1/categories/dispute/fields/order_no", status=404)
    assert (await agent.call("GET", "/api/v1/fields"))["items"] == []


async def test_a_bad_definition_is_refused_and_changes_nothing(desk: tuple[Agent, Agent]) -> None:
    admin, _ = desk
    for bad in (
        {**ORDER, "pattern": "(["},
        {**ORDER, "type": "float"},
        {**AMOUNT, "currencies": ["yuan"]},
        {**REASON, "options": []},
        {**ORDER, "labels": {}},
        {**ORDER, "key": "Order No"},
    ):
        refused = await admin.call("POST", "/api/v1/categories/dispute/fields", bad, status=422)
        assert refused["error"] == "invalid"
    await admin.call("POST", "/api/v1/categories/dispute/fields", ORDER, status=201)
    await admin.call("PATCH", "/api/v1/categories/dispute/fields/order_no", {"pattern": "(["}, status=422)
    assert [d["pattern"] for d in (await admin.call("GET", "/api/v1/fields"))["items"]] == [ORDER["pattern"]]


async def test_the_ticket_card_carries_its_category_fields_and_values_are_validated(desk: tuple[Agent, Agent]) -> None:
    admin, agent = desk
    await define_dispute_fields(admin)
    ticket = await dispute_ticket(admin)
    card = await agent.call("GET", f"/api/v1/conversations/{ticket}")
    assert [d["key"] for d in card["field_definitions"]] == ["amount", "order_no", "reason"]
    assert card["conversation"]["fields"] == {}

    path = f"/api/v1/conversations/{ticket}"
    refused = await agent.call("PATCH", path, {"fields": {"amount": 12.5}}, status=422)  # never a float
    assert refused["error"] == "invalid"
    refused = await agent.call("PATCH", path, {"fields": {"amount": "12.505", "reason": "not_received"}}, status=422)
    assert (refused["error"], refused["field"], refused["reason"]) == ("invalid_field", "amount", "too_many_places")
    refused = await agent.call("PATCH", path, {"fields": {"order_no": "12345"}}, status=422)
    assert refused["reason"] == "bad_order_number"
    await agent.call("PATCH", path, {"fields": {"colour": "red"}}, status=422)
    assert (await agent.call("GET", path))["conversation"]["fields"] == {}  # nothing was kept

    changed = await agent.call(
        "PATCH", path, {"fields": {"amount": {"amount": "199", "currency": "USD"}, "order_no": "AB20240917"}}
    )
    assert changed["fields"] == {"amount": "199.00 USD", "order_no": "AB20240917"}
    messages = (await agent.call("GET", f"{path}/messages"))["items"]
    # by their labels, in the reader's language (a trial read "order_no")
    assert "Li Na changed the fields Amount, Order number" in [m["text"] for m in messages]


async def test_search_and_the_list_filter_find_a_ticket_by_a_field_value(desk: tuple[Agent, Agent]) -> None:
    admin, agent = desk
    await define_dispute_fields(admin)
    first, second = await dispute_ticket(admin, "m1"), await dispute_ticket(admin, "m2")
    await agent.call("PATCH", f"/api/v1/conversations/{first}", {"fields": {"order_no": "AB20240917", "amount": "5"}})
    await agent.call("PATCH", f"/api/v1/conversations/{second}", {"fields": {"order_no": "CD20240918"}})

    async def listed(query: str) -> list[str]:
        return [c["id"] for c in (await agent.call("GET", f"/api/v1/conversations?{query}"))["items"]]

    assert await listed("q=ab20240917") == [first]
    assert await listed("field.order_no=CD20240918") == [second]
    assert await listed("field.amount=5.0") == [first]  # compared as the amount it is
    assert await listed("field.amount=5&field.order_no=CD20240918") == []
    assert await listed("field.order_no=AB20240917&status=resolved") == []
    assert await listed("field.reason=not_received") == []
    await agent.call("GET", "/api/v1/conversations?" + "&".join(f"field.f{i}=x" for i in range(11)), status=422)


async def test_a_list_filter_on_a_field_no_category_has_is_a_422_naming_it(desk: tuple[Agent, Agent]) -> None:
    """A mistyped key is an error, not an empty inbox that looks like "no such tickets"."""
    admin, agent = desk
    await define_dispute_fields(admin)
    await dispute_ticket(admin)
    refused = await agent.call("GET", "/api/v1/conversations?field.order_no=AB20240917&field.nope=1", status=422)
    assert (refused["error"], refused["field"], refused["reason"]) == ("invalid_field", "field.nope", "no_such_field")
    assert refused["message"] == "field.nope: no category has a field with this key"


async def test_resolving_without_required_fields_is_a_422_naming_them(desk: tuple[Agent, Agent]) -> None:
    admin, agent = desk
    await define_dispute_fields(admin)
    ticket = await dispute_ticket(admin)
    path = f"/api/v1/conversations/{ticket}"
    before = (await agent.call("GET", f"{path}/messages"))["items"]

    refused = await agent.call("PATCH", path, {"status": "resolved"}, status=422)
    assert refused["error"] == "fields_required"
    assert refused["missing"] == [{"key": "order_no", "labels": {"zh-CN": "订单号", "en": "Order number"}}]
    assert "order_no" in refused["message"]
    resp = await agent.client.request(
        "PATCH", f"{path}?lang=zh-CN", json={"status": "resolved"}, headers={"X-CSRF-Token": agent.csrf}
    )
    said = await resp.json()
    assert resp.status == 422 and said["message"] == "解决工单前，请先填写必填字段。" and said["missing"][0]["key"]
    card = await agent.call("GET", path)
    assert card["conversation"]["status"] == "open" and card["conversation"]["resolved_at"] is None
    assert (await agent.call("GET", f"{path}/messages"))["items"] == before

    await agent.call("PATCH", path, {"fields": {"order_no": "AB20240917"}})
    assert (await agent.call("PATCH", path, {"status": "resolved"}))["status"] == "resolved"


async def test_a_vip_customers_new_ticket_is_high_priority_with_the_rule_recorded(desk: tuple[Agent, Agent]) -> None:
    admin, agent = desk
    first = await new_ticket(admin, "m1", "hello", sender=Sender(address="vip-1", display_name="Wang"))
    card = await agent.call("GET", f"/api/v1/conversations/{first}")
    assert card["conversation"]["priority"] == "normal"
    contact = card["contact"]["id"]
    assert (await agent.call("PATCH", f"/api/v1/contacts/{contact}", {"tier": "VIP"}))["tier"] == "vip"
    await agent.call("PATCH", f"/api/v1/contacts/{contact}", {"tier": 3}, status=422)

    second = await new_ticket(admin, "m2", "hello again", sender=Sender(address="vip-1", display_name="Wang"))
    card = await agent.call("GET", f"/api/v1/conversations/{second}")
    assert (card["conversation"]["priority"], card["conversation"]["priority_set_by"]) == ("high", "rule:tier")
    messages = (await agent.call("GET", f"/api/v1/conversations/{second}/messages"))["items"]
    assert "Customer tier vip raised the priority to high" in [m["text"] for m in messages]

    # a keyword asks for more: it wins, and the tier (asking for less) leaves no event
    third = await new_ticket(admin, "m3", "my account was hacked", sender=Sender(address="vip-1", display_name="W"))
    card = await agent.call("GET", f"/api/v1/conversations/{third}")
    assert (card["conversation"]["priority"], card["conversation"]["priority_set_by"]) == ("urgent", "rule:keywords")

    changed = await agent.call("PATCH", f"/api/v1/conversations/{second}", {"priority": "low"})
    assert changed["priority_set_by"] == f"agent:{agent.id}"


@pytest.mark.parametrize("backend", ["sqlite", "mongo"])
async def test_the_platform_sends_the_tier_with_a_signed_message(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = "sqlite://" if backend == "sqlite" else request.getfixturevalue("mongo_db_uri")
    config = webhook_config(tmp_path, desk={"tier_priorities": {"vip": "urgent"}}, storage={"url": url})
    client = await start_client(config)
    try:
        sender = {"id": "user-9", "name": "陈静", "tier": "VIP"}
        body = json.dumps({"id": "p-1", "sender": sender, "text": "我的订单还没到"}, ensure_ascii=False).encode()
        assert (await post(client, body))[0] == 200
        hub = client.server.app[HUB]
        ticket = await hub.store.tickets.get_conversation_by_number(1000)
        assert ticket is not None and (ticket.priority.value, ticket.priority_set_by) == ("urgent", "rule:tier")
        contact = await hub.store.contacts.get_contact(ticket.contact_id)
        assert contact is not None and contact.tier == "vip"

        # the platform's word changes it for the next ticket; a message without one leaves it
        body = json.dumps({"id": "p-2", "sender": {**sender, "tier": "basic"}, "thread": "t2", "text": "hi"}).encode()
        assert (await post(client, body))[0] == 200
        body = json.dumps({"id": "p-3", "sender": {"id": "user-9"}, "thread": "t3", "text": "hi"}).encode()
        assert (await post(client, body))[0] == 200
        later = await hub.store.tickets.get_conversation_by_number(1002)
        contact = await hub.store.contacts.get_contact(ticket.contact_id)
        assert later is not None and later.priority.value == "normal" and contact is not None
        assert contact.tier == "basic"
        refused = json.dumps({"id": "p-4", "sender": {**sender, "tier": 5}, "text": "x"}).encode()
        assert (await post(client, refused))[0] == 400
    finally:
        await client.close()
