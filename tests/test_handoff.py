"""Hand-offs between teams (POST /api/v1/conversations/{id}/handoff), on both store backends:
the thread stays, the team changes, an assignee outside the new team lets go, the reason is a
private note, the history says who handed it from where to where (in each reader's language),
and the live feed hears of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from conversation.inbound import Sender
from conversation.model import MessageKind, Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.app_keys import HUB
from hub.thread_events import event_of
from tests.helpers import customer_message, make_config
from tests.test_api import ADMIN, AGENT, sign_in


@pytest.fixture(params=["sqlite", "mongo"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestServer]:
    """The API server over each store backend, with an admin and Li Na (an agent)."""
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("mongo_db_uri")
    hub = Hub(make_config(tmp_path, storage_url=url))
    server = TestServer(build_app(hub))
    await server.start_server()
    await add_agent(hub.store, ADMIN[0], Role.ADMIN, ADMIN[1], name="Boss")
    await add_agent(hub.store, AGENT[0], Role.AGENT, AGENT[1], name="Li Na")
    yield server
    await server.close()


async def test_a_hand_off_moves_the_ticket_with_a_reason_and_leaves_history(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service"]})
        record = await hub.ingest(customer_message("m1", "App 闪退了", thread="t1", sender=Sender("u1")))
        conv = record.conversation.id
        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "customer-service", "assignee_id": lina.id})
        feed = hub.bus.subscribe()
        body = {"team": "technical-support", "reason": "crash on start: needs engineers"}
        handed = await lina.call("POST", f"/api/v1/conversations/{conv}/handoff", body)
        assert handed["team"] == "technical-support" and not handed["assignee_id"]

        thread = await hub.store.tickets.list_messages(conv)
        assert thread[0].id == record.message.id  # the thread is kept
        note = thread[-1]
        assert note.kind is MessageKind.NOTE and note.text == body["reason"] and note.author_id == lina.id
        assert note.delivery is None  # private: never sent to the customer
        events = [event_of(m.raw) for m in thread if m.kind is MessageKind.EVENT]
        handover = next(e for e in events if e is not None and e.key == "event.handed_over")
        assert handover.params == {"who": "Li Na", "source": "customer-service", "team": "technical-support"}
        # each reader sees the teams' names in their language, not their ids
        assert handover.text("en") == "Li Na handed this over from team Customer service to team Technical support"
        assert handover.text("zh-CN") == "Li Na 将此工单从团队 客服 转交给团队 技术支持"
        listed = (await admin.call("GET", f"/api/v1/conversations/{conv}/messages"))["items"]
        shown = next(m["event"] for m in listed if (m["event"] or {}).get("key") == "event.handed_over")
        assert shown["names"]["team"] == {"zh-CN": "技术支持", "en": "Technical support"}  # for the inbox
        assert any(e is not None and e.key == "event.unassigned" for e in events)
        published = [feed.queue.get_nowait() for _ in range(feed.queue.qsize())]
        assert {
            "type": "conversation.handed_over",
            "from_team": "customer-service",
            "to_team": "technical-support",
        } in [{"type": e.type, **e.data} for e in published if e.conversation_id == conv]
        feed.close()
        # no longer her team's: she cannot see it now; the admin's history shows it
        await lina.call("GET", f"/api/v1/conversations/{conv}", status=404)
        history = (await admin.call("GET", f"/api/v1/conversations/{conv}/messages"))["items"]
        assert any(m["text"] == body["reason"] and m["kind"] == "note" for m in history)
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_an_assignee_in_the_new_team_keeps_the_ticket(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service", "finance"]})
        conv = (await hub.ingest(customer_message("m1", "refund", thread="t1", sender=Sender("u1")))).conversation.id
        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "customer-service", "assignee_id": lina.id})
        body = {"team": "finance", "reason": "a refund"}
        handed = await lina.call("POST", f"/api/v1/conversations/{conv}/handoff", body)
        assert handed["team"] == "finance" and handed["assignee_id"] == lina.id
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_a_hand_off_of_a_ticket_without_a_team_says_so_not_from_team_dash(server: TestServer) -> None:
    """A trial read "李娜 将此工单从团队 - 转交给团队 技术支持"."""
    hub: Hub = server.app[HUB]
    admin = await sign_in(server, ADMIN)
    try:
        conv = (await hub.ingest(customer_message("m1", "App 闪退", thread="t1", sender=Sender("u1")))).conversation.id
        await admin.call(
            "POST", f"/api/v1/conversations/{conv}/handoff", {"team": "technical-support", "reason": "crash"}
        )
        thread = await hub.store.tickets.list_messages(conv)
        [handover] = [e for m in thread if (e := event_of(m.raw)) is not None and e.key.startswith("event.handed_over")]
        assert handover.text("zh-CN") == "Boss 将此工单转交给团队 技术支持"
        assert handover.text("en") == "Boss handed this over to team Technical support"
    finally:
        await admin.client.close()


async def test_a_hand_off_that_makes_no_sense_is_refused_and_changes_nothing(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    admin = await sign_in(server, ADMIN)
    try:
        conv = (await hub.ingest(customer_message("m1", "hello", thread="t1", sender=Sender("u1")))).conversation.id
        other = (await hub.ingest(customer_message("m2", "hi", thread="t2", sender=Sender("u2")))).conversation.id
        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "finance"})
        before = await hub.store.tickets.list_messages(conv)
        url = f"/api/v1/conversations/{conv}/handoff"
        for body, says in (
            ({"team": "nope", "reason": "why not"}, "is not a team"),
            ({"team": "finance", "reason": "again"}, "already with"),
            ({"team": "complaints", "reason": "   "}, "reason"),
            ({"team": "complaints", "reason": "x" * 2001}, "reason"),
            ({"team": "complaints"}, "reason"),
        ):
            assert says in (await admin.call("POST", url, body, status=422))["message"]
        assert await hub.store.tickets.list_messages(conv) == before
        await admin.call("POST", f"/api/v1/conversations/{conv}/merge", {"into": other, "confirm": True})
        await admin.call("POST", url, {"team": "complaints", "reason": "late"}, status=409)
        stored = await hub.store.tickets.get_conversation(conv)
        assert stored is not None and stored.team == "finance"
    finally:
        await admin.client.close()


async def test_a_team_with_tickets_is_not_deleted(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    admin = await sign_in(server, ADMIN)
    try:
        await admin.call("POST", "/api/v1/teams", {"id": "vip", "names": {"en": "VIP"}}, status=201)
        conv = (await hub.ingest(customer_message("m1", "hello", thread="t1", sender=Sender("u1")))).conversation.id
        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "vip"})
        refused = await admin.call("DELETE", "/api/v1/teams/vip", status=409)
        assert "hand them over" in refused["message"]  # else only admins would see those tickets
        await admin.call("POST", f"/api/v1/conversations/{conv}/handoff", {"team": "finance", "reason": "closing vip"})
        await admin.call("DELETE", "/api/v1/teams/vip")
    finally:
        await admin.client.close()
