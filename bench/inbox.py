"""The inbox at scale: list and search latency with 100,000 tickets and 1,000,000 messages.

    .venv/bin/python bench/inbox.py [--conversations 100000] [--messages 1000000] [--rounds 200]

Fills a fresh embedded store directly through SQLite (the point is reading, and
pushing a million messages through ingest would take minutes), builds the search
index the way the hub does, then times, through the real HTTP API with a signed-in
agent (so authentication, counts per view and JSON are included):
  - the conversation list, first page, for each inbox view and several filters;
  - full-text search over the messages, in English and in Chinese.
Prints p50/p95 per kind of request.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py shares its name with the standard library's email package: keep this
# folder off the import path so `import email` finds the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from conversation.model import Role, new_id  # noqa: E402
from conversation.sqlite import SQLiteStore  # noqa: E402
from hub.agents import add_agent  # noqa: E402
from hub.app import Hub, build_app, tune_gc_for_serving  # noqa: E402
from hub.config import parse_config  # noqa: E402

WORDS = [
    "order",
    "refund",
    "password",
    "login",
    "delivery",
    "invoice",
    "account",
    "payment",
    "broken",
    "help",
    "shipping",
    "address",
    "coupon",
    "subscription",
    "cancel",
    "email",
    "phone",
    "error",
    "update",
    "thanks",
]
CHINESE = [
    "订单",
    "退款",
    "密码",
    "登录",
    "物流",
    "发票",
    "账户",
    "支付",
    "损坏",
    "帮助",
    "地址",
    "优惠券",
    "取消",
    "错误",
]
CHANNELS = ["webchat", "email", "telegram", "slack"]
STATUSES = ["open"] * 3 + ["pending", "snoozed"] + ["resolved"] * 4 + ["closed"]
PRIORITIES = ["normal"] * 6 + ["low", "high", "high", "urgent"]


def fill(path: Path, conversations: int, messages: int, agents: list[str]) -> None:
    rng = random.Random(7)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # loading only; the hub itself runs with FULL
    now = int(time.time() * 1000)
    conn.execute("BEGIN")
    contacts = max(1, conversations * 7 // 10)
    conn.executemany(
        "INSERT INTO contacts (id, name, email, created_at) VALUES (?,?,?,?)",
        ((f"c{i:08d}", f"Customer {i}", f"c{i}@example.com", now) for i in range(contacts)),
    )
    conn.executemany(
        "INSERT INTO identities VALUES (?,?,?,?,?,?)",
        ((CHANNELS[i % 4], f"addr-{i}", f"c{i:08d}", f"Customer {i}", 0, now) for i in range(contacts)),
    )
    rows = []
    for i in range(conversations):
        last = now - rng.randrange(0, 90 * 24 * 3600 * 1000)
        tags = rng.sample(["vip", "refund", "bug", "billing", "urgent-ish"], rng.randrange(0, 3))
        rows.append(
            (
                f"v{i:08d}",
                1000 + i,
                CHANNELS[i % 4],
                f"thread-{i}",
                f"c{i % contacts:08d}",
                f"{rng.choice(WORDS)} {rng.choice(CHINESE)} #{i}",
                rng.choice(STATUSES),
                rng.choice(PRIORITIES),
                rng.choice(["", "refund", "account", "delivery"]),
                json.dumps(tags),
                rng.choice(["", "", "billing", "tech"]),
                rng.choice(["", "", *agents]),
                None,
                last - 3_600_000,
                last,
                None,
                None,
                "",
                last,
                "",
                "[]",
                f"addr-{i % contacts}",
                None,  # snoozed_until
                "{}",  # fields (custom ticket fields)
                "",  # priority_set_by
            )
        )
    marks = ",".join("?" * len(rows[0]))
    conn.executemany(f"INSERT INTO conversations VALUES ({marks})", rows)
    conn.executemany("INSERT INTO conversation_tags VALUES (?,?)", ((r[0], t) for r in rows for t in json.loads(r[9])))
    conn.execute("COMMIT")
    batch = []
    for j in range(messages):
        conv = rows[j % conversations]
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 14)))
        if j % 3 == 0:
            text += " " + "".join(rng.choice(CHINESE) for _ in range(rng.randrange(2, 6)))
        batch.append(
            (
                new_id(),
                conv[0],
                conv[2],
                "inbound" if j % 2 == 0 else "outbound",
                "message",
                "contact" if j % 2 == 0 else "agent",
                "",
                text,
                "",
                "[]",
                "[]",
                "",
                f"x{j}",
                f"{conv[2]}\x1fx{j}" if j % 2 == 0 else None,
                conv[14] - (messages - j),
                1,
            )
        )
        if len(batch) == 50_000:
            insert_messages(conn, batch)
            batch = []
    insert_messages(conn, batch)
    conn.close()


def insert_messages(conn: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO messages (id, conversation_id, channel, direction, kind, author_type, author_id, text, html,"
        " attachments, choices, choice_id, external_id, idem_key, created_at, plugins_done)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        batch,
    )
    conn.execute("COMMIT")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(conversations: int, messages: int, rounds: int, verbose: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = SQLiteStore(data / "helpline.sqlite3")
        await store.open()  # creates the schema
        admin = await add_agent(store, "bench@example.com", Role.ADMIN, "bench password 1")
        agents = [admin.id] + [new_id() for _ in range(9)]
        await store.close()
        started = time.perf_counter()
        fill(data / "helpline.sqlite3", conversations, messages, agents)
        print(
            f"filled {conversations:,} conversations and {messages:,} messages in {time.perf_counter() - started:.0f}s"
        )

        hub = Hub(parse_config({"hub": {"data_dir": str(data)}, "plugins": {"enabled": []}}))
        started = time.perf_counter()
        async with TestClient(TestServer(build_app(hub))) as client:  # opening indexes the search backlog
            print(f"hub started (search index built) in {time.perf_counter() - started:.0f}s")
            tune_gc_for_serving()
            resp = await client.post(
                "/api/v1/auth/login", json={"email": "bench@example.com", "password": "bench password 1"}
            )
            assert resp.status == 200
            lists = [
                "status=open",
                "assignee=me",
                "assignee=unassigned&status=open",
                "status=pending",
                "channel=email&status=open",
                "priority=urgent",
                "team=billing&status=open",
                "tag=vip",
                "category=refund&status=resolved",
                "",
            ]
            searches = ["refund", "password login", "订单", "退款 物流", "coupon cancel"]
            kinds = (
                ("list", [f"/api/v1/conversations?{q}&per_page=25" for q in lists]),
                ("search", [f"/api/v1/conversations?q={q}&per_page=25" for q in searches]),
                ("counts", ["/api/v1/conversations/counts"]),
            )
            for label, urls in kinds:
                timings: list[float] = []
                per_url: dict[str, list[float]] = {}
                for i in range(rounds):
                    url = urls[i % len(urls)]
                    t = time.perf_counter()
                    resp = await client.get(url)
                    await resp.json()
                    elapsed = time.perf_counter() - t
                    assert resp.status == 200
                    timings.append(elapsed)
                    per_url.setdefault(url, []).append(elapsed)
                print(
                    f"{label:<7} {len(timings)} requests over {len(urls)} filters: "
                    f"p50 {percentile(timings, 0.5) * 1000:6.1f} ms  p95 {percentile(timings, 0.95) * 1000:6.1f} ms"
                    f"  mean {statistics.fmean(timings) * 1000:6.1f} ms"
                )
                if verbose:
                    for url, values in per_url.items():
                        print(f"    {statistics.median(values) * 1000:6.1f} ms  {url}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--verbose", action="store_true", help="median per filter too")
    args = parser.parse_args()
    asyncio.run(run(args.conversations, args.messages, args.rounds, args.verbose))


if __name__ == "__main__":
    main()
