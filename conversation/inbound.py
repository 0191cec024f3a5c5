"""What an adapter hands to the hub: one customer message, already verified."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

from conversation.errors import InvalidInput
from conversation.model import Attachment, to_ms, utcnow


class InvalidInbound(InvalidInput):
    """The payload cannot become a message; the channel gets a clear 4xx, nothing is stored."""


V = TypeVar("V", "Inbound", "Sender")

# Control characters no one types and no screen shows (a NUL from a webhook's JSON, a bell in
# a mail subject): taken out of what is kept. Tab, line feed and carriage return stay; a
# vertical tab or form feed becomes a line break and the ASCII separators a space, so the
# words they stood between stay apart.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PLAIN = {c: None for c in (*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F)} | {
    0x0B: "\n",
    0x0C: "\n",
    **dict.fromkeys(range(0x1C, 0x20), " "),
}
# A name is shown in lists beside others: a right-to-left override in it ("\u202egnp.exe")
# would show another name, so the bidirectional controls go too (a message keeps them: a
# customer writing Arabic or Hebrew may need them).
NAME_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_NAME = _PLAIN | dict.fromkeys((*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# What an identifier (a webhook's message id, thread, sender id) may not hold: control
# characters of any kind (tab and line breaks too), and the invisible and direction-changing
# ones that make "user-\u202eB" or "user-B\u200b" look like user-B in an agent's list.
NOT_IN_IDENTIFIERS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\u3164\ufeff]"
)
# A mail address as people type it: one @, no spaces, a dot in the domain (whether it takes
# mail is the mail server's to say).
EMAIL_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]+$")
# Something a reader sees: a text of spaces and zero-width characters alone is no message.
VISIBLE = re.compile(r"[^\s\u200b-\u200d\u2060\ufeff]")


def plain_text(text: str) -> str:
    """A customer's text without control characters (see CONTROL_CHARACTERS)."""
    return text.translate(_PLAIN) if CONTROL_CHARACTERS.search(text) else text


QUOTED_LINE = re.compile(r"^[ \t]*>")  # a line of a quoted mail


def answer_words(text: str) -> str:
    """What a customer typed as a short answer to a bot's question: the text less the quoted
    lines it ends with. A mail program quotes the question under a top-posted "o-7777" (a
    trial's dispute bot sent the quote to the platform as part of the order id). The message
    itself keeps them: ">" lines with no "wrote:" above may be the customer's own citation."""
    lines = text.rstrip().split("\n")
    end = len(lines)
    while end and (QUOTED_LINE.match(lines[end - 1]) or not lines[end - 1].strip()):
        end -= 1
    return "\n".join(lines[:end]) if end else text


# A person's name as the inbox shows it. The signed webhook refuses a longer one (its sender
# can fix it); a mail's display name or a chat profile's is cut to this, since the person
# writing cannot be asked.
MAX_NAME_CHARS = 200


def shown_name(name: str) -> str:
    """A sender's name cut to MAX_NAME_CHARS characters (an ellipsis marks the cut)."""
    return name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 1].rstrip() + "…"


def plain_name(name: str) -> str:
    """A sender's or a file's name without control or bidirectional-override characters."""
    return name.translate(_NAME) if NAME_CONTROLS.search(name) else name


@dataclass(slots=True, frozen=True)
class Sender:
    address: str  # the identity on that channel: user id, email address, visitor id
    display_name: str = ""
    email: str = ""  # when the channel knows it (Slack users.info, a web-chat form)
    # The channel proved `email` is this sender's (conversation/identity.py). Only then does
    # the email become the contact's trusted one and join a contact known by it.
    verified: bool = False
    language: str = ""  # BCP 47 tag the channel knows (Telegram language_code, Slack locale, ...)
    # The customer's tier as the platform's own backend says it (the signed webhook channel
    # only): it replaces the contact's, and [desk] tier_priorities ranks their new tickets by it.
    tier: str = ""


@dataclass(slots=True, frozen=True)
class Inbound:
    channel: str
    external_id: str  # unique per channel: the idempotency key
    sender: Sender
    thread_key: str  # which conversation on that channel this continues
    text: str = ""
    html: str = ""  # must already be sanitised by the adapter
    subject: str = ""
    attachments: tuple[Attachment, ...] = ()
    choice_id: str = ""  # the option a customer picked from a plugin's question
    conversation_hint: str = ""  # the channel knows the ticket (an email's References): route to it
    participants: tuple[str, ...] = ()  # other people on the thread (an email's Cc), kept on the ticket
    automatic: bool = False  # an auto-reply, bounce or bulk mail: bots must not answer it
    # A machine's answer to our message (a vacation reply): it joins its thread's ticket and
    # leaves its status as it is (routing.Route.AUTOMATIC). Narrower than `automatic`: a
    # person's reply through a mailing list is automatic for bots, yet wakes the ticket.
    auto_reply: bool = False
    # Not the customer's words but the hub's record of a contact with them (a logged phone
    # call): it opens or joins the ticket like a message, and is kept as a system event.
    record_only: bool = False
    # The channel's threads belong to the sender who started them (the signed webhook channel,
    # whose senders are the platform's users): another sender naming that thread gets a ticket
    # of their own instead of joining (routing.own_thread), never answered as its owner.
    own_threads: bool = False
    sent_at: datetime = field(default_factory=utcnow)
    raw: dict[str, Any] | None = None


