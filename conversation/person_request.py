"""Whether a customer's message asks for a person rather than asks a question: "转人工",
"客服在吗", "联系客服", "agent please", "contact support", "talk to someone".

One rule for the FAQ bot (which hands such a message to a person instead of answering or
offering articles) and the matcher's scope rules (which keep their confidence below any
auto-answer threshold). Why careful lists: "客服" and "support" are also the topic of real
questions ("如何投诉客服", "customer service was rude", "在线客服骂人"), so bare words count
only as the whole message, and other phrasings only with a verb of reaching someone
(联系 / 找 / 接通 / contact / talk to...) or a word of calling (在吗, please).
"""

from __future__ import annotations

import re
import unicodedata


def words(listed: str) -> frozenset[str]:
    """A set of phrases written "a|b|c"."""
    return frozenset(listed.split("|"))


# Whole messages (folded: case, width, outer punctuation and spaces dropped).
_WHOLE = words(
    "人工|转人工|人工客服|客服|在线客服|真人|真人客服|找客服|客服呢|有客服吗|客服人呢|客服你好|客服您好|你好客服"
    "|human|agent|person|operator|real person|a human|an agent|live agent|representative|customer service"
    "|customer support|support|customer care|someone|somebody|a person|an operator|a real person"
)
_ZH = (
    r"转人工|人工客服|找人工|要人工|接人工|真人|活人|人工服务"
    # 客服 as the one to reach: "联系客服", "我要找客服", "请帮我接通客服", "转接客服", "叫你们客服来"
    r"|(?:联系|联络|找|接通|转接|转到|转给|转|叫|呼叫|要|需要|请求|接)(?:一下)?(?:你们|您们)?(?:的)?(?:在线|人工|真人)?客服"
    # calling for one: "客服在吗", "客服在不在", "客服人呢", "客服有人吗", "有没有客服"
    r"|客服(?:在吗|在不在|在么|人呢|呢|有人吗|有人在吗)|有没有(?:人工|真人)?客服|有客服吗"
)
_REACH = r"(?:talk|speak|chat)\s+(?:to|with)|contact|reach|call|connect\s+me\s+(?:to|with)|transfer\s+me\s+to|get\s+me"
_SOMEONE = (
    r"(?:a|an|some|your|the|real|actual|live)?\s*(?:real\s+|actual\s+|live\s+)?"
    r"(?:person|human|agent|operator|representative|someone|somebody|people|customer\s+(?:service|support|care)|support)"
)
_EN = (
    rf"\b(?:{_REACH})\s+{_SOMEONE}\b"
    r"|\breal (?:person|people|human)\b|\blive (?:agent|person)\b|\bhuman (?:agent|being|support)\b"
    r"|\b(?:want|need)\s+(?:a|an|to\s+(?:talk|speak)\s+to\s+(?:a|an)?)\s*(?:real\s+|actual\s+|live\s+)?"
    r"(?:human|agent|person|operator)\b"
    r"|^(?:an?\s+)?(?:agent|human|person|operator|representative|customer\s+(?:service|support|care)|support)"
    r"\s*,?\s*(?:please|pls|plz|now)\b"
    r"|^(?:please|pls|plz)\s*,?\s*(?:an?\s+)?(?:agent|human|person|operator|customer\s+(?:service|support)|support)$"
)
_PERSON = re.compile(rf"{_ZH}|{_EN}", re.IGNORECASE)
_OUTER = re.compile(r"[\s\W_]+$|^[\s\W_]+")


def fold(text: str) -> str:
    """Width- and case-folded, outer punctuation and spaces dropped ("是的！" -> "是的")."""
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    return " ".join(_OUTER.sub("", folded).split())


def asks_for_person(text: str) -> bool:
    """ "转人工", "客服在吗", "联系客服", "human", "agent please", "I want to talk to a real person"..."""
    folded = fold(text)
    return folded in _WHOLE or bool(_PERSON.search(folded))


def without_person_request(text: str) -> str:
    """The message (folded) with its requests for a person taken out: "转人工，我的退款没到" ->
    "我的退款没到"; "" when the whole message is one."""
    folded = fold(text)
    return "" if folded in _WHOLE else fold(_PERSON.sub(" ", folded))
