"""The memory a running hub process takes for its FAQ matcher: a real `helpline serve` on
the embedded store, idle with an empty knowledge base, then BANKING77's training questions
imported with `helpline kb import` (77 published articles, 10,003 example questions) and
learned by the hub's own first training (the n-grams first, then the default model, e5).

    .venv/bin/python bench/faq_hub_memory.py [--data ../shared/data] [--examples 10003] [--model e5]

Reads the hub's VmRSS and VmHWM (the highest RSS so far) from /proc while it trains, and
prints the growth over its idle RSS once trained and at the peak; then how much of it is
mapped files' pages (RssFile: e5's weights, the libraries' code) and how much the process's
own memory (RssAnon, its highest value sampled every 20 ms). The last line is one JSON
object. Linux only (/proc).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import re
import socket
import subprocess
import tempfile
import time
import urllib.request

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HELPLINE = Path(sys.executable).parent / "helpline"

from bench.faq import banking77_by_intent  # noqa: E402


def _status_mb(pid: int, field: str) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) / 1024  # type: ignore[union-attr]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _articles(data: Path, limit: int) -> str:
    """BANKING77's intents as articles in `helpline kb import`'s JSONL (an id has no "?")."""
    return "".join(
        json.dumps({"id": re.sub(r"[^A-Za-z0-9_.-]", "_", intent), "title": intent.replace("_", " "),
                    "answer": "…", "language": "en", "examples": texts}) + "\n"
        for intent, texts in banking77_by_intent(data, limit).items()
    )  # fmt: skip


def _wait_for(predicate, seconds: float, what: str, every: float = 0.2) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--examples", type=int, default=10_003)
    parser.add_argument("--model", default="e5", help="[knowledge] model: e5 (default), ngram or wordllama")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "hub.toml"
        port = _free_port()
        text = (ROOT / "hub.toml").read_text(encoding="utf-8")
        text = text.replace('data_dir = "data"', f'data_dir = "{folder}/data"', 1)
        text = re.sub(r"^port = \d+", f"port = {port}", text, count=1, flags=re.M)
        if re.search(r"^\[knowledge\]", text, re.M):
            text = re.sub(r"^\[knowledge\]", f'[knowledge]\nmodel = "{args.model}"', text, count=1, flags=re.M)
        else:
            text += f'\n[knowledge]\nmodel = "{args.model}"\n'
        config.write_text(text, encoding="utf-8")
        log = Path(folder) / "hub.log"
        with log.open("w") as out:
            hub = subprocess.Popen([str(HELPLINE), "serve", "--config", str(config)], stdout=out, stderr=out)
        try:
            _wait_for(lambda: _healthy(port), 60, "the hub to start")
            time.sleep(3)  # settled: its start-up work done
            idle = _status_mb(hub.pid, "VmRSS")
            idle_anon, idle_file = _status_mb(hub.pid, "RssAnon"), _status_mb(hub.pid, "RssFile")
            idle_peak = _status_mb(hub.pid, "VmHWM")
            maps = Path(f"/proc/{hub.pid}/maps").read_text()
            libraries_at_idle = "_liblinear" in maps
            articles = Path(folder) / "banking77.jsonl"
            articles.write_text(_articles(args.data, args.examples), encoding="utf-8")
            started = time.monotonic()
            imported = subprocess.run([str(HELPLINE), "kb", "import", str(articles), "--config", str(config)],
                                      capture_output=True, text=True)  # fmt: skip
            if imported.returncode != 0:
                raise SystemExit(f"helpline kb import failed: {imported.stderr.strip()}")
            model_name = "ngram-svm" if args.model == "ngram" else f"ngram-svm+{args.model}"
            # The import saves article after article: a training started meanwhile learns
            # only some of them. Done means the model trained on all of them.
            intents = len(banking77_by_intent(args.data, args.examples))
            final = re.compile(rf"matcher {re.escape(model_name)} trained on \d+ examples of {intents} articles")
            failed = re.compile(r"could not load its model|failed to train")
            anon_peak = [idle_anon]

            def trained() -> bool:  # and the highest anonymous memory seen meanwhile (sampled)
                if hub.poll() is not None:
                    said = log.read_text(errors="replace")[-2000:]
                    raise SystemExit(f"the hub stopped (exit {hub.returncode}): {said}")
                anon_peak[0] = max(anon_peak[0], _status_mb(hub.pid, "RssAnon"))
                said = log.read_text(errors="replace")
                if failed.search(said):
                    raise SystemExit(f"the hub's training failed: {said[-2000:]}")
                return bool(final.search(said))

            _wait_for(trained, 900, "the hub's training", every=0.02)
            seconds = time.monotonic() - started
            time.sleep(2)
            figures = {
                "model": model_name,
                "examples": args.examples,
                "idle_rss_mb": round(idle, 1),
                "matcher_libraries_loaded_at_idle": libraries_at_idle,
                "seconds_to_trained": round(seconds, 1),  # from `helpline kb import` to the log line
                "rss_growth_mb": round(_status_mb(hub.pid, "VmRSS") - idle, 1),
                "rss_peak_growth_mb": round(_status_mb(hub.pid, "VmHWM") - idle, 1),
                "idle_peak_rss_mb": round(idle_peak, 1),
                # RSS is the process's anonymous memory plus the pages of files it maps (e5's
                # weights file, read as it answers): those are shared with the page cache.
                "anon_growth_mb": round(_status_mb(hub.pid, "RssAnon") - idle_anon, 1),
                "anon_peak_growth_mb_sampled": round(anon_peak[0] - idle_anon, 1),
                "file_pages_growth_mb": round(_status_mb(hub.pid, "RssFile") - idle_file, 1),
            }
        finally:
            hub.terminate()
            try:
                hub.wait(30)
            except subprocess.TimeoutExpired:
                hub.kill()
                hub.wait()
    print(
        f"hub with {figures['model']}: idle {figures['idle_rss_mb']:.0f} MB; after learning {args.examples}"
        f" examples ({figures['seconds_to_trained']} s) RSS growth {figures['rss_growth_mb']:.0f} MB,"
        f" {figures['rss_peak_growth_mb']:.0f} MB at its peak; of the growth, {figures['file_pages_growth_mb']:.0f} MB"
        f" are mapped files' pages, the anonymous memory grew {figures['anon_growth_mb']:.0f} MB"
        f" ({figures['anon_peak_growth_mb_sampled']:.0f} MB at its highest sample)"
    )
    print(json.dumps(figures))


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
