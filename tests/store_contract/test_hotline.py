"""The Store contract for phone calls and callback tasks (both backends)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from conversation.callbacks import Callback, CallbackStatus
from conversation.calls import Call, CallDirection, CallOutcome, CallState, call_after
from conversation.inbound import Sender
from conversation.model import AuthorType, MessageKind, utcnow
from conversation.store import Store, Ticketing
from tests.store_contract.common import inbound


def a_call(call_id: str = "pbx-1") -> Call:
    return Call(
        id=call_id,
        number="+8613812345678",
        direction=CallDirection.IN,
        state=CallState.STARTED,
        started_at=utcnow(),
        conversation_id="conv-1",
        message_id="msg-1",
    )


async def test_a_call_is_stored_once_per_id_and_changes_by_compare_and_set(store: Store) -> None:
    call = a_call()
    assert await store.calls.insert_call(call)
    assert not await store.calls.insert_call(replace(call, number="+8613900000000"))  # a retry writes nothing
    assert await store.calls.get_call("pbx-1") == call
    assert await store.calls.get_call("nope") is None

    ended = call_after(call, CallState.ENDED, duration=95, recording_url="https://pbx.example/r/1", at=utcnow())
    assert ended is not None
    assert await store.calls.replace_call(ended, expected_state=CallState.STARTED)
    # A second hub applying the same report finds the state moved on: it writes nothing.
    assert not await store.calls.replace_call(replace(ended, duration_seconds=1), expected_state=CallState.STARTED)
    stored = await store.calls.get_call("pbx-1")
    assert stored == ended and stored.duration_seconds == 95 and stored.recording_url.endswith("/r/1")
    assert call_after(stored, CallState.MISSED, duration=None, recording_url="", at=utcnow()) is None


async def test_a_missed_call_keeps_its_outcome(store: Store) -> None:
    missed = replace(a_call("pbx-2"), state=CallState.MISSED, outcome=CallOutcome.MISSED)
    assert await store.calls.insert_call(missed)
    assert (await store.calls.get_call("pbx-2")) == missed


def a_task(task_id: str, due_in_minutes: int, owner: str = "agent-1", **kw: object) -> Callback:
    now = utcnow()
    return Callback(
        id=task_id,
        conversation_id="conv-1",
        number="+8613812345678",
        owner_id=owner,
        due_at=now + timedelta(minutes=due_in_minutes),
        created_at=now,
        note="call back about the refund",
        **kw,  # type: ignore[arg-type]
    )


async def test_callback_tasks_are_listed_soonest_first_mine_or_all(store: Store) -> None:
    later, sooner, other = a_task("t1", 60), a_task("t2", 10), a_task("t3", 30, owner="agent-2")
    for task in (later, sooner, other):
        assert await store.callbacks.add_callback(task)
    assert not await store.callbacks.add_callback(replace(later, note="twice"))
    assert [t.id for t in await store.callbacks.list_callbacks()] == ["t2", "t3", "t1"]
    assert [t.id for t in await store.callbacks.list_callbacks(owner_id="agent-1")] == ["t2", "t1"]
    assert await store.callbacks.get_callback("t1") == later


async def test_a_task_is_closed_once(store: Store) -> None:
    await store.callbacks.add_callback(a_task("t1", 60))
    now = utcnow()
    done = await store.callbacks.close_callback("t1", CallbackStatus.DONE, by="agent-1", now=now)
    assert done is not None and done.status is CallbackStatus.DONE and done.closed_at == now
    assert await store.callbacks.close_callback("t1", CallbackStatus.CANCELLED, by="agent-2", now=now) is None
    assert await store.callbacks.close_callback("nope", CallbackStatus.DONE, by="agent-1", now=now) is None
    assert (await store.callbacks.get_callback("t1")) == done
    assert await store.callbacks.list_callbacks() == []
    assert [t.id for t in await store.callbacks.list_callbacks(status=CallbackStatus.DONE)] == ["t1"]


async def test_due_tasks_are_found_until_raised_once(store: Store) -> None:
    for task in (a_task("due", -5), a_task("later", 30), a_task("closed", -10)):
        await store.callbacks.add_callback(task)
    await store.callbacks.close_callback("closed", CallbackStatus.CANCELLED, by="a", now=utcnow())
    now = utcnow()
    assert [t.id for t in await store.callbacks.due_callbacks(now)] == ["due"]
    assert await store.callbacks.mark_raised("due", now)
    assert not await store.callbacks.mark_raised("due", now)  # another hub got there first
    assert await store.callbacks.due_callbacks(now) == []
    raised = await store.callbacks.get_callback("due")
    assert raised is not None and raised.raised_at == now and raised.status is CallbackStatus.OPEN
    assert [t.id for t in await store.callbacks.due_callbacks(now + timedelta(hours=1))] == ["later"]


async def test_a_call_record_opens_the_callers_ticket_as_a_system_event_once(store: Store) -> None:
    """A logged call (`record_only`) opens or joins the caller's ticket like a message, but it
    is the hub's record, never the customer's words; a retry finds it and writes nothing."""
    call = inbound(
        "call:pbx-5",
        thread="+8613812345678",
        text="Phone call (incoming) with +8613812345678",
        channel="phone",
        sender=Sender(address="+8613812345678"),
        record_only=True,
    )
    first = await store.tickets.record_inbound(call, now=utcnow(), policy=Ticketing())
    assert first.message.kind is MessageKind.EVENT and first.message.author_type is AuthorType.SYSTEM
    assert first.message.author_id == first.contact.id == first.conversation.contact_id
    assert [(i.channel, i.address) for i in first.contact.identities] == [("phone", "+8613812345678")]
    again = await store.tickets.record_inbound(call, now=utcnow(), policy=Ticketing())
    assert again.duplicate and again.message.id == first.message.id and again.contact.id == first.contact.id
    stored = await store.tickets.list_messages(first.conversation.id)
    assert [(m.kind, m.author_type) for m in stored] == [(MessageKind.EVENT, AuthorType.SYSTEM)]
    assert await store.inbox.newest_messages([first.conversation.id], 8) == {}  # never a preview of customer text
