"""SLA clocks in the inbox, in Chinese, in a real browser: a badge on each list row and every
clock in the ticket's header. Screenshots go to test-artifacts/inbox/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conversation.model import AuthorType, ConversationQuery, Role, utcnow
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.helpers import make_config, serve
from tests.test_e2e_browser import require_browser
from tests.test_inbox_browser import (
    ARTIFACTS,
    PASSWORD,
    catalog,
    customer_writes,
    serious_accessibility_problems,
    sign_in,
)
from tests.test_inbox_browser import browser as browser  # noqa: F401  (the fixture, shared)

EXAMPLE = Path(__file__).resolve().parent.parent / "hub" / "calendars" / "cn-public-holidays-2027.example.ics"
SLA = {
    "policies": {"standard": {"first_response_minutes": 60, "next_response_minutes": 120, "resolution_minutes": 480}}
}


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
    assert await serious_accessibility_problems(page) == []

    # An agent's reply: the header's first-response clock says met at once (a trial's header
    # still counted down after the reply, while the list had moved on to the resolution clock).
    ticket = (await hub.store.inbox.list_conversations(ConversationQuery(search="订单一直没到", limit=1)))[0][0]
    agent = await hub.store.accounts.get_agent_by_email("wang@example.com")
    assert agent is not None
    await hub.services.conversations.send(ticket, "我们查一下", author_type=AuthorType.AGENT, author_id=agent.id)
    await expect(clocks.locator("[data-kind=first_response]")).to_contain_text(zh["sla.met"])
    hub.pipeline.clock = utcnow
    await customer_writes(hub, "s1", "还有一个问题")  # the next response is due now
    await expect(clocks.locator("[data-kind=next_response]")).to_contain_text("剩余")
    # Resolved without another answer: that clock stops, and is no longer shown as "paused"
    # beside "resolution met" (a trial)
    await hub.services.conversations.update_conversation(
        await hub.store.tickets.get_conversation(ticket.id), {"status": "resolved"}
    )
    await expect(clocks.locator("[data-kind=resolution]")).to_contain_text(zh["sla.met"])
    await expect(clocks.locator("[data-kind=next_response]")).to_have_count(0)
    row = rows.filter(has_text="订单一直没到")
    await expect(row).to_have_count(0)  # resolved: out of the open view
    # Twenty seconds overdue reads "1 分钟", not "0 分钟" (formatSpan rounds up).
    assert await page.evaluate("async () => (await import('/inbox/assets/lib/i18n.js')).formatSpan(-20)") == "1分钟"


async def test_an_admin_sets_a_team_calendar_and_imports_holidays_in_chinese(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    zh = catalog("zh-CN")
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-admin")
    section = page.locator("#team-calendars")
    await expect(section).to_contain_text(zh["calendar.title"])
    await expect(section.locator("#calendar-status")).to_contain_text(zh["calendar.always_open"])
    await section.locator("#calendar-team").select_option("customer-service")
    form = section.locator("#calendar-form")
    await form.locator("input[name=hours-mon]").fill("09:00-18:00")
    await form.locator("input[name=hours-fri]").fill("09:00-12:00, 22:00-06:00")
    await form.locator("textarea[name=holidays]").fill("2027-10-01 国庆节")
    await form.locator("button[type=submit]").click()
    await expect(section.locator("#calendar-status")).not_to_contain_text(zh["calendar.always_open"])
    # The next opening is said in the team's zone, named (a trial in a UTC browser read "01:00").
    said = await page.evaluate(
        "async () => (await import('/inbox/assets/lib/i18n.js')).formatFull('2026-11-30T01:00:00Z', 'Asia/Shanghai')"
    )
    assert "09:00" in said and "GMT+8" in said, said
    saved = await hub.store.calendars.get_calendar("customer-service")
    assert saved is not None and saved.timezone == "Asia/Shanghai"
    assert [str(s) for s in saved.weekly[4]] == ["09:00-12:00", "22:00-06:00"]
    assert {d.isoformat(): n for d, n in saved.holidays.items()} == {"2027-10-01": "国庆节"}

    await section.locator("#calendar-ics").set_input_files(str(EXAMPLE))
    await expect(section.locator("textarea[name=workdays]")).to_have_value(re.compile("2027-10-09 国庆节调休"))
    imported = await hub.store.calendars.get_calendar("customer-service")
    assert imported is not None and len(imported.holidays) > 20 and imported.workdays
    # said, with the counts (an admin's trial saw the dates appear with no word)
    notice = f"已导入：共 {len(imported.holidays)} 个节假日、{len(imported.workdays)} 个调休上班日"
    await expect(page.locator(".notice")).to_contain_text(notice)
    await page.screenshot(path=str(ARTIFACTS / "team-calendar-zh-CN.png"))
    assert await serious_accessibility_problems(page) == []


async def test_what_an_admin_types_into_a_calendar_survives_the_inbox_updating(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
) -> None:
    """A message arriving re-renders the whole inbox; the calendar form keeps the admin's typing
    (its fields were bound to the saved calendar, so any update wiped them: a flaky test found it)."""
    from playwright.async_api import expect

    from tests.helpers import customer_message

    hub, url = hub_url
    page = await sign_in(browser, url, "en")
    await page.click("#open-admin")
    form = page.locator("#team-calendars #calendar-form")
    await expect(form).to_be_visible()
    await form.locator("input[name=hours-tue]").fill("10:00-16:00")
    await form.locator("select[name=makeup_weekday]").select_option("sat")
    await hub.ingest(customer_message("m-calendar", "hello", thread="t-calendar"))
    await expect(page.locator("#conversations li").first).to_contain_text("hello")  # the inbox re-rendered
    await expect(form.locator("input[name=hours-tue]")).to_have_value("10:00-16:00")
    await expect(form.locator("select[name=makeup_weekday]")).to_have_value("sat")


async def test_a_search_being_typed_survives_a_message_arriving(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
) -> None:
    """The search box kept only the committed query: a live message mid-word wiped the typing."""
    from playwright.async_api import expect

    from tests.helpers import customer_message

    hub, url = hub_url
    page = await sign_in(browser, url, "en")
    await page.locator("#search").type("refund ord")  # not committed yet: no Enter
    await hub.ingest(customer_message("m-typing", "hello", thread="t-typing"))
    await expect(page.locator("#conversations li").first).to_contain_text("hello")
    await expect(page.locator("#search")).to_have_value("refund ord")


async def test_a_busy_ticket_fits_a_1366_pixel_window_in_english(hub_url: tuple[Hub, str], browser: Any) -> None:  # noqa: F811
    """A supervisor's trial at 1366x800 in English: the customer's name in the list shrank to
    "u…" beside the priority and SLA badges, and the ticket's sidebar ran past the window."""
    from hub.sdk import Sender
    from tests.helpers import customer_message

    hub, url = hub_url
    sender = Sender("user-8", display_name="Visitor 5bc1")
    hub.pipeline.clock = lambda: utcnow() - timedelta(minutes=50)
    first = await hub.ingest(
        customer_message("b1", "I want a refund for order 123456789012", thread="t-1", sender=sender)
    )
    second = await hub.ingest(customer_message("b2", "Also my coupon did not apply", thread="t-2", sender=sender))
    greeting = "感谢您联系我们。您的工单号是 #1001，可以随时向我们询问进展。我们的客服团队现在不在线。"
    await hub.services.conversations.send(second.conversation, greeting, author_type=AuthorType.AGENT, author_id="x")
    boss = await hub.store.accounts.get_agent_by_email("wang@example.com")
    assert boss is not None
    changes = {"priority": "high", "assignee_id": boss.id}
    await hub.services.conversations.update_by(first.conversation, changes, who="Li", names={})
    context = await browser.new_context(viewport={"width": 1366, "height": 800}, locale="en")
    page = await context.new_page()
    await page.goto(f"{url}/inbox/")
    await page.fill("input[name=email]", "wang@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    rows = page.locator("#conversations li")
    await rows.filter(has_text="refund").locator("button.open").click()
    await page.locator(".ticket-head .sla-clocks").wait_for()
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(ARTIFACTS / "busy-ticket-1366-en.png"))
    names = await rows.locator(".who").evaluate_all("(es) => es.map((e) => e.getBoundingClientRect().width)")
    assert min(names) >= 85, names  # "Visitor 5bc1" whole, not "Visitor 5…" or "u…"
    beyond = await page.evaluate(
        """() => [...document.querySelectorAll('main *, aside *, nav *')].filter((e) => {
          const r = e.getBoundingClientRect();
          return r.width > 0 && r.right > document.documentElement.clientWidth + 1;
        }).map((e) => e.tagName + '.' + e.className)"""
    )
    assert beyond == [], beyond
    await context.close()


