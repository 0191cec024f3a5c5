"""Which ticket an inbound mail belongs to. Wrong answers are the best-known failure of
help desks, so the rule is narrow and in this order:

1. In-Reply-To, then References (newest first): any Message-ID Helpline stored, ours
   (we generate `<message-id@domain>` from our own message ids) or a customer's;
2. the ticket token in the subject (`[#1042]`);
3. otherwise a new ticket. Subject similarity alone never joins two mails.

Either match counts only from an address that belongs to that ticket's contact or its
participants. A Message-ID is no secret (everyone on a thread has it, ours follow the clock):
a stranger naming one would put words in another customer's ticket, and the Cc of that mail
would be copied on the agents' replies to that customer. A mail whose From a list rewrote
names its person only in headers anyone can write: it joins only a ticket that same list's
mail is on already (the list's own From is what a receiving server checked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conversation.identity import COPY_OF
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind
from hub.sdk import ChannelReads

OUR_ID = re.compile(r"^<([0-9a-f]{24})@([^>]+)>$")


def our_message_id(message_id: str, domain: str) -> str:
    return f"<{message_id}@{domain}>"


# A page (a note the hub mails to an agent's own address) has a Message-ID of its own form:
# a reply to it must never be threaded into the customer's ticket as a customer's message.
PAGE_ID = re.compile(r"^<page\.([0-9a-f]{24})@([^>]+)>$")


def page_message_id(message_id: str, domain: str) -> str:
    return f"<page.{message_id}@{domain}>"


def answered_page(message_ids: list[str], domain: str) -> str:
    """The id of the page a mail answers (In-Reply-To or References name one of ours), or ""."""
    for candidate in message_ids:
        found = PAGE_ID.match(candidate)
        if found and found.group(2) == domain:
            return found.group(1)
    return ""


def reused_id_key(message_id: str, sender: str) -> str:
    """The key a mail is stored under when another sender's mail took its Message-ID first: a
    Message-ID is its sender's to choose, so theirs is no retry of that mail, and a reply
    naming it (In-Reply-To) from this sender means this sender's own mail."""
    return f"{message_id}~{sender}"


def token_pattern(token_format: str) -> re.Pattern[str]:
    """A regex finding the ticket number in a subject from a format like `[#{number}]`."""
    before, _, after = token_format.partition("{number}")
    return re.compile(re.escape(before) + r"(\d{1,12})" + re.escape(after))


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    conversation: Conversation | None
    how: str  # "references", "subject token", "new"
    named: int = 0  # the ticket a mail named but may not join (its sender is none of its people)


async def find_thread(
    reads: ChannelReads,
    *,
    channel: str,
    domain: str,
    in_reply_to: list[str],
    references: list[str],
    subject: str,
    sender: str,
    token: re.Pattern[str],
    via_list: str = "",
) -> ThreadMatch:
    named = 0
    for candidate in [*in_reply_to, *reversed(references)]:
        conversation_id = ""
        ours = OUR_ID.match(candidate)
        if ours and ours.group(2) == domain:
            message = await reads.get_message(ours.group(1))
            conversation_id = message.conversation_id if message else ""
        else:
            message = await reads.find_inbound(channel, candidate)
            if message is not None and message.customer_address not in ("", sender):
                message = await reads.find_inbound(channel, reused_id_key(candidate, sender)) or message
            conversation_id = message.conversation_id if message else ""
        if conversation_id:
            conversation = await reads.get_conversation(conversation_id)
            if conversation is not None and await _belongs(reads, conversation, sender, channel, via_list):
                return ThreadMatch(conversation, "references")
            named = named or (conversation.number if conversation else 0)
    for found in token.finditer(subject):
        conversation = await reads.get_conversation_by_number(int(found.group(1)))
        if conversation is not None and await _belongs(reads, conversation, sender, channel, via_list):
            return ThreadMatch(conversation, "subject token")
        named = named or (conversation.number if conversation else 0)
    return ThreadMatch(None, "new", named)


