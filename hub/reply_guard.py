"""One agent reply at a time on a ticket, so "did someone answer meanwhile?" is asked and the
reply stored as one step.

An agent's reply names the newest message its writer had seen; the hub refuses it when
another agent answered since (409 `replied_meanwhile`). Checked and then stored, two replies
sent at the same instant both passed the check. Each reply to a ticket now waits for the one
before it: in this process by a lock, and against other hub processes sharing a MongoDB by a
short lease on the ticket (the embedded store serves one process: no lease is written).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from conversation.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

# A reply's check and store take milliseconds; a holder that died lets go when the lease ends.
LEASE_TTL = timedelta(seconds=10)
LEASE_POLL_SECONDS = 0.02


class ReplyBusy(StoreUnavailable):
    """The ticket's reply lease could not be had for longer than a lease lasts: the store is
    failing it (answered 503, as the store being down is)."""


class ReplyGuard:
    def __init__(self, store: Store, owner: str, clock: Callable[[], datetime]) -> None:
        self._store, self._owner, self._clock = store, owner, clock
        # Held only while in use: a ticket nobody is replying to keeps no lock.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        async with lock:
            if self._store.serves_one_process:
                yield
                return
            name = f"replies:ticket:{conversation_id}"
            await self._acquire(name)
            try:
                yield
            finally:
                try:
                    await self._store.coordination.release_lease(name, self._owner)
                except StoreUnavailable:
                    # The reply is stored and queued: a 503 now would have the agent send it
                    # again (a review). The lease ends by itself within LEASE_TTL.
                    log.warning("reply lease %s not released (the store is unavailable): it lapses", name)

    async def _acquire(self, name: str) -> None:
        loop = asyncio.get_running_loop()
        # Past the lease's length a holder has either let go or lost it: waiting longer would
        # mean the store itself fails the lease.
        deadline = loop.time() + LEASE_TTL.total_seconds() + 1
        while not await self._store.coordination.acquire_lease(name, self._owner, now=self._clock(), ttl=LEASE_TTL):
            if loop.time() > deadline:
                raise ReplyBusy(name)
            await asyncio.sleep(LEASE_POLL_SECONDS)
