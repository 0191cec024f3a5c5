"""Best-effort steps that may fail without stopping what runs around them, but never silently."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def logged_failure(log: logging.Logger, what: str) -> Iterator[None]:
    """Like `contextlib.suppress(Exception)`, except that the failure is logged with its
    traceback: a best-effort step (closing a client, releasing a lease on shutdown) must
    not stop the rest, and an operator must still be able to see that it failed."""
    try:
        yield
    except Exception:
        log.warning("%s failed", what, exc_info=True)
