"""Raises callback tasks when they fall due: one hub at a time, under a lease, like snoozes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hub.services.hotline import HotlineService

CHECK_SECONDS = 20.0
LEASE_NAME = "callbacks-due"
LEASE = timedelta(seconds=60)


async def raise_due_step(hotline: HotlineService, owner: str, interval: float = CHECK_SECONDS) -> None:
    """One round of the supervised loop: raise what is due if this hub holds the lease."""
    if await hotline.store.coordination.acquire_lease(LEASE_NAME, owner, now=hotline.clock(), ttl=LEASE):
        await hotline.raise_due()
    await asyncio.sleep(interval)
