"""An access log that never writes secrets and cannot be forged.

aiohttp's default line holds the whole request line, query string included, and the
web chat's visitor tokens travel in the query (WebSockets cannot carry headers from a
browser). This logger writes the path alone, as it came on the wire (still
percent-encoded): a decoded `%0A` would start a fake log line of the sender's choosing.
Anything else unprintable is escaped too.
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from hub.clientaddr import client_address

UNPRINTABLE = re.compile(r"[^\x21-\x7e]|[\"\\]")  # controls, spaces, DEL, non-ASCII; quotes end the field


# Paths that are credentials themselves: a status page's signed token lets whoever holds it
# read and answer the ticket for weeks, so the log keeps the route, never the token.
SECRET_PATHS = re.compile(r"^(/status/)[^/]+")


def loggable_path(request: web.BaseRequest) -> str:
    """The request's path without its query or path secrets, percent-encoded, safe on one log line."""
    path = SECRET_PATHS.sub(r"\1[token]", request.rel_url.raw_path)
    return UNPRINTABLE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), path)


class SafeAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %.1fms',
            client_address(request),
            request.method,
            loggable_path(request),  # never the query string
            response.status,
            time * 1000,
        )
