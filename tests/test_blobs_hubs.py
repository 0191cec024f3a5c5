"""Attachments on MongoDB live in GridFS: two hub processes on one database (each with its
own data directory, as on two machines) serve each other's uploads and attachments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.app_keys import HUB
from tests.helpers import make_config
from tests.test_webchat import PNG, agent_session, frames_until, upload_file, visitor

LIMIT = 600_000  # large enough for several GridFS chunks (255 KiB each)


@asynccontextmanager
async def hub_client(tmp_path: Path, name: str, storage_url: str) -> AsyncIterator[TestClient]:
    config = make_config(
        tmp_path / name,
        {
            "channels": {
                "webchat": {
                    "secret": "visitor-token-secret",
                    "sites": {"default": {}},
                    "max_attachment_bytes": LIMIT,
                }
            }
        },
        storage_url=storage_url,
    )
    client = TestClient(TestServer(build_app(Hub(config))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.mark.mongo
async def test_an_attachment_uploaded_through_one_hub_is_sent_and_downloaded_through_another(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    async with hub_client(tmp_path, "a", mongo_db_uri) as a, hub_client(tmp_path, "b", mongo_db_uri) as b:
        await add_agent(a.server.app[HUB].store, "li.na@example.com", Role.AGENT, "agent password 1", name="Li Na")
        me = await visitor(a)
        photo = PNG + bytes(range(256)) * 2000  # 512 KB: three chunks
        uploaded = await (await upload_file(a, me["token"], photo)).json()
        assert uploaded["size"] == len(photo)
        # the visitor's socket lands on the other hub (no sticky sessions): the upload is found there
        async with b.ws_connect(f"/channels/webchat/ws?token={me['token']}") as ws:
            await ws.send_json({"type": "message", "client_id": "p1", "text": "", "attachments": [uploaded]})
            sent = (await frames_until(ws, "ack"))["message"]
        assert sent["attachments"][0]["ref"] == uploaded["ref"]
        for hub in (a, b):  # the widget's download, from either hub
            resp = await hub.get(f"/channels/webchat/attachments/{uploaded['ref']}?token={me['token']}")
            assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
            assert int(resp.headers["Content-Length"]) == len(photo) and await resp.read() == photo
        headers = await agent_session(b)  # and the inbox's, through the API of the hub that stored none of it
        resp = await b.get(f"/api/v1/attachments/{uploaded['ref']}?message={sent['id']}", headers=headers)
        assert resp.status == 200 and await resp.read() == photo
        assert resp.headers["Content-Disposition"] == "attachment"
        for data_dir in (tmp_path / "a" / "data", tmp_path / "b" / "data"):
            assert not list(data_dir.rglob("blobs/*/*")) and not list(data_dir.rglob("uploads/*/*/*"))


@pytest.mark.mongo
async def test_the_limits_and_type_checks_hold_on_gridfs(tmp_path: Path, mongo_db_uri: str) -> None:
    async with hub_client(tmp_path, "a", mongo_db_uri) as a:
        me = await visitor(a)
        too_big = await upload_file(a, me["token"], PNG + b"\0" * LIMIT)
        assert too_big.status == 413
        page = await upload_file(a, me["token"], b"<html><script>steal()</script></html>", "cat.png")
        assert page.status == 415
        stored = a.server.app[HUB].blobs
        assert await stored.db["uploads.files"].count_documents({}) == 0  # nothing refused was kept
