"""The benchmarks still run (tiny sizes, no timing asserted: figures live in the README)."""

from __future__ import annotations

import json
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
    "faq.py": (["--folds", "2", "--rows", "1000", "--limit", "50"], "retrain on 1000 examples (best of 3)"),
    "simulate.py": (["--hours", "2", "--contacts", "600", "--seed", "3"], '"off_shift_assignments": 0'),
    "kb_retrain.py": (["--examples", "500", "--rounds", "1"], "retraining after a change: 5"),
    "ingest_job.py": (["--messages", "200", "--rounds", "1"], '"messages": 200'),
    "reports.py": (["--tickets", "300", "--messages", "1500", "--rounds", "1"], '"bench": "reports"'),
}


@pytest.mark.parametrize("script", sorted(RUNS))
def test_the_benchmark_runs(script: str) -> None:
    args, expected = RUNS[script]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout


def test_the_crash_benchmark_loses_and_duplicates_nothing() -> None:
    """bench/faults.py at tiny sizes: kill -9 during ingest and during delivery, and its own
    verdict, read from the database and the callback receiver, is 0 lost and 0 stored twice."""
    args = ["--messages", "200", "--kills", "1", "--replies", "30", "--reply-kills", "1", "--lease-seconds", "2"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "faults.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    ingest, replies = figures["ingest"], figures["replies"]
    assert (ingest["sent"], ingest["stored"], ingest["lost"], ingest["duplicated"]) == (200, 200, 0, 0)
    assert (ingest["tickets"], ingest["threads"], ingest["kills"]) == (40, 40, 1)
    assert (replies["queued"], replies["delivered"], replies["lost"], replies["kills"]) == (30, 30, 0, 1)
