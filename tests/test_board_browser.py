"""The live board in the inbox, in Chinese: a supervisor sees their team's queue, SLA and
agents now, and a new ticket there without reloading (a trial had only /metrics)."""

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
from tests.test_inbox_browser import ARTIFACTS, PASSWORD, browser, customer_writes, no_script_errors, sign_in

__all__ = ["browser", "no_script_errors"]  # fixtures

SLA = {"policies": {"standard": {"first_response_minutes": 60, "resolution_minutes": 480}}}


@pytest.fixture
async def hub_url(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    require_browser()
    hub = Hub(make_config(tmp_path, {"channels": {"webchat": {"secret": "e2e-visitor-secret"}}, "sla": SLA}))
    runner, url = await serve(build_app(hub))
    zhao = await add_agent(hub.store, "zhao@example.com", Role.SUPERVISOR, PASSWORD, name="赵磊")
    li = await add_agent(hub.store, "li@example.com", Role.AGENT, PASSWORD, name="李娜")
    await hub.services.desk.update_team("customer-service", {"members": [zhao.id, li.id]})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield hub, url
    await runner.cleanup()


async def test_the_live_board_shows_the_team_now_and_follows_new_tickets(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    hub.pipeline.clock = lambda: utcnow() - timedelta(minutes=70)
    late = await customer_writes(hub, "v1", "订单一直没到")
    hub.pipeline.clock = utcnow
    await hub.services.conversations.update_conversation(late.conversation, {"team": "customer-service"})
    await customer_writes(hub, "v2", "发票怎么开")  # no team yet
    page = await sign_in(browser, url, "zh-CN", email="zhao@example.com")
    await page.click("#open-board")
    board = page.locator("#board-dialog")
    await expect(board.locator("h2")).to_have_text("实时看板")
    team = board.locator("tr[data-team='customer-service']")
    cells = team.locator("td.num")
    await expect(cells.nth(0)).to_have_text("1")  # open (routed to the supervisor, online now)
    await expect(cells.nth(3)).to_have_text("1")  # SLA breached: no answer in the hour
    await expect(team.locator(".board-agents li")).to_have_count(2)
    await expect(team.locator(".board-agents")).to_contain_text("李娜 · 离线")
    await expect(team.locator(".board-agents")).to_contain_text("赵磊 · 在线 · 1 个处理中工单")
    await expect(board.locator("tr[data-team=''] td.num").first).to_have_text("1")  # the ticket without a team
    # a new ticket for the team shows without reloading
    third = await customer_writes(hub, "v3", "退款还没到")
    await hub.services.conversations.update_conversation(third.conversation, {"team": "customer-service"})
    await expect(cells.nth(0)).to_have_text("2", timeout=10000)
    await page.screenshot(path=str(ARTIFACTS / "board-zh-CN.png"))
