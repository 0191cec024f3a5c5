"""The Store contract for the inbox: filters, unread markers, merges, sessions, tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conversation.inbound import Sender
from conversation.model import (
    Agent,
    ApiToken,
    CannedResponse,
    ConversationQuery,
    Priority,
    Role,
    Session,
    Status,
    new_id,
    utcnow,
)
from conversation.store import AlreadyExists, NotFound, Store
from tests.test_store_contract import POLICY, inbound


async def three_tickets(store: Store) -> list[str]:
    ids = []
    for i, (channel, text) in enumerate([("email", "refund please"), ("telegram", "登录失败"), ("email", "hello")]):
        record = await store.record_inbound(
            inbound(f"m{i}", thread=f"t{i}", text=text, channel=channel),
            now=utcnow() + timedelta(seconds=i),
            policy=POLICY,
        )
        ids.append(record.conversation.id)
    return ids


@pytest.fixture(params=["planner", "newest-first"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SQLite store walks tickets newest first when filters are common: test both ways."""
    if request.param == "newest-first":
        import conversation.sqlite_store

        monkeypatch.setattr(conversation.sqlite_store, "COMMON", 1)
    return str(request.param)


async def test_the_inbox_filters_pages_and_counts(store: Store, walk: str) -> None:
    first, second, third = await three_tickets(store)
    await store.update_conversation(
        first,
        {"assignee_id": "ag1", "priority": "high", "tags": ["vip"], "category": "refund", "team": "billing"},
        now=utcnow(),
    )
    await store.update_conversation(second, {"status": "pending"}, now=utcnow())

    async def ids(**kw: object) -> tuple[list[str], int]:
        items, total = await store.list_conversations(ConversationQuery(**kw))  # type: ignore[arg-type]
        return [c.id for c in items], total

    assert await ids() == ([third, second, first], 3)  # newest activity first
    assert await ids(status=Status.OPEN) == ([third, first], 2)
    assert await ids(channel="email") == ([third, first], 2)
    assert await ids(assignee_id="ag1") == ([first], 1)
    assert await ids(assignee_id="") == ([third, second], 2)
    assert await ids(team="billing", priority=Priority.HIGH, category="refund", tag="VIP") == ([first], 1)
    assert await ids(search="refund") == ([first], 1)
    assert await ids(search="登录") == ([second], 1)
    assert await ids(limit=2) == ([third, second], 3)
    assert await ids(limit=2, offset=2) == ([first], 3)


async def test_unread_markers_follow_the_customers_last_message(store: Store) -> None:
    record = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    conv = record.conversation
    assert conv.last_inbound_at == record.message.created_at
    assert await store.read_markers("ag1", [conv.id]) == {}
    seen = utcnow()
    await store.mark_read("ag1", conv.id, seen)
    await store.mark_read("ag1", conv.id, seen - timedelta(minutes=1))  # an older mark never moves it back
    assert await store.read_markers("ag1", [conv.id, "other"]) == {conv.id: seen}
    later = await store.record_inbound(inbound("m2"), now=seen + timedelta(seconds=5), policy=POLICY)
    assert later.conversation.last_inbound_at is not None and later.conversation.last_inbound_at > seen


async def test_merging_conversations_moves_every_message_and_closes_the_source(store: Store) -> None:
    first, second, _ = await three_tickets(store)
    merged = await store.merge_conversations(second, first, now=utcnow())
    assert merged.id == first
    assert [m.text for m in await store.list_messages(first)] == ["refund please", "登录失败"]
    assert await store.list_messages(second) == []
    source = await store.get_conversation(second)
    assert source is not None and source.status is Status.CLOSED and source.merged_into == first
    assert [c.id for c in (await store.list_conversations(ConversationQuery()))[0]].count(second) == 0
    with pytest.raises(ValueError):
        await store.merge_conversations(second, first, now=utcnow())
    with pytest.raises(NotFound):
        await store.merge_conversations("nope", first, now=utcnow())


async def test_a_message_moves_to_another_conversation(store: Store) -> None:
    first, second, _ = await three_tickets(store)
    [message] = await store.list_messages(second)
    moved = await store.move_message(message.id, first)
    assert moved.conversation_id == first
    assert [m.id for m in await store.list_messages(first)][-1] == message.id
    with pytest.raises(NotFound):
        await store.move_message("nope", first)
    with pytest.raises(NotFound):
        await store.move_message(message.id, "nope")


