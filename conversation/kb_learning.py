"""Learning from resolved tickets: the rules both store backends and the hub share.

When an agent resolves a ticket, the customer's question and the agent's answer are
proposed for review, never learned directly: a proposal becomes a new example of an
existing article, or a draft article, only when a reviewer approves it. Personal data
(phone numbers, email addresses, order numbers, card numbers) is masked before anything
is proposed, so a reviewer never copies it into the knowledge base by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from conversation.errors import InvalidInput
from conversation.knowledge import Article, translations
from conversation.model import AuthorType, Direction, Message, MessageKind
from conversation.secrets import luhn_valid

PLUGIN = "kb"  # proposals are kept as records of this (hub-owned) namespace
KIND = "proposal"
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
MAX_TEXT = 500  # an example question is at most this long (conversation.knowledge.MAX_EXAMPLE)
MAX_ANSWER = 5000
# The best match must be at least this sure to be proposed as an example of that article;
# below it the pair is proposed as a new draft article (the reviewer may choose either way).
EXAMPLE_CONFIDENCE = 0.3

# A platform's order numbers by default: 8 to 24 digits, optionally after up to four capital
# letters and a dash (DD20231126001234, 2023112612345678); [knowledge] order_number_pattern.
DEFAULT_ORDER_PATTERN = r"(?<![A-Za-z0-9])(?:[A-Z]{1,4}-?)?\d{8,24}(?![A-Za-z0-9])"
PHONE_MASK, EMAIL_MASK, ORDER_MASK, CARD_MASK = "[phone]", "[email]", "[order]", "[card]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13 to 19 digits, possibly grouped by single spaces or dashes (4111 1111 1111 1111).
_CARD = re.compile(r"(?<![\d+])\d(?:[ -]?\d){12,18}(?!\d)")


def _cards(text: str) -> str:
    def masked(found: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", found.group())
        return CARD_MASK if luhn_valid(digits) else found.group()

    return _CARD.sub(masked, text)


def _phones(text: str, region: str) -> str:
    """Numbers libphonenumber finds valid for `region` (local forms) or anywhere (with +)."""
    spans = [
        (m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    ]
    for start, end in reversed(spans):
        text = text[:start] + PHONE_MASK + text[end:]
    return text


@lru_cache(maxsize=8)
def order_pattern(pattern: str) -> re.Pattern[str]:
    """The configured order-number pattern, compiled; InvalidInput when it is no regular expression."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidInput(f"order_number_pattern: not a regular expression ({exc})") from None


def mask_personal_data(text: str, *, order_numbers: str = DEFAULT_ORDER_PATTERN, region: str = "CN") -> str:
    """`text` with emails, card numbers (Luhn-checked), phone numbers and order numbers
    replaced by [email], [card], [phone] and [order]. Cards go before phones and orders
    (a card number is also a run of digits); emails first (they may hold digits)."""
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _cards(text)
    text = _phones(text, region)
    return order_pattern(order_numbers).sub(ORDER_MASK, text)


@dataclass(frozen=True)
class LearnedPair:
    question: str  # what the customer asked, as they wrote it (mask before proposing)
    answer: str  # what the agent answered


def _said(message: Message) -> bool:
    return message.kind is MessageKind.MESSAGE and bool(message.text.strip())


def question_and_answer(messages: Sequence[Message]) -> LearnedPair | None:
    """The pair a resolved ticket teaches: the agent's last answer to the customer, and what
    the customer wrote since the message before it (several short messages are one question).
    None when no agent answered (the bot, or nobody, resolved it) or no question preceded."""
    answer_at = next(
        (
            i
            for i in range(len(messages) - 1, -1, -1)
            if _said(messages[i])
            and messages[i].direction is Direction.OUTBOUND
            and messages[i].author_type is AuthorType.AGENT
        ),
        None,
    )
    if answer_at is None:
        return None
    asked: list[str] = []
    for message in reversed(messages[:answer_at]):
        if not _said(message):
            continue
        if message.direction is not Direction.INBOUND or message.automatic:
            if asked:
                break
            continue  # the agent's or bot's messages just before the answer: keep looking for the question
        asked.append(message.text.strip())
    if not asked:
        return None
    return LearnedPair("\n".join(reversed(asked))[:MAX_TEXT], messages[answer_at].text.strip()[:MAX_ANSWER])


def latest_question(messages: Iterable[Message]) -> str:
    """The latest message the customer wrote (what the inbox suggests articles for)."""
    latest = ""
    for message in messages:
        if _said(message) and message.direction is Direction.INBOUND and not message.automatic:
            latest = message.text
    return latest


def proposal_id(conversation_id: str) -> str:
    """One proposal per ticket, whatever happens to it later: the id is the ticket's."""
    return f"kb-proposal-{conversation_id}"


def learned_article_id(conversation_id: str) -> str:
    """A draft article made from a ticket has a fixed id, so approving twice creates it once."""
    return f"learned-{conversation_id}"[:80]


def with_example(examples: Sequence[str], example: str) -> tuple[str, ...] | None:
    """The article's examples with `example` added; None when it has it already."""
    if example.casefold() in (e.casefold() for e in examples):
        return None
    return (*examples, example)


def kb_language(language: str) -> str:
    """The knowledge base's language for a contact's (zh, zh-Hans-CN -> zh-CN; en-GB -> en); "" for others."""
    base = language.strip().lower().replace("_", "-").split("-")[0]
    return {"zh": "zh-CN", "en": "en"}.get(base, "")


def in_language(article: Article, articles: Iterable[Article], language: str) -> Article:
    """The published translation of `article` in `language` (a contact's), else the article itself."""
    wanted = kb_language(language)
    if not wanted or article.language == wanted:
        return article
    return next(
        (a for a in translations(article, articles) if a.language == wanted and a.published),
        article,
    )
