"""A plugin's texts: a missing one is an error the operator sees, never the key sent to a
customer; a plugin ships its defaults as a setting's default table by language."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.sdk import ConfigError, MissingText, Outcome, Plugin, PluginContext, Sender, check_texts, setting
from hub.testing import customer_message, eventually, make_config, running_hub, said_to_customer


class Hours(Plugin):
    @dataclass(frozen=True)
    class Settings:
        answer: str | dict = setting((str, dict), "", "the opening hours; a text, or a table by language")

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        await ctx.reply(ctx.text("hours.answer", setting="answer"))
        return Outcome.STOP


class ShippedHours(Hours):
    @dataclass(frozen=True)
    class Settings:
        answer: str | dict = setting(
            (str, dict), {"en": "We are open 9-17.", "zh-CN": "营业时间 9-17 点。"}, "the opening hours"
        )


async def test_a_missing_text_is_an_error_naming_the_plugin_key_and_setting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, {"plugins": {"enabled": ["hours"]}}, plugins={"hours": Hours})
    async with running_hub(config) as hub:
        record = await hub.ingest(customer_message("m1", "when are you open?"))
        await eventually(lambda: hub.metrics.plugin_errors.labels("hours")._value.get() == 1)
        assert await said_to_customer(hub, record.conversation.id) == []  # not "hours.answer"
    assert "plugin hours: no text for 'hours.answer' in 'en': set [plugins.hours] answer," in caplog.text


async def test_a_configured_text_is_used_and_a_shipped_default_speaks_the_customers_language(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        {"plugins": {"enabled": ["hours", "shipped"], "hours": {"answer": "Open 24/7."}}},
        plugins={"hours": Hours, "shipped": ShippedHours},
    )
    async with running_hub(config) as hub:
        record = await hub.ingest(customer_message("m1", "hours?"))
        [said] = await eventually(lambda: said_to_customer(hub, record.conversation.id))
        assert said.text == "Open 24/7."
    config = make_config(tmp_path / "2", {"plugins": {"enabled": ["shipped"]}}, plugins={"shipped": ShippedHours})
    async with running_hub(config) as hub:
        chinese = Sender(address="u-zh", language="zh-CN")
        record = await hub.ingest(customer_message("z1", "几点开门？", sender=chinese))
        [said] = await eventually(lambda: said_to_customer(hub, record.conversation.id))
        assert said.text == "营业时间 9-17 点。"


def test_missing_text_says_how_to_fix_it() -> None:
    error = MissingText("hours", "hours.answer", "", "hub")
    assert "pass setting=" in str(error) and "catalog 'hub'" in str(error)


async def test_an_operators_table_missing_a_language_falls_back_to_the_shipped_default(tmp_path: Path) -> None:
    only_chinese = {"plugins": {"enabled": ["shipped"], "shipped": {"answer": {"zh-CN": "全天营业。"}}}}
    config = make_config(tmp_path, only_chinese, plugins={"shipped": ShippedHours})
    async with running_hub(config) as hub:
        english = await hub.ingest(customer_message("m1", "when are you open?"))
        [said] = await eventually(lambda: said_to_customer(hub, english.conversation.id))
        assert said.text == "We are open 9-17."  # the plugin's own English, not silence
        chinese = Sender(address="u-zh", language="zh-CN")
        record = await hub.ingest(customer_message("z1", "几点开门？", sender=chinese, thread="chat-2"))
        [said] = await eventually(lambda: said_to_customer(hub, record.conversation.id))
        assert said.text == "全天营业。"  # the operator's words where they gave them


async def test_missing_text_names_the_language_a_table_lacks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(
        tmp_path,
        {"plugins": {"enabled": ["hours"], "hours": {"answer": {"zh-CN": "全天营业。"}}}},
        plugins={"hours": Hours},
    )
    async with running_hub(config) as hub:
        await hub.ingest(customer_message("m1", "when are you open?"))
        await eventually(lambda: hub.metrics.plugin_errors.labels("hours")._value.get() == 1)
    assert "no text for 'hours.answer' in 'en': set [plugins.hours] answer.en" in caplog.text


class CheckedHours(Hours):
    @dataclass(frozen=True)
    class Settings:
        answer: str | dict = setting((str, dict), {}, "the opening hours, a table by language")

    @classmethod
    def check_settings(cls, prefix: str, settings: object) -> None:
        check_texts(prefix, settings, {"answer": ()})


def test_an_empty_text_table_is_refused_at_start_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"plugins\.hours\.answer.*empty table"):
        make_config(tmp_path, {"plugins": {"enabled": ["hours"]}}, plugins={"hours": CheckedHours})
    empty = {"plugins": {"enabled": ["hours"], "hours": {"answer": {}}}}
    with pytest.raises(ConfigError, match=r"plugins\.hours\.answer: an empty table"):
        make_config(tmp_path, empty, plugins={"hours": CheckedHours})


class FrenchHours(CheckedHours):
    @dataclass(frozen=True)
    class Settings:
        answer: str | dict = setting((str, dict), {"fr": "Ouvert 9-17."}, "the opening hours, a table by language")


def test_texts_in_no_language_the_hub_speaks_are_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"plugins\.hours\.answer: no text in any language the hub speaks"):
        make_config(tmp_path, {"plugins": {"enabled": ["hours"]}}, plugins={"hours": FrenchHours})
    blank = {"plugins": {"enabled": ["hours"], "hours": {"answer": {"en": " "}}}}
    with pytest.raises(ConfigError, match=r"plugins\.hours\.answer: no text in any language the hub speaks"):
        make_config(tmp_path, blank, plugins={"hours": FrenchHours})
    english = {"plugins": {"enabled": ["hours"], "hours": {"answer": {"en": "Open 9-17."}}}}
    assert make_config(tmp_path, english, plugins={"hours": FrenchHours}).plugins
