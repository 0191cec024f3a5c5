"""The words and order of what the `progress` plugin tells a customer: an answer about a
ticket nobody replied to yet, a pending notice before any agent's message, a notice after
the thread event that caused it, and a ticket resolved again before the customer wrote."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from conversation.model import AuthorType, MessageKind
from hub.app import Hub
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import eventually
from tests.test_progress import bot, desk, number, said, said_count, sink, telegram

__all__ = ["bot", "desk", "sink"]  # fixtures shared with tests/test_progress.py


async def test_a_ticket_nobody_replied_to_yet_is_described_in_a_plain_sentence_in_both_languages(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, _hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "我的订单一直没到，已经一周了"))
    await said_count(fake, 1)
    await telegram(client, text_update(2, "查询工单 1000", message_id=2))
    answer = (await said_count(fake, 2))[-1]
    assert "最近更新：暂无，客服还没有回复您。" in answer
    assert "（-）" not in answer and "(-)" not in answer

    english = {"chat_id": 999, "user_id": 999, "first_name": "Ann", "username": "ann", "language_code": "en"}
    await telegram(client, text_update(3, "My parcel never arrived, please help", **english))
    await said_count(fake, 1, chat=999)
    await telegram(client, text_update(4, "status of #1001", message_id=2, **english))
    answer = (await said_count(fake, 2, chat=999))[-1]
    assert "Last update: none yet, no one from our team has replied to you so far." in answer
    assert "(-)" not in answer


async def test_waiting_for_the_customer_points_at_our_last_message_only_when_there_is_one(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, hub = desk
    fake, _ = bot
    conversations = hub.services.conversations
    await telegram(client, text_update(1, "我的订单一直没到"))
    await said_count(fake, 1)
    await conversations.update_by(await number(hub, 1000), {"status": "pending"}, who="A", names={})
    told = (await said_count(fake, 2))[-1]
    assert told == "工单 #1000 正在等待您提供信息，请直接在这里回复以便继续处理。"
    assert "上一条消息" not in told

    await telegram(client, text_update(2, "订单号是 A123", message_id=2))  # the ticket is open again
    await conversations.send(await number(hub, 1000), "请提供收货地址。", author_type=AuthorType.AGENT, author_id="a1")
    await said_count(fake, 3)
    await conversations.update_by(await number(hub, 1000), {"status": "pending"}, who="A", names={})
    told = (await said_count(fake, 4))[-1]
    assert "请查看我们的上一条消息并回复" in told


async def test_a_notice_follows_the_thread_event_of_its_change_and_a_quick_second_resolve_is_not_told(
    desk: tuple[TestClient, Hub], bot: tuple[FakeTelegram, str]
) -> None:
    client, hub = desk
    fake, _ = bot
    await telegram(client, text_update(1, "我的订单一直没到"))
    await said_count(fake, 1)
    service = hub.services.conversations
    change = service.update_by
    add_event = service.add_event

    async def slow_add_event(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)  # a slow store write: the plugin must still speak after it
        return await add_event(*args, **kwargs)

    service.add_event = slow_add_event  # type: ignore[method-assign]
    resolved = await change(await number(hub, 1000), {"status": "resolved"}, who="A", names={})
    await said_count(fake, 2)
    reopened = await change(resolved, {"status": "open"}, who="A", names={})  # a slip, undone
    await change(reopened, {"status": "resolved"}, who="A", names={})
    await hub.plugin_host.settle()
    messages = await hub.store.tickets.list_messages(resolved.id)
    told = [m for m in messages if m.author_id == "progress"]
    assert len(told) == 1 and len([t for t in said(fake) if "已解决" in t]) == 1  # told once
    first_event = next(i for i, m in enumerate(messages) if m.kind is MessageKind.EVENT)
    assert first_event < messages.index(told[0])  # the cause, then the notice

    await telegram(client, text_update(2, "还是没收到", message_id=2))  # the customer writes: news again
    await change(await number(hub, 1000), {"status": "resolved"}, who="A", names={})
    await eventually(lambda: len([t for t in said(fake) if "已解决" in t]) == 2)


def test_the_resolved_notice_does_not_say_resolved_then_unresolved() -> None:
    """A trial read 已解决 and 仍未解决 in one notice, and 重新打开, the agents' word."""
    from hub.i18n import texts

    said = texts("progress", "zh-CN").get("progress.notice.resolved", number=1003)
    assert said == "您的工单 #1003 已解决。如还有问题，直接回复这条消息，我们会继续跟进。"
