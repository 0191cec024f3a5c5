"""Mail through the SMTP listener into the embedded store: speed and threading accuracy.

    .venv/bin/python bench/email.py [--mails 3000] [--connections 8]

Generates a mixed stream (new tickets; replies that carry In-Reply-To/References;
replies from clients that keep only the subject token; GBK-encoded Chinese mail;
mail with attachments; and mail as it really arrives: raw 8-bit UTF-8 headers, big5
names with brackets, Mailman-rewritten senders, answers between quoted lines, and
machines: Exchange out-of-office with a null sender, iCloud and QQ vacation replies,
subject-only auto-replies, Gmail text bounces and read receipts), sends it with
aiosmtplib over several connections to the hub's listener, and prints mails/s and
p50/p99 of the SMTP transaction, which ends with the listener's 250 reply only once
the mail is stored (so it bounds end-of-data to stored). Then it checks every stored
mail against the thread it was written for: threading accuracy must be 100 %; every
machine's mail is either marked automatic (no bot ever answers it) or, for a report,
opens no ticket: no-auto-reply-to-machines must be 100 %. The last line is one JSON
object with the figures.
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
import json
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


STYLES = ("plain", "raw8bit", "big5", "list", "inline")  # how a customer's mail is written
MACHINES = ("oof", "vacation", "qq", "subject", "bounce", "mdn")  # mail no bot may answer
REPORTS = ("bounce", "mdn")  # a report opens no ticket at all


@dataclass
class Thread:
    sender: str
    subject: str
    gbk: bool
    style: str = "plain"
    ids: list[str] = field(default_factory=list)
    ticket: int = 0


def b64(text: str, charset: str = "utf-8") -> str:
    return base64.b64encode(text.encode(charset)).decode()


def sender_headers(thread: Thread, index: int) -> list[str]:
    """From (and what a list adds) in the thread's style."""
    number = thread.sender.split("@")[0]
    if thread.style == "raw8bit":  # an old server: UTF-8 bytes, no RFC 2047
        return [f"From: Jürgen Groß {number} <{thread.sender}>"]
    if thread.style == "big5":
        return [f"From: =?big5?B?{b64(f'Chang {number}[陳大文]', 'big5')}?= <{thread.sender}>"]
    if thread.style == "list":  # Mailman's DMARC mitigation: From is the list
        return [
            f"From: {number} via Users <users@lists.example.org>",
            f"Reply-To: {number} <{thread.sender}>",
            "List-Id: <users.lists.example.org>",
        ]
    return [f"From: {thread.sender}"]


def machine_bytes(index: int, kind: str, about: str) -> tuple[str, bytes]:
    """(envelope sender, mail) of a machine: auto-replies and reports about `about`."""
    message_id = f"<machine-{index}@machines.example>"
    head = [f"To: {SUPPORT}", f"Message-ID: {message_id}", "Date: Thu, 26 Nov 2026 10:00:00 +0000"]
    text = "I am out of the office until Monday."
    sender, envelope = f"person{index}@example.com", f"person{index}@example.com"
    if kind == "oof":
        head += ["Subject: Away until Monday", "X-Auto-Response-Suppress: All"]
        envelope = ""
    elif kind == "vacation":
        head += ["Subject: Re: your order", "X-Apple-Action: VACATION"]
    elif kind == "qq":
        head += [f"Subject: =?gb18030?B?{b64('假期自动回复', 'gb18030')}?=", "X-QQ-AUTO-REPLY: 1"]
    elif kind == "subject":
        head += [f"Subject: =?utf-8?B?{b64('自动回复：您的邮件')}?="]
    elif kind == "bounce":
        sender, envelope = "mailer-daemon@googlemail.com", ""
        head += ["Subject: Delivery Status Notification (Failure)", f"In-Reply-To: {about}"]
        text = "** Address not found **\n\n550 5.1.1 The email account that you tried to reach does not exist."
    if kind == "mdn":
        boundary = "mdn"
        body = (
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nDisplayed.\r\n"
            f"--{boundary}\r\nContent-Type: message/disposition-notification\r\n\r\n"
            f"Original-Message-ID: {about}\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n"
            f"--{boundary}--\r\n"
        )
        head += [
            "Subject: Read: your order",
            f'Content-Type: multipart/report; report-type=disposition-notification; boundary="{boundary}"',
        ]
        return envelope, ("\r\n".join([f"From: {sender}", *head, "MIME-Version: 1.0"]) + "\r\n\r\n" + body).encode()
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return envelope, ("\r\n".join([f"From: {sender}", *head]) + "\r\n\r\n" + text + "\r\n").encode()


