"""A hub that has no FAQ article to match never loads scikit-learn, SciPy or NumPy: about
100 MB of memory and half a second of start-up, and (with their objects in the process) about
10 % more CPU a message on ingest (issue 12: `bench/ingest_cost.py`, user CPU 110 -> 102 µs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("sklearn", "scipy", "numpy")
ROOT = Path(__file__).resolve().parent.parent

STARTS_A_HUB = """
import asyncio, sys, tempfile
from hub.app import Hub
from hub.config import parse_config

async def main():
    with tempfile.TemporaryDirectory() as data:
        hub = Hub(parse_config({"hub": {"data_dir": data}, "plugins": {"enabled": ["greeting", "complaints", "faq"]}}))
        await hub.start()
        try:
            print(",".join(name for name in %r if name in sys.modules))
        finally:
            await hub.stop()

asyncio.run(main())
"""


def test_a_hub_without_faq_articles_starts_without_loading_scikit_learn() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", STARTS_A_HUB % (HEAVY,)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip().splitlines()[-1:] in ([], [""]), ran.stdout


def test_the_ngram_names_are_still_there_when_first_used() -> None:
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, conversation.faq as faq; assert 'sklearn' not in sys.modules;"
            " print(faq.DEFAULT_THRESHOLD, type(faq.matcher_named('ngram')).__name__, 'sklearn' in sys.modules)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.split() == ["0.7", "NgramMatcher", "True"]
