"""What the hub or a plugin told a ticket's customer, kept so each news is told once."""

from __future__ import annotations

from conversation.store import Store
from conversation.ticket_changes import told_holder, with_told

MAX_TOLD_ATTEMPTS = 50  # compare-and-set rounds lost to other writers before giving up (each round is one write won)


async def mark_told(store: Store, conversation_id: str, teller: str, key: str, mark: str) -> bool:
    """Record that `teller` (a plugin, or the hub's own `privacy`) told `key` at `mark` on the
    ticket; False when it was told already. Retried on a lost compare-and-set (another field
    of the same change, another hub): the winner's record is read again, so each news is
    decided on what was really told."""
    holder = told_holder(teller)
    for _ in range(MAX_TOLD_ATTEMPTS):
        told, version = await store.coordination.load_plugin_state(conversation_id, holder)
        record = with_told(told, key, mark)
        if record is None:
            return False
        if await store.coordination.set_plugin_state(conversation_id, holder, record, version=version):
            return True
    raise RuntimeError(f"{teller}: what was told on conversation {conversation_id} kept changing")
