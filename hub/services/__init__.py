"""The hub's services: every change (from the API, the CLI, plugins or adapters) goes
through one of them, which validates, stores, leaves a system event in the thread where
agents expect one, and publishes the live event. Reads may go to the store directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from conversation.inbound import InboundLimits
from conversation.model import utcnow
from conversation.paging import PAGE_CHANNEL_KINDS
from conversation.presence import PresenceRules
from conversation.store import Store, Ticketing
from hub.events import EventBus
from hub.i18n import SOURCE_LOCALE
from hub.services.accounts import AccountService
from hub.services.calendars import CalendarService
from hub.services.canned import CannedService
from hub.services.contacts import ContactService
from hub.services.conversations import ConversationService
from hub.services.desk import DeskService
from hub.services.fields import FieldService
from hub.services.hotline import HotlineService
from hub.services.kb_learning import LearningService
from hub.services.knowledge import KnowledgeService
from hub.services.quality import QualityService
from hub.services.records import RecordService
from hub.services.roster import RosterService
from hub.services.routing import RoutingRules, RoutingService
from hub.services.webhooks import WebhookService


@dataclass(frozen=True, slots=True)
class Services:
    conversations: ConversationService
    contacts: ContactService
    accounts: AccountService
    canned: CannedService
    desk: DeskService
    records: RecordService
    hotline: HotlineService
    calendars: CalendarService
    fields: FieldService
    webhooks: WebhookService
    roster: RosterService
    routing: RoutingService
    knowledge: KnowledgeService
    learning: LearningService
    quality: QualityService

    @classmethod
    def build(
        cls,
        store: Store,
        bus: EventBus,
        wake_outbox: Callable[[], None],
        *,
        clock: Callable[[], datetime] = utcnow,
        language: str = SOURCE_LOCALE,
        phone_region: str = "CN",
        missed_callback: timedelta = timedelta(minutes=30),
        ticketing: Ticketing | None = None,
        limits: InboundLimits | None = None,
        webhook_destinations: tuple[bool, bool] = (False, False),  # [webhooks] allow_http, allow_private_destinations
        routing: RoutingRules | None = None,
        presence: PresenceRules | None = None,
        presence_ttl: timedelta = timedelta(seconds=60),
        timezone: str = "UTC",
        channel_types: Mapping[str, str] | None = None,
        owner: str = "hub",
    ) -> Services:
        conversations = ConversationService(store, bus, wake_outbox, clock=clock, language=language)
        desk = DeskService(store, bus)
        roster = RosterService(
            store,
            bus,
            clock=lambda: conversations.clock(),
            timezone=timezone,
            presence_ttl=presence_ttl,
            rules=presence,
            page_channels=frozenset(n for n, kind in (channel_types or {}).items() if kind in PAGE_CHANNEL_KINDS),
            desk=desk,
        )
        knowledge = KnowledgeService(store, bus, clock=lambda: conversations.clock())
        learning = LearningService(store, knowledge, clock=lambda: conversations.clock())
        learning.region = phone_region
        conversations.agent_resolved = learning.agent_resolved
        routing_service = RoutingService(
            store,
            conversations,
            roster,
            rules=routing or RoutingRules(),
            channel_types=channel_types or {},
            owner=owner,
        )
        return cls(
            conversations=conversations,
            contacts=ContactService(store, bus),
            accounts=AccountService(store, clock=lambda: conversations.clock()),  # one clock (tests move it)
            canned=CannedService(store),
            desk=desk,
            records=RecordService(store, bus, clock=lambda: conversations.clock()),
            hotline=HotlineService(
                store,
                bus,
                conversations,
                default_region=phone_region,
                missed_callback=missed_callback,
                ticketing=ticketing,
                limits=limits,
            ),
            calendars=CalendarService(store, bus),
            knowledge=knowledge,
            fields=FieldService(store, bus),
            webhooks=WebhookService(
                store,
                allow_http=webhook_destinations[0],
                allow_private=webhook_destinations[1],
                clock=lambda: conversations.clock(),
                wake_outbox=wake_outbox,
            ),
            roster=roster,
            routing=routing_service,
            learning=learning,
            quality=QualityService(store, bus, conversations, routing_service, clock=lambda: conversations.clock()),
        )


def store_only(store: Store) -> Services:
    """For the command line, which runs without a hub: nothing listens for live events."""
    return Services.build(store, EventBus(), lambda: None)
