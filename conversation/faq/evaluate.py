"""Scoring a trained matcher on test questions: the figures `helpline faq eval` prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from conversation.faq.dataset import LabelledQuestion
from conversation.faq.matcher import TrainedMatcher


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def evaluate(
    model: TrainedMatcher,
    items: Sequence[LabelledQuestion],
    threshold: float,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, object]:
    """accuracy: top-1 over in-scope items; answered: share of all items whose top
    confidence reaches the threshold; precision: right among answered in-scope items
    (answered out-of-scope items show in withheld_out_of_scope instead); withheld_out_of_scope: share of
    expected-null items not answered. Latency is one predict call per question."""
    in_scope = right = answered = answered_in_scope = answered_right = out_of_scope = withheld = 0
    latencies = []
    for item in items:
        started = clock()
        top = model.predict(item.text, k=1)
        latencies.append((clock() - started) * 1000)
        best = top[0] if top else None
        answers = best is not None and best.confidence >= threshold
        answered += answers
        if item.expected is None:
            out_of_scope += 1
            withheld += not answers
            continue
        in_scope += 1
        answered_in_scope += answers
        correct = best is not None and best.article_id == item.expected
        right += correct
        answered_right += answers and correct
    return {
        "n": len(items),
        "accuracy": _share(right, in_scope),
        "answered": _share(answered, len(items)),
        "precision": _share(answered_right, answered_in_scope),
        "withheld_out_of_scope": _share(withheld, out_of_scope),
        "p50_ms": round(percentile(latencies, 0.5), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "model": model.name,
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
