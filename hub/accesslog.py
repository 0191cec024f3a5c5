"""An access log that never writes secrets.

aiohttp's default line holds the whole request line, query string included, and the
web chat's visitor tokens travel in the query (WebSockets cannot carry headers from a
browser). This logger writes the path alone.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class SafeAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %.1fms',
            request.remote,
            request.method,
            request.path,  # never the query string
            response.status,
            time * 1000,
        )
