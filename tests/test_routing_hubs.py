"""Two hub processes on one MongoDB (the mongoeco wire server): presence recorded by one is
seen by the other, and every ticket, whichever hub took it in, is routed exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conversation.model import Agent, MessageKind, Role
from hub.app import Hub
from tests.helpers import customer_message, eventually, make_config, running_hub

TEAM = "customer-service"


@pytest.mark.mongo
async def test_two_hubs_route_each_ticket_once_to_the_agent_online_in_either(tmp_path: Path, mongo_db_uri: str) -> None:
    config = make_config(
        tmp_path,
        {"routing": {"default_team": TEAM, "default_capacity": 100, "sweep_seconds": 0.2}},
        storage_url=mongo_db_uri,
    )
    async with running_hub(config) as first, running_hub(config) as second:
        await first.store.accounts.add_agent(Agent("li", "li@example.com", Role.AGENT, "x", name="Li"))
        await first.services.roster.create_entry(
            TEAM, {"kind": "pattern", "agents": ["li"], "start": "00:00", "end": "00:00", "weekdays": "mon-sun"}
        )
        await second.services.roster.socket_heartbeat("li", second.instance_id, opened=True)  # her inbox is on hub 2
        assert (await first.services.roster.presence())["li"] == "online"  # and hub 1 knows it
        records = await asyncio.gather(
            *(hub.ingest(customer_message(f"m{i}", thread=f"t{i}")) for i, hub in enumerate([first, second] * 10))
        )

        async def all_routed() -> bool:
            tickets = [await first.store.tickets.get_conversation(r.conversation.id) for r in records]
            return all(t is not None and t.assignee_id == "li" for t in tickets)

        await eventually(all_routed, timeout=10)
        await asyncio.sleep(0.5)  # a few more sweeps in both hubs: nothing is routed twice
        for record in records:
            assert await routed_events(first, record.conversation.id) == 1


async def routed_events(hub: Hub, conversation_id: str) -> int:
    messages = await hub.store.tickets.list_messages(conversation_id)
    return sum(
        1
        for m in messages
        if m.kind is MessageKind.EVENT and (m.raw or {}).get("event", {}).get("key") == "event.routed"
    )
