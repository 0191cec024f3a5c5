"""The n-gram matcher: character and word n-grams, a linear classifier, and a calibrator.
The hub's default model, e5, is this one with a sentence embedding appended to the
n-grams (embeddings.py); `[knowledge] model = "ngram"` answers with this one alone.

Why this model (measured on BANKING77 and the shared FAQ sets, see README "Performance"):
it needs nothing but scikit-learn from PyPI (no weights to ship or download), trains on
10,000 examples in about 1.5 s on one core (a retraining after a small change in about
0.15 s), and answers in about a millisecond.

- Text to features: NFKC (full-width letters and digits become ASCII), lower case, then
  every CJK character is a token and every run of Latin letters or digits is a word.
  Features are the tokens, adjacent token pairs (so Chinese gets character bigrams without
  a word segmenter, English gets word bigrams) and the character 3- and 4-grams of Latin
  words (typos and inflections still share most of them). Long digit runs (order and
  phone numbers) become one placeholder token. TF-IDF with sublinear counts weights them.
  Each text's features are remembered (vectorize.py), so retraining after one article
  changed analyses only its new texts.
- Articles are ranked by a linear SVM (one-vs-rest) over those features. Retraining after
  a small change (the process still holds the previous model) refits only the changed
  articles' classifiers and keeps the calibrator; after 2 % of the examples changed that
  way, everything is trained again (`INCREMENTAL_SHARE`).
- The confidence of a candidate article is a logistic model of three signals: its SVM
  score, its margin over the best other article, and the cosine similarity of the question
  to that article's closest example. It is fitted on held-out predictions (k-fold over the
  training examples), so a confidence of 0.9 means about nine in ten such answers were
  right. A question about something no article covers has no close example and a small
  margin, so its confidence stays low: that is how out-of-scope questions are withheld.
  A knowledge base with enough questions in both scripts (Chinese and English articles
  in one model, as a hub trains them) gets one such model per script: English words are
  shared by more articles than Chinese character pairs, so the same score is worth less.
  Requests for a person and questions about one numbered order share their words with
  real articles, so scope.py recognises them and halves their confidence; one- and
  two-word messages ("退款", "my account") name a topic, not a question, and lose 40 %.
- Measured against richer features (CJK character trigrams, word trigrams and skip-grams,
  character 2-5-grams, across-word character n-grams), other SVM strengths, English
  suffix stripping, word-dropout copies of the examples, Crammer-Singer's multi-class SVM
  and more calibrator signals (the question's words the article's examples cover, the
  closest example's margin, unknown words counted in the vector's length): none raised
  BANKING77 10-shot above 71 % or both FAQ sets' precision (README "FAQ matching").
  Nor, on BANKING77's 5-fold split (90.1 %), did NB-SVM's log-count ratios (89.7 %),
  multinomial logistic regression (90.6 %, 6 s a fit), its or complement naive Bayes'
  scores beside the SVM's, word, pair and character blocks weighted apart, plain or binary
  counts, no IDF (89.6 - 90.5 %); and for the faq-en precision, calibrator inputs for the
  question's language (CJK share; constant within a one-language knowledge base), its
  length, the best score, fewer candidates a question or a threshold chosen on held-out
  folds (0.75) (README "FAQ matching").
- Memory: a training's large temporary arrays each get a mapping of their own, its freed
  heap is given back to the operating system when it ends (memory.py), and an optional
  embedding is appended to the n-grams without scipy's copies and kept dense in the model.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from conversation.faq.matcher import Example, MatchedExample, Prediction
from conversation.faq.memory import keep_large_blocks_apart, release_freed_memory
from conversation.faq.scope import confidence_factor
from conversation.faq.vectorize import FeatureCache, TfidfWeights

# Auto-answer at or above this confidence. Chosen on the shared faq-zh and faq-en dev sets
# (of 0.6-0.9, the best precision on both with every out-of-scope question withheld; README
# "FAQ matching"): it answers about half (zh) and a third (en) of the questions.
DEFAULT_THRESHOLD = 0.7

CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
TOKEN = re.compile(rf"[{CJK}]|[^\W{CJK}_]+")
IS_CJK = re.compile(rf"[{CJK}]")
LONG_NUMBER = re.compile(r"\d{5,}")
CALIBRATION_FOLDS = 4
# Cross-validating on at most this many examples keeps retraining 10,000 examples under
# 2 s; the calibrator learns from models trained on less data, so it errs on the side of
# less confidence. 1,500 (with the folds' looser tolerance below) gave the same BANKING77
# and FAQ-set figures as 2,000 for two thirds of the time (README "FAQ matching").
CALIBRATION_SAMPLE = 1500
LEFT_OUT_ARTICLES = 0.2  # share of articles each calibration fold trains without
CALIBRATION_CANDIDATES = 5  # per held-out question: the right article is usually among them
EXPLAIN_EXAMPLES = 3
SVM_C = 0.5
# How much the optional sentence embedding counts beside the n-grams (both unit length);
# 2 was best of 0, 1 and 2 on BANKING77 with WordLlama (README "Performance").
EMBEDDING_WEIGHT = 2.0
Embedder = Callable[[list[str]], np.ndarray]
SVM_TOLERANCE = 0.1
# The calibration folds' classifiers only estimate how the full one scores held-out questions.
CALIBRATION_TOLERANCE = 0.3


def features(text: str) -> list[str]:
    """The n-gram features of one text (see the module docstring)."""
    text = LONG_NUMBER.sub(" 0000 ", unicodedata.normalize("NFKC", text).lower())
    tokens = TOKEN.findall(text)
    out = [_word_feature(t) for t in tokens]
    out += [f"b:{a}_{b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    for token in tokens:
        out += _character_grams(token)
    return out


@functools.lru_cache(maxsize=100_000)
def _word_feature(token: str) -> str:
    return ("z:" if IS_CJK.match(token) else "w:") + token


# The same words recur in most texts: their character n-grams are cut once (a bounded cache).
@functools.lru_cache(maxsize=100_000)
def _character_grams(token: str) -> tuple[str, ...]:
    if IS_CJK.match(token):
        return ()
    padded = f"<{token}>"
    return tuple("c:" + padded[i : i + n] for n in (3, 4) for i in range(len(padded) - n + 1))


# Each text's features, kept across trainings of every matcher in this process: retraining
# after a change cuts only the new texts (vectorize.py).
FEATURES = FeatureCache(features)


def forget_features() -> None:
    """As in a new process: no text's or word's features known (for measuring)."""
    FEATURES.clear()
    _word_feature.cache_clear()
    _character_grams.cache_clear()


def _centred(dense: np.ndarray, center: np.ndarray | None, basis: np.ndarray | None = None) -> np.ndarray:
    """The embedding less the examples' mean, (with a basis) as its coordinates along the
    basis' directions, at length 1."""
    if center is None:
        return dense
    dense = dense - center
    if basis is not None:
        dense = np.asarray(dense @ basis, np.float32)
    return dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-6)


