# ruff: noqa: F811  (the fixtures of tests/test_inbox_browser.py are imported by name)
"""Teams and categories in the inbox, in a real browser (chromium), in Chinese: the admin
creates, renames and deletes them (a team still in use is refused, and the screen says so),
and every screen names teams, categories and tickets the way agents know them, not by id."""

from __future__ import annotations

from typing import Any

from conversation.audit import AuditQuery
from conversation.model import Priority
from hub.app import Hub
from tests.helpers import eventually
from tests.test_inbox_browser import (  # noqa: F401  (fixtures, and the check for script errors)
    ARTIFACTS,
    browser,
    customer_writes,
    hub_url,
    no_script_errors,
    serious_accessibility_problems,
    sign_in,
)


async def test_an_admin_creates_renames_and_deletes_teams_and_categories_in_chinese(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-admin")

    # a new team, named in both languages
    form = page.locator("#team-form")
    await form.locator("input[name=id]").fill("vip")
    await form.locator("input[name=name_zh]").fill("贵宾服务")
    await form.locator("input[name=name_en]").fill("VIP care")
    await form.locator("button[type=submit]").click()
    vip = page.locator("#teams li[data-team=vip]")
    await expect(vip.locator("input[name=name_zh]")).to_have_value("贵宾服务")
    # ...renamed in place
    await vip.locator("input[name=name_zh]").fill("贵宾客服")
    await vip.locator("button.save").click()
    await eventually(lambda: has_names(hub, "vip", {"zh-CN": "贵宾客服", "en": "VIP care"}))

    # a sub-category under 交易纠纷, its default team and priority picked by name
    form = page.locator("#category-form")
    await form.locator("input[name=id]").fill("refund-delay")
    await form.locator("input[name=name_zh]").fill("退款延迟")
    await form.locator("input[name=name_en]").fill("Refund delay")
    await form.locator("select[name=parent_id]").select_option(label="交易纠纷")
    await form.locator("select[name=default_team]").select_option(label="贵宾客服")
    await form.locator("select[name=default_priority]").select_option(label="高")
    await form.locator("button[type=submit]").click()
    sub = page.locator("#categories li[data-category=refund-delay]")
    await expect(sub).to_have_attribute("data-depth", "1")
    category = await hub.store.desk.get_category("refund-delay")
    assert category is not None
    assert (category.parent_id, category.default_team, category.default_priority) == ("dispute", "vip", Priority.HIGH)
    assert category.names == {"zh-CN": "退款延迟", "en": "Refund delay"}
    # the other admin forms list the new team and category at once
    await expect(page.locator("#calendar-team option[value=vip]")).to_have_text("贵宾客服")
    field_category = page.locator("#field-form select[name=category] option[value=refund-delay]")
    await expect(field_category).to_contain_text("退款延迟")
    # the tree lists it right under its parent
    rows = await page.locator("#categories li").evaluate_all("(lis) => lis.map((li) => li.dataset.category)")
    assert rows[rows.index("dispute") + 1] == "refund-delay"

    # ...renamed in English, moved to the top level
    await sub.locator("input[name=name_en]").fill("Late refund")
    await sub.locator("select[name=parent_id]").select_option("")
    await sub.locator("button.save").click()
    await expect(sub).to_have_attribute("data-depth", "0")
    moved = await hub.store.desk.get_category("refund-delay")
    assert moved is not None and moved.parent_id is None and moved.names["en"] == "Late refund"
    assert moved.default_team == "vip"  # what the form did not change stays

    # a team a category still names: the hub's 409 is said beside it, and the team stays
    vip_delete = vip.locator("button.delete")
    await vip_delete.click()
    await expect(vip.locator("[role=alert]")).to_contain_text("无法删除“贵宾客服”：仍在使用中。")
    await expect(vip.locator("[role=alert] .reason")).to_contain_text("refund-delay")  # what uses it
    assert await hub.store.desk.get_team("vip") is not None

    # the sub-category goes, then the team can
    await sub.locator("button.delete").click()
    await expect(sub).to_have_count(0)
    await vip_delete.click()
    await expect(vip).to_have_count(0)
    assert await hub.store.desk.get_team("vip") is None

    await page.screenshot(path=str(ARTIFACTS / "desk-admin-zh-CN.png"))
    assert await serious_accessibility_problems(page) == []


async def has_names(hub: Hub, team_id: str, names: dict[str, str]) -> bool:
    team = await hub.store.desk.get_team(team_id)
    return team is not None and team.names == names


async def chinese_inbox(hub_url: tuple[Hub, str], browser: Any) -> tuple[Hub, Any, Any]:
    """A hub with 退款延迟 under 交易纠纷 and one web-chat ticket, its agent signed in in Chinese."""
    hub, url = hub_url
    await hub.services.desk.create_category(
        {"id": "refund-delay", "names": {"zh-CN": "退款延迟", "en": "Refund delay"}, "parent_id": "dispute"}
    )
    record = await customer_writes(hub, "v1", "退款还没到账")
    return hub, await sign_in(browser, url, "zh-CN"), record


async def test_the_sidebar_names_team_and_category_in_chinese_and_keeps_ids_as_values(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, page, record = await chinese_inbox(hub_url, browser)
    await page.locator("#conversations li").first.click()
    await page.select_option("#attr-category", "dispute")
    await expect(page.locator("#attr-category option:checked")).to_have_text("交易纠纷")
    await expect(page.locator("#attr-team option:checked")).to_have_text("财务/退款")  # the category's default
    await expect(page.locator("#attr-team")).to_have_value("finance")
    stored = await hub.store.tickets.get_conversation(record.conversation.id)
    assert stored is not None and (stored.category, stored.team) == ("dispute", "finance")


async def test_the_channel_filter_lists_only_the_configured_channels(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    _hub, page, _record = await chinese_inbox(hub_url, browser)
    # web chat and the tests' recording channel "chat", and the hotline's phone; no email,
    # Telegram or Slack, which this hub does not have
    options = page.locator("#filter-channel option")
    await expect(options).to_have_count(4)
    assert await options.evaluate_all("(os) => os.map((o) => o.value)") == ["", "chat", "webchat", "phone"]
    await expect(page.locator("#filter-channel option[value=webchat]")).to_have_text("网页聊天")


async def test_the_call_form_lists_a_subcategory_indented_under_its_parent(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    _hub, page, _record = await chinese_inbox(hub_url, browser)
    await page.click("#log-call")
    sub = page.locator("#call-category option[value=refund-delay]")
    await expect(sub).to_have_count(1)
    values = await page.locator("#call-category option").evaluate_all("(os) => os.map((o) => o.value)")
    assert values[values.index("dispute") + 1] == "refund-delay"
    text = (await sub.text_content()) or ""
    assert text.startswith("\u00a0") and text.strip(" \u00a0└") == "退款延迟"


async def test_the_audit_page_names_a_ticket_by_its_number(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, page, record = await chinese_inbox(hub_url, browser)
    await page.locator("#conversations li").first.click()
    await page.select_option("#attr-priority", "low")  # a change the log records
    await eventually(lambda: hub.store.audit.list_entries(AuditQuery(target_id=record.conversation.id)))
    await page.click("#open-audit")
    row = page.locator("#audit-log tr[data-action='ticket.update']").first
    await expect(row.locator(".ticket")).to_have_text(f"工单 #{record.conversation.number}")


async def test_the_role_agent_and_the_team_customer_service_read_differently(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    _hub, url = hub_url
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-admin")
    li_na = page.locator("#agents li", has_text="Li Na")
    await expect(li_na.locator("select.agent-role option[value=agent]")).to_have_text("坐席")
    team = li_na.locator(".agent-teams label", has=page.locator("input[value=customer-service]"))
    await expect(team).to_have_text("客服")
