"""Team-scoped visibility through the one access policy (hub/access.py), walked over the app's
route table: every /api/v1 route that takes a ticket, message, contact or attachment answers
404 to an agent outside the ticket's teams and changes nothing, every list answers without
the ticket, and the live feed stays silent about it. A route added without the check fails
here: the walk takes the routes from the table, not from a list in this file."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from conversation.inbound import Sender
from conversation.model import Attachment, Role
from conversation.paging import PageReason
from conversation.quality import Survey, rated
from hub.agents import add_agent
from hub.api.framework import SAFE
from hub.api.routes import api
from hub.app import Hub
from hub.app_keys import HUB
from hub.events import Event
from tests.helpers import customer_message
from tests.test_api import ADMIN, AGENT, Agent, sign_in
from tests.test_handoff import server  # the API server on each store backend

__all__ = ["server"]  # the API test server fixture

TECH = ("tech@example.com", "tech password 1")  # a technical-support agent
TICKET_PARAMS = {"conversation_id", "message_id", "contact_id", "number", "ref"}
NOT_TICKET_ROUTES = {"live"}  # a WebSocket: walked by the live tests below

# A valid body for each ticket route that takes one: a route whose body is refused before it
# runs proves nothing, so a new route must add its body here (the walk says so).
BODIES: dict[str, Any] = {
    "post_message": {"text": "hello"},
    "patch_conversation": {"status": "pending"},
    "merge_conversation": {"into": "{visible}", "confirm": True},
    "move_message": {"conversation_id": "{visible}", "confirm": True},
    "patch_contact": {"name": "Mallory"},
    "merge_contact": {"into": "{visible_contact}", "confirm": True},
    "handoff": {"team": "finance", "reason": "wrong desk"},
    "add_callback": {"due_at": "2099-01-01T08:00:00+00:00"},
    "file_complaint": {"kind": "suggestion", "summary": "add a dark mode"},
    "create_review": {"scorecard_id": "chat", "scores": {"greeting": 1}},
}


@pytest.fixture
def hub(server: TestServer) -> Hub:
    return server.app[HUB]


async def scene(hub: Hub, admin: Agent) -> dict[str, str]:
    """Li Na is in customer-service; a technical-support ticket with a file is hidden from her."""
    tech = await add_agent(hub.store, TECH[0], Role.AGENT, TECH[1], name="Tech")
    await admin.call("PATCH", f"/api/v1/agents/{await agent_id(hub, AGENT[0])}", {"teams": ["customer-service"]})
    await admin.call("PATCH", f"/api/v1/agents/{tech.id}", {"teams": ["technical-support"]})
    ref = await hub.blobs.put(b"%PDF-1.4 invoice")
    hidden = await hub.ingest(
        customer_message(
            "a1",
            "invoice attached, app crashes",
            thread="t-a",
            sender=Sender("user-a", display_name="Secret Customer"),
            attachments=(Attachment("invoice.pdf", "application/pdf", 16, ref),),
        )
    )
    visible = await hub.ingest(customer_message("b1", "where is my parcel", thread="t-b", sender=Sender("user-b")))
    await admin.call("PATCH", f"/api/v1/conversations/{hidden.conversation.id}", {"team": "technical-support"})
    await admin.call("PATCH", f"/api/v1/conversations/{visible.conversation.id}", {"team": "customer-service"})
    await admin.call(
        "POST",
        f"/api/v1/conversations/{hidden.conversation.id}/messages",
        {"text": "secret", "kind": "note"},
        status=201,
    )
    return {
        "conversation_id": hidden.conversation.id,
        "message_id": hidden.message.id,
        "contact_id": hidden.contact.id,
        "number": str(hidden.conversation.number),
        "ref": ref,
        "visible": visible.conversation.id,
        "visible_contact": visible.contact.id,
    }


async def agent_id(hub: Hub, email: str) -> str:
    found = await hub.store.accounts.get_agent_by_email(email)
    assert found is not None
    return found.id


def ticket_routes() -> list[Any]:
    return [
        r
        for r in api.routes
        if set(re.findall(r"{(\w+)}", r.path)) & TICKET_PARAMS and r.handler.__name__ not in NOT_TICKET_ROUTES
    ]


def request_for(route: Any, ids: dict[str, str]) -> tuple[str, Any]:
    path = "/api" + route.path
    for key, value in ids.items():
        path = path.replace("{" + key + "}", value)
    name = route.handler.__name__
    if name == "attachment":
        path += f"?message={ids['message_id']}"
    if route.body is None:
        return path, None
    assert name in BODIES or not route.body.required, f"add a valid body for {route.method} {route.path} to BODIES"
    body = {k: ids.get(v.strip("{}"), v) if isinstance(v, str) else v for k, v in BODIES.get(name, {}).items()}
    return path, body


async def walk(who: Agent, ids: dict[str, str]) -> dict[str, tuple[int, str]]:
    answers = {}
    for route in ticket_routes():
        path, body = request_for(route, ids)
        resp = await who.client.request(route.method, path, json=body, headers={"X-CSRF-Token": who.csrf})
        answers[f"{route.method} {route.path}"] = (resp.status, await resp.text())
    return answers


async def test_an_agent_outside_the_tickets_team_gets_404_on_every_ticket_route(server: TestServer, hub: Hub) -> None:
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina, tech = await sign_in(server, AGENT), await sign_in(server, TECH)
    try:
        routes = ticket_routes()
        assert len(routes) >= 15
        thread_before = len(await hub.store.tickets.list_messages(ids["conversation_id"]))
        for route, (status, text) in (await walk(lina, ids)).items():
            assert status == 404, (route, status, text)
            assert "Secret Customer" not in text and "secret" not in text, route
        conv = await hub.store.tickets.get_conversation(ids["conversation_id"])
        assert conv is not None and conv.status.value == "open" and conv.team == "technical-support"
        assert not conv.merged_into and len(await hub.store.tickets.list_messages(conv.id)) == thread_before
        contact = await hub.store.contacts.get_contact(ids["contact_id"])
        assert contact is not None and contact.name != "Mallory" and not contact.merged_into
        # the same walk by the ticket's own team (and the merge target's) passes the check: each
        # 404 above is the policy's
        await admin.call("PATCH", f"/api/v1/agents/{tech.id}", {"teams": ["technical-support", "customer-service"]})
        for route, (status, text) in (await walk(tech, ids)).items():
            assert status != 404, (route, status, text)
    finally:
        for who in (admin, lina, tech):
            await who.client.close()


async def test_no_list_search_or_count_shows_the_hidden_ticket(server: TestServer, hub: Hub) -> None:
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina = await sign_in(server, AGENT)
    try:
        page = await lina.call("GET", "/api/v1/conversations?q=invoice")
        assert page["items"] == [] and page["total"] == 0
        assert [c["id"] for c in (await lina.call("GET", "/api/v1/conversations"))["items"]] == [ids["visible"]]
        assert (await lina.call("GET", "/api/v1/conversations/counts"))["all"] == 1
        assert (await admin.call("GET", "/api/v1/conversations/counts"))["all"] == 2
        # every GET without a path parameter: nothing of the hidden ticket in any answer
        for route in api.routes:
            if route.method in SAFE and "{" not in route.path and route.handler.__name__ not in NOT_TICKET_ROUTES:
                resp = await lina.client.get("/api" + route.path)
                text = await resp.text()
                for secret in (ids["conversation_id"], ids["contact_id"], "Secret Customer", "invoice attached"):
                    assert secret not in text, (route.path, secret)
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_a_merge_or_move_needs_both_tickets(server: TestServer, hub: Hub) -> None:
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina = await sign_in(server, AGENT)
    try:
        thread = await hub.store.tickets.list_messages(ids["visible"])
        visible_message = thread[0].id
        body = {"into": ids["conversation_id"], "confirm": True}
        await lina.call("POST", f"/api/v1/conversations/{ids['visible']}/merge", body, status=404)
        body = {"conversation_id": ids["conversation_id"], "confirm": True}
        await lina.call("POST", f"/api/v1/messages/{visible_message}/move", body, status=404)
        body = {"into": ids["contact_id"], "confirm": True}
        await lina.call("POST", f"/api/v1/contacts/{ids['visible_contact']}/merge", body, status=404)
        assert await hub.store.tickets.list_messages(ids["visible"]) == thread
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_the_contact_card_lists_only_the_contacts_tickets_the_agent_may_see(server: TestServer, hub: Hub) -> None:
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina = await sign_in(server, AGENT)
    try:
        later = await hub.ingest(customer_message("a2", "new question", thread="t-a2", sender=Sender("user-a")))
        card = await lina.call("GET", f"/api/v1/conversations/{later.conversation.id}")
        assert card["other_conversations"] == []  # the technical-support ticket of the same person stays hidden
        card = await admin.call("GET", f"/api/v1/conversations/{later.conversation.id}")
        assert [c["id"] for c in card["other_conversations"]] == [ids["conversation_id"]]
        # the contact on their own (a trial missed it): the same rule for their tickets
        contact = await lina.call("GET", f"/api/v1/contacts/{ids['contact_id']}")
        assert contact["contact"]["id"] == ids["contact_id"] and contact["total"] == 1
        assert [c["id"] for c in contact["conversations"]] == [later.conversation.id]
        assert "still crashing" not in str(contact) and "invoice" not in str(contact)
        contact = await admin.call("GET", f"/api/v1/contacts/{ids['contact_id']}")
        assert [c["id"] for c in contact["conversations"]] == [later.conversation.id, ids["conversation_id"]]
        assert contact["total"] == 2 and contact["conversations"][0]["preview"]["text"] == "new question"
    finally:
        await admin.client.close()
        await lina.client.close()


async def ticket_event(ws: Any) -> dict[str, Any]:
    """The next frame about a ticket (presence changes of agents are for everyone)."""
    while not (frame := await ws.receive_json(timeout=5))["conversation_id"]:
        pass
    return frame  # type: ignore[no-any-return]


async def tickets_told_before(ws: Any, conversation_id: str) -> set[str]:
    """The tickets a live socket heard of until the first event of `conversation_id`."""
    told = set()
    while (frame := await ticket_event(ws))["conversation_id"] != conversation_id:
        told.add(frame["conversation_id"])
    return told


async def test_the_live_feed_is_silent_about_tickets_of_other_teams(server: TestServer, hub: Hub) -> None:
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina = await sign_in(server, AGENT)
    try:
        async with lina.client.ws_connect("/api/v1/live") as ws:
            await hub.ingest(customer_message("a3", "still crashing", thread="t-a", sender=Sender("user-a")))
            await hub.ingest(customer_message("b3", "any news?", thread="t-b", sender=Sender("user-b")))
            frame = await ticket_event(ws)
            assert frame["conversation_id"] == ids["visible"], frame  # the hidden ticket's event came first
            # an admin puts her in technical-support: the open socket follows at once
            await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service", "technical-support"]})
            await hub.ingest(customer_message("a4", "hello?", thread="t-a", sender=Sender("user-a")))
            while (frame := await ticket_event(ws))["conversation_id"] != ids["conversation_id"]:
                pass
            assert frame["type"] == "message.created"
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_a_ticket_moved_out_of_an_agents_sight_is_said_to_have_left_and_no_more(
    server: TestServer, hub: Hub
) -> None:
    """Li Na saw the ticket a moment ago: she is told it left (its id only: no team, no
    words), so an inbox showing it stops offering a reply; Tech, who never saw it, hears nothing."""
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina, tech = await sign_in(server, AGENT), await sign_in(server, TECH)
    try:
        async with lina.client.ws_connect("/api/v1/live") as ws, tech.client.ws_connect("/api/v1/live") as tech_ws:
            # (the router may have given it to her, online: it goes to finance unassigned)
            await admin.call("PATCH", f"/api/v1/conversations/{ids['visible']}", {"team": "finance", "assignee_id": ""})
            while (frame := await ticket_event(ws))["type"] != "conversation.left":
                pass  # what she saw before the change
            assert frame == {"type": "conversation.left", "conversation_id": ids["visible"]}
            await hub.ingest(customer_message("b9", "hello?", thread="t-b", sender=Sender("user-b")))
            await admin.call("PATCH", f"/api/v1/conversations/{ids['visible']}", {"priority": "high"})
            later = await hub.ingest(customer_message("c1", "a new question", thread="t-c", sender=Sender("user-c")))
            assert ids["visible"] not in await tickets_told_before(ws, later.conversation.id)  # nothing more of it
            assert ids["visible"] not in await tickets_told_before(tech_ws, later.conversation.id)  # never saw it
    finally:
        for who in (admin, lina, tech):
            await who.client.close()


async def test_a_move_made_from_an_old_copy_tells_only_who_saw_the_ticket_as_stored(
    server: TestServer, hub: Hub
) -> None:
    """The 'left' notice goes by the ticket as stored before the move, not by the copy the
    change was made from: Li Na's team held it long ago, she is told nothing now (a review)."""
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina = await sign_in(server, AGENT)
    try:
        old_copy = await hub.store.tickets.get_conversation(ids["visible"])  # in customer-service
        assert old_copy is not None
        await admin.call(
            "PATCH", f"/api/v1/conversations/{ids['visible']}", {"team": "technical-support", "assignee_id": ""}
        )
        async with lina.client.ws_connect("/api/v1/live") as ws:
            await hub.services.conversations.update_conversation(old_copy, {"team": "finance"})
            later = await hub.ingest(customer_message("c1", "a new question", thread="t-c", sender=Sender("user-c")))
            assert ids["visible"] not in await tickets_told_before(ws, later.conversation.id)
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_the_live_feed_reads_an_events_ticket_once_for_all_sockets(
    server: TestServer, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    agents = [await sign_in(server, AGENT) for _ in range(3)]
    reads: list[str] = []
    read = hub.store.tickets.get_conversation

    async def counted(conversation_id: str) -> Any:
        reads.append(conversation_id)
        return await read(conversation_id)

    try:
        sockets = [await a.client.ws_connect("/api/v1/live") for a in agents]
        monkeypatch.setattr(hub.store.tickets, "get_conversation", counted)
        hub.bus.publish(Event("typing", ids["visible"], {"who": "customer"}))
        for ws in sockets:
            assert (await ticket_event(ws))["conversation_id"] == ids["visible"]
        assert reads == [ids["visible"]]  # one read, not one per socket
        for ws in sockets:
            await ws.close()
    finally:
        for who in (admin, *agents):
            await who.client.close()


async def test_the_owner_of_a_callback_sees_it_and_closes_it_whatever_the_tickets_team(
    server: TestServer, hub: Hub
) -> None:
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina, tech = await sign_in(server, AGENT), await sign_in(server, TECH)
    signed_in = [admin, lina, tech]
    try:
        body = {"due_at": "2099-01-01T08:00:00+00:00", "number": "+8613812345678", "owner_id": lina.id}
        task = await admin.call("POST", f"/api/v1/conversations/{ids['conversation_id']}/callbacks", body, status=201)
        mine = (await lina.call("GET", "/api/v1/callbacks?owner=me"))["items"]
        assert [t["id"] for t in mine] == [task["id"]]  # her task, on a technical-support ticket
        # She reads the ticket she must call back about, and notes what came of the call.
        hidden = ids["conversation_id"]
        assert (await lina.call("GET", f"/api/v1/conversations/{hidden}"))["conversation"]["id"] == hidden
        assert (await lina.call("GET", f"/api/v1/conversations/{hidden}/messages"))["items"]
        note = {"text": "called back", "kind": "note"}
        await lina.call("POST", f"/api/v1/conversations/{hidden}/messages", note, status=201)
        assert (await lina.call("GET", "/api/v1/callbacks?owner=all"))["items"] == mine
        # Another customer-service agent: not their task, not their team's ticket.
        other = await add_agent(hub.store, "wang@example.com", Role.AGENT, "wang password 1", name="Wang")
        await admin.call("PATCH", f"/api/v1/agents/{other.id}", {"teams": ["customer-service"]})
        wang = await sign_in(server, ("wang@example.com", "wang password 1"))
        signed_in.append(wang)
        assert (await wang.call("GET", "/api/v1/callbacks?owner=all"))["items"] == []
        await wang.call("PATCH", f"/api/v1/callbacks/{task['id']}", {"status": "done"}, status=404)
        await wang.call("GET", f"/api/v1/conversations/{hidden}", status=404)
        done = await lina.call("PATCH", f"/api/v1/callbacks/{task['id']}", {"status": "done"})
        assert done["status"] == "done"
        await lina.call("GET", f"/api/v1/conversations/{hidden}", status=404)  # the task done: the team's rules again
        assert (await tech.call("GET", "/api/v1/callbacks?status=done&owner=all"))["items"][0]["id"] == task["id"]
    finally:
        for who in signed_in:
            await who.client.close()


async def test_a_call_from_the_caller_of_a_hidden_ticket_goes_on_a_ticket_of_the_agents_own(
    server: TestServer, hub: Hub
) -> None:
    """An audit: logging a call from a number whose open phone ticket was another team's joined
    that ticket, assigned it to the agent, resolved it and answered with it. Now the hidden ticket
    is left alone and the call goes on a ticket of her own with that caller."""
    admin = await sign_in(server, ADMIN)
    await scene(hub, admin)
    lina, tech = await sign_in(server, AGENT), await sign_in(server, TECH)
    try:
        number = "+8613812345678"
        first = await tech.call(
            "POST", "/api/v1/calls", {"number": number, "direction": "in", "call_id": "pbx-1"}, status=201
        )
        hidden = first["conversation"]["id"]
        await admin.call("PATCH", f"/api/v1/conversations/{hidden}", {"team": "technical-support", "assignee_id": ""})
        before = await hub.store.tickets.get_conversation(hidden)
        messages_before = len(await hub.store.tickets.list_messages(hidden))
        body = {
            "number": number,
            "direction": "in",
            "outcome": "resolved",
            "notes": "refund asked",
            "callback": {"due_at": "2099-01-01T08:00:00+00:00"},
        }
        logged = await lina.call("POST", "/api/v1/calls", body, status=201)
        mine = logged["conversation"]
        assert mine["id"] != hidden and hidden not in str(logged)
        assert mine["assignee_id"] == lina.id and mine["status"] == "resolved"
        await lina.call("GET", f"/api/v1/conversations/{hidden}", status=404)  # no callback-owner way in either
        after = await hub.store.tickets.get_conversation(hidden)
        assert after == before and len(await hub.store.tickets.list_messages(hidden)) == messages_before
        # Her next call with that caller joins her own ticket; the team's agent still joins theirs.
        again = await lina.call("POST", "/api/v1/calls", {"number": number, "direction": "out"}, status=201)
        assert again["conversation"]["id"] == mine["id"]
        theirs = await tech.call("POST", "/api/v1/calls", {"number": number, "direction": "out"}, status=201)
        assert theirs["conversation"]["id"] == hidden
        # A retry of another agent's call id (they are guessable) does not answer with its ticket.
        await lina.call("POST", "/api/v1/calls", {"number": number, "direction": "in", "call_id": "pbx-1"}, status=404)
        # Nor does naming her own ticket after it was merged into the hidden one (a review).
        await admin.call("POST", f"/api/v1/conversations/{mine['id']}/merge", {"into": hidden, "confirm": True})
        messages_now = len(await hub.store.tickets.list_messages(hidden))
        named = {"number": "+8613900000000", "direction": "in", "conversation_id": mine["id"], "outcome": "resolved"}
        await lina.call("POST", "/api/v1/calls", named, status=404)
        assert len(await hub.store.tickets.list_messages(hidden)) == messages_now
    finally:
        for who in (admin, lina, tech):
            await who.client.close()


async def test_a_ticket_an_agent_may_only_read_refuses_a_change_with_403_not_404(server: TestServer, hub: Hub) -> None:
    """With her team's visibility "all", Li Na reads the technical-support ticket: a change to it
    says she may not change it (the ticket exists for her), and changes nothing."""
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina = await sign_in(server, AGENT)
    try:
        await admin.call("PATCH", "/api/v1/teams/customer-service", {"visibility": "all"})
        hidden = ids["conversation_id"]
        assert (await lina.call("GET", f"/api/v1/conversations/{hidden}"))["conversation"]["id"] == hidden
        expected = {
            "error": "read_only_ticket",
            "message": "you may read this ticket but not change it (team technical-support)",
        }
        body: dict[str, Any] = {"status": "pending"}
        assert await lina.call("PATCH", f"/api/v1/conversations/{hidden}", body, status=403) == expected
        body = {"text": "hi", "kind": "note"}
        assert await lina.call("POST", f"/api/v1/conversations/{hidden}/messages", body, status=403) == expected
        body = {"into": hidden, "confirm": True}  # her own ticket into one she only reads
        assert await lina.call("POST", f"/api/v1/conversations/{ids['visible']}/merge", body, status=403) == expected
        conv = await hub.store.tickets.get_conversation(hidden)
        assert conv is not None and conv.status.value == "open" and not conv.merged_into
        await lina.call("PATCH", "/api/v1/conversations/no-such-ticket", {"status": "pending"}, status=404)
    finally:
        await admin.client.close()
        await lina.client.close()


async def scene_with_lead(server: TestServer, hub: Hub) -> tuple[Agent, dict[str, str], Agent, Agent]:
    """The scene, with Li Na and a supervisor of customer-service signed in: (admin, ids, lina, lead)."""
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    await add_agent(hub.store, "lead@example.com", Role.SUPERVISOR, "lead password 1", name="Lead")
    lina, lead = await sign_in(server, AGENT), await sign_in(server, ("lead@example.com", "lead password 1"))
    await admin.call("PATCH", f"/api/v1/agents/{lead.id}", {"teams": ["customer-service"]})
    return admin, ids, lina, lead


async def test_reports_count_only_the_teams_a_supervisor_leads_and_refuse_agents(server: TestServer, hub: Hub) -> None:
    """Every report route: an agent is refused, a supervisor of customer-service counts only its
    ticket (not the hidden technical-support one), an admin counts both."""
    admin, ids, lina, lead = await scene_with_lead(server, hub)
    try:
        created = await hub.store.tickets.get_conversation(ids["visible"])
        assert created is not None
        day = created.created_at.date()  # the other ticket may be a moment before midnight: a day either side
        since, until = day - timedelta(days=1), day + timedelta(days=2)
        period = f"from={since.isoformat()}&to={until.isoformat()}"
        reports = [r for r in api.routes if r.path.startswith("/v1/reports/")]
        assert len(reports) >= 5
        for route in reports:
            query = f"{period}&table=summary" if route.path.endswith("/export") else period  # others refuse it
            resp = await lina.client.get(f"/api{route.path}?{query}")
            assert resp.status == 403, route.path
            assert (await lead.client.get(f"/api{route.path}?{query}")).status == 200, route.path
        assert (await lead.call("GET", f"/api/v1/reports/summary?{period}"))["volume"] == 1
        assert (await admin.call("GET", f"/api/v1/reports/summary?{period}"))["volume"] == 2
    finally:
        for who in (admin, lina, lead):
            await who.client.close()


async def test_quality_figures_count_only_a_supervisors_teams_and_refuse_agents(server: TestServer, hub: Hub) -> None:
    """CSAT figures per agent: the customer-service supervisor sees Li Na's rating, not the
    technical-support agent's; an admin sees both; an agent is told who figures are for."""
    admin, ids, lina, lead = await scene_with_lead(server, hub)
    try:
        tech_id = await agent_id(hub, TECH[0])
        now = datetime.now(UTC)
        for ticket, team, who, score in (
            (ids["visible"], "customer-service", lina.id, 5),
            (ids["conversation_id"], "technical-support", tech_id, 1),
        ):
            survey = Survey(ticket, 1, "c", "chat", now - timedelta(hours=1), agent_id=who, team=team)
            await hub.store.quality.add_survey(survey)
            await hub.store.quality.save_survey(rated(survey, score, now - timedelta(minutes=5), "chat"))
        # a ticket without a team: Li Na's rating counts for her supervisor, as in the summary
        # (a trial's per-agent figure left it out); the other team's agent's stays unseen
        for who, score in ((lina.id, 1), (tech_id, 2)):
            survey = Survey(f"unteamed-{who}", 1, "c", "chat", now - timedelta(hours=1), agent_id=who, team="")
            await hub.store.quality.add_survey(survey)
            await hub.store.quality.save_survey(rated(survey, score, now - timedelta(minutes=5), "chat"))
        seen = await lead.call("GET", "/api/v1/quality/figures?by=agent_id")
        assert [{k: v for k, v in f.items() if k != "label"} for f in seen["csat"]] == [
            {"key": lina.id, "average": 3.0, "count": 2}
        ]
        everyone = await admin.call("GET", "/api/v1/quality/figures?by=agent_id")
        assert sorted(f["key"] for f in everyone["csat"]) == sorted([lina.id, tech_id])
        refused = await lina.call("GET", "/api/v1/quality/figures", status=403)
        assert refused == {"error": "forbidden", "message": "figures are for supervisors and admins"}
    finally:
        for who in (admin, lina, lead):
            await who.client.close()


async def test_a_supervisors_only_ticket_is_404_on_every_route_to_an_agent_it_is_assigned_to(
    server: TestServer, hub: Hub
) -> None:
    """A complaint about Li Na sits in a "supervisors" team: assigned to her, with her team
    reading every ticket, in that very team as an agent, she still gets 404 everywhere and no
    list, search, count or live event shows it; the team's supervisor works it."""
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina = await sign_in(server, AGENT)
    boss = await add_agent(hub.store, "sup@example.com", Role.SUPERVISOR, "supervisor password 1", name="Sup")
    try:
        names = {"zh-CN": "主管", "en": "Supervisors"}
        body = {"id": "board", "names": names, "visibility": "supervisors", "members": [lina.id, boss.id]}
        await admin.call("POST", "/api/v1/teams", body, status=201)
        await admin.call("PATCH", "/api/v1/teams/customer-service", {"visibility": "all"})
        hidden = ids["conversation_id"]
        await admin.call("PATCH", f"/api/v1/conversations/{hidden}", {"team": "board", "assignee_id": lina.id})
        for route, (status, text) in (await walk(lina, ids)).items():
            assert status == 404, (route, status, text)
            assert "Secret Customer" not in text and "secret" not in text, route
        page = await lina.call("GET", "/api/v1/conversations?q=invoice")
        assert page["items"] == [] and page["total"] == 0
        assert (await lina.call("GET", "/api/v1/conversations/counts"))["mine"] == 0
        async with lina.client.ws_connect("/api/v1/live") as ws:
            await hub.ingest(customer_message("a5", "still crashing", thread="t-a", sender=Sender("user-a")))
            await hub.ingest(customer_message("b5", "any news?", thread="t-b", sender=Sender("user-b")))
            assert (await ticket_event(ws))["conversation_id"] == ids["visible"]
        sup = await sign_in(server, ("sup@example.com", "supervisor password 1"))
        try:
            assert (await sup.call("GET", f"/api/v1/conversations/{hidden}"))["conversation"]["team"] == "board"
        finally:
            await sup.client.close()
    finally:
        await admin.client.close()
        await lina.client.close()


# -- a team's operations data (roster, coverage, CSV, page log, presence, contact fields) ------
PAGE_ADDRESS = "tech.private@example.net"


def operations_routes() -> list[Any]:
    """Every GET of the roster area and a team's calendar, from the route table: a new one is
    walked too."""
    return [r for r in api.routes if r.method == "GET" and (r.tag == "roster" or r.path.endswith("/calendar"))]


async def test_an_agent_sees_no_operations_data_of_another_team(server: TestServer, hub: Hub) -> None:
    """Li Na (customer-service) walks every roster-area GET aimed at technical-support: no
    roster, coverage, CSV, settings, pages, presence or page address of Tech's team, and the
    page log of her own team leaves out the page about a ticket she may not read."""
    admin = await sign_in(server, ADMIN)
    ids = await scene(hub, admin)
    lina, tech = await sign_in(server, AGENT), await sign_in(server, TECH)
    try:
        shift = {"kind": "pattern", "duty": "backup", "start": "00:00", "end": "00:00", "weekdays": ["mon-sun"]}
        for team, who in (("technical-support", tech), ("customer-service", lina)):
            await admin.call("POST", "/api/v1/roster/entries", {"team": team, **shift, "agents": [who.id]}, status=201)
        await hub.store.roster.save_profile(
            replace(await hub.services.roster.profile(tech.id), page_channel="email", page_address=PAGE_ADDRESS)
        )
        hidden = await hub.store.tickets.get_conversation(ids["conversation_id"])
        assert hidden is not None
        number = {"number": str(hidden.number)}
        for team in ("technical-support", "customer-service"):  # a CS page about the hidden ticket too
            assert await hub.services.routing.page_backup(team, PageReason("sla", number), hidden)
        routes = operations_routes()
        assert len(routes) >= 7
        for route in routes:
            path = "/api" + route.path.replace("{team_id}", "technical-support").replace("{agent_id}", tech.id)
            if "team" in route.query:
                path += "?team=technical-support"
            resp = await lina.client.get(path)
            text = await resp.text()
            for secret in (TECH[0], PAGE_ADDRESS, ids["conversation_id"], f'"number": "{hidden.number}"'):
                assert secret not in text, (route.path, secret)
            if "team" in route.query or "{team_id}" in route.path or "{agent_id}" in route.path:
                # another team's calendar and its agents' routing profiles too (a trial read both)
                assert resp.status == 403 and (await resp.json())["error"] == "team_only", (route.path, text)
            else:
                assert tech.id not in text, route.path  # presence: the members of her teams only
        assert (await lina.call("GET", "/api/v1/pages?team=customer-service"))["items"] == []
        assert (await lina.call("GET", "/api/v1/pages"))["items"] == []
        # the team itself sees it all, and so does the admin
        assert len((await tech.call("GET", "/api/v1/pages?team=technical-support"))["items"]) == 1
        assert (await tech.call("GET", f"/api/v1/agents/{tech.id}/profile"))["page_address"] == PAGE_ADDRESS
        assert (await admin.call("GET", f"/api/v1/agents/{tech.id}/profile"))["page_address"] == PAGE_ADDRESS
        assert (await tech.call("GET", "/api/v1/teams/technical-support/calendar"))["open_now"] is True
        assert "capacity" in await lina.call("GET", f"/api/v1/agents/{lina.id}/profile")  # her own
        assert tech.id in (await tech.call("GET", "/api/v1/presence"))["items"]
        assert len((await admin.call("GET", "/api/v1/pages"))["items"]) == 2
        export = await tech.client.get("/api/v1/roster/export?team=technical-support")
        assert export.status == 200 and TECH[0] in await export.text()
    finally:
        for who in (admin, lina, tech):
            await who.client.close()


async def test_presence_is_shown_for_the_members_of_ones_teams_only(server: TestServer, hub: Hub) -> None:
    """Names stay for everyone (the assignee picker), but who is online or away, in the agent
    list and on the live feed, only for the viewer's teams' members (admins: all)."""
    admin = await sign_in(server, ADMIN)
    await scene(hub, admin)
    lina, tech = await sign_in(server, AGENT), await sign_in(server, TECH)
    roster = hub.services.roster
    try:
        await roster.socket_heartbeat(tech.id, "inbox-of-tech", opened=True)
        listed = await lina.call("GET", "/api/v1/agents")
        assert tech.id in {a["id"] for a in listed["items"]} and tech.id not in listed["online"]
        assert tech.id in (await admin.call("GET", "/api/v1/agents"))["online"]
        async with lina.client.ws_connect("/api/v1/live") as ws:
            await roster.set_status(tech.id, "away")  # another team's agent: not for her
            await roster.set_status(lina.id, "away")  # her own: she sees it
            while (frame := await ws.receive_json(timeout=5))["type"] != "presence.changed":
                pass
            assert frame["agent_id"] == lina.id, frame
    finally:
        for who in (admin, lina, tech):
            await who.client.close()
