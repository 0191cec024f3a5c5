"""Who the platform may know a customer as: the verified-identity rule (pure, no I/O).

Anything account- or order-specific (an account's state, an order, a reset link, a lock)
needs an identity the hub did not take on the customer's word:

- web chat: a signed-in site user (`user:<site>:<id>`), whose id the page signed with the
  site's identity secret: the platform user id;
- the platform's own webhook channel: the sender id, signed by the platform itself;
- email: the sender's mailbox (our answer only ever reaches that mailbox), looked up as an
  email the platform knows;
- any channel whose contact holds an email a channel verified (Slack's users.info email,
  a web-chat user's signed email): that email.

Everything else (an anonymous web-chat visitor, a Telegram account, a typed address) is
unverified: the bot says how to verify and reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversation.model import Contact

WIDGET_USER_PREFIX = "user:"


@dataclass(frozen=True, slots=True)
class PlatformIdentity:
    """How to look the customer up on the platform: exactly one of user_id and email."""

    how: str  # "widget", "platform", "email", "verified_email": for the timeline, never the value
    user_id: str = ""
    email: str = ""


def widget_user_id(address: str) -> str:
    """The platform user id in a signed web-chat identity `user:<site>:<id>`, else ""."""
    if not address.startswith(WIDGET_USER_PREFIX):
        return ""
    parts = address.split(":", 2)
    return parts[2] if len(parts) == 3 else ""


def platform_identity(channel_type: str, address: str, contact: Contact | None) -> PlatformIdentity | None:
    """The verified identity of whoever writes as `address` on a channel of `channel_type`
    (the adapter's name: webchat, webhook, email...), or None when there is none."""
    if channel_type == "webchat" and widget_user_id(address):
        return PlatformIdentity("widget", user_id=widget_user_id(address))
    if channel_type == "webhook" and address:
        return PlatformIdentity("platform", user_id=address)
    if channel_type == "email" and "@" in address:
        return PlatformIdentity("email", email=address.strip().lower())
    if contact is not None and contact.email_verified and contact.email and _writer_verified(contact, address):
        return PlatformIdentity("verified_email", email=contact.email.strip().lower())
    return None


def _writer_verified(contact: Contact, address: str) -> bool:
    """The writing identity itself is a verified one of the contact: a contact joined by
    hand to an unverified identity must not lend that identity its email."""
    return any(i.address == address and i.verified for i in contact.identities)