@dataclass(slots=True, frozen=True)
class InboundLimits:
    max_text_chars: int = 64_000
    max_attachments: int = 20
    max_key_chars: int = 512

    @property
    def max_html_chars(self) -> int:
        return self.max_text_chars * 4


def validate_inbound(inbound: Inbound, limits: InboundLimits) -> Inbound:
    """Check an inbound value before anything is written; return it with times normalised
    and invisible control characters taken out of its text, subject and names."""
    # Not in `html`: the adapter's sanitiser has read it, and a character taken out after
    # that could join two harmless pieces into one that is not ("java\x01script:").
    find = CONTROL_CHARACTERS.search
    try:
        if (
            find(inbound.text)
            or find(inbound.subject)
            or NAME_CONTROLS.search(inbound.sender.display_name)
            or (inbound.attachments and any(NAME_CONTROLS.search(a.name) for a in inbound.attachments))
        ):
            inbound = _without_control_characters(inbound)
        if len(inbound.sender.display_name) > MAX_NAME_CHARS:
            inbound = replace(
                inbound, sender=replace(inbound.sender, display_name=shown_name(inbound.sender.display_name))
            )
    except (TypeError, AttributeError):
        pass  # not strings, or no sender: _problem names what is wrong
    problem = _problem(inbound, limits)
    if problem:
        raise InvalidInbound(problem)
    try:
        sent_at = to_ms(inbound.sent_at)
    except (AttributeError, ValueError, OverflowError) as exc:  # OverflowError: year 1 or 9999 moved to UTC
        raise InvalidInbound(f"sent_at: {exc}") from exc
    if sent_at == inbound.sent_at:
        return inbound
    return replace(inbound, sent_at=sent_at)


def _without_control_characters(inbound: Inbound) -> Inbound:
    """The inbound value with the control characters taken out of its text, subject, sender's
    name and attachments' names (called only when one of them holds one)."""
    return replace(
        inbound,
        text=plain_text(inbound.text),
        subject=plain_text(inbound.subject),
        sender=replace(inbound.sender, display_name=plain_name(inbound.sender.display_name)),
        attachments=tuple(replace(a, name=plain_name(a.name)) for a in inbound.attachments),
    )


def _problem(inbound: Inbound, limits: InboundLimits) -> str:
    """The first thing wrong with an inbound value, or "". Checked in line, not through a
    helper taking each condition and its text: every message passes here, and a call and a
    formatted text per check were most of its cost."""
    for name, value in (
        ("channel", inbound.channel),
        ("external_id", inbound.external_id),
        ("thread_key", inbound.thread_key),
    ):
        if not (isinstance(value, str) and value.strip() != ""):
            return f"{name} is required"
        if len(value) > limits.max_key_chars:
            return f"{name} is longer than {limits.max_key_chars} characters"
    sender = inbound.sender
    if not isinstance(sender, Sender):
        return "sender is required"
    if not sender.address.strip():
        return "sender.address is required"
    if len(sender.address) > limits.max_key_chars:
        return "sender.address is too long"
    # Own threads are keyed by thread and sender (routing.own_thread): a sealed key named
    # by a sender would reach another's.
    if inbound.own_threads and (
        CONTROL_CHARACTERS.search(inbound.thread_key) or CONTROL_CHARACTERS.search(sender.address)
    ):
        return "thread_key and sender.address must not contain control characters"
    if len(sender.tier) > 40:
        return "sender.tier is too long (40 characters at most)"
    if not (isinstance(inbound.text, str) and isinstance(inbound.html, str)):
        return "text and html must be strings"
    if len(inbound.text) > limits.max_text_chars:
        return f"text is longer than {limits.max_text_chars} characters"
    if len(inbound.html) > limits.max_html_chars:
        return f"html is longer than {limits.max_html_chars} characters"
    if len(inbound.subject) > 1000:
        return "subject is longer than 1000 characters"
    if len(inbound.attachments) > limits.max_attachments:
        return f"more than {limits.max_attachments} attachments"
    if not (VISIBLE.search(inbound.text) or inbound.html.strip() or inbound.attachments or inbound.choice_id):
        return "message has no text, attachment or choice"
    return ""


def with_changes(value: V, **changes: Any) -> V:
    """dataclasses.replace for an Inbound or its Sender, which the pipeline copies on most
    messages (the sender's language): the same copy, with every field read in one call
    instead of one getattr each (a fifth of the calls)."""
    names, read = _READERS[type(value)]
    values = dict(zip(names, read(value), strict=True))
    values.update(changes)
    return type(value)(**values)


def _reader(cls: type) -> tuple[tuple[str, ...], attrgetter[Any]]:
    names = tuple(f.name for f in fields(cls))  # every field of these is an __init__ argument
    return names, attrgetter(*names)


_READERS = {cls: _reader(cls) for cls in (Inbound, Sender)}
