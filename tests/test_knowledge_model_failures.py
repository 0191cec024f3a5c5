"""What a hub's knowledge model does when its matcher fails: a training that raises (any
error, ValueError included) leaves the n-grams answering and is tried again later with the
same articles; a question the model raises on, or answers with nonsense, matches nothing."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from conversation.faq import Example, NgramMatcher, Prediction
from conversation.knowledge import Article, ArticleStatus
from hub.knowledge_model import KnowledgeModel

PUBLISHED = [
    Article("pw", "忘记密码怎么办", "在登录页点击忘记密码。", examples=("密码忘了", "重置密码"),
            status=ArticleStatus.PUBLISHED),
    Article("parcel", "订单没有收到", "请联系卖家查询物流。", examples=("快递没到", "包裹丢了"),
            status=ArticleStatus.PUBLISHED),
]  # fmt: skip


class Knowledge:
    async def revision(self) -> int:
        return 1  # the articles never change in these tests

    async def list_articles(self) -> list[Article]:
        return PUBLISHED


@dataclass
class Store:
    knowledge: Knowledge


class Flaky:
    """A package's matcher whose training raises while `errors` holds exceptions."""

    name = "flaky"

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors

    def train(self, examples: Sequence[Example]):  # type: ignore[no-untyped-def]
        if self.errors:
            raise self.errors.pop(0)
        return NgramMatcher(embedder=_same_vector, embedder_name="flaky").train(examples)


def _same_vector(texts: list[str]) -> np.ndarray:
    return np.ones((len(texts), 2), np.float32) / np.sqrt(2)


def model_with(errors: list[Exception], now: list[float] | None = None) -> KnowledgeModel:
    clock = now or [0.0]
    return KnowledgeModel(
        Store(Knowledge()),  # type: ignore[arg-type]
        matcher=lambda: Flaky(errors),
        stand_in=lambda: NgramMatcher(),
        clock=lambda: clock[0],
    )


@pytest.mark.parametrize("error", [RuntimeError("the model server is down"), ValueError("shapes (3,) and (4,)")])
async def test_a_training_that_raises_is_tried_again_with_the_same_articles(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: a ValueError dropped the model answering (every question went to a person), and
    a failed training was never tried again until an article changed."""
    caplog.set_level(logging.ERROR, logger="hub.knowledge_model")
    now = [1000.0]
    model = model_with([error, error], now)
    assert await model.refresh()
    assert model.trained is not None and model.trained.name == "ngram-svm"  # the n-grams answer meanwhile
    assert model.failed_trainings == 1 and "the matcher flaky failed to train" in caplog.text
    assert "trying again in 60 s" in caplog.text
    now[0] += 59
    assert not await model.refresh()  # not yet due

    now[0] += 1  # the retry is due
    fallback = model.trained
    assert await model.refresh()
    assert model.failed_trainings == 2 and model.trained is fallback  # the same n-grams, not trained again
    assert "trying again in 120 s" in caplog.text  # twice as long each time
    now[0] += 119
    assert not await model.refresh()
    now[0] += 1
    assert await model.refresh()
    assert model.trained is not None and model.trained.name == "ngram-svm+flaky"  # it works again
    assert model.failed_trainings == 2 and model.predict("密码忘了")  # answering with it
    assert not await model.refresh()  # nothing due any more


class Nonsense:
    """A trained model of a package's that raises on some questions and answers others
    with more predictions than asked, confidences out of range and ids it never learned."""

    name = "nonsense"
    article_ids = frozenset({"pw", "parcel"})

    def predict(self, text: str, k: int = 3) -> list[Prediction]:
        if "崩溃" in text:
            raise TypeError("'NoneType' object is not subscriptable")
        if "物流" in text:
            return [Prediction("parcel", None)]  # type: ignore[arg-type]  (no number at all)
        return [Prediction("pw", math.nan), Prediction("gone", 0.9), Prediction("parcel", -3.0), Prediction("pw", 7)]


async def test_a_question_the_model_fails_on_matches_nothing_and_its_confidences_are_read_within_0_and_1() -> None:
    model = model_with([])
    await model.refresh()
    model.trained = Nonsense()  # type: ignore[assignment]
    assert model.predict("app崩溃了") == [] and model.failed_predictions == 1
    assert model.predict("物流到哪了") == [] and model.failed_predictions == 2  # a confidence that is no number
    found = model.predict("忘记密码", k=3)  # at most k, of the articles it knows
    assert [(article.id, prediction.confidence) for article, prediction in found] == [("pw", 0.0), ("parcel", 0.0)]
