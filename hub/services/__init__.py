"""The hub's services: every change (from the API, the CLI, plugins or adapters) goes
through one of them, which validates, stores, leaves a system event in the thread where
agents expect one, and publishes the live event. Reads may go to the store directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from conversation.model import utcnow
from conversation.paging import PAGE_CHANNEL_KINDS
from conversation.presence import PresenceRules
from conversation.store import Store
from hub.events import EventBus
from hub.i18n import SOURCE_LOCALE
from hub.services.accounts import AccountService
from hub.services.canned import CannedService
from hub.services.contacts import ContactService
from hub.services.conversations import ConversationService
from hub.services.desk import DeskService
from hub.services.roster import RosterService
from hub.services.routing import RoutingRules, RoutingService


@dataclass(frozen=True, slots=True)
class Services:
    conversations: ConversationService
    contacts: ContactService
    accounts: AccountService
    canned: CannedService
    desk: DeskService
    roster: RosterService
    routing: RoutingService

    @classmethod
    def build(
        cls,
        store: Store,
        bus: EventBus,
        wake_outbox: Callable[[], None],
        *,
        clock: Callable[[], datetime] = utcnow,
        language: str = SOURCE_LOCALE,
        routing: RoutingRules | None = None,
        presence: PresenceRules | None = None,
        presence_ttl: timedelta = timedelta(seconds=60),
        timezone: str = "UTC",
        channel_types: Mapping[str, str] | None = None,
        owner: str = "hub",
    ) -> Services:
        conversations = ConversationService(store, bus, wake_outbox, clock=clock, language=language)
        roster = RosterService(
            store,
            bus,
            clock=lambda: conversations.clock(),
            timezone=timezone,
            presence_ttl=presence_ttl,
            rules=presence,
            page_channels=frozenset(n for n, kind in (channel_types or {}).items() if kind in PAGE_CHANNEL_KINDS),
        )
        return cls(
            conversations=conversations,
            contacts=ContactService(store, bus),
            accounts=AccountService(store, clock=lambda: conversations.clock()),  # one clock (tests move it)
            canned=CannedService(store),
            desk=DeskService(store, bus),
            roster=roster,
            routing=RoutingService(
                store,
                conversations,
                roster,
                rules=routing or RoutingRules(),
                channel_types=channel_types or {},
                owner=owner,
            ),
        )


def store_only(store: Store) -> Services:
    """For the command line, which runs without a hub: nothing listens for live events."""
    return Services.build(store, EventBus(), lambda: None)