# A knowledge base of more than PROJECT_ABOVE examples keeps the embedding's
# PROJECTED_DIMENSIONS main directions across its examples (of e5's 384): half the columns
# the classifier is trained on, so the SVM of a first training on 10,000 examples took 3.4 s
# instead of 6.2 and about 70 MB less at its peak, for nearly the same figures (BANKING77
# full 92.2 % against 92.3 %; README "FAQ matching"). Examples added later by an update in
# place are read along the same directions. A smaller knowledge base (the FAQ sets,
# BANKING77 10-shot) keeps the whole embedding: its arrays are a few MB, and its figures
# stay exactly as they were.
PROJECTED_DIMENSIONS = 192
PROJECT_ABOVE = 2_000


def _main_directions(centred: np.ndarray, dimensions: int) -> np.ndarray | None:
    """The `dimensions` directions along which the (centred, unit) rows vary most, as the
    columns of a matrix; None when the rows have no more columns than that."""
    if centred.shape[1] <= dimensions:
        return None
    covariance = np.asarray(centred.T @ centred, np.float64)
    _values, vectors = np.linalg.eigh(covariance)  # ascending: the last columns vary most
    return np.ascontiguousarray(vectors[:, ::-1][:, :dimensions], np.float32)


@dataclass(frozen=True)
class _Encoder:
    """Text to unit-length vectors: the TF-IDF n-grams, optionally followed by a sentence
    embedding (weighted, then the whole row rescaled to length 1 again)."""

    vectorizer: TfidfWeights
    embedder: Embedder | None = None
    weight: float = EMBEDDING_WEIGHT
    # Subtracted from every embedding before it is rescaled to length 1: the training
    # examples' mean. Transformer sentence embeddings (e5) crowd into a narrow cone, all
    # cosines 0.7-0.9; centred, the classifier tells intents apart far better (BANKING77
    # 10-shot: 78 -> 81 %, README "FAQ matching").
    center: np.ndarray | None = None
    # The main directions kept of a large knowledge base's embeddings (see PROJECT_ABOVE).
    basis: np.ndarray | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.embedder is not None
        return _centred(np.asarray(self.embedder(list(texts)), dtype=np.float32), self.center, self.basis)

    def scales(self) -> tuple[float, float]:
        """What the n-grams' and the embedding's values are multiplied by in a row."""
        scale = 1 / np.sqrt(1 + self.weight**2)
        return scale, self.weight * scale

    def encode(
        self, texts: Sequence[str], tfidf: sparse.csr_matrix | None = None, embedded: np.ndarray | None = None
    ) -> sparse.csr_matrix:
        if tfidf is None:
            tfidf = self.vectorizer.transform(list(texts))
        if self.embedder is None:
            return tfidf
        dense = self.embed(texts) if embedded is None else embedded
        scale, dense_scale = self.scales()
        return _appended(tfidf, dense, dense_scale, scale)

    def training(self, texts: Sequence[str], tfidf: sparse.csr_matrix, embedded: np.ndarray | None) -> _Training:
        if self.embedder is None:
            return _Training(tfidf, tfidf, None)
        if embedded is None:
            embedded = self.embed(texts)
        return _Training(self.encode(texts, tfidf, embedded), tfidf, embedded)


