"""A customer's message with its secrets replaced (conversation/secrets.py), in every part
the hub keeps: text, HTML, subject, attachment names and the channel's raw record (an
email's whole text and HTML, a webhook's payload, a Telegram poll's options).

Applied once, before the message is stored, so the original never reaches the database,
its search index or anything that reads them (the inbox, the API, outbound webhooks).
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import Any

from conversation.inbound import Inbound
from conversation.secrets import Placeholder, SecretKind, find_secrets, redact

# Keys of a channel's raw record that hold HTML (an email's whole HTML when `html` was cut).
HTML_KEYS = frozenset({"html", "full_html"})
_TAG = re.compile(r"<[^>]*>")


class Redacted:
    """Collects the kinds of secret replaced while one message is cleaned."""

    def __init__(self, placeholder: Placeholder) -> None:
        self.placeholder = placeholder
        self.kinds: set[SecretKind] = set()

    def text(self, text: str) -> str:
        if not text:  # most messages have no subject
            return text
        cleaned, kinds = redact(text, self.placeholder)
        self.kinds |= kinds
        return cleaned

    def html(self, markup: str) -> str:
        """The markup with its secrets replaced; "" when one is still readable once the tags
        are gone (a card number split by tags or written with entities): the text part shows."""
        if not markup:  # most messages have no HTML part
            return markup
        cleaned, kinds = redact(markup, lambda kind: html.escape(self.placeholder(kind)))
        self.kinds |= kinds
        left = find_secrets(visible_text(cleaned))
        if left:
            self.kinds |= {f.kind for f in left}
            return ""
        return cleaned

    def value(self, value: Any, key: str = "") -> Any:
        """Every string in a JSON-like value, however deep, with its secrets replaced."""
        if isinstance(value, str):
            return self.html(value) if key in HTML_KEYS else self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v, key) for v in value]
        return value


def visible_text(markup: str) -> str:
    """What a reader of the HTML sees, roughly: tags gone, entities read."""
    return html.unescape(_TAG.sub("", markup))


def redact_inbound(inbound: Inbound, placeholder: Placeholder) -> tuple[Inbound, frozenset[SecretKind]]:
    """The inbound with every secret in every kept part replaced, and the kinds found."""
    redacted = Redacted(placeholder)
    text, markup, subject = redacted.text(inbound.text), redacted.html(inbound.html), redacted.text(inbound.subject)
    names = [redacted.text(a.name) for a in inbound.attachments]
    raw = redacted.value(inbound.raw) if inbound.raw is not None else None
    if not redacted.kinds:  # most messages: no copy made
        return inbound, frozenset()
    cleaned = replace(
        inbound,
        text=text,
        html=markup,
        subject=subject,
        attachments=tuple(replace(a, name=name) for a, name in zip(inbound.attachments, names, strict=True)),
        raw=raw,
    )
    return cleaned, frozenset(redacted.kinds)


def take_out(inbound: Inbound, start: int, end: int, placeholder: str) -> tuple[Inbound, str]:
    """A value the hub awaits in this message (a one-time code for a pending check) taken out
    of every kept part, as a secret is: the text's [start:end] and each copy of it in the
    HTML, subject, attachment names and raw record; with the value itself, for memory only."""
    value = inbound.text[start:end]

    def scrub(part: Any) -> Any:
        if isinstance(part, str):
            return part.replace(value, html.escape(placeholder) if "<" in part else placeholder)
        if isinstance(part, dict):
            return {k: scrub(v) for k, v in part.items()}
        if isinstance(part, list | tuple):
            return [scrub(v) for v in part]
        return part

    cleaned = replace(
        inbound,
        text=scrub(inbound.text[:start]) + placeholder + scrub(inbound.text[end:]),
        html=scrub(inbound.html),
        subject=scrub(inbound.subject),
        attachments=tuple(replace(a, name=scrub(a.name)) for a in inbound.attachments),
        raw=scrub(inbound.raw) if inbound.raw is not None else None,
    )
    return cleaned, value
