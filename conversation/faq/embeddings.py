"""The optional stronger model's sentence embeddings: WordLlama, whose weights (256
dimensions, 16 MB) ship inside its PyPI wheel, so nothing is downloaded at run time.

    pip install 'helpline[faq-embeddings]'

Measured beside the default (README "Performance"): better on BANKING77 (English), no
better on the Chinese FAQ set, since its vocabulary and training are mostly English.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conversation.faq.ngram import Embedder, NgramMatcher


class EmbeddingsUnavailable(RuntimeError):
    """The optional package or its weights are missing; the message says how to install."""


def wordllama_embedder(weights_dir: Path | None = None) -> Embedder:
    """Texts to L2-normalised 256-dim rows. weights_dir: a folder holding WordLlama's
    weights/ and tokenizers/ (the package's own folder by default); never downloads."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise EmbeddingsUnavailable(
            f"the embedding model needs the optional package: pip install 'helpline[faq-embeddings]' ({exc})"
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


def wordllama_matcher(weights_dir: Path | None = None) -> NgramMatcher:
    return NgramMatcher(embedder=wordllama_embedder(weights_dir), embedder_name="wordllama")
