"""A QA review in the inbox in Chinese, in a real browser: the reviewer draws the week's
sample, opens the low-rated ticket from it, sees the customer's rating and comment beside the
thread, scores the agent on the scorecard and sees where they disagree with the other
reviewer; the agent then reads the result with its comments. Screenshot:
test-artifacts/inbox/qa-review-zh-CN.png."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conversation.model import AuthorType, Role
from conversation.quality import new_survey, rated
from hub.actor import Actor, acting_as
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.helpers import make_config, serve
from tests.test_e2e_browser import require_browser
from tests.test_inbox_browser import ARTIFACTS, PASSWORD, browser, customer_writes, no_script_errors, sign_in

__all__ = ["browser", "no_script_errors"]  # fixtures

CARD = {
    "name": "在线客服质检",
    "criteria": [
        {"id": "greeting", "label": "礼貌问候", "kind": "yes_no", "weight": 1},
        {"id": "solution", "label": "解决问题", "kind": "scale", "weight": 3, "critical": True},
    ],
}


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[tuple[Hub, str, str]]:
    require_browser()
    hub = Hub(make_config(tmp_path, {"channels": {"webchat": {"secret": "e2e-visitor-secret"}}}))
    runner, url = await serve(build_app(hub))
    await add_agent(hub.store, "wang@example.com", Role.ADMIN, PASSWORD, name="王芳")
    agent = await add_agent(hub.store, "li@example.com", Role.AGENT, PASSWORD, name="李娜")
    other = await add_agent(hub.store, "zhao@example.com", Role.SUPERVISOR, PASSWORD, name="赵磊")
    quality = hub.services.quality
    card = await quality.save_scorecard(CARD)
    record = await customer_writes(hub, "v1", "我的订单一直没到")
    service = hub.services.conversations
    ticket = await service.update_by(record.conversation, {"assignee_id": agent.id}, who="王芳", names={})
    await service.send(ticket, "已为您补发，请注意查收。", author_type=AuthorType.AGENT, author_id=agent.id)
    ticket = await service.update_by(ticket, {"status": "resolved"}, who="李娜", names={})
    now = hub.actions.clock()
    survey = new_survey(ticket, now, "zh-CN", timedelta(days=14))
    await hub.store.quality.add_survey(survey)
    await hub.store.quality.save_survey(rated(survey, 2, now, "webchat"))
    with acting_as(Actor(other.id, "赵磊", "session")):
        await quality.review(
            ticket,
            scorecard_id=card.id,
            scores={"greeting": 1, "solution": 4},
            reviewer_id=other.id,
            comment="处理及时",
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield hub, url, ticket.id
    await runner.cleanup()


async def test_a_reviewer_reviews_a_sampled_ticket_in_chinese_and_the_agent_reads_the_result(
    scene: tuple[Hub, str, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, url, ticket_id = scene
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-quality")
    dialog = page.locator("#quality-dialog")
    await expect(dialog.locator("h2")).to_have_text("质检")
    week = hub.actions.clock().isocalendar()
    await expect(dialog.locator("#qa-week")).to_have_value(f"{week.year}-W{week.week:02d}")  # this week by default
    row = dialog.locator(f".qa-sample tr[data-id='{ticket_id}']")
    await expect(row).to_contain_text("李娜")
    await expect(row.locator(".qa-reviewed")).to_have_text("")  # not reviewed by this admin yet
    await row.locator(".open-sampled").click()

    panel = page.locator("#quality")
    await expect(panel.locator(".csat")).to_contain_text("2 / 5 分")
    await expect(panel.locator(".csat")).to_contain_text("不满意")
    await expect(panel.locator(".qa-review[data-reviewer]")).to_have_count(1)
    await expect(panel.locator(".qa-review-new summary")).to_have_text("质检 李娜 的处理")
    await panel.locator(".qa-review-new summary").click()
    await panel.locator("#qa-greeting").select_option("0")
    await panel.locator("#qa-solution").select_option("2")
    await (
        panel.locator(".criterion-row[data-criterion], .criterion-row")
        .nth(1)
        .locator(".criterion-note")
        .fill("没有确认收货地址")
    )
    await panel.locator("#qa-comment").fill("请先核对地址再补发")
    await panel.locator("#qa-submit").click()

    await expect(panel.locator(".qa-review[data-reviewer]")).to_have_count(2)
    table = panel.locator(".qa-calibration")
    await expect(table.locator("caption")).to_have_text("校准：质检员意见不一致之处")
    await expect(table.locator("tr[data-criterion='greeting'] td").last).to_have_text("100%")
    await expect(table.locator("tr[data-criterion='solution'].apart")).to_be_visible()
    await panel.screenshot(path=str(ARTIFACTS / "qa-review-zh-CN.png"))
    await page.screenshot(path=str(ARTIFACTS / "qa-review-zh-CN-page.png"))

    await page.click("#open-quality")  # the sample marks the ticket this reviewer has reviewed
    await expect(dialog.locator(f".qa-sample tr[data-id='{ticket_id}'] .qa-reviewed")).to_contain_text("您已质检")
    await dialog.locator(".qa-scorecards button", has_text="编辑").first.click()
    active = dialog.locator(".scorecard-form .field.checkbox")
    box, label = await active.locator("input").bounding_box(), await active.bounding_box()
    assert box is not None and label is not None and box["width"] < 30  # a box beside 启用, not a stretched field
    assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 4

    reviews = await hub.store.quality.list_reviews(conversation_id=ticket_id)
    mine = next(r for r in reviews if r.comment == "请先核对地址再补发")
    assert (mine.scores, mine.failed, mine.notes) == (
        {"greeting": 0, "solution": 2},
        False,
        {"solution": "没有确认收货地址"},
    )

    # the agent, in English: their own results with the reviewers' comments, and the rating beside the thread
    agent_page = await sign_in(browser, url, "en", email="li@example.com")
    await agent_page.click("#open-quality")
    mine = agent_page.locator("#quality-dialog .qa-mine")
    await expect(mine.locator("h3")).to_have_text("Reviews of my work")
    await expect(mine.locator("li")).to_have_count(2)
    await expect(mine).to_contain_text("请先核对地址再补发")
    await expect(mine.locator("li").first).to_contain_text("#1000 · 在线客服质检")  # number and scorecard apart
    await expect(agent_page.locator("#quality-dialog .qa-sample")).to_have_count(0)  # no sample for agents
    await mine.locator("li button").first.click()
    side = agent_page.locator("#quality")
    await expect(side.locator(".csat")).to_contain_text("Customer satisfaction")
    await expect(side.locator(".csat-word")).to_have_text("Bad")
    await expect(side.locator(".qa-review")).to_have_count(2)
    await expect(side.locator(".qa-calibration")).to_have_count(0)  # calibration is for reviewers
    await expect(side.locator(".qa-review-new")).to_have_count(0)  # agents do not review


async def test_a_supervisor_without_a_scorecard_is_told_where_one_is_made(tmp_path: Path, browser: Any) -> None:
    """A trial's supervisor drew a sample, opened a ticket, and found no scoring panel and no
    word of why: no admin had made a scorecard yet."""
    from playwright.async_api import expect

    require_browser()
    hub = Hub(make_config(tmp_path, {"channels": {"webchat": {"secret": "e2e-visitor-secret"}}}))
    runner, url = await serve(build_app(hub))
    try:
        await add_agent(hub.store, "zhao@example.com", Role.SUPERVISOR, PASSWORD, name="赵磊")
        agent = await add_agent(hub.store, "li@example.com", Role.AGENT, PASSWORD, name="李娜")
        record = await customer_writes(hub, "v1", "我的订单一直没到")
        service = hub.services.conversations
        ticket = await service.update_by(record.conversation, {"assignee_id": agent.id}, who="赵磊", names={})
        await service.send(ticket, "已为您补发。", author_type=AuthorType.AGENT, author_id=agent.id)
        await service.update_by(ticket, {"status": "resolved"}, who="李娜", names={})
        page = await sign_in(browser, url, "zh-CN", email="zhao@example.com")
        await page.click("#open-quality")
        said = "还没有评分表：管理员在「质检」页面的「评分表」中创建后，才能为工单评分。"
        await expect(page.locator("#quality-dialog #qa-no-scorecard")).to_have_text(said)
        await page.locator(f".qa-sample tr[data-id='{ticket.id}'] .open-sampled").click()
        await expect(page.locator("#quality #qa-no-scorecard")).to_have_text(said)
    finally:
        await runner.cleanup()
