"""A time limit on each call into a plugin (a message, a timer, an event).

A handler that never returns would otherwise hold its ticket (the next messages wait and go
to recovery), stop every plugin's timers behind it (they fire one after another), or keep a
task until shutdown, with nothing said. A call past `[plugins] timeout_seconds` is stopped
and raises PluginTimedOut, which the callers log and count as a plugin's failure (its
`helpline_plugin_errors_total`), counted in `helpline_plugin_timeouts_total` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from hub.metrics import Metrics

T = TypeVar("T")

# Below the ticket's hold for one plugin run (pipeline.TICKET_LEASE_TTL, a minute), so one
# slow call never outlives the run's claim on its ticket; above a platform call's worst case
# with its default settings (3 attempts of 10 s, 2 delays of 5 s).
DEFAULT_TIMEOUT_SECONDS = 45.0
MAX_TIMEOUT_SECONDS = 50.0


class PluginTimedOut(Exception):
    """A plugin's handler ran longer than `[plugins] timeout_seconds` and was stopped."""


async def within_limit(call: Awaitable[T], *, plugin: str, seconds: float, metrics: Metrics, what: str) -> T:
    """Await one plugin call; stop it after `seconds` (PluginTimedOut). A TimeoutError the
    plugin raises itself (an HTTP client's) stays its own error."""
    limit = asyncio.timeout(seconds)
    try:
        async with limit:
            return await call
    except TimeoutError:
        if not limit.expired():
            raise
        metrics.plugin_timeouts.labels(plugin).inc()
        raise PluginTimedOut(
            f"plugin {plugin} ran longer than {seconds:g} s on {what} and was stopped ([plugins] timeout_seconds)"
        ) from None
