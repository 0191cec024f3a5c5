"""A short answer to a bot's question, as a mail program sends it: the bots read the answer,
not the quote of their own question below it (a trial's order id carried the quote)."""

from __future__ import annotations

from conversation.inbound import answer_words
from hub.sdk import typed_choice


def test_the_quote_under_a_top_posted_answer_is_not_the_answer() -> None:
    assert answer_words("o-7777\n\n> Which order is the dispute about?\n> o-7777 Phone case") == "o-7777"
    assert answer_words("2\r\n\r\n> 1. Yes\r\n> 2. No\r\n").strip() == "2"
    assert answer_words("see below\n> quoted\nmy real answer") == "see below\n> quoted\nmy real answer"
    assert answer_words("> all of it is quote") == "> all of it is quote"  # never nothing


def test_a_typed_choice_is_read_above_the_quote() -> None:
    choices = [["yes", "是"], ["no", "否"]]
    assert typed_choice("2\n\n> 这解决了您的问题吗？\n> 1. 是\n> 2. 否", choices) == "no"
    assert typed_choice("是\n> 1. 是", choices) == "yes"
    assert typed_choice("> 2", choices) == ""  # a quote alone answers nothing
