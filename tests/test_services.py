"""Every change goes through a service that stores, audits and publishes its live event;
reading changes nothing (issue 12)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from hub.app_keys import HUB
from hub.events import Event, Subscription
from hub.sdk import PermanentDeliveryError
from tests import test_api
from tests.conftest import ROOT
from tests.helpers import eventually
from tests.test_api import Agent, new_ticket
from tests.test_cli import run

server, agent, admin = test_api.server, test_api.agent, test_api.admin  # the same signed-in fixtures


async def published(events: Subscription) -> list[Event]:
    await asyncio.sleep(0)
    found = []
    while not events.queue.empty():
        found.append(events.queue.get_nowait())
    return found


async def unread(agent: Agent, conversation_id: str) -> bool:
    page = await agent.call("GET", "/api/v1/conversations")
    return next(c["unread"] for c in page["items"] if c["id"] == conversation_id)


async def test_reading_a_thread_changes_nothing_and_marking_it_read_is_a_post(agent: Agent) -> None:
    conv = await new_ticket(agent)
    await agent.call("GET", f"/api/v1/conversations/{conv}/messages")
    await agent.call("GET", f"/api/v1/conversations/{conv}/messages?after=x")
    assert await unread(agent, conv)  # a GET is not a write
    assert await agent.call("POST", f"/api/v1/conversations/{conv}/read") == {"ok": True}
    assert not await unread(agent, conv)
    await agent.call("POST", "/api/v1/conversations/nope/read", status=404)


async def test_correcting_a_contact_tells_the_open_inboxes(agent: Agent) -> None:
    conv = await new_ticket(agent)
    hub = agent.client.server.app[HUB]
    contact_id = (await agent.call("GET", f"/api/v1/conversations/{conv}"))["contact"]["id"]
    events = hub.bus.subscribe()
    await agent.call("PATCH", f"/api/v1/contacts/{contact_id}", {"name": "Wei Zhang", "notes": "prefers email"})
    assert [(e.type, e.conversation_id, e.data) for e in await published(events)] == [
        ("conversation.updated", conv, {"changes": ["contact"]})
    ]
    await agent.call("PATCH", f"/api/v1/contacts/{contact_id}", {"language": "klingon!"}, status=422)
    assert await published(events) == []  # a refused change tells nobody


async def test_retrying_a_failed_reply_tells_the_open_inboxes(agent: Agent) -> None:
    conv = await new_ticket(agent)
    hub = agent.client.server.app[HUB]
    hub.adapters["chat"].script = [PermanentDeliveryError("403: bot was blocked by the user")]
    reply = await agent.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": "hello"}, status=201)

    async def failed() -> bool:
        message = await hub.store.tickets.get_message(reply["id"])
        return message is not None and message.delivery is not None and message.delivery.status.value == "failed"

    await eventually(failed)
    events = hub.bus.subscribe()
    await agent.call("POST", f"/api/v1/conversations/{conv}/messages/{reply['id']}/retry")
    assert ("message.updated", conv, reply["id"]) in [
        (e.type, e.conversation_id, e.data.get("message_id")) for e in await published(events)
    ]


async def test_a_blank_token_name_is_refused_by_the_api(admin: Agent) -> None:
    refused = await admin.call("POST", "/api/v1/tokens", {"name": "   "}, status=422)
    assert "name" in refused["message"]
    assert (await admin.call("GET", "/api/v1/tokens"))["items"] == []


def test_the_cli_issues_tokens_through_the_same_service(tmp_path: Path) -> None:
    """The same rule as the API (a token needs a name), because both call AccountService."""
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    assert run("agent", "add", "ops@example.com", cwd=tmp_path, stdin="ops password 123\n").returncode == 0
    blank = run("token", "create", "ops@example.com", "--name", "  ", cwd=tmp_path)
    assert blank.returncode == 1 and "name: must not be empty" in blank.stderr and blank.stdout == ""
