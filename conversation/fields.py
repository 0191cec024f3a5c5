"""Custom ticket fields: the definitions a category declares, the values a ticket holds,
and the rules both store backends and the hub share (pure: no storage, no hub).

A value is kept as one canonical text per field (`Conversation.fields[key]`): a number
and an amount as exact decimals (never a float), a date as YYYY-MM-DD, an amount with its
currency ("12.50 CNY"). The same text, folded (`index_value`), is what search and the
list filter compare, so "ab-1234" finds order "AB-1234".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from conversation.errors import InvalidInput

LANGUAGES = ("zh-CN", "en")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_TEXT = 500
MAX_PATTERN = 200
MAX_OPTIONS = 100
MAX_DIGITS = 18  # integer digits of a number or amount
DECIMAL = re.compile(rf"-?\d{{1,{MAX_DIGITS}}}(\.\d{{1,{MAX_DIGITS}}})?")
AMOUNT_PLACES = 2
DEFAULT_CURRENCIES = ("CNY",)


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    CHOICE = "choice"
    DATE = "date"
    ORDER_NUMBER = "order_number"
    AMOUNT = "amount"


@dataclass(frozen=True, slots=True)
class FieldOption:
    id: str
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class FieldDefinition:
    """One field a category's tickets carry (and its subcategories' tickets)."""

    category_id: str
    key: str
    type: FieldType
    labels: dict[str, str]
    required: bool = False  # needed before the ticket is resolved (or closed)
    options: tuple[FieldOption, ...] = ()  # choice
    pattern: str = ""  # order number: the whole value must match this regular expression
    currencies: tuple[str, ...] = ()  # amount: the currencies accepted, the first is the default
    position: int = 0  # order in the sidebar


# -- errors: one reason code per mistake, the English words here, other languages in the
# catalogs (`field_error.<reason>` in the inbox's and the hub's), with the same parameters.
ERRORS = {
    "unknown_field": "{field}: not a field of this ticket's category",
    "not_text": "{field}: expected text",
    "too_long": "{field}: at most {max} characters",
    "not_number": "{field}: expected a number (digits, optionally one '.')",
    "not_choice": "{field}: expected one of {options}",
    "not_date": "{field}: expected a date as YYYY-MM-DD",
    "bad_order_number": "{field}: does not look like an order number ({pattern})",
    "not_amount": '{field}: expected an amount like "12.50" (text, never a float) with a currency',
    "too_many_places": "{field}: at most {places} decimal places",
    "bad_currency": "{field}: currency must be one of {currencies}",
    "no_such_field": "{field}: no category has a field with this key",  # a list filter's key
}


class FieldError(InvalidInput):
    """A value a field refuses; `reason` and `params` let any language say why."""

    code = "invalid_field"

    def __init__(self, field: str, reason: str, **params: str) -> None:
        self.field = field
        self.reason = reason
        self.params = {"field": field, **params}
        super().__init__(ERRORS[reason].format(**self.params))

    def details(self) -> dict[str, Any]:
        return {"field": self.field, "reason": self.reason, "params": self.params}


class FieldsRequired(InvalidInput):
    """A resolve refused: these required fields have no value (each named in both languages)."""

    code = "fields_required"

    def __init__(self, missing: Sequence[FieldDefinition]) -> None:
        self.missing = list(missing)
        named = ", ".join(f"{d.key} ({' / '.join(d.labels.values())})" for d in self.missing)
        super().__init__(f"fill in the required fields before resolving: {named}")

    def details(self) -> dict[str, Any]:
        return {"missing": [{"key": d.key, "labels": dict(d.labels)} for d in self.missing]}


# -- definitions ----------------------------------------------------------------------------
def _labels(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput(f"{name} must be an object of language to label ({', '.join(LANGUAGES)})")
    clean = {}
    for lang, label in value.items():
        if lang not in LANGUAGES:
            raise InvalidInput(f"{name}: unknown language {lang!r} (use {', '.join(LANGUAGES)})")
        if not isinstance(label, str) or not label.strip() or len(label) > 100:
            raise InvalidInput(f"{name}.{lang} must be a non-empty text of at most 100 characters")
        clean[lang] = label.strip()
    return clean


def _options(value: Any) -> tuple[FieldOption, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_OPTIONS:
        raise InvalidInput(f"options: a choice needs 1 to {MAX_OPTIONS} options")
    options = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) - {"id", "labels"}:
            raise InvalidInput(f"options[{index}] must be {{id, labels}}")
        option_id = item.get("id")
        if not isinstance(option_id, str) or not KEY_PATTERN.match(option_id):
            raise InvalidInput(f"options[{index}].id must be 1-40 lowercase letters, digits or '_'")
        options.append(FieldOption(option_id, _labels(f"options[{index}].labels", item.get("labels"))))
    if len({o.id for o in options}) != len(options):
        raise InvalidInput("options: two options have the same id")
    return tuple(options)


def _pattern(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_PATTERN:
        raise InvalidInput(f"pattern: an order number needs a regular expression of at most {MAX_PATTERN} characters")
    try:
        re.compile(value)
    except re.error as exc:
        raise InvalidInput(f"pattern: not a regular expression ({exc})") from None
    return value


def _currencies(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_CURRENCIES
    codes = isinstance(value, list) and all(isinstance(c, str) and CURRENCY_PATTERN.match(c) for c in value)
    if not codes or not value:
        raise InvalidInput("currencies must be a list of ISO 4217 codes such as CNY or USD")
    return tuple(dict.fromkeys(value))


DEFINITION_KEYS = {"key", "type", "labels", "required", "options", "pattern", "currencies", "position"}


def definition_from_input(category_id: str, data: Mapping[str, Any]) -> FieldDefinition:
    """A field definition from an API body; InvalidInput says what is wrong."""
    unknown = set(data) - DEFINITION_KEYS
    if unknown:
        raise InvalidInput(f"unknown field definition key(s): {', '.join(sorted(unknown))}")
    key = data.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise InvalidInput("key must start with a lowercase letter, then up to 39 lowercase letters, digits or '_'")
    try:
        kind = FieldType(str(data.get("type")))
    except ValueError:
        raise InvalidInput(f"type must be one of {', '.join(t.value for t in FieldType)}") from None
    required = data.get("required", False)
    position = data.get("position", 0)
    if not isinstance(required, bool):
        raise InvalidInput("required must be true or false")
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 10_000:
        raise InvalidInput("position must be a whole number from 0 to 10000")
    only = (("options", FieldType.CHOICE), ("pattern", FieldType.ORDER_NUMBER), ("currencies", FieldType.AMOUNT))
    for name, applies in only:
        if name in data and kind is not applies:
            raise InvalidInput(f"{name} applies to {applies.value} fields only")
    return FieldDefinition(
        category_id=category_id,
        key=key,
        type=kind,
        labels=_labels("labels", data.get("labels")),
        required=required,
        options=_options(data.get("options")) if kind is FieldType.CHOICE else (),
        pattern=_pattern(data.get("pattern")) if kind is FieldType.ORDER_NUMBER else "",
        currencies=_currencies(data.get("currencies")) if kind is FieldType.AMOUNT else (),
        position=position,
    )


def definition_to_doc(definition: FieldDefinition) -> dict[str, Any]:
    return {
        "category_id": definition.category_id,
        "key": definition.key,
        "type": definition.type.value,
        "labels": dict(definition.labels),
        "required": definition.required,
        "options": [{"id": o.id, "labels": dict(o.labels)} for o in definition.options],
        "pattern": definition.pattern,
        "currencies": list(definition.currencies),
        "position": definition.position,
    }


def definition_from_doc(doc: Mapping[str, Any]) -> FieldDefinition:
    return FieldDefinition(
        category_id=str(doc["category_id"]),
        key=str(doc["key"]),
        type=FieldType(doc["type"]),
        labels=dict(doc["labels"]),
        required=bool(doc.get("required")),
        options=tuple(FieldOption(o["id"], dict(o["labels"])) for o in doc.get("options") or []),
        pattern=doc.get("pattern") or "",
        currencies=tuple(doc.get("currencies") or ()),
        position=int(doc.get("position") or 0),
    )


def sort_definitions(definitions: Iterable[FieldDefinition]) -> list[FieldDefinition]:
    return sorted(definitions, key=lambda d: (d.position, d.key))


def definitions_for(
    category_id: str, parents: Mapping[str, str | None], definitions: Iterable[FieldDefinition]
) -> list[FieldDefinition]:
    """The fields a ticket filed under `category_id` carries: its category's and every
    ancestor's (a nearer category's definition of the same key wins)."""
    chain: list[str] = []
    current: str | None = category_id
    while current and current not in chain:  # a cycle cannot be stored, but never loop on one
        chain.append(current)
        current = parents.get(current)
    by_category: dict[str, dict[str, FieldDefinition]] = {}
    for definition in definitions:
        by_category.setdefault(definition.category_id, {})[definition.key] = definition
    chosen: dict[str, FieldDefinition] = {}
    for category in reversed(chain):  # the root first: nearer ones replace it
        chosen.update(by_category.get(category, {}))
    return sort_definitions(chosen.values())


# -- values ---------------------------------------------------------------------------------
def _decimal(definition: FieldDefinition, text: str, *, reason: str) -> Decimal:
    if not DECIMAL.fullmatch(text):
        raise FieldError(definition.key, reason)
    try:
        return Decimal(text)
    except InvalidOperation:  # the pattern above leaves none, but never a 500 on input
        raise FieldError(definition.key, reason) from None


def _number(definition: FieldDefinition, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FieldError(definition.key, "not_number")  # a float is refused: it is not exact
    number = _decimal(definition, str(value).strip(), reason="not_number")
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _amount(definition: FieldDefinition, value: Any) -> str:
    if isinstance(value, Mapping):
        amount, currency = value.get("amount"), value.get("currency", "")
    elif isinstance(value, str):
        amount, _, currency = value.strip().partition(" ")
    else:
        raise FieldError(definition.key, "not_amount")
    if not isinstance(amount, str) or not isinstance(currency, str):
        raise FieldError(definition.key, "not_amount")
    currencies = definition.currencies or DEFAULT_CURRENCIES
    currency = currency.strip().upper() or currencies[0]
    if currency not in currencies:
        raise FieldError(definition.key, "bad_currency", currencies=", ".join(currencies))
    number = _decimal(definition, amount.strip(), reason="not_amount")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > AMOUNT_PLACES:
        raise FieldError(definition.key, "too_many_places", places=str(AMOUNT_PLACES))
    return f"{number.quantize(Decimal(1).scaleb(-AMOUNT_PLACES))} {currency}"


def field_value(definition: FieldDefinition, value: Any) -> str:
    """The canonical text of `value` for this field; FieldError says what is wrong."""
    key = definition.key
    if definition.type is FieldType.NUMBER:
        return _number(definition, value)
    if definition.type is FieldType.AMOUNT:
        return _amount(definition, value)
    if not isinstance(value, str):
        raise FieldError(key, "not_text")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise FieldError(key, "too_long", max=str(MAX_TEXT))
    if definition.type is FieldType.CHOICE:
        ids = [o.id for o in definition.options]
        if text not in ids:
            raise FieldError(key, "not_choice", options=", ".join(ids))
    elif definition.type is FieldType.DATE:
        try:
            text = date.fromisoformat(text).isoformat() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else ""
        except ValueError:
            text = ""
        if not text:
            raise FieldError(key, "not_date")
    elif definition.type is FieldType.ORDER_NUMBER and (len(text) > 64 or not re.fullmatch(definition.pattern, text)):
        raise FieldError(key, "bad_order_number", pattern=definition.pattern)
    return text


def field_changes(changes: Mapping[str, Any], definitions: Sequence[FieldDefinition]) -> dict[str, str | None]:
    """Each changed field's canonical value, None to clear it (given as null or "").
    Every change is checked before any is applied: a FieldError leaves everything as it was."""
    by_key = {d.key: d for d in definitions}
    checked: dict[str, str | None] = {}
    for key, value in changes.items():
        definition = by_key.get(key)
        if definition is None:
            raise FieldError(key, "unknown_field")
        empty = value is None or (isinstance(value, str) and not value.strip())
        checked[key] = None if empty else field_value(definition, value)
    return checked


def with_field_changes(current: Mapping[str, str], changes: Mapping[str, str | None]) -> dict[str, str]:
    """The values after checked changes: what a backend stores, in the same transaction as it
    reads `current` (two agents changing two fields at once both keep theirs)."""
    result = dict(current)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return dict(sorted(result.items()))


def fields_after(
    current: Mapping[str, str], changes: Mapping[str, Any], definitions: Sequence[FieldDefinition]
) -> dict[str, str]:
    """The ticket's field values after unchecked `changes` (key -> value; null or "" clears one)."""
    return with_field_changes(current, field_changes(changes, definitions))


def missing_required(values: Mapping[str, str], definitions: Iterable[FieldDefinition]) -> list[FieldDefinition]:
    """The required fields without a value: what stops a resolve."""
    return [d for d in definitions if d.required and not values.get(d.key)]


def index_value(value: str) -> str:
    """The form a value is indexed, searched and filtered by (case and outer spaces ignored)."""
    return value.strip().casefold()


def filter_value(definition: FieldDefinition | None, value: str) -> str:
    """A list filter's value as stored: canonical when it is valid for the field (an amount
    "12.5" finds "12.50 CNY"), else as typed (it then matches nothing, rather than failing)."""
    if definition is not None:
        try:
            return index_value(field_value(definition, value))
        except FieldError:
            pass
    return index_value(value)
