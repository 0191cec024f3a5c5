"""Prometheus metrics, one registry per hub (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

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
        self.plugin_errors = Counter(
            "helpline_plugin_errors", "Plugin runs that raised", ["plugin"], registry=self.registry
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
        self.channel_up = Gauge(
            "helpline_channel_up",
            "1 when the channel is started and its provider answers",
            ["channel"],
            registry=self.registry,
        )
        self.store_up = Gauge("helpline_store_up", "1 when the database answers", registry=self.registry)
        self.webhook_attempts = Counter(
            "helpline_webhook_attempts",
            "Webhook delivery attempts by outcome (sent, retrying, failed)",
            ["outcome"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
