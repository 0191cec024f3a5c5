"""ingest(inbound): validate, store, acknowledge, tell the inboxes, then run the plugins.

The channel's acknowledgement waits only for the store, never for plugins: a plugin
that is slow or raises cannot make a channel retry (and so duplicate) a message. A
message whose plugins did not finish (the hub stopped or crashed) is marked so in
the store and picked up again by `recover`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from conversation.inbound import Inbound, InboundLimits, InvalidInbound, validate_inbound
from conversation.model import Contact, Conversation, Message, utcnow
from conversation.routing import Route
from conversation.store import InboundRecord, Store, StoreUnavailable, Ticketing
from hub.actions import ConversationService
from hub.events import Event, EventBus
from hub.metrics import Metrics
from hub.sdk import IngestUnavailable, Outcome, Plugin, PluginContext

log = logging.getLogger(__name__)

RECOVERY_AGE = timedelta(minutes=2)  # younger messages may still be in another hub's hands
RECOVERY_LEASE = "plugins:recovery"
RECOVERY_LEASE_TTL = timedelta(minutes=5)  # renewed before each message of a round
RECOVERY_BATCH = 500
MAX_PLUGIN_ATTEMPTS = 5  # recovery rounds on one message before it is parked


class Pipeline:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        metrics: Metrics,
        actions: ConversationService,
        plugins: list[Plugin],
        *,
        limits: InboundLimits,
        ticketing: Ticketing,
        instance_id: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.actions = actions
        self.plugins = plugins
        self.limits = limits
        self.ticketing = replace(ticketing, plugins_enabled=bool(plugins))
        self.instance_id = instance_id
        self.clock = clock
        self.accepting = True
        self._tasks: set[asyncio.Task[None]] = set()

    async def ingest(self, inbound: Inbound) -> InboundRecord:
        if not self.accepting:
            raise IngestUnavailable("the hub is shutting down; retry")
        try:
            inbound = validate_inbound(inbound, self.limits)
        except InvalidInbound:
            self.metrics.rejected.labels(getattr(inbound, "channel", "?")).inc()
            raise
        try:
            record = await self.store.record_inbound(inbound, now=self.clock(), policy=self.ticketing)
        except StoreUnavailable as exc:
            log.warning("ingest on %s refused: store unavailable (%s)", inbound.channel, exc)
            raise IngestUnavailable("the message store is unavailable; retry") from exc
        if record.duplicate:
            self.metrics.duplicates.labels(inbound.channel).inc()
            return record
        self.metrics.ingested.labels(inbound.channel).inc()
        conv_id = record.conversation.id
        if record.route is Route.OPEN_NEW:
            self.bus.publish(Event("conversation.created", conv_id, {"number": record.conversation.number}))
        elif record.route is Route.REOPEN:
            self.bus.publish(Event("conversation.updated", conv_id, {"changes": ["status"]}))
        self.bus.publish(Event("message.created", conv_id, {"message_id": record.message.id, "kind": "message"}))
        if self.plugins:
            self._spawn(self.run_plugins(record.message, record.conversation, record.contact))
        return record

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run_plugins(
        self, message: Message, conversation: Conversation | None = None, contact: Contact | None = None
    ) -> None:
        """Run the enabled plugins in order on one stored customer message."""
        try:
            if conversation is None or contact is None:  # recovery: load them
                conversation = await self.store.get_conversation(message.conversation_id)
                contact = await self.store.get_contact(message.author_id)
            if conversation is None or contact is None:
                log.error("message %s: its conversation or contact is missing; plugins skipped", message.id)
                return
            for plugin in self.plugins:
                if (conversation.human_owned or message.automatic) and not plugin.always_run:
                    continue  # a person owns it, or a machine wrote it: no bot answers
                state = await self.store.get_plugin_state(conversation.id, plugin.name)
                ctx = PluginContext(
                    plugin=plugin.name,
                    conversation=conversation,
                    message=message,
                    contact=contact,
                    settings=plugin.settings,
                    state=dict(state),
                    actions=self.actions,
                )
                try:
                    outcome = await plugin.on_message(ctx)
                except StoreUnavailable:
                    raise
                except Exception:
                    self.metrics.plugin_errors.labels(plugin.name).inc()
                    log.exception(
                        "plugin %s failed on conversation %s (message %s); skipped",
                        plugin.name,
                        conversation.id,
                        message.id,
                    )
                    continue
                if ctx.state != state:
                    await self.store.set_plugin_state(conversation.id, plugin.name, ctx.state)
                conversation = ctx.conversation
                if outcome is Outcome.STOP or ctx.stopped:
                    break
            await self.store.mark_plugins_done(message.id)
        except StoreUnavailable as exc:
            log.warning("plugins on message %s postponed: store unavailable (%s)", message.id, exc)

    async def recover(self) -> int:
        """Run plugins on messages a stopped hub left unprocessed; one hub at a time.

        The lease is renewed before each message, so a long round keeps it; the least-tried
        messages come first and one that failed MAX_PLUGIN_ATTEMPTS rounds is parked (logged,
        left for the agents), so a poison message cannot starve the others.
        """
        now = self.clock()
        if not await self.store.acquire_lease(RECOVERY_LEASE, self.instance_id, now=now, ttl=RECOVERY_LEASE_TTL):
            return 0
        try:
            messages = await self.store.messages_awaiting_plugins(
                before=now - RECOVERY_AGE, limit=RECOVERY_BATCH, max_attempts=MAX_PLUGIN_ATTEMPTS
            )
            for message in messages:
                if not await self.store.acquire_lease(
                    RECOVERY_LEASE, self.instance_id, now=self.clock(), ttl=RECOVERY_LEASE_TTL
                ):
                    log.warning("plugin recovery: the lease went to another hub; stopping this round")
                    break
                attempts = await self.store.count_plugin_attempt(message.id)
                try:
                    await self.run_plugins(message)
                except Exception:
                    log.exception("plugin recovery failed on message %s (attempt %d)", message.id, attempts)
                if attempts >= MAX_PLUGIN_ATTEMPTS and not await self._plugins_done(message.id):
                    log.error(
                        "plugin recovery: message %s (conversation %s) parked after %d failed attempts; "
                        "its plugins will not run again",
                        message.id,
                        message.conversation_id,
                        attempts,
                    )
        finally:
            await self.store.release_lease(RECOVERY_LEASE, self.instance_id)
        if messages:
            log.info("ran plugins on %d message(s) left unprocessed by an earlier run", len(messages))
        return len(messages)

    async def _plugins_done(self, message_id: str) -> bool:
        found = await self.store.get_message(message_id)
        return found is None or found.plugins_done

    async def drain(self, timeout: float) -> None:
        """Stop taking messages; let running plugins finish within `timeout`."""
        self.accepting = False
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:  # their messages stay marked for recovery
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
