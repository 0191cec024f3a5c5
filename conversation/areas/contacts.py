"""Contacts and their identities (one person across channels)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from conversation.model import (
    Contact,
)


class Contacts(ABC):
    """Contacts and their identities (one person across channels)."""

    @abstractmethod
    async def get_contact(self, contact_id: str) -> Contact | None:
        """The contact with all of their identities."""

    @abstractmethod
    async def find_identity_contact(self, channel: str, address: str) -> Contact | None: ...

    @abstractmethod
    async def contact_labels(self, contact_ids: list[str]) -> dict[str, str]:
        """A display label per contact: name, else email, else an identity's name or address."""

    @abstractmethod
    async def update_contact(
        self,
        contact_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        language: str | None = None,
        tier: str | None = None,
    ) -> Contact:
        """Raise NotFound for an unknown contact. `language` is an agent's correction: it stays.
        `tier` is the customer's tier on the platform ("" for none)."""

    @abstractmethod
    async def merge_contacts(self, source_id: str, target_id: str) -> Contact:
        """Give target every identity and conversation of source; source points at target."""
