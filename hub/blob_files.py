"""The embedded store's attachments: files in the data directory, one per content hash.

Pending uploads are files too, under `uploads/<area>/` beside the blobs; a file's
modification time is when it was uploaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from hub.blobs import BlobStore, PendingFile, PendingUploads, StoredBlob, blob_ref, checked_ref

CHUNK_BYTES = 64 * 1024


class FileBlob(StoredBlob):
    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size

    async def chunks(self) -> AsyncIterator[bytes]:
        file = await asyncio.to_thread(self.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
                yield chunk
        finally:
            file.close()


class FileBlobs(BlobStore):
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, ref: str) -> Path:
        return self.directory / ref[:2] / checked_ref(ref)

    async def put(self, data: bytes) -> str:
        ref = blob_ref(data)
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
        """Where the bytes of `ref` are on disk (this backend only); None if gone."""
        try:
            path = self._path(ref)
        except ValueError:
            return None
        return path if path.exists() else None

    async def open(self, ref: str) -> StoredBlob | None:
        path = self.path(ref)
        if path is None:
            return None
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return None
        return FileBlob(path, size)

    def uploads(self, area: str, ttl: float, clock: Callable[[], float] = time.time) -> PendingUploads:
        return FileUploads(self.directory.parent / "uploads" / area, self, ttl, clock)


class FileUploads(PendingUploads):
    def __init__(self, directory: Path, blobs: BlobStore, ttl: float, clock: Callable[[], float] = time.time) -> None:
        super().__init__(blobs, ttl, clock)
        self.directory = directory

    async def _write(self, key: str, data: bytes, at: float) -> None:
        path = self.directory / key

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{secrets.token_hex(8)}.part")  # unique: concurrent uploads
            partial.write_bytes(data)
            os.utime(partial, (at, at))  # the expiry starts now, by the uploads' clock
            os.replace(partial, path)  # also restarts the expiry of a re-uploaded file

        await asyncio.to_thread(write)

    async def _load(self, key: str) -> PendingFile | None:
        path = self.directory / key

        def load() -> PendingFile | None:
            try:
                return PendingFile(path.read_bytes(), path.stat().st_mtime)
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(load)

    async def _delete_older(self, cutoff: float) -> int:
        return await asyncio.to_thread(self._delete_older_blocking, cutoff)

    def _delete_older_blocking(self, cutoff: float) -> int:
        if not self.directory.is_dir():
            return 0
        removed = 0
        for folder in self.directory.iterdir():
            for path in folder.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds once it is empty
        return removed
