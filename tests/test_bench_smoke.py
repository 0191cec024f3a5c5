"""The benchmarks still run (tiny sizes, no timing asserted: figures live in the README)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

RUNS = {
    "ingest.py": (["--messages", "300", "--concurrency", "4", "--rate", "200", "--seconds", "1"], "msg/s"),
    "inbox.py": (["--conversations", "300", "--messages", "1500", "--rounds", "5"], "search"),
    "webchat.py": (["--visitors", "20", "--rate", "20", "--seconds", "1"], "seen live by the agent 20"),
    "email.py": (
        ["--mails", "60", "--connections", "2"],
        '"threading_accuracy_percent": 100.0, "no_auto_reply_to_machines_percent": 100.0',
    ),
    "faq.py": (["--folds", "2", "--rows", "1000", "--limit", "50"], "retrain after one example changed (best of 3)"),
    "simulate.py": (["--hours", "2", "--contacts", "600", "--seed", "3"], '"off_shift_assignments": 0'),
    "kb_retrain.py": (["--examples", "500", "--rounds", "1"], "retraining after a change: 5"),
    "faq_first_training.py": (["--examples", "300", "--model", "ngram"], '"examples": 300'),
    "ingest_job.py": (["--messages", "200", "--rounds", "1"], '"messages": 200'),
    "reports.py": (["--tickets", "300", "--messages", "1500", "--rounds", "1"], '"bench": "reports"'),
    "help_search.py": (["--copies", "2", "--rounds", "2"], '"bench": "help_search"'),
}


@pytest.mark.parametrize("script", sorted(RUNS))
def test_the_benchmark_runs(script: str) -> None:
    args, expected = RUNS[script]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout
