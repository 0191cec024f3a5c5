"""Contacts: corrections agents make to who a customer is, and their private notes."""

from __future__ import annotations

from typing import Any

from conversation.errors import InvalidInput
from conversation.model import Contact, ConversationQuery
from conversation.store import Store
from hub.events import Event, EventBus
from hub.i18n import canonical_tag
from hub.services import audit

FIELDS = ("name", "email", "language", "tier")


def contact_notes_key(contact_id: str) -> str:
    """Where the agents' notes about a contact are kept (the store's key-value table)."""
    return f"contact-notes:{contact_id}"


class ContactService:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.bus = bus

    async def notes(self, contact_id: str) -> str:
        return await self.store.coordination.get_value(contact_notes_key(contact_id)) or ""

    async def update(self, contact_id: str, changes: dict[str, Any]) -> Contact:
        """Change name, email, language, tier and/or notes; every open inbox showing one of the
        contact's tickets hears of it (the card shows the contact)."""
        unknown = set(changes) - {*FIELDS, "notes"}
        if unknown:
            raise InvalidInput(f"{sorted(unknown)[0]}: not a contact field")
        fields = {k: v for k, v in changes.items() if k in FIELDS}
        if "language" in fields:
            fields["language"] = canonical_tag(fields["language"])
            if not fields["language"]:
                raise InvalidInput("language: not a language tag (like en, zh-CN or zh-Hant)")
        if "tier" in fields:  # a platform's word for the customer: compared in any case
            fields["tier"] = fields["tier"].strip().casefold()
        before = await self.store.contacts.get_contact(contact_id)
        old_notes = await self.notes(contact_id) if "notes" in changes else ""
        if "notes" in changes:
            await self.store.coordination.set_value(contact_notes_key(contact_id), changes["notes"])
        contact = (
            await self.store.contacts.update_contact(contact_id, **fields)
            if fields
            else await self.store.contacts.get_contact(contact_id)
        )
        if contact is None:
            raise InvalidInput("contact_id: no such contact")
        await audit.record(
            self.store,
            "contact.update",
            "contact",
            contact_id,
            before={**_fields(before, fields), **({"notes": old_notes} if "notes" in changes else {})},
            after={**_fields(contact, fields), **({"notes": changes["notes"]} if "notes" in changes else {})},
        )
        items, _ = await self.store.inbox.list_conversations(
            ConversationQuery(contact_id=contact_id, include_merged=True, limit=200)
        )
        for conversation in items:
            self.bus.publish(Event("conversation.updated", conversation.id, {"changes": ["contact"]}))
        return contact


def _fields(contact: Contact | None, names: dict[str, Any]) -> dict[str, Any]:
    return {name: getattr(contact, name) for name in names} if contact is not None else {}
