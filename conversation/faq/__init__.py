"""FAQ matching: which knowledge-base article answers a customer's question, and how sure.

Pure code (no I/O, no hub imports) so the bot, the agent suggestions, the CLI and the
benchmark share one implementation. `Matcher` is the interface; `default_matcher()` the
model that installs from PyPI alone and runs offline on CPU (see ngram.py).
"""

from typing import TYPE_CHECKING, Any

from conversation.faq.matcher import Example, MatchedExample, Matcher, Prediction, TrainedMatcher

if TYPE_CHECKING:
    from conversation.faq.ngram import DEFAULT_THRESHOLD, NgramMatcher, default_matcher, text_similarities

MODELS = ("ngram", "e5", "wordllama")
# The n-gram model's names load scikit-learn and SciPy (about 100 MB and half a second): only
# when first used, so a hub, a plugin or a CLI command that never matches a question does not.
_NGRAM_NAMES = frozenset({"DEFAULT_THRESHOLD", "NgramMatcher", "default_matcher", "text_similarities"})


def __getattr__(name: str) -> Any:
    if name in _NGRAM_NAMES:
        from conversation.faq import ngram

        return getattr(ngram, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def matcher_named(name: str) -> Matcher:
    """ "ngram" (the default), "e5" (needs the faq-e5 extra) or "wordllama" (the
    faq-embeddings extra); a missing extra raises embeddings.EmbeddingsUnavailable with the
    install command."""
    if name == "ngram":
        from conversation.faq.ngram import default_matcher

        return default_matcher()
    if name == "e5":
        from conversation.faq.embeddings import e5_matcher

        return e5_matcher()
    if name == "wordllama":
        from conversation.faq.embeddings import wordllama_matcher

        return wordllama_matcher()
    raise ValueError(f"unknown FAQ model {name!r}: one of {', '.join(MODELS)}")


__all__ = [
    "MODELS",
    "DEFAULT_THRESHOLD",
    "Example",
    "MatchedExample",
    "Matcher",
    "NgramMatcher",
    "Prediction",
    "TrainedMatcher",
    "default_matcher",
    "matcher_named",
    "text_similarities",
]
