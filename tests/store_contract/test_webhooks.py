"""The Store contract for webhook subscriptions and deliveries (both backends): the queue
is claimed by one owner at a time, outcomes are recorded once, the log reads newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conversation.errors import InvalidInput
from conversation.model import new_id, utcnow
from conversation.store import NotFound, Store
from conversation.webhooks import Subscription, WebhookDelivery, WebhookStatus

LEASE = timedelta(seconds=60)


def subscription(**kw: object) -> Subscription:
    values: dict[str, object] = {
        "id": new_id(),
        "url": "https://hooks.example.com/helpline",
        "events": ["ticket.*", "record.*"],
        "secret": "whsec_" + "x" * 30,
        "created_at": utcnow(),
    }
    return Subscription(**{**values, **kw})  # type: ignore[arg-type]


def delivery(subscription_id: str, *, due_in: float = 0, event: str = "ticket.updated") -> WebhookDelivery:
    now = utcnow()
    return WebhookDelivery(
        id=new_id(),
        subscription_id=subscription_id,
        event_id=new_id(),
        event_type=event,
        payload={"type": event, "data": {"ticket": {"number": 1042, "主题": "退款"}}},
        created_at=now,
        next_attempt_at=now + timedelta(seconds=due_in),
    )


async def test_subscriptions_are_saved_replaced_listed_and_deleted_with_their_log(store: Store) -> None:
    sub = subscription(description="CRM", include_private=True)
    await store.webhooks.save_subscription(sub)
    assert await store.webhooks.get_subscription(sub.id) == sub
    changed = Subscription(**{**sub.__dict__, "events": ["message.created"], "active": False})
    await store.webhooks.save_subscription(changed)
    assert await store.webhooks.list_subscriptions() == [changed]
    await store.webhooks.enqueue([delivery(sub.id)])
    assert await store.webhooks.delete_subscription(sub.id)
    assert await store.webhooks.get_subscription(sub.id) is None
    assert await store.webhooks.list_deliveries(sub.id) == []
    assert await store.webhooks.claim("hub-a", now=utcnow(), lease=LEASE, limit=10) == []
    assert not await store.webhooks.delete_subscription(sub.id)


async def test_a_due_delivery_is_claimed_by_one_owner_until_its_lease_expires(store: Store) -> None:
    sub = subscription()
    due, later = delivery(sub.id), delivery(sub.id, due_in=600)
    await store.webhooks.enqueue([due, later])
    now = utcnow()
    claimed = await store.webhooks.claim("hub-a", now=now, lease=LEASE, limit=10)
    assert [d.id for d in claimed] == [due.id]
    assert claimed[0].payload == due.payload
    assert await store.webhooks.claim("hub-b", now=now, lease=LEASE, limit=10) == []
    # hub-a died: after the lease, hub-b takes it, and hub-a's late outcome is not recorded
    taken = await store.webhooks.claim("hub-b", now=now + LEASE + timedelta(seconds=1), lease=LEASE, limit=10)
    assert [d.id for d in taken] == [due.id]
    common = {"next_attempt_at": None, "response_code": 200, "error": "", "now": now}
    assert not await store.webhooks.finish(due.id, "hub-a", status=WebhookStatus.SENT, **common)  # type: ignore[arg-type]
    assert await store.webhooks.finish(due.id, "hub-b", status=WebhookStatus.SENT, **common)  # type: ignore[arg-type]
    assert not await store.webhooks.finish(due.id, "hub-b", status=WebhookStatus.SENT, **common)  # type: ignore[arg-type]
    stored = await store.webhooks.get_delivery(due.id)
    assert stored is not None and stored.status is WebhookStatus.SENT and stored.attempts == 1
    assert stored.response_code == 200 and stored.finished_at == now


async def test_a_retry_waits_for_its_time_and_keeps_the_error_and_code(store: Store) -> None:
    sub = subscription()
    item = delivery(sub.id)
    await store.webhooks.enqueue([item])
    now = utcnow()
    [claimed] = await store.webhooks.claim("hub-a", now=now, lease=LEASE, limit=1)
    retry_at = now + timedelta(minutes=5)
    assert await store.webhooks.finish(
        claimed.id,
        "hub-a",
        status=WebhookStatus.QUEUED,
        next_attempt_at=retry_at,
        response_code=503,
        error="HTTP 503",
        now=now,
    )
    assert await store.webhooks.claim("hub-a", now=now + timedelta(minutes=4), lease=LEASE, limit=1) == []
    [again] = await store.webhooks.claim("hub-a", now=retry_at, lease=LEASE, limit=1)
    assert (again.attempts, again.response_code, again.last_error, again.finished_at) == (1, 503, "HTTP 503", None)


async def test_released_leases_are_claimable_at_once_and_attempts_are_not_counted(store: Store) -> None:
    sub = subscription()
    await store.webhooks.enqueue([delivery(sub.id), delivery(sub.id)])
    now = utcnow()
    assert len(await store.webhooks.claim("hub-a", now=now, lease=LEASE, limit=5)) == 2
    assert await store.webhooks.release("hub-a") == 2
    claimed = await store.webhooks.claim("hub-b", now=now, lease=LEASE, limit=5)
    assert [d.attempts for d in claimed] == [0, 0]


async def test_the_log_is_newest_first_filtered_and_paged(store: Store) -> None:
    sub, other = subscription(), subscription()
    items = [delivery(sub.id) for _ in range(3)]
    for item in items:
        await store.webhooks.enqueue([item])
    await store.webhooks.enqueue([delivery(other.id)])
    now = utcnow()
    [first] = await store.webhooks.claim("hub-a", now=now, lease=LEASE, limit=1)
    await store.webhooks.finish(
        first.id, "hub-a", status=WebhookStatus.FAILED, next_attempt_at=None, response_code=None, error="x", now=now
    )
    log = await store.webhooks.list_deliveries(sub.id)
    assert [d.id for d in log] == [items[2].id, items[1].id, items[0].id]
    failed = await store.webhooks.list_deliveries(sub.id, status=WebhookStatus.FAILED)
    assert [d.id for d in failed] == [first.id]
    assert [d.id for d in await store.webhooks.list_deliveries(sub.id, limit=1, offset=1)] == [items[1].id]


async def test_only_a_failed_delivery_is_sent_again(store: Store) -> None:
    sub = subscription()
    item = delivery(sub.id)
    await store.webhooks.enqueue([item])
    with pytest.raises(InvalidInput):
        await store.webhooks.redeliver(item.id, now=utcnow())
    with pytest.raises(NotFound):
        await store.webhooks.redeliver("nope", now=utcnow())
    now = utcnow()
    await store.webhooks.claim("hub-a", now=now, lease=LEASE, limit=1)
    await store.webhooks.finish(
        item.id, "hub-a", status=WebhookStatus.FAILED, next_attempt_at=None, response_code=500, error="e", now=now
    )
    again = await store.webhooks.redeliver(item.id, now=now)
    assert (again.status, again.attempts, again.finished_at) == (WebhookStatus.QUEUED, 0, None)
    assert [d.id for d in await store.webhooks.claim("hub-a", now=now, lease=LEASE, limit=1)] == [item.id]


async def test_pruning_removes_only_finished_deliveries_older_than_the_limit(store: Store) -> None:
    sub = subscription()
    old_sent, old_failed, recent, waiting = (delivery(sub.id) for _ in range(4))
    await store.webhooks.enqueue([old_sent, old_failed, recent, waiting])
    now = utcnow()
    assert len(await store.webhooks.claim("hub-a", now=now, lease=LEASE, limit=10)) == 4
    long_ago = now - timedelta(days=40)
    for item, status, at in (
        (old_sent, WebhookStatus.SENT, long_ago),
        (old_failed, WebhookStatus.FAILED, long_ago),
        (recent, WebhookStatus.SENT, now),
    ):
        await store.webhooks.finish(
            item.id, "hub-a", status=status, next_attempt_at=None, response_code=None, error="", now=at
        )
    assert await store.webhooks.prune(now - timedelta(days=30)) == 2
    assert {d.id for d in await store.webhooks.list_deliveries(sub.id)} == {recent.id, waiting.id}
