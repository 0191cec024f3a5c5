"""The roster week view in a real browser (chromium through Playwright), in Chinese: the week by
day in the team's time zone, backup duty marked, the coverage gaps, adding a shift, presence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from conversation.paging import Page
from hub.app import Hub
from tests.test_inbox_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    browser,
    hub_url,
    no_script_errors,
    serious_accessibility_problems,
    sign_in,
)

TEAM = "customer-service"


async def test_the_roster_week_in_chinese(hub_url: tuple[Hub, str], browser: Any) -> None:  # noqa: F811
    from playwright.async_api import expect

    hub, url = hub_url
    li = await hub.store.accounts.get_agent_by_email("li@example.com")
    wang = await hub.store.accounts.get_agent_by_email("wang@example.com")
    assert li is not None and wang is not None
    roster = hub.services.roster
    await roster.update_team_settings(TEAM, {"timezone": "Asia/Shanghai", "min_on_shift": 1})
    await roster.create_entry(
        TEAM,
        {
            "kind": "pattern",
            "label": "早班",
            "agents": [li.id],
            "start": "08:00",
            "end": "16:00",
            "weekdays": "mon-sun",
        },
    )
    await roster.create_entry(
        TEAM,
        {
            "kind": "pattern",
            "label": "周末前备班",
            "duty": "backup",
            "agents": [wang.id],
            "start": "08:00",
            "end": "20:00",
            "weekdays": "mon-fri",
        },
    )

    # a page from earlier today (logged as the routing sweep logs them)
    await hub.store.roster.add_page(
        Page("p1", TEAM, wang.id, "queue", {"depth": "12", "threshold": "10"}, datetime.now(UTC), "", "")
    )
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-roster")
    dialog = page.locator("dialog#roster")
    await expect(dialog.locator("h2")).to_have_text("排班表")
    await expect(page.locator(f'#roster-team option[value="{TEAM}"]')).to_have_count(1)  # an admin: every team
    await page.select_option("#roster-team", TEAM)
    week = page.locator("#roster-week")
    await expect(week.locator("th")).to_have_count(7)
    await expect(week.locator("th").first).to_contain_text("周一")
    early = week.locator("li.duty.shift")
    await expect(early).to_have_count(7)
    await expect(early.first).to_contain_text("早班")
    await expect(early.first).to_contain_text("08:00–16:00")  # the team's time, Asia/Shanghai
    await expect(early.first).to_contain_text("Li Na")
    backup = week.locator("li.duty.backup")
    await expect(backup).to_have_count(5)
    await expect(backup.first).to_contain_text("周末前备班")
    await expect(backup.first).to_contain_text("王芳")
    await expect(backup.first.locator(".tag")).to_have_text("备班")
    # 16:00-08:00 nobody is on shift: the coverage check says so before it happens
    gaps = page.locator("#roster-gaps li")
    await expect(gaps.first).to_contain_text("当班 0 人（最少 1 人）")
    await expect(page.locator("#roster-pages li")).to_contain_text(
        "已呼叫备班 王芳：客服组有 12 个工单在等待（超过 10）"  # no space before 组
    )
    await page.screenshot(path=str(ARTIFACTS / "roster-week-zh-CN.png"), full_page=True)
    assert await serious_accessibility_problems(page) == []

    # an admin adds a night shift from the form; the gaps close
    form = page.locator("#roster-entry-form")
    await form.locator("select[name=agents]").select_option(label="王芳")
    await form.locator("input[name=label]").fill("夜班")
    await form.locator("input[name=start]").fill("16:00")
    await form.locator("input[name=end]").fill("08:00")
    for day in ("一", "二", "三", "四", "五", "六", "日"):
        await form.locator("label", has_text=day).locator("input").check()
    await form.locator("button[type=submit]").click()
    await expect(week.locator("li.duty.shift", has_text="夜班")).to_have_count(7)
    await expect(page.locator("#roster-covered")).to_have_text("每个小时至少有 1 人当班。")
    # A team with no roster is not "short every hour" (a trial): it has no shift model.
    await page.select_option("#roster-team", "technical-support")
    await expect(page.locator("#roster-unrostered")).to_have_text("该团队没有排班：在线的成员随时接单。")
    await expect(page.locator("#roster-gaps")).to_have_count(0)
    await page.select_option("#roster-team", TEAM)
    await expect(week.locator("li.duty.shift", has_text="夜班")).to_have_count(7)
    # a swap: 王芳 takes Li Na's early shift on this week's Wednesday
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    wednesday = today - timedelta(days=today.weekday()) + timedelta(days=2)
    await form.locator("select[name=kind]").select_option("swap")
    await form.locator("select[name=agents]").select_option(label="王芳")
    await form.locator("select[name=pattern]").select_option(label="早班")
    await form.locator("select[name=replaces]").select_option(label="Li Na")
    await form.locator("input[name=date]").fill(wednesday.isoformat())
    await form.locator("button[type=submit]").click()
    swapped = week.locator(f'td[data-day="{wednesday.isoformat()}"] li.duty.shift', has_text="早班")
    await expect(swapped).to_contain_text("王芳")
    await expect(week.locator("li.duty.shift", has_text="早班").filter(has_text="Li Na")).to_have_count(6)
    # the entry list says whose shift the swap takes, and keeps its parts apart
    await expect(page.locator("#roster-entries li", has_text="换班")).to_contain_text(
        f"换班 {wednesday.isoformat()}：王芳 替 Li Na 上「早班」"
    )
    await expect(page.locator("#roster-entries li", has_text="夜班")).to_contain_text("夜班 · 16:00–08:00 · 王芳")
    # which entries are backup duty, and a whole day ends at 24:00 (a trial read "00:00–00:00")
    await expect(page.locator("#roster-entries li", has_text="周末前备班")).to_contain_text(
        "固定班次 · 备班 · 周末前备班"
    )
    await roster.create_entry(
        TEAM,
        {
            "kind": "pattern",
            "label": "全天备班",
            "duty": "backup",
            "agents": [li.id],
            "start": "00:00",
            "end": "00:00",
            "weekdays": "sat-sun",
        },
    )
    await page.select_option("#roster-team", "technical-support")
    await page.select_option("#roster-team", TEAM)
    await expect(page.locator("#roster-entries li", has_text="全天备班")).to_contain_text("00:00–24:00")
    await page.click("#roster-next")
    await expect(week.locator("li.duty.shift", has_text="夜班")).to_have_count(7)

    # presence: the agent's own choice, stored for every hub process
    await page.locator("dialog#roster .close").click()
    await page.select_option("#presence", "away")
    await _eventually_state(roster, wang.id, "away")


async def _eventually_state(roster: Any, agent_id: str, state: str) -> None:
    from tests.helpers import eventually

    async def reached() -> bool:
        return bool((await roster.presence()).get(agent_id) == state)

    await eventually(reached)


async def test_a_refused_roster_csv_says_which_line_and_why_beside_the_form(
    hub_url: tuple[Hub, str],  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-roster")
    await page.select_option("#roster-team", TEAM)
    form = page.locator("#roster-import")
    csv = (
        "kind,agents,weekdays,start,end\n"
        "pattern,wang@example.com,mon-fri,08:00,16:00\n"
        "pattern,nobody@example.com,mon,08:00,16:00\n"
    )
    await form.locator("textarea[name=csv]").fill(csv)
    await form.locator("button[type=submit]").click()
    error = page.locator("#roster-import-error")
    await expect(error).to_contain_text("第 3 行未通过")
    await expect(error).to_contain_text("nobody@example.com")
    assert await hub.store.roster.list_entries(TEAM) == []  # nothing of the file was kept
    await form.locator("textarea[name=csv]").fill(csv.rsplit("pattern,nobody", 1)[0])
    await form.locator("button[type=submit]").click()
    await expect(error).to_have_count(0)  # the next try clears it
    await expect(page.locator("#roster-entries li")).to_have_count(1)


async def test_the_roster_opens_on_the_team_a_supervisor_leads_and_lists_only_their_teams(
    hub_url: tuple[Hub, str],  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    """Not the first team by name: the one they lead; other teams' rosters are not offered, and
    the supervisor edits their own team's roster."""
    from playwright.async_api import expect

    from conversation.model import Role
    from hub.agents import add_agent
    from tests.test_inbox_browser import PASSWORD

    hub, url = hub_url
    lead = await add_agent(hub.store, "lead@example.com", Role.SUPERVISOR, PASSWORD, name="组长")
    await hub.services.desk.add_member("technical-support", lead.id)
    await hub.services.desk.add_member("finance", lead.id)
    await hub.services.desk.update_team("technical-support", {"lead": lead.id})  # after finance by name
    page = await sign_in(browser, url, "zh-CN", email="lead@example.com")
    await page.click("#open-roster")
    await expect(page.locator("#roster-team")).to_have_value("technical-support")
    options = page.locator("#roster-team option")
    await expect(options).to_have_count(2)
    await expect(page.locator("#roster-entry-form")).to_be_visible()  # a supervisor of the team: edits it
