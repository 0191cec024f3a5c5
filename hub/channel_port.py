"""The hub's side of `hub.sdk.HubPort`: what channel adapters may read and change.

Each change goes the way every other change goes (through the services, or stores and
then tells the live inboxes and wakes the outbox), so a message an adapter adds is seen
and delivered like one an agent adds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from conversation.desk import Category, Team
from conversation.identity import COPY_OF
from conversation.inbound import plain_text
from conversation.model import (
    Agent,
    Contact,
    Conversation,
    ConversationQuery,
    Delivery,
    DeliveryStatus,
    Message,
    utcnow,
)
from conversation.secrets import SecretKind
from conversation.store import Store, StoreUnavailable
from hub.blobs import BlobStore, PendingUploads, StoredBlob
from hub.events import Event, EventBus, Subscription
from hub.i18n import SOURCE_LOCALE, match_locale
from hub.privacy import SecretsGuard
from hub.ratelimit import RateLimit, limiter_for
from hub.relay import SOCKET_HOLD, Catcher, Relay, Taker
from hub.sdk import Adapter, IngestUnavailable
from hub.status_links import StatusLinks
from hub.thread_events import ThreadEvent

if TYPE_CHECKING:
    from hub.metrics import Metrics
    from hub.services import Services


class StoreReads:
    """The typed, read-only view of the store a channel gets (`HubPort.reads`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._store.tickets.get_conversation(conversation_id)

    async def get_conversation_by_number(self, number: int) -> Conversation | None:
        return await self._store.tickets.get_conversation_by_number(number)

    async def conversations_of(self, contact_id: str, *, channel: str = "", limit: int = 20) -> list[Conversation]:
        query = ConversationQuery(contact_id=contact_id, channel=channel or None, include_merged=True, limit=limit)
        items, _ = await self._store.inbox.list_conversations(query)
        return items

    async def get_message(self, message_id: str) -> Message | None:
        return await self._store.tickets.get_message(message_id)

    async def find_inbound(self, channel: str, external_id: str) -> Message | None:
        return await self._store.tickets.find_inbound(channel, external_id)

    async def list_messages(self, conversation_id: str, *, after: str = "") -> list[Message]:
        return await self._store.tickets.list_messages(conversation_id, after=after)

    async def get_contact(self, contact_id: str) -> Contact | None:
        return await self._store.contacts.get_contact(contact_id)

    async def find_identity_contact(self, channel: str, address: str) -> Contact | None:
        return await self._store.contacts.find_identity_contact(channel, address)

    async def get_agent(self, agent_id: str) -> Agent | None:
        return await self._store.accounts.get_agent(agent_id)

    async def get_category(self, category_id: str) -> Category | None:
        return await self._store.desk.get_category(category_id) if category_id else None


class ChannelPort:
    """Mixed into Hub: the HubPort methods beyond ingest (see hub.sdk.HubPort)."""

    instance_id: str
    store: Store
    bus: EventBus
    blobs: BlobStore
    services: Services
    adapters: dict[str, Adapter]
    secrets: SecretsGuard  # [privacy]: an edit's secrets go the way a message's do
    status_links: StatusLinks | None  # None: [status_page] is off (or the hub not started)
    relay: Relay | None  # None: the store is this process's alone (embedded SQLite)
    metrics: Metrics

    @property
    def reads(self) -> StoreReads:
        return StoreReads(self.store)

    async def record_edit(self, channel: str, external_id: str, *, text: str | None, deleted: bool = False) -> bool:
        secrets: frozenset[SecretKind] = frozenset()
        if text is not None:  # an edit is kept like the message it changes: without secrets or controls
            text, secrets = self.secrets.text(plain_text(text))
        try:
            message = await self.store.tickets.edit_inbound(
                channel, external_id, text=text, deleted=deleted, at=utcnow()
            )
        except StoreUnavailable as exc:
            raise IngestUnavailable("the message store is unavailable; retry") from exc
        if message is None:
            return False
        self.message_changed(message.conversation_id, message.id, edited=text is not None, deleted=deleted)
        if secrets:
            await self._warn_about_secrets(message.conversation_id)
        return True

    async def _warn_about_secrets(self, conversation_id: str) -> None:
        conversation = await self.store.tickets.get_conversation(conversation_id)
        if conversation is None:
            return
        contact = await self.store.contacts.get_contact(conversation.contact_id)
        language = contact.language if contact is not None else ""
        await self.secrets.warn_once(self.store, self.services.conversations, conversation, language)

    async def post_event(
        self,
        conversation_id: str,
        key: str,
        params: dict[str, str],
        *,
        raw: dict[str, Any] | None = None,
        once: str = "",
    ) -> Message:
        conversation = await self.store.tickets.get_conversation(conversation_id)
        if conversation is None:
            raise LookupError(f"no conversation {conversation_id}")
        event = ThreadEvent(key, params)
        if once:
            stored, _new = await self.services.conversations.add_thread_event_once(conversation, event, once, raw=raw)
            return stored
        return await self.services.conversations.add_thread_event(conversation, event, raw=raw)

    async def page_reply(self, page_message_id: str, *, sender: str, text: str, external_id: str) -> bool:
        page = await self.store.tickets.get_message(page_message_id)
        agent_id = str(((page.raw or {}).get("page") or {}).get("agent_id", "")) if page is not None else ""
        profile = await self.store.roster.get_profile(agent_id) if agent_id else None
        if page is None or profile is None or not sender or profile.page_address.lower() != sender.lower():
            return False
        conversation = await self.store.tickets.get_conversation(page.conversation_id)
        if conversation is None or not text.strip():
            return False
        await self.services.conversations.add_note_once(
            conversation, text, author=agent_id, key=f"page-reply:{external_id}"
        )
        return True

    async def queue_copy(self, message: Message, *, copy_id: str, channel: str, to: str = "") -> bool:
        if await self.store.tickets.get_message(copy_id) is not None:
            return False  # a retried delivery: the copy exists already
        copy = replace(
            message,
            id=copy_id,
            channel=channel,
            customer_address=to or message.customer_address,
            external_id="",
            delivery=Delivery(next_attempt_at=message.created_at),
            raw={**(message.raw or {}), COPY_OF: message.id},
        )
        await self.services.conversations.queue(copy)
        return True

    async def mark_undelivered(self, message_id: str, reason: str) -> Message | None:
        before = await self.store.tickets.get_message(message_id)
        message = await self.store.deliveries.mark_undelivered(message_id, reason)
        if message is not None:
            self.message_changed(message.conversation_id, message.id, delivery="failed")
            if (
                before is not None
                and before.delivery is not None
                and before.delivery.status is not DeliveryStatus.FAILED
            ):
                # a reply that left and bounced later is failed too (counted once, however often it bounces)
                self.metrics.failed.labels(message.channel).inc()
                await self.services.conversations.reply_failed(message, reason)
        return message

    def message_changed(self, conversation_id: str, message_id: str, **details: Any) -> None:
        self.bus.publish(Event("message.updated", conversation_id, {"message_id": message_id, **details}))

    def publish_typing(self, conversation_id: str, *, who: str = "customer") -> None:
        self.services.conversations.typing(conversation_id, who=who)

    def subscribe(self, maxsize: int = 1000, *, remote: bool = False) -> Subscription:
        return self.bus.subscribe(maxsize, remote=remote)

    async def set_contact_email(self, contact_id: str, email: str) -> None:
        await self.services.contacts.update(contact_id, {"email": email})

    async def get_state(self, key: str) -> Any:
        return await self.store.coordination.get_value(key)

    async def set_state(self, key: str, value: Any) -> None:
        await self.store.coordination.set_value(key, value)

    async def acquire_lease(self, name: str, ttl: timedelta) -> bool:
        return await self.store.coordination.acquire_lease(name, self.instance_id, now=utcnow(), ttl=ttl)

    async def release_lease(self, name: str) -> None:
        await self.store.coordination.release_lease(name, self.instance_id)

    async def put_blob(self, data: bytes) -> str:
        return await self.blobs.put(data)

    async def open_blob(self, ref: str) -> StoredBlob | None:
        return await self.blobs.open(ref)

    def status_link(self, conversation: Conversation, language: str = "") -> str:
        links = self._links_for(conversation)
        return links.url(conversation.number, language) if links is not None else ""

    def rating_links(self, conversation: Conversation, language: str = "") -> dict[int, str]:
        links = self._links_for(conversation)
        return links.rating_urls(conversation.number, language) if links is not None else {}

    def _links_for(self, conversation: Conversation) -> StatusLinks | None:
        """The status links, unless others read the ticket's thread (a Telegram group, a Slack
        channel's thread): a link posted there would let any of them read the ticket and
        write as its customer."""
        adapter = self.adapters.get(conversation.channel)
        if adapter is not None and adapter.shared_thread(conversation.thread_key):
            return None
        return self.status_links

    async def team_name(self, team: str, language: str) -> str:
        found = await self.store.desk.get_team(team) if team else None
        if found is None:
            return team
        chosen = match_locale(language, found.names) or match_locale(SOURCE_LOCALE, found.names)
        return found.names[chosen] if chosen else team

    async def team(self, team_id: str) -> Team | None:
        return await self.store.desk.get_team(team_id) if team_id else None

    def pending_uploads(self, channel: str, ttl: float) -> PendingUploads:
        return self.blobs.uploads(channel, ttl)

    def channel_adapter(self, name: str) -> Adapter | None:
        return self.adapters.get(name)

    def channel_type(self, name: str) -> str:
        return self.services.routing.channel_types.get(name, name)

    # -- several hub processes on one store (hub/relay.py) ----------------------------------
    async def hold_socket(self, key: str) -> None:
        if self.relay is not None:  # alone on the store, no other process needs to know
            await self.store.cluster.hold(key, self.instance_id, until=self.relay.clock() + SOCKET_HOLD)

    async def release_socket(self, key: str) -> None:
        if self.relay is not None:
            await self.store.cluster.release(key, self.instance_id)

    async def sockets_elsewhere(self, key: str) -> list[str]:
        if self.relay is None:
            return []
        return [h for h in await self.store.cluster.holders(key, now=self.relay.clock()) if h != self.instance_id]

    async def hand_over(self, to: list[str], kind: str, body: dict[str, Any], *, timeout: float) -> bool:
        return await self.relay.hand_over(to, kind, body, timeout=timeout) if self.relay is not None else False

    def take_handovers(self, kind: str, taker: Taker) -> None:
        if self.relay is not None:
            self.relay.takers[kind] = taker

    def on_hold_lapse(self, catch_up: Catcher) -> None:
        if self.relay is not None:
            self.relay.catchers.append(catch_up)

    def rate_limit(self, name: str, limit: int, window: float) -> RateLimit:
        return limiter_for(self.store, name, limit, window)
