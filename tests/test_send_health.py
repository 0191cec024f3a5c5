"""/healthz and the metrics say when a channel's replies stop getting through: the channel was
"up" (started, answering) while every reply to a platform's callback receiver failed and was
given up on, and an operator saw "ok" throughout (a trial)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import utcnow
from hub.app import Hub, build_app
from hub.app_keys import HUB
from hub.sdk import RetryableDeliveryError
from tests.helpers import customer_message, eventually, make_config


async def test_a_channel_whose_replies_keep_failing_is_said_not_to_deliver_until_one_gets_through(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with TestClient(TestServer(build_app(Hub(make_config(tmp_path))))) as client:
        hub: Hub = client.server.app[HUB]
        # Every channel has its series from the start: an alert on it sees one that sent nothing yet.
        assert 'helpline_channel_sending{channel="chat"} 1.0' in await (await client.get("/metrics")).text()
        chat = hub.adapters["chat"]
        later = [timedelta(0)]
        hub.outbox.clock = lambda: utcnow() + later[0]
        chat.script = [RetryableDeliveryError("502 from the callback receiver")] * 8  # type: ignore[attr-defined]
        record = await hub.ingest(customer_message("m1", "hello"))
        with caplog.at_level(logging.WARNING, logger="hub.send_health"):
            await hub.actions.post_bot_message(record.conversation, "first reply", plugin="test")
            await eventually(lambda: hub.outbox.sending.last_error("chat"))
            health = await (await client.get("/healthz")).json()
            assert health["channels_not_delivering"] == []  # a retry's ordinary business, for now
            later[0] = timedelta(minutes=2)  # still failing two minutes on
            await hub.actions.post_bot_message(record.conversation, "second reply", plugin="test")

            async def not_delivering() -> bool:
                body = await (await client.get("/healthz")).json()
                return body["channels_not_delivering"] == ["chat"]

            await eventually(not_delivering)
            # said in the log at the next failed attempt, which may come after /healthz said it
            # (that reads the clock): a loaded CI machine checked the log in between
            await eventually(lambda: "no reply has got through since" in caplog.text)
        health = await (await client.get("/healthz")).json()
        assert health["status"] == "ok"  # the hub itself works: a restart would not help
        state = health["channels"]["chat"]["sending"]
        assert state["failing"] is True and "last_error" not in state  # it may quote the receiver: in the log only
        assert "502 from the callback receiver" in caplog.text
        assert 'helpline_channel_sending{channel="chat"} 0.0' in await (await client.get("/metrics")).text()
        assert caplog.text.count("channel chat: no reply has got through since") == 1

        chat.script = []  # type: ignore[attr-defined]  # the receiver is back
        await hub.actions.post_bot_message(record.conversation, "third reply", plugin="test")

        async def delivering() -> bool:
            body = await (await client.get("/healthz")).json()
            return body["channels_not_delivering"] == [] and body["channels"]["chat"]["sending"]["failing"] is False

        await eventually(delivering)
        assert 'helpline_channel_sending{channel="chat"} 1.0' in await (await client.get("/metrics")).text()
