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
import tempfile
from pathlib import Path

REF = re.compile(r"^[0-9a-f]{64}$")


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
