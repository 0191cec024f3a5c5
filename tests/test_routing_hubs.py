"""Two hub processes on one MongoDB (the mongoeco wire server): presence recorded by one is
seen by the other, and every ticket, whichever hub took it in, is routed exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conversation.assignment import AgentProfile
from conversation.model import Agent, Conversation, MessageKind, Role, utcnow
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


@pytest.mark.mongo
async def test_two_hubs_paging_one_person_at_once_send_one_page_then_one_digest_of_the_rest(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    """Each hub reads the person's page digest and writes it back: without compare-and-set both
    saw "nothing sent lately" and each sent a page at once, or one hub's held page was written
    over by the other's and never went out."""
    config = make_config(
        tmp_path,
        {
            "routing": {"sweep_seconds": 0.1, "page_coalesce_seconds": 1},
            "channels": {"chat": {"type": "recording"}, "pager": {"type": "recording"}},
        },
        storage_url=mongo_db_uri,
    )
    async with running_hub(config) as first, running_hub(config) as second:
        await first.store.accounts.add_agent(Agent("wang", "wang@example.com", Role.AGENT, "x", name="Wang"))
        await first.services.desk.update_team(TEAM, {"lead": "wang"})
        # a recording channel stands in for the page channel (email, Slack or Telegram in use)
        await first.store.roster.save_profile(AgentProfile("wang", page_channel="pager", page_address="wang"))
        records = [await first.ingest(customer_message(f"m{i}", thread=f"t{i}")) for i in range(6)]
        tickets = [
            await first.store.tickets.update_conversation(
                r.conversation.id, {"team": TEAM, "assignee_id": "wang"}, now=utcnow()
            )
            for r in records
        ]
        hubs = [first, second] * 3
        await asyncio.gather(
            *(
                hub.services.routing.tell_lead(ticket, "first_response", once=f"breach-{n}")
                for n, (hub, ticket) in enumerate(zip(hubs, tickets, strict=True))
            )
        )
        assert len(await pages(first, tickets)) == 1  # the first went out; the rest wait for the digest

        async def digest_sent() -> bool:
            return len(await pages(first, tickets)) >= 2

        await eventually(digest_sent, timeout=10)
        await asyncio.sleep(1.5)  # more sweeps in both hubs, past another window: nothing goes twice
        sent = await pages(first, tickets)
        assert len(sent) == 2
        for ticket in tickets:  # each ticket in exactly one of them: none lost, none twice
            assert sum(f"#{ticket.number}" in text for text in sent) == 1


async def pages(hub: Hub, tickets: list[Conversation]) -> list[str]:
    """The page messages (to the lead's page address) on these tickets."""
    found = []
    for ticket in tickets:
        found += [m.text for m in await hub.store.tickets.list_messages(ticket.id) if "page" in (m.raw or {})]
    return found
