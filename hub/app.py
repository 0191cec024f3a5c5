"""Assembles one hub: store, pipeline, outbox, adapters and the aiohttp application.

Start-up and shutdown live in one `cleanup_ctx` so their order is plain to read:
open the store, create the first admin, start the outbox and the adapters; and on
the way down stop taking messages, let in-flight work finish or release it, stop the
adapters, close the store.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import os
import socket
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler, Middleware

from conversation.assignment import Weights
from conversation.inbound import Inbound
from conversation.model import Message
from conversation.presence import PresenceRules
from conversation.store import InboundRecord, Store, StoreUnavailable, open_store
from hub.access import AccessPolicy
from hub.agents import ensure_admin
from hub.api.auth import Authenticator
from hub.api.framework import internal_error
from hub.api.live import Presence
from hub.app_keys import AUTH, HUB, SERVICES
from hub.blobs import open_blobs
from hub.callbacks_due import raise_due_step
from hub.channel_port import ChannelPort
from hub.channels import ChannelSupervisor
from hub.clientaddr import FORWARDED_HEADER, TRUSTED_PROXIES
from hub.config import Config
from hub.events import Event, EventBus
from hub.failures import logged_failure
from hub.help_centre import build_help_centre, to_help_centre
from hub.i18n_web import add_routes as add_catalog_routes
from hub.i18n_web import localized_errors
from hub.knowledge_model import KnowledgeModel, matcher_factory, stand_in_factory
from hub.metrics import (
    CONTENT_TYPE,
    Metrics,
    faq_counts,
    team_agents_on_shift,
    team_agents_online,
    team_oldest_business_wait,
    team_queues,
)
from hub.outbox import Outbox
from hub.pipeline import Pipeline
from hub.platform import PlatformClient
from hub.plugin_host import PluginHost
from hub.privacy import SecretsGuard
from hub.redact import install_log_redaction
from hub.relay import Relay
from hub.reply_guard import ReplyGuard
from hub.report_facts import ReportFacts
from hub.report_mail import DailyReport, Sender
from hub.reports import ReportService
from hub.routing_loop import follow, sweep_step
from hub.sdk import Adapter, ConfigError, Plugin
from hub.server import DRAIN, Drain, body_deadline, drain_guard
from hub.services import Services
from hub.services.routing import RoutingRules
from hub.sla import SlaEngine
from hub.snooze import wake_loop_step
from hub.status_links import StatusLinks, master_key
from hub.status_page import build_status_page
from hub.supervise import Supervisor
from hub.webhooks import WebhookDispatcher, WebhookSender, prune_step

log = logging.getLogger(__name__)

RECOVERY_INTERVAL = 60.0
FIRST_TRAINING_WAIT = 60.0  # at most, before the first recovery round runs the bots anyway
NOT_STARTED_RETRY_AFTER = 30  # seconds; a channel's first start retry comes within a few


class Hub(ChannelPort):
    """One running hub process. Adapters see it through the HubPort protocol."""

    def __init__(
        self,
        config: Config,
        *,
        store: Store | None = None,
        on_first_admin: Callable[[str, str], None] | None = None,
    ) -> None:
        self.config = config
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.language = config.hub.language
        self.timezone = config.reports.timezone  # the desk's own zone: times told without a team calendar
        self.secrets = SecretsGuard(self.language, warn=config.privacy.warn_customers)  # [privacy]
        install_log_redaction()  # customers' secrets out of every log record, libraries' too
        self.store = store or open_store(
            config.storage.url, data_dir=config.data_dir, timeout=config.storage.timeout_seconds
        )
        self.metrics = Metrics()
        self.bus = EventBus()
        # Several processes on one store: live events cross between them (hub/relay.py).
        self.relay = (
            Relay(
                self.store,
                self.bus,
                self.instance_id,
                lapse=timedelta(seconds=config.storage.hub_lapse_seconds),
            )
            if self.store.cluster.shared
            else None
        )
        if self.relay is not None:
            self.bus.forward = self.relay.forward
        self.adapters: dict[str, Adapter] = {
            channel.name: channel.adapter_class(channel.name, channel.settings) for channel in config.channels
        }
        for channel in self.adapters:  # export zeros, so a rate can be taken from the start
            for counter in (self.metrics.ingested, self.metrics.delivered, self.metrics.failed, self.metrics.withheld):
                counter.labels(channel)
        self.channels = ChannelSupervisor(self.adapters, self.metrics)
        self.plugins: list[Plugin] = [p.plugin_class(p.name, p.settings) for p in config.plugins]
        self.supervisor = Supervisor()  # every background loop runs under it; /healthz reports it
        self.webhook_sender = WebhookSender(self.store, config.webhooks, metrics=self.metrics)  # an outbox queue
        self.outbox = Outbox(
            self.store,
            self.adapters,
            self.metrics,
            config.outbox,
            owner=self.instance_id,
            supervisor=self.supervisor,
            on_outcome=self._delivery_changed,
            on_failed=self._reply_failed,
            queues=[self.webhook_sender],
        )
        self.services = Services.build(
            self.store,
            self.bus,
            self.outbox.wake,
            language=self.language,
            phone_region=config.hotline.default_region,
            missed_callback=timedelta(minutes=config.hotline.missed_callback_minutes),
            ticketing=config.ticketing,
            limits=config.inbound_limits,
            webhook_destinations=(config.webhooks.allow_http, config.webhooks.allow_private_destinations),
            **routing_settings(config),
            channel_types={c.name: c.type or c.name for c in config.channels},
            owner=self.instance_id,
        )
        self.webhooks = WebhookDispatcher(self.store, self.bus, self.outbox.wake)
        # The FAQ matcher ([knowledge] model), retrained when articles change
        self.knowledge = KnowledgeModel(
            self.store, matcher=matcher_factory(config.knowledge), stand_in=stand_in_factory(config.knowledge)
        )
        self.services.knowledge.saved = self.knowledge.changed
        self.services.learning.match = self.knowledge.match  # proposals name the best-matching article
        self.services.learning.enabled = config.knowledge.learn_from_resolved
        self.services.learning.order_numbers = config.knowledge.order_number_pattern
        self._webhook_loop: asyncio.Task[None] | None = None
        self.services.webhooks.subscriptions_changed = self.webhooks.subscriptions_changed
        self.actions = self.services.conversations  # what plugins act through (hub.sdk.ConversationActions)
        self.actions.receive_only = frozenset(name for name, a in self.adapters.items() if not a.sends_replies)
        self.actions.default_team = config.routing.default_team
        try:  # records, timers and ticket events of the plugins
            self.plugin_host = PluginHost(
                self.store,
                self.services.records,
                self.actions,
                self.metrics,
                self.plugins,
                instance_id=self.instance_id,
                clock=lambda: self.actions.clock(),
                language=self.language,
                port=self,
                platform=self._platform_client(config),
                surveys=self.services.quality,
                plugin_timeout=config.plugin_pool.timeout_seconds,
            )
        except ValueError as exc:  # a plugin's record kinds or events are declared wrong
            raise ConfigError(f"plugins: {exc}") from None
        self.actions.ticket_listener = self.plugin_host.ticket_changed
        self.actions.resolve_guard = self.plugin_host.resolve_refusal
        self.reply_guard = ReplyGuard(self.store, self.instance_id, lambda: self.actions.clock())
        self.status_links: StatusLinks | None = None  # made at start when [status_page] is on (its key may be stored)
        self.pipeline = Pipeline(
            self.store,
            self.bus,
            self.metrics,
            self.actions,
            self.plugins,
            limits=config.inbound_limits,
            ticketing=config.ticketing,
            tier_priorities=config.desk.tier_priorities,
            instance_id=self.instance_id,
            concurrency=config.plugin_pool.concurrency,
            backlog=config.plugin_pool.backlog,
            plugin_timeout=config.plugin_pool.timeout_seconds,
            language=config.hub.language,
            runtime=self.plugin_host,
            port=self,
            secrets=self.secrets,
            codes=self.plugin_host.codes,
        )
        self.sla = SlaEngine(
            self.store,
            self.bus,
            self.actions,
            config.sla.rules,
            routing=self.services.routing,
            owner=self.instance_id,
            on_breach=lambda team, clock, policy: self.metrics.sla_breaches.labels(team, clock, policy).inc(),
        )
        self.report_facts = ReportFacts(self.store, self.bus, config.sla.rules, lambda: self.actions.clock())
        self.reports = ReportService(self.store, clock=lambda: self.actions.clock())
        self.daily_report = DailyReport(
            self.store,
            self.reports,
            self._report_sender(),
            recipients=config.reports.daily_to,
            timezone=config.reports.timezone,
            at=config.reports.daily_at,
            language=config.reports.daily_language or config.hub.language,
            link=f"{config.hub.public_url.rstrip('/')}/inbox/#/reports" if config.hub.public_url else "",
            owner=self.instance_id,
            clock=lambda: self.actions.clock(),  # one clock with the services (tests move it)
        )
        self.on_first_admin = on_first_admin
        self.blobs = open_blobs(  # beside the store: files by the embedded one, GridFS in MongoDB
            config.storage.url, data_dir=config.data_dir, timeout=config.storage.timeout_seconds
        )
        self.inbound_limits = config.inbound_limits
        self.presence = Presence()
        self.shared_online = 0  # agents online in every hub process, refreshed by the routing sweep
        # who may see and change which ticket (hub/access.py)
        self.access = AccessPolicy(no_team_visible_to=config.desk.no_team_visible_to)
        self.live_sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._background: list[asyncio.Task[None]] = []
        self._left_before: datetime | None = None  # see start()

    # -- HubPort ------------------------------------------------------------------
    async def ingest(self, inbound: Inbound) -> InboundRecord:
        return await self.pipeline.ingest(inbound)

    def agents_online(self) -> int:
        # Inboxes open here, or anywhere as of the last routing sweep (presence is in the store).
        return max(len(self.presence.online()), self.shared_online)

    def report_channel(self, channel: str, *, up: bool, reason: str = "") -> None:
        self.channels.report(channel, up=up, reason=reason)

    def note_ignored(self, channel: str, kind: str) -> None:
        self.metrics.ignored.labels(channel, kind).inc()

    def note_refused(self, channel: str, reason: str) -> None:
        self.metrics.refused.labels(channel, reason).inc()

    def note_rejected(self, channel: str) -> None:
        self.metrics.rejected.labels(channel).inc()

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        await self.store.open()
        # Messages stored before now whose plugins never ran were left by a stopped process; with
        # the store to itself, the first recovery round takes them at once (not 2 minutes later).
        self._left_before = self.pipeline.clock() if self.store.serves_one_process else None
        await self.store.desk.create_defaults()  # teams and categories, on the first start only
        await self.services.records.ensure_indexes()  # one per query field the plugins' record kinds declare
        page = self.config.status_page
        if page.enabled:
            self.status_links = StatusLinks(
                await master_key(self.store, page.secret),
                lifetime=timedelta(days=page.link_days),
                public_url=self.config.hub.public_url,
            )
        created = await ensure_admin(self.store, self.language)
        if created and self.on_first_admin:
            self.on_first_admin(*created)
        self.outbox.start()
        try:
            # A provider that is down degrades its channel only (retried with backoff);
            # only a configuration error stops the hub.
            await self.channels.start_all(self)
        except ConfigError:  # the operator must fix hub.toml: exit 2 naming the key
            await self.channels.stop()
            for adapter in self.adapters.values():
                with logged_failure(log, f"stopping channel {adapter.name} after a configuration error"):
                    await adapter.stop()
            await self.outbox.stop(0)
            await self.store.close()
            raise
        self._background.append(self.supervisor.run("plugin-recovery", self._recover_once))
        self._background.append(self.supervisor.run("kb-retrain", self.knowledge.watch_step))
        self._webhook_loop = self.supervisor.run("webhooks", self.webhooks.step)
        keep_days = self.config.webhooks.keep_days
        self._background.append(self.supervisor.run("webhook-log", lambda: prune_step(self.store, keep_days)))
        self._background.append(
            self.supervisor.run("snooze-wake", lambda: wake_loop_step(self.actions, self.instance_id))
        )
        self._background.append(self.supervisor.run("plugin-timers", self.plugin_host.timer_loop_step))
        # their standing timers (a monthly report); the settings naming a team are checked first
        named = {"routing.default_team": self.config.routing.default_team}
        named |= {f"sla.policies.{p.name}.escalate_to_team": p.escalate_to_team for p in self.config.sla.rules}
        await self.plugin_host.start_plugins(named)
        self._background.append(
            self.supervisor.run("callbacks-due", lambda: raise_due_step(self.services.hotline, self.instance_id))
        )
        if self.sla.policies:
            self.sla.start_tracking()
            self._background.append(self.supervisor.run("sla-track", self.sla.track_next))
            check = self.config.sla.check_seconds
            self._background.append(
                self.supervisor.run("sla-escalation", lambda: self.sla.loop_step(self.instance_id, check))
            )
        self.report_facts.start_tracking()
        self._background.append(self.supervisor.run("report-facts", self.report_facts.track_next))
        if self.config.reports.daily_to:
            self._background.append(self.supervisor.run("reports-daily", self.daily_report.step))
        self._background.append(self.supervisor.run("routing-sweep", self._routing_step))
        if self.relay is not None:
            await self.relay.start()
            self._background.append(self.supervisor.run("relay-out", self.relay.write_step))
            self._background.append(self.supervisor.run("relay-in", self.relay.read_step))
            self._background.append(self.supervisor.run("relay-prune", self.relay.prune_step))
            self._background.append(self.supervisor.run("relay-beat", self.relay.beat_step))
        self._background.append(self.supervisor.run("routing-follow", lambda: follow(self.bus, self.services.routing)))
        log.info(
            "hub %s started: store %s, channels %s, plugins %s",
            self.instance_id,
            self.store.url.split("@")[-1],
            ", ".join(self.adapters) or "none",
            ", ".join(p.name for p in self.plugins) or "none",
        )

    def _platform_client(self, config: Config) -> PlatformClient | None:
        if not config.platform.enabled:
            return None
        counted = self.metrics.platform_calls
        return PlatformClient(config.platform, on_call=lambda op, outcome: counted.labels(op, outcome).inc())

    async def _close_platform(self) -> None:
        if self.plugin_host.platform is not None:
            await self.plugin_host.platform.close()

    async def stop(self) -> None:
        """Each stage runs even when an earlier one fails; the store is closed in any case."""
        grace = self.config.hub.shutdown_grace_seconds
        self.pipeline.accepting = False
        stages: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("channel retries", self.channels.stop),
            ("background loops", self._stop_background),
            ("live events", self.relay.flush if self.relay is not None else _nothing),
            ("plugins", lambda: self.pipeline.drain(grace)),
            ("plugin events", lambda: self.plugin_host.settle(grace)),
            ("webhook events", self._stop_webhooks),  # after the plugins: their events are queued too
            ("outbox", lambda: self.outbox.stop(grace)),  # in-flight sends still need their adapters
            ("webhook client", self.webhook_sender.close),
            ("platform client", self._close_platform),
            *((f"channel {name}", adapter.stop) for name, adapter in self.adapters.items()),
            ("FAQ matcher", self.knowledge.close),  # last: a plugin that outlived its grace may still ask
        ]
        try:
            for what, stage in stages:
                try:
                    await stage()
                except Exception:
                    log.exception("shutdown: %s did not stop cleanly", what)
        finally:
            try:
                await self.blobs.close()
            finally:
                await self.store.close()

    async def _stop_background(self) -> None:
        self.knowledge.stop_training()  # its thread outlives the retraining loop's task
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self.sla.stop_tracking()
        self.report_facts.stop_tracking()

    async def _stop_webhooks(self) -> None:
        if self._webhook_loop is not None:
            self._webhook_loop.cancel()
            await asyncio.gather(self._webhook_loop, return_exceptions=True)
        await self.webhooks.drain()

    def _delivery_changed(self, message: Message, status: str) -> None:
        """A reply was delivered, will be retried, or failed: open inboxes update its status."""
        self.bus.publish(
            Event("message.updated", message.conversation_id, {"message_id": message.id, "delivery": status})
        )

    async def _reply_failed(self, message: Message, error: str) -> None:
        await self.services.conversations.reply_failed(message, error)

    async def refresh_online(self) -> None:
        """Count the agents online in every hub process (after a change here, and each sweep)."""
        try:
            states = await self.services.roster.presence()
        except StoreUnavailable:
            return  # the count stays as it was
        self.shared_online = sum(1 for state in states.values() if state == "online")

    def _report_sender(self) -> Sender | None:
        """The daily summary's way out: `[reports] email_channel`, else the first email channel that can send."""
        wanted = self.config.reports.email_channel
        for name, adapter in self.adapters.items():
            sends = getattr(adapter, "send_mail", None)
            if sends is not None and (name == wanted or not wanted) and adapter.sends_replies:
                return sends  # type: ignore[no-any-return]
        if self.config.reports.daily_to:
            log.warning("reports: daily_to is set but no email channel can send it (smtp_host or relay_channel)")
        return None

    async def _routing_step(self) -> None:
        await self.refresh_online()
        await sweep_step(self.services.routing, self.config.routing.sweep_seconds)

    async def _recover_once(self) -> None:
        try:
            if self._left_before is not None:
                # what a stopped hub left is answered as a live message is: by a bot that has
                # learned the knowledge base (before it, the FAQ bot would hand every question on)
                await self.knowledge.answering(FIRST_TRAINING_WAIT)
            rounds = self.pipeline.recovery_rounds
            await self.pipeline.recover(left_before=self._left_before)
            if self.pipeline.recovery_rounds > rounds:  # it held the lease: later rounds wait RECOVERY_AGE
                self._left_before = None
        except StoreUnavailable:
            pass  # the next round will do it
        await asyncio.sleep(RECOVERY_INTERVAL)


