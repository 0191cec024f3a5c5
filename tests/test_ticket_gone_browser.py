"""A ticket open on an agent's screen that leaves their sight (escalated or moved to a team
they are not in) says so and offers nothing to do on it: a trial's agent kept a working reply
box on a ticket every call about now failed for (404 in the console)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.helpers import make_config, serve
from tests.test_e2e_browser import require_browser
from tests.test_inbox_browser import ARTIFACTS, PASSWORD, browser, customer_writes, no_script_errors, sign_in  # noqa: F401


@pytest.fixture
async def hub_url(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    require_browser()
    hub = Hub(make_config(tmp_path, {"channels": {"webchat": {"secret": "e2e-visitor-secret"}}}))
    runner, url = await serve(build_app(hub))
    agent = await add_agent(hub.store, "wang@example.com", Role.AGENT, PASSWORD, name="王芳")
    await hub.services.desk.update_team("customer-service", {"members": [agent.id]})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield hub, url
    await runner.cleanup()


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_a_ticket_moved_out_of_the_agents_sight_says_so_and_takes_no_reply(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
    language: str,
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    record = await customer_writes(hub, "v1", "我的账号被盗了")
    await hub.services.conversations.update_conversation(record.conversation, {"team": "customer-service"})
    page = await sign_in(browser, url, language)
    await page.locator("#conversations li").first.locator(".open").click()
    await expect(page.locator(".compose textarea")).to_be_visible()
    await page.fill(".compose textarea", "正在为您处理")

    ticket = await hub.store.tickets.get_conversation(record.conversation.id)
    assert ticket is not None
    # as an SLA escalation does: another team, whose router gives it to one of theirs (the
    # agent, online here, had been given it by the router)
    assert ticket.assignee_id
    await hub.services.conversations.update_conversation(ticket, {"team": "technical-support", "assignee_id": ""})

    said = {"zh-CN": "您已无法查看此工单", "en": "You can no longer see this ticket"}[language]
    await expect(page.get_by_role("alert").filter(has_text=said)).to_be_visible(timeout=10000)
    await expect(page.locator(".compose")).to_have_count(0)
    await expect(page.locator("#resolve")).to_have_count(0)
    await expect(page.locator("#attr-team")).to_be_disabled()  # nor anything in the sidebar
    await expect(page.locator("#conversations li")).to_have_count(0)
    await page.screenshot(path=str(ARTIFACTS / f"ticket-gone-{language}.png"))


async def test_moving_a_ticket_out_of_ones_own_sight_says_so_without_an_error(
    hub_url: tuple[Hub, str],
    browser: Any,  # noqa: F811
) -> None:
    """A trial's agent filed a ticket under another team's category: beside the right banner, a
    red "找不到该对象（可能已被删除）" said it might be deleted, and the sidebar kept the old team."""
    from playwright.async_api import expect

    hub, url = hub_url
    await customer_writes(hub, "v1", "我的退款还没到")  # no team yet: everyone's, routed to no one
    page = await sign_in(browser, url, "zh-CN")
    await page.locator("#conversations li").first.locator(".open").click()
    await page.select_option("#attr-team", "technical-support")
    await expect(page.get_by_role("alert").filter(has_text="您已无法查看此工单")).to_be_visible(timeout=10000)
    await expect(page.locator("#attr-team")).to_have_value("technical-support")  # as changed, greyed
    await page.wait_for_timeout(500)  # the refused reads of the moved ticket have come back
    assert await page.locator(".notice.error").count() == 0
