"""The help centre's word search: what a customer types, read the way they mean it.

The inbox's article search (`knowledge.search`) wants every word as a substring, which suits
agents looking for an id or a phrase they remember. A customer's query is a question's
words: "how do I get a refund", "退款没到账", "退款 refund". Here:

- Latin words and numbers are matched at the start of a word ("refund" finds "refunded",
  "a" is not in "paid"); one letter alone is no term. A Chinese run is its overlapping
  character pairs ("退款没到账" -> 退款 款没 没到 到账), as search engines for Chinese do.
- A term found in more than half of the articles ("the", "how", "我的" in a big enough
  knowledge base) tells nothing apart: it ranks, it does not select. A query of such terms
  only finds nothing here (the matcher's part of the search still reads it as a question).
- An article is found with at least half of the other terms, most terms first, then those
  with all of them in the title. So "退款 refund" on the Chinese pages still finds the
  refund articles, and a typo in one word of four does not empty the page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from conversation.knowledge import Article
from conversation.search_text import CJK_RUN, bigrams

WORD = re.compile(r"[^\W_]+")
MIN_ARTICLES_FOR_COMMON = 4  # below this, "more than half of the articles" is one or two
COMMON_SHARE = 0.5
# A query's terms looked for, the first ones: each is a pass over every article's text, and a
# customer's question has fewer (a 200-character query of Latin words has about 40).
MAX_TERMS = 24


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def query_terms(query: str) -> list[str]:
    """The query's terms, each once, in order (MAX_TERMS at most): Chinese runs' character
    pairs, then Latin words of two or more characters."""
    terms: list[str] = []
    folded = _fold(query)
    for run in CJK_RUN.findall(folded):
        terms += bigrams(run)
    for word in WORD.findall(CJK_RUN.sub(" ", folded)):
        if len(word) >= 2:
            terms.append(word)
    return list(dict.fromkeys(terms))[:MAX_TERMS]


def _finder(term: str) -> Callable[[str], bool]:
    """Whether a folded text has the term: a Chinese pair anywhere, a word at a word's start."""
    if CJK_RUN.match(term):
        return lambda text: term in text
    at_start = re.compile(rf"(?<![^\W_]){re.escape(term)}")
    return lambda text: at_start.search(text) is not None


def help_search(articles: Sequence[Article], query: str) -> list[Article]:
    """The articles the query's words find, best first (see the module's notes)."""
    terms = query_terms(query)
    if not terms or not articles:
        return []
    texts = [_fold("\n".join((a.title, a.answer, a.category, *a.tags, *a.examples))) for a in articles]
    finders = {term: _finder(term) for term in terms}
    found_in = {term: {i for i, text in enumerate(texts) if has(text)} for term, has in finders.items()}
    common = len(articles) >= MIN_ARTICLES_FOR_COMMON
    selecting = [t for t in terms if not (common and len(found_in[t]) > COMMON_SHARE * len(articles))]
    if not selecting:
        return []
    ranked = []
    for i, article in enumerate(articles):
        hits = sum(i in found_in[t] for t in selecting)
        if hits * 2 < len(selecting) or hits == 0:
            continue
        title = _fold(article.title)
        in_title = all(finders[t](title) for t in selecting)
        all_hits = sum(i in found_in[t] for t in terms)
        ranked.append(((-hits, -all_hits, not in_title, title, article.id), article))
    return [article for _key, article in sorted(ranked, key=lambda pair: pair[0])]