async def _belongs(
    reads: ChannelReads, conversation: Conversation, sender: str, channel: str, via_list: str = ""
) -> bool:
    """Whether a mail from `sender` may join the ticket: its opener on this channel, a
    participant, an address the hub mailed on it (a web-chat visitor's confirmed one, one an
    agent copied), or a proven address of its contact on this channel."""
    named = sender in conversation.participants or (
        conversation.channel == channel and sender == conversation.customer_address
    )
    if named and not via_list:
        return True
    thread = await reads.list_messages(conversation.id)
    # What a merge brought from another customer's ticket vouches for no one here: after agents
    # merged a stranger's ticket into a customer's, the stranger was "mailed on it". What came
    # from the same customer's other ticket (a colleague copied there, their list) still counts.
    thread = own_mails(thread, conversation)
    if via_list:
        if not any((m.raw or {}).get("list") == via_list for m in thread if m.direction is Direction.INBOUND):
            return False  # the list's From is what a receiving server checked: its mail only
        if named:
            return True
    if any(_mailed_to(m, sender, channel) for m in thread):
        return True
    contact = await reads.get_contact(conversation.contact_id)
    if contact is None:
        return False
    # The contact's other addresses only when proven theirs: a web-chat visitor may type
    # anyone's address, and that claim must not let its owner's mail into the visitor's ticket;
    # an identity on another channel (a webhook user id that looks like an address) is no mailbox.
    vouched = {i.address.lower() for i in contact.identities if i.channel == channel and i.verified}
    if contact.email_verified or any(_unaddressed_copy(m, channel) for m in thread):
        # A copy of a chat reply went only to an address its visitor confirmed, the contact's
        # email then: one queued before copies were addressed names the visitor, not the mailbox.
        vouched.add(contact.email.lower())
    return sender in vouched


def _unaddressed_copy(message: Message, channel: str) -> bool:
    """A web-chat reply's copy this channel mailed, queued before copies carried their address."""
    return (
        message.direction is Direction.OUTBOUND
        and message.channel == channel
        and bool((message.raw or {}).get(COPY_OF))
        and "@" not in message.customer_address
    )


def sent_to(message: Message, conversation: Conversation | None, contact_email: str = "") -> tuple[str, frozenset[str]]:
    """Whom a reply of ours went to, lowercased: its To (the message's address, else the
    contact's email, as `send` chose), and the addresses it copied: the Cc the agent chose,
    else the ticket's participants (as they are now); a bot's mail copies no one."""
    to = (message.customer_address if "@" in message.customer_address else contact_email).lower()
    if message.author_type in (AuthorType.BOT, AuthorType.SYSTEM):
        return to, frozenset()
    chosen = (message.raw or {}).get("cc")
    people = chosen if isinstance(chosen, list) else (conversation.participants if conversation else [])
    return to, frozenset(str(p).lower() for p in people) - {to, ""}


def _mailed_to(message: Message, address: str, channel: str) -> bool:
    """A reply this channel sent on the ticket to `address`, or with it in the Cc an agent chose.
    Not a page (a note to an agent's own mailbox): the agent's mail is no customer's."""
    if message.direction is not Direction.OUTBOUND or message.kind is not MessageKind.MESSAGE:
        return False
    if message.channel != channel or "page" in (message.raw or {}):
        return False
    chosen = (message.raw or {}).get("cc")
    copied = chosen if isinstance(chosen, list) else []
    return message.customer_address == address or address in (str(a).lower() for a in copied)


def own_mails(thread: list[Message], conversation: Conversation) -> list[Message]:
    """The thread less what a merge brought from another customer's ticket (the same
    customer's other ticket's mails stay: they are theirs)."""
    address = conversation.customer_address.lower()
    return [m for m in thread if not (m.raw or {}).get("merged_from") or m.customer_address.lower() == address]
