"""The help centre's word search (conversation/help_search.py): what one search costs.

    .venv/bin/python bench/help_search.py [--data ../shared/data] [--copies 34]

Publishes the shared FAQ sets' articles (faq-zh and faq-en, 30 each), each `--copies` times
(34: 1,020 articles of a language, their answers eight times as long, as a big knowledge base
has), then times the first search (which builds the index) and the median and worst of
searches after it, for a 200-character Chinese question, 200 characters of English words, a
short question in each language and a word in most articles. The search runs on the hub's
event loop, so this is time no other request is served. The last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import statistics
import time
from datetime import UTC, datetime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = {
    "zh-CN": {
        "long_question": ("我的订单退款还没到账怎么办呢请帮我查一下谢谢" * 10)[:200],
        "short_question": "退款没到账",
        "common_word": "怎么",
    },
    "en": {
        "long_question": " ".join(f"refund order account password card money help {i}" for i in range(8))[:200],
        "short_question": "How do I get a refund?",
        "common_word": "the",
    },
}


def articles(data: Path, language: str, copies: int) -> list[object]:
    from conversation.knowledge import Article, ArticleStatus

    folder = "faq-zh" if language == "zh-CN" else "faq-en"
    lines = [json.loads(line) for line in (data / folder / "articles.jsonl").read_text("utf-8").splitlines() if line]
    stored = datetime(2026, 1, 1, tzinfo=UTC)  # a stored version: its index is kept, as in a hub
    return [
        Article(
            id=f"{d['id']}-{language}-{n}",
            title=d["title"],
            answer=d["answer"] * 8,
            language=language,
            examples=tuple(d.get("examples", [])),
            status=ArticleStatus.PUBLISHED,
            updated_at=stored,
        )
        for n in range(copies)
        for d in lines
    ]


def measure(data: Path, copies: int, rounds: int) -> dict[str, object]:
    from conversation.help_search import help_search

    figures: dict[str, object] = {}
    for language, queries in QUERIES.items():
        published = articles(data, language, copies)
        started = time.perf_counter()
        help_search(published, queries["short_question"])
        figures[f"{language}_first_search_ms"] = round((time.perf_counter() - started) * 1000, 1)
        for name, query in queries.items():
            times, found = [], 0
            for _ in range(rounds):
                started = time.perf_counter()
                found = len(help_search(published, query))
                times.append((time.perf_counter() - started) * 1000)
            figures[f"{language}_{name}_p50_ms"] = round(statistics.median(times), 2)
            figures[f"{language}_{name}_max_ms"] = round(max(times), 2)
            figures[f"{language}_{name}_found"] = found
        figures[f"{language}_articles"] = len(published)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--copies", type=int, default=34)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    figures = measure(args.data, args.copies, args.rounds)
    for language in QUERIES:
        print(
            f"{language}: {figures[f'{language}_articles']} articles, first search (builds the index)"
            f" {figures[f'{language}_first_search_ms']} ms; 200 characters p50"
            f" {figures[f'{language}_long_question_p50_ms']} ms, a short question"
            f" {figures[f'{language}_short_question_p50_ms']} ms"
        )
    print(json.dumps({"bench": "help_search", **figures}))


if __name__ == "__main__":
    main()
