# ruff: noqa: F811  (the fixtures of tests/test_inbox_browser.py are imported by name)
"""Custom ticket fields in the inbox's sidebar, in a real browser (chromium through
Playwright), in Chinese: drawn from the category's definitions with their labels, edited
in place, a refused value or a resolve without the required fields said in the agent's
language, and nothing stored that the hub refused."""

from __future__ import annotations

from typing import Any

from hub.app import Hub
from tests.test_fields_api import AMOUNT, ORDER, REASON
from tests.test_inbox_browser import (  # noqa: F401  (fixtures, and the check for script errors)
    ARTIFACTS,
    browser,
    customer_writes,
    hub_url,
    no_script_errors,
    serious_accessibility_problems,
    sign_in,
)


async def stored_fields(hub: Hub, conversation_id: str) -> dict[str, str]:
    conversation = await hub.store.tickets.get_conversation(conversation_id)
    assert conversation is not None
    return conversation.fields


async def test_an_agent_edits_the_fields_in_the_sidebar_in_chinese(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    for definition in (ORDER, REASON, AMOUNT):
        await hub.services.fields.create("dispute", definition)
    record = await customer_writes(hub, "v1", "我付了两次钱")
    await hub.services.conversations.update_conversation(record.conversation, {"category": "dispute"})
    ticket = record.conversation.id
    await hub.services.contacts.update(record.contact.id, {"tier": "VIP"})

    page = await sign_in(browser, url, "zh-CN")
    await page.locator("#conversations li").first.click()
    fields = page.locator("#ticket-fields")
    await expect(fields.locator("legend")).to_have_text("字段")
    await expect(fields.locator("[data-field=order_no] > span")).to_have_text("订单号 *")
    await expect(fields.locator("[data-field=reason] > span")).to_have_text("原因")
    await expect(page.locator(".contact .tier")).to_have_text("vip")  # the platform's tier, beside the fields

    # resolving first: refused, the missing field named by its Chinese label, nothing changed
    await page.click("#resolve")
    notice = page.locator(".notice")
    await expect(notice).to_have_text("解决前请填写：订单号")
    # ...and so is a bulk resolve, which names the ticket
    await page.locator("#conversations li .tick").first.check()
    await page.select_option("#bulk-status", "resolved")
    await page.click("#bulk-status-apply")
    await expect(notice).to_contain_text(f"#{record.conversation.number}: 解决前请填写：订单号")
    assert (await hub.store.tickets.get_conversation(ticket)).status.value == "open"  # type: ignore[union-attr]

    # a value the pattern refuses: said in Chinese, not stored
    await page.fill("#field-order_no", "12345")
    await page.press("#field-order_no", "Tab")
    await expect(notice).to_have_text("订单号：订单号格式不正确")
    # kept to be corrected, marked invalid (a trial's refused value vanished)
    await expect(fields.locator("#field-order_no")).to_have_value("12345")
    await expect(fields.locator("#field-order_no")).to_have_attribute("aria-invalid", "true")
    assert await stored_fields(hub, ticket) == {}
    # someone else stores a value meanwhile: it replaces the refused draft (a review)
    stored = await hub.store.tickets.get_conversation(ticket)
    assert stored is not None
    await hub.services.conversations.update_by(stored, {"fields": {"order_no": "CD20240101"}}, who="Li", names={})
    await expect(fields.locator("#field-order_no")).to_have_value("CD20240101")
    await expect(fields.locator("#field-order_no")).not_to_have_attribute("aria-invalid", "true")

    await page.fill("#field-order_no", "12345")  # refused again, then put right at once:
    await page.press("#field-order_no", "Tab")
    await expect(notice).to_have_text("订单号：订单号格式不正确")
    await page.fill("#field-order_no", "AB20240917")
    await page.press("#field-order_no", "Tab")
    await expect(fields.locator("#field-order_no")).not_to_have_attribute("aria-invalid", "true")
    # the refusal's notice goes with it (well before it would time out after 5 s)
    await expect(notice).not_to_have_text("订单号：订单号格式不正确", timeout=2000)
    await page.select_option("#field-reason", "not_received")
    await page.fill("#field-amount", "12.5")
    await page.press("#field-amount", "Tab")
    await expect(fields.locator("#field-amount")).to_have_value("12.50")
    await expect(fields.locator("#field-reason option:checked")).to_have_text("未收到货")
    assert await stored_fields(hub, ticket) == {
        "amount": "12.50 CNY",
        "order_no": "AB20240917",
        "reason": "not_received",
    }
    await page.screenshot(path=str(ARTIFACTS / "fields-zh-CN.png"))
    assert await serious_accessibility_problems(page) == []

    await page.click("#resolve")
    await expect(page.locator("#attr-status")).to_have_value("resolved")


async def test_an_admin_adds_a_choice_field_to_a_category_in_chinese(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-admin")
    form = page.locator("#field-form")
    await form.locator("select[name=category]").select_option("dispute")
    await form.locator("input[name=key]").fill("channel_used")
    await form.locator("select[name=type]").select_option("choice")
    await form.locator("input[name=label_zh]").fill("下单渠道")
    await form.locator("input[name=label_en]").fill("Ordered via")
    await form.locator("input[name=extra]").fill("app=手机应用/App, web=网站/Website")
    await form.locator("input[name=required]").check()
    await form.locator("button[type=submit]").click()
    shown = page.locator("#field-definitions li[data-key=channel_used]")
    await expect(shown).to_contain_text("交易纠纷: 下单渠道")
    await expect(shown).to_contain_text("选项, 必填")
    (stored,) = await hub.store.fields.list_definitions()
    assert (stored.category_id, stored.required) == ("dispute", True)
    assert [(o.id, o.labels) for o in stored.options] == [
        ("app", {"zh-CN": "手机应用", "en": "App"}),
        ("web", {"zh-CN": "网站", "en": "Website"}),
    ]

    # a bad pattern is refused with the hub's reason, and nothing is added
    await form.locator("input[name=key]").fill("order_no")
    await form.locator("select[name=type]").select_option("order_number")
    await form.locator("input[name=label_zh]").fill("订单号")
    await form.locator("input[name=extra]").fill("([")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".notice")).to_contain_text("提交的内容有误，请检查后重试。")
    await expect(page.locator(".notice")).to_contain_text("pattern")  # and what is wrong, in the hub's words
    assert len(await hub.store.fields.list_definitions()) == 1
    await shown.locator("button").click()
    await expect(shown).to_have_count(0)
    assert await hub.store.fields.list_definitions() == []
