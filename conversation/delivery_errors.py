"""A failed delivery's cause: a stable code for the inbox to say in the agent's language, and
the channel's English detail for the log and admins.

Both live in the delivery's one `error` text (no store field of their own) as
"[code] detail"; an error without a code is its detail alone, as before.
"""

from __future__ import annotations

import re

CODED = re.compile(r"^\[([a-z][a-z0-9_]{0,40})\] (.*)$", re.S)


def coded_error(code: str, detail: str) -> str:
    """The stored `error` text of a delivery that failed for `code` (may be "")."""
    return f"[{code}] {detail}" if code else detail


def split_coded_error(error: str) -> tuple[str, str]:
    """(code, detail) of a stored `error` text; ("", error) when it has no code."""
    found = CODED.match(error or "")
    return (found.group(1), found.group(2)) if found else ("", error or "")


# PermanentDeliveryError codes of messages a channel holds back on purpose (the email loop
# budget), not because they could not be delivered: counted apart by the outbox, and on an
# open ticket a bot's such message hands it to a person (progress.left_midway).
WITHHELD = frozenset({"auto_reply_budget"})
