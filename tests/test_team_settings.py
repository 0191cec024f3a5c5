"""A plugin setting that names a team (`setting(..., team=True)`) is checked when the hub
starts: a README-only trial's `[plugins.faq] team = "nosuch"` started silently and failed only
when a customer's message first reached the hand-off."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from conversation.desk import Team
from hub.testing import running_hub
from tests.test_faq_bot import faq_config


async def test_a_team_setting_naming_no_team_is_an_error_in_the_log_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="hub.plugin_host")
    async with running_hub(faq_config(tmp_path, team="nosuch")) as hub:
        assert await hub.plugin_host.check_team_settings() == ["plugins.faq.team"]
    [said] = {r.getMessage() for r in caplog.records if "plugins.faq.team" in r.getMessage()}
    assert said.startswith("plugins.faq.team: 'nosuch' is not a team (teams: complaints, customer-service,")
    assert "what uses it fails or is skipped until it is made" in said


async def test_team_settings_naming_teams_or_none_are_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="hub.plugin_host")
    for team in ("customer-service", ""):
        async with running_hub(faq_config(tmp_path / (team or "none"), team=team)) as hub:
            assert await hub.plugin_host.check_team_settings() == []
    assert not [r for r in caplog.records if "is not a team" in r.getMessage()]


def test_the_built_in_plugins_declare_their_team_settings() -> None:
    from hub.settings import declared_fields
    from plugins.account import AccountPlugin
    from plugins.complaints import ComplaintsPlugin
    from plugins.faq import FaqPlugin
    from plugins.greeting import GreetingPlugin

    declared = {
        f"{plugin.__name__}.{name}"
        for plugin in (AccountPlugin, ComplaintsPlugin, FaqPlugin, GreetingPlugin)
        for name, field in declared_fields(plugin).items()
        if field.team
    }
    assert declared == {
        "AccountPlugin.security_team",
        "AccountPlugin.team",
        "ComplaintsPlugin.departments",  # (escalation_team: checked by the plugin, with its visibility)
        "FaqPlugin.team",
        "GreetingPlugin.team",
    }


async def test_a_table_of_teams_is_checked_entry_by_entry_and_a_failed_check_does_not_stop_the_hub(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import make_config

    config = make_config(
        tmp_path, {"plugins": {"enabled": ["complaints"], "complaints": {"departments": {"order": "nosuch"}}}}
    )
    async with running_hub(config) as hub:
        assert await hub.plugin_host.check_team_settings() == ["plugins.complaints.departments.order"]

        async def unreachable() -> list[object]:
            raise ConnectionError("the store is away")

        monkeypatch.setattr(hub.store.desk, "list_teams", unreachable)
        caplog.set_level(logging.ERROR, logger="hub.plugin_host")
        await hub.plugin_host.start_plugins()  # logged, not raised
    assert any("could not be checked" in r.getMessage() for r in caplog.records)


async def test_the_routing_default_team_is_checked_at_start_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.helpers import make_config

    caplog.set_level(logging.ERROR, logger="hub.plugin_host")
    async with running_hub(make_config(tmp_path, {"routing": {"default_team": "frontline"}})):
        pass
    assert any(r.getMessage().startswith("routing.default_team: 'frontline' is not a team") for r in caplog.records)


async def test_an_escalation_team_without_members_is_a_warning_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A supervisor's trial escalated to README's "technical-support", a team with nobody in it:
    the ticket left its agent's list and waited there, and the hub had said nothing."""
    from tests.helpers import make_config

    caplog.set_level(logging.WARNING, logger="hub.plugin_host")
    policy = {"first_response_minutes": 5, "escalate_to_team": "technical-support"}
    async with running_hub(make_config(tmp_path, {"sla": {"policies": {"standard": policy}}})) as hub:
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            m.startswith("sla.policies.standard.escalate_to_team: team 'technical-support' has no members")
            for m in said
        ), said
        await hub.store.desk.save_team(Team("technical-support", {"en": "Technical support"}, members=["agent-1"]))
        caplog.clear()
        await hub.plugin_host.check_team_settings({"sla.policies.standard.escalate_to_team": "technical-support"})
        assert not [r for r in caplog.records if "has no members" in r.getMessage()]
