"""The FAQ bot's pure rules (conversation/faq_bot.py) and its settings, checked at start."""

from __future__ import annotations

import pytest

from conversation.faq.scope import needs_person
from conversation.faq_bot import (
    Action,
    Decision,
    Guess,
    Reply,
    after_a_no,
    asks_for_person,
    decide,
    markdown_text,
    may_answer,
    picked,
    read_reply,
    stats_by_article,
    total,
)
from conversation.markdown_html import plain_text as summary
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, utcnow
from conversation.placeholders import customer_words
from hub.config import parse_config
from hub.settings import ConfigError


def guess(article: str, confidence: float, group: str = "") -> Guess:
    return Guess(article, group or article, article.title(), confidence)


def test_replies_are_read_as_yes_no_or_a_request_for_a_person_in_both_languages() -> None:
    for text in ("是", "是的！", "对", "好的", "yes", "Yes.", "YEP", "ｙｅｓ", "1", " 1 ", "thanks"):
        assert read_reply(text) is Reply.YES, text
    for text in ("否", "不是", "没有解决", "no", "No!", "nope", "2", "didn't help"):
        assert read_reply(text) is Reply.NO, text
    for text in ("转人工", "人工", "人工客服", "我要找真人", "human", "Agent", "real person", "talk to a human please",
                 "Can I speak with an agent?", "I need a person", "I want to talk to a real person"):  # fmt: skip
        assert read_reply(text) is Reply.PERSON, text
        assert asks_for_person(text), text
    for text in ("是不是要先绑定银行卡", "no idea how to reset my password", "my agent account is locked", "12"):
        assert read_reply(text) is Reply.OTHER, text
        assert not asks_for_person(text), text
    assert read_reply("anything", "faq:yes") is Reply.YES and read_reply("是", "faq:no") is Reply.NO
    assert read_reply("都不是", "faq:none") is Reply.NO


def test_a_no_that_leads_a_message_is_told_from_what_follows_it() -> None:
    """ "不是这个，我问的是发票": the answer did not help, and the rest is what the customer meant
    (the bot tries it as a new question: read_reply keeps it apart from a bare no)."""
    said = {
        "不是这个，我问的是发票": "我问的是发票",
        "No, I meant the withdrawal fee": "I meant the withdrawal fee",
        "不是这个\n我问的是发票": "我问的是发票",
        "不对？我问的是发票": "我问的是发票",
        "没解决。还是收不到验证码": "还是收不到验证码",
        "不是这个问题，是退款的问题": "是退款的问题",
    }
    for text, rest in said.items():
        assert after_a_no(text) == rest, text
        assert read_reply(text) is Reply.OTHER, text
    for text in (
        "对，但是还是不行",
        "yes, but it still fails",
        "不能登录，怎么办",
        "2.5元手续费是什么",
        "不是这个",
        "no.",
        "不是这个吗",
    ):
        assert after_a_no(text) is None, text


def test_yes_or_no_with_thanks_and_everyday_words_is_still_an_answer() -> None:
    for text in (
        "yes thanks",
        "yes it did",
        "好的，解决了，谢谢",
        "解决了谢谢",
        "嗯",
        "可以了",
        "ok thanks",
        "Yes, thank you!",
    ):
        assert read_reply(text) is Reply.YES, text
    for text in (
        "还是不行",
        "没用",
        "not really",
        "no thanks",
        "No, it didn't.",
        "还是不行，谢谢",
        "还是不对",
        "也不是",
        "Still wrong.",
    ):
        assert read_reply(text) is Reply.NO, text
    # words pointing at the answer ("that one", "这个") go with a yes or a no, never alone
    for text in ("yes that one", "Yes, that's the one!", "exactly", "就是这个", "对，就是这个", "是这个", "没错"):
        assert read_reply(text) is Reply.YES, text
    for text in ("不是这个", "不是这个问题", "不是我要的答案", "答非所问", "no not that one", "wrong answer",
                 "That's not it", "not what I asked"):  # fmt: skip
        assert read_reply(text) is Reply.NO, text
    for text in ("没问题", "没问题，谢谢", "没有问题", "不是问题"):  # "no problem" says it helped
        assert read_reply(text) is Reply.YES, text
    for text in ("not right", "Not correct."):
        assert read_reply(text) is Reply.NO, text
    # asked back, or pointing at nothing: not an answer
    for text in ("这个", "that one", "please", "这个问题怎么办", "right?", "That's it?", "可以？", "right? 🙂",
                 "问题是", "答案是"):  # fmt: skip
        assert read_reply(text) is Reply.OTHER, text
    # a new question that starts like an answer is a question; "12" is neither 1 nor 2
    for text in (
        "ok but where is my refund",
        "好的但是退款呢",
        "可以用apple pay吗",
        "不是这个问题，是退款的问题",
        "nothing",
        "yesterday",
    ):
        assert read_reply(text) is Reply.OTHER, text


