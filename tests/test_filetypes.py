"""What a file a sender declared a type for really is (hub.filetypes.checked_type)."""

from __future__ import annotations

import pytest

from hub.filetypes import checked_type

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PROGRAM = b"MZ\x90\x00\x03" + b"\0" * 64 + b"This program cannot be run in DOS mode"
CSV = "订单,金额\n5531,12.50\n"


@pytest.mark.parametrize(
    ("declared", "data", "name", "kept"),
    [
        ("image/jpeg", PROGRAM, "photo.jpg", "application/x-msdownload"),  # a lie: what the bytes are
        ("image/png", b"<html><script>alert(1)</script></html>", "page.png", "text/html"),
        ("image/png", b"just words", "x.png", "text/plain"),  # a format its bytes would show
        ("image/svg+xml", b"<svg onload=alert(1)></svg>", "x.svg", "text/html"),  # a page
        ("text/html", b"plain words", "x.html", "text/plain"),
        ("image/png", PNG, "real.png", "image/png"),
        ("text/csv", CSV.encode(), "orders.csv", "text/csv"),
        # Windows mail labels CSV files as Excel; a GBK one is not UTF-8 (a review)
        ("application/vnd.ms-excel", CSV.encode(), "orders.csv", "text/csv"),
        ("application/vnd.ms-excel", CSV.encode("gbk"), "orders.csv", "text/csv"),
        ("application/json", b'{"order": 5531}', "order.json", "application/json"),  # text: their word
        ("application/ms-tnef", b"\x78\x9f\x3e\x22" + b"\1" * 40, "winmail.dat", "application/ms-tnef"),
        ("application/pdf", b"\r\n\r\n%PDF-1.4\n%%EOF\n", "invoice.pdf", "application/pdf"),  # header past byte 0
        ("application/pdf", b"not a pdf at all", "invoice.pdf", "text/plain"),
    ],
)
def test_a_files_type_is_what_its_bytes_show_else_its_senders_word(
    declared: str, data: bytes, name: str, kept: str
) -> None:
    assert checked_type(declared, data, name) == kept