async def _nothing() -> None:
    pass


def routing_settings(config: Config) -> dict[str, Any]:
    """What the roster and routing services take from hub.toml's [routing]."""
    section = config.routing
    return {
        "routing": RoutingRules(
            strategy=section.strategy,
            default_team=section.default_team,
            default_capacity=section.default_capacity,
            weights=Weights(chat=section.chat_weight, mail=section.email_weight),
            offline_grace=timedelta(seconds=section.offline_grace_seconds),
            page_coalesce=timedelta(seconds=section.page_coalesce_seconds),
            inbox_url=f"{config.hub.public_url.rstrip('/')}/inbox/" if config.hub.public_url else "",
        ),
        "presence": PresenceRules(idle_away=timedelta(minutes=section.idle_away_minutes)),
        "presence_ttl": timedelta(seconds=section.presence_seconds),
        "timezone": section.timezone,
    }


def tune_gc_for_serving() -> None:
    """Fewer, cheaper garbage collections for a long-running server.

    Objects alive after start-up (modules, config, the app) are moved out of the
    collector's sight, and young collections run less often: measured with
    bench/ingest.py, this cuts the ingest tail latency under load.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def build_app(hub: Hub) -> web.Application:
    app = web.Application(
        client_max_size=hub.config.hub.max_body_bytes,
        middlewares=[drain_guard, body_deadline, localized_errors, json_errors, security_headers],
    )
    app[HUB] = hub
    app[DRAIN] = Drain()
    app[TRUSTED_PROXIES] = tuple(hub.config.hub.trusted_proxies)
    app[FORWARDED_HEADER] = hub.config.hub.forwarded_header
    app[AUTH] = Authenticator(
        hub.store,
        secure_cookies=hub.config.hub.public_url.startswith("https://"),
        public_url=hub.config.hub.public_url,
    )
    app[SERVICES] = hub.services
    hub.services.accounts.credentials_changed = app[AUTH].credentials_changed  # live sockets re-check
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    add_catalog_routes(app)
    app.add_subapp("/api/", build_api(app[AUTH]))
    app.add_subapp("/inbox/", build_inbox())
    if hub.config.status_page.enabled:
        app.add_subapp("/status/", build_status_page())
    app.router.add_get("/help", to_help_centre)  # before the sub-app, which would answer it with a 404
    app.add_subapp("/help/", build_help_centre())  # the public help centre (published articles only)
    for name, adapter in hub.adapters.items():
        sub = adapter.web_app()
        if sub is not None:
            sub.middlewares.append(_until_started(hub, name))
            app.add_subapp(f"/channels/{name}/", sub)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_stop_accepting)
    return app


def _until_started(hub: Hub, channel: str) -> Middleware:
    """A channel whose start() has not completed (its provider unreachable at start, a start
    that raised) answers 503 with Retry-After on its routes: the provider delivers again
    later, where the adapter, half set up, would answer 500."""

    @web.middleware
    async def until_started(request: web.Request, handler: Handler) -> web.StreamResponse:
        if hub.channels.started(channel):
            return await handler(request)
        return web.json_response(
            {"error": "unavailable", "message": f"channel {channel} has not started yet; try again later"},
            status=503,
            headers={"Retry-After": str(NOT_STARTED_RETRY_AFTER)},
        )

    return until_started


def build_api(auth: Authenticator) -> web.Application:
    from hub.api import live  # noqa: F401  (registers the live route)
    from hub.api.routes import api

    sub = web.Application()
    api.mount(sub, auth.authenticate)
    document = api.openapi(prefix="/api")

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    sub.router.add_get("/openapi.json", openapi)
    return sub


def build_inbox() -> web.Application:
    sub = web.Application()
    static = Path(__file__).parent / "static" / "inbox"

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(static / "index.html")

    sub.router.add_get("/", page)
    sub.router.add_static("/assets/", static)
    return sub


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/inbox/"):
        # The inbox runs only its own scripts; customer text can never become code.
        response.headers.setdefault(
            "Content-Security-Policy",
            # Remote images are allowed here only so that an agent can choose to load them in
            # a mail's sandboxed frame, whose own policy blocks them until then; this page
            # itself never puts customer content into an <img>.
            "default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    hub = app[HUB]
    await hub.start()
    yield
    await hub.stop()


async def _stop_accepting(app: web.Application) -> None:
    hub = app[HUB]
    hub.pipeline.accepting = False  # webhooks still arriving get 503 and retry elsewhere
    for ws in tuple(hub.live_sockets):  # browsers reconnect to a hub that is up
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


# Stable codes, independent of the reason phrases aiohttp or Python versions use.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every HTTP error is JSON with a stable code and a readable message; an unexpected
    exception is logged with an id and answered 500 with that id (never a 4xx)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        code = ERROR_CODES.get(exc.status, f"http_{exc.status}")
        return web.json_response(
            {"error": code, "message": exc.text or exc.reason},
            status=exc.status,
            headers={k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")},
        )
    except Exception as exc:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            raise  # the socket may be open already: aiohttp closes it and logs
        return internal_error(request, exc)


async def index(request: web.Request) -> web.Response:
    """People who open the hub's address want the inbox."""
    raise web.HTTPFound("/inbox/")


