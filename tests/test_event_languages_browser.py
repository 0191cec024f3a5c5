"""System events in a thread are read in each agent's language (the key and parameters
the hub keeps beside the text), in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conversation.model import MessageKind, Status
from hub.app import Hub
from tests.test_inbox_browser import browser, customer_writes, hub_url, no_script_errors, sign_in

__all__ = ["browser", "hub_url", "no_script_errors"]  # fixtures, used by name


async def test_an_agents_change_reads_in_each_agents_language(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    record = await customer_writes(hub, "ev1", "我的订单还没到")
    await hub.actions.update_by(
        record.conversation, {"status": Status.RESOLVED, "priority": "urgent"}, who="Li Na", names={}
    )
    stored = [m for m in await hub.store.tickets.list_messages(record.conversation.id) if m.kind is MessageKind.EVENT]
    assert stored[0].text == "Li Na set the status to resolved"  # the hub's language, for API clients and search
    assert stored[0].raw == {"event": {"key": "event.status_changed", "params": {"who": "Li Na", "status": "resolved"}}}

    for language, said in [
        ("zh-CN", ["Li Na 将状态设为「已解决」", "Li Na 将优先级设为「紧急」"]),
        ("en", ["Li Na set the status to resolved", "Li Na set the priority to urgent"]),
    ]:
        page = await sign_in(browser, url, language)
        await page.click("[data-view=all]")
        await page.locator("#conversations li").first.click()
        await expect(page.locator(".thread .msg.event span")).to_have_text(said)
        await page.context.close()


async def test_a_snooze_event_shows_its_time_in_the_agents_zone(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    record = await customer_writes(hub, "sn1", "明天再联系")
    until = datetime(2030, 1, 2, 10, 30, tzinfo=UTC)
    await hub.actions.update_by(
        record.conversation, {"status": Status.SNOOZED, "snoozed_until": until}, who="Li Na", names={}
    )
    page = await sign_in(browser, url, "zh-CN")  # an agent in Asia/Shanghai: 10:30 UTC is 18:30
    await page.click("[data-view=all]")
    await page.locator("#conversations li").first.click()
    event = page.locator(".thread .msg.event span")
    await expect(event).to_contain_text("Li Na 将此工单暂缓至")
    await expect(event).to_contain_text("18:30")
    await expect(event).not_to_contain_text("UTC")
    await expect(page.locator(".snoozed-until")).to_contain_text("18:30")  # as the sidebar says it
