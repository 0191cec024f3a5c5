"""Prometheus metrics, one registry per hub (no process-global state)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from conversation.business_time import ALWAYS_OPEN, business_time_between
from conversation.faq_bot import ANSWER_KIND, stats_by_article
from conversation.faq_bot import PLUGIN as FAQ_PLUGIN
from conversation.model import ConversationQuery, Status
from conversation.presence import PresenceRules, presence_of
from conversation.records import RecordQuery
from conversation.store import Store

if TYPE_CHECKING:
    from hub.services.routing import RoutingService

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ingested = Counter(
            "helpline_messages_ingested", "Customer messages stored", ["channel"], registry=self.registry
        )
        self.duplicates = Counter(
            "helpline_messages_duplicate",
            "Inbound retries recognised and not stored again",
            ["channel"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "helpline_messages_rejected", "Inbound messages refused as invalid", ["channel"], registry=self.registry
        )
        self.refused = Counter(
            "helpline_requests_refused",
            "Channel requests answered 4xx before any message was read from them (bad signature, malformed body)",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.delivered = Counter(
            "helpline_deliveries_sent", "Outbound messages the channel accepted", ["channel"], registry=self.registry
        )
        self.retried = Counter(
            "helpline_deliveries_retried", "Delivery attempts that will be retried", ["channel"], registry=self.registry
        )
        self.failed = Counter(
            "helpline_deliveries_failed", "Outbound messages given up on", ["channel"], registry=self.registry
        )
        self.withheld = Counter(
            "helpline_auto_replies_withheld",
            "Bot messages not sent on purpose (an email channel's max_auto_replies_per_hour), not counted as failed",
            ["channel"],
            registry=self.registry,
        )
        self.plugin_errors = Counter(
            "helpline_plugin_errors", "Plugin runs that raised", ["plugin"], registry=self.registry
        )
        self.plugin_timeouts = Counter(
            "helpline_plugin_timeouts",
            "Plugin calls stopped after [plugins] timeout_seconds (counted in helpline_plugin_errors too)",
            ["plugin"],
            registry=self.registry,
        )
        self.plugins_deferred = Counter(
            "helpline_plugin_runs_deferred",
            "Messages whose plugins were left for recovery because the plugin pool was full",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "helpline_outbox_queue_depth", "Outbound messages waiting to be delivered", registry=self.registry
        )
        self.ignored = Counter(
            "helpline_updates_ignored",
            "Channel updates acknowledged without storing a message (service messages, unknown or broken updates)",
            ["channel", "kind"],
            registry=self.registry,
        )
        self.channel_sending = Gauge(
            "helpline_channel_sending",
            "0 when no reply on the channel has got through for a minute or more (this hub's attempts)",
            ["channel"],
            registry=self.registry,
        )
        self.channel_up = Gauge(
            "helpline_channel_up",
            "1 when the channel is started and its provider answers",
            ["channel"],
            registry=self.registry,
        )
        self.store_up = Gauge("helpline_store_up", "1 when the database answers", registry=self.registry)
        self.sla_breaches = Counter(
            "helpline_sla_breaches",
            "SLA targets missed (counted once, by the hub that fired the step)",
            ["team", "clock", "policy"],
            registry=self.registry,
        )
        self.team_queue_depth = Gauge(
            "helpline_team_queue_depth", "Open unassigned tickets per team", ["team"], registry=self.registry
        )
        self.team_oldest_wait = Gauge(
            "helpline_team_oldest_wait_seconds",
            "How long the longest-waiting unassigned open ticket of the team has waited (wall time)",
            ["team"],
            registry=self.registry,
        )
        self.team_agents_online = Gauge(
            "helpline_team_agents_online",
            "Agents online now per team (its members and the agents on its roster), in every hub process",
            ["team"],
            registry=self.registry,
        )
        self.team_agents_on_shift = Gauge(
            "helpline_team_agents_on_shift",
            "Agents routing may give the team's tickets now: online and on shift (or paged-in backup); "
            "a team without a roster counts its online members",
            ["team"],
            registry=self.registry,
        )
        self.team_oldest_wait_business = Gauge(
            "helpline_team_oldest_wait_business_seconds",
            "The team's longest wait counted in its calendar's open hours only (no growth while closed)",
            ["team"],
            registry=self.registry,
        )
        self.webhook_attempts = Counter(
            "helpline_webhook_attempts",
            "Webhook delivery attempts by outcome (sent, retrying, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.platform_calls = Counter(
            "helpline_platform_calls",
            "Calls of the platform API by operation and outcome (ok, not_found, refused, unavailable, bad_answer)",
            ["operation", "outcome"],
            registry=self.registry,
        )

        self.faq_answers = Gauge(
            "helpline_faq_answers",
            "The FAQ bot's answers per article by outcome (asked, deflected, helpful, not_helpful, unconfirmed,"
            " reopened),"
            " counted from its records (the same in every hub process)",
            ["article", "outcome"],
            registry=self.registry,
        )
        self.faq_matcher = Gauge(
            "helpline_faq_matcher",
            "1 for the FAQ model this hub process answers with now (none: not trained; ngram-svm while a"
            " first training of another runs, or after it failed)",
            ["model"],
            registry=self.registry,
        )
        self.faq_matcher_failures = Counter(
            "helpline_faq_matcher_failures",
            "Trainings and questions the FAQ model raised on in this hub process (logged with their"
            " traceback; the n-grams answered instead, or the question matched nothing)",
            ["stage"],
            registry=self.registry,
        )
        self._faq_failures_counted = {"training": 0, "question": 0}
        for stage in self._faq_failures_counted:
            self.faq_matcher_failures.labels(stage)  # 0 from the start: an alert's rate() sees the first one
        self.faq_deflection = Gauge(
            "helpline_faq_deflection_ratio",
            "Share of the FAQ bot's answers with an article that resolved their ticket without a person",
            ["article"],
            registry=self.registry,
        )
        self.faq_not_helpful = Gauge(
            "helpline_faq_not_helpful_ratio",
            "Share of the FAQ bot's answers with an article that the customer said did not help",
            ["article"],
            registry=self.registry,
        )

    def set_faq_matcher(self, model: str, failed_trainings: int, failed_questions: int) -> None:
        """What this process answers with now, and how often its model failed since it started."""
        self.faq_matcher.clear()
        self.faq_matcher.labels(model or "none").set(1)
        # The model keeps counting since the process started; the counter takes what is new.
        for stage, failed in (("training", failed_trainings), ("question", failed_questions)):
            new = failed - self._faq_failures_counted[stage]
            if new > 0:
                self.faq_matcher_failures.labels(stage).inc(new)
                self._faq_failures_counted[stage] = failed

    def set_faq(self, counts: Mapping[tuple[object, str], int]) -> None:
        """The bot's answers counted by (article, outcome), as `faq_counts` reads them."""
        for gauge in (self.faq_answers, self.faq_deflection, self.faq_not_helpful):
            gauge.clear()
        for (article, outcome), count in counts.items():
            self.faq_answers.labels(str(article), outcome).set(count)
        for article, stats in stats_by_article(dict(counts)).items():
            self.faq_deflection.labels(article).set(stats.deflection_rate)
            self.faq_not_helpful.labels(article).set(stats.not_helpful_rate)

    def set_team_queues(self, queues: Mapping[str, tuple[int, float]]) -> None:
        """Per team: (queue depth, oldest wait in seconds); a team whose queue drained drops to 0."""
        for gauge in (self.team_queue_depth, self.team_oldest_wait):
            gauge.clear()
        for team, (depth, oldest) in queues.items():
            self.team_queue_depth.labels(team).set(depth)
            self.team_oldest_wait.labels(team).set(oldest)

    def set_team_online(self, online: Mapping[str, int]) -> None:
        self.team_agents_online.clear()
        for team, count in online.items():
            self.team_agents_online.labels(team).set(count)

    def set_team_duty(self, on_shift: Mapping[str, int], business_wait: Mapping[str, float]) -> None:
        """Per team: agents routable now, and the oldest wait in business time."""
        for gauge, values in ((self.team_agents_on_shift, on_shift), (self.team_oldest_wait_business, business_wait)):
            gauge.clear()
            for team, value in values.items():
                gauge.labels(team).set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)


