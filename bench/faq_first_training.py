"""The memory and time of one first training of the FAQ matcher in a fresh process, as a
hub process's first training after it starts (every text embedded, every feature cut).

    .venv/bin/python bench/faq_first_training.py [--data ../shared/data] [--examples 10003] [--model e5]

Trains on the first N questions of BANKING77's train.jsonl. Prints the RSS growth of this
process from before the matcher is imported to after the training, and at its highest
meanwhile (the training's transient arrays included); the last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py shares its name with the standard library's email package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faq import peak_rss_mb, rss_mb  # noqa: E402  (the same measures as the FAQ bench)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--examples", type=int, default=10_003)
    parser.add_argument("--model", default="e5", help="e5 (default), ngram or wordllama")
    args = parser.parse_args()
    rss_start, peak_start = rss_mb(), peak_rss_mb()

    from conversation.faq import Example
    from hub.registry import discover

    lines = (args.data / "banking77" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()][: args.examples]
    started = time.perf_counter()
    model = discover().matchers.load(args.model, "--model")(None).train([Example(r["text"], r["intent"]) for r in rows])
    figures = {
        "model": model.name,
        "examples": len(rows),
        "seconds": round(time.perf_counter() - started, 2),
        "rss_growth_mb": round(rss_mb() - rss_start, 1),
        "rss_peak_growth_mb": round(peak_rss_mb() - peak_start, 1),
    }
    print(
        f"{figures['model']}: first training on {len(rows)} examples in {figures['seconds']} s;"
        f" RSS growth {figures['rss_growth_mb']:.0f} MB, {figures['rss_peak_growth_mb']:.0f} MB at its peak"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
