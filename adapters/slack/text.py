"""Slack's message text as a person reads it.

Slack writes mentions, channel links and links in angle brackets (`<@U123>`, `<#C1|support>`,
`<https://x.example|the page>`) and escapes `&`, `<` and `>` everywhere else. Agents read the
stored text, the ticket's subject comes from it and the FAQ matcher reads it, so each is
written out the way Slack shows it: `@Li Na`, `#support`, `the page (https://x.example)`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# <target> or <target|label>: Slack escapes "<" in what people type, so every "<" here is its own.
ENTITY = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
BROADCASTS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def mentioned_users(text: str) -> list[str]:
    """The user ids a text mentions, each once, in order."""
    return list(dict.fromkeys(USER_MENTION.findall(text)))


def readable(text: str, names: Mapping[str, str] = {}) -> str:
    """`text` as Slack shows it, its entities decoded; `names`: user id -> display name."""
    return unescape(ENTITY.sub(lambda m: _entity(m.group(1), m.group(2), names), text))


def _entity(target: str, label: str | None, names: Mapping[str, str]) -> str:
    if target.startswith("@"):
        user = target[1:]
        return "@" + (names.get(user) or label or user)
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        command = target[1:].split("^", 1)[0]
        return BROADCASTS.get(command) or label or f"@{command}"  # a user group, a date: its fallback
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    if not label or label == target or label == re.sub(r"^https?://", "", target):
        return target
    return f"{label} ({target})"


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
