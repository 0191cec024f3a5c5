"""What bench/ingest.py's closed loop costs a message, counted rather than timed.

    python bench/ingest_cost.py TREE MESSAGES MODE

TREE is a checkout of Helpline (this one, or a `git worktree` of an older commit): its code
and its bench/ingest.py are what is measured, so two versions are compared by the same
harness. MODE is one of

    cpu    process user and system CPU a message (getrusage), over the ingest phase and stop
    sql    SQL statements a message (SQLite's trace callback), most frequent first
    calls  Python and built-in calls a message (cProfile, every thread)

Instruction counts are steady on a busy machine where timings are not. A message's count is
the difference of two run sizes, which cancels start-up:

    for n in 500 4000; do
      SLOW=50 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        python bench/ingest_cost.py TREE $n cpu 2>&1 | grep "I *refs"
    done                      # (Ir(4000) - Ir(500)) / 3500 = instructions a message

SLOW=k makes the event loop's clock run k times slower. Under valgrind the hub runs about
50 times slower, so its timed loops (sweeps, polls, search indexing) would otherwise run 50
times as often a message, and as often as the machine's load stretches the run: the count
then varies by a few percent from run to run; with SLOW=50 by a few tenths of one.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import asyncio  # noqa: E402
import asyncio.base_events  # noqa: E402
import collections  # noqa: E402
import cProfile  # noqa: E402
import importlib.util  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402


def main() -> None:
    root, n, mode = Path(sys.argv[1]).resolve(), int(sys.argv[2]), sys.argv[3]
    if mode not in ("cpu", "sql", "calls"):
        raise SystemExit(f"unknown mode {mode!r}: cpu, sql or calls")
    sys.path.insert(0, str(root))
    logging.disable(logging.CRITICAL)
    slow = float(os.environ.get("SLOW", "1"))
    if slow != 1:
        start = time.monotonic()
        asyncio.base_events.BaseEventLoop.time = lambda self: start + (time.monotonic() - start) / slow  # type: ignore[method-assign]
    active = [False]
    statements: collections.Counter[str] = collections.Counter()
    if mode == "sql":
        connect = sqlite3.connect

        def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn = connect(*args, **kwargs)

            def seen(statement: str) -> None:
                if active[0]:  # literals folded, so one statement is one line
                    statements[re.sub(r"'[^']*'", "?", re.sub(r"\b\d+\b", "N", " ".join(statement.split())))[:110]] += 1

            conn.set_trace_callback(seen)
            return conn

        sqlite3.connect = traced  # type: ignore[assignment]
    spec = importlib.util.spec_from_file_location("ingest_bench", root / "bench" / "ingest.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from hub.app import Hub  # the tree's own, now first on the path

    profile = cProfile.Profile()
    usage: dict[str, resource.struct_rusage] = {}
    tune = bench.tune_gc_for_serving

    def started() -> None:  # the bench calls it once the hub is up and the messages are made
        tune()
        active[0] = True
        usage["from"] = resource.getrusage(resource.RUSAGE_SELF)
        if mode == "calls":
            profile.enable()

    bench.tune_gc_for_serving = started
    stop = Hub.stop

    async def stopped(self: Hub) -> None:
        await stop(self)
        if mode == "calls":
            profile.disable()
        usage["to"] = resource.getrusage(resource.RUSAGE_SELF)
        active[0] = False

    Hub.stop = stopped  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as data:  # the store goes with the run
        elapsed, _latencies = asyncio.run(bench.bench_pipeline(n, 16, [], Path(data)))
    before, after = usage["from"], usage["to"]
    if mode == "cpu":
        user, system = (after.ru_utime - before.ru_utime) / n * 1e6, (after.ru_stime - before.ru_stime) / n * 1e6
        print(f"{root.name}: {n / elapsed:,.0f} msg/s, user {user:.1f} us/msg, sys {system:.1f} us/msg")
    elif mode == "sql":
        print(f"{root.name}: {sum(statements.values()) / n:.2f} statements/msg")
        for statement, count in statements.most_common(20):
            print(f"{count / n:7.3f}  {statement}")
    else:
        stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        print(f"{root.name}: {sum(row[1] for row in stats.values()) / n:.1f} calls/msg")


if __name__ == "__main__":
    main()
