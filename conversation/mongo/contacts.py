"""MongoDB: contacts and their identities (one person across channels)."""

from __future__ import annotations

from typing import Any

from conversation.areas.contacts import Contacts
from conversation.identity import ContactEmail, merged_email, merged_language
from conversation.model import (
    AuthorType,
    Contact,
)
from conversation.mongo.db import (
    Area,
    _email_fields,
    _unavailable_when_unreachable,
)
from conversation.rules import check_merge
from conversation.store import (
    NotFound,
)


class MongoContacts(Area, Contacts):
    async def get_contact(self, contact_id: str) -> Contact | None:
        return await self._get_contact(contact_id)

    @_unavailable_when_unreachable
    async def find_identity_contact(self, channel: str, address: str) -> Contact | None:
        identity = await self._identities.find_one({"_id": f"{channel}\x1f{address}"})
        return await self._get_contact(identity["contact_id"]) if identity else None

    @_unavailable_when_unreachable
    async def contact_labels(self, contact_ids: list[str]) -> dict[str, str]:
        if not contact_ids:
            return {}
        labels = {
            d["_id"]: d.get("name") or d.get("email") or ""
            async for d in self._contacts.find({"_id": {"$in": contact_ids}})
        }
        missing = [c for c, label in labels.items() if not label]
        if missing:
            async for identity in self._identities.find({"contact_id": {"$in": missing}}):
                labels[identity["contact_id"]] = (
                    labels[identity["contact_id"]] or identity.get("display_name") or identity["address"]
                )
        return labels

    @_unavailable_when_unreachable
    async def update_contact(
        self,
        contact_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        language: str | None = None,
        tier: str | None = None,
    ) -> Contact:
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if email is not None:  # an agent's or a visitor's word: a claim, never a verified email
            values.update(_email_fields(ContactEmail(email, False)))
        if language is not None:
            values["language"] = language
        if tier is not None:
            values["tier"] = tier
        if values:
            await self._contacts.update_one({"_id": contact_id}, {"$set": values})
        contact = await self._get_contact(contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id}")
        return contact

    @_unavailable_when_unreachable
    async def merge_contacts(self, source_id: str, target_id: str) -> Contact:
        source, target = await self._get_contact(source_id), await self._get_contact(target_id)
        source, target = check_merge("contact", source_id, target_id, source, target)
        await self._contacts.update_one({"_id": source_id}, {"$set": {"merged_into": target_id}})
        await self._identities.update_many({"contact_id": source_id}, {"$set": {"contact_id": target_id}})
        await self._conversations.update_many({"contact_id": source_id}, {"$set": {"contact_id": target_id}})
        await self._messages.update_many(
            {"author_id": source_id, "author_type": AuthorType.CONTACT.value}, {"$set": {"author_id": target_id}}
        )
        # The person's surveys go with them, else one merged away could no longer answer theirs.
        await self._db.csat_surveys.update_many({"contact_id": source_id}, {"$set": {"contact_id": target_id}})
        email = merged_email(
            ContactEmail(target.email, target.email_verified), ContactEmail(source.email, source.email_verified)
        )
        language = merged_language(target.language, source.language)
        await self._contacts.update_one({"_id": target_id}, {"$set": {**_email_fields(email), "language": language}})
        merged = await self._get_contact(target_id)
        assert merged is not None
        return merged
