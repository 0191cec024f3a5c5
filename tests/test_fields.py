"""Custom ticket fields and tier priorities: the pure rules both backends and the hub share."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conversation.errors import InvalidInput
from conversation.fields import (
    FieldDefinition,
    FieldError,
    FieldsRequired,
    FieldType,
    definition_from_input,
    definitions_for,
    field_value,
    fields_after,
    filter_value,
    missing_required,
)
from conversation.model import Priority
from conversation.priority_rules import PrioritySource, priority_from_tier, tier_priorities

LABELS = {"zh-CN": "订单号", "en": "Order number"}


def define(kind: str, **extra: Any) -> FieldDefinition:
    return definition_from_input("dispute", {"key": "f", "type": kind, "labels": LABELS, **extra})


@pytest.mark.parametrize(
    ("kind", "extra", "given", "stored"),
    [
        ("text", {}, "  left at the door ", "left at the door"),
        ("number", {}, 42, "42"),
        ("number", {}, "3.50", "3.5"),
        ("number", {}, "-0", "0"),
        ("choice", {"options": [{"id": "lost", "labels": {"en": "Lost"}}]}, "lost", "lost"),
        ("date", {}, "2026-02-28", "2026-02-28"),
        ("order_number", {"pattern": r"[A-Z]{2}\d{6}"}, " AB123456 ", "AB123456"),
        ("amount", {}, "12.5", "12.50 CNY"),
        ("amount", {"currencies": ["USD", "CNY"]}, {"amount": "0.1", "currency": "cny"}, "0.10 CNY"),
        ("amount", {"currencies": ["USD", "CNY"]}, "99999999999999.99", "99999999999999.99 USD"),
    ],
)
def test_each_type_keeps_one_canonical_text(kind: str, extra: dict[str, Any], given: Any, stored: str) -> None:
    assert field_value(define(kind, **extra), given) == stored


@pytest.mark.parametrize(
    ("kind", "extra", "given", "reason"),
    [
        ("text", {}, 12, "not_text"),
        ("text", {}, "x" * 501, "too_long"),
        ("number", {}, 1.5, "not_number"),  # a float is not exact: refused, never rounded
        ("number", {}, "1e5", "not_number"),
        ("number", {}, True, "not_number"),
        ("choice", {"options": [{"id": "lost", "labels": {"en": "Lost"}}]}, "found", "not_choice"),
        ("date", {}, "2026-02-30", "not_date"),
        ("date", {}, "28/02/2026", "not_date"),
        ("order_number", {"pattern": r"[A-Z]{2}\d{6}"}, "AB12345", "bad_order_number"),
        ("order_number", {"pattern": r"[A-Z]{2}\d{6}"}, "AB123456 and more", "bad_order_number"),
        ("amount", {}, 12.5, "not_amount"),  # money is never a float
        ("amount", {}, "12.505", "too_many_places"),
        ("amount", {}, "12 USD", "bad_currency"),
        ("amount", {}, "twelve", "not_amount"),
    ],
)
def test_bad_values_are_refused_with_a_reason_any_language_can_say(
    kind: str, extra: dict[str, Any], given: Any, reason: str
) -> None:
    with pytest.raises(FieldError) as refused:
        field_value(define(kind, **extra), given)
    assert refused.value.reason == reason and refused.value.field == "f"
    assert str(refused.value).startswith("f: ")  # the English words name the field
    assert refused.value.details()["params"]["field"] == "f"


def test_a_bad_value_among_good_ones_changes_nothing() -> None:
    order = define("order_number", pattern=r"\d+")
    amount = definition_from_input("dispute", {"key": "amount", "type": "amount", "labels": {"en": "Amount"}})
    current = {"f": "123"}
    with pytest.raises(FieldError):
        fields_after(current, {"amount": "5", "f": "abc"}, [order, amount])
    with pytest.raises(FieldError, match="not a field"):
        fields_after(current, {"ghost": "1"}, [order])
    assert current == {"f": "123"}
    assert fields_after(current, {"amount": "5", "f": None}, [order, amount]) == {"amount": "5.00 CNY"}
    assert fields_after(current, {"f": " "}, [order]) == {}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"key": "Order", "type": "text", "labels": LABELS}, "key must"),
        ({"key": "o", "type": "float", "labels": LABELS}, "type must"),
        ({"key": "o", "type": "text", "labels": {"fr": "x"}}, "unknown language"),
        ({"key": "o", "type": "choice", "labels": LABELS}, "options"),
        ({"key": "o", "type": "choice", "labels": LABELS, "options": [{"id": "a", "labels": {"en": "A"}}] * 2}, "same"),
        ({"key": "o", "type": "order_number", "labels": LABELS}, "pattern"),
        ({"key": "o", "type": "order_number", "labels": LABELS, "pattern": "(["}, "not a regular expression"),
        ({"key": "o", "type": "amount", "labels": LABELS, "currencies": ["yuan"]}, "ISO 4217"),
        ({"key": "o", "type": "text", "labels": LABELS, "pattern": "x"}, "applies to order_number"),
        ({"key": "o", "type": "text", "labels": LABELS, "required": "yes"}, "required"),
        ({"key": "o", "type": "text", "labels": LABELS, "colour": "red"}, "unknown"),
    ],
)
def test_bad_definitions_are_refused(data: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        definition_from_input("dispute", data)


def test_a_ticket_carries_its_category_and_ancestor_fields_nearest_first() -> None:
    parents = {"dispute": None, "refund": "dispute", "other": None}
    root = FieldDefinition("dispute", "order_no", FieldType.TEXT, {"en": "Order"}, position=1)
    near = FieldDefinition("refund", "order_no", FieldType.ORDER_NUMBER, {"en": "Order"}, True, pattern=r"\d+")
    amount = FieldDefinition("refund", "amount", FieldType.AMOUNT, {"en": "Amount"}, position=0)
    unrelated = FieldDefinition("other", "note", FieldType.TEXT, {"en": "Note"})
    assert definitions_for("refund", parents, [root, near, amount, unrelated]) == [amount, near]
    assert definitions_for("dispute", parents, [root, near, amount, unrelated]) == [root]
    assert definitions_for("ghost", parents, [root]) == []


def test_required_fields_without_a_value_are_named_in_both_languages() -> None:
    order = FieldDefinition("dispute", "order_no", FieldType.TEXT, LABELS, required=True)
    optional = FieldDefinition("dispute", "note", FieldType.TEXT, {"en": "Note"})
    assert missing_required({"note": "x"}, [order, optional]) == [order]
    assert missing_required({"order_no": "A1"}, [order, optional]) == []
    refused = FieldsRequired([order])
    assert "order_no" in str(refused) and "订单号" in str(refused) and "Order number" in str(refused)
    assert refused.details() == {"missing": [{"key": "order_no", "labels": LABELS}]}


def test_a_filter_value_is_compared_in_its_canonical_form() -> None:
    amount = definition_from_input("dispute", {"key": "amount", "type": "amount", "labels": {"en": "Amount"}})
    assert filter_value(amount, "12.5") == "12.50 cny"
    assert filter_value(amount, "not money") == "not money"  # then it matches nothing; no error
    assert filter_value(None, " AB123 ") == "ab123"


def test_a_tier_raises_the_priority_and_never_lowers_it() -> None:
    tiers = tier_priorities({"VIP": "high", "platinum": "urgent"})
    assert tiers == {"vip": Priority.HIGH, "platinum": Priority.URGENT}
    assert priority_from_tier("vip", tiers, Priority.NORMAL) is Priority.HIGH
    assert priority_from_tier("Vip ", tiers, Priority.LOW) is Priority.HIGH
    assert priority_from_tier("vip", tiers, Priority.URGENT) is None
    assert priority_from_tier("vip", tiers, Priority.HIGH) is None
    assert priority_from_tier("bronze", tiers, Priority.LOW) is None
    assert priority_from_tier("", tiers, Priority.LOW) is None
    with pytest.raises(ValueError, match="gold"):
        tier_priorities({"gold": "asap"})


def test_who_set_a_priority_is_recorded_as_kind_and_name() -> None:
    assert PrioritySource("rule", "keywords", "fraud").recorded == "rule:keywords"
    assert PrioritySource("plugin", "triage").recorded == "plugin:triage"


async def test_the_embedded_database_answers_field_filters_and_searches_from_an_index(tmp_path: Path) -> None:
    from conversation.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "helpline.sqlite3")
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "helpline.sqlite3") as conn:
        for sql, args in (
            ("SELECT conversation_id FROM conversation_fields WHERE value = ? AND key = ?", ("ab123", "order_no")),
            ("SELECT conversation_id FROM conversation_fields WHERE value = ?", ("ab123",)),
        ):
            plan = " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
            assert "USING COVERING INDEX conversation_fields_value" in plan, plan
