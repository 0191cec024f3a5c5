"""The complaints plugin in the inbox, in Chinese: an agent files a web-chat ticket as a
complaint from the sidebar, moves it, sends the outcome (the customer reads each), adds a
follow-up, and finds it in the lists."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conversation.model import AuthorType, Direction, MessageKind, Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.helpers import eventually, make_config, serve
from tests.test_e2e_browser import require_browser
from tests.test_inbox_browser import ARTIFACTS, PASSWORD, browser, customer_writes, sign_in  # noqa: F401  (fixture)


@pytest.fixture
async def hub_url(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    require_browser()
    config = make_config(
        tmp_path, {"channels": {"webchat": {"secret": "e2e-visitor-secret"}}, "plugins": {"enabled": ["complaints"]}}
    )
    hub = Hub(config)
    runner, url = await serve(build_app(hub))
    await add_agent(hub.store, "wang@example.com", Role.ADMIN, PASSWORD, name="王芳")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield hub, url
    await runner.cleanup()


async def test_an_agent_files_moves_and_answers_a_complaint_from_the_sidebar_in_chinese(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    record = await customer_writes(hub, "v1", "卖家发错了颜色，联系不上")
    ticket = record.conversation

    async def told() -> list[str]:
        thread = await hub.store.tickets.list_messages(ticket.id)
        return [
            m.text
            for m in thread
            if m.direction is Direction.OUTBOUND and m.author_type is AuthorType.BOT and m.kind is MessageKind.MESSAGE
        ]

    page = await sign_in(browser, url, "zh-CN")
    await page.locator("#conversations li").first.locator(".open").click()
    panel = page.locator("section.complaints")
    await expect(panel.locator("h2")).to_have_text("投诉")
    await panel.locator("#complaint-subject").select_option("seller")
    await panel.locator("#complaint-severity").select_option("high")
    await panel.locator("#complaint-summary").fill("发错颜色")
    await panel.locator("#complaint-file").click()
    card = panel.locator(".complaint")
    await expect(card.locator(".complaint-number")).to_have_text(f"C-{ticket.number}")
    await expect(card.locator(".complaint-status")).to_have_text("已受理")
    await eventually(lambda: told())
    assert (await told())[0].startswith(f"您的投诉已受理（编号 C-{ticket.number}），已转交")

    await card.locator(".complaint-move[data-to=investigating]").click()
    await expect(panel.locator(".complaint-status")).to_have_text("调查中")
    await panel.locator(".complaint-move[data-to=awaiting_outcome]").click()
    await expect(panel.locator(".complaint-status")).to_have_text("待出结果")
    await panel.locator("#follow-up-text").fill("联系卖家补发")
    await panel.locator("#follow-up-add").click()
    await expect(panel.locator(".follow-ups li")).to_have_count(1)
    await panel.locator("#complaint-outcome").fill("卖家已补发正确颜色的商品。")
    await panel.locator("#complaint-send-outcome").click()
    await expect(panel.locator(".complaint-status")).to_have_text("已告知结果")
    said = await told()
    assert said[-1] == f"您的投诉 C-{ticket.number} 的处理结果：卖家已补发正确颜色的商品。"
    assert f"您的投诉 C-{ticket.number} 正在调查中。" in said

    # The list asked for first ("received", none) answers late, after the one picked next: the
    # later answer stands (a loaded CI machine showed the stale, empty list).
    async def slowly(route: Any) -> None:
        await asyncio.sleep(1.0)
        await route.continue_()

    await page.route("**/api/v1/complaints?status=received", slowly)
    await page.locator("#open-complaints").click()
    await page.locator("#complaints-status").click()
    await page.locator("#complaints-by-status").select_option("outcome_sent")
    await expect(page.locator("#complaint-list li")).to_have_count(1)
    await page.wait_for_timeout(1500)  # the late answer has come
    await expect(page.locator("#complaint-list li")).to_have_count(1)
    await expect(page.locator("#complaint-list li .number")).to_have_text(f"C-{ticket.number}")
    await page.screenshot(path=str(ARTIFACTS / "complaints-zh-CN.png"))


async def test_a_complaint_about_an_agent_names_them_and_its_follow_ups_are_never_theirs(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    from plugins.complaints import Filing, complaints_plugin

    hub, url = hub_url
    lina = await add_agent(hub.store, "lina@example.com", Role.AGENT, PASSWORD, name="李娜")
    record = await customer_writes(hub, "v2", "你好")
    plugin = complaints_plugin(hub.plugin_host.plugins)
    assert plugin is not None
    ctx = await hub.plugin_host.context(plugin, record.conversation)
    await plugin.file(ctx, Filing("agent", about_agent=lina.id), who="test")

    page = await sign_in(browser, url, "zh-CN")
    await page.locator("#conversations li").first.locator(".open").click()
    card = page.locator("section.complaints .complaint")
    await expect(card.locator(".complaint-about-agent")).to_have_text("被投诉的客服：李娜")
    owners = card.locator("#follow-up-owner option")
    await expect(owners).to_have_text(["Administrator", "王芳"])  # the agent complained about is left out
