"""The Store contract for custom ticket fields, who set a priority and customer tiers (both backends)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from conversation.errors import InvalidInput
from conversation.fields import FieldDefinition, FieldOption, FieldType, filter_value, index_value
from conversation.model import ConversationQuery, Priority, utcnow
from conversation.store import Store
from tests.store_contract.common import POLICY, inbound, three_tickets

ORDER_LABELS = {"zh-CN": "订单号", "en": "Order number"}
ORDER = FieldDefinition("dispute", "order_no", FieldType.ORDER_NUMBER, ORDER_LABELS, True, pattern=r"[A-Z]{2}\d{6}")
REASON = FieldDefinition(
    "dispute",
    "reason",
    FieldType.CHOICE,
    {"zh-CN": "原因", "en": "Reason"},
    options=(FieldOption("not_received", {"zh-CN": "未收到", "en": "Not received"}),),
    position=2,
)
AMOUNT = FieldDefinition("dispute", "amount", FieldType.AMOUNT, {"en": "Amount"}, currencies=("CNY", "USD"), position=1)


async def test_definitions_are_saved_replaced_listed_in_order_and_deleted(store: Store) -> None:
    await store.fields.save_definition(REASON)
    await store.fields.save_definition(ORDER)
    await store.fields.save_definition(AMOUNT)
    other = FieldDefinition("account", "user_id", FieldType.TEXT, {"en": "User id"})
    await store.fields.save_definition(other)
    assert await store.fields.list_definitions() == [other, ORDER, AMOUNT, REASON]

    renamed = FieldDefinition("dispute", "order_no", FieldType.ORDER_NUMBER, {"en": "Order"}, False, pattern=r"\d+")
    await store.fields.save_definition(renamed)
    assert (await store.fields.list_definitions())[1] == renamed

    assert await store.fields.delete_definition("dispute", "order_no")
    assert not await store.fields.delete_definition("dispute", "order_no")
    assert [d.key for d in await store.fields.list_definitions()] == ["user_id", "amount", "reason"]


async def test_field_values_are_kept_on_the_ticket_and_filter_the_list(store: Store) -> None:
    first, second, third = await three_tickets(store)
    now = utcnow()
    await store.tickets.update_conversation(first, {"fields": {"order_no": "AB123456", "amount": "12.50 CNY"}}, now=now)
    await store.tickets.update_conversation(second, {"fields": {"order_no": "CD654321"}}, now=now)
    stored = await store.tickets.get_conversation(first)
    assert stored is not None and stored.fields == {"amount": "12.50 CNY", "order_no": "AB123456"}

    async def listed(**kw: object) -> list[str]:
        items, _ = await store.inbox.list_conversations(ConversationQuery(**kw))  # type: ignore[arg-type]
        return [c.id for c in items]

    assert await listed(fields=(("order_no", index_value("ab123456")),)) == [first]
    assert await listed(fields=(("order_no", "cd654321"),)) == [second]
    assert await listed(fields=(("order_no", "cd654321"), ("amount", "12.50 cny"))) == []
    assert await listed(fields=(("amount", filter_value(AMOUNT, "12.5")),)) == [first]
    assert await listed(fields=(("reason", "ab123456"),)) == []  # the value under another key
    assert await listed(fields=(("order_no", "ab123456"),), channel="telegram") == []

    # A change names only the fields it changes; None removes one, and the filter follows.
    changed = await store.tickets.update_conversation(first, {"fields": {"order_no": None}}, now=now)
    assert changed.fields == {"amount": "12.50 CNY"}
    assert await listed(fields=(("order_no", "ab123456"),)) == []
    assert await listed(fields=(("amount", "12.50 cny"),)) == [first]
    changed = await store.tickets.update_conversation(first, {"fields": {"amount": "1.00 USD"}}, now=now)
    assert changed.fields == {"amount": "1.00 USD"}
    assert await listed(fields=(("amount", "12.50 cny"),)) == []
    await store.tickets.update_conversation(first, {"fields": {"amount": None}}, now=now)
    assert await listed(fields=(("amount", "1.00 usd"),)) == []
    assert third not in await listed(fields=(("order_no", "cd654321"),))


async def test_two_changes_of_different_fields_at_once_both_stay(store: Store) -> None:
    first, _, _ = await three_tickets(store)
    now = utcnow()
    await asyncio.gather(
        *(store.tickets.update_conversation(first, {"fields": {f"f{i}": f"v{i}"}}, now=now) for i in range(8))
    )
    stored = await store.tickets.get_conversation(first)
    assert stored is not None and stored.fields == {f"f{i}": f"v{i}" for i in range(8)}
    for i in range(8):  # and each is found by the filter
        items, _ = await store.inbox.list_conversations(ConversationQuery(fields=((f"f{i}", f"v{i}"),)))
        assert [c.id for c in items] == [first]


async def test_a_bad_field_change_is_refused_before_anything_is_written(store: Store) -> None:
    first, _, _ = await three_tickets(store)
    for bad in ({"Bad.Key": "x"}, {"$where": "x"}, {"order_no": ""}, {"order_no": 5}):
        with pytest.raises(InvalidInput):
            await store.tickets.update_conversation(first, {"fields": bad, "priority": Priority.HIGH}, now=utcnow())
    stored = await store.tickets.get_conversation(first)
    assert stored is not None and stored.fields == {} and stored.priority is Priority.NORMAL


async def test_search_finds_a_ticket_by_a_field_value(store: Store) -> None:
    first, second, _ = await three_tickets(store)
    await store.tickets.update_conversation(second, {"fields": {"order_no": "ZX20240917"}}, now=utcnow())
    items, total = await store.inbox.list_conversations(ConversationQuery(search="zx20240917"))
    assert [c.id for c in items] == [second] and total == 1
    # the words of a message are still found, and a field search keeps the other filters
    items, _ = await store.inbox.list_conversations(ConversationQuery(search="refund"))
    assert [c.id for c in items] == [first]
    items, _ = await store.inbox.list_conversations(ConversationQuery(search="ZX20240917", channel="email"))
    assert items == []


async def test_the_store_records_who_set_the_priority(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    assert record.conversation.priority_set_by == ""
    updated = await store.tickets.update_conversation(
        record.conversation.id,
        {"priority": Priority.HIGH, "priority_set_by": "rule:tier"},
        now=utcnow() + timedelta(seconds=1),
    )
    assert (updated.priority, updated.priority_set_by) == (Priority.HIGH, "rule:tier")
    again = await store.tickets.get_conversation(record.conversation.id)
    assert again is not None and again.priority_set_by == "rule:tier"


async def test_a_contact_keeps_its_tier(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    assert record.contact.tier == ""
    contact = await store.contacts.update_contact(record.contact.id, tier="vip")
    assert contact.tier == "vip"
    again = await store.tickets.record_inbound(inbound("m2"), now=utcnow(), policy=POLICY)
    assert again.contact.tier == "vip"  # what ingest reads to rank a new ticket
    cleared = await store.contacts.update_contact(record.contact.id, tier="")
    assert cleared.tier == ""
