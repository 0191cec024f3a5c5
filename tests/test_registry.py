"""Adapters and plugins from other distributions, found through entry points."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from hub.config import parse_config
from hub.registry import discover
from hub.settings import ConfigError

PLUGIN_MODULE = """
from hub.sdk import Adapter, Field, Outcome, Plugin, Sent


class Shout(Plugin):
    config_fields = {"suffix": Field(str, "!")}

    async def on_message(self, ctx):
        await ctx.reply(ctx.message.text.upper() + self.settings["suffix"])
        return Outcome.STOP


class Pigeon(Adapter):
    config_fields = {"loft": Field(str)}

    async def send(self, out):
        return Sent("coo")
"""


def install_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_points: str) -> None:
    """A minimal installed distribution: a module plus dist-info with entry_points.txt."""
    (tmp_path / "helpline_extras.py").write_text(PLUGIN_MODULE)
    info = tmp_path / "helpline_extras-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: helpline-extras\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_entry_points_add_plugins_and_adapters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_distribution(
        tmp_path,
        monkeypatch,
        "[helpline.plugins]\nshout = helpline_extras:Shout\n\n[helpline.adapters]\npigeon = helpline_extras:Pigeon\n",
    )
    config = parse_config(
        {
            "plugins": {"enabled": ["shout", "greeting"], "shout": {"suffix": "!!"}},
            "channels": {"birds": {"type": "pigeon", "loft": "north"}},
        },
        registry=discover(),
    )
    assert [(p.name, p.plugin_class.__name__, p.settings) for p in config.plugins][0] == (
        "shout",
        "Shout",
        {"suffix": "!!"},
    )
    [channel] = config.channels
    assert (channel.name, channel.adapter_class.__name__, channel.settings) == ("birds", "Pigeon", {"loft": "north"})
    with pytest.raises(ConfigError, match="channels.birds.loft: missing"):
        parse_config({"channels": {"birds": {"type": "pigeon"}}}, registry=discover())


def test_an_entry_point_cannot_take_a_built_in_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_distribution(tmp_path, monkeypatch, "[helpline.plugins]\ngreeting = helpline_extras:Shout\n")
    with pytest.raises(ConfigError, match="two plugins are named 'greeting'"):
        discover()


def test_a_plugin_that_fails_to_import_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_distribution(tmp_path, monkeypatch, "[helpline.plugins]\nghost = helpline_extras_missing:Ghost\n")
    with pytest.raises(ConfigError, match="plugins.enabled.0.: plugin 'ghost'.*failed to load"):
        parse_config({"plugins": {"enabled": ["ghost"]}}, registry=discover())
