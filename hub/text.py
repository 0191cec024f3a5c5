"""Text helpers channels share."""

from __future__ import annotations

import re


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph, else a sentence, else a
    space; inside a word only when a single word is longer than the limit."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for pattern in (r"\n\s*\n", r"(?<=[.!?。！？])\s", r"\s"):
            matches = list(re.finditer(pattern, window))
            if matches and matches[-1].start() > limit // 3:
                cut = matches[-1].start()
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
