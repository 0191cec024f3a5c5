"""Custom fields, required-before-resolve and who set a priority, through the services, on both backends."""

from __future__ import annotations

import pytest

from conversation.fields import FieldError, FieldsRequired
from conversation.model import Conversation, MessageKind, Priority, Status
from conversation.store import Store
from hub.sdk import PluginContext
from hub.services import Services, store_only
from hub.services.fields import ticket_definitions
from tests.store_contract.common import POLICY, inbound

ORDER = {"key": "order_no", "type": "order_number", "labels": {"zh-CN": "订单号", "en": "Order"}, "pattern": r"\d{8}"}
AMOUNT = {"key": "amount", "type": "amount", "labels": {"zh-CN": "金额", "en": "Amount"}}


async def desk(store: Store) -> Services:
    await store.desk.create_defaults()
    return store_only(store)


async def ticket(store: Store, services: Services, category: str = "dispute") -> Conversation:
    record = await store.tickets.record_inbound(inbound("m1"), now=services.conversations.clock(), policy=POLICY)
    return await services.conversations.update_conversation(record.conversation, {"category": category})


async def events(store: Store, conversation: Conversation) -> list[dict[str, object]]:
    thread = await store.tickets.list_messages(conversation.id)
    return [(m.raw or {})["event"] for m in thread if m.kind is MessageKind.EVENT]


async def test_field_values_are_checked_then_stored_and_said_in_the_thread(store: Store) -> None:
    services = await desk(store)
    await services.fields.create("dispute", {**ORDER, "required": True})
    await services.fields.create("dispute", AMOUNT)
    conv = await ticket(store, services)

    with pytest.raises(FieldError) as refused:
        await services.conversations.update_by(
            conv, {"fields": {"amount": "5", "order_no": "12-34"}}, who="Li Na", names={}
        )
    assert refused.value.reason == "bad_order_number"
    unchanged = await store.tickets.get_conversation(conv.id)
    assert unchanged is not None and unchanged.fields == {}

    updated = await services.conversations.update_by(
        conv, {"fields": {"amount": "5", "order_no": "20240917"}}, who="Li Na", names={}
    )
    assert updated.fields == {"amount": "5.00 CNY", "order_no": "20240917"}
    [changed] = [e for e in await events(store, updated) if e["key"] == "event.fields_changed"]
    assert changed["params"] == {"who": "Li Na", "fields": "amount, order_no"}  # keys kept; labels said
    assert changed["names"]["fields"]["zh-CN"] == "金额, 订单号"


async def test_resolving_without_the_required_fields_is_refused_and_changes_nothing(store: Store) -> None:
    services = await desk(store)
    await services.fields.create("dispute", {**ORDER, "required": True})
    await services.fields.create("dispute", AMOUNT)
    conv = await ticket(store, services)
    before = await events(store, conv)

    for status in (Status.RESOLVED, Status.CLOSED):
        with pytest.raises(FieldsRequired) as refused:
            await services.conversations.update_by(conv, {"status": status}, who="Li Na", names={})
        assert [d.key for d in refused.value.missing] == ["order_no"]
    with pytest.raises(FieldsRequired):  # a plugin (or the hub) resolving is held to the same rule
        await services.conversations.update_conversation(conv, {"status": "resolved"})
    with pytest.raises(FieldsRequired):  # clearing the value in the same change does not get round it
        await services.conversations.update_by(
            conv, {"status": "resolved", "fields": {"order_no": None}}, who="Li Na", names={}
        )
    stored = await store.tickets.get_conversation(conv.id)
    assert stored is not None and stored.status is Status.OPEN and stored.resolved_at is None
    assert await events(store, conv) == before

    # the value given in the same change counts; other statuses never need it
    await services.conversations.update_by(conv, {"status": "pending"}, who="Li Na", names={})
    resolved = await services.conversations.update_by(
        conv, {"status": "resolved", "fields": {"order_no": "20240917"}}, who="Li Na", names={}
    )
    assert resolved.status is Status.RESOLVED


async def test_a_category_without_required_fields_resolves_as_before(store: Store) -> None:
    services = await desk(store)
    await services.fields.create("dispute", {**ORDER, "required": True})
    conv = await ticket(store, services, category="faq")
    resolved = await services.conversations.update_by(conv, {"status": "resolved"}, who="Li Na", names={})
    assert resolved.status is Status.RESOLVED


async def test_every_priority_change_records_who_set_it_with_an_event(store: Store) -> None:
    services = await desk(store)
    conv = await ticket(store, services)  # the category "dispute" raised it to high
    assert (conv.priority, conv.priority_set_by) == (Priority.HIGH, "rule:category")

    agent_set = await services.conversations.update_by(
        conv, {"priority": "low"}, who="Li Na", names={}, agent_id="agent-7"
    )
    assert agent_set.priority_set_by == "agent:agent-7"

    contact = await store.contacts.get_contact(conv.contact_id)
    assert contact is not None
    message = (await store.tickets.list_messages(conv.id))[0]
    ctx = PluginContext("triage", agent_set, message, contact, {}, {}, services.conversations)
    await ctx.set_priority("urgent")
    stored = await store.tickets.get_conversation(conv.id)
    assert stored is not None and (stored.priority, stored.priority_set_by) == (Priority.URGENT, "plugin:triage")

    said = [e for e in await events(store, conv) if "priority" in e["params"]]  # type: ignore[operator]
    assert said == [
        {
            "key": "event.category_priority",
            "params": {"priority": "high", "set_by": "rule:category", "category": "dispute"},
            "names": {"category": {"zh-CN": "交易纠纷", "en": "Transaction dispute"}},  # said in each reader's language
        },
        {
            "key": "event.priority_changed",
            "params": {"who": "Li Na", "priority": "low", "set_by": "agent:agent-7"},
        },
        {
            "key": "event.plugin_priority",
            "params": {"priority": "urgent", "set_by": "plugin:triage", "plugin": "triage"},
        },
    ]


async def test_a_deleted_category_takes_its_field_definitions_with_it(store: Store) -> None:
    services = await desk(store)
    await services.desk.create_category({"id": "refund", "names": {"en": "Refund"}, "parent_id": "dispute"})
    await services.fields.create("refund", ORDER)
    await services.fields.create("dispute", AMOUNT)
    await services.desk.delete_category("refund")
    assert [(d.category_id, d.key) for d in await store.fields.list_definitions()] == [("dispute", "amount")]
    # a category made again with the same id starts without the old fields
    await services.desk.create_category({"id": "refund", "names": {"en": "Refund"}})
    conv = await ticket(store, services, category="refund")
    assert await ticket_definitions(store, conv.category) == []


async def test_a_changed_field_is_named_by_its_own_categorys_label(store: Store) -> None:
    """A review: one key defined in two categories was named by whichever came first."""
    services = await desk(store)
    await services.fields.create("dispute", ORDER)
    await services.fields.create("account", {**ORDER, "labels": {"zh-CN": "账户单号", "en": "Account reference"}})
    for n, (category, label) in enumerate((("account", "账户单号"), ("dispute", "订单号"))):
        now = services.conversations.clock()
        record = await store.tickets.record_inbound(inbound(f"f{n}", thread=f"f{n}"), now=now, policy=POLICY)
        conv = await services.conversations.update_conversation(record.conversation, {"category": category})
        updated = await services.conversations.update_by(conv, {"fields": {"order_no": "20240917"}}, who="Li", names={})
        [changed] = [e for e in await events(store, updated) if e["key"] == "event.fields_changed"]
        assert changed["names"]["fields"]["zh-CN"] == label, category
