"""Replies of one ticket on one channel reach the customer in the order they were written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.delivery_order import holds_back_later
from conversation.model import AuthorType, Conversation, DeliveryStatus
from hub.app import Hub, build_app
from hub.sdk import RetryableDeliveryError
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import customer_message, eventually, make_config, running_hub
from tests.test_telegram import SECRET, fake, post, telegram_config  # noqa: F401  (fixtures)


@pytest.fixture
async def telegram_hub(
    tmp_path: Path,
    fake: tuple[FakeTelegram, str],  # noqa: F811
) -> AsyncIterator[tuple[FakeTelegram, Hub, TestClient]]:
    bot, base = fake
    hub = Hub(telegram_config(tmp_path, base, bot.token))
    async with TestClient(TestServer(build_app(hub))) as client:
        assert hub.outbox.concurrency > 3  # room to send several replies at once
        yield bot, hub, client


async def ticket_of(hub: Hub, client: TestClient, chat: int, number: int = 1000) -> Conversation:
    """Ticket `number`, opened by a customer's Telegram message in `chat`."""
    await post(client, text_update(chat, "my parcel never arrived", chat_id=chat, user_id=chat))
    conv = await hub.store.tickets.get_conversation_by_number(number)
    assert conv is not None and conv.thread_key == f"chat:{chat}"
    return conv


async def test_replies_written_back_to_back_arrive_in_order_when_the_first_send_is_slow(
    telegram_hub: tuple[FakeTelegram, Hub, TestClient],
) -> None:
    bot, hub, client = telegram_hub
    conv = await ticket_of(hub, client, 777)
    bot.slow_next["sendMessage"] = [0.6]  # Telegram takes its time over the first one
    texts = ["Hello, Li.", "Your parcel was delivered to the locker today.", "Did this answer your question?"]
    for text in texts:
        await hub.actions.send(conv, text, author_type=AuthorType.AGENT, author_id="agent-1")

    await eventually(lambda: len(bot.shown) == 3, timeout=5)
    assert [m["text"] for m in bot.shown] == texts


async def test_replies_of_other_tickets_are_not_held_up_by_a_slow_one(
    telegram_hub: tuple[FakeTelegram, Hub, TestClient],
) -> None:
    bot, hub, client = telegram_hub
    slow, quick = await ticket_of(hub, client, 777, 1000), await ticket_of(hub, client, 778, 1001)
    bot.slow_next["sendMessage"] = [0.6]
    await hub.actions.send(slow, "A slow answer", author_type=AuthorType.AGENT, author_id="agent-1")
    await hub.actions.send(quick, "A quick answer", author_type=AuthorType.AGENT, author_id="agent-1")

    await eventually(lambda: len(bot.shown) == 2, timeout=5)
    assert [m["text"] for m in bot.shown] == ["A quick answer", "A slow answer"]


async def test_a_reply_waiting_out_a_retry_does_not_hold_back_the_next(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"outbox": {"base_delay_seconds": 60, "max_delay_seconds": 60}})
    async with running_hub(config) as hub:
        chat = hub.adapters["chat"]
        chat.script = [RetryableDeliveryError("502 Bad Gateway")]  # the first attempt fails
        record = await hub.ingest(customer_message("in-1", "refund please"))
        first = await hub.actions.send(
            record.conversation, "We are on it", author_type=AuthorType.AGENT, author_id="agent-1"
        )
        second = await hub.actions.send(
            record.conversation, "Refunded today", author_type=AuthorType.AGENT, author_id="agent-1"
        )

        await eventually(lambda: [o.message.id for o in chat.sent] == [second.id], timeout=3)
        waiting = await hub.store.tickets.get_message(first.id)
        assert waiting is not None and waiting.delivery is not None
        assert (waiting.delivery.status, waiting.delivery.attempts) == (DeliveryStatus.QUEUED, 1)


@pytest.mark.parametrize(
    ("attempts", "next_attempt_at", "lease_until", "holds"),
    [
        (0, 2_000, None, True),  # not attempted yet (even when not due): it goes first
        (1, 2_000, 1_500, True),  # in flight: its lease runs past now
        (1, 900, None, True),  # due for its retry: it goes before the ones after it
        (1, 2_000, None, False),  # waiting out its backoff: the next ones go on
        (2, 2_000, 999, False),  # its lease ran out, and it waits for a later retry
    ],
)
def test_which_earlier_replies_hold_the_later_ones_back(
    attempts: int, next_attempt_at: int, lease_until: int | None, holds: bool
) -> None:
    assert holds_back_later(attempts, next_attempt_at, lease_until, 1_000) is holds
