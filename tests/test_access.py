"""Every agent path to tickets, messages, contacts and attachments goes through the one
access policy (hub/access.py): with a policy that denies, every ticket route answers 404,
the inbox list, search and counts show nothing, and the live feed stays silent."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from conversation.inbound import Sender
from conversation.model import Agent, Attachment, Conversation
from hub.access import Access, AccessPolicy
from hub.api.routes import api
from hub.app import Hub
from hub.app_keys import HUB
from hub.events import Event
from tests.helpers import customer_message
from tests.test_api import AGENT, server, sign_in

__all__ = ["server"]  # the API test server fixture


class Recording(AccessPolicy):
    """Says `answer` to everything and counts how often it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked = 0

    def allows(self, agent: Agent, conversation: Conversation, access: Access) -> bool:
        self.asked += 1
        return self.answer

    def restricts(self, agent: Agent) -> bool:
        return not self.answer


TICKET_TAGS = ("conversations", "contacts")
LISTS = {"list_conversations", "conversation_counts"}  # answer 200 with nothing in them


class Only(AccessPolicy):
    """Lets agents see one ticket."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id

    def allows(self, agent: Agent, conversation: Conversation, access: Access) -> bool:
        return conversation.id == self.conversation_id

    def restricts(self, agent: Agent) -> bool:
        return True


@pytest.fixture
def hub(server: TestServer) -> Hub:
    return server.app[HUB]


async def tickets(hub: Hub) -> dict[str, str]:
    ref = await hub.blobs.put(b"%PDF-1.4 invoice")
    first = await hub.ingest(
        customer_message(
            "a1",
            "invoice attached",
            thread="t-a",
            sender=Sender("user-a"),
            attachments=(Attachment("invoice.pdf", "application/pdf", 16, ref),),
        )
    )
    other = await hub.ingest(customer_message("b1", "another customer", thread="t-b", sender=Sender("user-b")))
    return {
        "conversation_id": first.conversation.id,
        "message_id": first.message.id,
        "contact_id": first.contact.id,
        "number": str(first.conversation.number),
        "ref": ref,
        "other": other.conversation.id,
        "other_contact": other.contact.id,
    }


def request_for(route: Any, ids: dict[str, str]) -> tuple[str, Any]:
    path = "/api" + route.path
    for key, value in ids.items():
        path = path.replace("{" + key + "}", value)
    bodies = {
        "post_message": {"text": "hello"},
        "patch_conversation": {"status": "pending"},
        "merge_conversation": {"into": ids["other"], "confirm": True},
        "move_message": {"conversation_id": ids["other"], "confirm": True},
        "patch_contact": {"name": "Mallory"},
        "merge_contact": {"into": ids["other_contact"], "confirm": True},
    }
    if route.handler.__name__ == "attachment":
        path += f"?message={ids['message_id']}"
    if route.handler.__name__ == "list_conversations":
        path += "?q=invoice"
    return path, bodies.get(route.handler.__name__, {} if route.body is not None else None)


async def test_every_ticket_route_asks_the_policy_and_a_denial_is_a_404(server: TestServer, hub: Hub) -> None:
    ids = await tickets(hub)
    agent = await sign_in(server, AGENT)
    policy = Recording(answer=False)
    hub.access = policy
    routes = [r for r in api.routes if r.tag in TICKET_TAGS]
    assert len(routes) >= 14
    try:
        for route in routes:
            path, body = request_for(route, ids)
            asked = policy.asked
            resp = await agent.client.request(route.method, path, json=body, headers={"X-CSRF-Token": agent.csrf})
            answer = await resp.json() if resp.content_type == "application/json" else {}
            assert policy.asked > asked, f"{route.method} {route.path} did not ask the access policy"
            if route.handler.__name__ in LISTS:
                assert resp.status == 200, answer
                assert answer.get("items", []) == [] and not any(answer.get(k) for k in ("all", "open", "total"))
            else:
                assert resp.status in (403, 404), (route.path, resp.status, answer)
        # nothing changed
        conv = await hub.store.tickets.get_conversation(ids["conversation_id"])
        assert conv is not None and conv.status.value == "open" and not conv.merged_into
        assert len(await hub.store.tickets.list_messages(ids["conversation_id"])) == 1
        contact = await hub.store.contacts.get_contact(ids["contact_id"])
        assert contact is not None and contact.name != "Mallory" and not contact.merged_into
    finally:
        await agent.client.close()


async def test_the_same_routes_work_when_the_policy_allows(server: TestServer, hub: Hub) -> None:
    ids = await tickets(hub)
    agent = await sign_in(server, AGENT)
    try:
        for path in (
            f"/api/v1/conversations/{ids['conversation_id']}",
            f"/api/v1/conversations/by-number/{ids['number']}",
            f"/api/v1/attachments/{ids['ref']}?message={ids['message_id']}",
        ):
            assert (await agent.client.get(path)).status == 200, path
        page = await agent.call("GET", "/api/v1/conversations?q=invoice")
        assert [c["id"] for c in page["items"]] == [ids["conversation_id"]]
        thread = await agent.call("GET", f"/api/v1/conversations/{ids['conversation_id']}/messages")
        assert thread["items"][0]["attachments"][0]["url"].endswith(f"?message={ids['message_id']}")
        # an attachment is only reachable through a message that carries it
        assert (await agent.client.get(f"/api/v1/attachments/{ids['ref']}")).status == 404
        assert (await agent.client.get(f"/api/v1/attachments/{ids['ref']}?message=nope")).status == 404
    finally:
        await agent.client.close()


async def test_the_live_feed_shows_only_what_the_policy_allows(server: TestServer, hub: Hub) -> None:
    ids = await tickets(hub)
    agent = await sign_in(server, AGENT)
    try:
        async with agent.client.ws_connect("/api/v1/live") as ws:
            hub.access = Only(ids["other"])
            hub.bus.publish(Event("message.created", ids["conversation_id"], {"message_id": "hidden"}))
            hub.bus.publish(Event("message.created", ids["other"], {"message_id": "shown"}))  # in order
            frame = await ws.receive_json(timeout=5)
            assert frame["message_id"] == "shown"
    finally:
        await agent.client.close()
