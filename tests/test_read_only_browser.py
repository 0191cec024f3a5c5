"""A read-only account in the inbox, in zh-CN: it reads the ticket and is offered no control
the hub would refuse (composer, 解决, 合并, 记录通话, the attributes), and its clicks and
heartbeats get no 403 (the fixtures are the inbox browser tests')."""

from __future__ import annotations

from typing import Any

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub
from tests.test_inbox_browser import (
    PASSWORD,
    browser,
    customer_writes,
    hub_url,
    no_script_errors,
    shown_number,
    sign_in,
)

__all__ = ["browser", "hub_url", "no_script_errors"]


async def test_a_read_only_account_sees_the_ticket_but_no_composer_or_actions(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    await add_agent(hub.store, "du@example.com", Role.READ_ONLY, PASSWORD, name="杜审计")
    await customer_writes(hub, "r1", "我的退款到哪一步了？")
    page = await sign_in(browser, url, "zh-CN", email="du@example.com")
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status == 403 else None)
    await page.locator("#conversations li").first.click()
    await expect(shown_number(page)).to_contain_text("#1000")
    await expect(page.locator(".thread")).to_contain_text("我的退款到哪一步了？")
    for control in ("#composer-text", "#resolve", "#merge", "#log-call", "#handoff", "#schedule-callback-open"):
        await expect(page.locator(control)).to_have_count(0)
    await expect(page.locator("#attr-status")).to_be_disabled()
    await expect(page.locator("#assign-me")).to_be_disabled()
    assert await page.locator("#assign-me").evaluate("(e) => Number(getComputedStyle(e).opacity)") < 1  # looks it
    await expect(page.locator("#conversations li .tick")).to_have_count(0)  # no bulk changes to pick for
    await expect(page.locator(".list-head .all")).to_have_count(0)
    for key in ("r", "e", "c"):  # the shortcuts of those controls do nothing either
        await page.locator(".thread").press(key)
    await expect(page.locator("#call-form")).to_have_count(0)
    await page.select_option("#presence", "away")  # its own presence is its own to set
    await expect(page.locator("#presence")).to_have_value("away")
    assert refused == []
    # the same screen for an agent still has every control
    agent_page = await sign_in(browser, url, "zh-CN")
    await agent_page.locator("#conversations li").first.click()
    await expect(agent_page.locator("#composer-text")).to_be_visible()
    await expect(agent_page.locator("#resolve")).to_have_text("解决 e")
    # A trial: an agent could pick the read-only account as the assignee, and got a 422.
    options = await agent_page.locator("#attr-assignee option").all_text_contents()
    assert "杜审计" not in options and any("王芳" in o for o in options)
    await agent_page.locator("#conversations li .tick").first.check()  # the bulk bar's assignees too
    bulk = agent_page.locator("#bulk-assign option")
    await expect(bulk.first).to_be_attached()
    assert "杜审计" not in await bulk.all_text_contents()
