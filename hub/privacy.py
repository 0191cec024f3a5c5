"""Secrets customers type (card numbers, resident IDs, CVVs, one-time codes, passwords):
replaced before a message is stored, and the customer warned once per ticket.

The detection is `conversation/secrets.py`; what a message's parts become is
`conversation/redaction.py`. This module gives them the hub's words: the placeholder a
secret leaves, in the customer's language (`secret.<kind>` in the hub catalog), and the
warning (`bot.secrets_warning`), sent through the outbox like any bot reply.
"""

from __future__ import annotations

import logging

from conversation.inbound import Inbound
from conversation.model import Conversation
from conversation.redaction import redact_inbound
from conversation.secrets import Placeholder, SecretKind, redact
from conversation.store import Store, StoreUnavailable
from hub.i18n import best_locale, detect_language, hub_texts
from hub.plugin_host import mark_told
from hub.services.conversations import ConversationService

log = logging.getLogger(__name__)

TELLER = "privacy"  # whose record of what was told (coordination state "privacy/told")
WARNING_KEY = "secrets"


class SecretsGuard:
    """Redaction is always on; the warning can be turned off (`[privacy] warn_customers`)."""

    def __init__(self, language: str, *, warn: bool = True) -> None:
        self.language = language  # the hub's: for customers whose language has no catalog
        self.warn = warn

    def placeholder(self, language: str) -> Placeholder:
        catalog = hub_texts(best_locale(language, self.language))
        return lambda kind: catalog.get(f"secret.{kind.value}")

    def inbound(self, inbound: Inbound) -> tuple[Inbound, frozenset[SecretKind]]:
        """The message as it may be stored, and the kinds of secret taken out of it."""
        return redact_inbound(inbound, self.placeholder(inbound.sender.language))

    def text(self, text: str) -> tuple[str, frozenset[SecretKind]]:
        """A text with no sender's language at hand (an edit): its placeholders in the text's."""
        return redact(text, self.placeholder(detect_language(text)))

    async def warn_once(
        self, store: Store, actions: ConversationService, conversation: Conversation, language: str
    ) -> bool:
        """Tell the customer, once per ticket, not to send such data; whether it was told now.
        Best effort: the message is stored already, and a store outage only costs the warning."""
        if not self.warn:
            return False
        try:
            if not await mark_told(store, conversation.id, TELLER, WARNING_KEY, ""):
                return False
            text = hub_texts(best_locale(language, self.language)).get("bot.secrets_warning")
            await actions.post_bot_message(conversation, text, plugin=TELLER)
        except StoreUnavailable as exc:
            log.warning("ticket %s: the warning about secrets was not sent (%s)", conversation.number, exc)
            return False
        return True
