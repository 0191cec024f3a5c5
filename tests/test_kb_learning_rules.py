"""The rules of learning from resolved tickets (conversation/kb_learning.py): personal data
masked, the (question, answer) pair a thread teaches, translations for suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation.errors import InvalidInput
from conversation.kb_learning import (
    DEFAULT_ORDER_PATTERN,
    in_language,
    is_meta_message,
    kb_language,
    latest_question,
    luhn_valid,
    mask_personal_data,
    order_pattern,
    question_and_answer,
    with_example,
)
from conversation.knowledge import Article, ArticleStatus
from conversation.knowledge_io import read_articles
from conversation.markdown_html import reply_text
from conversation.model import AuthorType, Direction, Message, MessageKind
from hub.app import Hub
from hub.config import parse_config
from hub.settings import ConfigError
from tests.helpers import make_config


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我的手机13812345678，请回电", "我的手机[phone]，请回电"),
        ("座机010-62345678找王先生", "座机[phone]找王先生"),
        ("call +44 20 7946 0958 today", "call [phone] today"),
        ("+8613812345678", "[phone]"),
        ("邮箱 zhang.wei+shop@example.com.cn 收不到", "邮箱 [email] 收不到"),
        ("订单号2023112612345678还没发货", "订单号[order]还没发货"),
        ("order DD-20231126001 is late", "order [order] is late"),
        ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
        ("卡号6222021234567890128扣款两次", "卡号[card]扣款两次"),
        # a trial's: a lowercase prefix was left, a prefixed order whose digits pass Luhn became
        # "DD[card]", an address under a Chinese domain was left
        ("订单so20241127000123没到", "订单[order]没到"),
        ("订单DD2024112712345678退款", "订单[order]退款"),
        ("发到user@例子.公司", "发到[email]"),
        ("请发到zw@example.com请回复", "请发到[email]请回复"),
        # a review's: what follows a Chinese domain stays, and a card straight after a word is a card
        ("user@例子.公司请回复", "[email]请回复"),
        ("user@example.com.谢谢", "[email].谢谢"),
        ("Card4111 1111 1111 1111", "Card[card]"),
        ("mastercard4111111111111111 charged twice", "mastercard[card] charged twice"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


def test_ordinary_numbers_and_digit_runs_failing_luhn_are_not_cards() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert mask_personal_data("退款100元，3天内到账") == "退款100元，3天内到账"
    # a 16-digit run that is no card number is still an order number by the default pattern
    assert mask_personal_data("4111 1111 1111 1112") == "4111 1111 1111 1112"
    assert mask_personal_data("2023112612345671") == "[order]"


def test_the_readme_gives_the_default_order_pattern_as_toml_that_reads_back_to_it() -> None:
    """Pasted into hub.toml, a double-quoted "\\d" is no TOML at all (a review's)."""
    import tomllib

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    cell = next(line for line in readme.splitlines() if line.startswith("| `order_number_pattern` |"))
    value = cell.split("`")[3]
    assert tomllib.loads(f"order_number_pattern = {value}")["order_number_pattern"] == DEFAULT_ORDER_PATTERN


def test_a_jsonl_file_with_a_byte_order_mark_imports() -> None:
    [line] = read_articles('\ufeff{"id": "a", "title": "t", "answer": "x"}\n', "jsonl")
    assert line.article.id == "a"


def test_the_order_number_pattern_is_a_setting() -> None:
    assert mask_personal_data("订单 SO-88-1234 有问题", order_numbers=r"SO-\d+-\d+") == "订单 [order] 有问题"
    with pytest.raises(InvalidInput, match="order_number_pattern"):
        order_pattern("(unclosed")


def _msg(text: str, direction: Direction, author: AuthorType, kind: MessageKind = MessageKind.MESSAGE) -> Message:
    return Message("m", "c", "chat", direction, kind, author, text=text)


def customer(text: str) -> Message:
    return _msg(text, Direction.INBOUND, AuthorType.CONTACT)


def agent(text: str, kind: MessageKind = MessageKind.MESSAGE) -> Message:
    return _msg(text, Direction.OUTBOUND, AuthorType.AGENT, kind)


def bot(text: str) -> Message:
    return _msg(text, Direction.OUTBOUND, AuthorType.BOT)


def test_the_pair_is_the_agents_last_answer_and_the_customers_messages_before_it() -> None:
    thread = [
        customer("你好"),
        bot("您好，请问有什么可以帮您？"),
        customer("我想改收货地址"),
        customer("订单已经付款了"),
        agent("我先看一下", MessageKind.NOTE),
        agent("在订单详情点击修改地址即可。"),
        customer("好的谢谢"),
    ]
    pair = question_and_answer(thread)
    assert pair is not None
    assert pair.question == "我想改收货地址\n订单已经付款了"
    assert pair.answer == "在订单详情点击修改地址即可。"


def test_no_pair_without_an_agents_answer_or_a_question() -> None:
    assert question_and_answer([customer("退款"), bot("请在订单页申请退款。")]) is None  # the bot answered
    assert question_and_answer([agent("您好，您的退款已经到账。")]) is None  # nobody asked
    assert question_and_answer([customer("退款"), agent("内部备注", MessageKind.NOTE)]) is None


def test_examples_are_added_once_and_suggestions_follow_the_contacts_language() -> None:
    assert with_example(("怎么退款",), "退款多久到账") == ("怎么退款", "退款多久到账")
    assert with_example(("How do I refund?",), "how do i refund?") is None
    zh = Article("refund", "如何退款", "打开订单。", language="zh-CN", status=ArticleStatus.PUBLISHED)
    en = Article(
        "refund-en", "Refunds", "Open the order.", language="en", group="refund", status=ArticleStatus.PUBLISHED
    )
    draft_en = Article("pay-en", "Pay", "x", language="en", group="pay")
    pay = Article("pay", "付款", "y", language="zh-CN", status=ArticleStatus.PUBLISHED)
    articles = [zh, en, draft_en, pay]
    assert kb_language("en-GB") == "en" and kb_language("zh-Hans-CN") == "zh-CN" and kb_language("fr") == ""
    assert in_language(zh, articles, "en-US") == en
    assert in_language(zh, articles, "zh") == zh
    assert in_language(zh, articles, "fr") == zh
    assert in_language(pay, articles, "en") == pay  # the English one is a draft


def test_the_knowledge_settings_are_checked_and_reach_the_review_queue(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"knowledge\.order_number_pattern: not a regular expression"):
        parse_config({"knowledge": {"order_number_pattern": "(unclosed"}})
    hub = Hub(make_config(tmp_path, {"knowledge": {"order_number_pattern": r"SO\d+", "learn_from_resolved": False}}))
    assert hub.services.learning.order_numbers == r"SO\d+" and hub.services.learning.enabled is False
    assert hub.services.learning.mask("SO123 和 13812345678") == "[order] 和 [phone]"


def test_an_answer_becomes_the_plain_text_of_a_reply() -> None:
    answer = "## 退款步骤\n\n1. 打开**订单**\n2. 点击[退款](https://shop.example.com/r)\n\n- 3 天内到账\n- 原路退回"
    answer += "\n\n<b>x</b>"
    assert reply_text(answer) == (
        "退款步骤\n\n1. 打开订单\n2. 点击退款 (https://shop.example.com/r)\n\n- 3 天内到账\n- 原路退回\n\n<b>x</b>"
    )


@pytest.mark.parametrize(
    "text",
    [
        *("No", "yes thanks", "转人工", "好的，解决了，谢谢", "嗯", "你好", "在吗？", "12345678"),
        # requests for a person that say nothing more
        *("no, that did not help, I want to talk to someone", "不对，我要找人工客服", "请帮我转人工客服，谢谢"),
        *("I need a real person now", "human please", "我要找人工客服处理一下"),
        # a yes asked back is no yes to the bot, nor a question of its own (a trial)
        *("yes, right?", "对吗？", "是这个吗?"),
        # a channel's placeholder for a sticker or a file is none of the customer's words
        *("[sticker 👍]", "[not kept: dump.zip: it is over the 20480 KiB limit]"),
        # a status question is the progress bot's (a trial: the suggestions matched it)
        *("我的工单进度怎么样了", "进度", "any update on my ticket?"),
    ],
)
def test_meta_messages_are_no_questions(text: str) -> None:
    assert is_meta_message(text)


@pytest.mark.parametrize(
    "text",
    [
        *("退款没到账", "发票", "no refund yet", "not received", "how do I cancel?"),
        # a request for a person that says what it is about is a question (a review found these skipped)
        *("转人工，我的退款三天还没到账", "I want to talk to a person about my refund that never arrived"),
        "Can I talk to a human? My card was charged twice",
    ],
)
def test_questions_are_not_meta_messages(text: str) -> None:
    assert not is_meta_message(text)


def test_the_question_skips_yes_no_and_requests_for_a_person_after_the_bots_answer() -> None:
    thread = [
        customer("你好"),
        customer("退款怎么还没到账"),
        bot("退款将在 3 天内原路退回。"),
        bot("这解决了您的问题吗？"),
        customer("No"),
        customer("转人工"),
        bot("好的，已为您转接人工客服，我们会尽快回复您。"),
        agent("已为您加急，今天到账。"),
        customer("yes thanks"),
    ]
    pair = question_and_answer(thread)
    assert pair is not None and pair.question == "退款怎么还没到账" and pair.answer == "已为您加急，今天到账。"


@pytest.mark.parametrize(
    ("text", "quiet"),
    [
        *((t, True) for t in ("你好", "在吗？", "好", "嗯", "嗨", "早上好", "Hello!", "hi there", "OK.", "好的谢谢")),
        *((t, False) for t in ("no", "不对", "1000", "👋", "转人工", "怎么申请退款", "嗨，怎么退款")),
    ],
)
def test_a_greeting_thanks_or_acknowledgement_alone_asks_nothing_of_the_bot(text: str, quiet: bool) -> None:
    from conversation.kb_learning import only_greets_or_thanks

    assert only_greets_or_thanks(text) is quiet


def test_the_inbox_suggests_for_the_latest_message_that_asks_else_the_latest() -> None:
    from conversation.kb_learning import latest_question

    assert latest_question([customer("发票怎么开"), customer("不对，我要找人工客服"), customer("谢谢")]) == "发票怎么开"
    assert latest_question([customer("发票怎么开"), customer("转人工，退款三天没到")]) == "转人工，退款三天没到"
    assert latest_question([customer("你好"), bot("您好"), customer("转人工")]) == "转人工"  # none asks
    assert latest_question([bot("您好")]) == ""


def test_the_question_is_the_first_since_the_agents_answer_before_or_the_latest_substantive_one() -> None:
    reopened = [customer("怎么开发票"), agent("在订单详情申请。"), customer("还是不行，找不到按钮"), customer("好的"),
                agent("请更新到最新版本。")]  # fmt: skip
    pair = question_and_answer(reopened)
    assert pair is not None and pair.question == "还是不行，找不到按钮"
    asked_back = [customer("退款没到账"), agent("请提供订单号"), customer("2023112612345678"), agent("已退回。")]
    pair = question_and_answer(asked_back)
    assert pair is not None and pair.question == "退款没到账"
    assert question_and_answer([customer("你好"), customer("转人工"), agent("您好，请问有什么可以帮您？")]) is None


def test_a_question_the_bot_answered_before_the_ticket_reopened_is_not_the_agents() -> None:
    """A trial: the FAQ bot answered 密码忘了 (accepted, resolved); the customer wrote again about a
    refund, an agent answered that, and the proposal paired the refund answer with 密码忘了."""
    from dataclasses import replace

    reopened = replace(
        _msg(
            "Ticket #1000 reopened: the customer wrote again", Direction.INBOUND, AuthorType.SYSTEM, MessageKind.EVENT
        ),
        raw={"event": {"key": "event.reopened", "params": {"number": "1000"}}},
    )
    thread = [
        customer("你好"),
        customer("密码忘了登不上去咋整"),
        bot("请在登录页点击“忘记密码”。"),
        customer("是"),
        reopened,
        customer("我申请退款都一个礼拜了钱还没退回来"),
        bot("好的，已为您转接人工客服。"),
        agent("退款已原路退回，请查看银行卡。"),
    ]
    pair = question_and_answer(thread)
    assert pair is not None and pair.question == "我申请退款都一个礼拜了钱还没退回来"


def test_the_readme_documents_the_preview_body_and_what_masking_leaves() -> None:
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert '`POST /api/v1/kb/preview` (body `{"answer": "<Markdown>"}`' in readme
    assert "Names, WeChat IDs and street addresses are **not** masked: reviewers must check" in readme


def test_the_suggestions_question_leaves_the_channels_placeholders_out() -> None:
    """A review: "[not kept: …]" went into the suggestions' query and a proposal's question."""
    thread = [
        customer("[sticker 👍]"),
        customer("my invoice is wrong\n[not kept: inv.pdf: it is over the 20480 KiB limit]"),
    ]
    assert latest_question(thread) == "my invoice is wrong"
    assert latest_question([customer("[贴纸 👍]")]) == ""


@pytest.mark.parametrize(
    ("mail", "asked"),
    [
        ("你好，\n\n我的订单还没发货，请问什么时候能发？\n\n王芳", "我的订单还没发货，请问什么时候能发？"),
        ("Hi,\n\nhow do I reset my password?\n\nThanks,\nLi Na", "how do I reset my password?"),
        ("您好！\n退款三天还没到账", "退款三天还没到账"),  # the greeting on its own line
        ("退款没到\n\n此致\n敬礼\n王芳", "退款没到"),
        ("订单没到\n\n已经一周了", "订单没到\n\n已经一周了"),  # the customer's own words stay
        ("你好", "你好"),  # nothing but a greeting: as it is
        ("My parcel is late.\n\nOrder 123", "My parcel is late.\n\nOrder 123"),
    ],
)
def test_a_mails_question_is_read_without_its_salutation_and_signature(mail: str, asked: str) -> None:
    """A trial's mail ("你好，… 王芳") matched nothing that the same question in the chat matched at 82 %."""
    from conversation.kb_learning import question_part

    assert question_part(mail) == asked
