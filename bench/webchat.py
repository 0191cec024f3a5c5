"""Many web-chat visitors against one hub process on the embedded store.

    .venv/bin/python bench/webchat.py [--visitors 2000] [--rate 200] [--seconds 30]

Starts `helpline serve` as its own process (the sample plugins on, logging at warning),
signs an agent in and opens the inbox's live socket, opens one WebSocket per visitor,
then has random visitors send messages at a fixed total rate. For each message it
measures the time from the visitor's send to the agent's live `message.created` event,
and prints messages/s, p50/p99 of that latency, and the hub's peak resident memory.
All traffic is on loopback; every visitor comes from 127.0.0.1, so the per-address
message limit is raised for the run (the per-visitor limit stays at its default).
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
import resource
import socket
import subprocess
import tempfile
import time

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def run(visitors: int, rate: float, seconds: float) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, visitors * 2 + 1000)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port = free_port()
        (directory / "hub.toml").write_text(
            f"""[hub]\nport = {port}\nlog_level = "warning"\n[channels.webchat]\nsecret = "bench-secret-0123456789"\n"""
            f"""messages_per_minute_per_ip = 1000000\nmax_connections_per_ip = 1000000\n"""
            f"""new_visitors_per_hour_per_ip = 1000000\n[plugins]\nenabled = ["greeting"]\n"""
        )
        command = [sys.executable, "-m", "hub.cli"]
        subprocess.run(
            [*command, "agent", "add", "bench@example.com", "--role", "admin"],
            cwd=directory,
            input="bench password 1\n",
            text=True,
            check=True,
            capture_output=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        hub = subprocess.Popen(
            [*command, "serve"],
            cwd=directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        try:
            assert hub.stdout is not None
            while "listening" not in (line := hub.stdout.readline()):
                if not line:
                    raise SystemExit("the hub did not start")
            base = f"http://127.0.0.1:{port}"
            baseline = memory_kib(hub.pid, "VmRSS")
            await load(base, visitors, rate, seconds, hub.pid, baseline)
        finally:
            hub.terminate()
            hub.wait(timeout=30)


async def load(base: str, visitors: int, rate: float, seconds: float, pid: int, baseline_kib: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await http.post(
            f"{base}/api/v1/auth/login", json={"email": "bench@example.com", "password": "bench password 1"}
        )
        assert resp.status == 200, await resp.text()
        seen_by_agent: dict[str, float] = {}
        live = await http.ws_connect(f"{base}/api/v1/live", max_msg_size=0)

        async def watch() -> None:
            async for frame in live:
                event = json.loads(frame.data)
                if event["type"] == "message.created":
                    seen_by_agent.setdefault(event["message_id"], time.perf_counter())

        watcher = asyncio.create_task(watch())

        semaphore = asyncio.Semaphore(64)

        async def new_visitor(i: int) -> aiohttp.ClientWebSocketResponse:
            async with semaphore:
                resp = await http.post(f"{base}/channels/webchat/session", json={"site": "default"})
                token = (await resp.json())["token"]
                ws = await http.ws_connect(f"{base}/channels/webchat/ws?token={token}", heartbeat=None)
                await ws.send_json({"type": "hello", "after": ""})
                return ws

        started = time.perf_counter()
        sockets = await asyncio.gather(*(new_visitor(i) for i in range(visitors)))
        print(
            f"{visitors} visitors connected in {time.perf_counter() - started:.1f}s; "
            f"hub RSS {memory_kib(pid, 'VmRSS') / 1024:.0f} MiB (idle before: {baseline_kib / 1024:.0f} MiB)"
        )

        sent_at: dict[str, float] = {}
        message_of: dict[str, str] = {}
        errors: list[str] = []

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for frame in ws:
                data = json.loads(frame.data)
                if data["type"] == "ack":
                    message_of[data["client_id"]] = data["message"]["id"]
                elif data["type"] == "error":
                    errors.append(data["code"])

        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        rng = random.Random(1)
        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            client_id = f"b{i}"
            sent_at[client_id] = time.perf_counter()
            await sockets[rng.randrange(visitors)].send_json(
                {"type": "message", "client_id": client_id, "text": f"你好，我的订单 {i} 还没到 where is order {i}?"}
            )
        elapsed = time.perf_counter() - start
        await asyncio.sleep(3)  # let the last ones arrive
        latencies = [
            seen_by_agent[message_of[c]] - t
            for c, t in sent_at.items()
            if c in message_of and message_of[c] in seen_by_agent
        ]
        print(
            f"sent {total} messages in {elapsed:.1f}s ({total / elapsed:.0f}/s); acknowledged {len(message_of)},"
            f" seen live by the agent {len(latencies)}, errors {len(errors)}"
        )
        if latencies:
            print(
                f"visitor send -> agent live event: p50 {percentile(latencies, 0.5) * 1000:.1f} ms,"
                f" p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
            )
        print(f"hub peak RSS {memory_kib(pid, 'VmHWM') / 1024:.0f} MiB")
        for task in readers:
            task.cancel()
        watcher.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), live.close(), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.visitors, args.rate, args.seconds))


if __name__ == "__main__":
    main()
