"""The matcher each hub process answers with, kept in step with the knowledge base without
a restart: a saved change wakes this process at once (the service's `saved` hook), and
every `check_seconds` it compares the store's knowledge revision with the one it trained
on, which is how changes saved by other hub processes arrive. Training runs in a worker
thread and the new model replaces the old in one assignment; questions asked meanwhile
are answered by the previous model."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from conversation.faq.matcher import TRAINING_STOP, EmbeddingsUnavailable, TrainingStopped
from conversation.knowledge import Article
from conversation.store import Store

if TYPE_CHECKING:  # scikit-learn and numpy load at the first training, not when the hub is imported
    from conversation.faq import Example, Matcher, Prediction, TrainedMatcher

log = logging.getLogger(__name__)
PREDICT_FAILURE_LOG_SECONDS = 60.0
# A training that raised is tried again after this long (a model server that was down, a
# model file being replaced), then after twice as long each time, up to the maximum.
TRAINING_RETRY_SECONDS = 60.0
TRAINING_RETRY_MAX_SECONDS = 1800.0


class KnowledgeSettings(Protocol):
    """What the matcher needs of hub.toml's [knowledge] (hub.config.KnowledgeSection)."""

    @property
    def model(self) -> str: ...

    @property
    def model_path(self) -> str: ...


CHECK_SECONDS = 5.0
# Questions matched at once by one hub process: e5's engine already uses every core for one
# question, so more threads would only compete for them; their own pool keeps a burst of
# questions from taking the threads the rest of the hub hands work to.
MATCH_THREADS = 1


def default_matcher() -> Matcher:
    from conversation.faq import DEFAULT_MODEL, matcher_named

    return matcher_named(DEFAULT_MODEL)


def matcher_factory(settings: KnowledgeSettings) -> Callable[[], Matcher]:
    """The matcher `[knowledge] model` names, built in or a package's (the configuration
    checked it is installed), made at each training, in the training thread: a built-in
    model's packages load then; a package's module was imported at start, to check it."""
    from hub.registry import discover

    make = discover().matcher_maker(settings.model, "knowledge.model")
    path = Path(settings.model_path) if settings.model_path else None
    return lambda: make(path)


def stand_in_factory(settings: KnowledgeSettings) -> Callable[[], Matcher] | None:
    """What answers while a slow first training runs: the n-grams alone, for a model that
    adds an embedding to them; None for the n-gram model itself."""
    from conversation.faq import matcher_named

    return None if settings.model == "ngram" else lambda: matcher_named("ngram")


def training_pairs(articles: list[Article]) -> list[tuple[str, str]]:
    """What the matcher learns, as (text, article id): each published article's example
    questions, title and answer sentences, as `helpline faq eval` measures it
    (`conversation.faq.dataset.article_texts`). Plain pairs, so deciding whether to train
    loads no model."""
    from conversation.faq.dataset import article_texts

    return [
        (text, article.id)
        for article in articles
        if article.published
        for text in article_texts(article.title, article.examples, article.answer)
    ]


def training_examples(articles: list[Article]) -> list[Example]:
    from conversation.faq import Example

    return [Example(text, article_id) for text, article_id in training_pairs(articles)]


