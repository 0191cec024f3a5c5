"""Three hub processes on one MongoDB, under kill -9: nothing lost, nothing stored twice.

    .venv/bin/python bench/cluster.py [--messages 3000] [--duplicates 0.3] [--kills 3] [--replies 300]
                                      [--reply-kills 1] [--sockets-per-hub 2] [--hubs 3]

Starts `--hubs` `helpline serve` processes with one config (a webhook channel, its secret
from the environment as the README says) on one MongoDB: `MONGODB_URI` when set (a real
replica set; a database of its own is used and left behind), else the mongoeco wire
server the tests use. This process plays the platform and the agents:

1. Agents' inbox sockets (`/api/v1/live`) are spread over the hubs, reconnecting to
   their hub whenever it comes back.
2. Webhook messages go through a round-robin client (each try to the next hub; a failed
   try, a refused connection or a 5xx, is retried on the next), 30 % of them sent again
   as the platform's retries, some racing the original. A random hub is killed with
   kill -9 at random moments and started again.
3. Agents queue replies through the REST API (round robin); the callback receiver here
   counts every delivery, answering 503 to a few; a random hub is killed while they go out.

It reads the database afterwards and prints messages stored (must equal messages sent),
duplicates (must be 0), replies lost (must be 0) and the duplicate-delivery rate
(at-least-once: a hub killed between a send and its record sends again), and the live
events' p99 across processes: for each new message, the delay from its event on the hub
that stored it (the first socket there to see it, else the webhook's 200) to a socket on
each OTHER hub that was up with a socket open throughout. An event seen only on the hub
that stored it counts as never delivered; when more than 1 % never arrive the p99 is
`null` (not reached). Except one whose own hub was killed -9 within a second of
answering 200 for it (it publishes before it answers): the relay writes events to the
store a round trip or two behind, so those are reported apart as lost with their hub
(the message is stored; the other hubs' inboxes are told to reload when a hub process
starts, and how many of them were is printed). The last line is one JSON object:
{"sent", "stored", "duplicates", "replies_lost", "duplicate_delivery_rate", "live_p99_ms", "hubs", "kills"}.
The exit status is 1 when a message was lost or stored twice or a reply never arrived.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py shares its name with the standard library's email package: keep this
# folder off the import path (as every bench script does) and import the bench as a package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from bench.faults import (
    AGENT,
    CHANNEL,
    ROOT,
    SECRET_ENV,
    HubProcess,
    add_run_arguments,
    duplicates_of,
    free_port,
    ingest_payloads,
    queue_replies,
    seeded,
    send_all,
    signed_headers,
    start_receiver,
    write_config,
)
from tests.conftest import database_uri  # (the tests' own: a database of its own on any URI)

CONNECTED_AROUND = 1.0  # a hub counts for a message's live event if a socket there was open this long after it
# An event whose own hub was killed this close to answering 200 for its message (it publishes
# before it answers; this process sees both late when loaded) may not have been written to
# the store's event log yet (the relay writes a round trip or two behind): lost with its hub.
KILLED_WITHIN = 1.0


# ---------------------------------------------------------------------------- the cluster


@asynccontextmanager
async def mongodb() -> AsyncIterator[str]:
    """`MONGODB_URI`, else a mongoeco wire server in a child process (as the tests start it)."""
    if uri := os.environ.get("MONGODB_URI"):
        yield uri
        return
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.mongo_server", str(free_port()), "memory"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()  # printed once it listens
        if not line.startswith("mongodb://"):
            raise SystemExit(f"the mongoeco server did not start ({line!r}): set MONGODB_URI or install mongoeco")
        yield line
    finally:
        process.kill()
        process.wait()


class RoundRobin:
    """The load balancer in front of the hubs: each try goes to the next one."""

    def __init__(self, hubs: list[HubProcess]) -> None:
        self.hubs = hubs
        self.turn = 0

    def next(self) -> tuple[int, HubProcess]:
        self.turn = (self.turn + 1) % len(self.hubs)
        return self.turn, self.hubs[self.turn]


class ClusterKiller:
    """Kills a random hub (one at a time) when a progress count crosses each threshold,
    then starts it again; the senders go on to the others meanwhile."""

    def __init__(self, hubs: list[HubProcess], http: aiohttp.ClientSession, thresholds: list[int], rng: random.Random):
        self.hubs, self.http, self.rng = hubs, http, rng
        self.thresholds = sorted(thresholds)
        self.restarting: asyncio.Task[None] | None = None
        self.down: int | None = None
        self.killed_at: dict[int, list[float]] = {}  # hub -> when it was killed

    def progress(self, count: int) -> None:
        if self.thresholds and count >= self.thresholds[0] and (self.restarting is None or self.restarting.done()):
            self.thresholds.pop(0)
            index = self.rng.randrange(len(self.hubs))
            self.down = index
            self.killed_at.setdefault(index, []).append(time.monotonic())
            self.hubs[index].kill()
            self.restarting = asyncio.create_task(self._restart(index))

    async def _restart(self, index: int) -> None:
        await self.hubs[index].restart(self.http)
        self.down = None

    async def settle(self) -> None:
        if self.restarting is not None:
            await self.restarting


# ---------------------------------------------------------------------------- agents' sockets


@dataclass
class LiveSeen:
    """What the agents' sockets saw: the first time each hub showed each message, and when
    each hub had a socket open."""

    first: dict[tuple[int, str], float] = field(default_factory=dict)
    open_spans: dict[int, list[list[float]]] = field(default_factory=dict)
    resyncs: dict[int, list[float]] = field(default_factory=dict)  # hub -> when its sockets were told to reload

    def open_throughout(self, hub: int, start: float, end: float) -> bool:
        return any(s <= start and (e == math.inf or e >= end) for s, e in self.open_spans.get(hub, []))


async def agent_socket(
    http: aiohttp.ClientSession, index: int, hub: HubProcess, token: str, seen: LiveSeen, stop: asyncio.Event
) -> None:
    """One agent's inbox on one hub, reconnecting whenever the hub comes back."""
    spans = seen.open_spans.setdefault(index, [])
    while not stop.is_set():
        span: list[float] | None = None
        try:
            async with http.ws_connect(
                f"{hub.base}/api/v1/live", headers={"Authorization": f"Bearer {token}"}, heartbeat=5
            ) as ws:
                span = [time.monotonic(), math.inf]
                spans.append(span)
                async for frame in ws:
                    if frame.type != aiohttp.WSMsgType.TEXT:
                        break
                    event = json.loads(frame.data)
                    if event.get("type") == "message.created":
                        seen.first.setdefault((index, event["message_id"]), time.monotonic())
                    elif event.get("type") == "resync":
                        seen.resyncs.setdefault(index, []).append(time.monotonic())
        except (aiohttp.ClientError, TimeoutError, ConnectionError):
            pass
        finally:
            if span is not None:
                span[1] = time.monotonic()
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------- ingest