@dataclass(frozen=True)
class _Training:
    """The training examples' rows as the classifier is given them (float64, both parts in
    one matrix) and, apart, the two parts they were made of (float32, before weighting). The
    model's sorted copies are cut from the parts: cut from the float64 matrix they took about
    13 MB more at the peak of a first training on 10,000 examples (README "FAQ matching")."""

    vectors: sparse.csr_matrix
    tfidf: sparse.csr_matrix
    embedded: np.ndarray | None

    def rows(self, index: np.ndarray) -> _Training:
        tfidf = self.tfidf[index]
        if self.embedded is None:  # the classifier's rows are the n-grams themselves
            return _Training(tfidf, tfidf, None)
        return _Training(self.vectors[index], tfidf, self.embedded[index])


def _appended(tfidf: sparse.csr_matrix, dense: np.ndarray, dense_scale: float, scale: float) -> sparse.csr_matrix:
    """Each row of `tfidf` times `scale` followed by the same row of `dense` times
    `dense_scale`, as one CSR matrix, written in place: scipy's hstack goes through 64-bit
    coordinates and copies, which for 10,000 examples of e5 (384 columns each) left the
    process about 150 MB larger (README "FAQ matching"). Its values are float64, what
    liblinear is given: in float32, scikit-learn made a float64 copy for each training."""
    rows, width = dense.shape
    lengths = np.diff(tfidf.indptr)
    indptr = np.asarray(tfidf.indptr, np.int64) + np.arange(rows + 1, dtype=np.int64) * width
    indices = np.empty(indptr[-1], np.int32)
    data = np.empty(indptr[-1], np.float64)
    # Where each n-gram entry lands: its old position plus the dense columns of the rows before it.
    sparse_at = np.arange(tfidf.nnz, dtype=np.int64) + np.repeat(np.arange(rows, dtype=np.int64) * width, lengths)
    indices[sparse_at], data[sparse_at] = tfidf.indices, tfidf.data * scale
    dense_at = (indptr[:-1] + lengths)[:, None] + np.arange(width)
    indices[dense_at] = tfidf.shape[1] + np.arange(width, dtype=np.int32)
    data[dense_at] = dense * dense_scale
    return sparse.csr_matrix((data, indices, indptr), shape=(rows, tfidf.shape[1] + width))


