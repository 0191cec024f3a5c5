"""Webhook subscriptions: admins add, change, pause and remove them; each change is checked
(events, a URL webhooks may reach), stored and audited. A subscription's secret is made
here and returned once; the audit log never sees it."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from conversation.audit import REDACTED
from conversation.errors import InvalidInput
from conversation.model import new_id, utcnow
from conversation.store import NotFound, Store
from conversation.webhooks import Subscription, WebhookDelivery, check_events, check_url
from hub.services import audit

FIELDS = ("url", "events", "include_private", "active", "description")


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _public(subscription: Subscription) -> dict[str, Any]:
    """What the audit log keeps of a subscription: everything but its secret, and its URL
    without the values of its query (where receivers often put a key of their own)."""
    values = {name: getattr(subscription, name) for name in FIELDS}
    parts = urlsplit(subscription.url)
    if parts.query:
        query = urlencode([(name, REDACTED) for name, _ in parse_qsl(parts.query, keep_blank_values=True)])
        values["url"] = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return values


class WebhookService:
    def __init__(
        self,
        store: Store,
        *,
        allow_http: bool = False,
        allow_private: bool = False,
        clock: Callable[[], datetime] = utcnow,
        wake_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.allow_http = allow_http
        self.allow_private = allow_private
        self.clock = clock
        self.wake_outbox = wake_outbox
        # Told after every change, so the hub's dispatcher reads the subscriptions again.
        self.subscriptions_changed: Callable[[], None] = lambda: None

    def _checked(self, data: dict[str, Any], base: Subscription) -> Subscription:
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise InvalidInput(f"{sorted(unknown)[0]}: not a webhook field")
        changes = dict(data)
        if "url" in changes:
            changes["url"] = check_url(changes["url"], allow_http=self.allow_http, allow_private=self.allow_private)
        if "events" in changes:
            changes["events"] = check_events(changes["events"])
        return replace(base, **changes)

    async def _existing(self, subscription_id: str) -> Subscription:
        found = await self.store.webhooks.get_subscription(subscription_id)
        if found is None:
            raise NotFound(f"webhook {subscription_id}")
        return found

    async def create(self, data: dict[str, Any]) -> tuple[Subscription, str]:
        """The new subscription and its secret (shown to the admin once)."""
        if "url" not in data or "events" not in data:
            raise InvalidInput("url and events are required")
        secret = new_webhook_secret()
        blank = Subscription(id=new_id(), url="", events=[], secret=secret, created_at=self.clock())
        subscription = self._checked(data, blank)
        await self.store.webhooks.save_subscription(subscription)
        await audit.record(
            self.store, "webhook.create", "webhook", subscription.id, after=_public(subscription), at=self.clock()
        )
        self.subscriptions_changed()
        return subscription, secret

    async def update(self, subscription_id: str, changes: dict[str, Any]) -> Subscription:
        old = await self._existing(subscription_id)
        subscription = self._checked(changes, old)
        await self.store.webhooks.save_subscription(subscription)
        await audit.record(
            self.store,
            "webhook.update",
            "webhook",
            subscription.id,
            before=_public(old),
            after=_public(subscription),
            at=self.clock(),
        )
        self.subscriptions_changed()
        return subscription

    async def rotate_secret(self, subscription_id: str) -> tuple[Subscription, str]:
        """A new secret at once (the old one stops signing); returned once."""
        old = await self._existing(subscription_id)
        secret = new_webhook_secret()
        subscription = replace(old, secret=secret)
        await self.store.webhooks.save_subscription(subscription)
        await audit.record(self.store, "webhook.rotate_secret", "webhook", subscription.id, at=self.clock())
        self.subscriptions_changed()
        return subscription, secret

    async def delete(self, subscription_id: str) -> None:
        old = await self._existing(subscription_id)
        await self.store.webhooks.delete_subscription(subscription_id)
        await audit.record(
            self.store, "webhook.delete", "webhook", subscription_id, before=_public(old), at=self.clock()
        )
        self.subscriptions_changed()

    async def redeliver(self, subscription_id: str, delivery_id: str) -> WebhookDelivery:
        """Send a failed delivery again, with fresh attempts."""
        delivery = await self.store.webhooks.get_delivery(delivery_id)
        if delivery is None or delivery.subscription_id != subscription_id:
            raise NotFound(f"delivery {delivery_id}")
        again = await self.store.webhooks.redeliver(delivery_id, now=self.clock())
        await audit.record(
            self.store,
            "webhook.redeliver",
            "webhook",
            subscription_id,
            after={"delivery": delivery_id, "event": delivery.event_type},
            at=self.clock(),
        )
        self.wake_outbox()
        return again
