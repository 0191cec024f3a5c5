"""hub.toml validation: every mistake is named by its key, at start."""

from __future__ import annotations

import dataclasses
import re
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from conversation.sqlite import SQLiteStore
from conversation.store import open_store
from hub.config import SECTIONS, load_config, parse_config
from hub.settings import REQUIRED, ConfigError, declared_fields, settings_for

ROOT = Path(__file__).resolve().parent.parent
STRONG = "a-strong-secret-of-32-characters"


def test_the_sample_configuration_is_the_one_init_writes_and_it_is_valid() -> None:
    assert (ROOT / "hub.toml").read_text() == (ROOT / "hub" / "hub.sample.toml").read_text()
    config = load_config(ROOT / "hub.toml")
    assert config.storage.url == "sqlite://" and config.data_dir == ROOT / "data"
    assert [p.name for p in config.plugins] == ["greeting"] and config.channels == []
    store = open_store(config.storage.url, data_dir=config.data_dir)
    assert isinstance(store, SQLiteStore) and store.path == ROOT / "data" / "helpline.sqlite3"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"storage": {"urll": "sqlite://"}}, "storage.urll: unknown key"),
        ({"hub": {"port": "8080"}}, "hub.port: expected integer, got str"),
        ({"hub": {"port": True}}, "hub.port: expected integer, got boolean"),
        # TOML's integers are 64-bit; Python's reader takes more (a trial's 10^23 was "valid")
        ({"outbox": {"max_attempts": 10**23}}, "outbox.max_attempts: 100000000000000000000000 is out of range"),
        ({"hub": {"log_level": "loud"}}, "hub.log_level: must be one of"),
        ({"outbox": {"max_attempts": 0}}, "outbox.max_attempts: must be at least 1"),
        ({"tickets": "yes"}, "tickets: expected a table"),
        ({"databases": {}}, "databases: unknown section"),
        ({"channels": {"webhook": {}}}, "channels.webhook.secret: missing"),
        ({"channels": {"webhook": {"secret": 918273645}}}, "channels.webhook.secret: expected string, got int$"),
        ({"channels": {"webhook": {"secret": "  "}}}, "channels.webhook.secret: missing secret"),
        ({"channels": {"webhook": {"secret": "env:HELPLINE_NOT_SET_ANYWHERE"}}}, "environment variable"),
        ({"channels": {"webhook": {"secret": STRONG, "callback": "u"}}}, "channels.webhook.callback: unknown key"),
        ({"channels": {"webhook": {"secret": STRONG, "callback_url": "ftp://x"}}}, "channels.webhook.callback_url"),
        ({"channels": {"webhook": {"secret": "short-secret"}}}, "channels.webhook.secret: the secret is too short"),
        (
            {"channels": {"webchat": {"secret": STRONG, "sites": {"shop": {"identity_secret": "env:HELPLINE_UNSET"}}}}},
            "channels.webchat.sites.shop.identity_secret: environment variable HELPLINE_UNSET is not set",
        ),
        (
            {"channels": {"webchat": {"secret": STRONG, "sites": {"shop": {"identity": "x"}}}}},
            "channels.webchat.sites.shop.identity: unknown key",
        ),
        (
            {"channels": {"webchat": {"secret": STRONG, "sites": {"shop": "x"}}}},
            "channels.webchat.sites.shop: expected",
        ),
        (
            {"channels": {"slack": {"bot_token": "xoxb-1", "signing_secret": "env:HELPLINE_UNSET"}}},
            "channels.slack.signing_secret: environment variable HELPLINE_UNSET is not set",
        ),
        ({"hub": {"metrics_token": "env:HELPLINE_UNSET"}}, "hub.metrics_token: environment variable HELPLINE_UNSET"),
        ({"channels": {"fax": {}}}, "channels.fax.type: no adapter named 'fax'"),
        ({"channels": {"bad name": {"type": "webhook"}}}, "channels.bad name: a channel name"),
        ({"plugins": {"enabled": ["greeting", "faq9"]}}, "plugins.enabled[1]: no plugin named 'faq9'"),
        ({"plugins": {"enabled": ["greeting", "greeting"]}}, "listed twice"),
        ({"plugins": {"greeting": {"timezone": "Mars/Olympus"}}}, "plugins.greeting.timezone: unknown time zone"),
        ({"plugins": {"greeting": {"hours": "18:00-09:00"}}}, "plugins.greeting.hours"),
        ({"plugins": {"greeting": {"days": ["mon", "caturday"]}}}, "plugins.greeting.days"),
        ({"plugins": {"greeting": {"greeting": "#{ticket}"}}}, "unknown placeholder"),
        ({"plugins": {"greting": {}}}, "plugins.greting: no plugin named"),
    ],
)
def test_invalid_settings_name_the_key_and_the_problem(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(raw)


def test_a_disabled_channel_needs_no_secret_and_a_secret_may_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_config({"channels": {"webhook": {"enabled": False}}}).channels == []
    monkeypatch.setenv("HELPLINE_TEST_SECRET", "from-the-environment")
    config = parse_config({"channels": {"partner": {"type": "webhook", "secret": "env:HELPLINE_TEST_SECRET"}}})
    [channel] = config.channels
    assert (channel.name, channel.settings.secret) == ("partner", "from-the-environment")


def test_an_empty_environment_variable_is_called_empty_not_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_TEST_EMPTY", "")
    with pytest.raises(ConfigError, match="^hub.metrics_token: environment variable HELPLINE_TEST_EMPTY is empty$"):
        parse_config({"hub": {"metrics_token": "env:HELPLINE_TEST_EMPTY"}})


def test_a_telegram_webhook_secret_with_bad_characters_gets_the_readme_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_TEST_TG_SECRET", "not allowed: spaces & signs!")
    telegram = {"token": "123:abc", "mode": "webhook", "webhook_secret": "env:HELPLINE_TEST_TG_SECRET"}
    with pytest.raises(ConfigError) as caught:
        parse_config({"channels": {"telegram": telegram}})
    assert "channels.telegram.webhook_secret: use 16-256 characters A-Z a-z 0-9 _ -" in str(caught.value)
    assert "spaces" not in str(caught.value)  # the secret itself is never shown


def test_invalid_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text("[hub]\nport = \n")
    with pytest.raises(ConfigError, match="not valid TOML.*line 2"):
        load_config(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")


def test_defaults_fill_every_section() -> None:
    config = parse_config({})
    assert config.hub.port == 8080 and config.outbox.max_attempts == 20
    assert config.ticketing.first_number == 1000 and config.ticketing.reopen_window.days == 7
    assert tomllib.loads((ROOT / "hub.toml").read_text())["plugins"]["enabled"] == ["greeting"]


def test_the_hubs_sections_are_typed_frozen_values_made_from_their_declared_fields() -> None:
    """`config.hub.prot` is a type error for mypy and an AttributeError here, never a KeyError
    in a request; a section cannot be changed after it was checked."""
    config = parse_config({"hub": {"port": 9000, "trusted_proxies": ["10.0.0.0/8"]}, "plugins": {"backlog": 5}})
    assert config.hub.port == 9000 and config.plugin_pool.backlog == 5 and config.plugin_pool.enabled == ("greeting",)
    assert [str(n) for n in config.hub.trusted_proxies] == ["10.0.0.0/8"]
    for section in (config.hub, config.storage, config.tickets, config.outbox, config.plugin_pool):
        assert dataclasses.is_dataclass(section)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, dataclasses.fields(section)[0].name, 1)
    with pytest.raises(AttributeError):
        config.hub.prot  # type: ignore[attr-defined]  # noqa: B018
    # one declaration: the validator's fields are the section's attributes, in the same order
    for name, fields in SECTIONS.items():
        section = getattr(config, name)
        assert list(fields) == [f.name for f in dataclasses.fields(section)]
        for key, declared in fields.items():
            if declared.default is not REQUIRED and key != "trusted_proxies":
                default = declared.default
                assert getattr(parse_config({}), name).__getattribute__(key) == (
                    tuple(default) if isinstance(default, list) else default
                )


def test_every_commented_channel_example_in_the_sample_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    text = (ROOT / "hub.toml").read_text()
    for name in set(re.findall(r"env:([A-Z_]+)", text)):
        monkeypatch.setenv(name, "from-the-environment")
    uncommented = "\n".join(
        m.group(1)
        if (
            m := re.match(
                r"^# (\[(?:channels|sla)\..*\]|\[(?:desk|hotline|webhooks|platform|reports)\]|[a-z_]+ = .*)$", line
            )
        )
        else line
        for line in text.splitlines()
    )
    config = parse_config(tomllib.loads(uncommented))
    assert sorted(c.name for c in config.channels) == ["email", "slack", "telegram", "webchat", "webhook"]
    assert [p.name for p in config.sla.rules] == ["urgent", "standard"]  # the SLA example too
    # and the [desk], [hotline] and [webhooks] examples, each read into its own section
    assert config.desk.tier_priorities == {"vip": "high", "gold": "normal"} and "fraud" in config.desk.urgent_keywords
    assert config.hotline.webhook_secret == "from-the-environment"
    assert config.webhooks.max_attempts == 20 and not config.webhooks.allow_private_destinations
    assert config.platform.base_url.startswith("https://") and config.platform.secret == "from-the-environment"
    assert list(config.reports.daily_to) == ["lead@example.com"] and config.reports.timezone == "Asia/Shanghai"


# -- secrets -------------------------------------------------------------------------------
# The built-in channels' secret keys; the walk below must find at least these.
KNOWN_SECRETS = {
    "hub.metrics_token",
    "channels.webhook.secret",
    "channels.webchat.secret",
    "channels.webchat.sites.*.identity_secret",
    "channels.telegram.token",
    "channels.telegram.webhook_secret",
    "channels.slack.bot_token",
    "channels.slack.signing_secret",
    "channels.slack.app_token",
    "channels.email.listen_password",
    "channels.email.imap_password",
    "channels.email.smtp_password",
}
# What a table needs besides the secret under test to be valid on its own.
MINIMAL: dict[str, dict[str, Any]] = {
    "email": {"address": "help@support.example.com"},
    "slack": {"mode": "socket", "app_token": "xapp-a-filler-token"},
}
COMPANIONS: dict[str, dict[str, Any]] = {
    "channels.email.listen_password": {"listen_user": "relay"},
    "channels.slack.app_token": {"mode": "socket"},
    "channels.slack.signing_secret": {"mode": "events"},
}


def _nested(path: list[str], value: Any) -> dict[str, Any]:
    """`["sites", "*", "identity_secret"]` -> {"sites": {"shop": {"identity_secret": value}}}."""
    head, *rest = path
    return {"shop" if head == "*" else head: _nested(rest, value) if rest else value}


def _placeholder(field: Any, name: str) -> Any:
    """A valid value of a required field's type (secrets are set by the test itself)."""
    return f"env:HELPLINE_FILL_{name.upper()}" if field.secret else field.type() if callable(field.type) else ""


def _every_secret() -> list[tuple[str, dict[str, Any], str]]:
    """(key, raw config setting that key to env:NAME, NAME) for every declared secret."""
    from hub.config import SECTIONS
    from hub.registry import discover
    from hub.settings import secret_fields

    registry = discover()
    cases: list[tuple[str, dict[str, Any], str]] = []
    for section, fields in SECTIONS.items():
        for key in secret_fields(fields):
            name = f"HELPLINE_T_{section}_{key}".upper().replace(".", "_").replace("*", "X")
            cases.append((f"{section}.{key}", {section: {key: f"env:{name}"}}, name))
    for kind, group in ((registry.adapters, "channels"), (registry.plugins, "plugins")):
        for adapter_name in sorted(kind.loaders):
            cls = kind.load(adapter_name, adapter_name)
            fields = declared_fields(cls)
            for key in secret_fields(fields):
                full = f"{group}.{adapter_name}.{key}"
                name = "HELPLINE_T_" + full.upper().replace(".", "_").replace("*", "X")
                table = {
                    n: _placeholder(f, n) for n, f in fields.items() if f.default is REQUIRED and n != key.split(".")[0]
                }
                table |= (
                    MINIMAL.get(adapter_name, {}) | COMPANIONS.get(full, {}) | _nested(key.split("."), f"env:{name}")
                )
                if group == "channels":
                    raw = {"channels": {adapter_name: table}}
                else:
                    raw = {"plugins": {"enabled": [adapter_name], adapter_name: table}}
                cases.append((full, raw, name))
    return cases


def _lookup(config: Any, key: str) -> Any:
    section, *rest = key.split(".")
    if section == "channels":
        [channel] = config.channels
        value: Any = channel.settings
        rest = rest[1:]
    elif section == "plugins":
        [plugin] = config.plugins
        value = plugin.settings
        rest = rest[1:]
    else:
        value = getattr(config, section)
        value, rest = getattr(value, rest[0]), rest[1:]  # a typed section: its keys are attributes
    for part in rest:
        name = "shop" if part == "*" else part
        # a dict (named tables, a `config_fields` component) or a typed section
        value = value[name] if isinstance(value, dict) else getattr(value, name)
    return value


def test_every_declared_secret_key_reads_env_NAME_and_an_unset_one_stops_naming_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = _every_secret()
    assert {key for key, _, _ in cases} >= KNOWN_SECRETS  # the walk reaches nested and optional secrets
    for key, raw, name in cases:
        for fill in re.findall(r"env:(HELPLINE_FILL_\w+)", str(raw)):
            monkeypatch.setenv(fill, "a-filler-secret-of-32-characters")
        value = f"{name.lower()}-value-from-the-environment"
        monkeypatch.setenv(name, value)
        assert _lookup(parse_config(raw), key) == value, key
        monkeypatch.delenv(name)
        pattern = re.escape(key).replace(r"\*", "[^.]+") + f": environment variable {name} is not set"
        with pytest.raises(ConfigError, match=pattern):
            parse_config(raw)


def test_env_in_another_case_or_a_blank_variable_is_refused_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trial's "ENV:SMS_API_KEY" passed `check` and signed with those very words; a variable
    holding a space said "missing secret", not which variable."""
    from hub.settings import resolve_secret

    monkeypatch.setenv("SMS_API_KEY", "a-secret-from-the-environment")
    for typo in ("ENV:SMS_API_KEY", "Env:SMS_API_KEY"):
        with pytest.raises(ConfigError, match=r"channels.sms.api_key: write env: in lower case"):
            resolve_secret("channels.sms.api_key", typo)
    assert resolve_secret("channels.sms.api_key", "env:SMS_API_KEY") == "a-secret-from-the-environment"
    monkeypatch.setenv("SMS_API_KEY", "  ")
    with pytest.raises(ConfigError, match=r"channels.sms.api_key: environment variable SMS_API_KEY is empty"):
        resolve_secret("channels.sms.api_key", "env:SMS_API_KEY")


def test_generated_secrets_must_be_long_and_secrets_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_SHORT", "only-15-chars..")
    for raw, key in [
        ({"channels": {"webhook": {"secret": "env:HELPLINE_SHORT"}}}, "channels.webhook.secret"),
        (
            {"channels": {"webchat": {"secret": STRONG, "sites": {"s": {"identity_secret": "env:HELPLINE_SHORT"}}}}},
            "channels.webchat.sites.s.identity_secret",
        ),
        (
            {"channels": {"telegram": {"token": "1:x", "mode": "webhook", "webhook_secret": "env:HELPLINE_SHORT"}}},
            "channels.telegram.webhook_secret",
        ),
        ({"hub": {"metrics_token": "env:HELPLINE_SHORT"}}, "hub.metrics_token"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(key) + ": the secret is too short") as raised:
            parse_config(raw)
        assert "only-15" not in str(raised.value)
    # provider-issued credentials are taken as issued
    config = parse_config({"channels": {"telegram": {"token": "1:x"}}})
    assert config.channels[0].settings.token == "1:x"


def test_the_readme_configuration_examples_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = [textwrap.dedent(b) for b in re.findall(r"^[ \t]*```toml\n(.*?)^[ \t]*```", readme, re.M | re.S)]
    blocks = [b for b in blocks if "[channels." in b]
    assert len(blocks) >= 4  # web chat, email, Telegram, Slack
    for name in set(re.findall(r"env:([A-Z_]+)", readme)):
        monkeypatch.setenv(name, "a-value-from-the-environment")
    for block in blocks:
        parse_config(tomllib.loads(block))


def test_a_channels_settings_are_a_typed_frozen_section(monkeypatch: pytest.MonkeyPatch) -> None:
    """[channels.*] tables become the adapter's own Settings (nested site tables too): read by
    attribute, so a misspelt name fails at once instead of a KeyError in some request."""
    monkeypatch.setenv("HELPLINE_T_WIDGET", "w" * 32)
    raw = {
        "channels": {
            "webchat": {
                "secret": "env:HELPLINE_T_WIDGET",
                "max_message_chars": 500,
                "sites": {"shop": {"allowed_origins": ["https://shop.example"]}},
            }
        }
    }
    [channel] = parse_config(raw).channels
    settings = channel.settings
    assert isinstance(settings, channel.adapter_class.Settings)
    assert (settings.secret, settings.max_message_chars) == ("w" * 32, 500)
    assert settings.sites["shop"].allowed_origins == ("https://shop.example",)
    assert settings.sites["shop"].identity_secret == ""
    with pytest.raises(AttributeError):
        settings.max_message_char  # noqa: B018 - the misspelling is the point
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_message_chars = 1  # type: ignore[misc]


def test_a_plugins_settings_are_a_typed_frozen_section() -> None:
    """[plugins.NAME] tables become the plugin's own Settings, as a channel's do."""
    raw = {
        "plugins": {
            "enabled": ["progress", "greeting"],
            "progress": {"notify_pending": False},
            "greeting": {"days": ["mon", "tue"], "greeting": {"en": "Hi #{number}", "zh-CN": "您好 #{number}"}},
        }
    }
    progress, greeting = parse_config(raw).plugins
    assert isinstance(progress.settings, progress.plugin_class.Settings)
    assert (progress.settings.notify_team, progress.settings.notify_pending) == (True, False)
    assert isinstance(greeting.settings, greeting.plugin_class.Settings)
    assert greeting.settings.days == ("mon", "tue") and greeting.settings.timezone == "UTC"
    assert greeting.settings.greeting["zh-CN"] == "您好 #{number}"
    with pytest.raises(AttributeError):
        greeting.settings.day  # noqa: B018 - the misspelling is the point
    with pytest.raises(dataclasses.FrozenInstanceError):
        progress.settings.notify_team = False  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"plugins.progress.notify_team: expected boolean"):
        parse_config({"plugins": {"enabled": ["progress"], "progress": {"notify_team": "yes"}}})


def test_a_component_with_a_config_fields_table_still_reads_a_dict() -> None:
    from tests.helpers import RecordingAdapter

    fields = declared_fields(RecordingAdapter)
    assert set(fields) == {"token", "buttons"}
    assert settings_for(RecordingAdapter, {"token": "t"}) == {"token": "t"}


def test_a_sections_repr_never_shows_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_T_HOOK", "hook-secret-of-32-characters-xyz")
    monkeypatch.setenv("HELPLINE_T_METRICS", "metrics-token-of-32-characters-x")
    config = parse_config(
        {
            "hub": {"metrics_token": "env:HELPLINE_T_METRICS"},
            "channels": {"webhook": {"secret": "env:HELPLINE_T_HOOK", "callback_url": "https://partner.example/in"}},
        }
    )
    shown = repr(config.hub) + repr(config.channels[0].settings)
    assert "partner.example" in shown  # the rest is still there to read
    assert "hook-secret" not in shown and "metrics-token" not in shown


def readme_config_tables() -> dict[str, set[str]]:
    """The keys each `### [section]` table of README's configuration reference lists."""
    readme = (ROOT / "README.md").read_text()
    reference = readme.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, set[str]] = {}
    for heading, body in re.findall(r"^### `\[([a-z_]+)\]`\n(.*?)(?=^### |\Z)", reference, re.M | re.S):
        rows = re.findall(r"^\| `([a-z_]+)(?:\.NAME\.[a-z_]+)?` \|", body.split("\n\n`[", 1)[0], re.M)
        tables[heading] = set(rows)
    return tables


