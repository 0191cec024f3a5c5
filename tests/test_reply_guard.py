"""The reply guard's lease on a shared store: a failure to let it go after the reply was stored
is no failure of the reply (a review: the 201 became a 503, and the agent sent it again)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from conversation.model import utcnow
from conversation.store import StoreUnavailable
from hub.reply_guard import ReplyGuard


class Coordination:
    def __init__(self) -> None:
        self.holder: str | None = None

    async def acquire_lease(self, name: str, owner: str, *, now: Any, ttl: timedelta) -> bool:
        if self.holder not in (None, owner):
            return False
        self.holder = owner
        return True

    async def release_lease(self, name: str, owner: str) -> None:
        raise StoreUnavailable("the database is unreachable")


async def test_a_lease_the_store_cannot_release_lapses_and_the_reply_stands() -> None:
    store = SimpleNamespace(serves_one_process=False, coordination=Coordination())
    guard = ReplyGuard(store, "hub-1", utcnow)  # type: ignore[arg-type]
    stored = []
    async with guard.hold("ticket-1"):
        stored.append("reply")
    assert stored == ["reply"] and store.coordination.holder == "hub-1"  # left to lapse by its TTL
