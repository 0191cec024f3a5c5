"""Custom ticket fields: definitions per category (admins), the fields a ticket carries,
and the list filter's values. Each change is validated, stored, audited and published live."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conversation.fields import (
    FieldDefinition,
    FieldError,
    definition_from_input,
    definition_to_doc,
    definitions_for,
    filter_value,
)
from conversation.store import AlreadyExists, NotFound, Store
from hub.events import Event, EventBus
from hub.services import audit

FILTER_PREFIX = "field."  # ?field.order_no=AB123456 on the ticket list


async def ticket_definitions(store: Store, category_id: str) -> list[FieldDefinition]:
    """The fields a ticket filed under `category_id` carries (its category's and its ancestors')."""
    if not category_id:
        return []
    parents = {c.id: c.parent_id for c in await store.desk.list_categories()}
    return definitions_for(category_id, parents, await store.fields.list_definitions())


async def list_filters(store: Store, query: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The `field.<key>=<value>` parameters of a list request, as the store compares them
    (canonical for the field's type when a definition of that key says how). A key no
    category defines is a FieldError naming it: a typo must not look like an empty inbox."""
    wanted = {name[len(FILTER_PREFIX) :]: value for name, value in query.items() if name.startswith(FILTER_PREFIX)}
    if not wanted:
        return ()
    by_key = {d.key: d for d in await store.fields.list_definitions()}
    unknown = sorted(set(wanted) - set(by_key))
    if unknown:
        raise FieldError(f"{FILTER_PREFIX}{unknown[0]}", "no_such_field")
    return tuple(sorted((key, filter_value(by_key.get(key), value)) for key, value in wanted.items()))


class FieldService:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.bus = bus

    async def _changed(
        self, action: str, category_id: str, key: str, before: FieldDefinition | None, after: FieldDefinition | None
    ) -> None:
        definition_id = f"{category_id}/{key}"
        await audit.record(
            self.store,
            f"field.{action}",
            "field",
            definition_id,
            before=definition_to_doc(before) if before else {},
            after=definition_to_doc(after) if after else {},
        )
        # Not about one conversation: the inbox reloads the definitions it draws sidebars from.
        self.bus.publish(Event("desk.updated", "", {"kind": "field", "id": definition_id, "action": f"{action}d"}))

    async def _find(self, category_id: str, key: str) -> FieldDefinition | None:
        return next(
            (d for d in await self.store.fields.list_definitions() if (d.category_id, d.key) == (category_id, key)),
            None,
        )

    async def _category(self, category_id: str) -> None:
        if await self.store.desk.get_category(category_id) is None:
            raise NotFound(f"category {category_id}")

    async def create(self, category_id: str, data: dict[str, Any]) -> FieldDefinition:
        await self._category(category_id)
        definition = definition_from_input(category_id, data)
        if await self._find(category_id, definition.key) is not None:
            raise AlreadyExists(f"category {category_id} has a field {definition.key!r}")
        await self.store.fields.save_definition(definition)
        await self._changed("create", category_id, definition.key, None, definition)
        return definition

    async def update(self, category_id: str, key: str, changes: dict[str, Any]) -> FieldDefinition:
        old = await self._find(category_id, key)
        if old is None:
            raise NotFound(f"field {category_id}/{key}")
        doc = {k: v for k, v in definition_to_doc(old).items() if k != "category_id"}
        for name, applies in (("options", "choice"), ("pattern", "order_number"), ("currencies", "amount")):
            if doc["type"] != applies:
                doc.pop(name)  # only what the field's type uses is carried over
        definition = definition_from_input(category_id, {**doc, **changes, "key": key})
        await self.store.fields.save_definition(definition)
        await self._changed("update", category_id, key, old, definition)
        return definition

    async def delete(self, category_id: str, key: str) -> None:
        old = await self._find(category_id, key)
        if not await self.store.fields.delete_definition(category_id, key):
            raise NotFound(f"field {category_id}/{key}")
        await self._changed("delete", category_id, key, old, None)


def definition_json(definition: FieldDefinition) -> dict[str, Any]:
    return definition_to_doc(definition)
