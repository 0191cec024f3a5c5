"""The dispute case view in the inbox (Chinese): the list of cases awaiting the seller, one
case with both sides' threads, evidence, deadline and the rules' proposal, a decision from
the form, and the case in the buyer's ticket sidebar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conversation.inbound import Inbound, Sender
from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.helpers import clear_proxies, eventually, make_config, serve
from tests.test_disputes import (
    BUYER_WORDS,
    HOOK_SECRET,
    PLATFORM_SECRET,
    SELLER_WORDS,
    platform_fake,
    platform_settings,
    registry,
)
from tests.test_e2e_browser import require_browser
from tests.test_inbox_browser import ARTIFACTS, PASSWORD, browser, no_script_errors, sign_in

__all__ = ["browser", "no_script_errors"]  # fixtures


@pytest.fixture
async def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Hub, str]]:
    require_browser()
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", PLATFORM_SECRET)
    platform = platform_fake()
    platform_runner, platform_url = await serve(platform.app())
    settings = {
        "seller_channel": "app",
        "rules": [
            {
                "name": "7 天无物流退款",
                "reason": "not_received",
                "no_tracking": True,
                "min_days": 7,
                "propose": "refund_buyer",
            }
        ],
    }
    raw = {
        "platform": platform_settings(platform_url),
        "channels": {"app": {"type": "webhook", "secret": HOOK_SECRET}},  # buyers and sellers, by platform id
        "plugins": {"enabled": ["disputes"], "disputes": settings},
    }
    hub = Hub(make_config(tmp_path, raw, registry=registry()))
    runner, url = await serve(build_app(hub))
    await add_agent(hub.store, "wang@example.com", Role.ADMIN, PASSWORD, name="王芳")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield hub, url
    await runner.cleanup()
    await platform_runner.cleanup()


async def the_case(hub: Hub) -> Any:
    cases = await hub.services.records.query("disputes", "case", {})
    return cases[0] if cases else None


async def test_the_case_view_shows_both_sides_and_takes_a_decision_in_chinese(
    desk: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, url = desk
    await hub.ingest(
        Inbound(channel="app", external_id="b1", thread_key="u-buyer", sender=Sender("u-buyer"), text=BUYER_WORDS)
    )
    page = await sign_in(browser, url, "zh-CN")

    # An agent opens the case from the buyer's ticket.
    await page.locator("#conversations li").first.click()
    await page.click("#dispute-new")
    await page.fill("#dispute-new-order", "A-1001")
    await page.select_option("#dispute-new-reason", "not_received")
    await page.fill("#dispute-new-statement", BUYER_WORDS)
    await page.click("#dispute-new-submit")
    await expect(page.locator(".disputes.card .dispute-row")).to_contain_text("等待卖家")
    case = await the_case(hub)
    reference = case.data["reference"]

    await page.click("#open-disputes")
    row = page.locator("#dispute-list li", has_text=reference)
    await expect(row).to_contain_text("等待卖家")

    await hub.ingest(  # the seller answers on their own thread
        Inbound(
            channel="app",
            external_id="s1",
            thread_key=f"dispute-{case.id}",
            sender=Sender("u-seller"),
            text=SELLER_WORDS,
        )
    )

    async def seller_answered() -> bool:
        current = await hub.services.records.get("disputes", "case", case.id)
        return current is not None and current.status == "under_review"

    await eventually(seller_answered)
    await row.locator(".open-dispute").click()
    view = page.locator("#dispute")
    await expect(view.locator("#dispute-status")).to_have_text("审核中")
    await expect(view.locator(".dispute-side[data-party=seller]")).to_contain_text(SELLER_WORDS)
    # The buyer's words are the agent-typed statement (evidence); the thread before the case is no part of it.
    await expect(view.locator("#dispute-evidence li[data-party=buyer]")).to_contain_text(f"买家 · {BUYER_WORDS}")
    await expect(view.locator(".dispute-side[data-party=buyer]")).not_to_contain_text(BUYER_WORDS)
    await expect(view.locator(".dispute-side[data-party=seller]")).not_to_contain_text(BUYER_WORDS)
    await expect(view.locator("#dispute-evidence li[data-party=seller]")).to_contain_text(f"卖家 · {SELLER_WORDS}")
    await expect(view.locator("#dispute-proposal")).to_contain_text("7 天无物流退款")
    await expect(view.locator("#dispute-proposal")).to_contain_text("向买家全额退款")
    await expect(view.locator(".dispute-deadline")).to_have_count(1)
    await page.screenshot(path=str(ARTIFACTS / "dispute-case-zh.png"), full_page=True)

    await view.locator("#dispute-grounds").fill("卖家未提供物流单号")
    await view.locator("#dispute-decide-submit").click()
    await expect(view.locator("#dispute-status")).to_have_text("已裁决")
    await expect(view.locator("#dispute-refund-status")).to_contain_text("held")  # until the appeal window closes
    await expect(view.locator(".dispute-decision")).to_contain_text("卖家未提供物流单号")

    await view.locator(".dispute-side[data-party=buyer] h3 button").click()  # to the buyer's ticket
    await expect(page.locator(".disputes.card")).to_contain_text(reference)
    await expect(page.locator(".records")).to_have_count(0)  # no generic form for a case: it has its own view
    await expect(page.locator(".disputes.card")).to_contain_text("已裁决")


async def test_the_list_of_cases_awaiting_the_seller_in_english(desk: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = desk
    buyer = await hub.ingest(
        Inbound(channel="app", external_id="b1", thread_key="u-buyer", sender=Sender("u-buyer"), text="hello")
    )
    await eventually(lambda: not hub.pipeline._tasks)
    plugin: Any = hub.plugin_host.plugins["disputes"]
    ctx = await hub.plugin_host.context(hub.plugin_host.plugins["disputes"], buyer.conversation)
    order = await ctx.platform.order("A-1001")
    case = await plugin.open_case(ctx, order, "not_received", text=BUYER_WORDS, who="Wang")
    page = await sign_in(browser, url, "en")
    await page.click("#open-disputes")
    row = page.locator("#dispute-list li", has_text=case.data["reference"])
    await expect(row).to_contain_text("Awaiting the seller")
    await page.select_option("#dispute-filter", "closed")
    await expect(page.locator("#dispute-none")).to_have_text("No disputes here.")
    await page.select_option("#dispute-filter", "")  # any status
    await expect(row).to_contain_text("Awaiting the seller")
    await expect(row).to_contain_text("199.00 CNY")
    await row.locator(".open-dispute").click()
    await expect(page.locator("#dispute-proposal")).to_contain_text("Refund the buyer (rule: 7 天无物流退款)")
    await expect(page.locator(".dispute-deadline")).to_have_count(1)
