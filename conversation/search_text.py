"""Full-text search that works for Chinese as well as for spaced languages.

SQLite's unicode61 tokenizer splits on spaces and punctuation, which finds English
words but treats a whole unspaced Chinese sentence as one token. So before indexing,
every run of CJK characters is rewritten as its overlapping two-character pieces
("订单没到" -> "订单 单没 没到"), the standard bigram approach of CJK search engines;
a query is rewritten the same way and matched as a phrase. Other words are matched
by prefix ("refund" finds "refunded").
"""

from __future__ import annotations

import re

CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
WORD = re.compile(r"\w+")


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def index_text(text: str) -> str:
    """The text as the index should see it: CJK runs as bigrams, the rest unchanged."""
    if not CJK_RUN.search(text):
        return text
    return CJK_RUN.sub(lambda m: " " + " ".join(_bigrams(m.group())) + " ", text)


def match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH expression requiring every term (empty if nothing searchable)."""
    parts = []
    for term in terms:
        for piece in CJK_RUN.split(term) + CJK_RUN.findall(term):
            if CJK_RUN.fullmatch(piece):
                grams = _bigrams(piece)
                # One character: any bigram starting with it; otherwise the bigrams in order.
                parts.append(f'"{grams[0]}"*' if len(piece) == 1 else '"' + " ".join(grams) + '"')
            else:
                parts.extend(f'"{word}"*' for word in WORD.findall(piece))
    return " AND ".join(parts)
