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


# Types a browser shows as a page: text claiming one is plain text (what its bytes show).
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
# Spreadsheets' text that Windows mail labels as Excel (application/vnd.ms-excel).
TEXT_BY_NAME = {".csv": "text/csv", ".tsv": "text/tab-separated-values", ".txt": "text/plain"}


def checked_type(declared: str, data: bytes, name: str = "") -> str:
    """The type of a file whose sender declared one (a mail's part, a chat app's upload).

    What its bytes show when they show a format (a program sent as image/jpeg is one); the
    declared type when the bytes agree with it (its family: an .xlsx is a ZIP file) or show
    only text or nothing, unless it declares a format its bytes would show (a "PNG" of text)
    or a page; a text file named .csv is text/csv whatever Windows labelled it. A PDF may
    start past its first bytes (its header within 1 KiB, as readers allow)."""
    declared = (declared or BINARY).strip().lower()
    detected = detect_type(data)
    if declared == detected or _same_family(declared, detected):
        return declared
    if detected not in (BINARY, "text/plain"):
        return detected
    by_name = TEXT_BY_NAME.get(Path(name).suffix.lower(), "")
    if by_name and b"\0" not in data[:8192]:
        return by_name  # text in UTF-8 or a local charset (a GBK CSV)
    if declared == "application/pdf" and b"%PDF-" in data[:1024]:
        return declared
    if declared in SIGNED_TYPES or declared in PAGE_TYPES:
        return detected  # a format its bytes would show, or a page: not what it says
    return declared  # application/json, application/ms-tnef, a CAD file...: their word


def file_name(claimed: str) -> str:
    """Only the last path segment of what the browser claims, however it was encoded."""
    return Path(unquote(claimed or "file").replace("\\", "/")).name[:200] or "file"