@dataclass
class Acks:
    origin: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (hub that stored it, its 200)
    answered: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)
    killed_at: dict[int, list[float]] = field(default_factory=dict)  # hub -> when the killer struck


async def send_until_ok(
    http: aiohttp.ClientSession, rr: RoundRobin, secret: str, payload: dict[str, Any], acks: Acks, killer: ClusterKiller
) -> None:
    """Post one message until a hub answers 200, each try to the next hub."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    tries = 0
    while True:
        index, hub = rr.next()
        try:
            url = f"{hub.base}/channels/{CHANNEL}/messages"
            async with http.post(url, data=body, headers=signed_headers(secret, body)) as resp:
                if resp.status == 200:
                    answer = await resp.json()
                    acks.answered += 1
                    if not answer.get("duplicate"):
                        acks.origin[payload["id"]] = (index, time.monotonic())
                    return
                if resp.status < 500:
                    acks.refused.append(f"{payload['id']}: {resp.status} {(await resp.text())[:200]}")
                    return
                acks.retries[str(resp.status)] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            acks.retries[exc.__class__.__name__] += 1
        tries += 1
        if killer.restarting is not None and killer.restarting.done() and killer.restarting.exception():
            raise RuntimeError("a killed hub did not come back") from killer.restarting.exception()
        await asyncio.sleep(min(0.5, 0.01 * tries) * random.uniform(0.5, 1.5))


async def run_ingest(
    hubs: list[HubProcess], http: aiohttp.ClientSession, secret: str, args: argparse.Namespace, rng: random.Random
) -> tuple[list[dict[str, Any]], Acks, int]:
    payloads = ingest_payloads(args.messages, args.per_thread, prefix=f"{uuid.uuid4().hex[:6]}-")
    rng.shuffle(payloads)
    duplicated = duplicates_of(payloads, args.duplicates, rng)
    low, high = max(1, args.messages // 10), max(2, args.messages * 9 // 10)
    killer = ClusterKiller(hubs, http, rng.sample(range(low, high), min(args.kills, high - low)), rng)
    rr, acks = RoundRobin(hubs), Acks()
    send = lambda p: send_until_ok(http, rr, secret, p, acks, killer)  # noqa: E731
    await send_all(payloads, duplicated, send, killer.progress, args.concurrency)
    await killer.settle()
    acks.killed_at = killer.killed_at
    return payloads, acks, len(payloads) + len(duplicated)


# ---------------------------------------------------------------------------- figures


def live_figures(
    acks: Acks, message_of: dict[str, str], seen: LiveSeen, hubs: int
) -> tuple[float | None, dict[str, int]]:
    """The p99 (ms) of cross-process live delivery, None when more than 1 % never arrived; and counts."""
    delays: list[float] = []
    counts = Counter[str]()
    for external_id, (origin, acked) in acks.origin.items():
        message_id = message_of.get(external_id)
        if message_id is None:
            continue
        at_origin = seen.first.get((origin, message_id))
        counts["seen on the hub that stored it" if at_origin is not None else "not seen on the hub that stored it"] += 1
        published = at_origin if at_origin is not None else acked
        for other in range(hubs):
            if other == origin or not seen.open_throughout(other, published, published + CONNECTED_AROUND):
                continue  # that hub was down or had no socket open then: it cannot tell
            arrived = seen.first.get((other, message_id))
            if arrived is None and any(abs(k - acked) <= KILLED_WITHIN for k in acks.killed_at.get(origin, [])):
                counts["lost with their hub"] += 1  # not written to the log yet: see the docstring
                counts["lost with their hub, reload told"] += any(r > published for r in seen.resyncs.get(other, []))
                continue
            counts["cross-hub pairs"] += 1
            if arrived is None:
                counts["cross-hub never arrived"] += 1
                delays.append(math.inf)
            else:
                delays.append(max(0.0, arrived - published))
    if not delays:
        return None, dict(counts)
    delays.sort()
    p99 = delays[max(0, math.ceil(len(delays) * 0.99) - 1)]
    return (None if p99 == math.inf else round(p99 * 1000, 1)), dict(counts)


async def read_back(storage: str, payloads: list[dict[str, Any]]) -> tuple[Counter[str], dict[str, str], int]:
    """Stored rows per message id, our ids -> the hub's message ids, deliveries still queued."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(storage)
    try:
        db = client.get_default_database()
        ours = {p["id"] for p in payloads}
        rows: Counter[str] = Counter()
        message_of: dict[str, str] = {}
        query = {"channel": CHANNEL, "direction": "inbound"}
        async for doc in db.messages.find(query, {"external_id": 1}):
            if doc.get("external_id") in ours:
                rows[doc["external_id"]] += 1
                message_of[doc["external_id"]] = doc["_id"]
        waiting = await db.messages.count_documents({"delivery.status": "queued"})
        return rows, message_of, waiting
    finally:
        await client.close()


