"""MongoDB's attachments: GridFS buckets in the store's database, shared by every hub process.

`blobs` keeps one file per content hash (`filename` = the ref). GridFS writes a file's
chunks first and its `files` document last, so a file that can be found is complete: an
upload cut short (a hub killed mid-write) leaves only chunks no document points to. Each
upload gets its own id, so two hubs storing the same bytes at once never write into each
other's chunks; the second copy is harmless and reads are by name (the newest wins).

`uploads` keeps the pending uploads of every channel, named `<area>/<owner hash>/<ref>`,
with the upload time (the uploads' clock) in the file's metadata.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.errors import ConnectionFailure

from conversation.mongo.db import MongoConnection, MongoStoreBase, _unavailable_when_unreachable
from conversation.store import StoreUnavailable
from hub.blobs import BlobStore, PendingFile, PendingUploads, StoredBlob, blob_ref, checked_ref

CHUNK_BYTES = 255 * 1024  # GridFS's default chunk: one document each, one read each


class GridFSBlob(StoredBlob):
    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.size = int(stream.length)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._stream.readchunk():
                yield chunk
        except ConnectionFailure as exc:
            raise StoreUnavailable("the attachment store went away during a download") from exc
        finally:
            await self._stream.close()


class GridFSBlobs(MongoStoreBase, BlobStore):
    """On its own client to the store's database (the URL's, else "helpline"), so one
    backup holds both; unreachable, or out of disk, it is the store unavailable (a 503
    the caller retries), exactly as the store's own areas are."""

    def __init__(self, url: str, *, timeout: float = 5.0, database: str | None = None) -> None:
        self._conn = MongoConnection(url, timeout=timeout, database=database)
        self.db = self._conn.db
        self.bucket = AsyncGridFSBucket(self.db, bucket_name="blobs", chunk_size_bytes=CHUNK_BYTES)

    @_unavailable_when_unreachable
    async def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        if await self.db["blobs.files"].find_one({"filename": ref}, {"_id": 1}) is None:
            await self.bucket.upload_from_stream(ref, data, metadata={"sha256": ref})
        return ref

    @_unavailable_when_unreachable
    async def open(self, ref: str) -> StoredBlob | None:
        try:
            checked_ref(ref)
            return GridFSBlob(await self.bucket.open_download_stream_by_name(ref))
        except (ValueError, NoFile):
            return None

    def uploads(self, area: str, ttl: float, clock: Callable[[], float] = time.time) -> PendingUploads:
        return GridFSUploads(self, area, ttl, clock)

    async def close(self) -> None:
        await self._conn.client.close()


class GridFSUploads(MongoStoreBase, PendingUploads):
    def __init__(self, blobs: GridFSBlobs, area: str, ttl: float, clock: Callable[[], float] = time.time) -> None:
        super().__init__(blobs, ttl, clock)
        self._conn = blobs._conn
        self.area = area
        self.bucket = AsyncGridFSBucket(blobs.db, bucket_name="uploads", chunk_size_bytes=CHUNK_BYTES)
        self.files = blobs.db["uploads.files"]

    @_unavailable_when_unreachable
    async def _write(self, key: str, data: bytes, at: float) -> None:
        name = f"{self.area}/{key}"
        new_id = await self.bucket.upload_from_stream(name, data, metadata={"at": at})
        # A re-upload restarts the expiry: the older copies go once the new one is whole.
        async for old in self.files.find({"filename": name, "_id": {"$ne": new_id}}, {"_id": 1}):
            await self._delete(old["_id"])

    @_unavailable_when_unreachable
    async def _load(self, key: str) -> PendingFile | None:
        try:
            stream = await self.bucket.open_download_stream_by_name(f"{self.area}/{key}")
        except NoFile:
            return None
        async with stream:
            return PendingFile(await stream.read(), float((stream.metadata or {}).get("at", 0.0)))

    @_unavailable_when_unreachable
    async def _delete_older(self, cutoff: float) -> int:
        removed = 0
        query = {"filename": {"$regex": f"^{re.escape(self.area)}/"}, "metadata.at": {"$lt": cutoff}}
        async for old in self.files.find(query, {"_id": 1}):
            removed += await self._delete(old["_id"])
        return removed

    async def _delete(self, file_id: Any) -> int:
        try:
            await self.bucket.delete(file_id)
        except NoFile:  # another hub swept it first
            return 0
        return 1
