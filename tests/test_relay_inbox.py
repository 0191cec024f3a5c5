# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
"""Events from other hub processes reach the inbox's live socket; a gap there tells it to reload."""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.app_keys import HUB
from hub.events import Event
from hub.relay import RESYNC
from tests.test_api import Agent, agent, server  # noqa: F401  (fixtures)


async def test_the_inbox_gets_other_hubs_events_and_reloads_after_a_gap(agent: Agent) -> None:
    hub = agent.client.server.app[HUB]
    async with agent.client.ws_connect("/api/v1/live") as socket:
        hub.bus.publish_remote(Event("desk.updated", "", {"kind": "team", "id": "t1", "action": "created"}))
        assert (await next_of(socket, "desk.updated"))["id"] == "t1"
        hub.bus.publish_remote(Event(RESYNC, "", {"lost": 2}))  # what the relay says when events were lost
        assert await next_of(socket, "resync") == {"type": "resync"}


async def next_of(socket: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:  # other frames (the agent's own presence) may come first
        frame = await socket.receive_json(timeout=5)
        if frame["type"] == kind:
            return frame