async def healthz(request: web.Request) -> web.Response:
    """200 or 503 with a status for load balancers. The details (loops, channels and why one
    is down, with provider hosts in the reasons) are for whoever may read /metrics."""
    hub = request.app[HUB]
    store = await store_state(hub)
    store_ok = store == "ok"
    healthy = store_ok and hub.pipeline.accepting and hub.supervisor.healthy
    body: dict[str, object] = {"status": "ok" if healthy else "unhealthy"}
    if metrics_allowed(request.headers.get("Authorization", ""), hub.config.hub.metrics_token):
        body |= {
            "store": store,
            "accepting": hub.pipeline.accepting,
            "loops": hub.supervisor.report(),
            **channel_health(hub),
        }
    return web.json_response(body, status=200 if healthy else 503)


def metrics_allowed(authorization: str, token: str) -> bool:
    """Public without a configured token; otherwise the bearer token, compared in constant time."""
    if not token:
        return True
    scheme, _, sent = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


async def store_state(hub: Hub) -> str:
    """ "ok", "unreachable" (no answer in time) or "not writable" (it answers, but commits fail)."""
    try:
        await asyncio.wait_for(hub.store.ping(), timeout=hub.config.storage.timeout_seconds)
    except (StoreUnavailable, TimeoutError):
        state = "unreachable"
    else:
        state = "not writable" if await hub.store.write_failure() else "ok"
    hub.metrics.store_up.set(1 if state == "ok" else 0)
    return state


