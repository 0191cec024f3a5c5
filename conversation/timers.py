"""Durable plugin timers: "call `on_timer` at this time", kept in the store so they
survive restarts, and claimed under a lease so that of several hubs exactly one fires
each (at least once: a hub that dies after claiming leaves it to another once the
lease is over).

A timer's key is unique per plugin: scheduling the same key again moves it (and the
one claimed meanwhile is not lost, see `generation`), cancelling removes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conversation.model import new_id

TIMER_LEASE = timedelta(minutes=2)  # a claimed timer goes to another hub this long after its hub went silent
MAX_TIMER_ATTEMPTS = 5  # a timer whose plugin fails this many times is dropped (logged)


@dataclass(frozen=True)
class Timer:
    key: str  # "<plugin>:<the plugin's key>": unique per plugin
    plugin: str
    name: str
    due_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    conversation_id: str = ""  # the ticket it was scheduled from, if any
    # A fresh id each time the key is (re)scheduled: finishing a fired timer removes it only
    # if it was not scheduled again meanwhile (a plugin re-arming itself from on_timer).
    generation: str = field(default_factory=new_id)
    attempts: int = 0  # claims so far, this one included


def timer_key(plugin: str, key: str) -> str:
    return f"{plugin}:{key}"


def retry_delay(attempts: int) -> timedelta:
    """After a failed `on_timer`: 30 s, 1 min, 2 min, ... (at most an hour)."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))
