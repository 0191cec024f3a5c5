"""The inbox's admin screen lists each channel's state (issue 10, point 3), in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.conftest import free_port
from tests.helpers import clear_proxies, make_config, serve
from tests.test_e2e_browser import CHROMIUM, FLAGS, require_browser


async def test_the_admin_screen_shows_a_degraded_channel_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.async_api import async_playwright, expect

    require_browser()
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HELPLINE_TELEGRAM_TOKEN", "4242:TEST-TOKEN")
    dead = f"http://127.0.0.1:{free_port()}"  # Telegram is unreachable
    telegram = {"token": "env:HELPLINE_TELEGRAM_TOKEN", "mode": "polling", "api_base_url": dead}
    hub = Hub(make_config(tmp_path, {"channels": {"telegram": telegram, "chat": {"type": "recording"}}}))
    runner, url = await serve(build_app(hub))
    try:
        await add_agent(hub.store, "admin@example.com", Role.ADMIN, "admin password 1", name="Ops")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = await (await browser.new_context()).new_page()
                await page.goto(f"{url}/inbox/")
                await page.fill("input[name=email]", "admin@example.com")
                await page.fill("input[name=password]", "admin password 1")
                await page.click("button[type=submit]")
                await expect(page.locator("#me-name")).to_have_text("Ops")
                await page.click("#open-admin")
                telegram_row = page.locator("#channel-status li[data-channel=telegram]")
                await expect(telegram_row.locator(".state")).to_have_text("degraded")
                await expect(telegram_row).to_contain_text("NetworkError")
                await expect(page.locator("#channel-status li[data-channel=chat] .state")).to_have_text("up")
            finally:
                await browser.close()
    finally:
        await runner.cleanup()
