"""Learning from resolved tickets: the rules both store backends and the hub share.

When an agent resolves a ticket, the customer's question and the agent's answer are
proposed for review, never learned directly: a proposal becomes a new example of an
existing article, or a draft article, only when a reviewer approves it. Personal data
(phone numbers, email addresses, order numbers, card numbers) is masked before anything
is proposed, so a reviewer never copies it into the knowledge base by accident.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from conversation import faq_bot
from conversation.errors import InvalidInput
from conversation.knowledge import Article, translations
from conversation.model import AuthorType, Direction, Message, MessageKind
from conversation.person_request import without_person_request
from conversation.placeholders import customer_words
from conversation.progress import status_question
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
# Only a match at least this sure is preselected in the review queue; below it the reviewer
# must choose the article (or "new draft") themselves, so a hurried approval teaches nothing wrong.
PRESELECT_CONFIDENCE = 0.7

# A platform's order numbers by default: 8 to 24 digits, optionally after up to four letters
# and a dash (DD20231126001234, so20241127000123 as customers type it, 2023112612345678);
# [knowledge] order_number_pattern.
DEFAULT_ORDER_PATTERN = r"(?<![A-Za-z0-9])(?:[A-Za-z]{1,4}-?)?\d{8,24}(?![A-Za-z0-9])"
PHONE_MASK, EMAIL_MASK, ORDER_MASK, CARD_MASK = "[phone]", "[email]", "[order]", "[card]"

# The top-level domains of Chinese addresses (user@例子.公司): a list, since nothing marks
# where one ends and the customer's next words begin ("…公司请回复").
_CHINESE_TLDS = (
    "公司|中国|中國|网络|網絡|在线|网址|网站|网店|商城|商店|集团|集團|企业|信息|手机|移动|游戏|娱乐|购物"
    "|香港|台湾|台灣|澳门|澳門|新加坡"
)
# An ASCII local part that starts a run of its characters (so the search stays linear on long
# runs, and never takes the Chinese before it), a domain in any script; an ASCII top-level
# domain ends at the first other letter ("…com请回复").
_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[\w-]+(?:\.[\w-]+)*\.(?:[A-Za-z]{{2,}}(?![A-Za-z])|{_CHINESE_TLDS})"
)
# 13 to 19 digits, possibly grouped by single spaces or dashes (4111 1111 1111 1111).
_CARD = re.compile(r"(?<![\d+])\d(?:[ -]?\d){12,18}(?!\d)")


def _cards(text: str, orders: re.Pattern[str]) -> str:
    """Luhn-valid digit runs as [card], but for one that is part of a longer order number
    (DD2024112712345678, whose 16 digits pass the check): the order pattern masks it, whole.
    A bare run of digits that the order pattern also takes is a card."""
    order_spans = [found.span() for found in orders.finditer(text)]

    def masked(found: re.Match[str]) -> str:
        inside = [(start, end) for start, end in order_spans if start <= found.start() and found.end() <= end]
        if any((start, end) != found.span() for start, end in inside):
            return found.group()
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
    orders = order_pattern(order_numbers)
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _cards(text, orders)
    text = _phones(text, region)
    return orders.sub(ORDER_MASK, text)


@dataclass(frozen=True)
class LearnedPair:
    question: str  # what the customer asked, as they wrote it (mask before proposing)
    answer: str  # what the agent answered


def _said(message: Message) -> bool:
    return message.kind is MessageKind.MESSAGE and bool(message.text.strip())


# Messages that say nothing to learn from: greetings, thanks, yes / no, acknowledgements
# (matched as a whole message, possibly several of them: "好的，谢谢", "yes thanks").
_META_WORDS = sorted(
    [
        "你好",
        "您好",
        "在吗",
        "在不在",
        "hi",
        "hello",
        "hey",
        "hallo",
        "good morning",
        "good afternoon",
        "good evening",
        "there",
        "all",
        "team",
        "嗨",
        "哈喽",
        "早",
        "早上好",
        "上午好",
        "下午好",
        "晚上好",
        "早安",
        "谢谢",
        "谢谢你",
        "谢谢您",
        "多谢",
        "感谢",
        "thanks",
        "thank you",
        "thx",
        "ty",
        "是",
        "是的",
        "对",
        "对的",
        "好",
        "好的",
        "行",
        "可以",
        "可以了",
        "嗯",
        "嗯嗯",
        "哦",
        "噢",
        "啊",
        "收到",
        "明白",
        "知道了",
        "解决了",
        "没问题",
        "ok",
        "okay",
        "k",
        "yes",
        "y",
        "yeah",
        "yep",
        "sure",
        "great",
        "cool",
        "got it",
        "solved",
        "it did",
        "that helped",
        "否",
        "不是",
        "不",
        "没有",
        "没",
        "不对",
        "不行",
        "没用",
        "没解决",
        "no",
        "n",
        "nope",
        "not really",
        "it did not",
        "it didn't",
        "人工",
        "转人工",
        "人工客服",
        "客服",
        "human",
        "agent",
        "person",
        "please",
        "请",
        "麻烦了",
        "bye",
        "再见",
        "so much",
        "very much",
        "a lot",
    ],
    key=len,
    reverse=True,
)
_SEPARATORS = re.compile(r"[\s\W_]+")
_LETTER = re.compile(r"[^\W\d_]")
MAX_META = 40  # a longer message is a question, whatever words it is made of


def _latin_letter(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _covered(text: str, at: int) -> bool:
    """Whether text[at:] is a run of meta words (a Latin word not cut off in the middle)."""
    while at < len(text) and text[at] == " ":
        at += 1
    if at == len(text):
        return True
    for word in _META_WORDS:
        end = at + len(word)
        whole = not (_latin_letter(word[-1]) and end < len(text) and _latin_letter(text[end]))
        if text.startswith(word, at) and whole and _covered(text, end):
            return True
    return False


def _meta_words_only(folded: str) -> bool:
    """Whether `folded` is nothing but meta words, separated by spaces or punctuation."""
    parts = [p for p in _SEPARATORS.split(folded) if p]
    return bool(parts) and _covered(" ".join(parts), 0)


def is_meta_message(text: str) -> bool:
    """A message that asks nothing the knowledge base answers: yes / no, a request for a person,
    a status question ("我的工单进度怎么样了"), a greeting, thanks, an acknowledgement ("好的谢谢",
    "yes thanks", "转人工", "嗯"), or no words at all (a number).
    A request for a person that also says what it is about ("转人工，我的退款三天还没到账") asks."""
    text = customer_words(text)  # a sticker or a file's placeholder asks nothing
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    if len(_LETTER.findall(folded)) < 2:
        return True
    if status_question(text) is not None:  # "进度?": the progress bot's, no question for the KB (a trial)
        return True
    reply = faq_bot.read_reply(text)
    if reply is faq_bot.Reply.PERSON:
        return not _says_more(without_person_request(text))
    if reply is not faq_bot.Reply.OTHER:
        return True
    if faq_bot.asks_back(text):  # "yes, right?", "对吗？": no yes to the bot, nor any new question
        return True
    return len(folded) <= MAX_META and _meta_words_only(folded)


_PARAGRAPHS = re.compile(r"\n\s*\n")
# A signature's line: a Chinese name (2-4 characters) or one to three capitalised words ("Li Na").
_NAME = re.compile(r"(?:[\u4e00-\u9fff]{2,4}|[A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2})[,，.。!！]?")
_SIGN_OFFS = frozenset(
    {"此致", "敬礼", "此致敬礼", "此致 敬礼", "regards", "best regards", "kind regards", "sincerely"}
)


def question_part(text: str) -> str:
    """What a message asks, without a mail's salutation above it ("你好，") and the signature
    below it ("王芳", "Thanks, Li Na"): a trial's mail matched nothing where the same question
    in the chat matched at 82 %. A message that is only those is left as it is."""
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text.strip()) if p.strip()]
    if len(paragraphs) == 1:  # "你好，\n请问…" on two lines
        lines = [line for line in paragraphs[0].splitlines() if line.strip()]
        if len(lines) > 1 and only_greets_or_thanks(lines[0]):
            paragraphs = ["\n".join(lines[1:])]
    if len(paragraphs) > 1 and only_greets_or_thanks(paragraphs[0]):
        paragraphs = paragraphs[1:]
    while len(paragraphs) > 1 and _closing(paragraphs[-1]):
        paragraphs = paragraphs[:-1]
    return "\n\n".join(paragraphs) or text


def _closing(paragraph: str) -> bool:
    """A mail's closing paragraph: up to three lines each thanks, a sign-off or a name
    ("Thanks,\nLi Na", "王芳"); "已经一周了" is the customer's words, kept."""
    lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
    return len(lines) <= 3 and all(
        only_greets_or_thanks(line) or line.casefold().strip(",，.。!！") in _SIGN_OFFS or _NAME.fullmatch(line)
        for line in lines
    )


