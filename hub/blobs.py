"""Attachment bytes, stored once by content hash in the data directory.

A message keeps only the reference. (Several hub processes need this directory on
shared storage; a GridFS store for MongoDB deployments would slot in here.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import filetype

REF = re.compile(r"^[0-9a-f]{64}$")
OPAQUE = "application/octet-stream"
# Extensions a file of these types may keep; any other type's is the one `filetype` knows.
EXTENSIONS = {"text/plain": ("txt",), "image/jpeg": ("jpg", "jpeg"), OPAQUE: ("bin",)}


class BlobStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, ref: str) -> Path:
        if not REF.match(ref):
            raise ValueError("not a blob reference")
        return self.directory / ref[:2] / ref

    async def put(self, data: bytes) -> str:
        ref = hashlib.sha256(data).hexdigest()
        path = self._path(ref)

        def write() -> None:
            if path.exists():
                return  # the same content is already stored: that is success
            path.parent.mkdir(parents=True, exist_ok=True)
            # Each writer has its own temporary file: concurrent writers of the same content
            # (one logo in two mails at once) must not truncate or move each other's file.
            fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{ref}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(data)
                os.replace(partial, path)  # atomic: never a half-written blob under its final name
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(partial)
                raise

        await asyncio.to_thread(write)
        return ref

    def path(self, ref: str) -> Path | None:
        try:
            path = self._path(ref)
        except ValueError:
            return None
        return path if path.exists() else None


class PendingUploads:
    """Uploads not yet sent in a message: filed per owner, apart from the BlobStore.

    An upload belongs to whoever made it: only that owner can attach it (its bytes are
    filed under a hash of the owner's id), so nobody can attach, or probe for, another
    file by its content hash. Attaching copies it into the BlobStore; what was never
    attached is deleted by `sweep` once it is older than `ttl` seconds. Stored blobs are
    never touched, so a pending copy of bytes another channel also stored is harmless.
    """

    def __init__(self, directory: Path, blobs: BlobStore, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.directory, self.blobs, self.ttl, self.clock = directory, blobs, ttl, clock

    def _path(self, owner: str, ref: str) -> Path:
        if not REF.match(ref):
            raise ValueError("not a blob reference")
        return self.directory / hashlib.sha256(owner.encode()).hexdigest()[:32] / ref

    async def put(self, owner: str, data: bytes) -> str:
        ref = hashlib.sha256(data).hexdigest()
        path = self._path(owner, ref)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{ref}.{secrets.token_hex(8)}.part")  # unique: concurrent uploads
            partial.write_bytes(data)
            os.replace(partial, path)  # also restarts the expiry of a re-uploaded file

        await asyncio.to_thread(write)
        return ref

    async def read(self, owner: str, ref: str) -> bytes | None:
        """The bytes of the owner's unexpired upload, or None."""
        try:
            path = self._path(owner, ref)
        except ValueError:
            return None

        def load() -> bytes | None:
            try:
                if path.stat().st_mtime < self.clock() - self.ttl:
                    return None
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(load)

    async def claim(self, owner: str, ref: str) -> bytes | None:
        """Keep the owner's upload for good (it is being sent); its bytes, or None if it is
        not theirs or expired. The pending copy stays until it expires, so a resent
        message finds it again."""
        data = await self.read(owner, ref)
        if data is not None:
            await self.blobs.put(data)
        return data

    def sweep(self) -> int:
        """Delete expired uploads (blocking: run it in a thread); how many were deleted."""
        if not self.directory.is_dir():
            return 0
        cutoff, removed = self.clock() - self.ttl, 0
        for folder in self.directory.iterdir():
            for path in folder.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds once it is empty
        return removed


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
