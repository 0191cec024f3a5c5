"""Reading mail's bytes as text when their charset is wrong, missing or raw: shared by the
parser (bodies, headers, file names) and the bounce reader (reasons in a DSN or a text bounce)."""

from __future__ import annotations

import re

from charset_normalizer import from_bytes

# A declared charset mapped to the one that decodes what such mail really contains.
SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "iso-8859-1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
# Declared charsets that map every byte to a character, so a wrong one never fails to
# decode: mail labelled with one of these but written in UTF-8 is read as UTF-8.
SINGLE_BYTE = re.compile(r"^(iso-?8859-\d+|latin-?\d|l\d|cp125\d|windows-125\d|us-ascii|ascii|koi8-[ru])$")
# Escaped bytes: what the stdlib leaves in a header that held raw 8-bit bytes.
SURROGATES = re.compile("[\udc80-\udcff]")


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text from bytes whose declared charset may be wrong or missing."""
    candidates = []
    if declared:
        name = declared.strip().strip('"').lower()
        if SINGLE_BYTE.match(name) and not data.isascii():
            candidates.append("utf-8")  # strict UTF-8 rarely decodes text in another charset
        candidates.append(SUPERSETS.get(name, name))
    candidates.append("utf-8")
    for charset in candidates:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    detected = detect_charset(data)
    if detected is not None:
        return data.decode(detected, errors="replace")
    return data.decode("utf-8", errors="replace")


# Under this many non-ASCII bytes (about 30 Chinese characters) charset-normalizer has too
# little to go on: a trial's 我要退货 in GBK, sent without a charset, read as UTF-16 (컒튪췋믵ഊ)
# and 你好，请问我的快递到哪里了？ as Korean.
SHORT_TEXT_BYTES = 64
_WIDE = ("utf_16", "utf_32")  # need NUL bytes in any text with ASCII in it


def detect_charset(data: bytes) -> str | None:
    """The charset of bytes that declare none and are not UTF-8, or None. A short text that
    reads as GB2312 is taken as GBK (GB18030): this desk's customers write Chinese, and a few
    words are too few for a statistical guess. Longer ones go to charset-normalizer (Big5,
    Shift_JIS, EUC-KR and the rest), never to UTF-16/32 without a NUL byte; GBK again when it
    finds nothing and GB2312 reads them."""
    chinese = reads(data, "gb2312")
    if chinese and sum(byte > 0x7F for byte in data) < SHORT_TEXT_BYTES:
        return "gb18030"
    best = from_bytes(data).best()
    if best is not None and (not best.encoding.startswith(_WIDE) or b"\x00" in data):
        return str(best.encoding)
    return "gb18030" if chinese else None


def raw_header_text(value: str, charset: str = "cp1252") -> str:
    """A header as text when it held raw 8-bit bytes (no RFC 2047): the stdlib leaves
    them as surrogate escapes, which no store can encode. UTF-8 first, then `charset`
    (what header_charset found for the mail's headers)."""
    if not SURROGATES.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(charset, errors="replace")


def reads(data: bytes, charset: str) -> bool:
    try:
        data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return False
    return True


def without_surrogates(text: str) -> str:
    """The last guard before the store: an escaped byte becomes U+FFFD."""
    return SURROGATES.sub("\ufffd", text) if SURROGATES.search(text) else text
