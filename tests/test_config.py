"""hub.toml validation: every mistake is named by its key, at start."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from conversation.sqlite_store import SQLiteStore
from conversation.store import open_store
from hub.config import load_config, parse_config
from hub.settings import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_the_sample_configuration_is_the_one_init_writes_and_it_is_valid() -> None:
    assert (ROOT / "hub.toml").read_text() == (ROOT / "hub" / "hub.sample.toml").read_text()
    config = load_config(ROOT / "hub.toml")
    assert config.storage["url"] == "sqlite://" and config.data_dir == ROOT / "data"
    assert [p.name for p in config.plugins] == ["greeting"] and config.channels == []
    store = open_store(config.storage["url"], data_dir=config.data_dir)
    assert isinstance(store, SQLiteStore) and store.path == ROOT / "data" / "helpline.sqlite3"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"storage": {"urll": "sqlite://"}}, "storage.urll: unknown key"),
        ({"hub": {"port": "8080"}}, "hub.port: expected integer, got str"),
        ({"hub": {"port": True}}, "hub.port: expected integer, got boolean"),
        ({"hub": {"log_level": "loud"}}, "hub.log_level: must be one of"),
        ({"outbox": {"max_attempts": 0}}, "outbox.max_attempts: must be at least 1"),
        ({"tickets": "yes"}, "tickets: expected a table"),
        ({"databases": {}}, "databases: unknown section"),
        ({"channels": {"webhook": {}}}, "channels.webhook.secret: missing"),
        ({"channels": {"webhook": {"secret": 918273645}}}, "channels.webhook.secret: expected string, got int$"),
        ({"channels": {"webhook": {"secret": "  "}}}, "channels.webhook.secret: missing secret"),
        ({"channels": {"webhook": {"secret": "env:HELPLINE_NOT_SET_ANYWHERE"}}}, "environment variable"),
        ({"channels": {"webhook": {"secret": "x", "callback": "u"}}}, "channels.webhook.callback: unknown key"),
        ({"channels": {"webhook": {"secret": "x", "callback_url": "ftp://x"}}}, "channels.webhook.callback_url"),
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
    monkeypatch.setenv("HELPLINE_TEST_SECRET", "from-env")
    config = parse_config({"channels": {"partner": {"type": "webhook", "secret": "env:HELPLINE_TEST_SECRET"}}})
    [channel] = config.channels
    assert (channel.name, channel.settings["secret"]) == ("partner", "from-env")


def test_invalid_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text("[hub]\nport = \n")
    with pytest.raises(ConfigError, match="not valid TOML.*line 2"):
        load_config(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")


def test_defaults_fill_every_section() -> None:
    config = parse_config({})
    assert config.hub["port"] == 8080 and config.outbox["max_attempts"] == 8
    assert config.ticketing.first_number == 1000 and config.ticketing.reopen_window.days == 7
    assert tomllib.loads((ROOT / "hub.toml").read_text())["plugins"]["enabled"] == ["greeting"]


def test_every_commented_channel_example_in_the_sample_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    text = (ROOT / "hub.toml").read_text()
    for name in set(re.findall(r"env:([A-Z_]+)", text)):
        monkeypatch.setenv(name, "from-the-environment")
    uncommented = "\n".join(
        m.group(1) if (m := re.match(r"^# (\[channels\..*\]|[a-z_]+ = .*)$", line)) else line
        for line in text.splitlines()
    )
    config = parse_config(tomllib.loads(uncommented))
    assert sorted(c.name for c in config.channels) == ["email", "slack", "telegram", "webchat", "webhook"]