PERSON_REQUESTS = (
    "客服在吗", "客服在吗？", "联系客服", "我要找客服", "请帮我接通客服", "人工客服", "真人", "客服", "客服！",
    "有没有客服", "帮我转接一下人工客服", "叫你们客服来", "customer service please", "Customer service, please!",
    "agent please", "contact support", "talk to someone", "speak to a human", "connect me to an agent",
    "I need to speak to someone", "can I please be transferred to a live agent",
    "stop with the canned replies, I need an actual person to look at my case",
)  # fmt: skip
# Questions that mention customer service or support but ask something an article answers.
ABOUT_SERVICE = (
    "如何投诉客服", "我要投诉你们客服", "在线客服骂人", "客服态度太差了", "刚才那个客服敷衍我", "客服一直不回消息 投诉",
    "customer service was rude to me", "how do I complain about customer service", "怎么联系卖家",
    "how do I contact the seller", "does support for apple pay exist", "my agent account is locked",
)  # fmt: skip


@pytest.mark.parametrize("text", PERSON_REQUESTS)
def test_requests_for_a_person_are_read_as_such_in_both_languages(text: str) -> None:
    assert asks_for_person(text) and read_reply(text) is Reply.PERSON
    assert needs_person(text)  # and the matcher keeps their confidence below any answer threshold


@pytest.mark.parametrize("text", ABOUT_SERVICE)
def test_questions_about_customer_service_are_not_requests_for_a_person(text: str) -> None:
    assert not asks_for_person(text) and read_reply(text) is Reply.OTHER
    assert not needs_person(text)


def test_a_pick_is_a_button_or_the_number_of_an_offered_title() -> None:
    assert picked("2", "", 3) == 1 and picked("#1", "", 2) == 0 and picked("３", "", 3) == 2
    assert picked("", "faq:pick:3", 3) == 2 and picked("x", "faq:none", 3) == -1 and picked("0", "", 2) == -1
    assert picked("4", "", 3) is None and picked("1", "progress:1000", 3) is None  # another plugin's button
    assert picked("退款", "", 3) is None and picked("１２３", "", 3) is None and picked("١", "", 3) is None


def test_answer_offer_or_hand_off_by_the_two_thresholds_and_never_the_same_article_twice() -> None:
    limits = {"answer_threshold": 0.7, "suggest_threshold": 0.3}
    sure = [guess("a", 0.9), guess("b", 0.05)]
    assert decide(sure, answered=[], **limits) == Decision(Action.ANSWER, (sure[0],))
    repeat = decide(sure, answered=["a"], **limits)
    assert repeat.action is Action.HAND_OFF and repeat.reason == "repeat" and repeat.guesses == tuple(sure)

    unsure = [guess("a", 0.6), guess("a-en", 0.5, group="a"), guess("b", 0.35), guess("c", 0.31), guess("d", 0.3)]
    offer = decide(unsure, answered=[], **limits)
    assert offer.action is Action.OFFER and [g.article_id for g in offer.guesses] == ["a", "b", "c"]  # one per group
    assert [g.article_id for g in decide(unsure, answered=["a"], **limits).guesses] == ["b", "c", "d"]

    weak = [guess("a", 0.29), guess("b", 0.1)]
    assert decide(weak, answered=[], **limits) == Decision(Action.HAND_OFF, tuple(weak), "unsure")
    assert decide([], answered=[], **limits) == Decision(Action.HAND_OFF, (), "unsure")


def test_markdown_becomes_plain_text_a_channel_shows_as_is() -> None:
    markdown = (
        "# Reset\n\nTap **Forgot password**, then:\n\n1. enter your *phone*\n2. type the code\n   - within 5 min\n\n"
        "- one\n- two\n\n| step | what |\n|---|---|\n| 1 | open |\n\n```\ncode  kept\n```\n\n---\n\n"
        "See [the help centre](https://help.example.com/x), <https://x.example>, ![logo](https://x.example/l.png)"
        " and `inline`.\n\n<script>alert(1)</script>\n\n[红包](javascript:alert(1)), ![x](JavaScript:alert(2)),"
        " [**点这里**](javascript:alert(3)), [退款说明](/help/zh-CN/refund)"
    )
    assert markdown_text(markdown) == (
        "Reset\n\nTap Forgot password, then:\n\n1. enter your phone\n2. type the code\n  • within 5 min\n\n"
        "• one\n• two\n\nstep | what\n1 | open\n\ncode  kept\n\n———\n\n"
        "See the help centre (https://help.example.com/x), https://x.example, logo (https://x.example/l.png)"
        " and inline.\n\n<script>alert(1)</script>\n\n红包, x, 点这里, 退款说明 (/help/zh-CN/refund)"
    )  # raw HTML stays text: nothing of it is markup on a plain-text channel; a script's address is left out
    # the help centre's summaries and page descriptions too (a trial)
    assert summary("[点这里领取红包](javascript:alert(1)) 或 [帮助](https://x.example)") == "点这里领取红包 或 帮助"


def conversation(**changes: object) -> Conversation:
    return Conversation(id="c1", number=1000, channel="chat", thread_key="t", contact_id="p1", **changes)  # type: ignore[arg-type]


