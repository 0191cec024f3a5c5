"""Reopens snoozed tickets when their time comes (one hub at a time, under a lease)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from conversation.model import ConversationQuery, Status
from conversation.snooze import snooze_is_over
from hub.services.conversations import ConversationService

CHECK_SECONDS = 20.0
LEASE = timedelta(seconds=60)
BATCH = 1000


async def wake_due(actions: ConversationService) -> int:
    """Open every snoozed ticket whose time has come; how many were opened."""
    now = actions.clock()
    snoozed, _ = await actions.store.inbox.list_conversations(ConversationQuery(status=Status.SNOOZED, limit=BATCH))
    woken = 0
    for conversation in snoozed:
        if snooze_is_over(conversation, now):
            updated = await actions.update_conversation(conversation, {"status": Status.OPEN, "snoozed_until": None})
            await actions.add_event(updated, "event.snooze_ended")
            woken += 1
    return woken


async def wake_loop_step(actions: ConversationService, owner: str, interval: float = CHECK_SECONDS) -> None:
    """One round of the supervised loop: wake what is due if this hub holds the lease."""
    if await actions.store.coordination.acquire_lease("snooze-wake", owner, now=actions.clock(), ttl=LEASE):
        await wake_due(actions)
    await asyncio.sleep(interval)
