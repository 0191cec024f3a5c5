"""Files an agent attaches to a reply: uploaded first (held for that agent only), then
named in the reply, which sends them through the ticket's channel if it can carry files."""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from conversation.model import Attachment, Conversation
from hub.api.framework import ApiError
from hub.blobs import PendingUploads, name_for_type
from hub.filetypes import detect_type, file_name

UPLOAD_TTL_SECONDS = 3600  # an upload not sent within the hour is swept
MAX_FILES = 10


def agent_uploads(hub: Any) -> PendingUploads:
    """The hub's store of agents' pending uploads (one, made on first use)."""
    uploads = getattr(hub, "_agent_uploads", None)
    if uploads is None:
        uploads = hub.blobs.uploads("_agents", UPLOAD_TTL_SECONDS)
        hub._agent_uploads = uploads
    return uploads


def channel_sends_files(hub: Any, conv: Conversation) -> bool:
    adapter = hub.adapters.get(conv.channel)
    return bool(getattr(adapter, "sends_attachments", False))


async def receive_upload(request: web.Request, hub: Any, owner: str) -> dict[str, Any]:
    """One multipart field named `file`, streamed and limited to the hub's body size."""
    limit = hub.config.hub.max_body_bytes
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise ApiError(413, "too_large", f"files are limited to {limit} bytes")
    try:
        reader = await request.multipart()
        part = await reader.next()
    except (AssertionError, ValueError, KeyError):
        raise ApiError(400, "bad_request", "send one multipart field named file") from None
    if not isinstance(part, BodyPartReader) or part.name != "file":
        raise ApiError(400, "bad_request", "send one multipart field named file")
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise ApiError(413, "too_large", f"files are limited to {limit} bytes")
    if not data:
        raise ApiError(422, "invalid", "the file is empty")
    uploads = agent_uploads(hub)
    await uploads.sweep()
    ref = await uploads.put(owner, bytes(data))
    content_type = detect_type(bytes(data))
    return {
        "ref": ref,
        "name": name_for_type(file_name(part.filename or ""), content_type),
        "content_type": content_type,
        "size": len(data),
    }


async def claim_attachments(hub: Any, owner: str, items: list[dict[str, Any]]) -> list[Attachment]:
    """The agent's own uploads, kept for good now; type and size from the bytes."""
    if len(items) > MAX_FILES:
        raise ApiError(422, "invalid", f"attachments: at most {MAX_FILES} files")
    attachments = []
    for item in items:
        data = await agent_uploads(hub).claim(owner, item["ref"])
        if data is None:
            raise ApiError(422, "invalid", "an attachment was not uploaded first, or its upload expired")
        # The name the customer's mail or chat shows: with its type's extension ("file.png",
        # never a bare "file" nor "invoice.html" holding a script), as the web chat keeps them.
        content_type = detect_type(data)
        name = name_for_type(file_name(item.get("name", "")), content_type)
        attachments.append(Attachment(name=name, content_type=content_type, size=len(data), blob_ref=item["ref"]))
    return attachments
