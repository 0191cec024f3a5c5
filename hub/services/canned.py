"""Canned responses: the shortcuts agents type to insert a prepared answer."""

from __future__ import annotations

from conversation.errors import InvalidInput
from conversation.model import CannedResponse, new_id
from conversation.store import Store
from hub.services import audit


def normal_shortcut(text: str) -> str:
    """`/Refund-Policy` and `refund-policy` are one shortcut."""
    shortcut = text.strip().lstrip("/").lower()
    if not shortcut.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput("shortcut: letters, digits, '-' and '_' only")
    return shortcut


class CannedService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, shortcut: str, title: str, text: str) -> CannedResponse:
        canned = await self.store.accounts.add_canned(
            CannedResponse(id=new_id(), shortcut=normal_shortcut(shortcut), title=title, text=text)
        )
        after = {"shortcut": canned.shortcut, "title": canned.title, "text": canned.text}
        await audit.record(self.store, "canned.create", "canned", canned.id, after=after)
        return canned

    async def delete(self, canned_id: str) -> None:
        await self.store.accounts.delete_canned(canned_id)
        await audit.record(self.store, "canned.delete", "canned", canned_id)
