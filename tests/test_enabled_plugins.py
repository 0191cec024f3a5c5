"""GET /api/v1/me says which plugins are enabled, so the inbox asks a plugin's routes only
when it is on (review 16 #11: no /complaints call answered 409 on every load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.helpers import make_config
from tests.test_api import AGENT, sign_in
from tests.test_inbox_browser import browser, hub_url
from tests.test_inbox_browser import sign_in as sign_in_browser

__all__ = ["browser", "hub_url"]


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


async def test_me_names_the_enabled_plugins(tmp_path: Path) -> None:
    assert await enabled_plugins(tmp_path / "off", []) == []
    assert await enabled_plugins(tmp_path / "on", ["faq"]) == ["faq"]


async def test_the_inbox_does_not_ask_for_complaints_when_the_plugin_is_off(
    hub_url: tuple[Hub, str],
    browser: Any,
) -> None:
    from playwright.async_api import expect

    _hub, url = hub_url
    page = await sign_in_browser(browser, url, "zh-CN")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.reload()
    await expect(page.locator("#open-knowledge")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert any("/api/v1/me" in u for u in asked)
    assert not [u for u in asked if "/api/v1/complaints" in u]
    await expect(page.locator("#open-complaints")).to_have_count(0)
