"""GET /api/v1/me says which plugins are enabled, so the inbox asks a plugin's routes only
when it is on (review 16 #11: no /complaints call answered 409 on every load)."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.conftest import ROOT
from tests.helpers import make_config
from tests.test_api import AGENT, sign_in


async def enabled_plugins(tmp_path: Path, plugins: list[str]) -> list[str]:
    server = TestServer(build_app(hub := Hub(make_config(tmp_path, {"plugins": {"enabled": plugins}}))))
    await server.start_server()
    await add_agent(hub.store, AGENT[0], Role.AGENT, AGENT[1], name="Li Na")
    agent = await sign_in(server, AGENT)
    try:
        return (await agent.call("GET", "/api/v1/me"))["plugins"]
    finally:
        await agent.client.close()
        await server.close()


async def test_me_names_the_enabled_plugins_and_the_inbox_asks_for_complaints_only_when_on(tmp_path: Path) -> None:
    assert await enabled_plugins(tmp_path / "off", []) == []
    assert await enabled_plugins(tmp_path / "on", ["faq"]) == ["faq"]
    button = (ROOT / "hub" / "static" / "inbox" / "components" / "complaints.js").read_text(encoding="utf-8")
    assert (
        'includes("complaints")' in button and 'if (enabled && !open) api("GET", "/complaints?overdue=true")' in button
    )
