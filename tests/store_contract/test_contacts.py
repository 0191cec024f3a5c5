"""The Store contract for contacts and identities (both backends)."""

from __future__ import annotations

import pytest

from conversation.errors import InvalidInput
from conversation.inbound import Sender
from conversation.model import (
    Agent,
    ConversationQuery,
    Role,
    new_id,
    utcnow,
)
from conversation.store import (
    NotFound,
    Store,
)
from tests.store_contract.common import POLICY, inbound


async def test_contacts_are_found_by_identity(store: Store) -> None:
    record = await store.tickets.record_inbound(
        inbound("m1", sender=Sender(address="u7", display_name="Ana", email="ana@example.org")),
        now=utcnow(),
        policy=POLICY,
    )
    contact = await store.contacts.find_identity_contact("telegram", "u7")
    assert contact is not None and contact.id == record.contact.id and contact.email == "ana@example.org"
    assert await store.contacts.find_identity_contact("telegram", "nobody") is None
    renamed = await store.tickets.record_inbound(
        inbound("m2", sender=Sender(address="u7", display_name="Ana B.")), now=utcnow(), policy=POLICY
    )
    assert renamed.contact.identities[0].display_name == "Ana B."


async def test_merging_contacts_keeps_every_identity_and_conversation(store: Store) -> None:
    a = await store.tickets.record_inbound(
        inbound("m1", sender=Sender(address="tg-1", display_name="Li")), now=utcnow(), policy=POLICY
    )
    b = await store.tickets.record_inbound(
        inbound(
            "m2", thread="mail-1", channel="email", sender=Sender(address="li@example.com", email="li@example.com")
        ),
        now=utcnow(),
        policy=POLICY,
    )
    merged = await store.contacts.merge_contacts(b.contact.id, a.contact.id)
    assert sorted(i.address for i in merged.identities) == ["li@example.com", "tg-1"]
    assert merged.email == "li@example.com"
    moved = await store.tickets.get_conversation(b.conversation.id)
    assert moved is not None and moved.contact_id == a.contact.id
    items, _ = await store.inbox.list_conversations(ConversationQuery(contact_id=a.contact.id))
    assert {c.id for c in items} == {a.conversation.id, b.conversation.id}
    source = await store.contacts.get_contact(b.contact.id)
    assert source is not None and source.merged_into == a.contact.id
    again = await store.tickets.record_inbound(
        inbound("m3", thread="mail-1", channel="email", sender=Sender(address="li@example.com")),
        now=utcnow(),
        policy=POLICY,
    )
    assert again.contact.id == a.contact.id  # the identity now belongs to the merged contact


async def test_a_verified_email_joins_the_contact_known_by_it(store: Store) -> None:
    known = await store.tickets.record_inbound(
        inbound(
            "m1", channel="email", sender=Sender(address="wei@example.com", email="wei@example.com", verified=True)
        ),
        now=utcnow(),
        policy=POLICY,
    )
    verified = await store.tickets.record_inbound(
        inbound("m2", channel="webchat", sender=Sender(address="user:77", email="Wei@Example.com", verified=True)),
        now=utcnow(),
        policy=POLICY,
    )
    unverified = await store.tickets.record_inbound(
        inbound("m3", channel="webchat", sender=Sender(address="visitor-9", email="wei@example.com")),
        now=utcnow(),
        policy=POLICY,
    )
    assert verified.contact.id == known.contact.id
    assert unverified.contact.id != known.contact.id  # anyone can type an address