async def test_merging_contacts_keeps_every_identity_and_conversation(store: Store) -> None:
    a = await store.record_inbound(
        inbound("m1", sender=Sender(address="tg-1", display_name="Li")), now=utcnow(), policy=POLICY
    )
    b = await store.record_inbound(
        inbound(
            "m2", thread="mail-1", channel="email", sender=Sender(address="li@example.com", email="li@example.com")
        ),
        now=utcnow(),
        policy=POLICY,
    )
    merged = await store.merge_contacts(b.contact.id, a.contact.id)
    assert sorted(i.address for i in merged.identities) == ["li@example.com", "tg-1"]
    assert merged.email == "li@example.com"
    moved = await store.get_conversation(b.conversation.id)
    assert moved is not None and moved.contact_id == a.contact.id
    items, _ = await store.list_conversations(ConversationQuery(contact_id=a.contact.id))
    assert {c.id for c in items} == {a.conversation.id, b.conversation.id}
    source = await store.get_contact(b.contact.id)
    assert source is not None and source.merged_into == a.contact.id
    again = await store.record_inbound(
        inbound("m3", thread="mail-1", channel="email", sender=Sender(address="li@example.com")),
        now=utcnow(),
        policy=POLICY,
    )
    assert again.contact.id == a.contact.id  # the identity now belongs to the merged contact


async def test_a_verified_email_joins_the_contact_known_by_it(store: Store) -> None:
    known = await store.record_inbound(
        inbound(
            "m1", channel="email", sender=Sender(address="wei@example.com", email="wei@example.com", verified=True)
        ),
        now=utcnow(),
        policy=POLICY,
    )
    verified = await store.record_inbound(
        inbound("m2", channel="webchat", sender=Sender(address="user:77", email="Wei@Example.com", verified=True)),
        now=utcnow(),
        policy=POLICY,
    )
    unverified = await store.record_inbound(
        inbound("m3", channel="webchat", sender=Sender(address="visitor-9", email="wei@example.com")),
        now=utcnow(),
        policy=POLICY,
    )
    assert verified.contact.id == known.contact.id
    assert unverified.contact.id != known.contact.id  # anyone can type an address


async def test_messages_after_a_given_one(store: Store) -> None:
    ids = [(await store.record_inbound(inbound(f"m{i}"), now=utcnow(), policy=POLICY)).message.id for i in range(3)]
    conv_id = (await store.get_message(ids[0])).conversation_id  # type: ignore[union-attr]
    assert [m.id for m in await store.list_messages(conv_id, after=ids[0])] == ids[1:]
    assert await store.list_messages(conv_id, after=ids[2]) == []


async def test_agents_sessions_tokens_and_canned_responses(store: Store) -> None:
    agent = await store.add_agent(Agent(id=new_id(), email="a@example.com", role=Role.AGENT, password_hash="h"))
    updated = await store.update_agent(agent.id, {"role": Role.ADMIN, "name": "Ana", "active": False})
    assert (updated.role, updated.name, updated.active) == (Role.ADMIN, "Ana", False)
    assert [a.id for a in await store.list_agents()] == [agent.id]
    assert await store.get_agent(agent.id) == updated
    with pytest.raises(ValueError):
        await store.update_agent(agent.id, {"email": "x@example.com"})
    with pytest.raises(NotFound):
        await store.update_agent("nope", {"name": "x"})

    session = Session(token_hash="th", agent_id=agent.id, csrf_token="c", expires_at=utcnow() + timedelta(hours=1))
    await store.add_session(session)
    assert await store.get_session("th") == session
    await store.delete_session("th")
    assert await store.get_session("th") is None
    other = await store.add_agent(Agent(id=new_id(), email="b@example.com", role=Role.AGENT, password_hash="h"))
    for hash_, owner in (("s1", agent.id), ("s2", agent.id), ("s3", other.id)):
        await store.add_session(Session(hash_, owner, "c", expires_at=utcnow() + timedelta(hours=1)))
    assert await store.delete_agent_sessions(agent.id) == 2  # everywhere this agent is signed in
    assert [await store.get_session(h) is None for h in ("s1", "s2", "s3")] == [True, True, False]

    token = await store.add_api_token(ApiToken(id=new_id(), agent_id=agent.id, name="ci", token_hash="hash1"))
    assert await store.get_api_token("hash1") == token
    revoked = await store.revoke_api_token(token.id, now=utcnow())
    assert revoked.revoked_at is not None and (await store.list_api_tokens())[0].revoked_at == revoked.revoked_at
    with pytest.raises(NotFound):
        await store.revoke_api_token("nope", now=utcnow())

    canned = await store.add_canned(CannedResponse(id=new_id(), shortcut="refund", title="Refund", text="Done!"))
    with pytest.raises(AlreadyExists):
        await store.add_canned(CannedResponse(id=new_id(), shortcut="refund", title="Again", text="x"))
    assert await store.list_canned() == [canned]
    await store.delete_canned(canned.id)
    assert await store.list_canned() == []
    with pytest.raises(NotFound):
        await store.delete_canned(canned.id)


async def test_contact_details_can_be_corrected(store: Store) -> None:
    record = await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    contact = await store.update_contact(record.contact.id, email="fang@example.com", name="Wang Fang")
    assert (contact.email, contact.name) == ("fang@example.com", "Wang Fang")
    with pytest.raises(NotFound):
        await store.update_contact("nope", name="x")


