"""Crash safety: signed webhook messages and outbox replies through `kill -9` restarts.

    .venv/bin/python bench/faults.py [--messages 10000] [--per-thread 5] [--duplicates 0.3] [--kills 5]
                                     [--replies 900] [--reply-kills 2] [--outage-seconds 30]

Runs `helpline serve` as its own process on the embedded store with one webhook channel
(its secret in the environment, as the README says) and acts as the platform behind it.

1. Ingest: sends the messages (five per thread by default, in random order over many
   concurrent connections), re-sends a share of them as duplicates (same id: half racing
   the original, half after its 200), and `kill -9`s the hub at random moments, starting
   it again each time. Like a real platform backend, a send that fails (connection
   refused or reset, 5xx) is retried until it gets 200. Then it reads the database
   (read-only) and counts: every message id stored exactly once, one ticket per thread.
2. Replies: an agent (API token from `helpline token create`) queues replies through the
   REST API; a callback receiver in this process records every reply it accepts (it
   answers 503 to a few, to be retried), and the hub is `kill -9`ed while delivering.
   Delivery is at-least-once: a crash between the send and its record sends it again,
   so the receiver counts those (it can dedupe them by the message id the callback
   carries). Every reply must arrive at least once and none may be left failed.
3. Store unavailable: this process takes SQLite's write lock on the hub's database file
   (`BEGIN EXCLUSIVE` on its own connection, as another program or a stuck backup would)
   and holds it for `--outage-seconds`, while more messages (with duplicates) come in
   and replies are being delivered. The webhook answers 503 (the platform retries), the
   outbox retries its claims; once the lock goes, every message is stored exactly once
   and every reply arrives.

The last line is one JSON object with the figures; the exit status is 1 when a message
was lost or stored twice, a thread got two tickets, a reply never arrived, or the outage
answered no 503. `tests/test_fault_run.py` runs it at a small size in CI.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py shares its name with the standard library's email package: keep this
# folder off the import path so `import email` finds the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import secrets
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "hook"
SECRET_ENV = "HELPLINE_BENCH_WEBHOOK_SECRET"
AGENT = "bench-agent@example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """As the README specifies it, written independently of the hub's own code."""
    return "v1=" + hmac.new(secret.encode(), f"v1:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "X-Helpline-Timestamp": timestamp,
        "X-Helpline-Signature": sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }


