"""The Store contract for the outbox (both backends)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from conversation.errors import InvalidInput
from conversation.model import (
    DeliveryStatus,
    utcnow,
)
from conversation.store import (
    NotFound,
    Store,
)
from tests.helpers import poison_message
from tests.store_contract.common import POLICY, inbound, outbound


async def test_agent_reply_sets_first_response_and_enters_the_outbox(store: Store) -> None:
    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    reply = await store.tickets.add_message(outbound(conv.id))

    stored = await store.tickets.get_conversation(conv.id)
    assert stored is not None and stored.first_response_at == reply.created_at
    assert await store.deliveries.count_queued() == 1
    with pytest.raises(NotFound):
        await store.tickets.add_message(outbound("missing"))


async def test_each_delivery_is_claimed_by_one_owner(store: Store) -> None:
    ids = {(await store.tickets.add_message(outbound(conv_id, "r"))).id for conv_id in await tickets(store, 6)}

    now = utcnow()
    batches = await asyncio.gather(
        *(
            store.deliveries.claim_deliveries(f"hub-{n}", now=now, lease=timedelta(seconds=30), limit=6)
            for n in range(3)
        )
    )
    claimed = [m.id for batch in batches for m in batch]
    assert sorted(claimed) == sorted(ids)  # every one claimed, none twice

    assert await store.deliveries.claim_deliveries("hub-9", now=now, lease=timedelta(seconds=30), limit=6) == []
    after_expiry = now + timedelta(seconds=31)
    assert (
        len(await store.deliveries.claim_deliveries("hub-9", now=after_expiry, lease=timedelta(seconds=30), limit=6))
        == 6
    )


async def tickets(store: Store, count: int) -> list[str]:
    """`count` tickets, each on its own Telegram chat."""
    ids = []
    for i in range(count):
        record = await store.tickets.record_inbound(inbound(f"in-{i}", thread=f"chat-{i}"), now=utcnow(), policy=POLICY)
        ids.append(record.conversation.id)
    return ids


async def claim_ids(store: Store, owner: str = "hub-a", *, now: datetime | None = None) -> list[str]:
    claimed = await store.deliveries.claim_deliveries(owner, now=now or utcnow(), lease=timedelta(seconds=30), limit=10)
    return [m.id for m in claimed]


async def test_replies_of_one_ticket_on_one_channel_are_claimed_one_at_a_time_in_order(store: Store) -> None:
    [conv_id] = await tickets(store, 1)
    greeting, answer, question = [
        (await store.tickets.add_message(outbound(conv_id, text))).id
        for text in ("Hello, Wang Fang", "Your refund was sent today", "Did this answer your question?")
    ]

    assert await claim_ids(store) == [greeting]
    assert await claim_ids(store, "hub-b") == []  # the greeting is in flight: the answer waits
    # Its lease ran out before an attempt was recorded: it is claimed again, still alone.
    assert await claim_ids(store, "hub-b", now=utcnow() + timedelta(seconds=31)) == [greeting]

    assert await store.deliveries.finish_delivery(greeting, "hub-b", sent_at=utcnow())
    assert await claim_ids(store) == [answer]
    assert await store.deliveries.finish_delivery(answer, "hub-a", error="blocked by the user")  # failed for good
    assert await claim_ids(store) == [question]


async def test_a_reply_waiting_to_be_retried_does_not_hold_back_the_ones_after_it(store: Store) -> None:
    [conv_id] = await tickets(store, 1)
    first, second, third = [(await store.tickets.add_message(outbound(conv_id, f"r{i}"))).id for i in range(3)]
    assert await claim_ids(store) == [first]
    retry_at = utcnow() + timedelta(hours=1)
    assert await store.deliveries.finish_delivery(first, "hub-a", error="502 Bad Gateway", retry_at=retry_at)

    assert await claim_ids(store) == [second]  # the first is attempted and waits an hour: the next goes on
    assert await store.deliveries.finish_delivery(second, "hub-a", sent_at=utcnow())
    # When its retry is due, the first goes before the ones still waiting.
    assert await claim_ids(store, now=retry_at) == [first]
    assert await claim_ids(store, now=retry_at) == []
    assert await store.deliveries.finish_delivery(first, "hub-a", sent_at=retry_at)
    assert await claim_ids(store, now=retry_at) == [third]


async def test_replies_of_other_tickets_and_channels_are_claimed_together(store: Store) -> None:
    convs = await tickets(store, 3)
    firsts = [(await store.tickets.add_message(outbound(conv_id, "first"))).id for conv_id in convs]
    for conv_id in convs:
        await store.tickets.add_message(outbound(conv_id, "second"))
    by_email = await store.tickets.add_message(replace(outbound(convs[0], "a copy by email"), channel="email"))

    assert sorted(await claim_ids(store)) == sorted([*firsts, by_email.id])


async def test_racing_claimers_never_take_two_replies_of_one_ticket(store: Store) -> None:
    convs = await tickets(store, 6)
    rounds = [[(await store.tickets.add_message(outbound(c, f"reply {n}"))).id for c in convs] for n in range(3)]

    for expected in rounds:
        now = utcnow()
        batches = await asyncio.gather(*(claim_ids(store, f"hub-{n}", now=now) for n in range(4)))
        claimed = [message_id for batch in batches for message_id in batch]
        assert sorted(claimed) == sorted(expected)  # the next of every ticket, each once
        for batch, owner in zip(batches, [f"hub-{n}" for n in range(4)], strict=True):
            for message_id in batch:
                assert await store.deliveries.finish_delivery(message_id, owner, sent_at=now)


async def test_an_unreadable_delivery_is_quarantined_and_its_batch_still_claimed(store: Store) -> None:
    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    poison = await store.tickets.add_message(outbound(conv.id, "from a newer version"))
    good = await store.tickets.add_message(outbound(conv.id, "a normal reply"))
    await poison_message(store, poison.id)

    claimed = await store.deliveries.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(seconds=30), limit=5)

    assert [m.id for m in claimed] == [good.id]
    assert await store.deliveries.count_queued() == 1  # the poisoned one is failed, not retried forever
    later = await store.deliveries.claim_deliveries(
        "hub-b", now=utcnow() + timedelta(hours=1), lease=timedelta(seconds=30), limit=5
    )
    assert [m.id for m in later] == [good.id]


async def test_finishing_a_delivery_needs_the_lease(store: Store) -> None:
    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    msg = await store.tickets.add_message(outbound(conv.id))
    [claimed] = await store.deliveries.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(seconds=30), limit=5)
    assert claimed.delivery is not None and claimed.delivery.lease_owner == "hub-a"

    assert not await store.deliveries.finish_delivery(msg.id, "hub-b", sent_at=utcnow())
    retry_at = utcnow() + timedelta(seconds=10)
    assert await store.deliveries.finish_delivery(msg.id, "hub-a", error="429 slow down", retry_at=retry_at)
    waiting = await store.tickets.get_message(msg.id)
    assert waiting is not None and waiting.delivery is not None
    assert (waiting.delivery.status, waiting.delivery.attempts, waiting.delivery.next_attempt_at) == (
        DeliveryStatus.QUEUED,
        1,
        retry_at,
    )
    assert await store.deliveries.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(seconds=30), limit=5) == []

    [again] = await store.deliveries.claim_deliveries("hub-a", now=retry_at, lease=timedelta(seconds=30), limit=5)
    sent_at = utcnow()
    assert await store.deliveries.finish_delivery(again.id, "hub-a", sent_at=sent_at, external_id="tg-77")
    sent = await store.tickets.get_message(msg.id)
    assert sent is not None and sent.delivery is not None
    assert (sent.delivery.status, sent.delivery.attempts, sent.delivery.sent_at, sent.external_id) == (
        DeliveryStatus.SENT,
        2,
        sent_at,
        "tg-77",
    )
    assert await store.deliveries.count_queued() == 0


async def test_a_failed_delivery_keeps_its_error_and_can_be_requeued(store: Store) -> None:
    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    msg = await store.tickets.add_message(outbound(conv.id))
    await store.deliveries.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(seconds=30), limit=5)
    assert await store.deliveries.finish_delivery(msg.id, "hub-a", error="403: bot was blocked by the user")

    failed = await store.tickets.get_message(msg.id)
    assert failed is not None and failed.delivery is not None
    assert (failed.delivery.status, failed.delivery.error) == (
        DeliveryStatus.FAILED,
        "403: bot was blocked by the user",
    )

    requeued = await store.deliveries.requeue_delivery(msg.id, now=utcnow())
    assert requeued.delivery is not None and requeued.delivery.status is DeliveryStatus.QUEUED
    with pytest.raises(InvalidInput):
        await store.deliveries.requeue_delivery(msg.id, now=utcnow())
    with pytest.raises(NotFound):
        await store.deliveries.requeue_delivery("missing", now=utcnow())


async def test_released_deliveries_are_claimable_at_once(store: Store) -> None:
    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    await store.tickets.add_message(outbound(conv.id))
    await store.deliveries.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(minutes=5), limit=5)

    assert await store.deliveries.release_deliveries("hub-a") == 1
    [claimed] = await store.deliveries.claim_deliveries("hub-b", now=utcnow(), lease=timedelta(minutes=5), limit=5)
    assert claimed.delivery is not None and claimed.delivery.attempts == 0


async def test_delivered_parts_are_kept_on_the_delivery_for_the_lease_holder(store: Store) -> None:
    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    msg = await store.tickets.add_message(outbound(conv.id))
    [claimed] = await store.deliveries.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(minutes=5), limit=5)
    assert claimed.delivery is not None and claimed.delivery.parts_sent == 0
    assert await store.deliveries.record_delivery_parts(msg.id, "hub-a", 2)
    assert not await store.deliveries.record_delivery_parts(msg.id, "hub-b", 3)  # not its lease: nothing changes
    assert await store.deliveries.record_delivery_parts(msg.id, "hub-a", 1)  # never goes back
    assert await store.deliveries.finish_delivery(msg.id, "hub-a", error="timeout", retry_at=utcnow())
    [again] = await store.deliveries.claim_deliveries("hub-b", now=utcnow(), lease=timedelta(minutes=5), limit=5)
    assert again.delivery is not None and again.delivery.parts_sent == 2


async def test_a_late_bounce_and_channel_state(store: Store) -> None:

    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    sent = await store.tickets.add_message(outbound(conv.id))
    await store.deliveries.claim_deliveries("hub", now=utcnow(), lease=timedelta(seconds=30), limit=5)
    await store.deliveries.finish_delivery(sent.id, "hub", sent_at=utcnow())
    bounced = await store.deliveries.mark_undelivered(sent.id, "bounced: 550 no such user")
    assert bounced is not None and bounced.delivery is not None
    assert (bounced.delivery.status.value, bounced.delivery.error) == ("failed", "bounced: 550 no such user")
    assert await store.coordination.get_value("imap:x") is None
    await store.coordination.set_value("imap:x", {"uidvalidity": 7, "last_uid": 12})
    assert await store.coordination.get_value("imap:x") == {"uidvalidity": 7, "last_uid": 12}
