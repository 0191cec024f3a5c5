"""The Store contract for status questions (both backends): asking where a ticket stands
is kept in the thread's ticket without changing its status, and never opens a live ticket."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from conversation.model import ConversationQuery, Status, utcnow
from conversation.routing import Route
from conversation.store import Store
from tests.store_contract.common import POLICY, inbound

ANSWERED = replace(POLICY, status_questions=True)  # the progress plugin is on


async def test_asking_on_a_resolved_ticket_keeps_it_resolved(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=ANSWERED)
    await store.tickets.update_conversation(first.conversation.id, {"status": "resolved"}, now=utcnow())

    asked = await store.tickets.record_inbound(inbound("m2", text="查询工单 1000"), now=utcnow(), policy=ANSWERED)

    assert asked.route is Route.QUESTION and asked.conversation.id == first.conversation.id
    assert asked.conversation.status is Status.RESOLVED
    thread = await store.tickets.list_messages(first.conversation.id)
    assert [m.text for m in thread] == ["my order never arrived", "查询工单 1000"]  # no "reopened" event


async def test_asking_on_a_pending_ticket_keeps_it_waiting_for_the_customer(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=ANSWERED)
    await store.tickets.update_conversation(first.conversation.id, {"status": "pending"}, now=utcnow())

    asked = await store.tickets.record_inbound(inbound("m2", text="where is my ticket?"), now=utcnow(), policy=ANSWERED)

    assert asked.route is Route.QUESTION and asked.conversation.status is Status.PENDING


async def test_a_question_on_a_new_thread_is_kept_in_a_ticket_resolved_from_the_start(store: Store) -> None:
    asked = await store.tickets.record_inbound(
        inbound("m1", thread="mail-9", text="Status of #1042"), now=utcnow(), policy=ANSWERED
    )

    assert asked.route is Route.QUESTION_NEW
    assert asked.conversation.status is Status.RESOLVED and asked.conversation.resolved_at is not None
    stored = await store.tickets.get_conversation(asked.conversation.id)
    assert stored is not None and stored.status is Status.RESOLVED

    # Writing more there is an ordinary message: it reopens within the window.
    later = await store.tickets.record_inbound(
        inbound("m2", thread="mail-9", text="my refund never came"),
        now=utcnow() + timedelta(minutes=1),
        policy=ANSWERED,
    )
    assert later.route is Route.REOPEN and later.conversation.status is Status.OPEN


async def test_without_a_plugin_that_answers_a_question_is_an_ordinary_message(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"status": "resolved"}, now=utcnow())

    asked = await store.tickets.record_inbound(inbound("m2", text="工单进度"), now=utcnow(), policy=POLICY)

    assert asked.route is Route.REOPEN and asked.conversation.status is Status.OPEN


async def test_a_message_that_says_more_than_the_question_reopens(store: Store) -> None:
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=ANSWERED)
    await store.tickets.update_conversation(first.conversation.id, {"status": "resolved"}, now=utcnow())

    more = await store.tickets.record_inbound(
        inbound("m2", text="where is my ticket? the refund is wrong again"), now=utcnow(), policy=ANSWERED
    )

    assert more.route is Route.REOPEN and more.conversation.status is Status.OPEN


async def test_a_ticket_that_only_keeps_a_question_is_left_out_of_the_agents_views_until_written_to(
    store: Store,
) -> None:
    real = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=ANSWERED)
    await store.tickets.update_conversation(real.conversation.id, {"status": "resolved"}, now=utcnow())
    asked = await store.tickets.record_inbound(
        inbound("m2", thread="mail-9", text="Status of #1000"), now=utcnow(), policy=ANSWERED
    )
    assert asked.route is Route.QUESTION_NEW

    async def listed(**filters: object) -> list[str]:
        query = ConversationQuery(hide_questions=True, **filters)  # type: ignore[arg-type]
        items, total = await store.inbox.list_conversations(query)
        assert total == len(items)
        return [c.id for c in items]

    assert await listed(status=Status.RESOLVED) == [real.conversation.id]  # the 已解决 view
    assert await listed(contact_id=real.contact.id) == [real.conversation.id]  # the contact card
    counts = await store.inbox.count_views("agent-1")
    assert counts["resolved"] == 1 and counts["all"] == 1
    everything, _ = await store.inbox.list_conversations(ConversationQuery(contact_id=real.contact.id))
    assert {c.id for c in everything} == {real.conversation.id, asked.conversation.id}  # kept, not lost
    thread = await store.tickets.list_messages(asked.conversation.id)
    assert [m.text for m in thread] == ["Status of #1000"]

    # The customer writes more there: a ticket like any other.
    later = await store.tickets.record_inbound(
        inbound("m3", thread="mail-9", text="my refund never came"), now=utcnow(), policy=ANSWERED
    )
    assert later.route is Route.REOPEN
    assert set(await listed()) == {real.conversation.id, asked.conversation.id}
    assert (await store.inbox.count_views("agent-1"))["open"] == 1


async def test_automatic_mail_is_kept_in_the_threads_ticket_whatever_its_status_and_changes_nothing(
    store: Store,
) -> None:
    """A vacation reply to the "resolved" notice reopened the ticket (a trial: three rounds)."""
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    ticket = first.conversation.id
    window = POLICY.reopen_window
    for n, (status, later) in enumerate(
        [("resolved", timedelta(0)), ("resolved", window * 2), ("pending", timedelta(0)), ("snoozed", timedelta(0))]
    ):
        changes: dict[str, object] = {"status": status}
        if status == "snoozed":
            changes["snoozed_until"] = utcnow() + timedelta(days=1)
        await store.tickets.update_conversation(ticket, changes, now=utcnow())
        away = await store.tickets.record_inbound(
            inbound(f"auto-{n}", text="I am out of office", automatic=True, auto_reply=True),
            now=utcnow() + later,
            policy=POLICY,
        )
        assert away.route is Route.AUTOMATIC and away.conversation.id == ticket
        assert away.conversation.status.value == status
    open_now = await store.tickets.record_inbound(
        inbound("m2", text="back: still no parcel"), now=utcnow(), policy=POLICY
    )
    assert open_now.conversation.status is Status.OPEN  # a person writing wakes it as before


async def test_a_persons_reply_through_a_list_is_automatic_for_bots_yet_wakes_the_ticket(store: Store) -> None:
    """A review: list mail (List-Id, a rewritten From) is `automatic` so no bot answers it, but
    it is a person's reply; only a machine's answer (`auto_reply`) leaves the status alone."""
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(first.conversation.id, {"status": "pending"}, now=utcnow())
    listed = await store.tickets.record_inbound(
        inbound("m2", text="the order number is 5531", automatic=True), now=utcnow(), policy=POLICY
    )
    assert listed.route is Route.APPEND and listed.conversation.status is Status.OPEN