class KnowledgeModel:
    def __init__(
        self,
        store: Store,
        *,
        matcher: Callable[[], Matcher] = default_matcher,
        check_seconds: float = CHECK_SECONDS,
        stand_in: Callable[[], Matcher] | None = None,
        clock: Callable[[], float] = time.monotonic,  # when to retry a failed training, or log a failure
    ) -> None:
        self.store = store
        self._clock = clock
        self._matcher = matcher
        # e5's first training in a process embeds every title, example and answer sentence (7 - 14 ms each
        # here: seconds for a few hundred, minutes for 10,000): a process with no model yet
        # first trains the n-grams alone (under a second for most knowledge bases) and
        # answers with them meanwhile, rather than handing every question to a person.
        self._stand_in = stand_in
        self.check_seconds = check_seconds
        self.trained: TrainedMatcher | None = None
        self.articles: dict[str, Article] = {}
        self.revision = -1  # the store's knowledge revision the model was trained on
        self.training_seconds = 0.0
        self.trainings = 0  # how many times the matcher was trained (for tests and logs)
        self._examples: list[tuple[str, str]] | None = None  # what the current model learned
        self._wake = asyncio.Event()
        # Set once the matcher can answer: after the first look at the knowledge base, or as
        # soon as a stand-in answers while the first training runs.
        self._answering = asyncio.Event()
        self._matching = ThreadPoolExecutor(MATCH_THREADS, thread_name_prefix="faq-match")
        self._closed = False
        self._stopping = threading.Event()  # set as the hub stops: a training under way gives up
        self.failed_predictions = 0  # questions the model raised on (they matched nothing)
        self.failed_trainings = 0  # trainings that raised (the n-grams answered instead)
        self.training_model = ""  # the name of the model trained last (for the logs)
        self._retry_at: float | None = None  # when a training that raised is tried again (monotonic)
        self._retry_after = TRAINING_RETRY_SECONDS
        self._fallback_examples: list[tuple[str, str]] | None = None  # what the n-grams answering for it learned
        self._failure_logged_at = -PREDICT_FAILURE_LOG_SECONDS

    def _train(self, matcher: Callable[[], Matcher], articles: list[Article]) -> TrainedMatcher:
        """In a worker thread (asyncio.to_thread: its own copy of the context)."""
        TRAINING_STOP.set(self._stopping)
        self.training_model = ""
        made = matcher()
        self.training_model = made.name
        return made.train(training_examples(articles))

    def changed(self) -> None:
        """A change was saved in this process: retrain now rather than at the next check."""
        self._wake.set()

    async def refresh(self) -> bool:
        """Catch up with the knowledge base; True when it changed since the last look. The
        matcher is retrained only when what it learns changed (titles, examples, which
        articles are published), so fixing an answer's wording costs no training."""
        if self._stopping.is_set():  # the hub is stopping: no training starts
            return False
        revision = await self.store.knowledge.revision()  # read first: a change saved meanwhile is caught next time
        retrying = self._retry_at is not None and self._clock() >= self._retry_at
        if revision == self.revision and not retrying:
            return False
        articles = [a for a in await self.store.knowledge.list_articles() if a.published]
        examples = training_pairs(articles)
        if examples == self._examples:  # an answer, tag or category changed: the model stays as it is
            self.articles, self.revision = {a.id: a for a in articles}, revision
            return True
        started = time.perf_counter()
        trained: TrainedMatcher | None = None
        failed = False
        if len({article_id for _text, article_id in examples}) >= 2:
            stand_in = await self._stand_in_trained(articles) if self.trained is None else None
            if stand_in is not None:
                self.trained, self.articles = stand_in, {a.id: a for a in articles}
                self._answering.set()
                log.info("knowledge base: answering with %s until the first training ends", stand_in.name)
            try:
                # In a thread, imports included: scikit-learn and numpy take over a second to
                # import, which on the loop would hold every socket and webhook of this hub.
                trained = await asyncio.to_thread(self._train, self._matcher, articles)
            except TrainingStopped:  # the hub is stopping: nothing more to answer
                log.info("knowledge base: training stopped, the hub is stopping")
                return False
            except EmbeddingsUnavailable as exc:  # e.g. the model file was replaced by a bad one
                # A load that failed is not kept: the retry loads the file again. Meanwhile the
                # n-grams alone answer rather than nobody.
                trained = await self._fallback(articles, examples, stand_in)
                log.error(
                    "knowledge base: the matcher could not load its model (%s); answering with %s;"
                    " trying again in %.0f s",
                    exc,
                    trained.name if trained else "none: every question goes to a person",
                    self._retry_after,
                )
                failed = True
            except Exception:  # a defect of the model's own (a package's matcher): the same, with its traceback
                trained = await self._fallback(articles, examples, stand_in)
                log.exception(
                    "knowledge base: the matcher %s failed to train; answering with %s; trying again in %.0f s",
                    self.training_model or "(its maker failed)",
                    trained.name if trained else "none: every question goes to a person",
                    self._retry_after,
                )
                failed = True
        self.trained, self.articles, self.revision = trained, {a.id: a for a in articles}, revision
        self._answering.set()
        # After a failure nothing counts as learned: the same articles are trained again,
        # at the retry or at the next change, whichever comes first.
        self._examples = None if failed else examples
        if failed:
            self.failed_trainings += 1
            self._retry_at = self._clock() + self._retry_after
            self._retry_after = min(self._retry_after * 2, TRAINING_RETRY_MAX_SECONDS)
        else:
            self._retry_at, self._retry_after, self._fallback_examples = None, TRAINING_RETRY_SECONDS, None
        self.trainings += 1
        self.training_seconds = time.perf_counter() - started
        log.info(
            "knowledge base revision %d: matcher %s trained on %d examples of %d articles in %.2fs",
            revision,
            trained.name if trained else "not",
            len(examples),
            len(articles),
            self.training_seconds,
        )
        return True

    async def _fallback(
        self, articles: list[Article], examples: list[tuple[str, str]], stand_in: TrainedMatcher | None
    ) -> TrainedMatcher | None:
        """The n-grams alone for these articles while the model fails: the stand-in just
        trained, the one answering already when it learned the same (a retry), else trained now."""
        if stand_in is None and self._fallback_examples == examples and self.trained is not None:
            return self.trained
        trained = stand_in or await self._stand_in_trained(articles)
        self._fallback_examples = examples if trained is not None else None
        return trained

    async def _stand_in_trained(self, articles: list[Article]) -> TrainedMatcher | None:
        """The n-grams alone trained on the articles (None without a stand-in, or with
        nothing to learn)."""
        if self._stand_in is None:
            return None
        try:
            return await asyncio.to_thread(self._train, self._stand_in, articles)
        except ValueError:
            return None

    async def answering(self, timeout: float) -> bool:
        """Wait until the matcher can answer (see `_answering`); False when `timeout` seconds
        passed first (a first training that hangs must not hold what waits on it for good)."""
        try:
            await asyncio.wait_for(self._answering.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def watch_step(self) -> None:
        """One round of the hub's `kb-retrain` loop: wait for a change or the next check."""
        if self.revision >= 0:  # the first round trains at once (the hub has just started)
            try:
                await asyncio.wait_for(self._wake.wait(), self.check_seconds)
            except TimeoutError:
                pass
        self._wake.clear()
        await self.refresh()

    async def match(self, text: str, k: int = 3) -> list[tuple[Article, Prediction]]:
        """`predict`, off the event loop: the e5 model embeds each question (milliseconds,
        tens under load), which on the loop would hold every socket of this hub meanwhile."""
        if self.trained is None or not text.strip():
            return []
        if self._closed:  # a request served while the hub stops
            return self.predict(text, k)
        return await asyncio.get_running_loop().run_in_executor(self._matching, self.predict, text, k)

    def stop_training(self) -> None:
        """At the start of a shutdown: a training under way stops at its next batch of texts
        (else the process waited for it to end), and none starts; questions are still matched."""
        self._stopping.set()

    async def close(self) -> None:
        """At shutdown, after the plugins: the matching threads end once idle."""
        self._closed = True
        self.stop_training()
        self._matching.shutdown(wait=False)

    def predict(self, text: str, k: int = 3) -> list[tuple[Article, Prediction]]:
        """The k best published articles for a question, with their confidence."""
        # Read once: this runs in a matching thread while `refresh` may replace the model and
        # then the articles; a model newer than the articles only loses the ids they lack.
        trained, articles = self.trained, self.articles
        if trained is None or not text.strip():
            return []
        try:
            return [
                (articles[p.article_id], replace(p, confidence=_probability(p.confidence)))
                for p in list(trained.predict(text, k))[:k]
                if p.article_id in articles
            ]
        except Exception:  # a defect of the model's own (a package's matcher): this question matches nothing
            self.failed_predictions += 1
            if self._time_to_log_a_failure():
                log.exception(
                    "knowledge base: the matcher %s failed on a question (%d so far); it matches nothing,"
                    " so the bot hands it to a person",
                    trained.name,
                    self.failed_predictions,
                )
            return []

    def _time_to_log_a_failure(self) -> bool:
        """At most once a minute: a model that fails on every question would otherwise write
        a traceback per customer message."""
        now = self._clock()
        if now - self._failure_logged_at < PREDICT_FAILURE_LOG_SECONDS:
            return False
        self._failure_logged_at = now
        return True


def _probability(confidence: float) -> float:
    """A model's confidence as the bot's thresholds read it: within 0..1, NaN as 0."""
    return min(1.0, max(0.0, confidence)) if math.isfinite(confidence) else 0.0
