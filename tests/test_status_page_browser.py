"""A customer's status page in a real browser, in zh-CN and without JavaScript: the
ticket, its public messages, a reply sent from the form and seen by the agents."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conversation.model import AuthorType, Direction
from hub.app import Hub, build_app
from tests.helpers import GREETING_ALWAYS_OPEN, customer_message, eventually, make_config, serve
from tests.test_e2e_browser import require_browser
from tests.test_inbox_browser import ARTIFACTS, browser

__all__ = ["browser"]  # a fixture, used by name

PUBLIC = "https://help.example.com"


@pytest.fixture
async def hub_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Hub, str]]:
    require_browser()
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    config = make_config(
        tmp_path,
        {
            "hub": {"public_url": PUBLIC},
            "status_page": {"enabled": True, "secret": "env:HELPLINE_STATUS_SECRET"},
            "plugins": {"enabled": ["progress", "greeting"], "greeting": GREETING_ALWAYS_OPEN},
        },
    )
    hub = Hub(config)
    runner, url = await serve(build_app(hub))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield hub, url
    await runner.cleanup()


async def test_the_customer_reads_and_answers_the_ticket_in_chinese_without_javascript(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    await hub.ingest(customer_message("m1", "我的订单一直没到"))
    await eventually(lambda: hub.adapters["chat"].sent)
    link = re.search(rf"{re.escape(PUBLIC)}(/status/\S+)", hub.adapters["chat"].sent[0].message.text)
    assert link is not None
    ticket = await hub.store.tickets.get_conversation_by_number(1000)
    assert ticket is not None
    ticket = await hub.services.conversations.update_by(ticket, {"team": "finance"}, who="王芳", names={})
    await hub.services.conversations.send(ticket, "我们已联系仓库。", author_type=AuthorType.AGENT, author_id="a1")

    context = await browser.new_context(locale="zh-CN", java_script_enabled=False)
    page = await context.new_page()
    await page.goto(url + link.group(1).split("?")[0])  # no ?lang: the browser's Accept-Language decides
    await expect(page.locator("h1")).to_have_text("工单 #1000")
    await expect(page.locator("#status")).to_have_text("处理中")
    await expect(page.locator("#team")).to_have_text("财务/退款")
    await expect(page.locator("ol li .text")).to_have_text(
        ["我的订单一直没到", re.compile("感谢您联系我们"), "我们已联系仓库。"]
    )

    await page.fill("textarea[name=text]", "还是没有收到，请尽快处理")
    await page.click("button[type=submit]")
    await expect(page.locator(".notice")).to_have_text("谢谢，您的消息已添加到工单。")
    await expect(page.locator("ol li .text").last).to_have_text("还是没有收到，请尽快处理")
    await page.screenshot(path=str(ARTIFACTS / "status-page-zh.png"), full_page=True)

    thread = await hub.store.tickets.list_messages(ticket.id)
    assert [m.text for m in thread if m.direction is Direction.INBOUND][-1] == "还是没有收到，请尽快处理"

    await page.click("header a")  # the language switch
    await expect(page.locator("h1")).to_have_text("Ticket #1000")
    await context.close()
