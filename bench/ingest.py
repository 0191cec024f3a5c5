"""Ingest throughput and latency on the embedded store, beside a plain SQLite loop.

    .venv/bin/python bench/ingest.py [--messages 20000] [--concurrency 64] [--plugins greeting]

Pushes synthetic customer messages (several per thread, many senders) through the
real pipeline (validation, identity, ticket routing, message, events, plugins) into
a fresh SQLite file, and prints messages/s with p50/p99 ingest latency. Then it times
the floor: a plain loop of one INSERT + COMMIT per message with the same durability
settings (WAL, synchronous=FULL), so the ratio to raw SQLite is visible.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py shares its name with the standard library's email package: keep this
# folder off the import path so `import email` finds the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conversation.inbound import Inbound, Sender  # noqa: E402
from hub.app import Hub, tune_gc_for_serving  # noqa: E402
from hub.config import parse_config  # noqa: E402


def synthetic(n: int) -> list[Inbound]:
    texts = [
        "我无法登录我的账户",
        "My order #5531 never arrived",
        "Please refund my payment",
        "Password reset link expired",
    ]
    return [
        Inbound(
            channel="bench",
            external_id=f"m{i}",
            sender=Sender(address=f"user-{i % (n // 7 + 1)}", display_name=f"Customer {i % (n // 7 + 1)}"),
            thread_key=f"thread-{i % (n // 5 + 1)}",
            text=f"{texts[i % len(texts)]} ({i})",
        )
        for i in range(n)
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_pipeline(n: int, concurrency: int, plugins: list[str], directory: Path) -> tuple[float, list[float]]:
    config = parse_config({"hub": {"data_dir": str(directory)}, "plugins": {"enabled": plugins}})
    hub = Hub(config)
    await hub.start()
    messages = synthetic(n)
    tune_gc_for_serving()  # as `helpline serve` does once it listens
    latencies: list[float] = []
    queue: asyncio.Queue[Inbound] = asyncio.Queue()
    for message in messages:
        queue.put_nowait(message)

    async def producer() -> None:
        while not queue.empty():
            message = queue.get_nowait()
            started = time.perf_counter()
            await hub.ingest(message)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(producer() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await hub.stop()
    return elapsed, latencies


async def bench_pipeline_at_rate(
    rate: float, seconds: float, plugins: list[str], directory: Path
) -> tuple[float, list[float], int]:
    """Open loop: messages arrive on a fixed schedule whether or not earlier ones are done,
    and each latency runs from its scheduled arrival (no coordinated omission)."""
    config = parse_config({"hub": {"data_dir": str(directory)}, "plugins": {"enabled": plugins}})
    hub = Hub(config)
    await hub.start()
    n = int(rate * seconds)
    messages = synthetic(n)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def one(message: Inbound, due: float) -> None:
        await hub.ingest(message)
        latencies.append(loop.time() - due)

    tasks = []
    start = loop.time()
    for i, message in enumerate(messages):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(message, due)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    await hub.stop()
    return elapsed, latencies, n


def bench_plain_sqlite(n: int, directory: Path) -> tuple[float, list[float]]:
    conn = sqlite3.connect(directory / "plain.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, idem_key TEXT UNIQUE, thread TEXT, text TEXT)")
    latencies = []
    started = time.perf_counter()
    for message in synthetic(n):
        t = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO messages (idem_key, thread, text) VALUES (?,?,?)",
            (message.external_id, message.thread_key, message.text),
        )
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, latencies


def report(label: str, n: int, elapsed: float, latencies: list[float]) -> float:
    rate = n / elapsed
    print(
        f"{label:<36} {rate:>9,.0f} msg/s   p50 {percentile(latencies, 0.5) * 1000:6.2f} ms"
        f"   p99 {percentile(latencies, 0.99) * 1000:6.2f} ms   mean {statistics.fmean(latencies) * 1000:6.2f} ms"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--plugins", nargs="*", default=[])
    parser.add_argument("--rate", type=float, default=2000, help="offered messages/s for the open-loop run")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    print(
        f"closed loop: {args.messages} messages from {args.concurrency} concurrent producers (throughput);"
        f" open loop: {args.rate:,.0f} msg/s offered for {args.seconds:g}s (latency at that load)"
    )
    print(
        f"plugins: {args.plugins or 'none'},"
        f" Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, latencies = asyncio.run(bench_pipeline(args.messages, args.concurrency, args.plugins, Path(tmp)))
        hub_rate = report("helpline ingest, closed loop", args.messages, elapsed, latencies)
        elapsed, latencies, n = asyncio.run(
            bench_pipeline_at_rate(args.rate, args.seconds, args.plugins, Path(tmp) / "open")
        )
        report(f"helpline ingest, {args.rate:,.0f}/s offered", n, elapsed, latencies)
        elapsed, latencies = bench_plain_sqlite(args.messages, Path(tmp))
        plain_rate = report("plain SQLite insert+commit loop", args.messages, elapsed, latencies)
    print(f"ratio helpline / plain SQLite: {hub_rate / plain_rate:.2f}")


if __name__ == "__main__":
    main()
