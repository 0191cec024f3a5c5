"""The help centre's word search reads a customer's query as a question's words (a trial:
"a" and "the" listed every article, "退款 refund" found nothing)."""

from __future__ import annotations

from conversation.help_search import help_search, query_terms
from conversation.knowledge import Article

ENGLISH = [
    Article(id="refund", title="How do I get a refund?", answer="Refunds are paid back to the card you used."),
    Article(id="late", title="My refund has not arrived", answer="A refunded payment takes 3 to 5 working days."),
    Article(id="password", title="How do I reset my password?", answer="Tap 'Forgot password' on the login page."),
    Article(id="address", title="How do I change my address?", answer="Open the order and edit the address."),
    Article(id="fees", title="What are the fees?", answer="Withdrawals to a bank account are free."),
    Article(id="invoice", title="How do I get an invoice?", answer="Open the order and tap Invoice."),
]
CHINESE = [
    Article(id="zh-refund", title="如何申请退款", answer="在订单页点击“申请退款”。", language="zh-CN"),
    Article(id="zh-late", title="退款多久到账", answer="退款一般 3-5 个工作日到账。", language="zh-CN"),
    Article(id="zh-code", title="收不到短信验证码", answer="请检查手机号是否正确。", language="zh-CN"),
    Article(id="zh-address", title="如何修改收货地址", answer="在订单详情页修改地址。", language="zh-CN"),
]


def ids(articles: list[Article]) -> list[str]:
    return [a.id for a in articles]


def test_words_found_in_most_articles_select_nothing_by_themselves() -> None:
    for query in ("the", "a", "How do I", "the a", "?!"):
        assert help_search(ENGLISH, query) == [], query


def test_a_question_finds_the_articles_with_its_telling_words_best_first() -> None:
    # "get" is in two articles: alone it is no reason to list the invoice (a trial's eleven results)
    assert ids(help_search(ENGLISH, "how do I get a refund")) == ["refund"]
    assert set(ids(help_search(ENGLISH, "refund"))) == {"refund", "late"}  # "refunded", "Refunds": word starts
    assert ids(help_search(ENGLISH, "refund not arrived")) == ["late"]  # one word of three is too few
    assert ids(help_search(ENGLISH, "refund card")) == ["refund"]  # the other, one common word of two: far behind


def test_a_letter_inside_a_word_is_no_match() -> None:
    assert query_terms("a b refund") == ["refund"]
    assert help_search(ENGLISH, "ank") == []  # inside "bank", not its start


def test_a_typo_in_one_word_of_several_still_finds_the_article() -> None:
    assert ids(help_search(ENGLISH, "reset pasword login"))[0] == "password"


def test_chinese_is_searched_by_its_character_pairs_and_a_mixed_query_still_finds() -> None:
    assert query_terms("退款没到账") == ["退款", "款没", "没到", "到账"]
    assert ids(help_search(CHINESE, "退款没到账"))[0] == "zh-late"  # 退款 and 到账: half its pairs
    assert set(ids(help_search(CHINESE, "退款 refund"))) == {"zh-refund", "zh-late"}  # was: nothing
    assert help_search(CHINESE, "今天天气怎么样") == []


def test_a_small_knowledge_base_has_no_common_words_to_drop() -> None:
    two = ENGLISH[:2]
    assert set(ids(help_search(two, "refund"))) == {"refund", "late"}
    assert help_search([], "refund") == []


def test_a_word_next_to_a_chinese_character_is_a_word() -> None:
    app = Article(id="app", title="在App里申请退款", answer="打开App，点“我的订单”。", language="zh-CN")
    assert ids(help_search([app], "app")) == ["app"]  # the characters around it part it


def test_a_long_question_finds_the_article_three_of_its_word_pairs_name() -> None:
    """A customer's paragraph: half of its thirty pairs is more than any article has."""
    question = "你好我上周在你们网站买了一件衣服但是尺码不合适现在想申请退款"
    assert ids(help_search(CHINESE, question))[0] == "zh-refund"
    assert ids(help_search(CHINESE, question + " refund please"))[0] == "zh-refund"  # Latin words kept too


def test_a_stored_articles_index_is_made_once_per_version() -> None:
    from datetime import UTC, datetime

    stored = Article(
        id="s", title="Refunds", answer="Paid back in 5 days.", updated_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert ids(help_search([stored], "refund")) == ["s"]
    changed = Article(id="s", title="Invoices", answer="Sent by mail.", version=2, updated_at=stored.updated_at)
    assert help_search([changed], "refund") == [] and ids(help_search([changed], "invoice")) == ["s"]
