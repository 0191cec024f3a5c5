"""Which of the hub's customer languages a message is clearly written in, by its letters.

The FAQ bot and the status answers reply in the language of the question when it is clear
("how do I cancel my order" gets the English article even from a contact whose browser says
zh-CN), and otherwise ("1", "ok", a tapped button, a mixed or other-script message) in that
of the customer's latest message on the ticket that was clear, else the contact's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from conversation.model import AuthorType, Direction, Message, MessageKind
from conversation.placeholders import customer_words

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Kana or Hangul: Japanese or Korean, which have no catalog; Han characters alone cannot tell.
_OTHER_CJK = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
# Chinese when at least this share of its letters are Han characters: a Chinese sentence with
# a brand name ("可以用apple pay吗", 4 of 12) is still Chinese.
CHINESE_SHARE = 0.3
# English only with no Han character, at least this many Latin letters ("ok" says nothing) and
# words: one word alone is as often a name a Chinese customer types ("iPhone", "PayPal", an
# order code) as English (a zh-CN sender's "nullbyte" was answered in English: a trial).
MIN_ENGLISH_LETTERS = 4
MIN_ENGLISH_WORDS = 2


def clear_language(text: str) -> str | None:
    """ "zh-CN", "en", or None when the message does not say clearly. A channel's placeholder
    line ("[not kept: x.pdf: …]", in the hub's language) says nothing of the customer's."""
    text = unicodedata.normalize("NFKC", customer_words(text))
    if _OTHER_CJK.search(text):
        return None
    han, latin = len(_HAN.findall(text)), len(_LATIN.findall(text))
    if han and han / (han + latin) >= CHINESE_SHARE:
        return "zh-CN"
    if not han and latin >= MIN_ENGLISH_LETTERS and len(_LATIN_WORD.findall(text)) >= MIN_ENGLISH_WORDS:
        return "en"
    return None


_LATIN_WORD = re.compile(r"[A-Za-z]+")
# Words (a Han character or a run of Latin letters) a text needs before its majority says anything.
MIN_MAJORITY_WORDS = 8


def main_language(text: str) -> str | None:
    """`clear_language`, else for a longer text that mixes both (an English list quoting
    Chinese subjects) the one most of its words are in (a Latin word counts one, two Han
    characters one: most Chinese words have two); None for a short or other-script text."""
    clear = clear_language(text)
    if clear or _OTHER_CJK.search(text):
        return clear
    text = unicodedata.normalize("NFKC", text)
    chinese, english = len(_HAN.findall(text)) / 2, len(_LATIN_WORD.findall(text))
    if chinese + english < MIN_MAJORITY_WORDS or chinese == english:
        return None
    return "zh-CN" if chinese > english else "en"


MIN_WORDS_OVER_CONTACT = 3  # English words a message needs to be answered in English to a Chinese contact


def message_language(text: str) -> str | None:
    """The language a message is answered in over its contact's: clear_language's, and for
    English at least three words ("I forgot my password" is; "order X-1" says too little to
    answer a Chinese contact in English)."""
    language = clear_language(text)
    if language == "en" and len(_LATIN_WORD.findall(customer_words(text))) < MIN_WORDS_OVER_CONTACT:
        return None
    return language


def latest_clear_language(messages: Sequence[Message]) -> str | None:
    """The language of the newest message a customer wrote (not a machine's auto-reply, nor a
    tapped button, whose text is the bot's own label or the button's id) that is clearly
    written in one; `messages` in thread order."""
    for message in reversed(messages):
        if (
            message.direction is Direction.INBOUND
            and message.author_type is AuthorType.CONTACT
            and message.kind is MessageKind.MESSAGE
            and not message.automatic
            and not message.choice_id
        ):
            language = clear_language(message.text)
            if language:
                return language
    return None


def reply_language(text: str | None, messages: Sequence[Message], fallback: str) -> str:
    """The language to answer a customer's `text` in (the FAQ bot's, and the agent's
    suggested answers): the text's own when it is clearly Chinese or English, else that of
    the customer's latest clear message on the ticket (`messages`, in thread order), else
    `fallback` (the contact's). `text` None: a tapped button, whose words are not the customer's."""
    return (clear_language(text) if text else None) or latest_clear_language(messages) or fallback
