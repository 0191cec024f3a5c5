"""The help centre's word search: what a customer types, read the way they mean it.

The inbox's article search (`knowledge.search`) wants every word as a substring, which suits
agents looking for an id or a phrase they remember. A customer's query is a question's
words: "how do I get a refund", "退款没到账", "退款 refund". Here:

- Latin words and numbers are matched at the start of a word ("refund" finds "refunded",
  "ank" is not in "bank"; a Chinese character next to a word parts it: "App" in
  "在App里申请"); one letter alone is no term. A Chinese run is its overlapping character
  pairs ("退款没到账" -> 退款 款没 没到 到账), as search engines for Chinese do.
- A term found in more than half of the articles ("the", "how", "我的" in a big enough
  knowledge base) tells nothing apart: it does not select. A query of such terms only finds
  nothing here (the matcher's part of the search still reads it as a question).
- An article is found with half of the other terms, or three of them for a long question
  (a customer's whole paragraph finds the article three of its word pairs name); the rarer
  a term is among the articles, the more it counts in the ranking, then the articles with
  every term in the title come first; one scoring under 60 % of the best is left out (it
  shares only everyday words with the question). So "退款 refund" on the Chinese pages still finds the
  refund articles, and a typo in one word of four does not empty the page.

Each article's words are indexed once per version (`_indexed`), and the published articles'
together the other way round, term -> articles (`_collection`, once per set of versions): a
search looks each of its terms up once, well under a millisecond for a thousand articles,
cheap enough that every visitor gets it (the matcher's part is the one rate-limited).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from conversation.knowledge import Article, folded
from conversation.search_text import CJK_RUN, bigrams

WORD = re.compile(r"[^\W_]+")
MIN_ARTICLES_FOR_COMMON = 4  # below this, "more than half of the articles" is one or two
COMMON_SHARE = 0.5
MAX_NEEDED = 3  # terms an article needs at most, however long the question
RELATIVE_CUT = 0.6  # an article scoring under this share of the best one's is left out
# Terms read from one query (a 200-character query has at most about 200): the rarest
# MAX_TERMS of those the articles have are the ones looked up.
MAX_QUERY_TERMS = 200
MAX_TERMS = 24
INDEX_CACHE = 20_000  # articles' indexes kept (by id and version)


@dataclass(frozen=True, slots=True)
class _Index:
    words: tuple[str, ...]  # its Latin words and numbers, sorted, each once
    pairs: frozenset[str]  # its Chinese character pairs, and each Chinese character alone

    def has(self, term: str) -> bool:
        if CJK_RUN.match(term):
            return term in self.pairs
        at = bisect_left(self.words, term)
        return at < len(self.words) and self.words[at].startswith(term)


def _index(text: str) -> _Index:
    text = folded(text)
    words = set(WORD.findall(CJK_RUN.sub(" ", text)))
    pairs: set[str] = set()
    for run in CJK_RUN.findall(text):
        pairs.update(bigrams(run))
        pairs.update(run)
    return _Index(tuple(sorted(words)), frozenset(pairs))


_CACHE: OrderedDict[tuple[str, str, int, object], tuple[_Index, _Index]] = OrderedDict()


def _indexed(article: Article) -> tuple[_Index, _Index]:
    """The article's index and its title's: kept for a stored version (its id, version and
    time name its content), made anew for an article that was never stored."""
    key = (article.id, article.language, article.version, article.updated_at)
    if article.updated_at is not None and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    made = (
        _index("\n".join((article.title, article.answer, article.category, *article.tags, *article.examples))),
        _index(article.title),
    )
    if article.updated_at is not None:
        _CACHE[key] = made
        while len(_CACHE) > INDEX_CACHE:
            _CACHE.popitem(last=False)
    return made


def query_terms(query: str) -> list[str]:
    """The query's terms, each once, in order: Chinese runs' character pairs, then Latin
    words and numbers of two or more characters."""
    terms: list[str] = []
    query = folded(query)
    for run in CJK_RUN.findall(query):
        terms += bigrams(run)
    terms += [word for word in WORD.findall(CJK_RUN.sub(" ", query)) if len(word) >= 2]
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


@dataclass(frozen=True, slots=True)
class _Collection:
    """The articles' terms the other way round: which articles have each (positions in the list)."""

    words: tuple[str, ...]  # every Latin word of every article, sorted, each once
    by_word: dict[str, frozenset[int]]
    by_pair: dict[str, frozenset[int]]
    titles: tuple[_Index, ...]

    def found(self, term: str) -> frozenset[int]:
        if CJK_RUN.match(term):
            return self.by_pair.get(term, frozenset())
        at, found = bisect_left(self.words, term), set[int]()
        while at < len(self.words) and self.words[at].startswith(term):  # every word it starts
            found |= self.by_word[self.words[at]]
            at += 1
        return frozenset(found)