def only_greets_or_thanks(text: str) -> bool:
    """A greeting, thanks or an acknowledgement and nothing more ("你好", "在吗", "hello",
    "好的谢谢", "ok"): with nothing asked before it, no question for a bot to answer or to
    hand on. Not a "no" (a complaint about something), a request for a person, nor a bare
    number (it may be an order or ticket number someone should read)."""
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    if not _LETTER.search(folded):  # a number, an emoji: someone should read it
        return False
    reply = faq_bot.read_reply(text)
    return reply in (faq_bot.Reply.OTHER, faq_bot.Reply.YES) and (
        reply is faq_bot.Reply.YES or _meta_words_only(folded)
    )


# What is left of a request for a person that still says nothing ("no, that did not help, I
# want [to talk to someone]", "不对，我要[找人工客服]"): these words, meta words and punctuation.
_REQUEST_FILLER = re.compile(
    r"\b(?:no|not|that|this|it|did|didn't|does|doesn't|help|helpful|i|i'd|i'm|want|need|would|like|to|with"
    r"|a|an|the|please|pls|can|could|you|me|let|just|now|again|about|for|and|but|so|ok|okay)\b"
    r"|我要|我想|我需要|请|帮我|给我|让|不对|不行|没用|没有用|一下|处理|客服|人工|吧|啊|呢|吗|可以|能|的|了|我|你们|您"
)
_SAYS_MORE_CJK = 3  # characters of Chinese left over: "退款没到" says what it is about
_SAYS_MORE_WORDS = 2  # Latin words left over: "refund arrived"