QUEUE_SCAN = 1000  # unassigned open tickets looked at per scrape (the inbox lists count to 1,000 too)


async def team_queues(store: Store, now: datetime) -> dict[str, tuple[int, float]]:
    """Unassigned open tickets per team ("" for none): how many, and the oldest one's wait since
    the customer last wrote (or since it was opened)."""
    waiting, _ = await store.inbox.list_conversations(
        ConversationQuery(status=Status.OPEN, assignee_id="", limit=QUEUE_SCAN)
    )
    queues: dict[str, tuple[int, float]] = {team.id: (0, 0.0) for team in await store.desk.list_teams()}
    for conv in waiting:
        depth, oldest = queues.get(conv.team, (0, 0.0))
        since = conv.last_inbound_at or conv.created_at
        queues[conv.team] = (depth + 1, max(oldest, (now - since).total_seconds()))
    return queues


async def team_agents_online(store: Store, now: datetime, rules: PresenceRules) -> dict[str, int]:
    """Per team: its active agents (members, or named on its roster) who are online now."""
    presence = {record.agent_id: record for record in await store.roster.list_presence()}
    online = {
        agent.id
        for agent in await store.accounts.list_agents()
        if agent.active and presence_of(presence.get(agent.id), now, rules) == "online"
    }
    counts: dict[str, int] = {}
    for team in await store.desk.list_teams():
        rostered = {a for entry in await store.roster.list_entries(team.id) for a in entry.agents}
        counts[team.id] = len(online & ({*team.members} | rostered))
    return counts


async def team_oldest_business_wait(store: Store, now: datetime) -> dict[str, float]:
    """Per team: the longest wait of its unassigned open tickets counted only in the team
    calendar's open hours (a team without a calendar is always open: wall time)."""
    waiting, _ = await store.inbox.list_conversations(
        ConversationQuery(status=Status.OPEN, assignee_id="", limit=QUEUE_SCAN)
    )
    calendars = await store.calendars.list_calendars()
    oldest: dict[str, float] = {team.id: 0.0 for team in await store.desk.list_teams()}
    for conv in waiting:
        since = conv.last_inbound_at or conv.created_at
        calendar = calendars.get(conv.team, ALWAYS_OPEN)
        waited = business_time_between(calendar, since, now).total_seconds() if since < now else 0.0
        oldest[conv.team] = max(oldest.get(conv.team, 0.0), waited)
    return oldest


async def team_agents_on_shift(routing: RoutingService) -> dict[str, int]:
    """Per team: the agents routing may give its tickets now (on shift or paged-in backup, online)."""
    counts: dict[str, int] = {}
    for team in await routing.store.desk.list_teams():
        candidates = await routing.candidates(team.id)
        counts[team.id] = sum(1 for c in candidates if (c.on_shift or c.backup_called) and c.presence == "online")
    return counts


async def faq_counts(store: Store, article_id: str = "") -> dict[tuple[object, str], int]:
    """The FAQ bot's answer records (of one article, or all) counted by (article id, outcome)."""
    filters = {"article_id": article_id} if article_id else {}
    return await store.records.count_records(RecordQuery(FAQ_PLUGIN, ANSWER_KIND, filters), "article_id")
