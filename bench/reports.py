"""Reports at scale: every report for a 30-day period over 100,000 tickets and 1,000,000
messages (bench/inbox.py's data set, plus a report fact per answered or resolved ticket).

    .venv/bin/python bench/reports.py [--tickets 100000] [--messages 1000000] [--rounds 5]

Fills a fresh embedded store directly through SQLite with bench/inbox.py's generator, adds
the per-ticket facts the hub keeps as tickets are answered and resolved, then times each
report through the real HTTP API as a signed-in admin (authentication and JSON included):
the summary, volume by hour and day, the per-agent table, the backlog, and the CSV and
XLSX exports. Prints the figures and the best and worst time of each; the goal is under
1 s each. The last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py shares its name with the standard library's email package: keep this
# folder off the import path so `import email` finds the real one.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse
import asyncio
import importlib.util
import json
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, str(HERE.parent))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from conversation.model import Role, new_id  # noqa: E402
from conversation.sqlite import SQLiteStore  # noqa: E402
from hub.agents import add_agent  # noqa: E402
from hub.app import Hub, build_app  # noqa: E402
from hub.config import parse_config  # noqa: E402

GOAL_SECONDS = 1.0
DAYS = 30


def inbox_bench() -> object:
    """bench/inbox.py as a module: its data set generator is the one both benches use."""
    spec = importlib.util.spec_from_file_location("bench_inbox", HERE / "inbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add_facts(path: Path, agents: list[str]) -> int:
    """A report fact per ticket that was answered (and, when resolved or closed, its
    resolution), as the hub writes them when a clock stops."""
    rng = random.Random(11)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    rows, spans = [], []
    for conv_id, created, team, channel, category, assignee, status in conn.execute(
        "SELECT id, created_at, team, channel, category, assignee_id, status FROM conversations"
    ):
        if status == "open" and rng.random() < 0.5:
            continue  # not answered yet
        first = created + rng.randrange(30_000, 4 * 3_600_000)
        resolved = status in ("resolved", "closed")
        resolved_at = first + rng.randrange(60_000, 48 * 3_600_000) if resolved else None
        reopens = 1 if rng.random() < 0.08 else 0
        if reopens and resolved_at is not None:  # done once before: resolved, then reopened
            spans.append((conv_id, (first + resolved_at) // 2, (first + 3 * resolved_at) // 4))
        rows.append(
            (
                conv_id,
                created,
                team,
                channel,
                category,
                assignee,
                first,
                (first - created) / 1000 * rng.uniform(0.3, 1.0),  # business time: part of the wall time
                assignee or rng.choice(agents),
                resolved_at,
                resolved_at,
                (resolved_at - created) / 1000 * rng.uniform(0.3, 1.0) if resolved_at else None,
                (1 if rng.random() < 0.85 else 0) if resolved else None,
                reopens,
                int(resolved),
            )
        )
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO report_facts VALUES ({','.join('?' * 15)}, '')", rows)  # resolver: none kept
    conn.executemany("INSERT INTO report_done_spans VALUES (?, ?, ?)", spans)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return len(rows)


async def run(tickets: int, messages: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = SQLiteStore(data / "helpline.sqlite3")
        await store.open()  # creates the schema
        admin = await add_agent(store, "bench@example.com", Role.ADMIN, "bench password 1")
        agents = [admin.id] + [new_id() for _ in range(9)]
        await store.close()
        started = time.perf_counter()
        inbox_bench().fill(data / "helpline.sqlite3", tickets, messages, agents)  # type: ignore[attr-defined]
        facts = add_facts(data / "helpline.sqlite3", agents)
        took = time.perf_counter() - started
        print(f"filled {tickets:,} tickets, {messages:,} messages, {facts:,} facts in {took:.0f}s")

        hub = Hub(parse_config({"hub": {"data_dir": str(data)}, "plugins": {"enabled": []}}))
        async with TestClient(TestServer(build_app(hub))) as client:
            resp = await client.post(
                "/api/v1/auth/login", json={"email": "bench@example.com", "password": "bench password 1"}
            )
            assert resp.status == 200
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            period = f"from={(end - timedelta(days=DAYS)).isoformat()}&to={end.isoformat()}".replace("+", "%2B")
            reports = {
                "summary": f"/api/v1/reports/summary?{period}",
                "volume": f"/api/v1/reports/volume?{period}&tz=Asia/Shanghai",
                "agents": f"/api/v1/reports/agents?{period}",
                "backlog": f"/api/v1/reports/backlog?{period}",
                "summary_team": f"/api/v1/reports/summary?{period}&team=billing&channel=email",
                "agents_team": f"/api/v1/reports/agents?{period}&team=billing",
                "export_csv": f"/api/v1/reports/export?{period}&table=agents&format=csv",
                "export_xlsx": f"/api/v1/reports/export?{period}&format=xlsx",
            }
            timings: dict[str, list[float]] = {}
            answers: dict[str, object] = {}
            for _ in range(rounds):
                for name, url in reports.items():
                    t = time.perf_counter()
                    resp = await client.get(url)
                    body = await resp.read()
                    timings.setdefault(name, []).append(time.perf_counter() - t)
                    assert resp.status == 200, (name, body[:300])
                    if name in ("summary", "agents", "backlog"):
                        answers[name] = json.loads(body)
            summary = answers["summary"]
            assert isinstance(summary, dict)
            print(f"{DAYS}-day period {summary['from']} .. {summary['to']}")
            for key in (
                "volume",
                "first_response_p50_s",
                "first_response_p90_s",
                "resolution_p50_s",
                "resolution_p90_s",
                "sla_met",
                "reopen_rate",
                "backlog",
            ):
                print(f"  {key:<22} {summary[key]}")
            agents_table = answers["agents"]
            assert isinstance(agents_table, dict)
            print(f"  agents                 {len(agents_table['items'])} rows")
            print("report          best      worst")
            result: dict[str, float] = {}
            for name, values in timings.items():
                result[name] = round(max(values) * 1000, 1)
                print(f"  {name:<13} {min(values) * 1000:7.1f} ms {max(values) * 1000:7.1f} ms")
            return {
                "bench": "reports",
                "tickets": tickets,
                "messages": messages,
                "facts": facts,
                "days": DAYS,
                "worst_ms": result,
                "under_1s": all(v < GOAL_SECONDS * 1000 for v in result.values()),
                "figures": {k: summary[k] for k in ("volume", "first_response_p50_s", "resolution_p50_s", "backlog")},
            }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.tickets, args.messages, args.rounds))))


if __name__ == "__main__":
    main()
