"""Who a contact is, and who may see what: the identity rules both store backends share.

Verified and claimed emails. A channel marks a sender `verified` only when it proved the
email belongs to them (see README "Security"): Slack's users.info email, a web-chat site
user whose identity hash checks out, the sender address of a mail (replies only ever
reach that mailbox), a webhook sender whose platform says `email_verified`. Anything
else (an anonymous visitor's typed address, a webhook sender's unverified field, an
agent's correction) is a claim. A claim is kept so agents can see it, but it is never
the contact's trusted email, and an identity joins an existing contact automatically
only when both sides are verified: otherwise typing someone's address would make the
hub file their Slack or site account under a stranger's contact.

Recipients. A ticket belongs to the identity that opened it (`customer_address`); every
message records the identity that wrote it or that it is for. Replies go to that
identity, never to "some identity of the contact", and a customer only ever sees the
messages written by or to them, however agents merge tickets or contacts.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversation.inbound import Sender
from conversation.model import Contact, Conversation, Message, MessageKind


@dataclass(slots=True, frozen=True)
class ContactEmail:
    """A contact's email and whether a verified identity vouched for it."""

    address: str = ""
    verified: bool = False


def joining_email(sender: Sender) -> str:
    """The email a new identity may join an existing contact by: only a verified one.

    The contact must also hold that email as verified (the backends look it up so).
    """
    email = sender.email.strip()
    return email if sender.verified and email else ""


def email_after_message(current: ContactEmail, sender: Sender) -> ContactEmail:
    """The contact's email once this sender wrote.

    A verified email replaces a claim; a claim only fills an empty email and never
    replaces anything; a verified email stays until an agent changes it.
    """
    email = sender.email.strip()
    if not email or current.verified:
        return current
    if sender.verified:
        return ContactEmail(email, True)
    return current if current.address else ContactEmail(email, False)


def language_after_message(current: str, sender: Sender) -> str:
    """The contact's language once this sender wrote: the first one known sticks.

    A channel's word (or a guess from the text) only fills an unknown language, so an
    agent's correction is never undone by the next message."""
    return current or sender.language


def merged_language(target: str, source: str) -> str:
    """The language a contact keeps when another is merged into it: its own, if known."""
    return target or source


def merged_email(target: ContactEmail, source: ContactEmail) -> ContactEmail:
    """The email a contact keeps when another is merged into it: verified beats a claim."""
    if not target.address or (source.verified and not target.verified):
        return source
    return target


def reply_address(message: Message, conversation: Conversation) -> str:
    """The identity an outbound message goes to on its channel ("" when only the channel knows).

    The message's own recorded recipient first; else, on the ticket's channel, the
    identity that opened the ticket. Never another identity of the same contact: after
    two people were merged into one contact, that was someone else's open chat window.
    """
    if message.customer_address:
        return message.customer_address
    if message.channel == conversation.channel:
        return conversation.customer_address
    return ""


# In a message's `raw`: the id of the reply it repeats on another channel (a web-chat reply
# also mailed to a visitor who left): the inbox shows both, the customer's history one.
COPY_OF = "copy_of"


def seen_by_customer(message: Message, address: str) -> bool:
    """Whether the customer at `address` may see this message in their history.

    Only messages (never notes or system events) written by them or to them, and a reply
    once, not again as its copy by email (a trial's status page listed it twice). A message
    stored before recipients were recorded has none and stays visible, as it was.
    """
    if message.kind is not MessageKind.MESSAGE or (message.raw or {}).get(COPY_OF):
        return False
    return message.customer_address in ("", address)


def bystander(conversation: Conversation, writer: str, *, shared_thread: bool) -> bool:
    """Whether `writer` is someone else than the ticket's customer on a thread others read too
    (a Telegram group, a Slack channel's thread: Adapter.shared_thread). Their words are kept
    for the agents, but no bot acts on them: a member must not answer the opener's "did this
    solve it?", their account-lock question or their dispute for them."""
    return shared_thread and bool(conversation.customer_address) and writer != conversation.customer_address


def writes_on_in_merged(surviving: Conversation, address: str) -> bool:
    """Whether a customer whose ticket was merged into `surviving` goes on writing there.

    Only when it is their own ticket: replies there reach them. After a merge into another
    customer's ticket, replies there go to that customer only, so a follow-up written there
    would be answered to someone else; it opens a ticket of its own instead.
    """
    return (surviving.customer_address or surviving.thread_key) == address


def follows_merge(merged: Conversation, surviving: Conversation, address: str) -> bool:
    """Whether a message for `merged` (its reply token, status page, chat window) goes on in the
    ticket it was merged into: when that is the same customer's (`same_customer`: one contact is
    not enough, agents may have merged two people's) or the writer's own. Merged into another
    customer's ticket, it would be answered to that customer: it opens a ticket instead."""
    return same_customer(merged, surviving) or writes_on_in_merged(surviving, address)


def same_customer(a: Conversation, b: Conversation) -> bool:
    """Whether two tickets belong to one customer: the same identity opened both.

    One contact is not enough: after agents merged two contacts, its tickets may have been
    opened by two people, and each still sees only what was written by or to them. A ticket
    stored before recipients were recorded has no identity; its contact decides.
    """
    if a.contact_id != b.contact_id:
        return False
    if not a.customer_address or not b.customer_address:
        return True
    return (a.channel, a.customer_address) == (b.channel, b.customer_address)


@dataclass(slots=True, frozen=True)
class MergeDoubts:
    """Why two contacts may be two people: an agent confirms before merging them."""

    emails: tuple[str, str] | None = None  # (source, target) when both have an email and they differ
    channels: tuple[str, ...] = ()  # channels where each has its own identity (two accounts there)

    def __bool__(self) -> bool:
        return self.emails is not None or bool(self.channels)


def merge_doubts(source: Contact, target: Contact) -> MergeDoubts:
    """What speaks against `source` and `target` being one person (verified or claimed emails alike)."""
    a, b = source.email.strip(), target.email.strip()
    emails = (a, b) if a and b and a.lower() != b.lower() else None
    own = {identity.channel for identity in source.identities}
    channels = tuple(sorted(own & {identity.channel for identity in target.identities}))
    return MergeDoubts(emails, channels)
