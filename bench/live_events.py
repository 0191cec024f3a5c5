"""Live events across hub processes on one MongoDB: how long one hub's event takes to reach
the sockets of the others.

    .venv/bin/python bench/live_events.py [--hubs 3] [--rate 200] [--seconds 10]

Runs `--hubs` hubs (whole `Hub` objects, each with its own MongoDB client and relay) in
this process on one database: `MONGODB_URI` when set (a real replica set), otherwise a
mongoeco wire server started for the run (Python >= 3.13, as `make test` uses). Events
are published at `--rate` a second in total, round-robin over the hubs, each stamped with
its send time; every other hub's socket subscription records when it arrives. Prints the
counts and p50/p99 of that cross-hub latency; the last line is one JSON object
`{"hubs", "rate", "seconds", "events", "deliveries", "lost", "gaps", "p50_ms", "p99_ms"}`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py shares its name with the standard library's email package: keep this
# folder off the import path so `import email` finds the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import tempfile
import time
import uuid
from datetime import timedelta

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.app import Hub  # noqa: E402
from hub.config import parse_config  # noqa: E402
from hub.events import Event  # noqa: E402

KIND = "bench.live"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@contextlib.contextmanager
def mongo_uri() -> object:
    """MONGODB_URI, or a mongoeco wire server in a child process for the run."""
    if uri := os.environ.get("MONGODB_URI"):
        yield uri
        return
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.mongo_server", str(port), "memory"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("mongodb://"):
        server.kill()
        raise SystemExit(f"the mongoeco server did not start: {line!r}")
    try:
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        server.kill()
        server.wait()


def database_uri(base: str, name: str) -> str:
    head, _, query = base.partition("?")
    head = head.rstrip("/")
    if head.count("/") > 2:
        head = head.rsplit("/", 1)[0]
    return f"{head}/{name}" + (f"?{query}" if query else "")


async def run(hubs: int, rate: float, seconds: float, uri: str, keep: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        raw = {
            "hub": {"data_dir": tmp, "shutdown_grace_seconds": 1},
            "storage": {"url": database_uri(uri, f"bench{uuid.uuid4().hex[:8]}")},
            "plugins": {"enabled": []},
        }
        config = parse_config(raw, path=Path(tmp) / "hub.toml")
        running = [Hub(config) for _ in range(hubs)]
        for hub in running:
            if hub.relay is not None and keep:  # a shorter log: the test server scans it on each write
                hub.relay.keep, hub.relay.prune_every = timedelta(seconds=keep), keep / 3
        for hub in running:
            await hub.start()
        latencies: list[float] = []
        received: dict[int, int] = {}

        async def watch(hub: Hub) -> None:
            subscription = hub.bus.subscribe(maxsize=100_000, remote=True)
            async for event in subscription:
                if event.type == KIND and event.data.get("from") != hub.instance_id:
                    latencies.append(time.time() - float(event.data["sent"]))
                    received[int(event.data["n"])] = received.get(int(event.data["n"]), 0) + 1

        watchers = [asyncio.create_task(watch(hub)) for hub in running]
        await asyncio.sleep(0.5)  # every relay has read the end of the log
        sent = 0
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                hub = running[sent % hubs]
                data = {"n": sent, "sent": time.time(), "from": hub.instance_id}
                hub.bus.publish(Event(KIND, f"c{sent % 50}", data))
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.sleep(2.5)  # the last ones arrive (or count as lost)
        gaps = sum(hub.relay.gaps for hub in running if hub.relay is not None)
        for task in watchers:
            task.cancel()
        for hub in running:
            await hub.stop()
    expected = sent * (hubs - 1)
    deliveries = sum(received.values())
    return {
        "hubs": hubs,
        "rate": rate,
        "seconds": seconds,
        "events": sent,
        "deliveries": deliveries,
        "lost": expected - deliveries,
        "gaps": gaps,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hubs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0, help="events a second, all hubs together")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--keep", type=float, default=0, help="seconds events stay in the log (0: the hub's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with mongo_uri() as uri:
        result = asyncio.run(run(args.hubs, args.rate, args.seconds, str(uri), args.keep))
    print(
        f"{result['events']} events from {result['hubs']} hubs at {result['rate']:g}/s: "
        f"{result['deliveries']} deliveries to the other hubs, {result['lost']} lost, {result['gaps']} gaps; "
        f"cross-hub latency p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
