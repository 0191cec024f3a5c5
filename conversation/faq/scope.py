"""Questions no knowledge-base article can answer however close their words are: a request
for a person ("转人工", "客服在吗", "agent please", the hotline's number; the bot's own rule
is conversation/person_request.py) and a question about one specific order, named by its
number. A matcher keeps ranking articles for them (agents still see suggestions) but lowers
their confidence below any auto-answer threshold.

Why rules: such questions share most of their words with real articles ("客服" with the
complaint about customer service, "order ... tracking" with shipment tracking), so on the
shared FAQ sets the n-gram model answered them with confidence 0.8-1.0 (README "FAQ
matching"). The bot hands them to a person instead.
"""

from __future__ import annotations

import re
import unicodedata

from conversation.person_request import asks_for_person

# "人工" and "真人" (a human), "转人工", the hotline's number, "live/real agent", "talk to a
# person/human", "customer service number/hotline".
_PERSON = re.compile(
    r"人工|真人|活人|客服电话|电话号码是多少|热线"
    r"|\bhuman\b|\breal (?:person|people)\b|\blive (?:agent|person|chat)\b|\bhotline\b"
    r"|\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|some|your)?\s*(?:person|human|agent|operator)\b"
    r"|\b(?:customer service|support)\s+(?:phone\s+)?number\b",
    re.IGNORECASE,
)
# An order, parcel or tracking reference: a run of 6 or more digits (or letters and digits
# starting with a digit) in a message that talks about an order or a parcel.
_CASE_NUMBER = re.compile(r"(?<![\d.])\d[\dA-Za-z-]{5,}")
_CASE_WORD = re.compile(r"订单|单号|包裹|快递|运单|\border\b|\bparcel\b|\bpackage\b|\btracking\b", re.IGNORECASE)
# Confidence factor for such questions: 0.5 keeps the ranking and puts 1.0 at 0.5, below the
# default threshold, so they are never auto-answered.
OUT_OF_SCOPE_FACTOR = 0.5
# A message of one or two words ("退款", "订单", "发票", "我的账号", "my account") names a topic,
# not a question: the matcher was sure of an article for each (0.89-0.99) and wrong for most
# (README "FAQ matching"). 0.6 puts 1.0 between the default suggest (0.4) and answer (0.7)
# thresholds: the bot offers its best titles instead of answering one.
VAGUE_FACTOR = 0.6
# Words a message has: each Latin word is one, every two CJK characters one (Chinese has no
# spaces; most words are two characters).
VAGUE_MAX_WORDS = 2
_LATIN_WORD = re.compile(r"[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af_]+")
_CJK_CHARACTER = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def needs_person(text: str) -> bool:
    """True for a request for a human or a question about one specific order by number."""
    text = unicodedata.normalize("NFKC", text)
    if _PERSON.search(text) or asks_for_person(text):
        return True
    return bool(_CASE_NUMBER.search(text) and _CASE_WORD.search(text))


def is_vague(text: str) -> bool:
    """True for a message of at most two words (a CJK character pair counts as one)."""
    text = unicodedata.normalize("NFKC", text)
    words = len(_LATIN_WORD.findall(text)) + (len(_CJK_CHARACTER.findall(text)) + 1) // 2
    return 0 < words <= VAGUE_MAX_WORDS


def confidence_factor(text: str) -> float:
    """What a matcher multiplies every article's confidence by for this question (1: none)."""
    factor = OUT_OF_SCOPE_FACTOR if needs_person(text) else 1.0
    return factor * VAGUE_FACTOR if is_vague(text) else factor
