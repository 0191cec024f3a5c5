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


# Types `filetype` tells by their bytes: a file declared as one of them without its signature
# is not what its sender says (a trial's "photo.jpg", image/jpeg, was a Windows program).
SIGNED_TYPES = frozenset(kind.mime for kind in filetype.TYPES) - {BINARY}
# Containers whose members the signature alone does not tell apart (an .xlsx is a ZIP file, a
# .doc and an .xls are both OLE files): the sender's precise word stands when its family agrees.
_ZIP = "application/zip"
_OLE = frozenset({"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"})


def _same_family(declared: str, detected: str) -> bool:
    if detected == _ZIP:
        return declared.endswith("+zip") or any(word in declared for word in ("openxmlformats", "opendocument"))
    return detected in _OLE and (declared in _OLE or declared.startswith("application/vnd.ms-"))


def checked_type(declared: str, data: bytes) -> str:
    """The type of a file whose sender declared one (a mail's part, a chat app's upload): what
    its bytes show when they show something; the declared type when they agree with it, or
    show nothing and it is none of the types with a signature; else what the bytes are."""
    declared = (declared or BINARY).strip().lower()
    detected = detect_type(data)
    if declared == detected or _same_family(declared, detected):
        return declared
    if detected == BINARY:
        return BINARY if declared in SIGNED_TYPES else declared  # ms-tnef, a CAD file...: their word
    if detected == "text/plain":
        plain = declared.startswith("text/") and declared != "text/html"  # text/csv, text/calendar
        return declared if plain else detected
    return detected


def file_name(claimed: str) -> str:
    """Only the last path segment of what the browser claims, however it was encoded."""
    return Path(unquote(claimed or "file").replace("\\", "/")).name[:200] or "file"
