"""`helpline faq eval`, run as a process the way the README shows, on small files and on the
shared FAQ data sets.

The shared data lives beside the repository (../shared/data, as on developers' machines and
in CI, which clones the repository with a copy of shared/ beside it). A missing folder fails
the test with a message rather than skipping it: a skip would let the quality check
silently stop running.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SHARED_DATA = ROOT.parent / "shared" / "data"
FIGURES = {"n", "accuracy", "answered", "precision", "withheld_out_of_scope", "p50_ms", "p99_ms", "model"}
# The goals are precision >= 0.95 and out-of-scope withheld >= 0.90 at the default
# threshold. The default model, e5, measures 0.968 (en) and 0.929 (zh) precision and
# withholds 95 % (en) and 100 % (zh) of the out-of-scope questions (README "FAQ matching");
# these floors sit just below, so one more wrong answer in Chinese, or one more
# out-of-scope question answered in English, fails.
PRECISION_FLOOR = 0.92
WITHHELD_FLOOR = 0.95
# BANKING77 trained on 10 questions per intent, tested on 1,000 of the other questions of
# train.jsonl (every ninth): e5 measures 77.8 % on them (80.3 % on all 9,233), the n-gram
# model 67.8 % (70.5 %).
BANKING77_10SHOT_FLOORS = {"e5": 0.76, "ngram": 0.65}


def faq_eval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "faq", "eval", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_needs_no_config_and_prints_the_figures_last(tmp_path: Path) -> None:
    articles = write(
        tmp_path / "kb.jsonl",
        [
            {
                "id": "pw",
                "title": "忘记密码",
                "answer": "",
                "examples": ["忘记密码了", "密码忘了怎么办", "reset password"],
            },
            {
                "id": "refund",
                "title": "退款",
                "answer": "",
                "examples": ["退款没到账", "钱还没退回来", "refund missing"],
            },
        ],
    )
    train = write(
        tmp_path / "more.jsonl",
        [{"text": "where is my parcel", "intent": "ship"}, {"text": "快递到哪了", "intent": "ship"}],
    )
    test = write(
        tmp_path / "test.jsonl",
        [
            {"text": "密码忘了", "expected": "pw"},
            {"text": "my refund is missing", "intent": "refund"},
            {"text": "where is my parcel now", "expected": "ship"},
            {"text": "今天天气怎么样", "expected": None},
        ],
    )
    result = faq_eval(
        "--articles", str(articles), "--train", str(train), "--test", str(test), "--threshold", "0", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == FIGURES
    assert figures["n"] == 4
    assert figures["accuracy"] == 1.0  # the example lines made a third article, "ship"
    assert figures["answered"] == 1.0 and figures["withheld_out_of_scope"] == 0.0  # threshold 0 answers everything
    assert figures["model"] == "ngram-svm+e5"  # the hub's default
    assert not (tmp_path / "hub.toml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--test", "t.jsonl"], "needs --articles or --train"),
        (["--articles", "missing.jsonl", "--test", "t.jsonl"], "missing.jsonl"),
        (["--articles", "kb.jsonl", "--test", "bad.jsonl"], "bad.jsonl:2: needs 'expected'"),
        (["--articles", "kb.jsonl", "--test", "t.jsonl", "--threshold", "1.5"], "between 0 and 1"),
        (["--articles", "kb.jsonl", "--test", "latin1.jsonl"], "latin1.jsonl: not UTF-8 text"),  # a trial's traceback
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    write(tmp_path / "kb.jsonl", [{"id": "pw", "title": "忘记密码", "answer": "", "examples": ["忘记密码了"]}])
    write(tmp_path / "t.jsonl", [{"text": "密码忘了", "expected": "pw"}])
    write(tmp_path / "bad.jsonl", [{"text": "密码忘了", "expected": "pw"}, {"text": "no label"}])
    (tmp_path / "latin1.jsonl").write_bytes('{"text": "café", "expected": "pw"}\n'.encode("latin-1"))
    result = faq_eval(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_shared_faq_set_is_answered_precisely_and_out_of_scope_withheld(language: str) -> None:
    folder = SHARED_DATA / f"faq-{language}"
    assert (folder / "dev.jsonl").is_file(), f"the shared FAQ data is missing: expected {folder} beside the repository"
    result = faq_eval("--articles", str(folder / "articles.jsonl"), "--test", str(folder / "dev.jsonl"), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == FIGURES
    assert figures["n"] == 140
    assert figures["precision"] >= PRECISION_FLOOR, figures
    assert figures["withheld_out_of_scope"] >= WITHHELD_FLOOR, figures
    assert figures["answered"] >= 0.2, figures  # withholding everything would be useless
    assert 0 < figures["p50_ms"] <= figures["p99_ms"], figures  # bench/faq.py measures the 20 ms goal


@pytest.mark.parametrize("model", ["e5", "ngram"])
def test_banking77_ten_shot_accuracy_stays_above_its_floor(tmp_path: Path, model: str) -> None:
    folder = SHARED_DATA / "banking77"
    assert (folder / "train.jsonl").is_file(), f"the shared BANKING77 data is missing: expected {folder}"
    shot = {line for line in (folder / "train-10shot.jsonl").read_text(encoding="utf-8").splitlines() if line}
    held_out = [json.loads(line) for line in (folder / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    held_out = [row for row in held_out if json.dumps(row, ensure_ascii=False) not in shot][::9][:1000]
    test = write(tmp_path / "held-out.jsonl", held_out)
    result = faq_eval("--train", str(folder / "train-10shot.jsonl"), "--test", str(test), "--model", model, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["n"] == 1000
    assert figures["accuracy"] >= BANKING77_10SHOT_FLOORS[model], figures