async def conversations_of(storage: str) -> list[str]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(storage)
    try:
        return [doc["_id"] async for doc in client.get_default_database().conversations.find({"channel": CHANNEL})]
    finally:
        await client.close()


# ---------------------------------------------------------------------------- run


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    secret = secrets.token_urlsafe(24)
    receiver, runner, receiver_port = await start_receiver(secret, args.reply_fail_rate, rng)
    hubs: list[HubProcess] = []
    stop = asyncio.Event()
    with tempfile.TemporaryDirectory() as tmp:
        async with mongodb() as base:
            storage = database_uri(base, f"cluster{uuid.uuid4().hex[:8]}")
            env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", SECRET_ENV: secret}
            for n in range(args.hubs):
                directory = Path(tmp) / f"hub{n + 1}"
                port = free_port()
                directory.mkdir()
                callback = f"http://127.0.0.1:{receiver_port}/callback"
                write_config(directory, port, callback, args.lease_seconds, storage=storage)
                hubs.append(HubProcess(directory, port, env))
            hubs[0].cli("agent", "add", AGENT, "--role", "admin", stdin="bench password 1\n")
            token = hubs[0].cli("token", "create", AGENT, "--name", "cluster bench").strip().splitlines()[-1]
            timeout = aiohttp.ClientTimeout(total=60)
            started = time.perf_counter()
            try:
                async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
                    for hub in hubs:
                        hub.start()
                    for hub in hubs:
                        await hub.wait_ready(http)
                    seen = LiveSeen()
                    sockets = [
                        asyncio.create_task(agent_socket(http, i, hub, token, seen, stop))
                        for i, hub in enumerate(hubs)
                        for _ in range(args.sockets_per_hub)
                    ]
                    await asyncio.sleep(0.5)  # the sockets are open before the first message
                    payloads, acks, sends = await run_ingest(hubs, http, secret, args, rng)
                    await asyncio.sleep(CONNECTED_AROUND)  # the last live events arrive
                    ingest_seconds = time.perf_counter() - started
                    tickets = await conversations_of(storage)
                    queued = await queue_replies(http, [hub.base for hub in hubs], token, tickets, args.replies)
                    killer = ClusterKiller(
                        hubs, http, rng.sample(range(1, max(2, args.replies)), min(args.reply_kills, args.replies)), rng
                    )
                    receiver.on_accept = killer  # type: ignore[assignment]  # the same progress(count) interface
                    receiver.gate.set()
                    deadline = time.monotonic() + args.reply_timeout
                    while time.monotonic() < deadline:
                        await killer.settle()
                        waiting = (await read_back(storage, []))[2]
                        if waiting == 0 and not killer.thresholds:
                            break
                        await asyncio.sleep(0.3)
                    stop.set()
                    for task in sockets:
                        task.cancel()
                    await asyncio.gather(*sockets, return_exceptions=True)
            finally:
                for hub in hubs:
                    hub.stop()
                await runner.cleanup()
            rows, message_of, waiting = await read_back(storage, payloads)
        errors = sum(hub.log_errors() for hub in hubs)
    kills = sum(hub.kills for hub in hubs)
    sent = len(payloads)
    stored = sum(1 for p in payloads if rows[p["id"]])
    duplicates = sum(count - 1 for count in rows.values() if count > 1)
    replies_lost = sum(1 for m in queued if receiver.accepted[m] == 0)
    delivered_again = sum(receiver.accepted[m] - 1 for m in queued if receiver.accepted[m] > 1)
    rate = round(delivered_again / max(1, len(queued)), 4)
    p99, live = live_figures(acks, message_of, seen, len(hubs))
    failures = ", ".join(f"{k} {v}" for k, v in acks.retries.most_common()) or "none"
    print(
        f"ingest: {sent:,} messages ({sends - sent:,} sent again as the platform's retries) through a round-robin"
        f" client to {len(hubs)} hubs on one MongoDB, {kills} kill -9 in all, in {ingest_seconds:.1f}s;"
        f" tries retried on the next hub: {sum(acks.retries.values()):,} ({failures}); refused {len(acks.refused)}"
    )
    print(f"  stored: {stored:,} of {sent:,} sent; duplicates {duplicates}")
    print(
        f"replies: {len(queued)} queued round robin; delivered {sum(1 for m in queued if receiver.accepted[m])},"
        f" lost {replies_lost}, delivered again {delivered_again} (rate {rate:.2%}), answered 503 and retried"
        f" {receiver.answered_503}, still queued {waiting}"
    )
    pairs, missed = live.get("cross-hub pairs", 0), live.get("cross-hub never arrived", 0)
    print(
        f"live events: {live.get('seen on the hub that stored it', 0):,} messages seen on the hub that stored them;"
        f" to sockets on the other hubs: {pairs - missed:,} of {pairs:,} arrived"
        f" ({missed:,} seen only where they were stored count as not delivered); p99 "
        + (f"{p99:.0f} ms" if p99 is not None else "not reached (more than 1 % never arrived)")
    )
    if lost_with_hub := live.get("lost with their hub", 0):
        print(
            f"  lost with their hub: {lost_with_hub:,} to a socket on another hub (their hub was killed -9 within"
            f" {KILLED_WITHIN:g}s of answering 200 for them, before its relay wrote them; the messages are"
            f" stored) - those sockets were told to reload afterwards:"
            f" {live.get('lost with their hub, reload told', 0):,} of {lost_with_hub:,}; not in the p99"
        )
    restarts = [seconds for hub in hubs for seconds in hub.restart_seconds]
    if restarts:
        print(f"restart after kill -9 until /healthz answers 200: {min(restarts):.1f} - {max(restarts):.1f}s")
    print(f"hub logs: {errors} ERROR or Traceback line(s)")
    figures = {
        "sent": sent,
        "stored": stored,
        "duplicates": duplicates,
        "replies_lost": replies_lost,
        "duplicate_delivery_rate": rate,
        "live_p99_ms": p99,
        "hubs": len(hubs),
        "kills": kills,
    }
    print(json.dumps(figures))
    return figures


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, messages=3000, kills=3, concurrency=16, replies=300, reply_kills=1)
    parser.add_argument("--hubs", type=int, default=3)
    parser.add_argument("--sockets-per-hub", type=int, default=2, help="agents' inbox sockets on each hub")
    return parser


def main() -> None:
    figures = asyncio.run(run(seeded(arguments())))
    ok = figures["stored"] == figures["sent"] and figures["duplicates"] == 0 and figures["replies_lost"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
