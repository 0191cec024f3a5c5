"""The matcher interface: trained on example questions of articles, it ranks articles for a
new question with a calibrated confidence and shows which examples made it choose them.

Training returns a new immutable `TrainedMatcher` instead of changing one in place, so a
process can retrain in the background and swap the reference while questions are being
answered with the previous model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Example:
    """One way customers ask the question an article answers."""

    text: str
    article_id: str


@dataclass(frozen=True)
class MatchedExample:
    """A training example close to the question: the "why" behind a prediction."""

    text: str
    article_id: str
    similarity: float  # cosine of their n-gram vectors, 0..1


@dataclass(frozen=True)
class Prediction:
    article_id: str
    # The estimated probability that this article is the right answer, fitted on held-out
    # training examples: of the predictions at 0.9, about nine in ten were right. A question
    # no article answers should get a low confidence for every article.
    confidence: float
    matched: tuple[MatchedExample, ...] = field(default=())


class EmbeddingsUnavailable(RuntimeError):
    """An optional model's package or weights are missing or unreadable; the message says
    which, and how to install it."""


class TrainingStopped(Exception):
    """The training gave up because whoever started it is stopping (a hub shutting down)."""


# The stop signal of the training running in this context: the hub sets it in the thread it
# trains in. A first training with e5 embeds every text, minutes for 10,000, and a thread
# cannot be interrupted from outside: without this a hub stopping meanwhile waited for it.
TRAINING_STOP: ContextVar[threading.Event | None] = ContextVar("faq_training_stop", default=None)


def raise_if_training_stopped() -> None:
    """Called between the slow steps of a training (e5's batches of texts)."""
    stop = TRAINING_STOP.get()
    if stop is not None and stop.is_set():
        raise TrainingStopped("the training was stopped")


class TrainedMatcher(Protocol):
    @property
    def name(self) -> str:
        """The model, for reports (e.g. "ngram-svm")."""

    @property
    def article_ids(self) -> frozenset[str]: ...

    def predict(self, text: str, k: int = 3) -> list[Prediction]:
        """The k most likely articles, best first (fewer when fewer articles exist)."""

    def explain(self, text: str, article_id: str, n: int = 3) -> list[MatchedExample]:
        """The n examples of that article closest to the text, closest first."""

    def similarity(self, a: str, b: str) -> float:
        """How alike two texts are (0..1), by the model's own encoding of questions."""


class Matcher(Protocol):
    @property
    def name(self) -> str: ...

    def train(self, examples: Sequence[Example]) -> TrainedMatcher:
        """Learn from the examples; raises ValueError when there is nothing to learn from."""
