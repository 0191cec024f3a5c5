"""The Store contract for the outbox (both backends)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

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
    conv = (await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    ids = {(await store.tickets.add_message(outbound(conv.id, f"r{i}"))).id for i in range(6)}

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