class HubProcess:
    """`helpline serve` in a child process that can be killed with SIGKILL and started again."""

    def __init__(self, directory: Path, port: int, env: dict[str, str]) -> None:
        self.directory = directory
        self.base = f"http://127.0.0.1:{port}"
        self.env = env
        self.log_path = directory / "hub.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.restart_seconds: list[float] = []

    def cli(self, *args: str, stdin: str = "") -> str:
        result = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args, "--config", str(self.directory / "hub.toml")],
            input=stdin,
            text=True,
            capture_output=True,
            env=self.env,
        )
        if result.returncode != 0:
            raise SystemExit(f"helpline {' '.join(args)} failed: {result.stderr[-1000:]}")
        return result.stdout

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "serve", "--config", str(self.directory / "hub.toml")],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

    async def wait_ready(self, http: aiohttp.ClientSession, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.process.returncode}; log:\n{self.log_tail()}")
            try:
                async with http.get(f"{self.base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"the hub did not become healthy within {timeout:g}s; log:\n{self.log_tail()}")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    async def restart(self, http: aiohttp.ClientSession) -> None:
        started = time.monotonic()
        self.start()
        await self.wait_ready(http)
        self.restart_seconds.append(time.monotonic() - started)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_errors(self) -> int:
        return sum(
            " ERROR " in line or "Traceback" in line for line in self.log_path.read_text(errors="replace").splitlines()
        )


class Killer:
    """Kills the hub when a progress count crosses each of the given thresholds, then starts
    it again; the kill is sent from the callback that saw the count, mid-traffic."""

    def __init__(self, hub: HubProcess, http: aiohttp.ClientSession, thresholds: list[int]) -> None:
        self.hub = hub
        self.http = http
        self.thresholds = sorted(thresholds)
        self.restarting: asyncio.Task[None] | None = None

    def progress(self, count: int) -> None:
        if self.thresholds and count >= self.thresholds[0] and (self.restarting is None or self.restarting.done()):
            self.thresholds.pop(0)
            self.hub.kill()
            self.restarting = asyncio.create_task(self.hub.restart(self.http))

    @property
    def failed(self) -> BaseException | None:
        """Why the last restart failed (the senders stop retrying then)."""
        if self.restarting is None or not self.restarting.done():
            return None
        return self.restarting.exception()

    async def settle(self) -> None:
        """Wait for a restart under way; raise if the hub did not come back."""
        if self.restarting is not None:
            await self.restarting


def open_readonly(directory: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{directory / 'data' / 'helpline.sqlite3'}?mode=ro", uri=True)


# ---------------------------------------------------------------------------- ingest


@dataclass
class IngestStats:
    sends: int = 0  # requests that got 200 (originals and duplicates)
    answered_duplicate: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    ticket_of_thread: dict[str, set[int]] = field(default_factory=dict)


async def send_until_ok(
    http: aiohttp.ClientSession, url: str, secret: str, payload: dict[str, Any], stats: IngestStats, killer: Killer
) -> bool:
    """Post one message until it gets 200, as a platform backend retries; False if refused (4xx)."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    delay = 0.05
    while True:
        try:
            async with http.post(url, data=body, headers=signed_headers(secret, body)) as resp:
                if resp.status == 200:
                    answer = await resp.json()
                    stats.sends += 1
                    stats.answered_duplicate += bool(answer.get("duplicate"))
                    stats.ticket_of_thread.setdefault(payload["thread"], set()).add(answer["ticket"])
                    return True
                text = await resp.text()
                if resp.status < 500:
                    stats.rejected.append(f"{payload['id']}: {resp.status} {text[:200]}")
                    return False
                stats.retries[str(resp.status)] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            stats.retries[exc.__class__.__name__] += 1
        if killer.failed is not None:
            raise killer.failed
        await asyncio.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 1.0)


def ingest_payloads(n: int, per_thread: int, prefix: str = "") -> list[dict[str, Any]]:
    threads = max(1, n // per_thread)
    texts = ["我无法登录我的账户", "My order #5531 never arrived", "Please refund my payment", "密码重置链接过期了"]
    return [
        {
            "id": f"{prefix}msg-{i}",
            "sender": {"id": f"{prefix}user-{(i % threads) % max(1, threads // 2)}", "name": f"Customer {i % threads}"},
            "thread": f"{prefix}thread-{i % threads}",
            "text": f"{texts[i % len(texts)]} ({i})",
        }
        for i in range(n)
    ]


async def send_all(
    payloads: list[dict[str, Any]],
    duplicated: dict[str, str],
    send: Callable[[dict[str, Any]], Awaitable[Any]],
    progress: Callable[[int], None],
    concurrency: int,
) -> None:
    """Every payload sent until it is answered 200 (`send` retries), its duplicate too, over
    `concurrency` connections; `progress` hears how many are done (a killer's cue)."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    done = 0

    async def one(payload: dict[str, Any]) -> None:
        nonlocal done
        mode = duplicated.get(payload["id"])
        if mode == "race":  # the platform retried before the first answer came back
            await asyncio.gather(send(payload), send(payload))
        else:
            await send(payload)
            if mode == "later":
                await send(payload)
        done += 1
        progress(done)

    async def worker() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def duplicates_of(payloads: list[dict[str, Any]], share: float, rng: random.Random) -> dict[str, str]:
    """The ids sent twice: "race" (before the first answer) or "later" (after its 200)."""
    return {p["id"]: rng.choice(("race", "later")) for p in rng.sample(payloads, int(len(payloads) * share))}


def check_stored(directory: Path, payloads: list[dict[str, Any]], stats: IngestStats) -> dict[str, int]:
    """What the database holds of these payloads (ids and threads are prefixed per phase)."""
    expected_thread = {p["id"]: p["thread"] for p in payloads}
    threads = set(expected_thread.values())
    with open_readonly(directory) as db:
        stored = Counter(
            dict(
                db.execute(
                    "SELECT external_id, COUNT(*) FROM messages WHERE channel = ? AND direction = 'inbound'"
                    " GROUP BY external_id",
                    (CHANNEL,),
                ).fetchall()
            )
        )
        tickets_per_thread = Counter(
            dict(
                db.execute(
                    "SELECT thread_key, COUNT(*) FROM conversations WHERE channel = ? GROUP BY thread_key", (CHANNEL,)
                ).fetchall()
            )
        )
        misfiled = sum(
            expected_thread.get(external_id) != thread
            for external_id, thread in db.execute(
                "SELECT m.external_id, c.thread_key FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.channel = ? AND m.direction = 'inbound'",
                (CHANNEL,),
            )
            if external_id in expected_thread
        )
    tickets_per_thread = Counter({thread: n for thread, n in tickets_per_thread.items() if thread in threads})
    prefix = os.path.commonprefix(list(expected_thread))
    return {
        "stored": sum(1 for message_id in expected_thread if stored[message_id]),
        "rows": sum(stored[message_id] for message_id in expected_thread),
        "lost": sum(1 for message_id in expected_thread if stored[message_id] == 0),
        "twice": sum(stored[message_id] - 1 for message_id in expected_thread if stored[message_id] > 1),
        "unexpected": sum(1 for m in stored if m.startswith(prefix) and m not in expected_thread),
        "misfiled": misfiled,
        "tickets": sum(tickets_per_thread.values()),
        "threads": len(threads),
        "extra_tickets": sum(count - 1 for count in tickets_per_thread.values() if count > 1)
        + len(threads - set(tickets_per_thread))
        + sum(1 for numbers in stats.ticket_of_thread.values() if len(numbers) > 1),
    }


async def run_ingest(
    hub: HubProcess,
    http: aiohttp.ClientSession,
    secret: str,
    args: argparse.Namespace,
    rng: random.Random,
) -> dict[str, Any]:
    payloads = ingest_payloads(args.messages, args.per_thread)
    rng.shuffle(payloads)  # a thread's messages arrive spread out, sometimes at once
    duplicated = duplicates_of(payloads, args.duplicates, rng)
    stats = IngestStats()
    low, high = max(1, args.messages // 20), max(2, args.messages * 19 // 20)
    killer = Killer(hub, http, rng.sample(range(low, high), min(args.kills, high - low)))
    started = time.perf_counter()
    url = f"{hub.base}/channels/{CHANNEL}/messages"
    send = lambda p: send_until_ok(http, url, secret, p, stats, killer)  # noqa: E731
    await send_all(payloads, duplicated, send, killer.progress, args.concurrency)
    await killer.settle()
    elapsed = time.perf_counter() - started
    found = check_stored(hub.directory, payloads, stats)
    sends = len(payloads) + len(duplicated)
    print(
        f"ingest: {len(payloads):,} messages in {found['threads']:,} threads, {len(duplicated):,} sent again as"
        f" duplicates ({sum(m == 'race' for m in duplicated.values()):,} racing the original), {sends:,} sends over"
        f" {args.concurrency} connections, {hub.kills} kill -9 in {elapsed:.1f}s"
    )
    print(
        f"  answered 200: {stats.sends:,} ({stats.answered_duplicate:,} as duplicates); retried after a failure:"
        f" {sum(stats.retries.values()):,} ({', '.join(f'{k} {v}' for k, v in stats.retries.most_common()) or 'none'});"
        f" refused: {len(stats.rejected)}"
    )
    print(
        f"  stored: {found['rows']:,} rows for {found['stored']:,} ids; lost {found['lost']}, stored twice"
        f" {found['twice']}, unknown {found['unexpected']}, in the wrong ticket {found['misfiled']}"
    )
    print(
        f"  tickets: {found['tickets']:,} for {found['threads']:,} threads; extra, missing or answered with two"
        f" numbers: {found['extra_tickets']}"
    )
    for line in stats.rejected[:5]:
        print(f"  refused: {line}")
    return {
        "sent": len(payloads),
        "sends": sends,
        "duplicates_sent": len(duplicated),
        "stored": found["stored"],
        "lost": found["lost"],
        "duplicated": found["twice"] + found["unexpected"],
        "misfiled": found["misfiled"],
        "refused": len(stats.rejected),
        "retried": sum(stats.retries.values()),
        "tickets": found["tickets"],
        "threads": found["threads"],
        "extra_tickets": found["extra_tickets"],
        "kills": hub.kills,
        "seconds": round(elapsed, 1),
    }


# ---------------------------------------------------------------------------- replies


class Receiver:
    """The platform's callback endpoint: verifies the signature, answers 503 now and then,
    and counts every reply it accepted with 200, by the hub's message id."""

    def __init__(self, secret: str, fail_rate: float, rng: random.Random) -> None:
        self.secret = secret
        self.fail_rate = fail_rate
        self.rng = rng
        self.accepted: Counter[str] = Counter()
        self.answered_503 = 0
        self.bad_signatures = 0
        self.gate = asyncio.Event()  # closed while the replies are being queued
        self.on_accept: Killer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Helpline-Timestamp", "")
        if not hmac.compare_digest(sign(self.secret, timestamp, body), request.headers.get("X-Helpline-Signature", "")):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        message_id = json.loads(body)["message"]["id"]
        await self.gate.wait()
        await asyncio.sleep(self.rng.uniform(0, 0.02))
        if self.rng.random() < self.fail_rate:
            self.answered_503 += 1
            return web.json_response({"error": "busy"}, status=503)
        self.accepted[message_id] += 1
        if self.on_accept is not None:
            self.on_accept.progress(len(self.accepted))
        return web.json_response({"id": f"platform-{message_id}"})


def conversations_of(directory: Path) -> list[str]:
    with open_readonly(directory) as db:
        return [row[0] for row in db.execute("SELECT id FROM conversations WHERE channel = ?", (CHANNEL,))]


async def queue_replies(
    http: aiohttp.ClientSession, bases: list[str], token: str, conversations: list[str], n: int, label: str = "Reply"
) -> list[str]:
    """`n` agent replies queued through the REST API, spread over the tickets (and round robin
    over the hubs at `bases`); their ids."""
    auth = {"Authorization": f"Bearer {token}"}
    queued: list[str] = []
    semaphore = asyncio.Semaphore(16)

    async def reply(j: int) -> None:
        conversation = conversations[j % len(conversations)]
        async with (
            semaphore,
            http.post(
                f"{bases[j % len(bases)]}/api/v1/conversations/{conversation}/messages",
                json={"text": f"{label} {j}: we refunded your order. 已为您退款。"},
                headers=auth,
            ) as resp,
        ):
            if resp.status != 201:
                raise RuntimeError(f"queueing reply {j} answered {resp.status}: {await resp.text()}")
            queued.append((await resp.json())["id"])

    await asyncio.gather(*(reply(j) for j in range(n)))
    return queued


async def wait_outbox_empty(hub: HubProcess, killer: Killer, timeout: float) -> int:
    """Until nothing is queued (and every planned kill happened) or `timeout`; how many are still queued."""
    deadline = time.monotonic() + timeout
    waiting = -1
    while time.monotonic() < deadline:
        await killer.settle()
        with open_readonly(hub.directory) as db:
            waiting = db.execute("SELECT COUNT(*) FROM messages WHERE d_status = 'queued'").fetchone()[0]
        if waiting == 0 and not killer.thresholds:
            break
        await asyncio.sleep(0.2)
    return waiting


async def run_replies(
    hub: HubProcess,
    http: aiohttp.ClientSession,
    receiver: Receiver,
    token: str,
    args: argparse.Namespace,
    rng: random.Random,
) -> dict[str, Any]:
    started = time.perf_counter()
    queued = await queue_replies(http, [hub.base], token, conversations_of(hub.directory), args.replies)
    # Deliveries start once the receiver lets them through; the kills come while they run.
    receiver.on_accept = Killer(
        hub, http, rng.sample(range(1, args.replies), min(args.reply_kills, max(0, args.replies - 1)))
    )
    kills_before = hub.kills
    receiver.gate.set()
    waiting = await wait_outbox_empty(hub, receiver.on_accept, args.reply_timeout)
    elapsed = time.perf_counter() - started
    with open_readonly(hub.directory) as db:
        statuses = Counter(
            dict(db.execute("SELECT d_status, COUNT(*) FROM messages WHERE d_status IS NOT NULL GROUP BY d_status"))
        )
    lost = sum(1 for message_id in queued if receiver.accepted[message_id] == 0)
    twice = sum(1 for message_id in queued if receiver.accepted[message_id] > 1)
    unknown = sum(1 for message_id in receiver.accepted if message_id not in set(queued))
    kills = hub.kills - kills_before
    print(
        f"replies: {len(queued)} queued through the API, {kills} kill -9 while delivering, outbox empty after"
        f" {elapsed:.1f}s (still queued: {waiting})"
    )
    print(
        f"  delivered: {sum(1 for m in queued if receiver.accepted[m])} of {len(queued)}; lost {lost};"
        f" delivered twice (a crash between the send and its record) {twice};"
        f" answered 503 and retried {receiver.answered_503}; bad signatures {receiver.bad_signatures};"
        f" outbox rows {dict(statuses)}"
    )
    return {
        "queued": len(queued),
        "delivered": sum(1 for m in queued if receiver.accepted[m]),
        "lost": lost,
        "delivered_twice": twice,
        "unknown": unknown,
        "failed": statuses.get("failed", 0),
        "still_queued": waiting,
        "answered_503": receiver.answered_503,
        "kills": kills,
        "seconds": round(elapsed, 1),
    }


# ---------------------------------------------------------------------------- store outage


async def hold_write_lock(database: Path, seconds: float, taken: asyncio.Event) -> float:
    """Hold SQLite's write lock on the hub's database from this process for `seconds`
    (the store unavailable to the hub: every write waits, then fails); how long it was held."""
    loop = asyncio.get_running_loop()

    def hold() -> float:
        conn = sqlite3.connect(database, timeout=60, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")  # waits for the hub's write under way, then keeps it out
            loop.call_soon_threadsafe(taken.set)
            started = time.monotonic()
            time.sleep(seconds)
            conn.execute("ROLLBACK")
            return time.monotonic() - started
        finally:
            conn.close()

    return await asyncio.to_thread(hold)


async def run_outage(
    hub: HubProcess,
    http: aiohttp.ClientSession,
    receiver: Receiver,
    secret: str,
    token: str,
    args: argparse.Namespace,
    rng: random.Random,
) -> dict[str, Any]:
    """Messages coming in and replies going out while the store is unavailable."""
    payloads = ingest_payloads(args.outage_messages, args.per_thread, prefix="outage-")
    rng.shuffle(payloads)
    duplicated = duplicates_of(payloads, args.duplicates, rng)
    receiver.gate.clear()  # the replies' deliveries wait in the receiver until the store is gone
    tickets = conversations_of(hub.directory)
    queued = await queue_replies(http, [hub.base], token, tickets, args.outage_replies, label="Outage reply")
    before = Counter(receiver.accepted)
    stats, no_kills = IngestStats(), Killer(hub, http, [])
    taken = asyncio.Event()
    lock = asyncio.create_task(hold_write_lock(hub.directory / "data" / "helpline.sqlite3", args.outage_seconds, taken))
    await taken.wait()
    # accepted by the platform now: the hub cannot record them as sent until the store is back
    asyncio.get_running_loop().call_later(args.outage_seconds / 3, receiver.gate.set)
    started = time.perf_counter()
    url = f"{hub.base}/channels/{CHANNEL}/messages"
    send = lambda p: send_until_ok(http, url, secret, p, stats, no_kills)  # noqa: E731
    await send_all(payloads, duplicated, send, no_kills.progress, min(args.concurrency, 8))
    held = await lock
    waiting = await wait_outbox_empty(hub, no_kills, args.reply_timeout)
    elapsed = time.perf_counter() - started
    found = check_stored(hub.directory, payloads, stats)
    delivered = {m: receiver.accepted[m] - before[m] for m in queued}
    lost_replies = sum(1 for m in queued if receiver.accepted[m] == 0)
    print(
        f"store unavailable: the write lock held for {held:.1f}s while {len(payloads)} messages"
        f" (+{len(duplicated)} duplicates) came in and {len(queued)} replies went out; answered 503:"
        f" {stats.retries['503']} (other failures {sum(stats.retries.values()) - stats.retries['503']}),"
        f" all retried until 200 in {elapsed:.1f}s"
    )
    print(
        f"  stored: {found['stored']} of {len(payloads)}; lost {found['lost']}, stored twice {found['twice']};"
        f" replies delivered {sum(1 for n in delivered.values() if n)} of {len(queued)}"
        f" ({sum(1 for n in delivered.values() if n > 1)} twice), lost {lost_replies}, still queued {waiting}"
    )
    return {
        "seconds_unavailable": round(held, 1),
        "sent": len(payloads),
        "answered_503": stats.retries["503"],
        "stored": found["stored"],
        "lost": found["lost"],
        "duplicated": found["twice"] + found["unexpected"],
        "extra_tickets": found["extra_tickets"],
        "refused": len(stats.rejected),
        "replies": len(queued),
        "replies_lost": lost_replies,
        "replies_delivered_twice": sum(1 for n in delivered.values() if n > 1),
        "still_queued": waiting,
    }


# ---------------------------------------------------------------------------- run


def write_config(
    directory: Path, port: int, callback: str, lease: float, store_timeout: float = 5.0, storage: str = "sqlite://"
) -> None:
    """The hub's config: one webhook channel, its secret from the environment (bench/cluster.py shares it)."""
    (directory / "hub.toml").write_text(
        f"""[hub]
port = {port}
log_level = "warning"
[storage]
url = "{storage}"
timeout_seconds = {store_timeout:g}
[channels.{CHANNEL}]
type = "webhook"
secret = "env:{SECRET_ENV}"
callback_url = "{callback}"
[outbox]
base_delay_seconds = 0.2
max_delay_seconds = 2
max_attempts = 30
lease_seconds = {lease:g}
poll_seconds = 0.2
[plugins]
enabled = []
"""
    )


async def start_receiver(secret: str, fail_rate: float, rng: random.Random) -> tuple[Receiver, web.AppRunner, int]:
    """The platform's callback endpoint on a free loopback port: (receiver, runner to clean up, port)."""
    receiver = Receiver(secret, fail_rate, rng)
    app = web.Application()
    app.router.add_post("/callback", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return receiver, runner, port


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The three phases against one `helpline serve`; the figures (`ok` is the verdict)."""
    rng = random.Random(args.seed)
    secret = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        receiver, runner, receiver_port = await start_receiver(secret, args.reply_fail_rate, rng)
        hub_port = free_port()
        write_config(
            directory, hub_port, f"http://127.0.0.1:{receiver_port}/callback", args.lease_seconds, args.store_timeout
        )
        env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", SECRET_ENV: secret}
        hub = HubProcess(directory, hub_port, env)
        hub.cli("agent", "add", AGENT, "--role", "admin", stdin="bench password 1\n")
        token = hub.cli("token", "create", AGENT, "--name", "faults bench").strip().splitlines()[-1]
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=0)
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
                hub.start()
                await hub.wait_ready(http)
                ingest = await run_ingest(hub, http, secret, args, rng)
                replies = await run_replies(hub, http, receiver, token, args, rng)
                outage = await run_outage(hub, http, receiver, secret, token, args, rng) if args.outage_seconds else {}
        finally:
            hub.stop()
            await runner.cleanup()
        seconds = time.perf_counter() - started
        restarts = hub.restart_seconds
        if restarts:
            print(f"restart after kill -9 until /healthz answers 200: {min(restarts):.1f} - {max(restarts):.1f}s")
        errors = hub.log_errors()
        print(f"hub log: {errors} ERROR or Traceback line(s)")
        if errors:
            print(hub.log_tail(15))
    ok = (
        ingest["lost"] == 0
        and ingest["duplicated"] == 0
        and ingest["misfiled"] == 0
        and ingest["refused"] == 0
        and ingest["extra_tickets"] == 0
        and replies["lost"] == 0
        and replies["unknown"] == 0
        and replies["failed"] == 0
        and replies["still_queued"] == 0
        and all(outage.get(key, 0) == 0 for key in ("lost", "duplicated", "extra_tickets", "refused", "replies_lost"))
        and outage.get("still_queued", 0) == 0
        and (not outage or outage["answered_503"] > 0)  # the outage was seen: channels were told to retry
    )
    figures = {
        "ingest": ingest,
        "replies": replies,
        "outage": outage,
        "seconds": round(seconds, 1),
        "hub_log_errors": errors,
        "ok": ok,
    }
    print(json.dumps(figures))
    return figures


def add_run_arguments(
    parser: argparse.ArgumentParser, *, messages: int, kills: int, concurrency: int, replies: int, reply_kills: int
) -> None:
    """The options this bench shares with bench/cluster.py (the load, the replies, the kills)."""
    parser.add_argument("--messages", type=int, default=messages)
    parser.add_argument("--per-thread", type=int, default=5, help="messages per thread (threads = messages / this)")
    parser.add_argument("--duplicates", type=float, default=0.3, help="share of messages sent a second time")
    parser.add_argument("--kills", type=int, default=kills, help="kill -9 restarts during ingest")
    parser.add_argument("--concurrency", type=int, default=concurrency, help="concurrent webhook connections")
    parser.add_argument("--replies", type=int, default=replies)
    parser.add_argument("--reply-kills", type=int, default=reply_kills, help="kill -9 restarts while delivering")
    parser.add_argument("--reply-fail-rate", type=float, default=0.05, help="share of callbacks answered 503")
    parser.add_argument("--lease-seconds", type=float, default=5, help="[outbox] lease_seconds for the run")
    parser.add_argument("--reply-timeout", type=float, default=300, help="longest wait for the outbox to empty")
    parser.add_argument("--seed", type=int, default=None, help="random seed (kill moments, order, duplicates)")


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, messages=10_000, kills=5, concurrency=32, replies=900, reply_kills=2)
    parser.add_argument("--outage-seconds", type=float, default=30, help="the store unavailable this long (0: skip)")
    parser.add_argument("--outage-messages", type=int, default=300, help="messages sent while the store is unavailable")
    parser.add_argument("--outage-replies", type=int, default=60, help="replies delivered while it is unavailable")
    parser.add_argument("--store-timeout", type=float, default=5, help="[storage] timeout_seconds (before a 503)")
    return parser


def seeded(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The command line, with a random seed when none was given (printed, so a run can be repeated)."""
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    print(f"seed {args.seed}; Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs")
    return args


def main() -> None:
    args = seeded(arguments())
    sys.exit(0 if asyncio.run(run(args))["ok"] else 1)


if __name__ == "__main__":
    main()