async def test_contact_labels_fall_back_from_name_to_email_to_identity(store: Store) -> None:
    named = await store.record_inbound(
        inbound("m1", sender=Sender("u1", display_name="Li")), now=utcnow(), policy=POLICY
    )
    mailed = await store.record_inbound(
        inbound("m2", thread="t2", sender=Sender("u2", email="z@example.com")), now=utcnow(), policy=POLICY
    )
    bare = await store.record_inbound(inbound("m3", thread="t3", sender=Sender("u3")), now=utcnow(), policy=POLICY)
    labels = await store.contact_labels([named.contact.id, mailed.contact.id, bare.contact.id])
    assert labels == {named.contact.id: "Li", mailed.contact.id: "z@example.com", bare.contact.id: "u3"}
    assert await store.contact_labels([]) == {}


async def test_view_counts_leave_merged_tickets_out(store: Store) -> None:
    first, second, third = await three_tickets(store)
    await store.update_conversation(first, {"assignee_id": "ag1"}, now=utcnow())
    await store.update_conversation(third, {"status": "pending"}, now=utcnow())
    await store.merge_conversations(second, first, now=utcnow())
    assert await store.count_views("ag1") == {
        "open": 1,
        "pending": 1,
        "snoozed": 0,
        "resolved": 0,
        "closed": 0,
        "mine": 1,
        "unassigned": 0,
        "all": 2,
    }


async def test_a_hint_routes_to_the_named_ticket_and_participants_accumulate(store: Store) -> None:
    chat = await store.record_inbound(inbound("w1", channel="webchat", thread="v1"), now=utcnow(), policy=POLICY)
    mail = await store.record_inbound(
        inbound(
            "<a@mail>",
            channel="email",
            thread="<a@mail>",
            conversation_hint=chat.conversation.id,
            participants=("cc@example.com", "cc@example.com"),
        ),
        now=utcnow(),
        policy=POLICY,
    )
    assert mail.conversation.id == chat.conversation.id and mail.route.value == "append"  # type: ignore[union-attr]
    assert mail.conversation.participants == ["cc@example.com"]
    again = await store.record_inbound(
        inbound(
            "<b@mail>",
            channel="email",
            thread="<b@mail>",
            conversation_hint=chat.conversation.id,
            participants=("boss@example.com", "cc@example.com"),
        ),
        now=utcnow(),
        policy=POLICY,
    )
    assert again.conversation.participants == ["cc@example.com", "boss@example.com"]
    assert (await store.find_inbound("email", "<a@mail>")).id == mail.message.id  # type: ignore[union-attr]
    assert await store.find_inbound("email", "<nope@mail>") is None

    await store.update_conversation(chat.conversation.id, {"status": "closed"}, now=utcnow())
    follow = await store.record_inbound(
        inbound("<c@mail>", channel="email", thread="<c@mail>", conversation_hint=chat.conversation.id),
        now=utcnow(),
        policy=POLICY,
    )
    assert follow.conversation.id != chat.conversation.id and follow.conversation.previous_id == chat.conversation.id
    assert (follow.conversation.channel, follow.conversation.thread_key) == ("email", "<c@mail>")


async def test_a_late_bounce_and_channel_state(store: Store) -> None:
    from tests.test_store_contract import outbound

    conv = (await store.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)).conversation
    sent = await store.add_message(outbound(conv.id))
    await store.claim_deliveries("hub", now=utcnow(), lease=timedelta(seconds=30), limit=5)
    await store.finish_delivery(sent.id, "hub", sent_at=utcnow())
    bounced = await store.mark_undelivered(sent.id, "bounced: 550 no such user")
    assert bounced is not None and bounced.delivery is not None
    assert (bounced.delivery.status.value, bounced.delivery.error) == ("failed", "bounced: 550 no such user")
    assert await store.get_value("imap:x") is None
    await store.set_value("imap:x", {"uidvalidity": 7, "last_uid": 12})
    assert await store.get_value("imap:x") == {"uidvalidity": 7, "last_uid": 12}


async def test_edits_and_deletions_change_the_message_and_keep_what_it_said(store: Store) -> None:
    record = await store.record_inbound(inbound("m1", text="my order 55"), now=utcnow(), policy=POLICY)
    edited = await store.edit_inbound("telegram", "m1", text="my order 56", deleted=False, at=utcnow())
    assert edited is not None and edited.id == record.message.id and edited.text == "my order 56"
    assert edited.raw is not None and edited.raw["edits"][0]["previous_text"] == "my order 55"
    gone = await store.edit_inbound("telegram", "m1", text=None, deleted=True, at=utcnow())
    assert gone is not None and gone.text == "my order 56" and "deleted_at" in gone.raw  # type: ignore[operator]
    assert await store.edit_inbound("telegram", "never", text="x", deleted=False, at=utcnow()) is None
    assert len(await store.list_messages(record.conversation.id)) == 1
