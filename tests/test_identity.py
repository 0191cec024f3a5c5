"""Who a contact is and who receives and sees what: verified vs claimed emails (both
arrival orders, both backends), replies to the ticket's own customer after a contact
merge, and a customer's history after tickets of two customers were merged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conversation.identity import (
    ContactEmail,
    email_after_message,
    joining_email,
    merged_email,
    reply_address,
    seen_by_customer,
)
from conversation.inbound import Sender
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, utcnow
from conversation.sqlite_store import SQLiteStore
from conversation.store import Store
from tests.helpers import customer_message, eventually, make_config, running_hub
from tests.test_store_contract import POLICY, inbound

LI = "li@example.com"


def slack_user(user: str = "T1:U1", email: str = LI) -> Sender:
    return Sender(address=user, display_name="Li (Slack)", email=email, verified=True)  # users.info


def webhook_claim(sender_id: str = "w-1", email: str = LI) -> Sender:
    return Sender(address=sender_id, display_name="someone", email=email)  # a field anyone can fill


# -- the rules, as pure functions -----------------------------------------------------------
def test_a_claim_never_becomes_or_replaces_a_trusted_email() -> None:
    nothing, claimed, trusted = ContactEmail(), ContactEmail("a@x.org", False), ContactEmail("a@x.org", True)
    assert email_after_message(nothing, Sender("s", email="b@x.org")) == ContactEmail("b@x.org", False)
    assert email_after_message(claimed, Sender("s", email="b@x.org")) == claimed  # first claim stays
    assert email_after_message(trusted, Sender("s", email="b@x.org")) == trusted
    assert email_after_message(claimed, Sender("s", email="b@x.org", verified=True)) == ContactEmail("b@x.org", True)
    assert email_after_message(trusted, Sender("s", email="b@x.org", verified=True)) == trusted
    assert email_after_message(claimed, Sender("s")) == claimed
    assert joining_email(Sender("s", email="a@x.org")) == ""
    assert joining_email(Sender("s", email=" a@x.org ", verified=True)) == "a@x.org"
    assert joining_email(Sender("s", verified=True)) == ""
    assert merged_email(claimed, ContactEmail("b@x.org", True)) == ContactEmail("b@x.org", True)
    assert merged_email(trusted, ContactEmail("b@x.org", True)) == trusted
    assert merged_email(nothing, claimed) == claimed


def reply(conversation_id: str, **kw: object) -> Message:
    return Message(
        id="m",
        conversation_id=conversation_id,
        channel=str(kw.pop("channel", "webchat")),
        direction=Direction.OUTBOUND,
        kind=MessageKind(kw.pop("kind", "message")),
        author_type=AuthorType.AGENT,
        **kw,  # type: ignore[arg-type]
    )


def test_replies_go_to_the_recorded_customer_and_customers_see_only_their_own() -> None:
    ticket = Conversation(id="c", number=1, channel="webchat", thread_key="v_a", contact_id="k", customer_address="v_a")
    assert reply_address(reply("c"), ticket) == "v_a"
    assert reply_address(reply("c", customer_address="v_b"), ticket) == "v_b"
    assert reply_address(reply("c", channel="email"), ticket) == ""  # the email channel uses the contact's email
    assert seen_by_customer(reply("c", customer_address="v_a"), "v_a")
    assert not seen_by_customer(reply("c", customer_address="v_b"), "v_a")
    assert not seen_by_customer(reply("c", customer_address="v_a", kind="note"), "v_a")
    assert seen_by_customer(reply("c"), "v_a")  # stored before recipients were recorded: as before


# -- both backends --------------------------------------------------------------------------
async def record(store: Store, external_id: str, channel: str, sender: Sender) -> str:
    result = await store.record_inbound(
        inbound(external_id, thread=f"{channel}:{sender.address}", channel=channel, sender=sender),
        now=utcnow(),
        policy=POLICY,
    )
    return result.contact.id


async def test_a_verified_identity_never_joins_a_contact_whose_email_was_only_claimed(store: Store) -> None:
    claimer = await record(store, "m1", "webhook", webhook_claim())
    slack = await record(store, "m2", "slack", slack_user())
    site_user = await record(store, "m3", "webchat", Sender("user:shop:li", email=LI, verified=True))

    assert slack != claimer  # the claim did not pull Li's Slack account to the claimer
    assert site_user == slack  # verified joins verified
    claimed = await store.get_contact(claimer)
    trusted = await store.get_contact(slack)
    assert claimed is not None and (claimed.email, claimed.email_verified) == (LI, False)
    assert trusted is not None and (trusted.email, trusted.email_verified) == (LI, True)
    assert sorted(i.channel for i in trusted.identities) == ["slack", "webchat"]


async def test_claims_made_after_a_verified_identity_never_join_it(store: Store) -> None:
    slack = await record(store, "m1", "slack", slack_user())
    claimer = await record(store, "m2", "webhook", webhook_claim())
    visitor = await record(store, "m3", "webchat", Sender("v_anon"))
    await store.update_contact(visitor, email=LI)  # an anonymous visitor typed Li's address
    site_user = await record(store, "m4", "webchat", Sender("user:shop:li", email=LI, verified=True))

    assert claimer != slack and visitor != slack
    assert site_user == slack
    typed = await store.get_contact(visitor)
    assert typed is not None and (typed.email, typed.email_verified) == (LI, False)
    again = await record(store, "m5", "webhook", webhook_claim(email="other@example.com"))
    assert again == claimer  # the same webhook sender: its contact, first claim kept
    kept = await store.get_contact(claimer)
    assert kept is not None and kept.email == LI


async def test_a_verified_email_replaces_a_claim_and_wins_a_merge(store: Store) -> None:
    contact = await record(store, "m1", "webhook", webhook_claim("w-9", "typo@example.com"))
    verified = Sender("w-9", email="wei@example.com", verified=True)  # the platform vouches now
    await record(store, "m2", "webhook", verified)
    upgraded = await store.get_contact(contact)
    assert upgraded is not None and (upgraded.email, upgraded.email_verified) == ("wei@example.com", True)
    await record(store, "m3", "webhook", webhook_claim("w-9", "evil@example.com"))
    kept = await store.get_contact(contact)
    assert kept is not None and (kept.email, kept.email_verified) == ("wei@example.com", True)

    claimed = await record(store, "m4", "telegram", Sender("tg-1"))
    await store.update_contact(claimed, email="guess@example.com")
    merged = await store.merge_contacts(contact, claimed)
    assert (merged.email, merged.email_verified) == ("wei@example.com", True)


async def test_tickets_and_messages_record_their_customer_through_a_contact_merge(store: Store) -> None:
    alice = await store.record_inbound(
        inbound("a1", thread="v_alice", channel="webchat", sender=Sender("v_alice")), now=utcnow(), policy=POLICY
    )
    bob = await store.record_inbound(
        inbound("b1", thread="v_bob", channel="webchat", sender=Sender("v_bob")), now=utcnow(), policy=POLICY
    )
    assert alice.conversation.customer_address == "v_alice" and alice.message.customer_address == "v_alice"
    await store.merge_contacts(bob.contact.id, alice.contact.id)
    ticket = await store.get_conversation(bob.conversation.id)
    assert ticket is not None and ticket.customer_address == "v_bob" and ticket.contact_id == alice.contact.id
    [message] = await store.list_messages(bob.conversation.id)
    assert message.customer_address == "v_bob"


async def test_an_older_sqlite_database_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:  # as written by the previous release
        for table, column in (
            ("contacts", "email_verified"),
            ("conversations", "customer_address"),
            ("messages", "customer_address"),
        ):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    store = SQLiteStore(path)
    await store.open()
    try:
        contact = await record(store, "m1", "slack", slack_user())
        found = await store.get_contact(contact)
        assert found is not None and found.email_verified
    finally:
        await store.close()


# -- through the hub: the outbox --------------------------------------------------------------
async def test_a_reply_after_a_same_person_merge_goes_to_the_tickets_customer(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        first = await hub.ingest(customer_message("a1", "hello", thread="t-a", sender=Sender("user-a")))
        second = await hub.ingest(customer_message("b1", "my reset code?", thread="t-b", sender=Sender("user-b")))
        await hub.actions.merge_contacts(second.contact.id, first.contact.id, who="an agent")
        ticket = await hub.store.get_conversation(second.conversation.id)
        assert ticket is not None
        await hub.actions.send(ticket, "your reset code is 4711", author_type=AuthorType.AGENT, author_id="ag")
        chat = hub.adapters["chat"]
        await eventually(lambda: chat.sent)
        assert [out.address for out in chat.sent] == ["user-b"]  # not user-a, the contact's oldest identity


@pytest.mark.parametrize("recorded", [True, False])
async def test_an_old_ticket_without_a_recorded_customer_is_never_sent_to_a_guess(
    tmp_path: Path, recorded: bool
) -> None:
    async with running_hub(make_config(tmp_path)) as hub:
        first = await hub.ingest(customer_message("a1", "hello", thread="t-a", sender=Sender("user-a")))
        second = await hub.ingest(customer_message("b1", "hi", thread="t-b", sender=Sender("user-b")))
        await hub.store.merge_contacts(second.contact.id, first.contact.id)
        ticket = await hub.store.get_conversation(second.conversation.id)
        assert ticket is not None
        if not recorded:  # as stored before recipients were recorded
            await hub.store._call(lambda conn: conn.execute("UPDATE conversations SET customer_address = ''"))  # type: ignore[attr-defined]
            ticket.customer_address = ""
        await hub.actions.send(ticket, "an answer", author_type=AuthorType.AGENT, author_id="ag")
        chat = hub.adapters["chat"]
        await eventually(lambda: chat.sent)
        # two identities on the channel: the thread itself, never the contact's first identity
        assert [out.address for out in chat.sent] == ["user-b" if recorded else "t-b"]