_COLLECTIONS: OrderedDict[tuple[tuple[str, str, int, object], ...], _Collection] = OrderedDict()
COLLECTIONS_KEPT = 4  # both languages' published articles, and a change or two in flight


def _collection(articles: Sequence[Article]) -> _Collection:
    """The articles' inverted index: made once per set of stored versions, so a search looks
    each term up once instead of in every article."""
    key = tuple((a.id, a.language, a.version, a.updated_at) for a in articles)
    kept = all(a.updated_at is not None for a in articles)
    if kept and key in _COLLECTIONS:
        _COLLECTIONS.move_to_end(key)
        return _COLLECTIONS[key]
    by_word: dict[str, set[int]] = {}
    by_pair: dict[str, set[int]] = {}
    titles = []
    for position, article in enumerate(articles):
        index, title = _indexed(article)
        for word in index.words:
            by_word.setdefault(word, set()).add(position)
        for pair in index.pairs:
            by_pair.setdefault(pair, set()).add(position)
        titles.append(title)
    made = _Collection(
        tuple(sorted(by_word)),
        {w: frozenset(p) for w, p in by_word.items()},
        {c: frozenset(p) for c, p in by_pair.items()},
        tuple(titles),
    )
    if kept:
        _COLLECTIONS[key] = made
        while len(_COLLECTIONS) > COLLECTIONS_KEPT:
            _COLLECTIONS.popitem(last=False)
    return made


def help_search(articles: Sequence[Article], query: str) -> list[Article]:
    """The articles the query's words find, best first (see the module's notes)."""
    terms = query_terms(query)
    if not terms or not articles:
        return []
    collection = _collection(articles)
    found_in = {term: collection.found(term) for term in terms}
    common = len(articles) >= MIN_ARTICLES_FOR_COMMON
    telling = [t for t in terms if not (common and len(found_in[t]) > COMMON_SHARE * len(articles))]
    needed = min(math.ceil(len(telling) / 2), MAX_NEEDED)
    # the rarest terms the articles have: each counts log(1 + articles / articles with it)
    looked_up = sorted((t for t in telling if found_in[t]), key=lambda t: len(found_in[t]))[:MAX_TERMS]
    if not looked_up:
        return []
    hits: dict[int, list[str]] = {}
    for term in looked_up:
        for i in found_in[term]:
            hits.setdefault(i, []).append(term)
    ranked = []
    for i, matched in hits.items():
        if len(matched) < needed:
            continue
        score = sum(math.log1p(len(articles) / len(found_in[t])) for t in matched)
        in_title = all(collection.titles[i].has(t) for t in looked_up)
        ranked.append(((-score, not in_title, folded(articles[i].title), articles[i].id), articles[i]))
    if not ranked:
        return []
    best = -min(key[0] for key, _article in ranked)
    # Far behind the best, an article shares only the question's everyday words ("get" of
    # "how do I get a refund", "怎么办"): a trial's list of eleven for it had one answer.
    return [a for key, a in sorted(ranked, key=lambda pair: pair[0]) if -key[0] >= RELATIVE_CUT * best]
