"""Custom ticket field definitions, per category (the values live on the tickets)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from conversation.fields import FieldDefinition


class FieldDefinitions(ABC):
    """The fields each category's tickets carry, in sidebar order."""

    @abstractmethod
    async def list_definitions(self) -> list[FieldDefinition]:
        """Every category's definitions, by category, then position and key."""

    @abstractmethod
    async def save_definition(self, definition: FieldDefinition) -> None:
        """Create or replace the definition with this (category, key)."""

    @abstractmethod
    async def delete_definition(self, category_id: str, key: str) -> bool:
        """False when there is no such definition (values on tickets stay, unshown)."""
