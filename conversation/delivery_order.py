"""The order of one conversation's replies on one channel: the rule both store backends claim by.

The outbox sends several deliveries at once. Two replies of one ticket on one channel sent
at once can reach the customer swapped (an answer before its greeting, "did this answer your
question?" before the answer), so a queued delivery is claimed only when no earlier queued
delivery of the same conversation and channel holds it back (`holds_back_later`). "Earlier"
is creation order: SQLite's `seq`, MongoDB's `_id` (ids sort by creation time, see
`conversation.model.new_id`). Replies of different tickets, or of one ticket on different
channels, are independent and still go out in parallel.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

# Times as datetimes (MongoDB) or as the epoch milliseconds SQLite stores, all of one kind:
# SQLite calls the rule on its columns as they are, for every earlier queued reply it looks at.
Moment = TypeVar("Moment", datetime, int)


def holds_back_later(attempts: int, next_attempt_at: Moment | None, lease_until: Moment | None, now: Moment) -> bool:
    """Whether a queued delivery keeps the later deliveries of its conversation and channel waiting.

    It does while it has not been attempted yet (it goes first), while it is in flight (a
    lease that has not expired: a claimer is sending it right now) and while it is due for
    its retry (it is claimed in this round, so it still goes first).

    It does not once it has been attempted and waits for a later retry. A reply stuck in
    backoff (a customer who blocked the bot, a channel down for hours) would otherwise keep
    everything written after it undelivered until its attempts run out; the order is lost
    for that one reply anyway (the customer has not got it), so the ones after it go on.
    A delivery that is sent or failed is no longer queued and holds nothing back.
    """
    if attempts == 0:
        return True
    if lease_until is not None and lease_until >= now:
        return True
    return next_attempt_at is not None and next_attempt_at <= now