def _says_more(rest: str) -> bool:
    """Whether the rest of a request for a person names what it is about."""
    left = _REQUEST_FILLER.sub(" ", rest)
    words = [w for w in _SEPARATORS.split(left) if w and not _meta_words_only(w)]
    cjk = sum(1 for w in words for c in w if not c.isascii() and c.isalpha())
    latin = sum(1 for w in words if w.isascii() and _LETTER.search(w))
    return cjk >= _SAYS_MORE_CJK or latin >= _SAYS_MORE_WORDS


def _agent_answer(message: Message) -> bool:
    return _said(message) and message.direction is Direction.OUTBOUND and message.author_type is AuthorType.AGENT


def _customer_said(message: Message) -> bool:
    return _said(message) and message.direction is Direction.INBOUND and not message.automatic


# The thread's note that the customer wrote again after the ticket was resolved: what they
# asked before it was answered already (the bot's article, which they accepted).
REOPENED = ("event.reopened", "event.reopened_by_call")


def _reopened(message: Message) -> bool:
    event = (message.raw or {}).get("event")
    return message.kind is MessageKind.EVENT and isinstance(event, dict) and event.get("key") in REOPENED


def question_and_answer(messages: Sequence[Message]) -> LearnedPair | None:
    """The pair a resolved ticket teaches: the agent's last answer to the customer, and the
    customer's question it answers: the first substantive message the customer wrote since the
    agent's answer before, or since the ticket was last reopened (with the customer's messages
    straight after it: several short messages are one question), skipping greetings, thanks,
    yes / no and requests for a person. When there is none since, the latest substantive one before (the agent asked
    back, the customer only gave a number). None when no agent answered (the bot, or nobody,
    resolved it) or the customer asked nothing."""
    answer_at = next((i for i in range(len(messages) - 1, -1, -1) if _agent_answer(messages[i])), None)
    if answer_at is None:
        return None
    # since the agent's answer before, or since the ticket was reopened: a trial's question the
    # FAQ bot had answered (and the customer accepted) was paired with the agent's answer to
    # the next one, a refund
    before = next((i for i in range(answer_at - 1, -1, -1) if _agent_answer(messages[i]) or _reopened(messages[i])), -1)
    question = _first_question(messages, before + 1, answer_at) or _latest_question(messages, answer_at)
    if not question:
        return None
    return LearnedPair(question[:MAX_TEXT], messages[answer_at].text.strip()[:MAX_ANSWER])


def _first_question(messages: Sequence[Message], start: int, end: int) -> str:
    asked: list[str] = []
    for message in messages[start:end]:
        if not _said(message):
            continue
        if not _customer_said(message) or is_meta_message(message.text):
            if asked:
                break
            continue
        asked.append(customer_words(message.text).strip())
    return "\n".join(asked)


def _latest_question(messages: Sequence[Message], end: int) -> str:
    return next(
        (
            customer_words(m.text).strip()
            for m in reversed(messages[:end])
            if _said(m) and _customer_said(m) and not is_meta_message(m.text)
        ),
        "",
    )


def latest_question(messages: Iterable[Message]) -> str:
    """What the inbox suggests articles for: the customer's latest message that asks something
    (after "no, that did not help, I want a person" the question before it); the latest one
    when none does."""
    said = [words for m in messages if _customer_said(m) and (words := customer_words(m.text))]
    return next((text for text in reversed(said) if not is_meta_message(text)), said[-1] if said else "")


def matched_words(question: str) -> str:
    """What the agents' suggestions match a question by: without its request for a person
    ("转人工，我的退款三天还没到账" -> the refund question), whose words would pull the match
    toward complaints and lower it (conversation/faq/scope.py halves a request's confidence,
    right for the bot, which hands it on, not for an agent who must answer it)."""
    if faq_bot.read_reply(question) is not faq_bot.Reply.PERSON:
        return question
    rest = without_person_request(question)
    return rest if _says_more(rest) else question


def proposal_id(conversation_id: str) -> str:
    """One proposal per ticket, whatever happens to it later: the id is the ticket's."""
    return f"kb-proposal-{conversation_id}"


def learned_article_id(conversation_id: str) -> str:
    """A draft article made from a ticket has a fixed id, so approving twice creates it once.
    A digest of the ticket's id, not the id: the article's id is in its public help-centre
    address once published, and an internal ticket id has no business there."""
    digest = hashlib.sha256(conversation_id.encode()).hexdigest()[:16]
    return f"learned-{digest}"


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
