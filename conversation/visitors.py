"""Anonymous web-chat visitors: the name they carry until they tell us theirs.

The stored name ("Visitor V5U_n9") is the hub's, for API clients and search; readers in
another language are given the visitor's short id (`anonymous_id`) to say it their way
("访客 V5U_n9").
"""

from __future__ import annotations

VISITOR_PREFIX = "v_"  # web-chat addresses of visitors who did not sign in
ID_CHARS = 6


def visitor_name(address: str) -> str:
    """A readable name for an anonymous visitor until they tell us theirs."""
    return f"Visitor {visitor_id(address)}" if address.startswith(VISITOR_PREFIX) else ""


def visitor_id(address: str) -> str:
    return address.removeprefix(VISITOR_PREFIX)[:ID_CHARS]


def anonymous_id(name: str, addresses: list[str]) -> str | None:
    """The short id shown for a contact still named as an anonymous visitor of one of
    `addresses`, or None when the name is a person's own."""
    for address in addresses:
        # only a visitor's address: a nameless phone or chat contact's would give its number's
        # first digits, the same for every caller of one area (a trial saw "+86139" for two)
        if address.startswith(VISITOR_PREFIX) and name == visitor_name(address):
            return visitor_id(address)
    return None