def test_the_readme_documents_every_key_of_every_section_where_it_is_read() -> None:
    """A key in the wrong section's table is a key the hub refuses (or ignores): README
    "Configuration reference" lists exactly the keys each section declares."""
    tables = readme_config_tables()
    for name, fields in SECTIONS.items():
        assert name in tables, f"README has no table for [{name}]"
        assert tables[name] == set(fields), (name, tables[name] ^ set(fields))
    # tier_priorities is read from [desk] only (it once sat, unread, in [sla] too)
    with pytest.raises(ConfigError, match=r"^sla\.tier_priorities: unknown key"):
        parse_config({"sla": {"tier_priorities": {"vip": "high"}}})


def test_by_default_a_reply_is_tried_for_about_five_hours_before_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """README [outbox]: a channel down that long (a callback receiver redeployed) loses no reply;
    with 8 attempts it was under five minutes (an operator's trial lost 13 replies)."""
    import random

    from hub.backoff import backoff

    monkeypatch.setattr(random, "uniform", lambda low, high: low)  # without the jitter, which only adds
    outbox = parse_config({}).outbox
    waited = sum(
        backoff(n, base=outbox.base_delay_seconds, cap=outbox.max_delay_seconds) for n in range(1, outbox.max_attempts)
    )
    assert 4.5 * 3600 <= waited <= 5.5 * 3600
