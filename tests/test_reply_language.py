"""Which language a bot's reply is in when the customer writes in another than their
contact's: the FAQ bot (tests/test_faq_bot.py) and the status answers follow the message
when it is clearly Chinese or English, and otherwise the customer's latest clear message on
the ticket; the news a ticket's customer is told follows that message too."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation.inbound import Sender
from conversation.model import AuthorType, Direction, Message, MessageKind
from conversation.text_language import clear_language, latest_clear_language, main_language, reply_language
from hub.app import Hub
from tests.helpers import GREETING_ALWAYS_OPEN, customer_message, eventually, make_config, running_hub


@pytest.mark.parametrize(
    ("text", "clear", "main"),
    [
        ("status of my ticket", "en", "en"),
        ("我的订单到哪了", "zh-CN", "zh-CN"),
        ("可以用apple pay吗", "zh-CN", "zh-CN"),
        ("ok", None, None),
        ("1", None, None),
        # An English list quoting Chinese subjects: not clear, but mostly English.
        ("You have several open tickets: #1001 open (发票) #1000 open (我的订单一直没到)", None, "en"),
        ("您好，您的 iPhone 订单已经发货了", "zh-CN", "zh-CN"),
        ("ありがとうございます", None, None),
        # one Latin word is as often a name as English: it says nothing (a trial's "nullbyte")
        ("iPhone", None, None),
        ("nullbyte", None, None),
        ("refund please", "en", "en"),
        # a channel's placeholder is no word of the customer's (a trial's greeting came in English)
        ("[not kept: x.pdf: it is over the 20480 KiB limit]", None, "en"),
    ],
)
def test_a_texts_language_is_said_only_when_its_letters_say_so(text: str, clear: str | None, main: str | None) -> None:
    assert clear_language(text) == clear
    assert main_language(text) == main


def _message(
    text: str, *, direction: Direction = Direction.INBOUND, automatic: bool = False, choice_id: str = ""
) -> Message:
    author = AuthorType.CONTACT if direction is Direction.INBOUND else AuthorType.BOT
    return Message(
        "m", "c", "chat", direction, MessageKind.MESSAGE, author, text=text, automatic=automatic, choice_id=choice_id
    )


def test_the_latest_clear_customer_message_gives_the_language() -> None:
    thread = [
        _message("我的订单一直没到"),
        _message("Your ticket is being handled", direction=Direction.OUTBOUND),  # the bot's own words
        _message("where is it now"),
        _message("Out of office: I am away", automatic=True),  # a machine's
        _message("1"),
    ]
    assert latest_clear_language(thread) == "en"
    assert latest_clear_language(thread[:2]) == "zh-CN"
    # A tapped button's text is the bot's label (or the button's id): not the customer's words.
    tapped = [*thread[:2], _message("progress:1001", choice_id="progress:1001"), _message("Refund", choice_id="r")]
    assert latest_clear_language(tapped) == "zh-CN"
    assert latest_clear_language([_message("ok")]) is None


def test_an_answer_is_in_the_questions_language_else_the_latest_clear_one_else_the_contacts() -> None:
    """One rule for the bot's answer and the agent's suggested answers (they disagreed)."""
    thread = [_message("我的订单一直没到"), _message("ok?")]
    assert reply_language("where is my order", thread, "zh-CN") == "en"
    assert reply_language("ok?", thread, "en") == "zh-CN"
    assert reply_language(None, thread, "en") == "zh-CN"  # a tapped button: the thread says
    assert reply_language("ok?", [_message("ok?")], "en") == "en"


def _config(tmp_path: Path) -> object:
    plugins = {"enabled": ["progress", "greeting"], "greeting": GREETING_ALWAYS_OPEN}
    return make_config(tmp_path, {"channels": {"chat": {"type": "recording"}}, "plugins": plugins})


async def _said(hub: Hub, count: int) -> list[str]:
    await eventually(lambda: len(hub.adapters["chat"].sent) >= count)
    return [o.message.text for o in hub.adapters["chat"].sent]


async def test_a_status_question_in_english_from_a_chinese_client_is_answered_in_english(tmp_path: Path) -> None:
    chinese_client = Sender(address="u1", display_name="Zhang Wei", language="zh-CN")
    async with running_hub(_config(tmp_path)) as hub:
        await hub.ingest(customer_message("m1", "我的订单一直没到", thread="t1", sender=chinese_client))
        [greeting] = await _said(hub, 1)
        assert greeting.startswith("感谢您联系我们")  # the contact's language, and the message's
        await hub.ingest(customer_message("m2", "what is the status of my ticket", thread="t1", sender=chinese_client))
        answer = (await _said(hub, 2))[-1]
        assert "#1000" in answer and "open" in answer and "工单" not in answer

        # The ticket is resolved: its customer last wrote in English, so the news is in English.
        ticket = await hub.store.tickets.get_conversation_by_number(1000)
        assert ticket is not None
        await hub.services.conversations.update_by(ticket, {"status": "resolved"}, who="Li Na", names={})
        notice = (await _said(hub, 3))[-1]
        assert notice.startswith("Your ticket #1000 has been resolved")


async def test_a_chinese_customer_is_still_told_the_news_in_chinese(tmp_path: Path) -> None:
    english_client = Sender(address="u1", display_name="Zhang Wei", language="en")
    async with running_hub(_config(tmp_path)) as hub:
        await hub.ingest(customer_message("m1", "我的订单一直没到", thread="t1", sender=english_client))
        await hub.ingest(customer_message("m2", "ok", thread="t1", sender=english_client))  # says nothing
        await _said(hub, 1)
        ticket = await hub.store.tickets.get_conversation_by_number(1000)
        assert ticket is not None
        await hub.services.conversations.update_by(ticket, {"status": "resolved"}, who="Li Na", names={})
        notice = (await _said(hub, 2))[-1]
        assert "#1000" in notice and "已解决" in notice


async def test_the_faq_bot_follows_a_status_question_the_other_bot_answered(tmp_path: Path) -> None:
    """A Chinese question, the FAQ bot's Chinese answer, then a status question in English
    (the progress bot's), then "no": the hand-off is said in English, the customer's latest
    clear language, not in the language the FAQ bot spoke so far."""
    from tests.test_faq_bot import with_articles

    raw = {
        "channels": {"chat": {"type": "recording"}},
        "plugins": {"enabled": ["progress", "faq"], "faq": {"answer_threshold": 0.7, "suggest_threshold": 0.4}},
    }
    chinese_client = Sender(address="u1", display_name="Zhang Wei", language="zh-CN")
    async with running_hub(make_config(tmp_path, raw)) as hub:
        await with_articles(hub)
        await hub.ingest(customer_message("m1", "怎么申请退款", thread="t1", sender=chinese_client))
        answer = (await _said(hub, 1))[-1]
        assert answer.startswith("如何申请退款")
        await hub.ingest(customer_message("m2", "what is the status of my ticket", thread="t1", sender=chinese_client))
        assert "#1000" in (await _said(hub, 2))[-1]
        await hub.ingest(customer_message("m3", "no", thread="t1", sender=chinese_client))
        handed = (await _said(hub, 3))[-1]
        assert handed.isascii() and "colleague" in handed