def channel_health(hub: Hub) -> dict[str, object]:
    """Each channel's state for /healthz. A degraded channel does not make the hub unhealthy:
    the inbox and the other channels work, and restarting the hub would not bring a provider back."""
    channels = hub.channels.snapshot()
    sending = hub.outbox.sending.report()
    for name, state in channels.items():
        state["sending"] = sending.get(name)  # whether this hub's replies on it get through (None: none sent yet)
    return {
        "channels": channels,
        "channels_degraded": sorted(n for n, c in channels.items() if not c["up"]),
        # started and answering, but no reply has got through for a minute or more (hub/send_health.py)
        "channels_not_delivering": sorted(n for n, s in sending.items() if s["failing"]),
    }


async def metrics(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    if not metrics_allowed(request.headers.get("Authorization", ""), hub.config.hub.metrics_token):
        return web.json_response(
            {"error": "unauthorized", "message": "/metrics needs Authorization: Bearer <hub.metrics_token>"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    # This process's own figures first: they need no store, so an outage does not freeze them.
    trained = hub.knowledge.trained
    hub.metrics.set_faq_matcher(
        trained.name if trained else "", hub.knowledge.failed_trainings, hub.knowledge.failed_predictions
    )
    try:
        hub.metrics.queue_depth.set(await hub.store.deliveries.count_queued())
        hub.metrics.set_team_queues(await team_queues(hub.store, hub.actions.clock()))
        hub.metrics.set_team_online(await team_agents_online(hub.store, hub.actions.clock(), hub.services.roster.rules))
        now = hub.actions.clock()
        hub.metrics.set_team_duty(
            await team_agents_on_shift(hub.services.routing), await team_oldest_business_wait(hub.store, now)
        )
        hub.metrics.set_faq(await faq_counts(hub.store))
        up = not await hub.store.write_failure()  # it answers reads; do its commits still work?
    except StoreUnavailable:
        up = False
    hub.metrics.store_up.set(1 if up else 0)
    return web.Response(body=hub.metrics.render(), headers={"Content-Type": CONTENT_TYPE})
