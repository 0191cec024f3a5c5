"""What a visitor's upload really is, from its bytes (never from what the browser says)."""

from __future__ import annotations

import re

import filetype

# The WHATWG sniffing rules' HTML signatures: bytes a browser might render as a page.
# A byte-order mark before them does not stop a browser (or an editor) from seeing HTML.
MARKUP = re.compile(
    rb"^(?:\xef\xbb\xbf)?[\t\n\f\r ]*<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b"
    rb"|body|br|p|!--|\?xml|svg)[\t\n\f\r >/]",
    re.IGNORECASE,
)
BINARY = "application/octet-stream"


def detect_type(data: bytes) -> str:
    """The content type by signature (the `filetype` package); UTF-8 text that is not
    markup is text/plain; markup is text/html; anything else is application/octet-stream."""
    found = filetype.guess_mime(data[:8192])
    if found:
        return str(found)
    if MARKUP.match(data[:1024]):
        return "text/html"
    if b"\0" in data[:8192]:
        return BINARY
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return BINARY
    return "text/plain"
