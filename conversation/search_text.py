"""Full-text search that works for Chinese as well as for spaced languages, within limits.

SQLite's unicode61 tokenizer splits on spaces and punctuation, which finds English
words but treats a whole unspaced Chinese sentence as one token. So before indexing,
every run of CJK characters is rewritten as its overlapping two-character pieces
("订单没到" -> "订单 单没 没到"), the standard bigram approach of CJK search engines,
plus its last character alone ("到"): every character then starts an indexed piece, so
one character is found as the prefix of a piece ("单"* finds "单没" and the "单" that
ends "订单"). A query is rewritten the same way and matched as a phrase. Other words are
matched by prefix ("refund" finds "refunded") from MIN_PREFIX_CHARS characters on;
shorter ones whole.

The limits keep one search from occupying the database: a prefix of one Latin letter
matches most of the index, and every word adds a scan.
"""

from __future__ import annotations

import re

CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
WORD = re.compile(r"\w+")
# A complaint number or a dispute reference ("C-1002", "D-1000-1203"): one piece, matched as
# the phrase of its parts, so its one-letter start is no word too short to search.
REFERENCE = re.compile(r"(?<![\w-])[A-Za-z]{1,3}(?:-\d+)+(?![\w-])")
# A phone or account number written in groups ("139-0000-1111", "138 1234 5678", "+86 21
# 6288 8888"): also indexed, and searched, as its digits alone, so either way of writing it
# finds the other (a trial's 13900001111 found nothing). Dates ("2026-11-28") join too: harmless.
GROUPED_NUMBER = re.compile(r"(?<![\w+-])\+?\d{1,5}(?:[ .-]\d{1,5}){1,5}(?![\w-])")
JOINED_DIGITS = (7, 15)  # how many digits a grouped number has to be joined (a phone's range)
DIGITS_TERM = re.compile(r"\+?\d{7,15}")
# Spaces also part two numbers ("88231 599": an order and an amount), so in a search only a
# phone's own shape is joined across them: a mobile (138 1234 5678), a landline with its area
# code (021 6288 8888) or a number with its country code (+86 ...). Hyphens and dots always join.
SPACED_PHONE = re.compile(r"\+\d.*|1\d{2} \d{4} \d{4}|0\d{2,3} \d{3,4} ?\d{4}")
CHINA = "86"  # +86 13900001111 is 13900001111 at home: both are indexed and searched as the latter
INDEX_FORMAT = "3"  # bump when index_text changes: the stores then rebuild their index

MAX_WORDS = 8  # words (and CJK runs) in one search
MIN_WORD_CHARS = 2  # a shorter Latin word or number would match a large share of all messages
MIN_PREFIX_CHARS = 3  # shorter words are matched whole, not as the start of longer words
SEARCH_SECONDS = 1.0  # a search that takes longer is stopped


class SearchRejected(ValueError):
    """A search over the limits; the message says which, for people."""


class SearchTimedOut(SearchRejected):
    pass


def timed_out(seconds: float) -> SearchTimedOut:
    return SearchTimedOut(f"the search took longer than {seconds:g} s: use longer or more specific words")


def bigrams(run: str) -> list[str]:
    """A CJK run as its overlapping two-character pieces (one character: itself)."""
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def _pieces(term: str) -> list[str]:
    """A term's CJK runs, references and other words, each searched on its own."""
    rest = " ".join(CJK_RUN.split(term))
    references = REFERENCE.findall(rest)
    words = [word for part in REFERENCE.split(rest) for word in WORD.findall(part)]
    return CJK_RUN.findall(term) + references + words


def _joined(number: str) -> str:
    """A grouped number's digits ("+86 21 6288 8888" -> "862162888888"), "" when too short or long."""
    digits = re.sub(r"\D", "", number)
    return digits if JOINED_DIGITS[0] <= len(digits) <= JOINED_DIGITS[1] else ""


def _domestic(digits: str, written: str) -> str:
    """A Chinese number without its country code, as it is written at home."""
    return digits[len(CHINA) :] if written.startswith("+" + CHINA) and len(digits) > len(CHINA) + 6 else digits


