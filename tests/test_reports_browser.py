# ruff: noqa: F811  (the fixtures of tests/test_inbox_browser.py are imported by name)
"""The reports screen in a real browser, in Chinese: a supervisor's figures, the ECharts
charts, the per-agent table, a filter, the export links and a refused period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conversation.inbound import Sender
from conversation.reports import TicketFact
from tests.helpers import customer_message
from tests.test_inbox_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    browser,
    hub_url,
    no_script_errors,
    serious_accessibility_problems,
    sign_in,
)


async def test_a_supervisor_reads_the_reports_in_chinese(hub_url: Any, browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    lina = await hub.store.accounts.get_agent_by_email("li@example.com")
    assert lina is not None
    first = await hub.ingest(customer_message("m1", "我的订单没到", thread="t1", sender=Sender("u1")))
    await hub.ingest(customer_message("m2", "怎么退款", thread="t2", sender=Sender("u2")))
    await hub.store.tickets.update_conversation(
        first.conversation.id, {"team": "customer-service"}, now=datetime.now(UTC)
    )
    now = datetime.now(UTC) - timedelta(minutes=5)
    await hub.store.reports.save_fact(
        TicketFact(
            first.conversation.id,
            now,
            team="customer-service",
            agent_id=lina.id,
            first_response_at=now,
            first_response_s=90.0,
            first_responder_id=lina.id,
            resolved=True,
            resolved_at=now,
            first_resolved_at=now,
            resolution_s=7200.0,
            sla_met=True,
        )
    )

    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-reports")
    dialog = page.locator("dialog#reports")
    await expect(dialog.locator("h2")).to_have_text("报表")
    figures = dialog.locator("#report-figures")
    await expect(figures.locator("[data-figure=volume] dt")).to_have_text("新工单")
    await expect(figures.locator("[data-figure=volume] dd")).to_have_text("2")
    await expect(figures.locator("[data-figure=sla_met] dd")).to_have_text("100%")
    # review 18 #8: durations as precise as they need (90 s: 1.5 minutes; 7200 s: 2 hours)
    await expect(figures.locator("[data-figure=first_response_p50_s] dd")).to_have_text("1.5分钟")
    await expect(figures.locator("[data-figure=resolution_p50_s] dd")).to_have_text("2小时")
    # review 18 #7: the hub's [reports] timezone, not the browser's
    await expect(dialog.locator("#report-zone")).to_contain_text(hub.config.reports.timezone)
    # review 18 #10: channels named as the inbox's filter names them
    await expect(dialog.locator("#report-channel option[value=webchat]")).to_have_text("网页聊天")
    await expect(figures.locator("[data-figure=csat_average] dd")).to_have_text("—")
    await expect(dialog.locator("#report-agents tr[data-agent]")).to_contain_text("Li Na")
    for chart in ("#chart-hours", "#chart-days", "#chart-backlog"):
        await expect(dialog.locator(f"{chart}[data-drawn=true] canvas")).to_have_count(1)
    await expect(dialog.locator("#export-xlsx")).to_have_text("全部报表 (XLSX)")
    await page.screenshot(path=str(ARTIFACTS / "reports-zh-CN.png"))  # test-artifacts/inbox/
    assert await serious_accessibility_problems(page) == []

    href = await dialog.locator("a.export[data-table=agents]").get_attribute("href")
    assert href is not None and "format=csv" in href and "tz=" not in href  # the hub's zone
    download = await page.request.get(f"{url}{href}")
    assert download.status == 200 and "Li Na" in (await download.body()).decode("utf-8-sig")

    await dialog.locator("#report-team").select_option("customer-service")
    await expect(figures.locator("[data-figure=volume] dd")).to_have_text("1")
    await dialog.locator("#report-from").fill("2099-01-01")
    await expect(dialog.locator("#report-problem")).to_have_text("开始日期不能晚于结束日期。")
    await expect(figures).to_have_count(0)  # no figures of a period that does not exist


async def test_the_default_week_ends_on_the_hubs_today_not_the_browsers(hub_url: Any, browser: Any) -> None:
    """A supervisor in Los Angeles at 19:00 on 1 March reads a hub that counts days in UTC, where
    it is already 2 March: the default period ends on the hub's today, so a ticket of 2 March
    (UTC) is counted (it ended on the browser's date, the hub's yesterday, leaving it out)."""
    from playwright.async_api import expect

    from tests.store_contract.common import POLICY, inbound
    from tests.test_inbox_browser import PASSWORD

    hub, url = hub_url
    assert hub.config.reports.timezone == "UTC"
    await hub.store.tickets.record_inbound(
        inbound("m-la", thread="t-la"), now=datetime(2027, 3, 2, 2, tzinfo=UTC), policy=POLICY
    )
    context = await browser.new_context(locale="en", timezone_id="America/Los_Angeles")
    page = await context.new_page()
    await page.clock.set_fixed_time(datetime(2027, 3, 2, 3, tzinfo=UTC))  # 19:00 on 1 March in Los Angeles
    await page.goto(f"{url}/inbox/")
    await page.fill("input[name=email]", "wang@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.click("#open-reports")
    dialog = page.locator("dialog#reports")
    await expect(dialog.locator("#report-to")).to_have_value("2027-03-02")
    await expect(dialog.locator("#report-from")).to_have_value("2027-02-24")
    await expect(dialog.locator("#report-figures [data-figure=volume] dd")).to_have_text("1")
    await context.close()