def message(**changes: object) -> Message:
    fields: dict[str, object] = {
        "id": "m1",
        "conversation_id": "c1",
        "channel": "chat",
        "direction": Direction.INBOUND,
        "kind": MessageKind.MESSAGE,
        "author_type": AuthorType.CONTACT,
        "text": "忘记密码了怎么办",
    }
    return Message(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_bot_speaks_only_to_a_customers_own_message_on_a_ticket_no_person_owns() -> None:
    assert may_answer(conversation(), message())
    assert not may_answer(conversation(), message(automatic=True))  # an auto-reply, a bounce
    assert not may_answer(conversation(), message(author_type=AuthorType.AGENT, direction=Direction.OUTBOUND))
    assert not may_answer(conversation(), message(kind=MessageKind.NOTE))
    assert not may_answer(conversation(assignee_id="a1"), message())
    assert not may_answer(conversation(handed_off_at=utcnow()), message())
    assert not may_answer(conversation(first_response_at=utcnow()), message())  # an agent replied


def test_figures_per_article_and_in_total() -> None:
    counts = {
        ("a", "deflected"): 3, ("a", "not_helpful"): 1, ("a", "asked"): 1, ("a", "helpful"): 1,
        ("b", "unconfirmed"): 2, ("b", "not_helpful"): 2, ("a", "reopened"): 1,
    }  # fmt: skip
    stats = stats_by_article(counts)  # type: ignore[arg-type]
    assert stats["a"].as_dict() == {
        "answered": 7, "deflected": 3, "helpful": 4, "not_helpful": 1, "unconfirmed": 0, "waiting": 1, "reopened": 1,
        "deflection_rate": 0.4286, "not_helpful_rate": 0.1429,
    }  # fmt: skip
    assert stats["b"].deflection_rate == 0 and stats["b"].not_helpful_rate == 0.5
    assert total(stats).answered == 11 and total(stats).reopened == 1 and total(stats).not_helpful == 3
    assert total({}).deflection_rate == 0


def test_the_default_answer_threshold_is_the_matchers() -> None:
    from conversation.faq import DEFAULT_THRESHOLD
    from plugins.faq import MATCHER_THRESHOLD, FaqPlugin

    assert MATCHER_THRESHOLD == DEFAULT_THRESHOLD
    [faq] = parse_config({"plugins": {"enabled": ["faq"]}}).plugins
    assert isinstance(faq.settings, FaqPlugin.Settings)
    assert (faq.settings.answer_threshold, faq.settings.suggest_threshold) == (DEFAULT_THRESHOLD, 0.4)
    assert faq.settings.pending_first is False and faq.settings.team == ""


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"answer_threshold": 1.5}, r"plugins\.faq\.answer_threshold: must be above 0 and at most 1, not 1\.5"),
        ({"answer_threshold": 0}, r"plugins\.faq\.answer_threshold: must be above 0 and at most 1, not 0"),
        ({"suggest_threshold": -0.1}, r"plugins\.faq\.suggest_threshold: must be above 0 and at most 1"),
        ({"suggest_threshold": 0.8}, r"plugins\.faq\.suggest_threshold: must be below answer_threshold \(0\.7\)"),
        ({"answer_threshold": 0.5, "suggest_threshold": 0.5}, r"suggest_threshold: must be below answer_threshold"),
        ({"answer_threshold": "high"}, r"plugins\.faq\.answer_threshold: expected number, got str"),
        ({"pending_first": "yes"}, r"plugins\.faq\.pending_first: expected boolean"),
        ({"threshold": 0.5}, r"plugins\.faq\.threshold: unknown key"),
    ],
)
def test_bad_settings_stop_the_hub_with_the_key_named(settings: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_config({"plugins": {"enabled": ["faq"], "faq": settings}})
    [faq] = parse_config(
        {"plugins": {"enabled": ["faq"], "faq": {"answer_threshold": 0.9, "suggest_threshold": 0.5}}}
    ).plugins
    assert faq.settings.answer_threshold == 0.9


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[sticker 👍]", ""),
        ("[location 31.23, 121.47]\n", ""),
        ("(empty mail)", ""),
        ("my screen\n[not kept: shot.png: it is over the 20480 KiB limit]", "my screen"),
        ("[urgent] refund please", "[urgent] refund please"),  # brackets within the words stay
        ("[未保留：report[1].pdf：超过 1 KiB 的上限]", ""),  # a file name's own brackets (a review)
        ("退款 (订单 123)", "退款 (订单 123)"),
    ],
)
def test_the_channels_placeholders_are_no_words_of_the_customers(text: str, words: str) -> None:
    assert customer_words(text) == words


def test_a_title_that_is_a_question_is_asked_about_once() -> None:
    from conversation.faq_bot import title_in_question

    assert title_in_question("如何申请七天无理由退货？") == "如何申请七天无理由退货"
    assert title_in_question("How do I reset my password? ") == "How do I reset my password"
    assert title_in_question("提现多久到账") == "提现多久到账"
