"""The FAQ bot's decisions, as pure functions (plugins/faq.py words and acts on them).

- Whether the bot may speak on a ticket at all: never once a person owns it (assigned, handed
  off, or an agent already replied), never on automatic mail, only on a customer's message.
- What a customer's reply means while the bot waits for one: yes / no to "did this answer
  your question?", the number or button of an offered article, a request for a person.
- What to do with a question: answer (confident), offer titles (unsure), hand off (neither),
  never answering an article (or its translation) the ticket was already given.
- The article's Markdown as plain text, for channels that show no HTML (Telegram, SMS...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from markdown_it import MarkdownIt
from markdown_it.token import Token

from conversation.markdown_html import SCRIPT_SCHEMES, without_script_links
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind
from conversation.person_request import asks_for_person, words
from conversation.person_request import fold as _fold

_T = TypeVar("_T")
CHOICE_PREFIX = "faq:"
YES, NO, NONE = f"{CHOICE_PREFIX}yes", f"{CHOICE_PREFIX}no", f"{CHOICE_PREFIX}none"
PICK = f"{CHOICE_PREFIX}pick:"  # + 1, 2, 3: short, as Telegram's 64-byte button data needs
MAX_OFFERS = 3


# Replies read as yes / no once folded (case, width, outer punctuation). A reply may be
# several of them with thanks ("yes thanks", "好的，解决了，谢谢", "解决了谢谢", "no thanks")
# and words pointing at the answer ("yes that one", "不是这个"): each phrase is peeled off its
# start, longest first; all must be such phrases, and one must say yes (or no).
_YES_WORDS = words(
    "是|是的|对|对的|好|好的|好了|解决了|已解决|有用|有帮助|可以了|可以|行了|嗯|嗯嗯|恩|ok了|没问题了|就是|没错|正是"
    "|没问题|没有问题|不是问题|没什么问题"
    "|yes|y|yeah|yep|yup|ok|okay|solved|it did|that helped|it helped|it worked|perfect|great|exactly|correct"
    "|right|that's it|that’s it|that is it|that's the one|that’s the one|that is the one|1"
)
_NO_WORDS = words(
    "否|不是|不|没有|没|不对|没解决|没有解决|没用|没有用|不行|还是不行|还不行|依然不行|还是没用|不好使|还是不好使"
    "|还是不对|也不对|都不对|也不是|还是没解决|还是没有解决|还是错的"
    "|不是我要的|不是我要的答案|不是我想问的|不是我问的|答非所问|没帮助|没有帮助|没帮上|没帮到|错了"
    "|no|n|nope|nah|not really|it did not|it didn't|didn't help|did not help|doesn't work|still not working"
    "|still doesn't work|wrong|not right|not correct|not that|not this|that's not it|that’s not it|that is not it"
    "|not what i asked"
    "|not what i meant|not what i was asking|still wrong|still not right|still not solved|neither|2"
)
_THANKS = words("谢谢|谢谢你|谢谢您|谢啦|多谢|感谢|thanks|thank you|thx|ty|cheers")
_YES_WORDS |= _THANKS  # thanks alone says it helped
# Words that only point at the answer or ask politely: neither yes nor no on their own.
_POINTING = words(
    "这个|那个|这条|这篇|这个问题|这个答案|这个回答|请"
    "|that one|this one|one|answer|the answer|that answer|this answer|please|pls"
)
_SEPARATORS = re.compile(r"[\s,，。.!！~～、;；]+")


def _says(text: str, kind: frozenset[str]) -> bool:
    """Whether the text is nothing but phrases of `kind`, thanks and pointing words, with at
    least one of `kind` (thanks alone is one of yes's phrases)."""
    phrases = sorted(kind | _THANKS | _POINTING, key=len, reverse=True)
    rest = _SEPARATORS.sub(" ", text).strip()
    said = False
    while rest:
        found = next((p for p in phrases if rest.startswith(p) and _ends_word(rest, len(p))), None)
        if found is None:
            return False
        said = said or found in kind
        rest = rest[len(found) :].strip()
    return said


def _ends_word(text: str, end: int) -> bool:
    """A Latin phrase must end at a word's end ("no" is not the start of "nothing")."""
    return end == len(text) or not (text[end - 1].isascii() and text[end].isascii() and text[end].isalnum())


class Reply(StrEnum):
    YES = "yes"
    NO = "no"
    PERSON = "person"
    OTHER = "other"  # a new question, or words the bot does not read as an answer


class Action(StrEnum):
    ANSWER = "answer"
    OFFER = "offer"
    HAND_OFF = "hand_off"


def read_reply(text: str, choice_id: str = "") -> Reply:
    """What the customer's message says to "did this answer your question?"."""
    if choice_id == YES:
        return Reply.YES
    if choice_id in (NO, NONE):
        return Reply.NO
    if asks_for_person(text):
        return Reply.PERSON
    folded = _fold(text)
    # "right?", "that's it?", "可以？": asked back, not a yes (folding drops the question mark)
    if folded and _says(folded, _YES_WORDS) and not ("?" in text or "？" in text):
        return Reply.YES
    if folded and _says(folded, _NO_WORDS):
        return Reply.NO
    return Reply.OTHER


# "对吗？", "yes, right?": a yes asked back, the particle asking too.
_ASKED_BACK = re.compile(r"[吗吧嘛]?\s*[?？]")


def asks_back(text: str) -> bool:
    """A yes asked back ("yes, right?", "是这个吗？"): no yes to "did this answer your
    question?", and no new question either; the customer is unsure."""
    return (
        read_reply(text) is Reply.OTHER
        and _ASKED_BACK.search(text) is not None
        and read_reply(_ASKED_BACK.sub(" ", text)) is Reply.YES
    )


_CLAUSE_END = re.compile(r"[,.!;:?，。！；：？\n]")


def after_a_no(text: str) -> str | None:
    """What follows a no that leads the message ("不是这个，我问的是发票" -> "我问的是发票",
    "No, I meant the fee" -> "I meant the fee"; a line break or "不对？" end the no too): the
    answer did not help, and the rest says what the customer meant. None when the message does
    not lead with a no: a yes with a "but" ("对，但是还是不行") is neither, and "2.5元…" is an
    amount, not the digit for no."""
    said = unicodedata.normalize("NFKC", text).strip()
    end = _CLAUSE_END.search(said)
    if end is None:
        return None
    head, rest = _fold(said[: end.start()]), said[end.end() :].strip()
    return rest if rest and not head.isdigit() and _says(head, _NO_WORDS) else None


def picked(text: str, choice_id: str, offered: int) -> int | None:
    """The index (0-based) of the offered article the customer chose by button or number; None
    when the message picks none of them. "0" is "none of these" and reads as -1."""
    if choice_id.startswith(PICK):
        number = choice_id.removeprefix(PICK)
    elif choice_id == NONE:
        return -1
    elif choice_id:
        return None
    else:
        number = _fold(text).removeprefix("#")
    if not number.isascii() or not number.isdigit() or len(number) > 2:
        return None
    index = int(number)
    if index == 0:
        return -1
    return index - 1 if index <= offered else None


def human_owns(conversation: Conversation) -> bool:
    """Assigned to an agent, handed off by a bot, or an agent already replied: the bot is quiet."""
    return conversation.human_owned or conversation.first_response_at is not None


def may_answer(conversation: Conversation, message: Message) -> bool:
    """Only a customer's own message (never an automatic one: an auto-reply, a bounce) on a
    ticket no person owns."""
    return _customers_own(message) and not human_owns(conversation)


def _customers_own(message: Message) -> bool:
    return (
        message.direction is Direction.INBOUND
        and message.kind is MessageKind.MESSAGE
        and message.author_type is AuthorType.CONTACT
        and not message.automatic
    )


REASSURE_EVERY = timedelta(minutes=30)


def reassures(conversation: Conversation, message: Message, text: str, last_said: str = "") -> bool:
    """Whether a customer asking for a person again ("转人工" twice) is told they are with the
    team already: on a ticket handed to people that no agent has answered yet (once one has,
    they are talking to a person), at most once in `REASSURE_EVERY` (`last_said`: when it was
    said before, ISO). Without it, the second request went unanswered (a trial)."""
    if not _customers_own(message) or not asks_for_person(text):
        return False
    if not conversation.human_owned or conversation.first_response_at is not None:
        return False
    return not last_said or message.created_at - datetime.fromisoformat(last_said) >= REASSURE_EVERY


@dataclass(frozen=True)
class Guess:
    """One article the matcher ranked, in the group of its translations."""

    article_id: str
    group: str
    title: str
    confidence: float


@dataclass(frozen=True)
class Decision:
    action: Action
    guesses: tuple[Guess, ...]  # what to answer (the first) or offer; for a hand-off, the note's guesses
    reason: str = ""  # for a hand-off: "unsure", "repeat"


def decide(
    guesses: Sequence[Guess], *, answered: Sequence[str], answer_threshold: float, suggest_threshold: float
) -> Decision:
    """Answer the best guess when it reaches `answer_threshold`; offer the guesses that reach
    `suggest_threshold` (up to three) when it does not; else hand off. Articles whose group
    the ticket was already answered with are never given again: when the best guess is one,
    the customer has had that answer, so a person takes over."""
    ranked = best_of_each_group(guesses)
    fresh = tuple(g for g in ranked if g.group not in answered)
    if ranked and ranked[0].confidence >= answer_threshold:
        if ranked[0].group in answered:
            return Decision(Action.HAND_OFF, ranked, "repeat")
        return Decision(Action.ANSWER, (ranked[0],))
    offers = tuple(g for g in fresh if g.confidence >= suggest_threshold)[:MAX_OFFERS]
    if offers:
        return Decision(Action.OFFER, offers)
    return Decision(Action.HAND_OFF, ranked, "unsure")


def best_of_each_group(guesses: Sequence[Guess]) -> tuple[Guess, ...]:
    """An article and its translation are one answer: the better ranked stands for both."""
    return one_per_group(guesses, lambda guess: guess.group)


def one_per_group(ranked: Iterable[_T], group: Callable[[_T], str]) -> tuple[_T, ...]:
    """The first of each group, in the order given (best first): an article and its
    translation (one `group`) are one answer, for the bot's guesses as for the agents'
    suggestions."""
    seen: set[str] = set()
    kept = []
    for item in ranked:
        if group(item) not in seen:
            seen.add(group(item))
            kept.append(item)
    return tuple(kept)


# -- Markdown as plain text ---------------------------------------------------------------
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def markdown_text(markdown: str) -> str:
    """An answer's Markdown for a channel that shows plain text: paragraphs and headings on
    their own lines, list items as "• " (or "1. "), links as "text (url)", tables as rows of
    cells joined by " | ", emphasis marks dropped. Nothing of it is markup any more."""
    lines: list[str] = []
    lists: list[list[int]] = []  # per open list: [next number] or [] for bullets
    row: list[str] | None = None  # the cells of the table row being read
    prefix = ""
    for token in _MARKDOWN.parse(markdown):
        kind = token.type
        if kind == "bullet_list_open":
            lists.append([])
        elif kind == "ordered_list_open":
            lists.append([int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists:
                lines.append("")
        elif kind == "list_item_open":
            indent = "  " * (len(lists) - 1)
            counter = lists[-1]
            if counter:
                prefix = f"{indent}{counter[0]}. "
                counter[0] += 1
            else:
                prefix = f"{indent}• "
        elif kind == "inline":
            text = _inline_text(token.children or [])
            if row is not None:
                row.append(text)
            else:
                lines.append(prefix + text)
                prefix = ""
        elif kind in ("paragraph_close", "heading_close") and not lists:
            lines.append("")
        elif kind in ("fence", "code_block"):
            lines.extend([*token.content.rstrip("\n").split("\n"), ""])
        elif kind == "hr":
            lines.extend(["———", ""])
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            lines.append(" | ".join(row))
            row = None
        elif kind == "table_close":
            lines.append("")
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    link: list[str] = []  # the href of the link being written, if any
    label_start = 0
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "link_open":
            link.append(str(child.attrGet("href") or ""))
            label_start = len(parts)
        elif child.type == "link_close" and link:
            href = _shown_address(link.pop())
            label = "".join(parts[label_start:])
            if href and href != label and href.removeprefix("mailto:") != label:
                parts.append(f" ({href})")
        elif child.type == "image":
            src = _shown_address(str(child.attrGet("src") or ""))
            alt = child.content or "".join(c.content for c in child.children or [])
            parts.append(f"{alt} ({src})" if alt and src else alt or src)
    # markdown-it leaves a script's link as the characters typed (across several tokens when
    # its words are emphasised): shown so, an app that renders Markdown would make it a link
    # again. Its words stay.
    return without_script_links("".join(parts))


def _shown_address(href: str) -> str:
    """A link's address as the plain text shows it: any but a script's (relative help links,
    `weixin://`, `www.…` stay), so no app that makes links of what looks like one runs it."""
    scheme, colon, _rest = href.strip().partition(":")
    return "" if colon and scheme.strip().lower() in SCRIPT_SCHEMES else href


# -- what the bot answered, and how it went -------------------------------------------------
PLUGIN = "faq"  # the plugin's name: its records are ("faq", "answer")
ANSWER_KIND = "answer"
# A guess under this confidence is noise to an agent ("忘记密码怎么找回 (0%)"): the bot's
# hand-off note and the agents' suggestions leave it out (the hand-off record keeps it).
SHOWN_MIN_CONFIDENCE = 0.05
HANDOFF_KIND = "handoff"
# Why the bot handed a ticket to a person (faq.agent.reason.<reason> in the catalogs).
HANDOFF_REASONS = ("person", "not_helpful", "unsure", "repeat", "none", "unresolved")


class Outcome(StrEnum):
    """The status of an `answer` record (one per article the bot gave a ticket)."""

    ASKED = "asked"  # answered; the customer has not said whether it helped
    DEFLECTED = "deflected"  # "yes": the bot resolved the ticket (or set it pending) and no person took it since
    HELPFUL = "helpful"  # "yes", but a person took the ticket afterwards (or it could not be resolved)
    NOT_HELPFUL = "not_helpful"  # "no", or asked for a person right after the answer
    UNCONFIRMED = "unconfirmed"  # the customer wrote something else instead
    # "yes", the bot resolved the ticket, and the customer came back to it within the reopen
    # window ("还是不行", or a question that went to a person): not a deflection after all
    REOPENED = "reopened"


OUTCOMES = tuple(Outcome)


@dataclass(frozen=True)
class ArticleStats:
    """How the bot's answers with one article went."""

    answered: int = 0
    deflected: int = 0
    helpful: int = 0  # deflected ones included
    not_helpful: int = 0
    unconfirmed: int = 0
    waiting: int = 0  # asked, no word yet
    reopened: int = 0  # resolved by the bot, then the customer came back and a person took it

    @property
    def deflection_rate(self) -> float:
        """Share of the answers that resolved their ticket without a person."""
        return self.deflected / self.answered if self.answered else 0.0

    @property
    def not_helpful_rate(self) -> float:
        """Share of the answers the customer said did not help."""
        return self.not_helpful / self.answered if self.answered else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "answered": self.answered,
            "deflected": self.deflected,
            "helpful": self.helpful,
            "not_helpful": self.not_helpful,
            "unconfirmed": self.unconfirmed,
            "waiting": self.waiting,
            "reopened": self.reopened,
            "deflection_rate": round(self.deflection_rate, 4),
            "not_helpful_rate": round(self.not_helpful_rate, 4),
        }


def stats_of(counts: dict[str, int]) -> ArticleStats:
    """One article's figures from its answer records counted by status."""
    deflected = counts.get(Outcome.DEFLECTED, 0)
    return ArticleStats(
        answered=sum(counts.values()),
        deflected=deflected,
        helpful=deflected + counts.get(Outcome.HELPFUL, 0),
        not_helpful=counts.get(Outcome.NOT_HELPFUL, 0),
        unconfirmed=counts.get(Outcome.UNCONFIRMED, 0),
        waiting=counts.get(Outcome.ASKED, 0),
        reopened=counts.get(Outcome.REOPENED, 0),
    )


def stats_by_article(counts: dict[tuple[object, str], int]) -> dict[str, ArticleStats]:
    """{article id: figures} from answer records counted by (article id, status)."""
    by_article: dict[str, dict[str, int]] = {}
    for (article_id, status), count in counts.items():
        by_article.setdefault(str(article_id), {})[status] = count
    return {article_id: stats_of(by_status) for article_id, by_status in by_article.items()}


def total(stats: dict[str, ArticleStats]) -> ArticleStats:
    """Every article's figures added up."""
    return ArticleStats(**{f.name: sum(getattr(s, f.name) for s in stats.values()) for f in fields(ArticleStats)})


def title_in_question(title: str) -> str:
    """An article's title inside "Did you mean “…”?": without its own question mark, which
    read twice asked ("您是想问“如何申请七天无理由退货？”吗？", a trial)."""
    return title.rstrip("?？ \t")
