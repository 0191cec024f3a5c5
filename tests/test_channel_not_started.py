"""A channel whose start has not completed answers 503 with Retry-After on its routes (the
provider delivers again later) instead of a 500 from a half set-up adapter (a developer's
trial: an adapter whose start raised answered its webhook with 500 'internal')."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import ConversationQuery
from hub.app import Hub, build_app
from hub.sdk import Adapter, HubPort, Outbound, Sent, ingest_response
from hub.testing import registry_with
from tests.helpers import customer_message, eventually, make_config


class Flaky(Adapter):
    """Its provider is unreachable until `reachable` is set; its webhook needs the hub from start()."""

    reachable = False

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/inbound", self._inbound)
        return app

    async def start(self, hub: HubPort) -> None:
        if not Flaky.reachable:
            raise ConnectionError("api.flaky.example unreachable")
        self.hub = hub

    async def _inbound(self, request: web.Request) -> web.Response:
        body = await request.json()
        return await ingest_response(self.hub, customer_message(body["id"], body["text"], channel=self.name))

    async def send(self, out: Outbound) -> Sent:
        return Sent(external_id="x")


async def test_a_channel_not_started_answers_503_then_takes_messages_once_started(tmp_path: Path) -> None:
    Flaky.reachable = False
    config = make_config(
        tmp_path,
        {"channels": {"chat": {"type": "recording"}, "flaky": {"type": "flaky"}}},
        registry=registry_with(adapters={"flaky": Flaky}),
    )
    hub = Hub(config)
    hub.channels.base_delay = hub.channels.max_delay = 0.05  # its start is retried at once
    async with TestClient(TestServer(build_app(hub))) as client:
        assert hub.channels.snapshot()["flaky"]["state"] == "degraded"
        refused = await client.post("/channels/flaky/inbound", json={"id": "m1", "text": "hello"})
        assert refused.status == 503 and refused.headers["Retry-After"] == "30"
        assert (await refused.json())["message"] == "channel flaky has not started yet; try again later"
        assert (await hub.store.inbox.list_conversations(ConversationQuery(limit=10)))[0] == []

        Flaky.reachable = True  # the provider is back: the next start attempt completes
        await eventually(lambda: hub.channels.started("flaky"))
        taken = await client.post("/channels/flaky/inbound", json={"id": "m1", "text": "hello"})
        assert taken.status == 200, await taken.text()
        # the other channels never waited
        assert hub.channels.started("chat")