def mail_bytes(thread: Thread, index: int, kind: str, rng: random.Random) -> bytes:
    message_id = f"<bench-{index}@customer.example>"
    thread.ids.append(message_id)
    headers = [
        *sender_headers(thread, index),
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
    if thread.style == "inline" and kind != "new":  # the answer sits between the quoted lines
        text = f"Hi,\n\nOn Wed, 25 Nov 2026, Support wrote:\n> Which order?\n\n{text}\n\n> Since when?\n\nA week.\n"
    if thread.style == "raw8bit":
        headers.append(f"Subject: {subject}")
    elif thread.gbk:
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
        queue: asyncio.Queue[tuple[int, Thread | None, str, bytes]] = asyncio.Queue()
        machines: dict[str, str] = {}  # message id -> kind
        inline: dict[str, str] = {}  # message id -> the answer written between the quotes
        # Replies must follow the mail they answer: build the stream in rounds.
        pending = mails
        index = 0
        started = time.perf_counter()
        while pending:
            batch = []
            for _ in range(min(pending, connections * 20)):
                roll = rng.random()
                open_threads = [t for t in threads if t.ticket]
                if rng.random() < 0.1 and open_threads:  # a machine writes
                    kind = rng.choice(MACHINES)
                    envelope, raw = machine_bytes(index, kind, rng.choice(open_threads).ids[-1])
                    machines[f"<machine-{index}@machines.example>"] = kind
                    batch.append((index, None, envelope, raw))
                    index += 1
                    continue
                if roll < 0.4 or not open_threads:
                    style = rng.choices(STYLES, weights=(80, 5, 5, 5, 5))[0]
                    thread = Thread(
                        sender=f"customer{len(threads)}@example.org",
                        subject=f"Bestellung {len(threads)} – Rückfrage"
                        if style == "raw8bit"
                        else f"Order {len(threads)} problem",
                        gbk=style == "plain" and rng.random() < 0.15,
                        style=style,
                    )
                    threads.append(thread)
                    kind = "new"
                else:
                    thread = rng.choice(open_threads)
                    kind = "reply" if roll < 0.8 else "token"
                if kind != "new" and thread in [b[1] for b in batch if b[1] is not None]:
                    thread = Thread(
                        sender=f"customer{len(threads)}@example.org", subject=f"Order {len(threads)} problem", gbk=False
                    )
                    threads.append(thread)
                    kind = "new"
                raw = mail_bytes(thread, index, kind, rng)
                expected[thread.ids[-1]] = threads.index(thread)
                if thread.style == "inline" and kind != "new":
                    inline[thread.ids[-1]] = f"Message {index}:"
                batch.append((index, thread, thread.sender, raw))
                index += 1
            for item in batch:
                queue.put_nowait(item)

            async def worker() -> None:
                client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
                await client.connect()
                try:
                    while not queue.empty():
                        _i, thread, envelope, raw = queue.get_nowait()
                        t = time.perf_counter()
                        _errors, reply = await client.sendmail(envelope, [SUPPORT], raw)
                        latencies.append(time.perf_counter() - t)
                        found = re.search(r"ticket #(\d+)", reply)
                        if found and thread is not None and not thread.ticket:
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
        machine_ok = 0
        for message_id, kind in machines.items():
            message = await hub.store.tickets.find_inbound("email", message_id)
            machine_ok += (message is None) if kind in REPORTS else (message is not None and message.automatic)
        people_flagged = 0  # a person's mail taken for a machine's (a list's mail is bulk: not counted)
        for message_id, thread_index in expected.items():
            message = await hub.store.tickets.find_inbound("email", message_id)
            people_flagged += bool(message and message.automatic and threads[thread_index].style != "list")
        inline_ok = 0
        for message_id, answer in inline.items():
            message = await hub.store.tickets.find_inbound("email", message_id)
            inline_ok += bool(message and answer in message.text and "A week." in message.text)
        await hub.stop()
        print(
            f"{mails} mails ({len(threads)} threads) over {connections} SMTP connections in {elapsed:.1f}s:"
            f" {mails / elapsed:.0f} mails/s"
        )
        print(
            f"SMTP transaction (end of data -> stored -> 250): p50 {percentile(latencies, 0.5) * 1000:.1f} ms,"
            f" p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
        )
        people = len(expected)
        print(f"threading accuracy: {correct}/{people} = {100 * correct / people:.2f} %")
        no_auto = 100 * machine_ok / len(machines) if machines else 100.0
        print(f"no auto-reply to machines: {machine_ok}/{len(machines)} = {no_auto:.2f} % ({', '.join(MACHINES)})")
        print(f"people's mail taken for a machine's: {people_flagged}/{people}")
        print(f"answers between quoted lines kept: {inline_ok}/{len(inline)}")
        print(
            json.dumps(
                {
                    "mails": mails,
                    "mails_per_second": round(mails / elapsed, 1),
                    "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                    "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                    "threading_accuracy_percent": round(100 * correct / people, 2),
                    "no_auto_reply_to_machines_percent": round(no_auto, 2),
                    "machine_mails": len(machines),
                    "people_taken_for_machines": people_flagged,
                    "inline_answers_kept": f"{inline_ok}/{len(inline)}",
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.mails, args.connections))


if __name__ == "__main__":
    main()
