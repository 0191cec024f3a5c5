"""What the inbox front end needs from the API: the agent's language, snooze until a
time, files on replies, message edits, previews, contact notes, and / leading to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import AuthorType, Status
from hub.snooze import wake_due
from tests import test_api
from tests.helpers import customer_message
from tests.test_api import ADMIN, Agent, hub_of, sign_in

server, agent = test_api.server, test_api.agent  # the same signed-in agent fixtures


async def ticket(agent: Agent, external_id: str, text: str = "where is my parcel?", **kw: Any) -> dict[str, Any]:
    hub = hub_of(agent.client.server)
    record = await hub.ingest(customer_message(external_id, text, **kw))
    return await agent.call("GET", f"/api/v1/conversations/{record.conversation.id}")


async def test_the_hubs_address_leads_to_the_inbox(server: TestServer) -> None:
    async with TestClient(server) as client:
        resp = await client.get("/", allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/inbox/"


async def test_an_agent_picks_the_inbox_language_from_the_catalogs_there_are(agent: Agent) -> None:
    me = await agent.call("GET", "/api/v1/me")
    assert me["agent"]["language"] is None and me["languages"] == ["en", "zh-CN"]
    changed = await agent.call("PATCH", "/api/v1/me", {"language": "zh-CN"})
    assert changed["language"] == "zh-CN"
    refused = await agent.call("PATCH", "/api/v1/me", {"language": "fr"}, status=422)
    assert "language" in refused["message"]
    assert (await agent.call("GET", "/api/v1/me"))["agent"]["language"] == "zh-CN"  # unchanged by the refusal
    await agent.call("PATCH", "/api/v1/me", {"language": ""})  # back to the browser's
    assert (await agent.call("GET", "/api/v1/me"))["agent"]["language"] is None


async def test_a_ticket_snoozed_until_a_time_opens_again_then(agent: Agent) -> None:
    card = await ticket(agent, "z1")
    cid = card["conversation"]["id"]
    hub = hub_of(agent.client.server)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    await agent.call("PATCH", f"/api/v1/conversations/{cid}", {"snoozed_until": past}, status=422)
    await agent.call("PATCH", f"/api/v1/conversations/{cid}", {"snoozed_until": "2030-01-01T09:00"}, status=422)
    # snoozed without a time slept for ever, its SLA running (a trial's status menu did it)
    refused = await agent.call("PATCH", f"/api/v1/conversations/{cid}", {"status": "snoozed"}, status=422)
    assert refused["message"] == "status snoozed needs snoozed_until, the time the ticket wakes up"
    assert (await hub.store.tickets.get_conversation(cid)).status is Status.OPEN  # type: ignore[union-attr]

    until = datetime.now(UTC) + timedelta(hours=2)
    snoozed = await agent.call("PATCH", f"/api/v1/conversations/{cid}", {"snoozed_until": until.isoformat()})
    assert snoozed["status"] == "snoozed" and snoozed["snoozed_until"].startswith(f"{until:%Y-%m-%dT%H:%M}")
    thread = (await agent.call("GET", f"/api/v1/conversations/{cid}/messages"))["items"]
    assert any("snoozed this until" in m["text"] for m in thread if m["kind"] == "event")

    assert await wake_due(hub.actions) == 0  # not yet
    hub.actions.clock = lambda: until + timedelta(seconds=1)
    assert await wake_due(hub.actions) == 1
    woken = await hub.store.tickets.get_conversation(cid)
    assert woken is not None and woken.status is Status.OPEN and woken.snoozed_until is None
    thread = (await agent.call("GET", f"/api/v1/conversations/{cid}/messages"))["items"]
    assert thread[-1]["text"] == "Snooze ended: the ticket is open again"
    assert await wake_due(hub.actions) == 0  # once


async def test_choosing_another_status_drops_the_wake_up_time(agent: Agent) -> None:
    cid = (await ticket(agent, "z2"))["conversation"]["id"]
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    await agent.call("PATCH", f"/api/v1/conversations/{cid}", {"snoozed_until": until})
    reopened = await agent.call("PATCH", f"/api/v1/conversations/{cid}", {"status": "pending"})
    assert reopened["status"] == "pending" and reopened["snoozed_until"] is None


async def upload(agent: Agent, cid: str, data: bytes, name: str, *, status: int = 201) -> Any:
    form = FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    resp = await agent.client.post(
        f"/api/v1/conversations/{cid}/uploads", data=form, headers={"X-CSRF-Token": agent.csrf}
    )
    body = await resp.json()
    assert resp.status == status, body
    return body


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def test_an_agent_attaches_a_file_to_a_reply_on_a_channel_that_carries_files(agent: Agent) -> None:
    hub = hub_of(agent.client.server)
    channel = hub.adapters["chat"]
    cid = (await ticket(agent, "f1"))["conversation"]["id"]
    refused = await upload(agent, cid, PDF, "invoice.pdf", status=422)
    assert "cannot send files" in refused["message"]

    channel.sends_attachments = True  # type: ignore[misc]
    card = await agent.call("GET", f"/api/v1/conversations/{cid}")
    assert card["sends_files"] is True
    uploaded = await upload(agent, cid, PDF, "../发票.pdf")
    assert uploaded["name"] == "发票.pdf" and uploaded["content_type"] == "application/pdf"
    sent = await agent.call(
        "POST",
        f"/api/v1/conversations/{cid}/messages",
        {"text": "", "attachments": [{"ref": uploaded["ref"], "name": uploaded["name"]}]},
        status=201,
    )
    assert [(a["name"], a["size"]) for a in sent["attachments"]] == [("发票.pdf", len(PDF))]
    await channel.delivered.wait()  # type: ignore[attr-defined]
    out = channel.sent[-1].message  # type: ignore[attr-defined]
    assert [a.name for a in out.attachments] == ["发票.pdf"]
    path = hub.blobs.path(out.attachments[0].blob_ref)
    assert path is not None and path.read_bytes() == PDF
    # Named by what it is: no bare "file" reaches the customer, no "notes.html" holding a PDF.
    for given, kept in (("", "file.pdf"), ("notes.html", "notes.html.pdf")):
        uploaded = await upload(agent, cid, PDF, given)
        assert uploaded["name"] == kept
        sent = await agent.call(
            "POST",
            f"/api/v1/conversations/{cid}/messages",
            {"text": "", "attachments": [{"ref": uploaded["ref"], "name": given}]},
            status=201,
        )
        assert [a["name"] for a in sent["attachments"]] == [kept]


async def test_a_reply_cannot_attach_what_this_agent_did_not_upload(server: TestServer, agent: Agent) -> None:
    hub = hub_of(server)
    hub.adapters["chat"].sends_attachments = True  # type: ignore[misc]
    cid = (await ticket(agent, "f2"))["conversation"]["id"]
    boss = await sign_in(server, ADMIN)  # its client stays open: closing it stops the shared server
    theirs = await upload(boss, cid, PDF, "boss.pdf")
    before = len((await agent.call("GET", f"/api/v1/conversations/{cid}/messages"))["items"])
    for ref in (theirs["ref"], "0" * 64, "../../etc/passwd"):
        await agent.call(
            "POST", f"/api/v1/conversations/{cid}/messages", {"text": "here", "attachments": [{"ref": ref}]}, status=422
        )
    mine = await upload(agent, cid, PDF, "mine.pdf")
    note = {"text": "see file", "kind": "note", "attachments": [{"ref": mine["ref"]}]}
    await agent.call("POST", f"/api/v1/conversations/{cid}/messages", note, status=422)
    await agent.call("POST", f"/api/v1/conversations/{cid}/messages", {"text": "  "}, status=422)
    after = len((await agent.call("GET", f"/api/v1/conversations/{cid}/messages"))["items"])
    assert after == before  # nothing was stored


async def test_message_edits_previews_and_contact_notes_reach_the_inbox(agent: Agent) -> None:
    hub = hub_of(agent.client.server)
    cid = (await ticket(agent, "e1", "my order 1234"))["conversation"]["id"]
    assert await hub.record_edit("chat", "e1", text="my order\x00 1243")  # an edit keeps no control character
    message = (await agent.call("GET", f"/api/v1/conversations/{cid}/messages"))["items"][0]
    assert message["text"] == "my order 1243"
    assert [e["previous_text"] for e in message["edits"]] == ["my order 1234"]

    await agent.call("POST", f"/api/v1/conversations/{cid}/messages", {"text": "checking", "kind": "note"}, status=201)
    await agent.call("PATCH", f"/api/v1/conversations/{cid}", {"priority": "high"})  # an event: not a preview
    listed = (await agent.call("GET", "/api/v1/conversations"))["items"]
    assert listed[0]["preview"]["text"] == "checking" and listed[0]["preview"]["kind"] == "note"

    card = await agent.call("GET", f"/api/v1/conversations/{cid}")
    contact_id = card["contact"]["id"]
    assert card["contact"]["notes"] == ""
    saved = await agent.call("PATCH", f"/api/v1/contacts/{contact_id}", {"notes": "prefers 中文; VIP"})
    assert saved["notes"] == "prefers 中文; VIP"
    assert (await agent.call("GET", f"/api/v1/conversations/{cid}"))["contact"]["notes"] == "prefers 中文; VIP"
    second = (await ticket(agent, "e2", "another question", thread="chat-2"))["conversation"]["id"]
    others = (await agent.call("GET", f"/api/v1/conversations/{second}"))["other_conversations"]
    assert [(o["number"], o["preview"]["text"]) for o in others] == [(card["conversation"]["number"], "checking")]


async def test_a_handed_off_tickets_row_previews_the_customers_words_and_waits(agent: Agent) -> None:
    """A trial: the row of a ticket the FAQ bot handed on showed the bot's note of its guesses,
    and the bot's "passing you on" would have hidden the wait."""
    hub = hub_of(agent.client.server)
    conv = (await ticket(agent, "h1", "退款三天还没到账"))["conversation"]
    stored = await hub.store.tickets.get_conversation(conv["id"])
    assert stored is not None
    await hub.actions.add_note(stored, "FAQ bot: best guesses ...", author="faq")
    await hub.actions.hand_off(stored, reason="", team="", plugin="faq")
    await hub.actions.send(
        await hub.store.tickets.get_conversation(conv["id"]),
        "已为您转接人工客服",
        author_type=AuthorType.BOT,
        author_id="faq",
    )
    [row] = (await agent.call("GET", "/api/v1/conversations"))["items"]
    assert row["preview"]["text"] == "退款三天还没到账" and row["waiting_since"] == row["last_inbound_at"]
    # the card and by-number give the ticket as the list does (a trial: no preview, no wait there)
    for one in (
        (await agent.call("GET", f"/api/v1/conversations/{conv['id']}"))["conversation"],
        await agent.call("GET", f"/api/v1/conversations/by-number/{conv['number']}"),
    ):
        assert (one["preview"], one["waiting_since"]) == (row["preview"], row["waiting_since"])
    await agent.call("POST", f"/api/v1/conversations/{conv['id']}/messages", {"text": "我来查一下"}, status=201)
    [row] = (await agent.call("GET", "/api/v1/conversations"))["items"]
    assert row["preview"]["text"] == "我来查一下" and row["waiting_since"] is None
