"""The outbox: outbound messages waiting for, or in, delivery."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from conversation.model import (
    Message,
)


class Deliveries(ABC):
    """The outbox: outbound messages waiting for, or in, delivery."""

    @abstractmethod
    async def claim_deliveries(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[Message]:
        """Lease up to `limit` due deliveries to `owner`; each is claimed by one owner only."""

    @abstractmethod
    async def finish_delivery(
        self,
        message_id: str,
        owner: str,
        *,
        sent_at: datetime | None = None,
        external_id: str = "",
        error: str = "",
        retry_at: datetime | None = None,
    ) -> bool:
        """Record the attempt's end: sent (sent_at), retry later (retry_at) or failed (neither).

        Returns False when `owner` no longer holds the lease (nothing is changed).
        """

    @abstractmethod
    async def record_delivery_parts(self, message_id: str, owner: str, parts: int) -> bool:
        """The first `parts` pieces of a split message are delivered (kept across retries).

        Returns False when `owner` no longer holds the lease (nothing is changed)."""

    @abstractmethod
    async def release_deliveries(self, owner: str) -> int:
        """Give back every lease `owner` holds without counting an attempt (shutdown)."""

    @abstractmethod
    async def requeue_delivery(self, message_id: str, *, now: datetime) -> Message:
        """Send a failed message again (an agent's retry); raise NotFound or ValueError."""

    @abstractmethod
    async def count_queued(self) -> int: ...

    @abstractmethod
    async def mark_undelivered(self, message_id: str, error: str) -> Message | None:
        """A channel reported later that a sent message never arrived (a bounce)."""
