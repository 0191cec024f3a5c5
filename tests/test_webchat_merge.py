"""Ticket merges seen from the widget: each visitor keeps their own history, and only theirs."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from hub.app import Hub, build_app
from hub.app_keys import HUB
from tests.email_servers import Sink
from tests.helpers import eventually, make_config
from tests.test_email import customer_mail, email_settings, mail_in, sink
from tests.test_identity import frames_before_pong
from tests.test_webchat import (  # noqa: F401  (client: the fixture)
    PNG,
    agent_session,
    client,
    frames_until,
    history,
    say,
    upload_file,
    visitor,
)

__all__ = ["client", "sink"]  # fixtures, used by name


async def merge(chat: TestClient, source: int, target: int) -> None:
    store = chat.server.app[HUB].store
    source_conv = await store.tickets.get_conversation_by_number(source)
    target_conv = await store.tickets.get_conversation_by_number(target)
    resp = await chat.post(
        f"/api/v1/conversations/{source_conv.id}/merge",
        json={"into": target_conv.id, "confirm": True},
        headers=await agent_session(chat),
    )
    assert resp.status == 200, await resp.json()


async def test_after_a_merge_across_customers_each_visitor_keeps_only_their_own_history(
    client: TestClient,  # noqa: F811
) -> None:
    alice, bob = await visitor(client), await visitor(client)
    bobs_file = await (await upload_file(client, bob["token"], PNG + b"bob's receipt")).json()
    async with (
        client.ws_connect(f"/channels/webchat/ws?token={alice['token']}") as alice_ws,
        client.ws_connect(f"/channels/webchat/ws?token={bob['token']}") as bob_ws,
    ):
        assert (await say(alice_ws, "alice: my parcel", "a1"))["conversation"]["number"] == 1000
        await bob_ws.send_json(
            {"type": "message", "client_id": "b1", "text": "bob: my refund", "attachments": [bobs_file]}
        )
        assert (await frames_until(bob_ws, "ack"))["conversation"]["number"] == 1001

        await merge(client, 1001, 1000)
        # Alice's frame comes from the last of the merge's events: by then Bob's were sent too.
        alices = [await frames_until(alice_ws, "ticket"), *await frames_before_pong(alice_ws)]
        bobs = await frames_before_pong(bob_ws)
        # Alice's ticket lives on; Bob's widget shows his own ticket, closed, never Alice's
        # number or status (a trial's Bob watched #1000 go from open to resolved)
        for frames, shown in (
            (alices, {"number": 1000, "status": "open"}),
            (bobs, {"number": 1001, "status": "closed"}),
        ):
            tickets = [f["conversation"] for f in frames if f["type"] == "ticket"]
            assert tickets and all(t == shown for t in tickets), frames
        alices_ticket = await client.server.app[HUB].store.tickets.get_conversation_by_number(1000)
        resolved = {"status": "resolved"}
        await client.patch(
            f"/api/v1/conversations/{alices_ticket.id}", json=resolved, headers=await agent_session(client)
        )
        assert (await frames_until(alice_ws, "ticket"))["conversation"] == {"number": 1000, "status": "resolved"}
        assert [f for f in await frames_before_pong(bob_ws) if f["type"] == "ticket"] == []

    assert await history(client, alice["token"]) == ["alice: my parcel"]
    assert (await visitor(client, token=bob["token"]))["conversation"] == {"number": 1001, "status": "closed"}
    assert await history(client, bob["token"]) == ["bob: my refund"]
    download = f"/channels/webchat/attachments/{bobs_file['ref']}"
    assert (await client.get(f"{download}?token={bob['token']}")).status == 200
    assert (await client.get(f"{download}?token={alice['token']}")).status == 404

    # Replies in #1000 go to Alice only: Bob's follow-up opens a ticket of his own, and
    # from then on his widget follows that one (not Alice's).
    async with (
        client.ws_connect(f"/channels/webchat/ws?token={alice['token']}") as alice_ws,
        client.ws_connect(f"/channels/webchat/ws?token={bob['token']}") as bob_ws,
    ):
        await bob_ws.send_json({"type": "hello", "after": ""})
        hello = await frames_until(bob_ws, "hello")
        assert hello["conversation"] == {"number": 1001, "status": "closed"}
        assert [m["text"] for m in hello["messages"]] == ["bob: my refund"]
        assert (await say(bob_ws, "bob: any news?", "b2"))["conversation"]["number"] == 1002
        await say(alice_ws, "alice: still waiting", "a2")  # reopens #1000
        alices_ticket = await client.server.app[HUB].store.tickets.get_conversation_by_number(1000)
        pending = {"status": "pending"}
        headers = await agent_session(client)
        await client.patch(f"/api/v1/conversations/{alices_ticket.id}", json=pending, headers=headers)
        while (shown := (await frames_until(alice_ws, "ticket"))["conversation"])["status"] == "open":
            pass  # the reopening's frame
        assert shown == {"number": 1000, "status": "pending"}
        assert [f for f in await frames_before_pong(bob_ws) if f["type"] == "ticket"] == []
    assert await history(client, bob["token"]) == ["bob: any news?"]
    assert await history(client, alice["token"]) == ["alice: my parcel", "alice: still waiting"]


async def test_after_a_merge_into_their_own_ticket_a_visitor_writes_on_there(client: TestClient) -> None:  # noqa: F811
    hub = client.server.app[HUB]
    bob = await visitor(client)
    headers = await agent_session(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={bob['token']}") as ws:
        await say(ws, "first question", "b1")
        first = await hub.store.tickets.get_conversation_by_number(1000)
        await client.patch(f"/api/v1/conversations/{first.id}", json={"status": "closed"}, headers=headers)
        assert (await say(ws, "second question", "b2"))["conversation"]["number"] == 1001
        await client.patch(f"/api/v1/conversations/{first.id}", json={"status": "open"}, headers=headers)
        await merge(client, 1001, 1000)
        assert (await frames_until(ws, "ticket"))["conversation"]["number"] == 1000
        assert (await say(ws, "third", "b3"))["conversation"]["number"] == 1000
    assert await history(client, bob["token"]) == ["first question", "second question", "third"]


async def test_a_merged_visitors_email_confirmation_carries_nothing_of_the_other_customers_ticket(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    """A security review: after an agent merged a visitor's chat ticket into another customer's
    email ticket, the visitor's "answer me by email" confirmation went out as a reply on that
    ticket: its subject ("Invoice for my divorce lawyer") and its Message-IDs."""
    outbox, port = sink
    webchat = {"secret": "visitor-token-secret", "email_channel": "email"}
    hub = Hub(make_config(tmp_path, {"channels": {"email": email_settings(port), "webchat": webchat}}))
    async with TestClient(TestServer(build_app(hub))) as client:
        bobs_mail = customer_mail("Invoice for my divorce lawyer", "please resend the invoice")
        await mail_in(hub, bobs_mail)
        bob = await hub.store.tickets.get_conversation_by_number(1000)
        alice = await visitor(client)
        ws = await client.ws_connect(f"/channels/webchat/ws?token={alice['token']}")
        await ws.send_json({"type": "message", "client_id": "a1", "text": "is my parcel lost?"})
        assert (await frames_until(ws, "ack"))["conversation"]["number"] == 1001
        alices = await hub.store.tickets.get_conversation_by_number(1001)
        assert bob is not None and alices is not None
        await hub.services.conversations.merge(alices, bob, who="agent")  # into another customer's
        resp = await client.post(
            "/channels/webchat/email", json={"token": alice["token"], "email": "alice@example.org"}
        )
        assert resp.status == 200, await resp.text()
        await eventually(lambda: any(m["To"] == "alice@example.org" for m in outbox.mails))
        mail = next(m for m in outbox.mails if m["To"] == "alice@example.org")
        assert "divorce" not in str(mail["Subject"]) and "[#1000]" not in str(mail["Subject"])
        assert bobs_mail["Message-ID"] not in f"{mail['In-Reply-To']} {mail['References']}"
        await ws.close()
