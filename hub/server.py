"""The HTTP server around the application: read deadlines for slow clients, and a drain
on shutdown that answers new requests 503 while the ones in flight finish.

aiohttp closes a connection that has not sent a complete request head within its
`keepalive_timeout`, counted from when the connection opened or its previous response
ended; that is the header deadline (`hub.header_timeout_seconds`). It has no deadline for
a body that arrives a byte at a time, so `body_deadline` gives each request one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub.accesslog import SafeAccessLogger
from hub.app_keys import HUB

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Drain:
    """Counts requests in flight; once draining, new requests are refused."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    async def drain(self, grace: float) -> None:
        """Refuse new requests and wait (up to `grace` seconds) for those in flight."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace)
        except TimeoutError:
            log.warning("shutdown: %d request(s) still running after %gs; they are cut off", self.in_flight, grace)


DRAIN: web.AppKey[Drain] = web.AppKey("drain", Drain)


@web.middleware
async def drain_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    drain = request.config_dict[DRAIN]
    if drain.draining:
        response = web.json_response(
            {"error": "unavailable", "message": "the hub is shutting down; retry shortly"},
            status=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
        response.force_close()  # the client reconnects, to this hub once it is back or to another
        return response
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await handler(request)  # lives until closed; shutdown closes it rather than waiting for it
    drain.enter()
    try:
        return await handler(request)
    finally:
        drain.leave()


@web.middleware
async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The whole body must arrive within `hub.body_timeout_seconds` of the request head.

    When it does not, whoever is reading it gets 408 and the connection is closed after
    the answer, so a client sending a byte now and then cannot hold a connection open.
    """
    content = request.content
    if not request.body_exists or content.is_eof():
        return await handler(request)
    limit = request.config_dict[HUB].config.hub.body_timeout_seconds
    expired = False

    def expire() -> None:
        nonlocal expired
        if not content.is_eof():
            expired = True
            content.set_exception(web.HTTPRequestTimeout(text=f"the request body did not arrive within {limit:g}s"))

    timer = asyncio.get_running_loop().call_later(limit, expire)
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        return response
    finally:
        timer.cancel()
        if expired:
            if response is not None:
                response.force_close()
            # aiohttp drains an unread body after the answer; a timeout ends that at once.
            content.set_exception(TimeoutError())


class CannotListen(Exception):
    """The hub could not open its port (`helpline serve` says so in one line and exits 2)."""


def make_runner(app: web.Application) -> web.AppRunner:
    settings = app[HUB].config.hub
    return web.AppRunner(
        app,
        shutdown_timeout=settings.shutdown_grace_seconds,
        keepalive_timeout=settings.header_timeout_seconds,  # the header deadline (see above)
        handle_signals=False,
        access_log_class=SafeAccessLogger,
    )


async def serve(
    app: web.Application, host: str, port: int, stop: asyncio.Event, *, on_listening: Callable[[], Any] | None = None
) -> None:
    """Serve until `stop` is set; then drain, and shut the application down."""
    runner = make_runner(app)
    # Starts the hub: StoreUnavailable propagates (a channel that cannot start is degraded, not fatal).
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:  # the port taken, or an address this machine does not have
            raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        if on_listening is not None:
            on_listening()
        await stop.wait()
        log.info("shutting down: new requests get 503 while those in flight finish")
        await app[DRAIN].drain(app[HUB].config.hub.shutdown_grace_seconds)
    finally:
        await runner.cleanup()
    log.info("stopped: the store is closed")  # an operator sees the shutdown completed, not just began
