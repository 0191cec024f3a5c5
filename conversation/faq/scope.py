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


def needs_person(text: str) -> bool:
    """True for a request for a human or a question about one specific order by number."""
    text = unicodedata.normalize("NFKC", text)
    if _PERSON.search(text) or asks_for_person(text):
        return True
    return bool(_CASE_NUMBER.search(text) and _CASE_WORD.search(text))