async def test_contact_details_can_be_corrected(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    contact = await store.contacts.update_contact(record.contact.id, email="fang@example.com", name="Wang Fang")
    assert (contact.email, contact.name) == ("fang@example.com", "Wang Fang")
    with pytest.raises(NotFound):
        await store.contacts.update_contact("nope", name="x")


async def test_contact_labels_fall_back_from_name_to_email_to_identity(store: Store) -> None:
    named = await store.tickets.record_inbound(
        inbound("m1", sender=Sender("u1", display_name="Li")), now=utcnow(), policy=POLICY
    )
    mailed = await store.tickets.record_inbound(
        inbound("m2", thread="t2", sender=Sender("u2", email="z@example.com")), now=utcnow(), policy=POLICY
    )
    bare = await store.tickets.record_inbound(
        inbound("m3", thread="t3", sender=Sender("u3")), now=utcnow(), policy=POLICY
    )
    labels = await store.contacts.contact_labels([named.contact.id, mailed.contact.id, bare.contact.id])
    assert labels == {named.contact.id: "Li", mailed.contact.id: "z@example.com", bare.contact.id: "u3"}
    assert await store.contacts.contact_labels([]) == {}


async def test_merges_and_agent_changes_the_rules_refuse_raise_invalid_input_and_change_nothing(store: Store) -> None:
    """Both backends signal a refused request with InvalidInput (the API's 422), never a bare ValueError."""
    first = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    conversation, contact = first.conversation, first.conversation.contact_id
    with pytest.raises(InvalidInput):
        await store.tickets.merge_conversations(conversation.id, conversation.id, now=utcnow())
    with pytest.raises(InvalidInput):
        await store.contacts.merge_contacts(contact, contact)
    agent = await store.accounts.add_agent(
        Agent(id=new_id(), email="li@example.com", role=Role.AGENT, password_hash="h")
    )
    with pytest.raises(InvalidInput):
        await store.accounts.update_agent(agent.id, {"email": "other@example.com"})
    assert await store.tickets.get_conversation(conversation.id) == conversation
    assert await store.accounts.get_agent(agent.id) == agent


async def test_a_contact_keeps_the_first_language_known_until_an_agent_corrects_it(store: Store) -> None:
    first = await store.tickets.record_inbound(
        inbound("m1", sender=Sender(address="u8", language="zh-Hans")), now=utcnow(), policy=POLICY
    )
    assert first.contact.language == "zh-Hans"
    later = await store.tickets.record_inbound(
        inbound("m2", sender=Sender(address="u8", language="en")), now=utcnow(), policy=POLICY
    )
    assert later.contact.language == "zh-Hans"  # a channel's word never replaces a known language

    silent = await store.tickets.record_inbound(inbound("m3", sender=Sender(address="u9")), now=utcnow(), policy=POLICY)
    assert silent.contact.language == ""
    filled = await store.tickets.record_inbound(
        inbound("m4", sender=Sender(address="u9", language="en-GB")), now=utcnow(), policy=POLICY
    )
    assert filled.contact.language == "en-GB"  # an unknown language is filled

    corrected = await store.contacts.update_contact(first.contact.id, language="en")
    assert corrected.language == "en"
    again = await store.tickets.record_inbound(
        inbound("m5", sender=Sender(address="u8", language="zh-Hans")), now=utcnow(), policy=POLICY
    )
    assert again.contact.language == "en"
    assert (await store.contacts.get_contact(first.contact.id)).language == "en"  # type: ignore[union-attr]

    # merging: a contact of unknown language takes the other's; a known one keeps its own
    merged = await store.contacts.merge_contacts(first.contact.id, silent.contact.id)
    assert merged.language == "en-GB"
    unknown = await store.tickets.record_inbound(
        inbound("m6", sender=Sender(address="u10")), now=utcnow(), policy=POLICY
    )
    assert (await store.contacts.merge_contacts(silent.contact.id, unknown.contact.id)).language == "en-GB"


@pytest.mark.parametrize(
    "senders",
    [
        [Sender("u1", "Ann")],  # a new contact
        [Sender("u1", "Ann"), Sender("u1", "Ann")],  # known, nothing changes
        [Sender("u1", "Ann"), Sender("u1", "Ann B.", language="de", tier=" Gold ")],  # name, language, tier
        [Sender("u1"), Sender("u1", email="ann@example.com")],  # a claimed email fills the empty one
        [Sender("u1", email="a@example.com"), Sender("u1", email="ann@example.com", verified=True)],
        [Sender("u1", email="ann@example.com", verified=True), Sender("u2", email="ann@example.com", verified=True)],
    ],
)
async def test_the_contact_an_ingest_returns_is_the_one_stored(store: Store, senders: list[Sender]) -> None:
    """record_inbound returns the sender's contact as a fresh read finds it (SQLite keeps the
    one it read and changed rather than reading it again): identities in order included."""
    for n, sender in enumerate(senders):
        record = await store.tickets.record_inbound(
            inbound(f"m{n}", thread=sender.address, sender=sender), now=utcnow(), policy=POLICY
        )
        assert record.contact == await store.contacts.get_contact(record.contact.id)
