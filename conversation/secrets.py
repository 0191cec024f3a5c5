"""Secrets customers type into a message, found so they can be replaced before it is stored.

Five kinds: payment card numbers (13-19 digits, spaces or dashes allowed, a card network's
prefix and a valid Luhn check digit), Chinese resident ID numbers (GB 11643: a province
code, a real birth date and the ISO 7064 MOD 11-2 check character), and, when a word says
what follows, CVVs, one-time codes and passwords.

The rules lean towards leaving ordinary text alone: a number has to pass its checksum (an
order or phone number almost never does, and phone numbers are too short or start with
"+"), a number labelled as an order or tracking number is an order number, and a word like
"code" or "password" needs a value that looks like one ("my password is wrong" is not a
password). What the rules find is the value only: "my password is [password removed]"
still tells the agent what the customer tried to say.

Pure functions: the hub supplies the words that replace a secret (`Placeholder`), in the
customer's language, from its catalogs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class SecretKind(StrEnum):
    CARD_NUMBER = "card_number"
    RESIDENT_ID = "resident_id"
    CVV = "cvv"
    ONE_TIME_CODE = "one_time_code"
    PASSWORD = "password"


# The words that take a secret's place; the hub's catalog says them in the customer's language.
Placeholder = Callable[[SecretKind], str]


@dataclass(frozen=True, slots=True)
class Finding:
    kind: SecretKind
    start: int
    end: int


# Customers on Chinese input methods type full-width digits and letters as often as ASCII ones.
_DIGIT = "[0-9\uff10-\uff19]"
_ALNUM = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_RIGHT = rf"(?![{_ALNUM}])"
_SEP = "[ \\-\u3000\uff0d]"  # a space or dash, full-width ones too

# A run of digits with single spaces or dashes between them; not part of a word, a decimal
# number or a phone number written with "+". Possessive: a run is never cut short to fit.
# The first digit comes first and what precedes it is checked by looking behind it (_FIRST):
# a search then jumps from digit to digit instead of trying every position of the text.
# (Not \b: CJK characters are \w in Python, so \b would not separate 卡号4111...)
_FIRST = rf"{_DIGIT}(?<![{_ALNUM}]{_DIGIT})(?<!{_DIGIT}{_SEP}{_DIGIT})"
_DIGIT_RUN = re.compile(
    rf"{_FIRST}(?<![+\uff0b]{_DIGIT})(?<!{_DIGIT}[.,]{_DIGIT})"
    rf"(?:{_SEP}?{_DIGIT})*+"
    rf"{_RIGHT}(?![.,]{_DIGIT})"
)
_RESIDENT_ID = re.compile(
    rf"({_FIRST}{_DIGIT}{{5}}{_SEP}?{_DIGIT}{{8}}{_SEP}?{_DIGIT}{{3}}[0-9\uff10-\uff19Xx\uff38\uff58])"
    rf"{_RIGHT}"
)
# A number right after one of these labels is the order's, whatever its checksum says.
_ORDER_LABEL = re.compile(
    r"(?:订单|訂單|单号|單號|运单|運單|快递|物流|交易号|流水号|发票|"
    r"order|tracking|invoice|shipment|parcel|reference|ref|transaction id)"
    r"\s*(?:号码|編號|编号|号|號|no\.?|number|num|id|#)?\s*(?:[:：#]|is|是|为)?\s*$",
    re.I,
)
_SEPARATOR = r"\s*(?:(?:is|was|are)(?![A-Za-z])|[:：=#]|是|为|為)"
_CVV = re.compile(
    r"(?i)(?<![A-Za-z])"
    r"(?:cvv2?|cvc2?|cvn2?|card security code|security code|安全码|安全碼|"
    r"(?:卡)?背面(?:的)?(?:后|後)?(?:三|3)位(?:数字|數字|数|码|碼)?)"
    r"(?![A-Za-z])(?:\s*(?:码|碼|number|code|no\.?))?"
    rf"(?:{_SEPARATOR})*\s*({_DIGIT}{{3,4}}){_RIGHT}(?![.,]{_DIGIT})"
)
# A one-time code's value: 4 to 8 digits, run together or in groups as it is read out
# ("482 913", "837-854", "48 29 13"); `code_length` rules out groups of more digits.
CODE_VALUE = rf"{_DIGIT}{{2,4}}(?:{_SEP}{_DIGIT}{{2,4}}){{1,3}}|{_DIGIT}{{4,8}}"
_CODE_SEPS = re.compile(_SEP)
_CODE = re.compile(
    r"(?i)(?<![A-Za-z])"
    r"(验证码|驗證碼|校验码|校驗碼|动态码|動態碼|动态密码|動態密碼|短信码|確認碼|确认码|登录码|"
    r"otp|one[- ]?time (?:code|password|passcode|pin)|(?:verification|confirmation|security|login|sms|2fa|"
    r"auth|authentication|access) code|passcode|code)"
    rf"(?![A-Za-z])(?:{_SEPARATOR})*\s*({CODE_VALUE}){_RIGHT}(?![.,]{_DIGIT})"
)
# "code" alone is a secret unless a word before it says which code: these are not secrets.
_NOT_A_SECRET_CODE = re.compile(
    r"(?i)(?:zip|postal|post|area|country|region|error|promo|promotion|coupon|discount|voucher|gift|product|"
    r"tracking|order|invite|invitation|referral|status|reason|sku|item|style|colou?r|class|course|source|"
    r"bar|qr|dialling|dialing|tax|swift|bank|branch|sort|airport|postcode)\s*$"
)
_PASSWORD = re.compile(
    r"(?i)(?:(?P<cjk>密码|密碼|口令)|(?<![A-Za-z])(?:password|passwd|pass word|pwd|pin)(?![A-Za-z]))"
    r"(?:\s*(?:码|碼|號|号))?"
    rf"(?P<sep>(?:{_SEPARATOR})+\s*|\s+|)"
    r"(?P<value>[!-~\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]{1,64})"
)
# Cheap scans that rule most messages out before the patterns above run.
_ANY_DIGIT = re.compile(_DIGIT)
# A card number has 13 digits or more, a resident ID 17 and its check character: a text with
# fewer in all has neither. (Matched from the start; possessive, so one pass over the text.)
_CARD_DIGITS = re.compile(rf"(?:[^0-9\uff10-\uff19]*+{_DIGIT}){{13}}")
# The words a CVV or a one-time code follows all contain one of these ("security code" has
# "code"; 验证码 has 码). Neither c, o, d, e nor v has another letter equal to it ignoring case.
# Each starts with one set of first characters and then looks back at which it was: a search
# then skips from candidate to candidate (as _PASSWORD_WORD does) instead of trying each
# alternative at every position, twice as quick on a message with a number in it.
_CVV_WORD = re.compile(r"[Cc安背](?:(?<=[Cc])(?i:v[vcn]|ode)|(?<=安)全|(?<=背)面)")
_CODE_WORD = re.compile(r"[CcOo码碼](?:(?<=[Cc])(?i:ode)|(?<=[Oo])(?i:tp|ne)|(?<=[码碼]))")
# A password's word starts with one of these (no other letter is "p" ignoring case); a scan
# for them is ten times quicker than one for the words ignoring case.
_PASSWORD_WORD = re.compile(r"[Pp密口](?:(?i:ass|wd|in)|[码碼令])")
# What follows "password is" in sentences about a password rather than in one.
# fmt: off
_NOT_A_PASSWORD = frozenset((
    "a", "an", "the", "my", "your", "his", "her", "their", "our", "its", "this", "that", "it", "not", "no", "none",
    "wrong", "incorrect", "invalid", "correct", "right", "expired", "forgotten", "forgot", "lost", "reset",
    "changed", "change", "same", "different", "empty", "blank", "locked", "weak", "strong", "required", "needed",
    "being", "still", "also", "now", "ok", "okay", "fine", "working", "broken", "missing", "too", "very", "so",
    "and", "or", "but", "for", "to", "in", "on", "at", "of", "with", "what", "which", "because", "please", "help",
    "case", "sensitive",
))
# fmt: on
_TRAILING = ".,!?;:)]}'\""

_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54}
    | {61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def digits_of(text: str) -> str:
    """The ASCII digits of `text` (full-width ones too), separators and letters left out."""
    return "".join(str(int(ch)) for ch in text if ch.isdecimal())


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for index, ch in enumerate(reversed(digits)):
        value = int(ch)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return bool(digits) and total % 10 == 0


def card_prefix_known(digits: str) -> bool:
    """A prefix some card network issues (Visa, Mastercard, UnionPay, Amex, JCB, Discover,
    Diners, Maestro, Mir). Order numbers that begin with a year (2024...) are left out."""
    first, two, four = digits[0], int(digits[:2]), int(digits[:4])
    if first in "456":
        return True
    if first == "3":
        return 300 <= int(digits[:3]) <= 305 or two in (34, 36, 37, 38, 39) or 3528 <= four <= 3589
    if first == "2":
        return 2200 <= four <= 2204 or 2221 <= four <= 2720
    return two == 81  # UnionPay's newer range


def resident_id_valid(text: str) -> bool:
    """An 18-character Chinese resident ID number (GB 11643-1999): a province code, a birth
    date that exists, and the check character (ISO 7064 MOD 11-2; X stands for 10)."""
    chars = [c for c in text if not re.fullmatch(_SEP, c)]
    if len(chars) != 18:
        return False
    body = digits_of("".join(chars[:17]))
    last = chars[17].upper().replace("\uff38", "X")
    if len(body) != 17 or not (last == "X" or last.isdecimal()):
        return False
    if int(body[:2]) not in _PROVINCES:
        return False
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= 2100:
        return False
    expected = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    return (last if last == "X" else str(int(last))) == expected


def find_secrets(text: str) -> list[Finding]:
    """The secrets in `text`, in order, none overlapping (a resident ID before a card number,
    a card before a CVV, a one-time code before a password)."""
    # Every message is read: the common ones (no digits, no password word) in a scan or two,
    # the ones with a few digits (an order number, a price) in a scan more per kind.
    if not _ANY_DIGIT.search(text):  # every kind but a password is digits
        return list(_passwords(text)) if _PASSWORD_WORD.search(text) else []
    found: list[Finding] = []
    if _CARD_DIGITS.match(text):
        _add(found, _resident_ids(text))
        _add(found, _cards(text))
    if _CVV_WORD.search(text):
        _add(found, _cvvs(text))
    if _CODE_WORD.search(text):
        _add(found, _codes(text))
    if _PASSWORD_WORD.search(text):
        _add(found, _passwords(text))
    return sorted(found, key=lambda f: f.start) if len(found) > 1 else found


def redact(
    text: str, placeholder: Placeholder, *, only: frozenset[SecretKind] | None = None
) -> tuple[str, frozenset[SecretKind]]:
    """`text` with each secret (of the kinds in `only`, if given) replaced by its placeholder,
    and the kinds that were replaced."""
    findings = [f for f in find_secrets(text) if only is None or f.kind in only]
    if not findings:  # most texts
        return text, frozenset()
    for finding in reversed(findings):
        text = text[: finding.start] + placeholder(finding.kind) + text[finding.end :]
    return text, frozenset(f.kind for f in findings)


def _add(found: list[Finding], candidates: Iterable[Finding]) -> None:
    for candidate in candidates:
        if not any(candidate.start < f.end and f.start < candidate.end for f in found):
            found.append(candidate)


def _resident_ids(text: str) -> Iterable[Finding]:
    for match in _RESIDENT_ID.finditer(text):
        if resident_id_valid(match.group(1)):
            yield Finding(SecretKind.RESIDENT_ID, match.start(1), match.end(1))


def _cards(text: str) -> Iterable[Finding]:
    """Within each run of digits, the longest stretch of whole groups that is a card number
    (a card may be followed by its expiry or CVV in the same run: "4111 1111 1111 1111 123")."""
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() < 13:
            continue  # too short for a card, separators and all (phone numbers, amounts, dates)
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in re.finditer(rf"{_DIGIT}+", run.group())]
        i = 0
        while i < len(groups):
            end = _card_end(text, groups, i)
            if end is None:
                i += 1
                continue
            yield Finding(SecretKind.CARD_NUMBER, groups[i][0], groups[end][1])
            i = end + 1


def _card_end(text: str, groups: list[tuple[int, int]], first: int) -> int | None:
    if _ORDER_LABEL.search(text[max(0, groups[first][0] - 24) : groups[first][0]]):
        return None
    best, digits = None, ""
    for last in range(first, len(groups)):
        digits += digits_of(text[groups[last][0] : groups[last][1]])
        if len(digits) > 19:
            break
        if len(digits) >= 13 and card_prefix_known(digits) and luhn_valid(digits):
            best = last
    return best


def _cvvs(text: str) -> Iterable[Finding]:
    for match in _CVV.finditer(text):
        yield Finding(SecretKind.CVV, match.start(1), match.end(1))


def _codes(text: str) -> Iterable[Finding]:
    for match in _CODE.finditer(text):
        before = text[max(0, match.start() - 20) : match.start()]
        if match.group(1).lower() == "code" and _NOT_A_SECRET_CODE.search(before):
            continue
        if (end := code_end(text, match.start(2), match.end(2))) is not None:
            yield Finding(SecretKind.ONE_TIME_CODE, match.start(2), end)


def code_digits(value: str) -> str:
    """A code as the platform sent it: the digits typed, without the spaces or dashes between
    groups (full-width digits stay; the check normalises them)."""
    return _CODE_SEPS.sub("", value)


def code_end(text: str, start: int, end: int) -> int | None:
    """Where a code matched at text[start:end] (CODE_VALUE) ends: all of it when it has 4 to
    8 digits; else the first group when that is one (longer groups are another number)."""
    if 4 <= len(code_digits(text[start:end])) <= 8:
        return end
    first = _CODE_SEPS.search(text, start, end)
    return first.start() if first is not None and first.start() - start >= 4 else None


def _passwords(text: str) -> Iterable[Finding]:
    for match in _PASSWORD.finditer(text):
        value, start = match.group("value"), match.start("value")
        if match.group("cjk") is None and not match.group("sep"):
            continue  # "pwd123": only a Chinese word runs straight into its value
        if not match.group("sep").strip() and not any(c.isdecimal() for c in value):
            continue  # "password reset", "密码app里改不了": with no "is" or ":", only a value with a digit
        if value.rstrip(_TRAILING).lower() in _NOT_A_PASSWORD or value[0] in "[(<":
            continue
        yield Finding(SecretKind.PASSWORD, start, start + len(value))