@dataclass(frozen=True)
class _Linear:
    """One-vs-rest linear scores: a row of weights and an intercept per article."""

    coef: np.ndarray  # articles x features
    intercept: np.ndarray

    @classmethod
    def fitted(cls, vectors: sparse.csr_matrix, labels: np.ndarray, tolerance: float) -> _Linear:
        """A linear SVM (liblinear, one-vs-rest); labels: two or more distinct values."""
        svm = LinearSVC(C=SVM_C, tol=tolerance, random_state=0).fit(vectors, labels)
        coef, intercept = svm.coef_.astype(np.float32), svm.intercept_.astype(np.float32)
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row, for the second
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        return cls(coef, intercept)

    def decision_function(self, vectors: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(vectors @ self.coef.T) + self.intercept


@dataclass(frozen=True)
class _Scorer:
    """Encoder, classifier and the examples sorted by article, without the calibrator."""

    encoder: _Encoder
    svm: _Linear | None  # None when there is a single article: nothing to tell apart
    labels: tuple[str, ...]  # article ids, in the classifier's column order
    # The training examples' vectors, transposed, sorted by article: the n-gram columns
    # sparse, an embedding's columns (when there is one) dense. In one sparse matrix the
    # embedding took twice the memory: 8 bytes a value instead of 4 (31 MB for e5 on
    # 10,000 examples instead of 15).
    vectors_t: sparse.csr_matrix
    starts: np.ndarray  # where each article's examples begin in that order
    dense_t: np.ndarray | None = None

    def similarities(self, vectors: sparse.csr_matrix) -> np.ndarray:
        """Cosine of each question to each training example (questions x examples)."""
        if self.dense_t is None:
            return (vectors @ self.vectors_t).toarray()
        ngrams = self.vectors_t.shape[0]
        found = (vectors[:, :ngrams] @ self.vectors_t).toarray()
        return found + vectors[:, ngrams:].toarray() @ self.dense_t

    def signals(self, vectors: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per question and article: score, margin over the best other, closest-example
        similarity; and the raw similarities to every example."""
        similarities = self.similarities(vectors)
        closest = np.maximum.reduceat(similarities, self.starts, axis=1)
        if self.svm is None:
            scores = closest * 2 - 1
        else:
            scores = self.svm.decision_function(vectors)
        if scores.shape[1] == 1:
            margins = scores.copy()
        else:
            top2 = -np.partition(-scores, 1, axis=1)[:, :2]
            best_other = np.where(scores >= top2[:, :1], top2[:, 1:2], top2[:, :1])
            margins = scores - best_other
        return scores, margins, closest, similarities


def _fit_scorer(
    encoder: _Encoder,
    training: _Training,
    labels: np.ndarray,
    label_names: tuple[str, ...],
    tolerance: float = SVM_TOLERANCE,
) -> _Scorer:
    present = np.unique(labels)
    # A loose tolerance: same accuracy on BANKING77 (measured), a third less training time.
    svm = _Linear.fitted(training.vectors, labels, tolerance) if len(present) > 1 else None
    return _sorted_scorer(encoder, svm, training, labels, label_names)


def _sorted_scorer(
    encoder: _Encoder, svm: _Linear | None, training: _Training, labels: np.ndarray, label_names: tuple[str, ...]
) -> _Scorer:
    present = np.unique(labels)
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], present)
    names = tuple(label_names[i] for i in present)
    ordered = training.tfidf[order]
    if training.embedded is None:
        return _Scorer(encoder, svm, names, ordered.T.tocsr(), starts)
    # The classifier's values (the same products as `_appended`'s), kept in float32.
    scale, dense_scale = encoder.scales()
    dense_t = np.ascontiguousarray((training.embedded[order] * dense_scale).T, np.float32)
    return _Scorer(encoder, svm, names, (ordered * scale).T.tocsr().astype(np.float32), starts, dense_t)


def _calibration_rows(scores: np.ndarray, margins: np.ndarray, closest: np.ndarray) -> np.ndarray:
    return np.stack([scores, margins, closest], axis=-1)


def written_in_cjk(text: str) -> bool:
    """Whether a question is written mostly in Chinese (Japanese, Korean): more CJK
    characters than Latin words, so "我的app登录不了" is and "my 微信 pay failed" is not."""
    tokens = TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
    cjk = sum(1 for token in tokens if IS_CJK.match(token))
    return cjk > len(tokens) - cjk


# Held-out questions a script (CJK or Latin) needs in the calibration folds before it gets a
# calibrator of its own; below that its questions share the other's.
SCRIPT_CALIBRATION_QUESTIONS = 50


@dataclass(frozen=True)
class _Calibrator:
    """P(article is right | score, margin, closest example): a logistic model fitted on the
    calibration folds' held-out questions. A knowledge base with questions in both scripts
    gets one model per script: the same score means less in English, whose words are shared
    by more articles, than in Chinese, whose character pairs rarely are (README "FAQ
    matching"); a one-language knowledge base gets one model, as before."""

    pooled: LogisticRegression
    by_script: dict[bool, LogisticRegression]  # keyed by written_in_cjk

    @classmethod
    def fitted(cls, rows: np.ndarray, right: np.ndarray, scripts: list[np.ndarray]) -> _Calibrator:
        """rows and right: one per held-out question and candidate; scripts: per fold,
        questions x candidates, whether each question is written in CJK."""
        pooled = LogisticRegression(C=1.0).fit(rows, right)
        by_script: dict[bool, LogisticRegression] = {}
        cjk = np.concatenate([fold.reshape(-1) for fold in scripts])
        chinese = sum(int(fold[:, 0].sum()) for fold in scripts)
        questions = sum(len(fold) for fold in scripts)
        if min(chinese, questions - chinese) >= SCRIPT_CALIBRATION_QUESTIONS:
            for script in (False, True):
                mine = cjk == script
                if right[mine].any() and not right[mine].all():
                    by_script[script] = LogisticRegression(C=1.0).fit(rows[mine], right[mine])
        return cls(pooled, by_script)

    def probabilities(self, rows: np.ndarray, cjk: np.ndarray) -> np.ndarray:
        """rows: questions x articles x signals; cjk: per question. Questions x articles."""
        out = np.empty(rows.shape[:2], np.float64)
        for script in (False, True):
            mine = cjk == script
            if mine.any():
                model = self.by_script.get(script, self.pooled)
                out[mine] = model.predict_proba(rows[mine].reshape(-1, rows.shape[2]))[:, 1].reshape(mine.sum(), -1)
        return out


@dataclass(frozen=True)
class NgramModel:
    """A trained n-gram matcher (immutable: retraining builds a new one)."""

    scorer: _Scorer
    calibrator: _Calibrator | None
    example_texts: tuple[str, ...]  # in the scorer's sorted order
    name: str = "ngram-svm"
    # Examples changed since the classifier was last trained on all articles (see `_updated`).
    drift: int = 0

    def examples_by_article(self) -> dict[str, tuple[str, ...]]:
        ends = [*self.scorer.starts[1:], len(self.example_texts)]
        return {
            label: tuple(sorted(self.example_texts[start:end]))
            for label, start, end in zip(self.scorer.labels, self.scorer.starts, ends, strict=True)
        }

    @property
    def article_ids(self) -> frozenset[str]:
        return frozenset(self.scorer.labels)

    def confidences(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated confidence per question and article, and the raw example similarities."""
        vectors = self.scorer.encoder.encode(texts)
        scores, margins, closest, similarities = self.scorer.signals(vectors)
        if self.calibrator is None:
            confidence = closest  # too few examples to fit one: the plain similarity
        else:
            rows = _calibration_rows(scores, margins, closest)
            confidence = self.calibrator.probabilities(rows, np.array([written_in_cjk(t) for t in texts], bool))
        factors = np.array([confidence_factor(text) for text in texts], dtype=confidence.dtype)
        return confidence * factors[:, None], similarities

    def predict(self, text: str, k: int = 3) -> list[Prediction]:
        confidence, similarities = self.confidences([text])
        best = np.argsort(-confidence[0], kind="stable")[:k]
        return [
            Prediction(
                self.scorer.labels[i], float(confidence[0, i]), self._closest(similarities[0], i, EXPLAIN_EXAMPLES)
            )
            for i in best
        ]

    def explain(self, text: str, article_id: str, n: int = 3) -> list[MatchedExample]:
        if article_id not in self.article_ids:
            return []
        similarities = self.scorer.similarities(self.scorer.encoder.encode([text]))[0]
        return list(self._closest(similarities, self.scorer.labels.index(article_id), n))

    def similarity(self, a: str, b: str) -> float:
        """How alike two texts are to this model: the cosine of their vectors, 0..1 (the same
        measure `MatchedExample.similarity` reports)."""
        vectors = self.scorer.encoder.encode([a, b])
        return float((vectors[0] @ vectors[1].T).toarray()[0, 0])

    def _closest(self, similarities: np.ndarray, article: int, n: int) -> tuple[MatchedExample, ...]:
        start = self.scorer.starts[article]
        end = self.scorer.starts[article + 1] if article + 1 < len(self.scorer.starts) else len(similarities)
        picked = start + np.argsort(-similarities[start:end], kind="stable")[:n]
        return tuple(
            MatchedExample(self.example_texts[j], self.scorer.labels[article], float(similarities[j])) for j in picked
        )


class NgramMatcher:
    """The n-gram `Matcher` (see the module docstring). With an `embedder` (a function from
    texts to L2-normalised rows, e.g. embeddings.e5_embedder()) the classifier also sees a
    sentence embedding of each text: the hub's default model, e5, is this with e5's."""

    def __init__(
        self,
        seed: int = 0,
        embedder: Embedder | None = None,
        embedder_name: str = "",
        embedding_weight: float = EMBEDDING_WEIGHT,
        center_embeddings: bool = False,
    ) -> None:
        self.seed = seed
        self.embedder = embedder
        self.embedding_weight = embedding_weight
        self.center_embeddings = center_embeddings
        self.name = f"ngram-svm+{embedder_name or 'embedding'}" if embedder else "ngram-svm"

    def train(self, examples: Sequence[Example]) -> NgramModel:
        keep_large_blocks_apart()  # so the training's large arrays are returned when freed
        model = self._train(examples)
        # Once the training's temporary arrays are gone (they were this method's locals).
        release_freed_memory()
        return model

    def _train(self, examples: Sequence[Example]) -> NgramModel:
        # In one order whatever order they came in: the calibration folds sample rows by
        # position, so a hub (articles by id) and `helpline faq eval` (the file's order) trained
        # different models on the same knowledge base, and the README's figures were not a
        # hub's (faq-zh with the n-grams: 95.6 % precision in the file's order, 93.3 % in a hub).
        examples = sorted((e for e in examples if e.text.strip()), key=lambda e: (e.article_id, e.text))
        if not examples:
            raise ValueError("no example questions to learn from")
        label_names = tuple(sorted({e.article_id for e in examples}))
        index = {name: i for i, name in enumerate(label_names)}
        texts = [e.text for e in examples]
        labels = np.array([index[e.article_id] for e in examples])
        order = np.argsort(labels, kind="stable")
        sorted_texts = tuple(texts[i] for i in order)
        previous = _previous_model()
        updating = None  # (the previous model, what changed) when only the changed articles are refitted
        if previous is not None and self._trains_like(previous):
            change = _change(previous, sorted_texts, labels[order], label_names)
            if change is not None:
                updating = (previous, change)
        vectorizer, tfidf = FEATURES.fit_transform(texts)
        embedded = center = basis = None
        if self.embedder is not None:
            embedded = np.asarray(self.embedder(texts), dtype=np.float32)
            if updating is not None:  # the columns the previous classifiers were trained on
                center, basis = updating[0].scorer.encoder.center, updating[0].scorer.encoder.basis
            elif self.center_embeddings:
                center = embedded.mean(axis=0)
                if len(texts) > PROJECT_ABOVE:
                    basis = _main_directions(_centred(embedded, center), PROJECTED_DIMENSIONS)
            embedded = _centred(embedded, center, basis)
        encoder = _Encoder(vectorizer, self.embedder, self.embedding_weight, center, basis)
        training = encoder.training(texts, tfidf, embedded)
        del tfidf, embedded  # (held by `training`)
        if updating is not None:
            model = _updated(updating[0], encoder, training, labels, label_names, sorted_texts, *updating[1])
        else:
            # One after the other, never in two threads: liblinear draws from one random
            # generator per process, so concurrent fits would make training nondeterministic.
            scorer = _fit_scorer(encoder, training, labels, label_names)
            calibrator = self._calibrate(encoder, training, labels, label_names, texts)
            model = NgramModel(scorer, calibrator, sorted_texts, self.name)
        _remember(model)
        return model

    def _trains_like(self, model: NgramModel) -> bool:
        """Whether the model came from a matcher like this one (so it may be updated)."""
        encoder = model.scorer.encoder
        return (
            model.name == self.name
            and encoder.embedder is self.embedder
            and (self.embedder is None or encoder.weight == self.embedding_weight)
            and (encoder.center is not None) == (self.embedder is not None and self.center_embeddings)
        )

    def _calibrate(
        self,
        encoder: _Encoder,
        training: _Training,
        labels: np.ndarray,
        label_names: tuple[str, ...],
        texts: Sequence[str],
    ) -> _Calibrator | None:
        """Fit P(article is right | signals) on k-fold held-out predictions. The folds reuse
        the vocabulary and IDF weights fitted on all examples: refitting them per fold
        would cost more time than the retraining budget allows for a negligible difference."""
        rng = np.random.default_rng(self.seed)
        sample = rng.permutation(training.vectors.shape[0])[:CALIBRATION_SAMPLE]
        # Each fold also leaves some articles out of training altogether: their held-out
        # questions then stand for questions no article answers, so the calibrator learns
        # what out-of-scope looks like (it never sees a real one in the examples).
        unseen = rng.permutation(len(label_names))
        rows: list[np.ndarray] = []
        right: list[np.ndarray] = []
        scripts: list[np.ndarray] = []  # per question and candidate: whether the question is in CJK
        for fold in range(CALIBRATION_FOLDS):
            held = sample[fold::CALIBRATION_FOLDS]
            left_out = unseen[fold :: max(CALIBRATION_FOLDS, round(1 / LEFT_OUT_ARTICLES))]
            kept = np.setdiff1d(sample, held)
            kept = kept[~np.isin(labels[kept], left_out)] if len(label_names) > 2 else kept
            if len(held) == 0 or len(np.unique(labels[kept])) < 2:
                continue
            scorer = _fit_scorer(encoder, training.rows(kept), labels[kept], label_names, CALIBRATION_TOLERANCE)
            scores, margins, closest, _ = scorer.signals(training.vectors[held])
            top = np.argsort(-scores, axis=1)[:, :CALIBRATION_CANDIDATES]
            candidates = np.take_along_axis(_calibration_rows(scores, margins, closest), top[..., None], axis=1)
            names = np.array(scorer.labels)[top]
            rows.append(candidates.reshape(-1, 3))
            right.append((names == np.array(label_names)[labels[held]][:, None]).reshape(-1))
            scripts.append(np.repeat([written_in_cjk(texts[i]) for i in held], top.shape[1]).reshape(len(held), -1))
        if not rows:
            return None
        x, y = np.vstack(rows), np.concatenate(right)
        if y.all() or not y.any():
            return None
        return _Calibrator.fitted(x, y, scripts)


# Retraining after a small change refits only the classifiers of the articles whose examples
# changed (one binary SVM each instead of one per article) and keeps the calibrator: on
# 10,000 examples a few hundredths of a second instead of about a second. The other
# articles' classifiers did not see the new examples as counter-examples, so once the
# examples changed this way since the last full training exceed this share, everything
# is trained again.
INCREMENTAL_SHARE = 0.02
INCREMENTAL_ARTICLES = 0.1  # at most this share of the articles changed at once
_last: weakref.ReferenceType[NgramModel] | None = None


def _previous_model() -> NgramModel | None:
    return _last() if _last is not None else None


def _remember(model: NgramModel) -> None:
    """The model the next training may update (weakly held: a model nobody answers with
    any more is not kept alive for it)."""
    global _last
    _last = weakref.ref(model)


def _change(
    previous: NgramModel, sorted_texts: tuple[str, ...], sorted_labels: np.ndarray, label_names: tuple[str, ...]
) -> tuple[set[str], int] | None:
    """The articles whose examples differ from the previous model's, and the examples
    changed since its last full training; None when that is too much to update in place."""
    if previous.scorer.svm is None or previous.calibrator is None or len(label_names) < 3:
        return None
    before = previous.examples_by_article()
    now: dict[str, list[str]] = {name: [] for name in label_names}
    for text, label in zip(sorted_texts, sorted_labels, strict=True):
        now[label_names[label]].append(text)
    after = {name: tuple(sorted(texts)) for name, texts in now.items()}
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    drift = previous.drift + sum(len(set(before.get(n, ())) ^ set(after.get(n, ()))) for n in changed)
    if drift > INCREMENTAL_SHARE * len(sorted_texts) or len(changed) > INCREMENTAL_ARTICLES * len(label_names):
        return None
    return changed, drift


def _updated(
    previous: NgramModel,
    encoder: _Encoder,
    training: _Training,
    labels: np.ndarray,
    label_names: tuple[str, ...],
    sorted_texts: tuple[str, ...],
    changed: set[str],
    drift: int,
) -> NgramModel:
    """The previous model with the changed articles' classifiers refitted on every example
    (one binary SVM each), the others' weights moved to their features' new columns."""
    assert previous.scorer.svm is not None
    old_vocabulary = previous.scorer.encoder.vectorizer.vocabulary
    new_vocabulary = encoder.vectorizer.vocabulary
    kept = [feature for feature in old_vocabulary if feature in new_vocabulary]
    # An embedding's columns follow the n-grams' in both (same embedder, same centre).
    dense = previous.scorer.svm.coef.shape[1] - len(old_vocabulary)
    old_columns, new_columns = (
        np.concatenate([np.fromiter(map(v.__getitem__, kept), np.int64, len(kept)), len(v) + np.arange(dense)])
        for v in (old_vocabulary, new_vocabulary)
    )
    old_rows = {name: i for i, name in enumerate(previous.scorer.labels)}
    coef = np.zeros((len(label_names), training.vectors.shape[1]), np.float32)
    intercept = np.zeros(len(label_names), np.float32)
    for row, name in enumerate(label_names):
        if name in changed:
            binary = _Linear.fitted(training.vectors, labels == row, SVM_TOLERANCE)
            coef[row], intercept[row] = binary.coef[1], binary.intercept[1]
        else:
            coef[row, new_columns] = previous.scorer.svm.coef[old_rows[name], old_columns]
            intercept[row] = previous.scorer.svm.intercept[old_rows[name]]
    scorer = _sorted_scorer(encoder, _Linear(coef, intercept), training, labels, label_names)
    return NgramModel(scorer, previous.calibrator, sorted_texts, previous.name, drift)


def text_similarities(texts: Sequence[str]) -> np.ndarray:
    """Each pair's similarity (cosine, 0..1) by the matcher's n-gram features, weighted by
    TF-IDF fitted on these texts themselves: for grouping texts no article was trained on
    (suggestions). A text without any feature is similar to nothing."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    if not any(features(t) for t in texts):
        return np.eye(len(texts), dtype=np.float32)
    vectors = TfidfVectorizer(analyzer=features, sublinear_tf=True, dtype=np.float32).fit_transform(list(texts))
    return np.asarray((vectors @ vectors.T).toarray(), dtype=np.float32)


def ngram_matcher() -> NgramMatcher:
    return NgramMatcher()
