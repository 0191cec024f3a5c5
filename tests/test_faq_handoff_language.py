"""The bot's hand-off as agents read it (review 16 #8): a short note in the hub's language,
and the thread's event with the plugin's name and the reason in each reader's language."""

from __future__ import annotations

from conversation.model import MessageKind
from hub.app import Hub
from hub.thread_events import event_of
from tests.test_faq_bot import ask, hub, notes, served, thread

__all__ = ["hub", "served"]


async def test_the_handoff_note_is_short_and_the_event_reads_in_each_readers_language(hub: Hub) -> None:
    ticket_id = await ask(hub, "怎么申请退款")
    await ask(hub, "否")
    [note] = await notes(hub, ticket_id)
    assert note.splitlines()[0] == "FAQ bot's guesses:"  # the hub's language ([hub] language = en)
    assert note.splitlines()[1].startswith("1. 如何申请退款 (") and note.endswith("%)")
    [event] = [m for m in await thread(hub, ticket_id) if m.kind is MessageKind.EVENT and "FAQ" in m.text]
    assert event.text == "Handed to a person by FAQ bot: the customer said the bot's answer did not help"
    keyed = event_of(event.raw)
    assert keyed is not None
    assert keyed.text("zh-CN") == "FAQ 机器人 已转交人工处理：客户表示机器人的回答没有解决问题"
