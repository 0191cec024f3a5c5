"""The durable outbox: retries, backoff, failure, restart, shutdown, several hubs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from conversation.model import AuthorType, Delivery, DeliveryStatus, Direction, Message, MessageKind, new_id, utcnow
from conversation.store import StoreUnavailable
from hub.app import Hub
from hub.outbox import backoff
from hub.sdk import PermanentDeliveryError, RetryableDeliveryError
from tests.helpers import break_claims, customer_message, eventually, make_config, poison_message, running_hub


async def queue_reply(hub: Hub, text: str = "We refunded you", thread: str = "chat-1") -> Message:
    record = await hub.ingest(customer_message(f"in-{text}-{thread}", "refund please", thread=thread))
    return await hub.actions.send(record.conversation, text, author_type=AuthorType.AGENT, author_id="agent-1")


async def delivery_of(hub: Hub, message_id: str) -> tuple[DeliveryStatus, int, str]:
    message = await hub.store.tickets.get_message(message_id)
    assert message is not None and message.delivery is not None
    return message.delivery.status, message.delivery.attempts, message.delivery.error


def test_backoff_doubles_is_capped_and_never_earlier_than_retry_after() -> None:
    assert 2.0 <= backoff(1, base=2, cap=100) <= 2.4
    assert 8.0 <= backoff(3, base=2, cap=100) <= 9.6
    assert 100 <= backoff(30, base=2, cap=100) <= 120
    assert backoff(1, base=2, cap=100, retry_after=45) >= 45


async def test_a_429_is_retried_after_retry_after_then_sent(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        chat = hub.adapters["chat"]
        chat.script = [RetryableDeliveryError("429 Too Many Requests", retry_after=0.4)]
        message = await queue_reply(hub)

        await eventually(lambda: len(chat.attempts) == 1)
        first_try = utcnow()
        status, attempts, error = await delivery_of(hub, message.id)
        assert (status, attempts, error) == (DeliveryStatus.QUEUED, 1, "429 Too Many Requests")

        await eventually(lambda: chat.sent, timeout=5)
        assert (utcnow() - first_try).total_seconds() >= 0.3  # it waited as asked
        status, attempts, _ = await delivery_of(hub, message.id)
        assert (status, attempts) == (DeliveryStatus.SENT, 2)
        sent = await hub.store.tickets.get_message(message.id)
        assert sent is not None and sent.external_id == "ext-1"
        text = hub.metrics.render().decode()
        assert 'helpline_deliveries_retried_total{channel="chat"} 1.0' in text
        assert 'helpline_deliveries_sent_total{channel="chat"} 1.0' in text


async def test_an_adapter_bug_is_retried_like_a_temporary_error_and_logged_with_its_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """README: any other exception from `send` is retried like RetryableDeliveryError."""
    async with running_hub(make_config(tmp_path)) as hub:
        chat = hub.adapters["chat"]
        chat.script = [OSError("disk on fire")]
        with caplog.at_level(logging.ERROR, logger="hub.outbox"):
            message = await queue_reply(hub)
            await eventually(lambda: len(chat.attempts) == 1)
            status, attempts, error = await delivery_of(hub, message.id)
            assert (status, attempts, error) == (DeliveryStatus.QUEUED, 1, "OSError: disk on fire")
        assert "chat adapter raised on message" in caplog.text and "Traceback" in caplog.text
        await eventually(lambda: chat.sent, timeout=15)  # the next attempt went through


async def test_after_the_last_attempt_the_delivery_fails_with_its_error(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        chat = hub.adapters["chat"]
        chat.script = [RetryableDeliveryError("503 Service Unavailable")] * 10
        message = await queue_reply(hub)

        async def failed() -> bool:
            return (await delivery_of(hub, message.id))[0] is DeliveryStatus.FAILED

        await eventually(failed)
        assert await delivery_of(hub, message.id) == (
            DeliveryStatus.FAILED,
            4,
            "gave up after 4 attempts: 503 Service Unavailable",
        )
        assert len(chat.attempts) == 4 and chat.sent == []
        assert 'helpline_deliveries_failed_total{channel="chat"} 1.0' in hub.metrics.render().decode()


async def test_a_permanent_error_fails_at_once_and_a_retry_sends_it(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        chat = hub.adapters["chat"]
        chat.script = [PermanentDeliveryError("403 Forbidden: bot was blocked by the user")]
        message = await queue_reply(hub)

        async def failed() -> bool:
            return (await delivery_of(hub, message.id))[0] is DeliveryStatus.FAILED

        await eventually(failed)
        assert await delivery_of(hub, message.id) == (
            DeliveryStatus.FAILED,
            1,
            "403 Forbidden: bot was blocked by the user",
        )
        await hub.store.deliveries.requeue_delivery(message.id, now=utcnow())  # the agent's "retry"
        hub.outbox.wake()
        await eventually(lambda: chat.sent)


async def test_a_send_that_hangs_times_out_and_is_retried(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path, {"outbox": {"send_timeout_seconds": 0.1}})) as hub:
        chat = hub.adapters["chat"]
        chat.script = [5.0]
        message = await queue_reply(hub)
        await eventually(lambda: chat.sent)
        assert len(chat.attempts) == 2
        assert (await delivery_of(hub, message.id)) == (DeliveryStatus.SENT, 2, "")  # a success clears the error


async def test_a_message_for_a_channel_not_enabled_fails_visibly(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        record = await hub.ingest(customer_message("m1", channel="gone"))
        message = await hub.actions.send(record.conversation, "hello", author_type=AuthorType.AGENT, author_id="a")

        async def failed() -> bool:
            return (await delivery_of(hub, message.id))[0] is DeliveryStatus.FAILED

        await eventually(failed)
        assert "not enabled" in (await delivery_of(hub, message.id))[2]


async def test_pending_deliveries_resume_after_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"outbox": {"base_delay_seconds": 0.5, "max_delay_seconds": 1}})
    async with running_hub(config) as hub:
        hub.adapters["chat"].script = [RetryableDeliveryError("connection reset")]
        message = await queue_reply(hub)
        await eventually(lambda: hub.adapters["chat"].attempts)
    # a new process: nothing in memory, the row is all there is
    async with running_hub(config) as hub:
        await eventually(lambda: hub.adapters["chat"].sent, timeout=5)
        assert hub.adapters["chat"].sent[0].message.id == message.id
        assert (await delivery_of(hub, message.id))[:2] == (DeliveryStatus.SENT, 2)


async def test_shutdown_finishes_in_flight_sends_within_the_grace(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"hub": {"shutdown_grace_seconds": 3}})
    async with running_hub(config) as hub:
        hub.adapters["chat"].script = [0.3]
        message = await queue_reply(hub)
        await eventually(lambda: hub.adapters["chat"].attempts)
    async with running_hub(config) as hub:
        assert (await delivery_of(hub, message.id))[0] is DeliveryStatus.SENT


async def test_shutdown_releases_sends_that_outlast_the_grace(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"hub": {"shutdown_grace_seconds": 0.1}, "outbox": {"lease_seconds": 600}})
    async with running_hub(config) as hub:
        hub.adapters["chat"].script = [30.0]
        message = await queue_reply(hub)
        await eventually(lambda: hub.adapters["chat"].attempts)
    async with running_hub(config) as hub:
        # released, not left leased for 10 minutes, and the cut-short try is not counted
        await eventually(lambda: hub.adapters["chat"].sent, timeout=15)  # well under the 600 s lease
        assert (await delivery_of(hub, message.id))[:2] == (DeliveryStatus.SENT, 1)


@pytest.mark.mongo
async def test_hubs_sharing_mongodb_deliver_each_message_once(tmp_path: Path, mongo_db_uri: str) -> None:
    config = make_config(tmp_path, {"outbox": {"poll_seconds": 0.05, "concurrency": 4}}, storage_url=mongo_db_uri)
    async with running_hub(config) as first, running_hub(config) as second:
        first.outbox.concurrency = 0  # queue everything before either hub may claim
        second.outbox.concurrency = 0
        # Twelve tickets, one reply each: replies of one ticket go out one at a time, in order,
        # so only replies of different tickets can be shared between the hubs.
        ids = [(await queue_reply(first, f"reply {i}", thread=f"chat-{i}")).id for i in range(12)]
        first.outbox.concurrency = second.outbox.concurrency = 4
        first.outbox.wake()
        second.outbox.wake()

        def all_sent() -> bool:
            return len(first.adapters["chat"].sent) + len(second.adapters["chat"].sent) >= 12

        await eventually(all_sent, timeout=30)
        await asyncio.sleep(0.3)
        sent = [o.message.id for hub in (first, second) for o in hub.adapters["chat"].sent]
        assert sorted(sent) == sorted(ids)  # every one, none twice
        assert first.adapters["chat"].sent and second.adapters["chat"].sent  # both took a share


async def test_the_outbox_waits_out_a_store_outage_and_then_delivers(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        outage = break_claims(hub.store, StoreUnavailable("the database did not answer"), 5)
        message = await queue_reply(hub)
        await eventually(lambda: hub.adapters["chat"].sent, timeout=5)
        assert outage["calls"] > 5 and hub.adapters["chat"].sent[0].message.id == message.id


async def test_an_unreadable_row_is_quarantined_and_later_replies_are_delivered(tmp_path: Path) -> None:
    # Polling rarely, the outbox claims only when woken: the poisoned row and the reply come in one batch.
    async with running_hub(make_config(tmp_path, {"outbox": {"poll_seconds": 60}})) as hub:
        record = await hub.ingest(customer_message("in-1", "refund please"))
        poison = await hub.store.tickets.add_message(
            Message(
                id=new_id(),
                conversation_id=record.conversation.id,
                channel="chat",
                direction=Direction.OUTBOUND,
                kind=MessageKind.MESSAGE,
                author_type=AuthorType.AGENT,
                author_id="agent-1",
                text="written by a newer version",
                delivery=Delivery(next_attempt_at=utcnow()),
            )
        )
        await poison_message(hub.store, poison.id)
        reply = await queue_reply(hub, "We refunded you")  # wakes the outbox

        await eventually(lambda: hub.adapters["chat"].sent)
        assert [o.message.id for o in hub.adapters["chat"].sent] == [reply.id]
        assert await hub.store.deliveries.count_queued() == 0  # the unreadable one failed instead of blocking

        later = await queue_reply(hub, "Anything else?", thread="chat-2")
        await eventually(lambda: len(hub.adapters["chat"].sent) == 2)
        assert hub.adapters["chat"].sent[1].message.id == later.id


async def test_an_unexpected_error_does_not_stop_the_outbox(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        break_claims(hub.store, KeyError("d_status"), 1)  # a bug, not an outage
        message = await queue_reply(hub)
        await eventually(lambda: hub.adapters["chat"].sent)
        assert hub.adapters["chat"].sent[0].message.id == message.id


async def test_a_delivery_that_fails_unexpectedly_counts_its_attempts_and_ends(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        message = await queue_reply(hub)  # may be sent at once; the next one meets the bug
        await eventually(lambda: hub.adapters["chat"].sent)

        async def unreadable(conversation_id: str) -> None:
            raise ValueError("'poll' is not a valid MessageKind")

        hub.store.tickets.get_conversation = unreadable  # type: ignore[method-assign,assignment]
        second = await queue_reply(hub, "Second reply", thread="chat-2")

        async def failed() -> bool:
            return (await delivery_of(hub, second.id))[0] is DeliveryStatus.FAILED

        await eventually(failed)
        status, attempts, error = await delivery_of(hub, second.id)
        assert attempts == 4 and "ValueError" in error  # not retried for ever, and the reason is kept
        assert [o.message.id for o in hub.adapters["chat"].sent] == [message.id]


async def test_shutdown_with_a_failing_stage_still_stops_the_rest_and_closes_the_store(tmp_path: Path) -> None:
    hub = Hub(make_config(tmp_path))
    await hub.start()
    stopped: list[str] = []

    async def drain_fails(timeout: float) -> None:
        raise RuntimeError("plugin bookkeeping broke")

    async def adapter_stop() -> None:
        stopped.append("chat")

    hub.pipeline.drain = drain_fails  # type: ignore[method-assign]
    hub.adapters["chat"].stop = adapter_stop  # type: ignore[method-assign]
    await hub.stop()

    assert stopped == ["chat"]
    with pytest.raises(StoreUnavailable):
        await hub.store.ping()  # closed


async def test_a_slow_queue_never_takes_the_slots_of_customers_replies(tmp_path: Path) -> None:
    """Webhook attempts run in the outbox, capped per queue: with every webhook receiver hanging,
    a reply to a customer still goes out at once."""
    hang = asyncio.Event()
    started: list[int] = []

    class HangingQueue:
        name = "hanging"
        max_in_flight = 1

        async def claim(self, owner: str, *, now: object, lease: object, limit: int) -> list[object]:
            async def attempt() -> None:
                started.append(1)
                await hang.wait()

            return [attempt for _ in range(limit)]  # always more due

        async def release(self, owner: str) -> int:
            return 0

    config = make_config(tmp_path, {"outbox": {"concurrency": 2}})
    hub = Hub(config)
    hub.outbox.queues.append(HangingQueue())  # type: ignore[arg-type]
    await hub.start()
    try:
        await eventually(lambda: started)
        message = await queue_reply(hub)
        await eventually(lambda: hub.adapters["chat"].sent)
        assert (await delivery_of(hub, message.id))[0] is DeliveryStatus.SENT
        assert len(started) == 1  # the cap held: one hanging attempt, never two
    finally:
        hang.set()
        await hub.stop()
