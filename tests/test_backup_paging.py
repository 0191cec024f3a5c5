"""Backup pages leave through the outbox on the agent's own channel: the real python-telegram-bot
against the fake Bot API. The page is about a customer's Telegram ticket, and still never
reaches the customer's chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, Role
from conversation.paging import page_recipient
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import eventually
from tests.test_telegram import SECRET, fake, hub_of, post, telegram_config  # noqa: F401  (fixtures)

TEAM = "customer-service"


@pytest.fixture
async def client(tmp_path: Path, fake: tuple[FakeTelegram, str]) -> AsyncIterator[TestClient]:  # noqa: F811
    bot, base = fake
    async with TestClient(TestServer(build_app(Hub(telegram_config(tmp_path, base, bot.token))))) as client:
        yield client


async def test_a_page_reaches_the_agents_telegram_chat_and_not_the_customers(
    client: TestClient,
    fake: tuple[FakeTelegram, str],  # noqa: F811
) -> None:
    bot, _ = fake
    hub = hub_of(client)
    assert (await post(client, text_update(1, "我的账号被盗了", chat_id=777)))[0] == 200
    ticket = await hub.store.tickets.get_conversation_by_number(1000)
    assert ticket is not None and ticket.channel == "telegram"
    backup = await add_agent(hub.store, "chen@example.com", Role.AGENT, "backup password 1", name="陈静")
    await hub.services.roster.update_profile(backup.id, {"page_channel": "telegram", "page_address": "9001"})
    await hub.services.roster.create_entry(
        TEAM,
        {
            "kind": "pattern",
            "duty": "backup",
            "agents": [backup.id],
            "start": "00:00",
            "end": "00:00",
            "weekdays": "mon-sun",
        },
    )
    ticket = await hub.store.tickets.update_conversation(ticket.id, {"team": TEAM}, now=ticket.created_at)

    (page,) = await hub.services.routing.page_for(ticket, "sla")
    assert (page.agent_id, page.reason, page.channel) == (backup.id, "sla", "telegram")

    async def paged() -> list[dict[str, Any]]:
        return [m for m in bot.sent("sendMessage") if str(m["chat_id"]) == "9001"]

    await eventually(paged)
    (sent,) = await paged()
    assert "#1000" in sent["text"] and "陈静" in sent["text"]
    assert [m for m in bot.sent("sendMessage") if str(m["chat_id"]) == "777"] == []  # the customer saw nothing


def test_only_a_page_note_is_redirected_to_the_agent() -> None:
    ticket = Conversation(
        "c1", 1000, "telegram", "chat:777", "contact-1", participants=["boss@example.com"], customer_address="777"
    )
    note = Message(
        "m1",
        "c1",
        "email",
        Direction.OUTBOUND,
        MessageKind.NOTE,
        AuthorType.SYSTEM,
        raw={"page": {"agent_id": "a1"}},
        customer_address="chen@example.com",
    )
    view, person = page_recipient(ticket, note) or (None, None)
    assert view is not None and person is not None
    assert (view.channel, view.thread_key, view.participants, view.customer_address) == (
        "email",
        "chat:chen@example.com",
        [],
        "chen@example.com",
    )
    assert (person.id, person.email) == ("a1", "chen@example.com")
    reply = Message(
        "m2",
        "c1",
        "telegram",
        Direction.OUTBOUND,
        MessageKind.MESSAGE,
        AuthorType.AGENT,
        raw={"page": {}},
        customer_address="777",
    )
    assert page_recipient(ticket, reply) is None  # a customer message is never turned into a page
