"""Which of the hub's customer languages a message is clearly written in, by its letters.

The FAQ bot answers in the language of the question when it is clear ("how do I cancel my
order" gets the English article even from a contact whose browser says zh-CN), and falls
back to the contact's language otherwise ("1", "ok", a mixed or other-script message).
"""

from __future__ import annotations

import re
import unicodedata

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Kana or Hangul: Japanese or Korean, which have no catalog; Han characters alone cannot tell.
_OTHER_CJK = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
# Chinese when at least this share of its letters are Han characters: a Chinese sentence with
# a brand name ("可以用apple pay吗", 4 of 12) is still Chinese.
CHINESE_SHARE = 0.3
# English only with no Han character and at least this many Latin letters ("ok" says nothing).
MIN_ENGLISH_LETTERS = 4


def clear_language(text: str) -> str | None:
    """ "zh-CN", "en", or None when the message does not say clearly."""
    text = unicodedata.normalize("NFKC", text)
    if _OTHER_CJK.search(text):
        return None
    han, latin = len(_HAN.findall(text)), len(_LATIN.findall(text))
    if han and han / (han + latin) >= CHINESE_SHARE:
        return "zh-CN"
    if not han and latin >= MIN_ENGLISH_LETTERS:
        return "en"
    return None
