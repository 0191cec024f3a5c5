"""The durable outbox: every outgoing message is stored first, then delivered here.

A worker claims due deliveries with a lease (so of several hub processes on one
database exactly one sends each message), calls the channel adapter's `send`, and
records the outcome: sent; retry later with exponential backoff that honours the
channel's retry-after; or failed, with the error kept on the message, once the
attempts run out or the channel says never. Pending deliveries survive a restart
because they are rows, not tasks. Replies of one ticket on one channel are sent one after
another in the order written (the store's claim holds a reply back behind an earlier one,
conversation/delivery_order.py); those of different tickets go at once, up to `concurrency`.

Other durable queues (outbound webhooks) plug in as an `OutboxQueue`: the same worker
claims from them with the slots left, under the same leases, wake-ups and shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from conversation.delivery_errors import WITHHELD, coded_error
from conversation.identity import reply_address
from conversation.model import Contact, Conversation, Message, utcnow
from conversation.paging import page_recipient
from conversation.store import Store, StoreUnavailable
from hub.backoff import backoff
from hub.metrics import Metrics
from hub.sdk import Adapter, Outbound, PermanentDeliveryError, RetryableDeliveryError
from hub.send_health import SendHealth
from hub.supervise import Supervisor, log_task_failure

if TYPE_CHECKING:
    from hub.config import OutboxSection

__all__ = ["Outbox", "backoff"]

log = logging.getLogger(__name__)


def _unrecorded_recipient(message: Message, conversation: Conversation, contact: Contact) -> str:
    """For a ticket stored before recipients were recorded: its contact's identity on the
    channel only when there is exactly one (never a guess between two people), else the
    thread itself."""
    on_channel = [i.address for i in contact.identities if i.channel == message.channel]
    if len(on_channel) == 1:
        return on_channel[0]
    return conversation.thread_key if message.channel == conversation.channel else ""


class OutboxQueue(Protocol):
    """Another kind of stored delivery the outbox sends (see hub/webhooks.py)."""

    name: str
    # At most this many of its attempts run at once, so the outbox's other slots stay free for
    # customers' replies however slow this queue's receivers are.
    max_in_flight: int

    async def claim(
        self, owner: str, *, now: datetime, lease: timedelta, limit: int
    ) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        """Lease up to `limit` due deliveries; each comes back as its one attempt, ready to run."""
        ...

    async def release(self, owner: str) -> int:
        """Give back the leases `owner` holds (shutdown)."""
        ...


class Outbox:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        metrics: Metrics,
        settings: OutboxSection,
        *,
        owner: str,
        supervisor: Supervisor | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_outcome: Callable[[Message, str], None] | None = None,
        on_failed: Callable[[Message, str], Awaitable[None]] | None = None,
        queues: Sequence[OutboxQueue] = (),
    ) -> None:
        self.store = store
        self.queues = list(queues)
        # Told each recorded outcome ("sent", "retrying", "failed") so open inboxes see a
        # reply's delivery status change without reloading.
        self.on_outcome = on_outcome or (lambda _message, _status: None)
        # Told a message that failed for good, once (the ticket may need its agents again).
        self.on_failed = on_failed
        self.supervisor = supervisor or Supervisor()
        self.adapters = adapters
        self.metrics = metrics
        self.owner = owner
        self.clock = clock
        self.max_attempts: int = settings.max_attempts
        self.base_delay: float = settings.base_delay_seconds
        self.max_delay: float = settings.max_delay_seconds
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.send_timeout: float = settings.send_timeout_seconds
        self.concurrency: int = settings.concurrency
        self.poll_seconds: float = settings.poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._queue_of: dict[asyncio.Task[None], str] = {}  # in-flight attempts of the other queues
        self._runner: asyncio.Task[None] | None = None
        self._unavailable_since: datetime | None = None
        self.sending = SendHealth(metrics, lambda: self.clock())  # whether each channel's replies get through
        self.sending.watch(adapters)

    def wake(self) -> None:
        """A message was queued: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        # Supervised: an unexpected error in one round is logged and the next round runs.
        self._runner = self.supervisor.run("outbox", self._round, until=lambda: self._stopping)

    async def _round(self) -> None:
        """Claim what is due (up to the free slots), start sending it, then wait for work."""
        self._wake.clear()
        free = self.concurrency - len(self._in_flight)
        if free > 0:
            try:
                claimed = await self.store.deliveries.claim_deliveries(
                    self.owner, now=self.clock(), lease=self.lease, limit=free
                )
                if self._unavailable_since is not None:
                    log.info("outbox: store reachable again")
                    self._unavailable_since = None
            except StoreUnavailable as exc:
                if self._unavailable_since is None:
                    log.warning("outbox: store unavailable, deliveries wait (%s)", exc)
                    self._unavailable_since = self.clock()
                claimed = []
            for message in claimed:
                self._start(self.deliver(message), f"helpline-deliver-{message.id}")
            jobs = await self._claim_queued(free - len(claimed))
            for queue_name, job in jobs:
                self._start(job(), f"helpline-deliver-{queue_name}", queue=queue_name)
            if len(claimed) + len(jobs) == free:
                return  # there may be more waiting
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        except TimeoutError:
            pass

    def _start(self, attempt: Coroutine[Any, Any, None], name: str, *, queue: str = "") -> None:
        task = asyncio.create_task(attempt, name=name)
        self._in_flight.add(task)
        if queue:
            self._queue_of[task] = queue
        task.add_done_callback(self._finished)

    async def _claim_queued(self, free: int) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """Attempts from the other queues, in order, up to the free slots."""
        jobs: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        for queue in self.queues:
            running = sum(name == queue.name for name in self._queue_of.values())
            limit = min(free - len(jobs), queue.max_in_flight - running)
            if limit <= 0:
                continue
            try:
                claimed = await queue.claim(self.owner, now=self.clock(), lease=self.lease, limit=limit)
            except StoreUnavailable:
                continue  # logged once above for the messages; retried next round
            jobs += [(queue.name, job) for job in claimed]
        return jobs

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._queue_of.pop(task, None)
        log_task_failure(task)  # the lease expires and the message is tried again
        self._wake.set()  # a slot is free

    async def deliver(self, message: Message) -> None:
        """One attempt at one claimed message, ending in sent, retry-later or failed."""
        try:
            await self._deliver(message)
        except StoreUnavailable as exc:
            # The outcome could not be recorded; the lease expires and the message is
            # tried again, so a channel may see it twice but it is never lost.
            log.warning("outbox: could not record delivery of %s (%s)", message.id, exc)
        except Exception as exc:  # a bug or an unreadable row around the send: an attempt, so it ends
            log.exception("outbox: delivering %s on %s failed unexpectedly", message.id, message.channel)
            attempt = (message.delivery.attempts if message.delivery else 0) + 1
            await self._retry(message, attempt, f"{exc.__class__.__name__}: {exc}", None)

    async def _deliver(self, message: Message) -> None:
        attempt = (message.delivery.attempts if message.delivery else 0) + 1
        adapter = self.adapters.get(message.channel)
        if adapter is None:
            await self._fail(message, f"channel {message.channel!r} is not enabled in hub.toml")
            return
        conversation = await self.store.tickets.get_conversation(message.conversation_id)
        contact = await self.store.contacts.get_contact(conversation.contact_id) if conversation else None
        if conversation is None or contact is None:
            await self._fail(message, "the conversation or its contact no longer exists")
            return
        paged = page_recipient(conversation, message)  # a backup page goes to the agent, never the customer
        if paged is not None:
            conversation, contact = paged
        address = reply_address(message, conversation) or _unrecorded_recipient(message, conversation, contact)
        outbound = Outbound(
            message=message,
            conversation=conversation,
            contact=contact,
            address=address,
            parts_sent=message.delivery.parts_sent if message.delivery else 0,
            on_part=lambda parts: self._record_parts(message.id, parts),
        )
        try:
            sent = await asyncio.wait_for(adapter.send(outbound), timeout=self.send_timeout)
        except PermanentDeliveryError as exc:  # this message's fault (a blocked user), not the channel's
            code = getattr(exc, "code", "")
            error = coded_error(code, str(exc) or exc.__class__.__name__)
            await self._fail(message, error, withheld=code in WITHHELD)
        except RetryableDeliveryError as exc:
            self.sending.failed(message.channel, str(exc))
            await self._retry(message, attempt, str(exc), exc.retry_after)
        except TimeoutError:
            error = f"no answer from {message.channel} within {self.send_timeout:g}s"
            self.sending.failed(message.channel, error)
            await self._retry(message, attempt, error, None)
        except Exception as exc:  # an adapter bug: retried, and visible if it persists
            log.exception("outbox: %s adapter raised on message %s", message.channel, message.id)
            self.sending.failed(message.channel, f"{exc.__class__.__name__}: {exc}")
            await self._retry(message, attempt, f"{exc.__class__.__name__}: {exc}", None)
        else:
            self.sending.delivered(message.channel)
            if await self.store.deliveries.finish_delivery(
                message.id, self.owner, sent_at=self.clock(), external_id=sent.external_id
            ):
                self.metrics.delivered.labels(message.channel).inc()
                self.on_outcome(message, "sent")

    async def _record_parts(self, message_id: str, parts: int) -> None:
        """A split message's first pieces are delivered: a retry (here or in another hub) skips them."""
        await self.store.deliveries.record_delivery_parts(message_id, self.owner, parts)

    async def _retry(self, message: Message, attempt: int, error: str, retry_after: float | None) -> None:
        if attempt >= self.max_attempts:
            await self._fail(message, f"gave up after {attempt} attempts: {error}")
            return
        delay = backoff(attempt, base=self.base_delay, cap=self.max_delay, retry_after=retry_after)
        log.info("outbox: %s on %s, attempt %d, retry in %.1fs: %s", message.id, message.channel, attempt, delay, error)
        retry_at = self.clock() + timedelta(seconds=delay)
        if await self.store.deliveries.finish_delivery(message.id, self.owner, error=error, retry_at=retry_at):
            self.metrics.retried.labels(message.channel).inc()
            self.on_outcome(message, "retrying")

    async def _fail(self, message: Message, error: str, *, withheld: bool = False) -> None:
        """`withheld`: not sent on purpose (WITHHELD): the message is failed in the thread as
        any, but counted apart, so that a customer who keeps a bot busy is no delivery outage."""
        log.log(
            logging.INFO if withheld else logging.WARNING,
            "outbox: delivery of %s on %s %s: %s",
            message.id,
            message.channel,
            "withheld" if withheld else "failed",
            error,
        )
        if await self.store.deliveries.finish_delivery(message.id, self.owner, error=error):
            (self.metrics.withheld if withheld else self.metrics.failed).labels(message.channel).inc()
            self.on_outcome(message, "failed")
            if self.on_failed is not None:
                try:
                    await self.on_failed(message, error)
                except Exception:  # the failure is recorded and shown; only its follow-up is lost
                    log.exception("outbox: the follow-up of failed message %s did not run", message.id)

    async def stop(self, grace: float) -> None:
        """Stop claiming; let in-flight sends finish within `grace`, release the rest."""
        self._stopping = True
        self._wake.set()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._in_flight:
            _done, pending = await asyncio.wait(set(self._in_flight), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            released = await self.store.deliveries.release_deliveries(self.owner)
            for queue in self.queues:
                released += await queue.release(self.owner)
        except StoreUnavailable:
            released = 0  # their leases simply expire
        if released:
            log.info("outbox: released %d delivery lease(s) for another hub or the next start", released)