async def test_running_clocks_are_fetched_again_each_minute_and_when_a_hidden_tab_is_shown(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
) -> None:
    """A supervisor's trial read "0 min left" long after the deadline: shown running clocks
    are asked for again each minute (the list and the open ticket), and at once when a tab that
    was hidden is shown again."""
    from playwright.async_api import expect

    from tests.helpers import eventually

    hub, url = hub_url
    record = await customer_writes(hub, "t1", "订单一直没到")
    card = f"/api/v1/conversations/{record.conversation.id}"
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = await context.new_page()
    await page.clock.install()
    await page.goto(f"{url}/inbox/")
    await page.fill("input[name=email]", "wang@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.locator("#conversations li .open").first.click()
    await expect(page.locator(".ticket-head .sla-clocks")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/conversations" in r.url else None)
    await page.clock.run_for(61_000)
    await eventually(lambda: any("/api/v1/conversations?" in u for u in asked))  # the list
    await eventually(lambda: any(u.endswith(card) for u in asked))  # the open ticket
    asked.clear()
    await page.evaluate(
        """() => { Object.defineProperty(document, "hidden", { value: false, configurable: true });
                   document.dispatchEvent(new Event("visibilitychange")); }"""
    )
    await eventually(lambda: any("/api/v1/conversations?" in u for u in asked))
    await context.close()
