"""Outbound webhooks: the services' published events become signed HTTP deliveries.

`WebhookDispatcher` reads the live event bus (what the services publish after they store a
change), turns each event a subscription wants into one stored delivery per subscription
and wakes the outbox. `WebhookSender` is a queue of the outbox (hub/outbox.py claims from
it with the same leases, slots, wake-ups and shutdown as channel replies) that POSTs a
delivery, signed, and records the outcome in the delivery's log line: sent, retried later
with backoff, or failed when the attempts run out. Deliveries are rows, so they survive
restarts; the schedule ([webhooks]) is long enough that a receiver down for hours loses
nothing.

Unlike replies to a customer (conversation/delivery_order.py), deliveries are not held in
order: a receiver down for an hour would otherwise get that hour one event at a time, and
a retried event arrives after newer ones anyway. Each event carries its `created_at` and an
id that sorts by creation time, which receivers order by (the README says so).

Destinations are checked twice: the URL when it is saved and before each attempt (its host a
valid name, or an address in any numeric form), and every
address a host name resolves to, at connection time (so a name that later points at a
private address is refused too).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from conversation.errors import InvalidInput
from conversation.model import new_id, utcnow
from conversation.store import Store, StoreUnavailable
from conversation.webhooks import (
    SIGNATURE_HEADER,
    Subscription,
    WebhookDelivery,
    WebhookStatus,
    after_attempt,
    check_url,
    refused_address,
    signature,
    wants,
)
from hub.api.serialize import conversation_json, iso, message_json
from hub.backoff import backoff
from hub.events import Event, EventBus
from hub.metrics import Metrics

if TYPE_CHECKING:
    from hub.config import WebhooksSection

log = logging.getLogger(__name__)

SUBSCRIPTIONS_TTL = 30.0  # seconds another hub's subscription change may take to be seen here
BUS_QUEUE = 10_000
STORE_RETRY_SECONDS = 1.0
USER_AGENT = "Helpline-Webhooks/1"


class RefusedDestination(OSError):
    """A webhook host resolved to an address webhooks may not reach."""


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then refuses the whole answer if any address is private or loopback
    (unless allowed): the connection can only go to an address that was checked."""

    def __init__(self, *, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self.allow_private = allow_private
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            reason = refused_address(answer["host"], allow_private=self.allow_private)
            if reason:
                raise RefusedDestination(f"{host} resolves to {reason}")
        return answers

    async def close(self) -> None:
        await self._inner.close()


# -- from the event bus to stored deliveries ---------------------------------------------
def webhook_event(event: Event) -> tuple[str, bool] | None:
    """The webhook event type of a bus event and whether it is private; None: not for webhooks."""
    if event.type == "conversation.created":
        return "ticket.created", False
    if event.type == "conversation.updated":
        return "ticket.updated", False
    if event.type == "message.created":
        return "message.created", event.data.get("kind", "message") != "message"  # notes, system events
    if event.type.startswith("record."):
        return event.type, bool(event.data.get("private", False))
    return None


class WebhookDispatcher:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        wake_outbox: Callable[[], None],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.bus = bus
        self.wake_outbox = wake_outbox
        self.clock = clock
        self._cached: tuple[float, list[Subscription]] | None = None
        self._subscription = bus.subscribe(maxsize=BUS_QUEUE, wants=self._may_want)
        # Taken from the bus, not yet queued (the store was down, or a stop cut it short).
        self._pending: tuple[Event, str] | None = None

    def subscriptions_changed(self) -> None:
        self._cached = None

    async def drain(self) -> int:
        """On shutdown, after the plugins: queue what was published and not yet dispatched."""
        done = 0
        while self._pending is not None or not self._subscription.queue.empty():
            event, event_id = self._pending or (self._subscription.queue.get_nowait(), "")
            self._pending = None
            try:
                await self.dispatch(event, event_id=event_id)
            except StoreUnavailable:
                break
            done += 1
        self._subscription.close()
        return done

    def _may_want(self, event: Event) -> bool:
        """Whether a subscription may want the event: not while the subscriptions read less
        than SUBSCRIPTIONS_TTL ago are none (then it would only be taken off the queue and
        dropped; most hubs have no webhooks). A change made here is seen at once."""
        cached = self._cached
        if cached is not None and not cached[1] and time.monotonic() - cached[0] <= SUBSCRIPTIONS_TTL:
            return False
        return webhook_event(event) is not None

    async def _subscriptions(self) -> list[Subscription]:
        if self._cached is None or time.monotonic() - self._cached[0] > SUBSCRIPTIONS_TTL:
            self._cached = (time.monotonic(), [s for s in await self.store.webhooks.list_subscriptions() if s.active])
        return self._cached[1]

    async def step(self) -> None:
        """One event from the bus (the supervised loop calls this again and again)."""
        if self._subscription.overflowed:
            self._subscription.overflowed = False
            log.error("webhooks: more than %d events waited; some were not delivered as webhooks", BUS_QUEUE)
        if self._pending is None:
            # Its id is given when a subscription wants it (_event_id) and kept: if queuing is
            # tried again, receivers still see one event.
            self._pending = (await self._subscription.queue.get(), "")
        event, event_id = self._pending
        try:
            await self.dispatch(event, event_id=event_id)
        except StoreUnavailable as exc:
            # Kept, and tried again: the events behind it wait in the bus queue meanwhile.
            log.warning("webhooks: event %s waits, the store is unavailable (%s)", event.type, exc)
            await asyncio.sleep(STORE_RETRY_SECONDS)
            return
        self._pending = None

    async def dispatch(self, event: Event, *, event_id: str = "") -> list[WebhookDelivery]:
        """Store one delivery per subscription that wants the event; wake the outbox."""
        kind = webhook_event(event)
        if kind is None:
            return []
        event_type, private = kind
        targets = [s for s in await self._subscriptions() if wants(s, event_type, private=private)]
        if not targets:
            return []
        data = await self._data(event, event_type)
        if data is None:
            return []
        now = self.clock()
        event_id = event_id or self._event_id(event)
        payload = {"id": event_id, "type": event_type, "created_at": iso(now), "data": data}
        deliveries = [
            WebhookDelivery(
                id=new_id(),
                subscription_id=s.id,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                created_at=now,
                next_attempt_at=now,
            )
            for s in targets
        ]
        await self.store.webhooks.enqueue(deliveries)
        self.wake_outbox()
        return deliveries

    def _event_id(self, event: Event) -> str:
        """A new id for an event some subscription wants (most events no subscription does,
        and an id costs a system call); the pending event keeps it for a retry."""
        event_id = new_id()
        if self._pending is not None and self._pending[0] is event:
            self._pending = (event, event_id)
        return event_id

    async def _data(self, event: Event, event_type: str) -> dict[str, Any] | None:
        """What a receiver gets: the ticket or message as the REST API shows it."""
        if event_type.startswith("ticket."):
            conversation = await self.store.tickets.get_conversation(event.conversation_id)
            if conversation is None:
                return None
            names = await self.store.contacts.contact_labels([conversation.contact_id])
            ticket = conversation_json(conversation, contact_name=names.get(conversation.contact_id, ""))
            ticket.pop("unread", None)  # an agent's own marker, not the ticket's
            return {"ticket": ticket, **({"changes": event.data["changes"]} if "changes" in event.data else {})}
        if event_type == "message.created":
            message = await self.store.tickets.get_message(str(event.data.get("message_id", "")))
            conversation = await self.store.tickets.get_conversation(event.conversation_id)
            if message is None or conversation is None:
                return None
            return {"message": message_json(message), "ticket": {"id": conversation.id, "number": conversation.number}}
        return {"conversation_id": event.conversation_id or None, **event.data}  # record.*: as its plugin published it


# -- from stored deliveries to the receivers ------------------------------------------------
class WebhookSender:
    """A queue of the outbox: claims due webhook deliveries and sends each once per attempt."""

    name = "webhooks"

    def __init__(
        self,
        store: Store,
        settings: WebhooksSection,
        *,
        clock: Callable[[], datetime] = utcnow,
        resolver: AbstractResolver | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.max_in_flight = settings.concurrency
        self.clock = clock
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = self._resolver or GuardedResolver(allow_private=self.settings.allow_private_destinations)
            connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=32)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)  # never via a proxy
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def claim(
        self, owner: str, *, now: datetime, lease: timedelta, limit: int
    ) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        claimed = await self.store.webhooks.claim(owner, now=now, lease=lease, limit=limit)
        return [lambda d=d: self.deliver(d, owner) for d in claimed]  # type: ignore[misc]

    async def release(self, owner: str) -> int:
        return await self.store.webhooks.release(owner)

    async def deliver(self, delivery: WebhookDelivery, owner: str) -> None:
        """One attempt; its outcome is recorded in the delivery's log line."""
        try:
            await self._attempt(delivery, owner)
        except StoreUnavailable:
            raise  # not recorded: the lease expires and the attempt is made again
        except Exception as exc:  # a bug or an odd URL around the send: still an attempt, so it ends
            log.exception("webhooks: delivery %s failed unexpectedly", delivery.id)
            await self._finish(delivery, owner, ok=False, code=None, error=f"{exc.__class__.__name__}: {exc}")

    async def _attempt(self, delivery: WebhookDelivery, owner: str) -> None:
        subscription = await self.store.webhooks.get_subscription(delivery.subscription_id)
        if subscription is None or not subscription.active:
            await self._finish(
                delivery, owner, ok=False, code=None, error="the subscription is paused or removed", final=True
            )
            return
        try:
            url = check_url(
                subscription.url,
                allow_http=self.settings.allow_http,
                allow_private=self.settings.allow_private_destinations,
            )
        except InvalidInput as exc:
            await self._finish(delivery, owner, ok=False, code=None, error=str(exc), final=True)
            return
        body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Helpline-Event": delivery.event_type,
            "Helpline-Event-Id": delivery.event_id,
            "Helpline-Delivery": delivery.id,
            SIGNATURE_HEADER: signature(subscription.secret, timestamp, body),
        }
        code: int | None = None
        try:
            async with self._client().post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,  # a redirect could lead anywhere, private addresses included
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds),
            ) as response:
                code = response.status
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, RefusedDestination)
            error = str(exc.os_error) if refused else f"cannot connect: {exc.os_error.strerror or exc.os_error}"
            await self._finish(delivery, owner, ok=False, code=None, error=error, final=refused)
            return
        except TimeoutError:
            await self._finish(
                delivery, owner, ok=False, code=None, error=f"no answer within {self.settings.timeout_seconds:g}s"
            )
            return
        except aiohttp.ClientError as exc:
            error = without_query(f"{exc.__class__.__name__}: {exc}", url)
            await self._finish(delivery, owner, ok=False, code=None, error=error)
            return
        ok = 200 <= code < 300
        await self._finish(delivery, owner, ok=ok, code=code, error="" if ok else f"HTTP {code}")

    async def _finish(
        self, delivery: WebhookDelivery, owner: str, *, ok: bool, code: int | None, error: str, final: bool = False
    ) -> None:
        attempt = delivery.attempts + 1
        now = self.clock()
        retry_at = None
        if not ok and not final:
            delay = backoff(attempt, base=self.settings.base_delay_seconds, cap=self.settings.max_delay_seconds)
            retry_at = now + timedelta(seconds=delay)
        status, next_at = after_attempt(attempt, max_attempts=self.settings.max_attempts, ok=ok, retry_at=retry_at)
        if status is WebhookStatus.FAILED and not final:
            error = f"gave up after {attempt} attempts: {error}"
        if status is not WebhookStatus.SENT:
            log.info("webhooks: delivery %s attempt %d: %s (%s)", delivery.id, attempt, error, status.value)
        if await self.store.webhooks.finish(
            delivery.id, owner, status=status, next_attempt_at=next_at, response_code=code, error=error, now=now
        ):
            outcome = "retrying" if status is WebhookStatus.QUEUED else status.value
            self.metrics.webhook_attempts.labels(outcome).inc()


PRUNE_INTERVAL = 3600.0


async def prune_step(
    store: Store, keep_days: float, *, clock: Callable[[], datetime] = utcnow, interval: float = PRUNE_INTERVAL
) -> int:
    """One round of the delivery log's retention (any hub may run it: deleting twice is harmless)."""
    try:
        removed = await store.webhooks.prune(clock() - timedelta(days=keep_days))
    except StoreUnavailable:
        removed = 0  # the next round
    if removed:
        log.info("webhooks: removed %d delivery log entries older than %g days", removed, keep_days)
    await asyncio.sleep(interval)
    return removed


def without_query(text: str, url: str) -> str:
    """An error about `url` without its query string, which receivers use for keys of their own:
    the delivery log and the hub's log show where, not with what."""
    parts = urlsplit(url)
    return text.replace(url, urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))) if parts.query else text


def retry_window(settings: WebhooksSection) -> float:
    """Seconds from the first attempt to the last (the least, without jitter): how long a
    receiver may be down before a delivery fails."""
    return sum(
        min(settings.max_delay_seconds, settings.base_delay_seconds * 2 ** (attempt - 1))
        for attempt in range(1, settings.max_attempts)
    )
