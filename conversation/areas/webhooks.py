"""Outbound webhook subscriptions and their deliveries (the queue and the delivery log at once)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from conversation.webhooks import Subscription, WebhookDelivery, WebhookStatus


class Webhooks(ABC):
    @abstractmethod
    async def save_subscription(self, subscription: Subscription) -> None:
        """Create or replace the subscription with this id."""

    @abstractmethod
    async def get_subscription(self, subscription_id: str) -> Subscription | None: ...

    @abstractmethod
    async def list_subscriptions(self) -> list[Subscription]:
        """Oldest first."""

    @abstractmethod
    async def delete_subscription(self, subscription_id: str) -> bool:
        """Remove it and its delivery log (nothing more is sent); False when there is none."""

    @abstractmethod
    async def enqueue(self, deliveries: list[WebhookDelivery]) -> None:
        """Store new deliveries, due at their `next_attempt_at`."""

    @abstractmethod
    async def claim(self, owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[WebhookDelivery]:
        """Lease up to `limit` due deliveries to `owner`; each is claimed by one owner only."""

    @abstractmethod
    async def finish(
        self,
        delivery_id: str,
        owner: str,
        *,
        status: WebhookStatus,
        next_attempt_at: datetime | None,
        response_code: int | None,
        error: str,
        now: datetime,
    ) -> bool:
        """Record an attempt (counted) and its outcome; False when `owner` no longer holds the lease."""

    @abstractmethod
    async def release(self, owner: str) -> int:
        """Give back every lease `owner` holds without counting an attempt (shutdown)."""

    @abstractmethod
    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    @abstractmethod
    async def list_deliveries(
        self, subscription_id: str, *, status: WebhookStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[WebhookDelivery]:
        """A subscription's delivery log, newest first."""

    @abstractmethod
    async def prune(self, finished_before: datetime) -> int:
        """Remove sent and failed deliveries that finished before then (the log's retention);
        queued ones stay, however old. Returns how many went."""

    @abstractmethod
    async def redeliver(self, delivery_id: str, *, now: datetime) -> WebhookDelivery:
        """Queue a failed delivery again with fresh attempts; NotFound, or InvalidInput unless it failed."""
