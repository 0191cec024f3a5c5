"""TF-IDF vectors of texts, remembering each text's features across trainings.

Retraining after one article changed sees the same 10,000 texts again: cutting them into
n-grams and counting them (a Python loop a text) was a third of the time. `FeatureCache`
keeps, per recently seen text, its features as integer ids with their counts (about 1 kB a
text), so a retraining only cuts the new texts. The weighting is scikit-learn's
`TfidfVectorizer(sublinear_tf=True)`: 1 + log(count) times the smoothed IDF
log((1 + n) / (1 + df)) + 1, each row scaled to length 1.

One cache per process and analyzer; trainings in several threads share it under a lock.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

Analyzer = Callable[[str], list[str]]
# Texts whose features are kept; 50,000 is five times the 10,000 examples of the goal.
CACHE_TEXTS = 50_000
# Distinct features ever named before the names start afresh (features of texts no longer
# cached are never removed one by one): about 100 MB of strings at most.
MAX_FEATURES = 2_000_000


@dataclass(frozen=True)
class TfidfWeights:
    """What a training fitted: each feature's column and IDF. Immutable, so a model keeps
    answering while the next one is trained."""

    analyzer: Analyzer
    vocabulary: dict[str, int]
    idf: np.ndarray  # float32, one a column

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Rows of unit length; features no training example had are left out."""
        indptr: list[int] = [0]
        columns: list[int] = []
        counts: list[int] = []
        vocabulary = self.vocabulary
        for text in texts:
            found = Counter(f for f in self.analyzer(text) if f in vocabulary)
            columns += map(vocabulary.__getitem__, found)
            counts += found.values()
            indptr.append(len(columns))
        return _weighted(
            np.asarray(columns, np.int32), np.asarray(counts, np.float32), np.asarray(indptr), self.idf, len(texts)
        )


def _weighted(
    columns: np.ndarray, counts: np.ndarray, indptr: np.ndarray, idf: np.ndarray, rows: int
) -> sparse.csr_matrix:
    values = (1 + np.log(counts)) * idf[columns]
    matrix = sparse.csr_matrix((values.astype(np.float32), columns, indptr), shape=(rows, len(idf)))
    lengths = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).reshape(-1))
    matrix.data /= np.repeat(np.maximum(lengths, 1e-12), np.diff(indptr)).astype(np.float32)
    matrix.sort_indices()  # as scikit-learn's vectorizer leaves them: the SVM then sums in the same order
    return matrix


class FeatureCache:
    """Texts to feature ids and counts, remembered for the most recently used texts."""

    def __init__(self, analyzer: Analyzer, max_texts: int = CACHE_TEXTS, max_features: int = MAX_FEATURES) -> None:
        self.analyzer = analyzer
        self.max_texts = max_texts
        self.max_features = max_features
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._names: list[str] = []
        self._texts: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.analyzed = 0  # texts cut into features so far (tests check what was reused)

    def fit_transform(self, texts: Sequence[str]) -> tuple[TfidfWeights, sparse.csr_matrix]:
        """Fit the IDF on these texts; their vectors, one a row."""
        with self._lock:
            if len(self._names) > self.max_features:
                self._forget()
            rows = [self._features(text) for text in texts]
            while len(self._texts) > self.max_texts:
                self._texts.popitem(last=False)
            ids = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int32)
            used, found = np.unique(ids, return_inverse=True)
            # Columns in the order of the features' names, as scikit-learn's: the model must
            # not depend on which texts this process happened to see first.
            names = [self._names[i] for i in used.tolist()]
        by_name = np.argsort(np.array(names, dtype=object), kind="stable")
        column_of = np.empty(len(used), np.int64)
        column_of[by_name] = np.arange(len(used))
        columns = column_of[found]
        vocabulary = {names[i]: column for column, i in enumerate(by_name.tolist())}
        counts = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32)
        indptr = np.concatenate([[0], np.cumsum([len(r[0]) for r in rows])])
        df = np.bincount(columns, minlength=len(used))
        idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
        weights = TfidfWeights(self.analyzer, vocabulary, idf)
        return weights, _weighted(columns.astype(np.int32), counts, indptr, idf, len(texts))

    def clear(self) -> None:
        """Forget every text and feature (the next training analyses all its texts)."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        self._ids.clear()
        self._names.clear()
        self._texts.clear()

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        cached = self._texts.get(text)
        if cached is not None:
            self._texts.move_to_end(text)
            return cached
        self.analyzed += 1
        counts = Counter(self.analyzer(text))
        ids, names = self._ids, self._names
        for feature in [f for f in counts if f not in ids]:
            ids[feature] = len(names)
            names.append(feature)
        row = (
            np.fromiter(map(ids.__getitem__, counts), np.int32, len(counts)),
            np.fromiter(counts.values(), np.float32, len(counts)),
        )
        self._texts[text] = row
        return row
