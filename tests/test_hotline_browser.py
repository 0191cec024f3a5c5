# ruff: noqa: F811  (the fixtures of tests/test_inbox_browser.py are imported by name)
"""Logging a hotline call from the inbox in a real browser (chromium), in Chinese, keyboard
first: the form, its errors, the phone ticket it opens, and the callback task it leaves."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from conversation.callbacks import CallbackStatus
from conversation.model import ConversationQuery
from hub.app import Hub
from tests.test_inbox_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    browser,
    catalog,
    hub_url,
    no_script_errors,
    serious_accessibility_problems,
    sign_in,
)


async def test_an_agent_logs_a_call_in_chinese_with_a_callback(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    words = catalog("zh-CN")
    page = await sign_in(browser, url, "zh-CN")
    await expect(page.locator("#log-call")).to_contain_text(words["call.log"])

    # The shortcut opens the form with the number field ready for typing.
    await page.keyboard.press("c")
    dialog = page.locator("#call-dialog")
    await expect(dialog).to_contain_text(words["call.title"])
    await expect(page.locator("#call-number")).to_be_focused()
    # its times are read in the browser's zone, and the form says which
    await expect(dialog.locator("label", has=page.locator("#call-started"))).to_contain_text("Asia/Shanghai 时间")

    # A number that is not one: the form says so and nothing is stored.
    await page.keyboard.type("12345")
    await page.click("#call-save")
    await expect(page.locator("#call-error")).to_contain_text("这不是有效的电话号码")
    items, _ = await hub.store.inbox.list_conversations(ConversationQuery())
    assert items == []

    await page.fill("#call-number", "138 1234 5678")
    await page.fill("#call-duration", "3")
    await page.select_option("#call-category", "dispute")
    await expect(page.locator("#call-category option[value=dispute]")).to_have_text("交易纠纷")
    await page.fill("#call-notes", "客户说付款被扣了两次")
    await page.select_option("#call-outcome", "callback")
    await expect(page.locator("#call-callback-due")).to_be_visible()
    await page.fill("#call-callback-due", "2030-01-02T15:30")
    await page.fill("#call-callback-note", "核实退款")
    await page.screenshot(path=str(ARTIFACTS / "hotline-call-zh-CN.png"))
    assert await serious_accessibility_problems(page) == []
    await page.locator("#call-notes").press("Enter")  # a new line in the notes, not a submit

    # The router gives the new phone ticket its team while the inbox is still opening it: the
    # card read before that change is read again (a trial's sidebar said "无团队" until a reload).
    served: list[str] = []

    async def stale_card(route: Any) -> None:
        if route.request.method != "GET" or served:
            await route.continue_()
            return
        response = await route.fetch()  # the ticket as it was when the inbox asked
        served.append(route.request.url)
        opened = await hub.store.tickets.get_conversation_by_number(1000)
        assert opened is not None
        await hub.services.conversations.update_conversation(opened, {"team": "technical-support"})
        await asyncio.sleep(0.5)  # its live event reaches the page before the answer does
        await route.fulfill(response=response)

    await page.route(re.compile(r".*/api/v1/conversations/[0-9a-f]+$"), stale_card)
    await page.click("#call-save")

    # The phone ticket opens with the call in the thread, said in Chinese.
    await expect(page.locator("#call-error")).to_have_count(0)
    await expect(dialog).to_have_count(0)
    await expect(page.locator("#detail h2").first).to_contain_text("#1000")
    thread = page.locator(".thread")
    await expect(thread).to_contain_text("客户说付款被扣了两次")
    await expect(thread).to_contain_text("记录了与 +8613812345678 的通话（呼入），180 秒：需回电")
    await expect(thread).to_contain_text("前回电 +8613812345678")
    # A phone ticket takes notes: the reply choice is off and the box says why.
    await expect(page.locator("input[name=mode][value=reply]")).to_be_disabled()
    await expect(page.locator("input[name=mode][value=note]")).to_be_checked()
    await expect(page.locator("#composer-notes-only")).to_contain_text("电话工单只能添加备注和回电任务")
    ticket = await hub.store.tickets.get_conversation_by_number(1000)
    assert ticket is not None and ticket.channel == "phone" and ticket.category == "dispute"
    # the views count it, and the sidebar shows the team it was given while it opened
    await expect(page.locator("#view-list [data-view=all] .count")).to_have_text("1")
    await expect(page.locator("#attr-team")).to_have_value("technical-support")
    assert served  # the card was read while the team changed
    await page.unroute(re.compile(r".*/api/v1/conversations/[0-9a-f]+$"))

    # The task is the agent's: counted in the left column, listed with its due time, done once.
    await expect(page.locator("#open-callbacks .count")).to_have_text("1")

    # When it falls due, the owner's inbox says so at once (and the thread has the event).
    hub.services.conversations.clock = lambda: datetime(2030, 1, 2, 8, tzinfo=UTC)
    assert await hub.services.hotline.raise_due() == 1
    await expect(page.locator(".notice")).to_contain_text("回电 +8613812345678 的时间到了")
    await expect(thread).to_contain_text("对 +8613812345678 的回电已到期")
    await page.click("#open-callbacks")
    rows = page.locator("#callback-list li")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("+8613812345678")
    await expect(rows.first).to_contain_text("#1000")
    await expect(rows.first).to_contain_text("核实退款")
    await expect(rows.first).to_contain_text("已逾期")
    assert await serious_accessibility_problems(page) == []
    await rows.first.locator("button.done").click()
    await expect(page.locator("#callbacks")).to_contain_text(words["callbacks.none"])
    tasks = await hub.store.callbacks.list_callbacks(status=CallbackStatus.DONE, owner_id=None)
    assert len(tasks) == 1 and tasks[0].note == "核实退款"
    assert tasks[0].due_at.isoformat() == "2030-01-02T07:30:00+00:00"  # 15:30 in Shanghai
