"""Status questions on new threads (a new mail, a stranger's probe) are stored and answered
in a ticket of their own that stays out of the agents' way: not in the views, not among the
contact card's other tickets, no ticket.created (webhooks, routing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosmtplib
from aiohttp.test_utils import TestClient

from conversation.model import Direction, Role, Status
from hub.agents import add_agent
from hub.app import Hub
from hub.webhooks import webhook_event
from tests.email_servers import Sink
from tests.helpers import eventually
from tests.test_email import SUPPORT, customer_mail
from tests.test_progress import bot, desk, number, sink

__all__ = ["bot", "desk", "sink"]  # fixtures shared with tests/test_progress.py

ADMIN = ("admin@example.com", "admin password 1")


async def test_questions_on_new_threads_are_kept_but_open_nothing_agents_see(
    desk: tuple[TestClient, Hub], sink: tuple[Sink, int]
) -> None:
    client, hub = desk
    mails, _ = sink
    email = hub.adapters["email"]
    events = hub.bus.subscribe()

    async def mail(subject: str, text: str, sender: str = "Li Na <li.na@gmail.com>") -> None:
        envelope = sender.split("<")[-1].rstrip(">")
        await aiosmtplib.send(
            customer_mail(subject, text, sender=sender),
            hostname="127.0.0.1",
            port=email.listen_port,  # type: ignore[attr-defined]
            sender=envelope,
            recipients=[SUPPORT],
        )

    await mail("包裹", "我的包裹一直没到")  # ticket 1000
    await eventually(lambda: len(mails.mails) >= 1)
    await hub.services.conversations.update_by(await number(hub, 1000), {"status": "resolved"}, who="A", names={})
    await mail("查询", "查询工单 1000")  # a new thread: kept in 1001
    await mail("probe", "status of #1000", sender="Someone <someone@example.org>")  # a stranger: 1002
    await eventually(lambda: len(mails.mails) >= 4)  # the greeting, the resolved notice, two answers
    answers = [m.get_body(("plain",)).get_content() for m in mails.mails]  # type: ignore[union-attr]
    # resolved with no agent's word: not "no agent has replied to you yet" (a trial's bot-resolved ticket)
    [about_1000] = [a for a in answers if "工单 #1000：已解决" in a]
    assert "最近更新：无。" in about_1000 and "客服还没有回复您" not in about_1000
    for n in (1001, 1002):
        asked = await number(hub, n)
        assert asked.status is Status.RESOLVED
        thread = await hub.store.tickets.list_messages(asked.id)
        assert [m.direction for m in thread if m.author_type.value == "contact"] == [Direction.INBOUND]  # kept

    created = []
    while not events.queue.empty():
        event = events.queue.get_nowait()
        if webhook_event(event) == ("ticket.created", False):
            created.append(event.data["number"])
    assert created == [1000]  # no ticket.created for a question

    admin = await add_agent(hub.store, ADMIN[0], Role.ADMIN, ADMIN[1])
    _token, secret = await hub.services.accounts.issue_token(admin.id, "test")
    bearer = {"Authorization": f"Bearer {secret}"}

    async def get(path: str, **params: str) -> Any:
        resp = await client.get(path, params=params, headers=bearer)
        assert resp.status == 200
        return await resp.json()

    resolved = await get("/api/v1/conversations", status="resolved")
    assert [c["number"] for c in resolved["items"]] == [1000]  # the 已解决 view
    counts = await get("/api/v1/conversations/counts")
    assert counts["resolved"] == 1 and counts["all"] == 1
    card = await get(f"/api/v1/conversations/{(await number(hub, 1000)).id}")
    assert card["other_conversations"] == []  # the contact card
    found = await get("/api/v1/conversations", q="查询工单")
    assert {c["number"] for c in found["items"]} >= {1001}  # a search still finds it


async def test_without_a_status_page_the_refusal_points_to_no_link(tmp_path: Path) -> None:
    """A trial's hub with the status page off told strangers to "open the link we sent you"."""
    from hub.testing import customer_message, make_config, replies, running_hub

    config = make_config(tmp_path, {"plugins": {"enabled": ["progress", "greeting"]}})
    async with running_hub(config) as hub:
        asked = await hub.ingest(customer_message("m1", "status of #4242 please"))
        [answer] = await replies(hub, asked.conversation.id, 1)
        assert answer.text == (
            "We cannot share the status of that ticket here. If it is yours, ask from the account or email"
            " address you wrote from."
        )
