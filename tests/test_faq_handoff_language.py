"""The bot's hand-off as agents read it (review 16 #8): a short note, and the thread's event
with the plugin's name and the reason, each in the reader's language (the note's stored text
in the hub's, for API clients and search)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from conversation.model import MessageKind, Role
from hub.agents import add_agent
from hub.app import Hub
from hub.thread_events import event_of
from tests.test_faq_bot import ask, hub, notes, served, thread

__all__ = ["hub", "served"]


async def test_the_handoff_note_is_short_and_the_event_reads_in_each_readers_language(hub: Hub) -> None:
    ticket_id = await ask(hub, "怎么申请退款")
    await ask(hub, "否")
    [note] = await notes(hub, ticket_id)
    assert note.splitlines()[0] == "FAQ bot's guesses:"  # the hub's language ([hub] language = en)
    assert note.splitlines()[1].startswith("1. 如何申请退款 (")
    assert note.splitlines()[1].endswith("%): answered, the customer said it did not help")
    assert len(note.splitlines()) <= 4 and all(line.endswith("%)") for line in note.splitlines()[2:])
    [event] = [m for m in await thread(hub, ticket_id) if m.kind is MessageKind.EVENT and "FAQ" in m.text]
    assert event.text == "Handed to a person by FAQ bot: the customer said the bot's answer did not help"
    keyed = event_of(event.raw)
    assert keyed is not None
    assert keyed.text("zh-CN") == "FAQ 机器人 已转交人工处理：客户表示机器人的回答没有解决问题"


async def test_an_unsure_bots_hand_off_does_not_name_the_bot_twice(hub: Hub) -> None:
    """A trial read "FAQ 机器人 已转交人工处理：FAQ 机器人没有把握回答"."""
    ticket_id = await ask(hub, "你们的仓库在哪个城市，周末能自提吗")
    [event] = [m for m in await thread(hub, ticket_id) if m.kind is MessageKind.EVENT and "FAQ" in m.text]
    keyed = event_of(event.raw)
    assert keyed is not None
    assert keyed.text("zh-CN") == "FAQ 机器人 已转交人工处理：没有把握回答"
    assert keyed.text("en") == "Handed to a person by FAQ bot: not sure enough to answer"


async def test_each_agent_reads_the_bots_note_in_their_language_in_the_thread_and_the_list(
    served: tuple[TestClient, Hub],
) -> None:
    """A trial's zh-CN agent read the FAQ bot's guesses in English (the hub's language) in the
    thread and the inbox list, beside events in Chinese."""
    client, hub = served
    ticket_id = await ask(hub, "怎么申请退款")
    await ask(hub, "否")
    for address, language, heading in (
        ("li.na@example.com", "zh-CN", "机器人猜测："),
        ("sam@example.com", "en", "FAQ bot's guesses:"),
    ):
        agent = await add_agent(hub.store, address, Role.ADMIN, "agent password 1")  # reads every team's
        _token, secret = await hub.services.accounts.issue_token(agent.id, "inbox")
        bearer = {"Authorization": f"Bearer {secret}"}
        assert (await client.patch("/api/v1/me", json={"language": language}, headers=bearer)).status == 200
        got = await client.get(f"/api/v1/conversations/{ticket_id}/messages", headers=bearer)
        messages = await got.json()
        assert got.status == 200, messages
        [note] = [m for m in messages["items"] if m["kind"] == "note"]
        assert note["text"].splitlines()[0] == heading, language
        assert note["text"].splitlines()[1].startswith("1. 如何申请退款")
        listed = await (await client.get("/api/v1/conversations?status=open", headers=bearer)).json()
        [row] = [c for c in listed["items"] if c["id"] == ticket_id]
        # The list previews what the customer asked, not the bot's note (a trial); a bot's note
        # previewed when nobody wrote is said in the reader's language (the test below).
        assert row["preview"]["author_type"] == "contact" and row["waiting_since"] is not None
    [stored] = await notes(hub, ticket_id)
    assert stored.startswith("FAQ bot's guesses:")  # the hub's language, for API clients and search


def test_a_note_is_shown_in_the_readers_language_else_its_stored_text() -> None:
    """Its tag, else its language; never a third language (the stored text, the hub's, then)."""
    import dataclasses

    from conversation.model import AuthorType, Direction, Message, utcnow
    from hub.api.serialize import preview_json, shown_text

    note = Message(
        id="n1",
        conversation_id="c1",
        channel="chat",
        direction=Direction.OUTBOUND,
        kind=MessageKind.NOTE,
        author_type=AuthorType.BOT,
        text="机器人猜测：",  # a zh-CN hub's
        created_at=utcnow(),
        raw={"texts": {"en": "FAQ bot's guesses:", "zh-CN": "机器人猜测："}},
    )
    assert shown_text(note, "en-GB") == "FAQ bot's guesses:"
    assert shown_text(note, "zh-TW") == "机器人猜测："
    assert shown_text(note, "fr") == "机器人猜测："  # the stored text, not English
    assert shown_text(note, "") == "机器人猜测："
    english_only = dataclasses.replace(note, raw={"texts": {"en": "FAQ bot's guesses:"}})
    assert shown_text(english_only, "zh-CN") == "机器人猜测："  # a locale the plugin did not write
    preview = preview_json(note, "en")
    assert preview is not None and preview["text"] == "FAQ bot's guesses:"
