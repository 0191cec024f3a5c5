"""The SQLite writer's cost of one customer message: `record_inbound`'s job alone.

    .venv/bin/python bench/ingest_job.py [--messages 5000] [--rounds 3]

Runs the ingest algorithm (conversation/ingest.py over the SQLite primitives) for synthetic
messages synchronously on the writer's own connection, inside one transaction, and prints the
thread CPU time per message for each round. It is the part of an ingest that the single
SQLite writer thread serialises, so it bounds the embedded store's throughput; comparing it
between two versions of the code is steadier than comparing whole-pipeline runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conversation import ingest  # noqa: E402
from conversation.model import utcnow  # noqa: E402
from conversation.sqlite.tickets import _Ingest  # noqa: E402
from hub.app import Hub  # noqa: E402
from hub.config import parse_config  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import synthetic  # type: ignore[import-not-found]  # noqa: E402


async def one_round(n: int) -> float:
    directory = Path(tempfile.mkdtemp())
    config = parse_config({"hub": {"data_dir": str(directory)}, "plugins": {"enabled": []}})
    hub = Hub(config)
    await hub.start()
    policy = config.ticketing
    messages = synthetic(n)

    def run(conn: sqlite3.Connection) -> float:
        started = time.thread_time()
        for message in messages:
            conn.execute("SAVEPOINT job")
            ingest.run_sync(ingest.record_inbound(_Ingest(conn), message, utcnow(), policy))
            conn.execute("RELEASE job")
        return time.thread_time() - started

    try:
        return await hub.store._db.worker.call(run, deadline=False) / n * 1e6  # type: ignore[attr-defined, no-any-return]
    finally:
        await hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [asyncio.run(one_round(args.messages)) for _ in range(args.rounds)]
    print(f"record_inbound job, {args.messages} messages: " + " / ".join(f"{r:.1f}" for r in rounds) + " µs CPU each")
    figures = {"messages": args.messages, "job_cpu_us": [round(r, 1) for r in rounds], "best": round(min(rounds), 1)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
