"""SLA clocks in the inbox, in Chinese, in a real browser: a badge on each list row and every
clock in the ticket's header. Screenshots go to test-artifacts/inbox/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conversation.model import Role, utcnow
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.helpers import make_config, serve
from tests.test_e2e_browser import require_browser
from tests.test_inbox_browser import ARTIFACTS, PASSWORD, browser, catalog, customer_writes, sign_in  # noqa: F401

SLA = {"policies": {"standard": {"first_response_minutes": 60, "resolution_minutes": 480}}}


@pytest.fixture
async def hub_url(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    require_browser()
    hub = Hub(make_config(tmp_path, {"channels": {"webchat": {"secret": "e2e-visitor-secret"}}, "sla": SLA}))
    runner, url = await serve(build_app(hub))
    await add_agent(hub.store, "wang@example.com", Role.ADMIN, PASSWORD, name="王芳")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield hub, url
    await runner.cleanup()


async def test_sla_clocks_in_the_list_and_the_header_in_chinese(hub_url: tuple[Hub, str], browser: Any) -> None:  # noqa: F811
    from playwright.async_api import expect

    hub, url = hub_url
    zh = catalog("zh-CN")
    hub.pipeline.clock = lambda: utcnow() - timedelta(minutes=50)  # asked 50 minutes ago: 83 % of the hour used
    await customer_writes(hub, "s1", "订单一直没到")
    hub.pipeline.clock = lambda: utcnow() - timedelta(minutes=70)  # and one already overdue
    await customer_writes(hub, "s2", "退款还没收到")
    page = await sign_in(browser, url, "zh-CN")
    rows = page.locator("#conversations li")
    await expect(rows).to_have_count(2)
    warned = rows.filter(has_text="订单一直没到").locator(".sla")
    await expect(warned).to_have_class("sla warn")
    await expect(warned).to_contain_text(zh["sla.short.first_response"])
    await expect(warned).to_contain_text("剩余")
    overdue = rows.filter(has_text="退款还没收到").locator(".sla")
    await expect(overdue).to_have_class("sla breached")
    await expect(overdue).to_contain_text("已超时")

    await rows.filter(has_text="订单一直没到").locator("button.open").click()
    clocks = page.locator(".ticket-head .sla-clocks")
    await expect(clocks.locator("[data-kind=first_response]")).to_contain_text(zh["sla.kind.first_response"])
    await expect(clocks.locator("[data-kind=first_response]")).to_contain_text("截止")
    await expect(clocks.locator("[data-kind=resolution]")).to_contain_text(zh["sla.kind.resolution"])
    await page.screenshot(path=str(ARTIFACTS / "sla-clocks-zh-CN.png"))
