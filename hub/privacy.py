"""Secrets customers type (card numbers, resident IDs, CVVs, one-time codes, passwords):
replaced before a message is stored, and the customer warned once per ticket.

The detection is `conversation/secrets.py`; what a message's parts become is
`conversation/redaction.py`. This module gives them the hub's words: the placeholder a
secret leaves, in the customer's language (`secret.<kind>` in the hub catalog), and the
warning (`bot.secrets_warning`), sent through the outbox like any bot reply.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from conversation.inbound import Inbound
from conversation.model import Conversation
from conversation.platform_code import code_span
from conversation.redaction import redact_inbound, take_out
from conversation.secrets import Placeholder, SecretKind, redact
from conversation.store import Store, StoreUnavailable
from hub.i18n import best_locale, detect_language, hub_texts
from hub.told import mark_told

if TYPE_CHECKING:  # the conversation service itself asks this module about agents' texts
    from hub.services.conversations import ConversationService

log = logging.getLogger(__name__)

TELLER = "privacy"  # whose record of what was told (coordination state "privacy/told")
WARNING_KEY = "secrets"
LONG_MESSAGE_CHARS = 20_000
# What is taken out of what an agent writes too. Only these: their checksums make them
# unmistakable and an agent never needs to send or keep one whole, while an agent may well
# write "code" or "password" beside a number (a voucher's code, an order number).
AGENT_KINDS = frozenset({SecretKind.CARD_NUMBER, SecretKind.RESIDENT_ID})


def placeholders(language: str, fallback: str) -> Placeholder:
    """The words a secret leaves in a text in `language` (`secret.<kind>` in the hub catalog)."""
    # The catalog is looked up only when a secret is found: most messages have none.
    return lambda kind: hub_texts(best_locale(language, fallback)).get(f"secret.{kind.value}")


def inbound_placeholders(inbound: Inbound, fallback: str) -> Placeholder:
    """The words a secret leaves in a customer's message, in its ticket's language; that
    language is worked out only when a secret is found: most messages have none."""
    return lambda kind: placeholders(placeholder_language(inbound), fallback)(kind)


def placeholder_language(inbound: Inbound) -> str:
    """The language a customer's ticket reads in: the text's own when its script says so
    (Chinese typed on a client set to English), else what the channel says."""
    written = detect_language(inbound.text)
    return written if written not in ("", "en") else inbound.sender.language


def redact_agent_text(text: str, fallback: str) -> str:
    """An agent's reply or note with any card or resident ID number in it replaced."""
    return redact(text, placeholders(detect_language(text), fallback), only=AGENT_KINDS)[0]


class SecretsGuard:
    """Redaction is always on; the warning can be turned off (`[privacy] warn_customers`)."""

    def __init__(self, language: str, *, warn: bool = True) -> None:
        self.language = language  # the hub's: for customers whose language has no catalog
        self.warn = warn

    async def inbound(self, inbound: Inbound) -> tuple[Inbound, frozenset[SecretKind]]:
        """The message as it may be stored, and the kinds of secret taken out of it. A long
        one (an email's whole text and HTML) is read off the event loop: about 0.3 s a MB."""
        words = inbound_placeholders(inbound, self.language)
        if len(inbound.text) + len(inbound.html) + len(str(inbound.raw or "")) < LONG_MESSAGE_CHARS:
            return redact_inbound(inbound, words)
        return await asyncio.to_thread(redact_inbound, inbound, words)

    def take_code(self, inbound: Inbound, *, alone: bool = False) -> tuple[Inbound, str]:
        """A one-time code the hub awaits from this sender (conversation/platform_code.py) out of
        the message, replaced as any code is; the code for the check, in memory only ("" when
        the message holds none)."""
        span = code_span(inbound.text, alone=alone)
        if span is None:
            return inbound, ""
        words = placeholders(placeholder_language(inbound), self.language)(SecretKind.ONE_TIME_CODE)
        return take_out(inbound, span[0], span[1], words)

    def text(self, text: str) -> tuple[str, frozenset[SecretKind]]:
        """A text with no sender's language at hand (an edit): its placeholders in the text's."""
        return redact(text, placeholders(detect_language(text), self.language))

    async def warn_once(
        self, store: Store, actions: ConversationService, conversation: Conversation, language: str
    ) -> bool:
        """Tell the customer, once per ticket, not to send such data; whether it was told now.
        Best effort: the message is stored already, and a failure only costs the warning."""
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
        except Exception:  # never fails the message's acknowledgement: it is stored, and a retry is a duplicate
            log.exception("ticket %s: the warning about secrets failed", conversation.number)
            return False
        return True
