"""What the hub does for plugins outside a customer message: their records, their durable
timers (fired by one hub of many, under a lease) and the ticket changes they subscribe to.

Timers are at least once: a hub claims due timers for TIMER_LEASE, calls `on_timer`, then
removes each timer (only if it was not scheduled again meanwhile). A hub that dies between
the claim and the removal leaves the timer to the next hub once the lease is over, so the
plugin may see a timer twice (`ctx.timer.attempts > 1`): its `on_timer` should make the
hand-off idempotent (check a record's status before acting, use a keyed timer). A plugin
that raises gets the timer again later (backing off), up to MAX_TIMER_ATTEMPTS.

Ticket changes are delivered in the hub that stored them, after the store, each plugin in
its own task: a plugin's error is logged and counted and never reaches the change. So a
change two hubs apply (or one applied twice) is delivered twice, and the same change's
fields concurrently: what a plugin tells the customer goes through `mark_told` (a
compare-and-set loop on its per-ticket record of what it told, `EventContext.tell_once`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from conversation.model import Conversation, utcnow
from conversation.store import Store, StoreUnavailable
from conversation.ticket_changes import EVENT_KINDS, TicketChange, ticket_changes
from conversation.timers import MAX_TIMER_ATTEMPTS, TIMER_LEASE, Timer, retry_delay
from hub.i18n import SOURCE_LOCALE, best_locale
from hub.metrics import Metrics
from hub.platform import PLATFORM_TIMER, PlatformClient
from hub.platform.verification import CodeVerifications
from hub.plugin_limits import DEFAULT_TIMEOUT_SECONDS, timer_limit, within_limit
from hub.sdk import (
    ASK_STATE_KEY,
    ConversationActions,
    EventContext,
    HubPort,
    Plugin,
    ServiceContext,
    SurveyActions,
    TimerContext,
)
from hub.services.records import RecordService
from hub.settings import declared_fields, setting_value
from hub.supervise import log_task_failure
from hub.told import mark_told

log = logging.getLogger(__name__)

TIMER_CHECK_SECONDS = 5.0
TIMER_BATCH = 100
# Compare-and-set rounds `keep_offer` may lose to other writers of the same state.
MAX_OFFER_ATTEMPTS = 10


class PluginHost:
    """The hub side of `hub.sdk.PluginRuntime` (records, timers), plus the timer loop and event delivery."""

    def __init__(
        self,
        store: Store,
        records: RecordService,
        actions: ConversationActions,
        metrics: Metrics,
        plugins: list[Plugin],
        *,
        instance_id: str,
        clock: Callable[[], datetime] = utcnow,
        language: str = SOURCE_LOCALE,
        port: HubPort | None = None,
        platform: PlatformClient | None = None,
        surveys: SurveyActions | None = None,
        plugin_timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.plugin_timeout = plugin_timeout  # one timer's or event's call (hub/plugin_limits.py)
        self._platform = platform  # the platform API's client ([platform]), shared by the plugins
        self.codes = CodeVerifications(store, platform, clock)  # one-time codes through the platform
        self.surveys = surveys  # satisfaction surveys (PluginRuntime.surveys)
        self.store = store
        self.port = port  # what plugins read beyond their ticket (team names, status links)
        self.records = records
        self.actions = actions
        self.metrics = metrics
        self.plugins = {plugin.name: plugin for plugin in plugins}
        self.instance_id = instance_id
        self.clock = clock
        self.language = language
        self._tasks: set[asyncio.Task[None]] = set()
        for plugin in plugins:
            unknown = set(plugin.events) - EVENT_KINDS
            if unknown:
                raise ValueError(
                    f"plugin {plugin.name}: unknown events {sorted(unknown)} (known: {sorted(EVENT_KINDS)})"
                )
            records.register(plugin.name, plugin.record_kinds)

    @property
    def platform(self) -> PlatformClient | None:
        return self._platform

    async def context(self, plugin: Plugin, conversation: Conversation | None) -> ServiceContext:
        """A plugin's context outside a customer message, on `conversation` (or none)."""
        contact = await self.store.contacts.get_contact(conversation.contact_id) if conversation else None
        return ServiceContext(
            plugin=plugin.name,
            conversation=conversation,
            contact=contact,
            settings=plugin.settings,
            actions=self.actions,
            runtime=self,
            language=best_locale(contact.language if contact else "", self.language),
            hub=self.port,
        )

    async def start_plugins(self, team_settings: Mapping[str, str] | None = None) -> None:
        """Each plugin's `on_start`; a failure is logged and counted and does not stop the hub.
        `team_settings`: the hub's own settings that name a team (key -> team id), checked too."""
        try:
            await self.check_team_settings(team_settings)
        except Exception:  # the store briefly away: the check is advice, the hub starts anyway
            log.exception("the plugins' team settings could not be checked")
        for plugin in self.plugins.values():
            try:
                await plugin.on_start(await self.context(plugin, None))
            except Exception:
                self.metrics.plugin_errors.labels(plugin.name).inc()
                log.exception("plugin %s failed to start; its standing timers may be missing", plugin.name)

    ESCALATION = ".escalate_to_team"  # a setting that moves tickets away from their agent

    async def check_team_settings(self, also: Mapping[str, str] | None = None) -> list[str]:
        """Log each plugin setting declared `team=True` (a table: each of its values) that names
        no team: otherwise it shows only when a customer's message first reaches that hand-off.
        Teams are data (the inbox makes them), so a team named before it exists does not stop
        the hub. The keys named, as `plugins.<plugin>.<setting>[.<entry>]`."""
        known = {team.id: team for team in await self.store.desk.list_teams()}
        teams = set(known)
        named = [(key, team) for key, team in (also or {}).items()]
        for plugin in self.plugins.values():
            for name, declared in declared_fields(type(plugin)).items():
                if not declared.team:
                    continue
                value = setting_value(plugin.settings, name, "")
                key = f"plugins.{plugin.name}.{name}"
                entries = value.items() if isinstance(value, Mapping) else [("", value)]
                named += [(f"{key}.{entry}" if entry else key, team) for entry, team in entries]
        wrong = []
        for key, team in named:
            if isinstance(team, str) and team and team not in teams:
                wrong.append(key)
                log.error(
                    "%s: %r is not a team (teams: %s); what uses it fails or is skipped until it is made",
                    key,
                    team,
                    ", ".join(sorted(teams)),
                )
            elif (
                key.endswith(self.ESCALATION)
                and isinstance(team, str)
                and team
                and not known[team].members
                and not known[team].lead
            ):
                # A trial's escalation team had no one: tickets left their agent's list for it. (Only
                # there: a new hub's default teams are empty until agents join them.)
                log.warning(
                    "%s: team %r has no members and no lead yet: tickets sent there wait for an admin or a "
                    "supervisor of it to notice them",
                    key,
                    team,
                )
        return wrong

    async def resolve_refusal(self, conversation: Conversation) -> str:
        """The first plugin's reason this ticket may not be resolved yet ("" when none objects)."""
        for plugin in self.plugins.values():
            if type(plugin).resolve_refusal is Plugin.resolve_refusal:
                continue
            reason = await plugin.resolve_refusal(await self.context(plugin, conversation))
            if reason:
                return reason
        return ""

    # -- timers ----------------------------------------------------------------------------
    async def schedule(self, timer: Timer) -> None:
        await self.store.timers.schedule_timer(timer)

    async def cancel(self, key: str) -> bool:
        return await self.store.timers.cancel_timer(key)

    async def fire_due_timers(self) -> int:
        """Claim the due timers nobody holds and fire them; how many were claimed."""
        claimed_at = self.clock()
        claimed = await self.store.timers.claim_due_timers(
            self.instance_id, now=claimed_at, lease=TIMER_LEASE, limit=TIMER_BATCH
        )
        for index, timer in enumerate(claimed):
            if self.clock() - claimed_at >= TIMER_LEASE / 2:
                # Slow timers before these spent half the batch's lease: one begun now might still
                # run when the lease ends, and another hub would fire it a second time. They are
                # let go at once, for the next round of whichever hub claims them first.
                for rest in claimed[index:]:
                    await self.store.timers.release_timer(rest, self.instance_id)
                log.info("timers: %d let go for the next round (the ones before took long)", len(claimed) - index)
                break
            await self._fire(timer)
        return len(claimed)

    async def _fire(self, timer: Timer) -> None:
        plugin = self.plugins.get(timer.plugin)
        if plugin is None:  # not enabled in this hub: another hub (or a later start) has it
            await self.store.timers.retry_timer(timer, at=self.clock() + TIMER_LEASE)
            return
        conversation = (
            await self.store.tickets.get_conversation(timer.conversation_id) if timer.conversation_id else None
        )
        contact = await self.store.contacts.get_contact(conversation.contact_id) if conversation else None
        ctx = TimerContext(
            plugin=plugin.name,
            timer=timer,
            conversation=conversation,
            contact=contact,
            settings=plugin.settings,
            actions=self.actions,
            runtime=self,
            language=best_locale(contact.language if contact else "", self.language),
            hub=self.port,
        )
        try:

            def bounded(call: Awaitable[None]) -> Awaitable[None]:  # the timers after this one wait for it
                seconds = timer_limit(self.plugin_timeout, TIMER_LEASE.total_seconds())
                return within_limit(
                    call, plugin=plugin.name, seconds=seconds, metrics=self.metrics, what=f"timer {timer.key}"
                )

            if timer.name == PLATFORM_TIMER:  # the call bounded by the platform client; it must report how it ended
                await self._platform_retry(plugin, ctx, bounded)
            else:
                await bounded(plugin.on_timer(ctx))
        except StoreUnavailable:
            raise  # the lease runs out and the timer fires again
        except Exception:
            self.metrics.plugin_errors.labels(plugin.name).inc()
            if timer.attempts >= MAX_TIMER_ATTEMPTS:
                log.exception("plugin %s: timer %s failed %d times; dropped", plugin.name, timer.key, timer.attempts)
                await self.store.timers.finish_timer(timer)
            else:
                log.exception(
                    "plugin %s: timer %s failed (attempt %d); retried later", plugin.name, timer.key, timer.attempts
                )
                await self.store.timers.retry_timer(timer, at=self.clock() + retry_delay(timer.attempts))
            return
        await self.store.timers.finish_timer(timer)

    @staticmethod
    async def _platform_retry(
        plugin: Plugin, ctx: TimerContext, bounded: Callable[[Awaitable[None]], Awaitable[None]]
    ) -> None:
        """A platform side effect stored by `ctx.platform` (hub/platform/tools.py) came due:
        repeat it with its own Idempotency-Key; raises (to be tried later) while the platform
        is unavailable, then tells the plugin how it ended. The call is bounded by the platform
        client; the plugin's own hooks by `bounded` (the timers after this one wait for them)."""
        done = await ctx.platform.resume(ctx.timer)
        if done is None:
            await bounded(plugin.on_platform_failed(ctx, str(ctx.timer.data.get("operation", ""))))
        else:
            await bounded(plugin.on_platform_done(ctx, done))

    async def timer_loop_step(self, interval: float = TIMER_CHECK_SECONDS) -> None:
        """One round of the supervised loop: fire what is due, then wait (at once again after a full batch)."""
        if await self.fire_due_timers() < TIMER_BATCH:
            await asyncio.sleep(interval)

    # -- what plugins told customers ------------------------------------------------------
    async def keep_offer(self, conversation_id: str, plugin: str, offer: dict[str, Any]) -> None:
        """See PluginRuntime.keep_offer: by compare-and-set, so a message's plugin run that
        saves the same state meanwhile loses nothing (one of the two writes is retried)."""
        for _ in range(MAX_OFFER_ATTEMPTS):
            state, version = await self.store.coordination.load_plugin_state(conversation_id, plugin)
            kept = {**state, ASK_STATE_KEY: offer}
            if await self.store.coordination.set_plugin_state(conversation_id, plugin, kept, version=version):
                return
        log.warning(
            "plugin %s: its question's choices on %s were not kept (the state kept changing)", plugin, conversation_id
        )

    async def mark_told(self, conversation_id: str, plugin: str, key: str, mark: str) -> bool:
        """Record `key` told at `mark` on the ticket for `plugin` (see `mark_told`)."""
        return await mark_told(self.store, conversation_id, plugin, key, mark)

    # -- ticket events ---------------------------------------------------------------------
    def ticket_changed(self, before: Conversation, after: Conversation, fields: list[str], told: bool = False) -> None:
        """Called by the conversation service once a change is stored (`told`: TicketChange.told)."""
        changes = ticket_changes(before, after, fields, told=told)
        for change in changes:
            for plugin in self.plugins.values():
                if change.kind in plugin.events:
                    task = asyncio.create_task(self._deliver(plugin, change), name=f"helpline-event-{plugin.name}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    task.add_done_callback(log_task_failure)

    async def _deliver(self, plugin: Plugin, change: TicketChange) -> None:
        try:
            contact = await self.store.contacts.get_contact(change.conversation.contact_id)
            ctx = EventContext(
                plugin=plugin.name,
                change=change,
                conversation=change.conversation,
                contact=contact,
                settings=plugin.settings,
                actions=self.actions,
                runtime=self,
                language=best_locale(contact.language if contact else "", self.language),
                hub=self.port,
            )
            await within_limit(
                plugin.on_event(ctx),
                plugin=plugin.name,
                seconds=self.plugin_timeout,
                metrics=self.metrics,
                what=f"the {change.field} change of ticket #{change.conversation.number}",
            )
        except Exception:
            self.metrics.plugin_errors.labels(plugin.name).inc()
            log.exception(
                "plugin %s failed on the %s change of conversation %s; skipped",
                plugin.name,
                change.field,
                change.conversation.id,
            )

    async def settle(self, timeout: float | None = None) -> None:
        """Wait for the event deliveries under way (tests, and shutdown: those still running
        after `timeout` seconds are cancelled; an event is not kept across a restart)."""
        while self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            if pending:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                log.warning("shutdown: %d plugin event deliveries did not finish in time", len(pending))
                return
