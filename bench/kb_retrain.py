"""How long a hub takes to relearn its knowledge base after a change, for 10,000 examples.

    OMP_NUM_THREADS=1 .venv/bin/python bench/kb_retrain.py [--data ../shared/data] [--examples 10000]

Loads BANKING77's training questions (77 intents, 10,003 questions) into a fresh SQLite
store as 77 published articles, then, three times: one article's examples change through
the knowledge service, and the hub's KnowledgeModel notices the new revision, reads the
articles and trains the default matcher (hub/knowledge_model.py, the same path as in a
running hub). Prints the best and worst wall time of that step; the goal is under 2 s.
The last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import os
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def measure(data: Path, limit: int, rounds: int) -> dict[str, object]:
    from bench.faq import banking77_by_intent
    from conversation.knowledge import Article, ArticleStatus
    from conversation.knowledge_io import ImportLine
    from conversation.sqlite import SQLiteStore
    from hub.events import EventBus
    from hub.knowledge_model import KnowledgeModel, training_examples
    from hub.services.knowledge import KnowledgeService

    articles = [
        ImportLine(i, Article(id=intent, title=intent.replace("_", " "), answer="…", language="en",
                              examples=tuple(texts), status=ArticleStatus.PUBLISHED))
        for i, (intent, texts) in enumerate(banking77_by_intent(data, limit).items(), start=1)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "kb.sqlite3")
        await store.open()
        try:
            service = KnowledgeService(store, EventBus())
            await service.import_articles(articles)
            model = KnowledgeModel(store)
            await model.refresh()  # the start-up training (imports scikit-learn and friends)
            examples = len(training_examples(list(model.articles.values())))
            times, training = [], []
            for round_ in range(rounds):
                first = await store.knowledge.get_article(articles[0].article.id)
                assert first is not None
                await service.update(
                    first.id, {"examples": [*first.examples, f"new phrasing {round_}"]}, version=first.version
                )
                started = time.perf_counter()
                assert await model.refresh()
                times.append(time.perf_counter() - started)
                training.append(model.training_seconds)
        finally:
            await store.close()
    return {
        "examples": examples,
        "articles": len(articles),
        "retrain_best_s": round(min(times), 3),
        "retrain_worst_s": round(max(times), 3),
        "training_best_s": round(min(training), 3),  # of which the matcher's own training
        "load_average": round(os.getloadavg()[0], 1),  # other work on the machine slows both
        "model": model.trained.name if model.trained else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--examples", type=int, default=10_000, help="questions of BANKING77's train.jsonl to load")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(measure(args.data, args.examples, args.rounds))
    print(
        f"retraining after a change: {result['examples']} examples of {result['articles']} articles,"
        f" best {result['retrain_best_s']} s (the matcher's training {result['training_best_s']} s),"
        f" worst {result['retrain_worst_s']} s (goal: under 2 s; load average {result['load_average']})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
