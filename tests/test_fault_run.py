"""The fault run of bench/faults.py, at a small size, in CI: a real `helpline serve` on the
embedded store, its webhook channel's secret from the environment ("env:..."), killed with
kill -9 during ingest and during delivery and started again, then its store unavailable
for a few seconds (another process holds SQLite's write lock). The platform side (this
test) retries every 5xx; its verdict, read from the database and the callback receiver:
nothing accepted is lost, nothing stored twice, every reply arrives."""

from __future__ import annotations

import math

import pytest

from bench import cluster, faults

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


def test_live_events_seen_only_on_the_hub_that_stored_them_count_as_not_delivered() -> None:
    """bench/cluster.py's p99 is honest: a hub that never showed an event is a miss, not a skip."""
    acks = cluster.Acks(origin={f"m{i}": (0, 10.0) for i in range(100)})
    message_of = {f"m{i}": f"id{i}" for i in range(100)}
    seen = cluster.LiveSeen(open_spans={0: [[0.0, math.inf]], 1: [[0.0, math.inf]], 2: [[0.0, 10.5]]})
    for i in range(100):
        seen.first[(0, f"id{i}")] = 10.001  # the origin's own socket: the moment it was published
    assert cluster.live_figures(acks, message_of, seen, 3) == (
        None,
        {"seen on the hub that stored it": 100, "cross-hub pairs": 100, "cross-hub never arrived": 100},
    )  # hub 2's socket closed too soon after: it cannot tell, and is left out
    for i in range(100):
        seen.first[(1, f"id{i}")] = 10.001 + (0.050 if i < 99 else 0.400)
    p99, counts = cluster.live_figures(acks, message_of, seen, 3)
    assert p99 == 50.0 and counts["cross-hub pairs"] == 100 and "cross-hub never arrived" not in counts


@pytest.mark.mongo
async def test_the_cluster_bench_loses_and_duplicates_nothing(mongo_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/cluster.py at a tiny size: three `helpline serve` on one MongoDB, a hub killed
    during ingest and one during delivery; its last line is the JSON the issue names."""
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    args = cluster.arguments().parse_args(
        ["--messages", "40", "--kills", "1", "--replies", "12", "--reply-kills", "1", "--lease-seconds", "2"]
        + ["--seed", "19"]
    )
    figures = await cluster.run(args)
    assert list(figures) == [
        "sent", "stored", "duplicates", "replies_lost", "duplicate_delivery_rate", "live_p99_ms", "hubs", "kills"
    ]  # fmt: skip
    assert (figures["sent"], figures["stored"], figures["duplicates"], figures["replies_lost"]) == (40, 40, 0, 0)
    assert (figures["hubs"], figures["kills"]) == (3, 2)