def grouped_numbers(text: str) -> list[str]:
    """The digits of each number `text` writes in groups, joined (see GROUPED_NUMBER), and a
    Chinese one's also without +86."""
    found: list[str] = []
    for m in GROUPED_NUMBER.finditer(text):
        joined = _joined(m.group())
        if joined and joined != m.group():
            found += dict.fromkeys([joined, _domestic(joined, m.group())])
    return found


def _searched_number(match: re.Match[str]) -> str:
    written = match.group()
    joined = _joined(written)
    if not joined or (" " in written and not SPACED_PHONE.fullmatch(written)):
        return written  # two numbers, or one too short to be a phone: each its own term
    return _domestic(joined, written)


def grouped_in_query(query: str) -> set[str]:
    """The terms of `query` that are numbers it wrote in groups, joined (MongoDB matches those
    however the digits are grouped, its text index cannot)."""
    return {n for m in GROUPED_NUMBER.finditer(query) if (n := _searched_number(m)) != m.group()}


def search_terms(query: str) -> list[str]:
    """The whitespace-separated terms of a search, each matched as a substring (empty if
    nothing searchable); SearchRejected if the search is over the limits. A number written in
    groups is one term, its digits ("139-0000-1111", "138 1234 5678" -> "13812345678"); two
    numbers side by side stay two ("88231 599")."""
    query = GROUPED_NUMBER.sub(_searched_number, query)
    terms = [term for term in query.split() if _pieces(term)]
    words = [piece for term in terms for piece in _pieces(term)]
    if len(words) > MAX_WORDS:
        raise SearchRejected(f"a search may have at most {MAX_WORDS} words ({len(words)} given)")
    short = [w for w in words if len(w) < MIN_WORD_CHARS and not CJK_RUN.fullmatch(w)]
    if short:
        raise SearchRejected(f"search words need at least {MIN_WORD_CHARS} letters or digits ({short[0]!r})")
    return terms


def filters(query: str) -> bool:
    """Whether a ticket list is narrowed by this search. A blank one is no search; one of
    punctuation alone (`"`, `*`, `%`) has no searchable term but still filters, so it matches
    nothing rather than every ticket."""
    return bool(query.strip())


def index_text(text: str) -> str:
    """The text as the index should see it: CJK runs as bigrams plus their last character,
    and the digits of each number written in groups, joined, after it."""
    numbers = grouped_numbers(text)
    if CJK_RUN.search(text):
        text = CJK_RUN.sub(lambda m: " " + " ".join(_indexed(m.group())) + " ", text)
    return f"{text} {' '.join(numbers)}" if numbers else text


def _indexed(run: str) -> list[str]:
    grams = bigrams(run)
    return grams if len(run) == 1 else [*grams, run[-1]]


def match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH expression requiring every term (empty if nothing searchable)."""
    parts = []
    for term in terms:
        for piece in _pieces(term):
            if CJK_RUN.fullmatch(piece):
                grams = bigrams(piece)
                # One character: any piece starting with it; otherwise the bigrams in order.
                parts.append(f'"{grams[0]}"*' if len(piece) == 1 else '"' + " ".join(grams) + '"')
            elif REFERENCE.fullmatch(piece):
                parts.append(f'"{piece}"')  # whole: C-1002 is not C-10023
            else:
                parts.append(f'"{piece}"*' if len(piece) >= MIN_PREFIX_CHARS else f'"{piece}"')
    return " AND ".join(parts)


MIN_PERSON_CHARS = 2  # "李娜" is a whole name; one letter would match most people


def person_term(query: str) -> str:
    """A search as a customer's name or address (contact name or email, an identity's address
    or display name), matched as a substring, Latin letters in any case; "" when too short or
    without a letter. Agents
    looked for "张伟" and "lilei@example.com" and found nothing: only messages were searched."""
    term = " ".join(query.split()).casefold()
    if len(term) < MIN_PERSON_CHARS or not any(c.isalpha() for c in term):
        return ""  # a number is an order's or a phone's: the messages and fields answer it
    return term
