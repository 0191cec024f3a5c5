"""The hand-off control and the admin's role and team controls in a real browser, in zh-CN
(the fixtures are the inbox browser tests')."""

from __future__ import annotations

from typing import Any

from conversation.model import MessageKind
from hub.app import Hub
from tests.helpers import eventually
from tests.test_inbox_browser import (
    browser,
    customer_writes,
    hub_url,
    no_script_errors,
    serious_accessibility_problems,
    shown_number,
    sign_in,
)

__all__ = ["browser", "hub_url", "no_script_errors"]


async def test_an_agent_hands_a_ticket_to_another_team_from_the_inbox(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    record = await customer_writes(hub, "h1", "应用一打开就闪退")
    page = await sign_in(browser, url, "zh-CN")
    await page.locator("#conversations li").first.click()
    await expect(shown_number(page)).to_contain_text("#1000")
    await page.locator("#handoff summary").click()
    await page.select_option("#handoff-team", "technical-support")
    await page.fill("#handoff-reason", "需要工程师排查")
    await page.click("#handoff-submit")
    await expect(page.locator("#attr-team")).to_have_value("technical-support")
    thread = page.locator(".thread")
    await expect(thread).to_contain_text("将此工单转交给团队 技术支持")  # the name in her language
    await expect(thread).to_contain_text("需要工程师排查")
    notes = [m for m in await hub.store.tickets.list_messages(record.conversation.id) if m.kind is MessageKind.NOTE]
    assert [n.text for n in notes] == ["需要工程师排查"]
    assert await serious_accessibility_problems(page) == []


async def test_an_admin_sets_an_agents_role_and_teams_and_a_teams_visibility(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    li = await hub.store.accounts.get_agent_by_email("li@example.com")
    assert li is not None
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-admin")
    row = page.locator(f"#agents li[data-agent='{li.id}']")
    await row.locator(".agent-role").select_option("read-only")

    async def role_saved() -> bool:  # its answer redraws the row: a tick made before it could be undone
        found = await hub.store.accounts.get_agent(li.id)
        return found is not None and found.role.value == "read-only"

    await eventually(role_saved)
    await page.wait_for_timeout(200)  # the answer drawn
    await row.get_by_label("财务/退款").check()
    await expect(row.get_by_label("财务/退款")).to_be_checked()
    team = page.locator("#teams li[data-team=finance] .team-visibility")
    await team.select_option("assigned")
    await expect(team).to_have_value("assigned")

    async def saved() -> bool:
        changed, finance = await hub.store.accounts.get_agent(li.id), await hub.store.desk.get_team("finance")
        assert changed is not None and finance is not None
        return changed.role.value == "read-only" and li.id in finance.members and finance.visibility == "assigned"

    await eventually(saved)
