"""Callback tasks are raised like an SLA deadline when due: once, by one hub, with a thread
event and a live event that tells the owner's inbox (both store backends)."""

from __future__ import annotations

from datetime import datetime, timedelta

from conversation.callbacks import CallbackStatus
from conversation.calls import CallDirection
from conversation.model import Role, utcnow
from conversation.store import Store
from hub.agents import add_agent
from hub.callbacks_due import raise_due_step
from hub.events import Event, EventBus
from hub.services import Services
from hub.services.hotline import CallbackRequest, CallForm


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def drained(events: object) -> list[Event]:
    queue = events.queue  # type: ignore[attr-defined]
    found = []
    while not queue.empty():
        found.append(queue.get_nowait())
    return found


async def test_a_due_task_is_raised_once_across_hubs(store: Store) -> None:
    await store.desk.create_defaults()
    owner = await add_agent(store, "li.na@example.com", Role.AGENT, "agent password 1", name="Li Na")
    clock = Clock()
    bus = EventBus()
    hub_a = Services.build(store, bus, lambda: None, clock=clock)
    hub_b = Services.build(store, bus, lambda: None, clock=clock)
    logged = await hub_a.hotline.log_call(
        CallForm(
            number="13812345678",
            direction=CallDirection.IN,
            callback=CallbackRequest(clock.now + timedelta(minutes=30), owner_id=owner.id, note="refund"),
        ),
        who="Li Na",
        agent_id=owner.id,
    )
    assert logged.callback is not None
    events = bus.subscribe()

    # Not yet due: nothing happens.
    await raise_due_step(hub_a.hotline, "hub-a", interval=0)
    assert drained(events) == []

    clock.now += timedelta(minutes=31)
    await raise_due_step(hub_a.hotline, "hub-a", interval=0)
    await raise_due_step(hub_b.hotline, "hub-b", interval=0)  # holds no lease: does nothing
    assert await hub_b.hotline.raise_due() == 0  # even without the lease, a raised task is not raised again
    due = [e for e in drained(events) if e.type == "callback.due"]
    assert len(due) == 1
    assert due[0].data == {
        "callback_id": logged.callback.id,
        "owner_id": owner.id,
        "status": "open",
        "number": "+8613812345678",
    }
    assert due[0].conversation_id == logged.conversation.id

    messages = await store.tickets.list_messages(logged.conversation.id)
    raised = [m for m in messages if (m.raw or {}).get("event", {}).get("key") == "event.callback_due"]
    assert len(raised) == 1 and raised[0].raw["event"]["params"]["number"] == "+8613812345678"
    task = await store.callbacks.get_callback(logged.callback.id)
    assert task is not None and task.raised_at == clock.now and task.status is CallbackStatus.OPEN


async def test_a_closed_task_is_never_raised(store: Store) -> None:
    await store.desk.create_defaults()
    clock = Clock()
    services = Services.build(store, EventBus(), lambda: None, clock=clock)
    logged = await services.hotline.log_call(
        CallForm(
            number="+8613812345678",
            direction=CallDirection.OUT,
            callback=CallbackRequest(clock.now + timedelta(minutes=5)),
        ),
        who="Li Na",
        agent_id="",
    )
    assert logged.callback is not None
    await services.hotline.close_callback(logged.callback.id, CallbackStatus.CANCELLED, who="Li Na", by="")
    clock.now += timedelta(hours=1)
    assert await services.hotline.raise_due() == 0
