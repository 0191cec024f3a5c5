"""An access log that never writes secrets and cannot be forged.

aiohttp's default line holds the whole request line, query string included, and the
web chat's visitor tokens travel in the query (WebSockets cannot carry headers from a
browser). This logger writes the path alone, as it came on the wire (still
percent-encoded): a decoded `%0A` would start a fake log line of the sender's choosing.
Anything else unprintable is escaped too.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from hub.clientaddr import client_address

UNPRINTABLE = re.compile(r"[^\x21-\x7e]|[\"\\]")  # controls, spaces, DEL, non-ASCII; quotes end the field


# Paths that are credentials themselves: a status page's signed token lets whoever holds it
# read and answer the ticket for weeks, so the log keeps the route, never the token.
SECRET_PATHS = re.compile(r"^(/status/)[^/]+")


def loggable_path(request: web.BaseRequest) -> str:
    """The request's path without its query or path secrets, percent-encoded, safe on one log line."""
    path = SECRET_PATHS.sub(r"\1[token]", request.rel_url.raw_path)
    return UNPRINTABLE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), path)


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a duplicate Content-Type, a bad header line)
    as an ERROR with a traceback, though the client already got its 400: the fault is the
    client's, not the hub's. Such a record becomes one INFO line without the traceback, so
    an alert on ERROR lines fires for the hub's faults only."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= error.code < 500:
            record.levelno, record.levelname = logging.INFO, "INFO"
            # The reason's first line only: aiohttp goes on to quote the request line, which
            # holds the query string (an unencoded search, a visitor token) the log never keeps.
            reason = str(error.message).strip().split("\n", 1)[0].rstrip(": ")
            record.msg, record.args = "%s: %s", (record.getMessage(), reason)
            record.exc_info = record.exc_text = None
        return True


MALFORMED_REQUESTS = MalformedRequestFilter()


class SafeAccessLogger(AbstractAccessLogger):
    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)
        server_log = logging.getLogger("aiohttp.server")
        if MALFORMED_REQUESTS not in server_log.filters:
            server_log.addFilter(MALFORMED_REQUESTS)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %.1fms',
            client_address(request),
            request.method,
            loggable_path(request),  # never the query string
            response.status,
            time * 1000,
        )
