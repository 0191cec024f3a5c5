"""Attachment bytes, stored once by content hash: the interface, and the backend chosen by
the storage URL (`open_blobs`).

A message keeps only the reference. The embedded store keeps the bytes as files in the
data directory (`hub.blob_files`); MongoDB keeps them in GridFS (`hub.blob_gridfs`), so
every hub process on that database serves every attachment. Downloads are streamed a
chunk at a time (`stream_blob`), never read whole.
"""

from __future__ import annotations

import hashlib
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

import filetype
from aiohttp import web

REF = re.compile(r"^[0-9a-f]{64}$")
OPAQUE = "application/octet-stream"
# Extensions a file of these types may keep; any other type's is the one `filetype` knows.
EXTENSIONS = {"text/plain": ("txt",), "image/jpeg": ("jpg", "jpeg"), OPAQUE: ("bin",)}


def blob_ref(data: bytes) -> str:
    """The reference of these bytes: their SHA-256, so the same content is kept once."""
    return hashlib.sha256(data).hexdigest()


def checked_ref(ref: str) -> str:
    if not REF.match(ref):
        raise ValueError("not a blob reference")
    return ref


class StoredBlob(ABC):
    """A kept attachment opened for reading: its size, then its bytes a chunk at a time."""

    size: int

    @abstractmethod
    def chunks(self) -> AsyncIterator[bytes]: ...

    async def read(self) -> bytes:
        """All its bytes (for a channel that must send the file whole, e.g. in a mail)."""
        return b"".join([chunk async for chunk in self.chunks()])


class BlobStore(ABC):
    """Where attachment bytes are kept, by content hash."""

    @abstractmethod
    async def put(self, data: bytes) -> str:
        """Keep the bytes (the same content twice is kept once); their ref."""

    @abstractmethod
    async def open(self, ref: str) -> StoredBlob | None:
        """The kept bytes of `ref`, to stream; None if there are none (or `ref` is no ref)."""

    async def read(self, ref: str) -> bytes | None:
        blob = await self.open(ref)
        return await blob.read() if blob is not None else None

    @abstractmethod
    def uploads(self, area: str, ttl: float, clock: Callable[[], float] = time.time) -> PendingUploads:
        """The pending uploads of one channel (or "_agents"), kept where this store keeps files."""

    async def close(self) -> None:
        """Let go of any connection (the hub is stopping); files need nothing."""
        return None


@dataclass(frozen=True, slots=True)
class PendingFile:
    data: bytes
    at: float  # when it was (last) uploaded, by the uploads' clock


class PendingUploads(ABC):
    """Uploads not yet sent in a message: filed per owner, apart from the BlobStore.

    An upload belongs to whoever made it: only that owner can attach it (its bytes are
    filed under a hash of the owner's id), so nobody can attach, or probe for, another
    file by its content hash. Attaching copies it into the BlobStore; what was never
    attached is deleted by `sweep` once it is older than `ttl` seconds. Stored blobs are
    never touched, so a pending copy of bytes another channel also stored is harmless.
    A backend provides the three primitives below.
    """

    def __init__(self, blobs: BlobStore, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.blobs, self.ttl, self.clock = blobs, ttl, clock

    @staticmethod
    def key(owner: str, ref: str) -> str:
        return f"{hashlib.sha256(owner.encode()).hexdigest()[:32]}/{checked_ref(ref)}"

    @abstractmethod
    async def _write(self, key: str, data: bytes, at: float) -> None:
        """File the bytes under `key`, replacing (and restarting the expiry of) any there."""

    @abstractmethod
    async def _load(self, key: str) -> PendingFile | None: ...

    @abstractmethod
    async def _delete_older(self, cutoff: float) -> int:
        """Delete what was uploaded before `cutoff`; how many."""

    async def put(self, owner: str, data: bytes) -> str:
        ref = blob_ref(data)
        await self._write(self.key(owner, ref), data, self.clock())
        return ref

    async def read(self, owner: str, ref: str) -> bytes | None:
        """The bytes of the owner's unexpired upload, or None."""
        try:
            key = self.key(owner, ref)
        except ValueError:
            return None
        found = await self._load(key)
        if found is None or found.at < self.clock() - self.ttl:
            return None
        return found.data

    async def claim(self, owner: str, ref: str) -> bytes | None:
        """Keep the owner's upload for good (it is being sent); its bytes, or None if it is
        not theirs or expired. The pending copy stays until it expires, so a resent
        message finds it again."""
        data = await self.read(owner, ref)
        if data is not None:
            await self.blobs.put(data)
        return data

    async def sweep(self) -> int:
        """Delete expired uploads; how many were deleted."""
        return await self._delete_older(self.clock() - self.ttl)


def open_blobs(url: str, *, data_dir: Path, timeout: float = 5.0) -> BlobStore:
    """The attachment store that goes with `storage.url`: files in data_dir beside the
    embedded database, GridFS in the same database as a MongoDB store."""
    if urlsplit(url).scheme in ("mongodb", "mongodb+srv"):
        from hub.blob_gridfs import GridFSBlobs

        return GridFSBlobs(url, timeout=timeout)
    from hub.blob_files import FileBlobs

    return FileBlobs(data_dir / "blobs")


async def stream_blob(request: web.Request, blob: StoredBlob, headers: dict[str, str]) -> web.StreamResponse:
    """A download sent as the store reads it, one chunk at a time, with its length.

    If the store fails halfway the connection is cut short of that length, so the
    client sees an incomplete download, never a file silently truncated."""
    response = web.StreamResponse(headers=headers)
    response.content_length = blob.size
    await response.prepare(request)
    async for chunk in blob.chunks():
        await response.write(chunk)
    await response.write_eof()
    return response


def extensions_of(content_type: str) -> tuple[str, ...]:
    """The extensions (without dot, the preferred first) a file of this type is saved with."""
    if content_type in EXTENSIONS:
        return EXTENSIONS[content_type]
    kind = filetype.get_type(mime=content_type)
    return (kind.extension,) if kind is not None else EXTENSIONS[OPAQUE]


def name_for_type(name: str, content_type: str) -> str:
    """The name a file is saved under: its own when its extension matches its type, else
    with the type's extension added (evil.html holding text -> evil.html.txt), so a
    double-click opens it as what it is, never as a page or a program."""
    suffix = PurePosixPath(name).suffix.lower().removeprefix(".")
    allowed = extensions_of(content_type)
    return name if suffix in allowed else f"{name}.{allowed[0]}"


def download_headers(name: str, content_type: str) -> dict[str, str]:
    """Headers that make a browser save a customer's file under its name, never render it.

    RFC 6266: an ASCII fallback in `filename`, the real name (UTF-8, percent-encoded) in
    `filename*`; `nosniff` so the browser believes the type it is given. The name gets
    the type's extension when its own does not match (a file kept before names followed
    types is saved safely too).
    """
    name = name_for_type(name, content_type)
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"\\%' else "_" for c in name) or "file"
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
        "Content-Type": content_type,
        "X-Content-Type-Options": "nosniff",
    }
