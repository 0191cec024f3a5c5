"""A plugin's records in the inbox sidebar, drawn from its JSON Schema (no per-plugin
front-end code), edited by an agent, in Chinese: labels from the schema's `x-title-zh-CN`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.helpers import eventually, make_config, serve
from tests.test_e2e_browser import require_browser
from tests.test_inbox_browser import ARTIFACTS, PASSWORD, browser, customer_writes, sign_in  # noqa: F401  (fixture)


@pytest.fixture
async def hub_url(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    require_browser()
    config = make_config(
        tmp_path, {"channels": {"webchat": {"secret": "e2e-visitor-secret"}}, "plugins": {"enabled": ["disputes"]}}
    )
    hub = Hub(config)
    runner, url = await serve(build_app(hub))
    await add_agent(hub.store, "wang@example.com", Role.ADMIN, PASSWORD, name="王芳")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield hub, url
    await runner.cleanup()


async def test_an_agent_edits_a_plugins_record_in_the_sidebar_in_chinese(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    record = await customer_writes(hub, "v1", "order A-1")
    await eventually(lambda: hub.services.records.query("disputes", "dispute", conversation_id=record.conversation.id))
    [dispute] = await hub.services.records.query("disputes", "dispute", conversation_id=record.conversation.id)

    page = await sign_in(browser, url, "zh-CN")
    await page.locator("#conversations li").first.locator(".open").click()
    form = page.locator(f".records .record[data-id='{dispute.id}']")
    await expect(form.locator("legend")).to_have_text("交易纠纷")
    await expect(form).to_contain_text("订单号")
    await expect(form.locator(f"#record-{dispute.id}-order")).to_have_value("A-1")
    await expect(form.locator(".record-status option")).to_have_text(["处理中", "等待客户", "已解决"])

    await form.locator(f"#record-{dispute.id}-amount").fill("30")
    await form.locator(f"#record-{dispute.id}-amount").press("Tab")
    await form.locator(f"#record-{dispute.id}-refund").check()
    await form.locator(".record-status").select_option("waiting")

    async def changed() -> bool:
        found = await hub.services.records.get("disputes", "dispute", dispute.id)
        return found is not None and found.status == "waiting" and found.data.get("amount") == 30

    await eventually(changed)
    stored = await hub.services.records.get("disputes", "dispute", dispute.id)
    assert stored is not None and stored.data == {"order": "A-1", "amount": 30, "refund": True}
    assert {c.who for c in stored.timeline[1:]} == {"王芳"}  # after the plugin that made it

    # typing in one field while another's save is on its way: the save's answer redraws the
    # form, and what is being typed stays (the form was once remounted and lost it)
    await expect(page.get_by_role("status").filter(has_text="已保存")).to_be_visible()
    answered = asyncio.Event()

    async def slow_save(route: Any) -> None:
        await asyncio.sleep(0.8)
        await route.continue_()
        answered.set()

    await page.route("**/records/disputes/dispute/*", slow_save)
    await form.locator(f"#record-{dispute.id}-amount").fill("31")
    await form.locator(f"#record-{dispute.id}-amount").press("Tab")
    await form.locator(f"#record-{dispute.id}-order").fill("A-1 补")
    await asyncio.wait_for(answered.wait(), 10)
    await eventually(lambda: _amount_is(hub, dispute.id, 31))
    await page.wait_for_timeout(300)  # the answer is drawn
    await expect(form.locator(f"#record-{dispute.id}-order")).to_have_value("A-1 补")
    await expect(form.locator(f"#record-{dispute.id}-order")).to_be_focused()
    await page.unroute("**/records/disputes/dispute/*")
    await form.locator(f"#record-{dispute.id}-order").press("Tab")
    await eventually(lambda: _order_is(hub, dispute.id, "A-1 补"))
    stored = await hub.services.records.get("disputes", "dispute", dispute.id)
    assert stored is not None

    # a value the schema refuses: the agent reads why, nothing changes, the value stays to correct
    await form.locator(f"#record-{dispute.id}-amount").fill("-5")
    await form.locator(f"#record-{dispute.id}-amount").press("Tab")
    await expect(page.locator(".notice.error")).to_be_visible()
    await expect(form.locator(f"#record-{dispute.id}-amount")).to_have_value("-5")
    await expect(form.locator(f"#record-{dispute.id}-amount")).to_have_attribute("aria-invalid", "true")
    assert (await hub.services.records.get("disputes", "dispute", dispute.id)) == stored

    # a new record from the schema's empty form
    await page.locator(".add-record[data-kind=dispute]").click()
    await page.locator("#new-dispute-order").fill("B-2")
    await page.locator("#new-dispute-order").press("Tab")
    await page.locator(".create-record").click()
    await expect(page.locator(".records .record:not(.new-record)")).to_have_count(2)
    orders = {r.data["order"] for r in await hub.services.records.query("disputes", "dispute")}
    assert orders == {"A-1 补", "B-2"}
    await page.screenshot(path=str(ARTIFACTS / "records-zh-CN.png"))


async def _amount_is(hub: Hub, record_id: str, amount: int) -> bool:
    found = await hub.services.records.get("disputes", "dispute", record_id)
    return found is not None and found.data.get("amount") == amount


async def _order_is(hub: Hub, record_id: str, order: str) -> bool:
    found = await hub.services.records.get("disputes", "dispute", record_id)
    return found is not None and found.data.get("order") == order
