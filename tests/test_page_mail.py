"""Pages by email (a lead told about a missed SLA target) against real SMTP on loopback: the
page is not part of the customer's thread and carries no customer words; a reply from the
paged agent's page address is an internal note from that agent, anyone else's is dropped.
Neither reopens the ticket, starts a clock or makes a contact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from conversation.model import Direction, MessageKind, Role, Status
from hub.agents import add_agent
from hub.app import Hub
from tests.email_servers import Sink
from tests.helpers import eventually, running_hub
from tests.test_email import customer_mail, email_config, mail_in, sink, ticket  # noqa: F401  (fixture)

LEAD = "lead.wang@corp.example"


@pytest.fixture
async def hub(tmp_path: Path, sink: tuple[Sink, int]) -> AsyncIterator[Hub]:  # noqa: F811
    config = email_config(tmp_path, sink[1])
    config = replace(config, hub=replace(config.hub, public_url="https://help.example.com"))
    async with running_hub(config) as hub:
        yield hub


async def test_a_page_mail_stands_apart_and_a_reply_to_it_is_a_note_never_a_customer_message(
    hub: Hub,
    sink: tuple[Sink, int],  # noqa: F811
) -> None:
    outbox, _port = sink
    lead = await add_agent(hub.store, "wang@example.com", Role.AGENT, "password-1", name="Wang")
    await hub.services.desk.update_team("customer-service", {"lead": lead.id})
    await hub.services.roster.update_profile(lead.id, {"page_channel": "email", "page_address": LEAD})
    await mail_in(hub, customer_mail("订单没有到 我的手机号", "我的订单三天了还没有到，秘密内容。"))
    conv = await ticket(hub, 1000)
    conv = await hub.services.conversations.update_conversation(conv, {"team": "customer-service"})
    conv = await hub.services.conversations.update_conversation(conv, {"status": Status.PENDING})

    assert await hub.services.routing.tell_lead(conv, "first_response", once="t1")
    await eventually(lambda: any(m["To"] == LEAD for m in outbox.mails))
    page = next(m for m in outbox.mails if m["To"] == LEAD)
    body = page.get_body(("plain",)).get_content()
    assert "[#1000]" not in page["Subject"] and "订单" not in page["Subject"]
    assert "秘密内容" not in body and "订单没有到" not in body  # a summary, not the customer's words
    assert "#1000" in body and "Customer service" in body
    assert f"https://help.example.com/inbox/#/tickets/{conv.id}" in body  # straight to the ticket
    assert page["Message-ID"].startswith("<page.") and page["In-Reply-To"] is None and page["References"] is None

    reply = customer_mail(
        f"Re: {page['Subject']}", "收到…内部：这个客户之前投诉过", sender=LEAD, In_Reply_To=page["Message-ID"]
    )
    await mail_in(hub, reply, sender=LEAD)
    await mail_in(hub, reply, sender=LEAD)  # delivered twice: kept once
    stranger = customer_mail("Re: page", "我是谁", sender="x@evil.example", In_Reply_To=page["Message-ID"])
    await mail_in(hub, stranger, sender="x@evil.example")

    after = await hub.store.tickets.get_conversation(conv.id)
    assert after is not None and after.status is Status.PENDING  # not reopened
    thread = await hub.store.tickets.list_messages(conv.id)
    notes = [m for m in thread if m.kind is MessageKind.NOTE and m.author_id == lead.id]
    assert [n.text for n in notes] == ["收到…内部：这个客户之前投诉过"]
    inbound = [m for m in thread if m.direction is Direction.INBOUND]
    assert len(inbound) == 1  # only the customer's first mail
    assert await hub.store.tickets.get_conversation_by_number(1001) is None
    assert await hub.store.contacts.find_identity_contact("email", LEAD) is None  # no contact for the lead
    metrics = hub.metrics.render().decode()
    assert 'helpline_updates_ignored_total{channel="email",kind="page_reply"} 1.0' in metrics
