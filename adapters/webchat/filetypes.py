"""What a visitor's upload really is, from its bytes (never from what the browser says),
and the name it is saved under (an extension that says the same)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import filetype

# The WHATWG sniffing rules' HTML signatures: bytes a browser might render as a page.
# A byte-order mark before them does not stop a browser (or an editor) from seeing HTML.
MARKUP = re.compile(
    rb"^(?:\xef\xbb\xbf)?[\t\n\f\r ]*<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b"
    rb"|body|br|p|!--|\?xml|svg)[\t\n\f\r >/]",
    re.IGNORECASE,
)
BINARY = "application/octet-stream"
# Extensions a file of these types may keep; any other type's is the one `filetype` knows.
EXTENSIONS = {"text/plain": ("txt",), "image/jpeg": ("jpg", "jpeg"), BINARY: ("bin",)}


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


def extensions_of(content_type: str) -> tuple[str, ...]:
    """The extensions (without dot, the preferred first) a file of this type is saved with."""
    if content_type in EXTENSIONS:
        return EXTENSIONS[content_type]
    kind = filetype.get_type(mime=content_type)
    return (kind.extension,) if kind is not None else EXTENSIONS[BINARY]


def name_for_type(name: str, content_type: str) -> str:
    """The name a file is saved under: its own when its extension matches its detected
    type, else with the type's extension added (evil.html holding text -> evil.html.txt),
    so a double-click opens it as what it is, never as a page or a program."""
    suffix = PurePosixPath(name).suffix.lower().removeprefix(".")
    allowed = extensions_of(content_type)
    return name if suffix in allowed else f"{name}.{allowed[0]}"
