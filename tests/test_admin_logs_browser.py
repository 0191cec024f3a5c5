# ruff: noqa: F811  (the fixtures of tests/test_inbox_browser.py are imported by name)
"""The admin screens for webhooks and the audit log, in a real browser, in Chinese: an admin
subscribes a URL, sees its secret once, and finds the change in the audit log."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.helpers import customer_message, eventually
from tests.test_inbox_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    browser,
    hub_url,
    no_script_errors,
    serious_accessibility_problems,
    sign_in,
)
from tests.test_webhooks import Receiver, receiver  # noqa: F401  (a fixture)


async def test_an_admin_subscribes_a_url_and_finds_it_in_the_audit_log(
    hub_url: Any, browser: Any, receiver: Receiver
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    # A receiver on this machine, and one attempt per delivery, so the log shows a failure at once.
    hub.services.webhooks.allow_http = hub.services.webhooks.allow_private = True
    hub.webhook_sender.settings = replace(
        hub.webhook_sender.settings, allow_http=True, allow_private_destinations=True, max_attempts=1
    )
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-webhooks")
    dialog = page.locator("dialog#webhooks")
    await expect(dialog.locator("h2")).to_have_text("外发 Webhook")
    await dialog.locator("input[name=url]").fill("https://hooks.example.com/helpline")
    await dialog.locator("input[name=events][value='message.created']").check()
    await dialog.locator("input[name=include_private]").check()
    await dialog.locator("button[type=submit]").click()
    row = dialog.locator("#webhook-list li").first
    await expect(row.locator(".url")).to_have_text("https://hooks.example.com/helpline")
    await expect(row.locator(".events")).to_have_text("ticket.created, ticket.updated, message.created")
    await expect(row).to_contain_text("含内部备注")
    secret = (await row.locator(".new-secret code").text_content()) or ""
    assert secret.startswith("whsec_")
    [stored] = await hub.store.webhooks.list_subscriptions()
    assert stored.secret == secret and stored.include_private
    await row.locator(".show-log").click()
    await expect(row.locator(".deliveries")).to_contain_text("暂无投递。")

    # The receiver is down: the delivery fails; it is back: the admin sends it again.
    await dialog.locator("button.close").click()
    await page.click("#open-webhooks")
    await dialog.locator("input[name=url]").fill(receiver.url)
    await dialog.locator("button[type=submit]").click()
    hook = dialog.locator("#webhook-list li", has_text=receiver.url)
    await expect(hook).to_be_visible()  # subscribed before the message comes (a slow browser's POST lands late)
    receiver.status = 503
    await hub.ingest(customer_message("m-1", "我的订单还没到"))
    await eventually(lambda: len(receiver.received) == 1)
    await hook.locator(".show-log").click()
    failed_row = hook.locator(".deliveries tr[data-status=failed]")
    await expect(failed_row).to_contain_text("失败")
    await expect(failed_row).to_contain_text("503")
    receiver.status = 200
    await failed_row.locator("button").click()
    await eventually(lambda: len(receiver.received) == 2)
    await hook.locator(".deliveries .pager button").last.click()  # refresh
    await expect(hook.locator(".deliveries tr[data-status=sent]")).to_contain_text("已送达")
    await page.screenshot(path=str(ARTIFACTS / "webhooks-zh-CN.png"))
    assert await serious_accessibility_problems(page) == []
    await dialog.locator("button.close").click()

    await page.click("#open-audit")
    audit = page.locator("dialog#audit")
    await expect(audit.locator("h2")).to_have_text("审计日志")
    created = audit.locator("#audit-log tr[data-action='webhook.create']", has_text="hooks.example.com")
    await expect(created).to_contain_text("添加 Webhook")
    await expect(created).to_contain_text("王芳")
    await expect(created).to_contain_text("https://hooks.example.com/helpline")
    await expect(audit.locator("#audit-log")).not_to_contain_text(secret)
    await expect(audit.locator("#audit-log tr[data-action='webhook.redeliver']")).to_contain_text("重新发送 Webhook")
    await audit.locator("#audit-action").select_option("auth.*")
    await expect(audit.locator("#audit-log tbody tr")).to_have_count(1)
    await expect(audit.locator("#audit-log tbody tr")).to_contain_text("登录")
    await page.screenshot(path=str(ARTIFACTS / "audit-zh-CN.png"))
    assert await serious_accessibility_problems(page) == []
