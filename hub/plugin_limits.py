"""A time limit on each call into a plugin (a message, a timer, an event).

A handler that never returns would otherwise hold its ticket (the next messages wait and go
to recovery), stop every plugin's timers behind it (they fire one after another), or keep a
task until shutdown, with nothing said. A call past `[plugins] timeout_seconds` is stopped
and raises PluginTimedOut, which the callers log and count as a plugin's failure (its
`helpline_plugin_errors_total`), counted in `helpline_plugin_timeouts_total` too. A timer's
call is held to half its lease at most (`timer_limit`), so the next hub does not fire it
again while it runs; the platform's retries of a stored side effect are not limited here
(the platform client bounds each call, and the retry must end in a done or failed report).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from hub.metrics import Metrics

T = TypeVar("T")

# Above a platform call's worst case with its default settings (3 attempts of 10 s, 2 waits of
# at most 30 s for a Retry-After: 90 s): a hang, not a slow platform, is what it stops. A
# message's run keeps its ticket's lease while it lasts (pipeline._keep_lease).
DEFAULT_TIMEOUT_SECONDS = 120.0
MAX_TIMEOUT_SECONDS = 600.0


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


def timer_limit(seconds: float, lease_seconds: float) -> float:
    """A timer's call: `[plugins] timeout_seconds`, at most half the timer's lease."""
    return min(seconds, lease_seconds / 2)
