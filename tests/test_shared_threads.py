"""No status or rating link where others read the thread (a Telegram group, a Slack channel's
thread): whoever holds the link reads the ticket and writes through its page as its customer.
A security review found the greeting posting the opener's link to a whole group."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack.adapter import SlackAdapter
from conversation.model import Direction, Message
from hub.app import Hub, build_app
from hub.app_keys import HUB
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import GREETING_ALWAYS_OPEN, eventually, make_config
from tests.test_telegram import SECRET, fake

__all__ = ["fake"]  # a fixture, used by name

PUBLIC = "https://help.example.com"


async def test_a_telegram_group_is_greeted_without_the_openers_status_link(
    tmp_path: Path, fake: tuple[FakeTelegram, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    bot, base = fake
    telegram = {"token": bot.token, "mode": "webhook", "webhook_secret": SECRET, "api_base_url": base}
    config = make_config(
        tmp_path,
        {
            "hub": {"public_url": PUBLIC},
            "status_page": {"enabled": True, "secret": "env:HELPLINE_STATUS_SECRET"},
            "channels": {"telegram": telegram},
            "plugins": {"enabled": ["progress", "greeting"], "greeting": GREETING_ALWAYS_OPEN},
        },
    )
    async with TestClient(TestServer(build_app(Hub(config)))) as client:
        hub: Hub = client.server.app[HUB]
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        said: dict[int, str] = {}
        for update_id, chat_id, chat_type in ((1, -100555, "group"), (2, 888, "private")):
            update = text_update(update_id, "我的订单一直没到", chat_id=chat_id, chat_type=chat_type, user_id=888)
            assert (await client.post("/channels/telegram/webhook", json=update, headers=headers)).status == 200
            await eventually(lambda n=update_id: len(bot.sent("sendMessage")) == n)
            sent = bot.sent("sendMessage")[-1]
            said[int(sent["chat_id"])] = sent["text"]
        link = re.compile(rf"{re.escape(PUBLIC)}/status/\S+")
        assert not link.search(said[-100555])  # the whole group reads the greeting
        assert link.search(said[888])  # a private chat is the customer's alone
        group, private = [await hub.reads.get_conversation_by_number(n) for n in (1000, 1001)]
        assert group is not None and private is not None
        assert hub.status_link(group) == "" and hub.rating_links(group) == {}
        assert hub.status_link(private) and hub.rating_links(private)


@pytest.mark.parametrize(
    ("thread_key", "shared"),
    [("T1:D0123", False), ("T1:C0456:1700000000.000100", True), ("T1:G0789:1700000000.000200", True)],
)
def test_a_slack_channels_thread_is_shared_and_a_direct_message_is_not(thread_key: str, shared: bool) -> None:
    adapter: Any = SlackAdapter.__new__(SlackAdapter)
    assert adapter.shared_thread(thread_key) is shared


@asynccontextmanager
async def group_hub(tmp_path: Path, fake: tuple[FakeTelegram, str], plugins: list[str]) -> AsyncIterator[GroupChat]:
    """A hub with one Telegram channel and `plugins`, and a way to write in group -100555."""
    bot, base = fake
    telegram = {"token": bot.token, "mode": "webhook", "webhook_secret": SECRET, "api_base_url": base}
    config = make_config(tmp_path, {"channels": {"telegram": telegram}, "plugins": {"enabled": plugins}})
    async with TestClient(TestServer(build_app(Hub(config)))) as client:
        yield GroupChat(client)


class GroupChat:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.hub: Hub = client.server.app[HUB]
        self.written = 0

    async def says(self, user_id: int, text: str) -> None:
        """User `user_id` writes in the group; returns once every plugin has run on it."""
        self.written += 1
        n = self.written
        update = text_update(n, text, chat_id=-100555, chat_type="group", user_id=user_id, message_id=n)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        assert (await self.client.post("/channels/telegram/webhook", json=update, headers=headers)).status == 200

        async def handled() -> bool:
            inbound = [m for m in await self.thread() if m.direction is Direction.INBOUND]
            return len(inbound) >= n and all(m.plugins_done for m in inbound)

        await eventually(handled)

    async def thread(self) -> list[Message]:
        ticket = await self.hub.reads.get_conversation_by_number(1000)
        return await self.hub.reads.list_messages(ticket.id) if ticket else []


async def test_no_bot_acts_on_another_members_words_in_a_group(tmp_path: Path, fake: tuple[FakeTelegram, str]) -> None:
    """A Telegram group is one ticket, its opener's: another member's message is kept for the
    agents, but no bot answers it (nor, so, a question a bot asked the opener)."""
    async with group_hub(tmp_path, fake, ["echo"]) as group:
        for user_id, text in ((777, "alice asks"), (999, "bob says yes"), (777, "alice again")):
            await group.says(user_id, text)
        ticket = await group.hub.reads.get_conversation_by_number(1000)
        assert ticket is not None and ticket.customer_address == "777"
        said = [m.text for m in await group.thread()]
        assert said == ["alice asks", "echo 1: alice asks", "bob says yes", "alice again", "echo 2: alice again"]


async def test_a_members_complaint_in_a_group_does_not_move_the_openers_ticket(
    tmp_path: Path, fake: tuple[FakeTelegram, str]
) -> None:
    """Words that read as a complaint move a ticket to the supervisors until the complaints
    plugin files them; it does not act on another member's message, so nothing may move it for
    that message either (a review: the opener's ticket stayed with the supervisors for good)."""
    async with group_hub(tmp_path, fake, ["complaints"]) as group:
        for user_id, text in (
            (777, "my order is late"),
            (999, "I want to complain about the agent"),
            (777, "any news?"),
        ):
            await group.says(user_id, text)
        ticket = await group.hub.reads.get_conversation_by_number(1000)
        assert ticket is not None and ticket.team != "supervisors"
        assert len([m for m in await group.thread() if m.direction is Direction.INBOUND]) == 3
