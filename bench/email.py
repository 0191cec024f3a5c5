"""Mail through the SMTP listener into the embedded store: speed and threading accuracy.

    .venv/bin/python bench/email.py [--mails 3000] [--connections 8]

Generates a mixed stream (new tickets; replies that carry In-Reply-To/References;
replies from clients that keep only the subject token; GBK-encoded Chinese mail;
mail with attachments), sends it with aiosmtplib over several connections to the
hub's listener, and prints mails/s and p50/p99 of the SMTP transaction, which ends
with the listener's 250 reply only once the mail is stored (so it bounds end-of-data
to stored). Then it checks every stored mail against the thread it was written for:
threading accuracy must be 100 %.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's email package: take its folder off the
# import path before anything imports `email`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import base64
import random
import re
import socket
import tempfile
import time
from dataclasses import dataclass, field

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib  # noqa: E402

from conversation.model import Direction  # noqa: E402
from hub.app import Hub, tune_gc_for_serving  # noqa: E402
from hub.config import parse_config  # noqa: E402

SUPPORT = "help@support.example.com"


@dataclass
class Thread:
    sender: str
    subject: str
    gbk: bool
    ids: list[str] = field(default_factory=list)
    ticket: int = 0


def mail_bytes(thread: Thread, index: int, kind: str, rng: random.Random) -> bytes:
    message_id = f"<bench-{index}@customer.example>"
    thread.ids.append(message_id)
    headers = [
        f"From: {thread.sender}",
        f"To: {SUPPORT}",
        f"Message-ID: {message_id}",
        "Date: Thu, 26 Nov 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
    ]
    subject = thread.subject
    if kind == "reply":
        headers += [f"In-Reply-To: {thread.ids[-2]}", f"References: {' '.join(thread.ids[:-1])}"]
        subject = f"Re: {subject}"
    elif kind == "token":
        subject = f"Re: {subject} [#{thread.ticket}]"
    text = f"Message {index}: " + (
        "我的订单还没有到，请帮我查一下物流。" if thread.gbk else "my order has not arrived yet."
    )
    if thread.gbk:
        headers.append(f"Subject: =?gb2312?B?{base64.b64encode(subject.encode('gbk')).decode()}?=")
    else:
        headers.append(f"Subject: {subject}")
    charset, body = ("gb2312", text.encode("gbk")) if thread.gbk else ("utf-8", text.encode())
    if rng.random() < 0.05:
        attachment = base64.encodebytes(rng.randbytes(20_000)).decode()
        return (
            "\r\n".join([*headers, 'Content-Type: multipart/mixed; boundary="b"']) + "\r\n\r\n--b\r\n"
            f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(body).decode()
            + "\r\n--b\r\nContent-Type: image/png\r\n"
            "Content-Disposition: attachment; filename=photo.png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + attachment
            + "\r\n--b--\r\n"
        ).encode()
    return (
        "\r\n".join([*headers, f"Content-Type: text/plain; charset={charset}", "Content-Transfer-Encoding: base64"])
        + "\r\n\r\n"
        + base64.encodebytes(body).decode()
    ).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(mails: int, connections: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = parse_config(
            {
                "hub": {"data_dir": tmp},
                "plugins": {"enabled": []},
                "channels": {"email": {"address": SUPPORT, "listen_port": port}},
            }
        )
        hub = Hub(config)
        await hub.start()
        tune_gc_for_serving()
        rng = random.Random(5)
        threads: list[Thread] = []
        expected: dict[str, int] = {}  # message id -> thread index
        latencies: list[float] = []
        queue: asyncio.Queue[tuple[int, Thread, bytes]] = asyncio.Queue()
        # Replies must follow the mail they answer: build the stream in rounds.
        pending = mails
        index = 0
        started = time.perf_counter()
        while pending:
            batch = []
            for _ in range(min(pending, connections * 20)):
                roll = rng.random()
                open_threads = [t for t in threads if t.ticket]
                if roll < 0.4 or not open_threads:
                    thread = Thread(
                        sender=f"customer{len(threads)}@example.org",
                        subject=f"Order {len(threads)} problem",
                        gbk=rng.random() < 0.15,
                    )
                    threads.append(thread)
                    kind = "new"
                else:
                    thread = rng.choice(open_threads)
                    kind = "reply" if roll < 0.8 else "token"
                if kind != "new" and thread in [b[1] for b in batch]:
                    thread = Thread(
                        sender=f"customer{len(threads)}@example.org", subject=f"Order {len(threads)} problem", gbk=False
                    )
                    threads.append(thread)
                    kind = "new"
                raw = mail_bytes(thread, index, kind, rng)
                expected[thread.ids[-1]] = threads.index(thread)
                batch.append((index, thread, raw))
                index += 1
            for item in batch:
                queue.put_nowait(item)

            async def worker() -> None:
                client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
                await client.connect()
                try:
                    while not queue.empty():
                        _i, thread, raw = queue.get_nowait()
                        t = time.perf_counter()
                        _errors, reply = await client.sendmail(thread.sender, [SUPPORT], raw)
                        latencies.append(time.perf_counter() - t)
                        found = re.search(r"ticket #(\d+)", reply)
                        if found and not thread.ticket:
                            thread.ticket = int(found.group(1))
                finally:
                    await client.quit()

            await asyncio.gather(*(worker() for _ in range(connections)))
            pending -= len(batch)
        elapsed = time.perf_counter() - started

        correct = 0
        conversations_of_thread: dict[int, set[str]] = {}
        for message_id, thread_index in expected.items():
            message = await hub.store.tickets.find_inbound("email", message_id)
            if message is None or message.direction is not Direction.INBOUND:
                continue
            conversations_of_thread.setdefault(thread_index, set()).add(message.conversation_id)
        owner: dict[str, int] = {}
        for thread_index, conversations in conversations_of_thread.items():
            if len(conversations) == 1:
                [conversation] = conversations
                if owner.setdefault(conversation, thread_index) == thread_index:
                    correct += sum(1 for t in expected.values() if t == thread_index)
        await hub.stop()
        print(
            f"{mails} mails ({len(threads)} threads) over {connections} SMTP connections in {elapsed:.1f}s:"
            f" {mails / elapsed:.0f} mails/s"
        )
        print(
            f"SMTP transaction (end of data -> stored -> 250): p50 {percentile(latencies, 0.5) * 1000:.1f} ms,"
            f" p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
        )
        print(f"threading accuracy: {correct}/{mails} = {100 * correct / mails:.2f} %")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.mails, args.connections))


if __name__ == "__main__":
    main()
