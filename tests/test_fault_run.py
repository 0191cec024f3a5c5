"""The fault run of bench/faults.py, at a small size, in CI: a real `helpline serve` on the
embedded store, its webhook channel's secret from the environment ("env:..."), killed with
kill -9 during ingest and during delivery and started again, then its store unavailable
for a few seconds (another process holds SQLite's write lock). The platform side (this
test) retries every 5xx; its verdict, read from the database and the callback receiver:
nothing accepted is lost, nothing stored twice, every reply arrives."""

from __future__ import annotations

from bench import faults

OUTAGE_SECONDS = 3  # the bench's default is 30; the behaviour is the same, a few seconds suffice


async def test_kill_9_and_a_store_outage_lose_and_duplicate_nothing() -> None:
    args = faults.arguments().parse_args(
        ["--messages", "200", "--kills", "1", "--replies", "30", "--reply-kills", "1", "--lease-seconds", "2"]
        + ["--outage-seconds", str(OUTAGE_SECONDS), "--outage-messages", "60", "--outage-replies", "10"]
        + ["--store-timeout", "1", "--seed", "19"]
    )
    figures = await faults.run(args)
    ingest, replies, outage = figures["ingest"], figures["replies"], figures["outage"]
    assert (ingest["sent"], ingest["stored"], ingest["lost"], ingest["duplicated"]) == (200, 200, 0, 0)
    assert (ingest["tickets"], ingest["threads"], ingest["extra_tickets"], ingest["kills"]) == (40, 40, 0, 1)
    assert (replies["queued"], replies["delivered"], replies["lost"], replies["kills"]) == (30, 30, 0, 1)
    assert (replies["failed"], replies["still_queued"], replies["unknown"]) == (0, 0, 0)
    # while the store was unavailable the webhook answered 503, and the retries were all stored once
    assert outage["seconds_unavailable"] >= OUTAGE_SECONDS and outage["answered_503"] > 0
    assert (outage["sent"], outage["stored"], outage["lost"], outage["duplicated"], outage["refused"]) == (
        60, 60, 0, 0, 0
    )  # fmt: skip
    assert (outage["replies"], outage["replies_lost"], outage["still_queued"]) == (10, 0, 0)
    assert figures["ok"]
