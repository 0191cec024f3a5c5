"""Plugins hear about changes of a ticket (`on_ticket_changed`), e.g. to tell the customer.

Called by the conversation service after each stored change, whoever made it. A plugin's
failure is logged and never undoes or fails the change itself. What a plugin tells the
customer goes out only when its state was saved by compare-and-set, so the same change
seen twice (a retried request, two hub processes) is told once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from conversation.model import Conversation
from conversation.store import StoreUnavailable
from hub.i18n import best_locale
from hub.sdk import TicketNotice

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)


async def tell_plugins(hub: Hub, before: Conversation, after: Conversation) -> None:
    listening = [p for p in hub.plugins if hasattr(p, "on_ticket_changed")]
    if not listening:
        return
    try:
        contact = await hub.store.contacts.get_contact(after.contact_id)
        if contact is None:
            return
        for plugin in listening:
            state, version = await hub.store.coordination.load_plugin_state(after.id, plugin.name)
            change = TicketNotice(
                plugin=plugin.name,
                before=before,
                after=after,
                contact=contact,
                state=dict(state),
                hub=hub,
                language=best_locale(contact.language, hub.language),
            )
            try:
                await plugin.on_ticket_changed(change)  # type: ignore[attr-defined]
            except StoreUnavailable:
                raise
            except Exception:
                log.exception("plugin %s failed on a change of ticket %s; skipped", plugin.name, after.number)
                continue
            if change.state == state or not await hub.store.coordination.set_plugin_state(
                after.id, plugin.name, change.state, version=version
            ):
                continue  # nothing new, or another run saved (and told) it first
            for text in change.told:
                if text.strip():
                    await hub.actions.post_bot_message(after, text, plugin=plugin.name)
    except StoreUnavailable as exc:
        log.warning("ticket %s: plugins not told of a change, store unavailable (%s)", after.number, exc)
