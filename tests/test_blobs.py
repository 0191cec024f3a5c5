"""BlobStore: content-addressed attachment bytes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hub.blobs import BlobStore, download_headers


async def test_identical_concurrent_puts_all_succeed(tmp_path: Path) -> None:
    """Writers of the same content (a logo in two mails at once) must not share a temporary file."""
    blobs = BlobStore(tmp_path / "blobs")
    data = b"\x89PNG" + bytes(range(256)) * 8192  # 2 MiB: large enough for the writes to overlap
    for _round in range(10):
        refs = await asyncio.gather(*(blobs.put(data) for _ in range(4)))
        assert len(set(refs)) == 1
        path = blobs.path(refs[0])
        assert path is not None and path.read_bytes() == data
        path.unlink()  # the next round writes it again, concurrently
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]  # no temporary files left behind


def test_a_download_is_named_with_an_extension_that_matches_its_type() -> None:
    """Also for a file kept before names followed types (evil.html holding plain text)."""
    saved = {
        ("evil.html", "text/plain"): "evil.html.txt",
        ("x.exe", "image/png"): "x.exe.png",
        ("scan.JPEG", "image/jpeg"): "scan.JPEG",
        ("report.pdf", "application/pdf"): "report.pdf",
        ("page.htm", "application/octet-stream"): "page.htm.bin",
        ("notes", "text/plain"): "notes.txt",
    }
    for (name, content_type), expected in saved.items():
        disposition = download_headers(name, content_type)["Content-Disposition"]
        assert disposition.startswith(f'attachment; filename="{expected}";'), disposition
