"""BlobStore: content-addressed attachment bytes, on disk (the embedded store) and in
GridFS (MongoDB), streamed a chunk at a time; pending uploads held per owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conversation.store import StoreUnavailable
from hub.blob_files import FileBlobs
from hub.blob_gridfs import GridFSBlobs
from hub.blobs import BlobStore, download_headers, open_blobs
from tests.conftest import free_port


async def test_identical_concurrent_puts_all_succeed(tmp_path: Path) -> None:
    """Writers of the same content (a logo in two mails at once) must not share a temporary file."""
    blobs = FileBlobs(tmp_path / "blobs")
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


@pytest.fixture(params=["files", "gridfs"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    """The store the storage URL chooses: files beside SQLite, GridFS in MongoDB."""
    url = "sqlite://" if request.param == "files" else request.getfixturevalue("mongo_db_uri")
    store = open_blobs(url, data_dir=tmp_path)
    assert isinstance(store, FileBlobs if request.param == "files" else GridFSBlobs)
    try:
        yield store
    finally:
        await store.close()


async def test_a_blob_is_kept_once_and_read_back_a_chunk_at_a_time(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 4000  # 1 MB: several chunks in either store
    first, again = await blobs.put(data), await blobs.put(data)
    assert first == again
    blob = await blobs.open(first)
    assert blob is not None and blob.size == len(data)
    chunks = [chunk async for chunk in blob.chunks()]
    assert len(chunks) > 2 and max(map(len, chunks)) <= 255 * 1024  # never the whole file at once
    assert b"".join(chunks) == data and await blobs.read(first) == data
    for unknown in ("0" * 64, "../../etc/passwd", ""):
        assert await blobs.open(unknown) is None
    if isinstance(blobs, GridFSBlobs):  # kept once, however often it was put
        assert await blobs.db["blobs.files"].count_documents({"filename": first}) == 1


async def test_pending_uploads_belong_to_their_owner_and_expire(blobs: BlobStore) -> None:
    now = [1_000_000.0]
    uploads = blobs.uploads("webchat", ttl=60, clock=lambda: now[0])
    others = blobs.uploads("telegram", ttl=60, clock=lambda: now[0])
    ref = await uploads.put("alice", b"alice's passport")
    assert await uploads.read("alice", ref) == b"alice's passport"
    assert await uploads.read("mallory", ref) is None and await others.read("alice", ref) is None
    assert await uploads.read("alice", "not a ref") is None
    assert await blobs.open(ref) is None  # pending is not kept: only a claim keeps it
    now[0] += 50
    assert await uploads.put("alice", b"alice's passport") == ref  # uploaded again: its expiry starts again
    now[0] += 50
    assert await uploads.claim("alice", ref) == b"alice's passport"
    assert await blobs.read(ref) == b"alice's passport"
    dropped = await uploads.put("bob", b"never sent")
    await others.put("carol", b"another channel's")
    now[0] += 61
    assert await uploads.read("bob", dropped) is None  # expired, even before a sweep
    assert await uploads.sweep() == 2  # alice's (claimed, still pending) and bob's; not the other channel's
    assert await uploads.sweep() == 0 and await others.sweep() == 1
    assert await blobs.read(ref) == b"alice's passport"  # what was sent stays


async def test_gridfs_out_of_reach_is_the_store_unavailable() -> None:
    """A 503 the channel retries, as when the database itself is down."""
    blobs = GridFSBlobs(f"mongodb://127.0.0.1:{free_port()}/?directConnection=true", timeout=0.2)
    try:
        with pytest.raises(StoreUnavailable):
            await blobs.put(b"a photo")
        with pytest.raises(StoreUnavailable):
            await blobs.open("0" * 64)
        with pytest.raises(StoreUnavailable):
            await blobs.uploads("webchat", 60).put("alice", b"a photo")
    finally:
        await blobs.close()
