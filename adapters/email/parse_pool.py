"""Reading mail off the event loop: worker processes with a time budget per mail.

Parsing is CPU work whose cost depends on what a stranger sends (MIME trees, charset
detection, reply heuristics, HTML sanitising); on the event loop one crafted mail would
stall every web request, chat and delivery of the hub. In a worker process it cannot,
and a mail that takes longer than the budget has its worker killed (pebble replaces
it), so the next mail is read at once.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import CancelledError as FutureCancelled

from pebble import ProcessExpired, ProcessPool

from adapters.email.parse import ParsedMail, UnreadableMail, parse

log = logging.getLogger(__name__)


def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has the parser loaded: started in
    milliseconds, and never a fork of the hub itself, whose threads (store, DNS) hold
    locks a fork would copy."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["adapters.email.parse"])
    return context


class ParseFailed(Exception):
    """The mail could not be read within the budget (or its worker died); why, for people."""


class MailReader:
    """Parses mail in worker processes, each mail within `budget_seconds`."""

    def __init__(self, *, workers: int, budget_seconds: float) -> None:
        self.workers = workers
        self.budget_seconds = budget_seconds
        self._pool: ProcessPool | None = None
        self._starting = threading.Lock()

    def _started(self) -> ProcessPool:
        """The pool, started on first use (in a thread: starting processes blocks)."""
        with self._starting:
            if self._pool is None or not self._pool.active:
                self._pool = ProcessPool(max_workers=self.workers, context=_context())
            return self._pool

    async def parse(
        self, raw: bytes, *, max_attachment_bytes: int, attachment_types: Sequence[str] | None
    ) -> ParsedMail:
        """The parsed mail; UnreadableMail if it has no sender, ParseFailed if it could not
        be read within the budget."""
        pool = self._pool if self._pool is not None and self._pool.active else await asyncio.to_thread(self._started)
        future = pool.schedule(
            parse,
            args=(raw,),
            kwargs={"max_attachment_bytes": max_attachment_bytes, "attachment_types": attachment_types},
            timeout=self.budget_seconds,
        )
        try:
            return await asyncio.wrap_future(future)
        except UnreadableMail:
            raise
        except RecursionError:  # the stdlib's MIME parser recurses: unreadable mail, not a bug
            raise ParseFailed("its MIME parts are nested too deeply to read") from None
        except TimeoutError:
            raise ParseFailed(f"it could not be read within {self.budget_seconds:g} s") from None
        except (ProcessExpired, FutureCancelled) as exc:
            raise ParseFailed(f"its reader stopped ({exc.__class__.__name__})") from None
        except Exception as exc:  # a bug in a parser: the mail is still kept, unread
            log.exception("reading a mail failed")
            raise ParseFailed(f"reading it failed ({exc.__class__.__name__})") from None

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.stop()
            await asyncio.to_thread(pool.join, 5)
