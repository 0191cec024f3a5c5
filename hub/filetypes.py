"""What an uploaded file really is, from its bytes (never from what the browser says), and
the name it is kept under. Shared by the web chat's uploads and the agents' attachments."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

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


def file_name(claimed: str) -> str:
    """Only the last path segment of what the browser claims, however it was encoded."""
    return Path(unquote(claimed or "file").replace("\\", "/")).name[:200] or "file"
