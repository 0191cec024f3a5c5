"""Editing a knowledge-base article in the inbox in Chinese (chromium through Playwright):
search, the live preview of the sanitised Markdown, a save as a new version, the history
with the previous version readable, and the public page showing the change."""

from __future__ import annotations

from typing import Any

from hub.app import Hub
from tests.helpers import eventually
from tests.test_inbox_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    browser,
    hub_url,
    no_script_errors,
    serious_accessibility_problems,
    sign_in,
    type_the_moment_it_appears,
)


async def test_an_admin_edits_an_article_in_chinese(hub_url: tuple[Hub, str], browser: Any) -> None:  # noqa: F811
    from playwright.async_api import expect

    hub, url = hub_url
    kb = hub.services.knowledge
    from hub.actor import Actor, acting_as

    with acting_as(Actor("", "command line (root)", "cli")):  # as `helpline kb import` writes it
        await kb.create({"id": "refund", "title": "如何申请退款", "answer": "打开订单，点击退款。",
                         "status": "published", "category": "faq", "examples": ["怎么退钱"]})  # fmt: skip
    await kb.create({"id": "invoice", "title": "如何开发票", "answer": "在订单详情申请。", "status": "published"})

    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-knowledge")
    dialog = page.locator("dialog#knowledge")
    await expect(dialog.locator("h2")).to_have_text("知识库")
    await expect(page.locator("#kb-articles li")).to_have_count(2)
    await page.fill("#kb-search", "退款")
    await page.press("#kb-search", "Enter")
    await expect(page.locator("#kb-articles li")).to_have_count(1)
    await page.locator("#kb-articles li button").click()
    await expect(page.locator("#kb-title")).to_have_value("如何申请退款")
    # the category is one of the desk's, chosen by its name in the agent's language
    await expect(page.locator("#kb-category")).to_have_value("faq")
    await page.select_option("#kb-category", label="交易纠纷")

    await page.fill("#kb-answer", "## 退款步骤\n\n1. 打开**订单**\n2. 点击退款 <script>window.hacked=1</script>")
    preview = page.locator("#kb-preview")
    # the answer box stays at the top of its cell beside a taller preview (a trial's dropped)
    assert await page.evaluate("getComputedStyle(document.querySelector('.kb-split')).alignItems") == "start"
    await expect(preview.locator("h2")).to_have_text("退款步骤")
    await expect(preview.locator("strong")).to_have_text("订单")
    await expect(preview).to_contain_text("<script>window.hacked=1</script>")  # shown as text, never run
    assert await page.evaluate("window.hacked") is None
    await page.fill("#kb-examples", "怎么退钱\n退款要多久")
    # Two edits before the next render (a fast agent on a slow machine) both count: each
    # applies to the draft as it is then (the second used to put the first field back).
    await page.evaluate(
        """() => {
          for (const [id, value] of [["#kb-tags", "退款, 售后"], ["#kb-title", "如何申请退款？"]]) {
            const field = document.querySelector(id);
            field.value = value;
            field.dispatchEvent(new Event("input", { bubbles: true }));
          }
        }"""
    )
    await page.screenshot(path=str(ARTIFACTS / "knowledge-edit-zh-CN.png"), full_page=True)
    assert await serious_accessibility_problems(page) == []
    await page.click("#kb-save")
    await expect(page.locator("[role=status]").first).to_contain_text("已保存为第 2 版")

    saved = await hub.store.knowledge.get_article("refund")
    assert saved is not None and saved.version == 2 and saved.examples == ("怎么退钱", "退款要多久")
    assert saved.category == "dispute"
    assert saved.tags == ("退款", "售后") and saved.title == "如何申请退款？"
    assert saved.updated_by == "王芳"

    public = await browser.new_page()
    await public.goto(f"{url}/help/zh-CN/articles/refund")
    await expect(public.locator("article h2")).to_have_text("退款步骤")
    await public.close()

    await page.click("#kb-tab-history")
    versions = page.locator("#kb-history li")
    await expect(versions).to_have_count(2)
    await expect(versions.first).to_contain_text("王芳")
    # the fields by their names, without the form's hints (a trial read 答案（Markdown）、示例问题（每行一个）)
    await expect(versions.first).to_contain_text("答案、")
    await expect(versions.first).not_to_contain_text("Markdown")
    await expect(versions.last).to_contain_text("命令行 (root)")  # not "command line (root)" (a trial)
    await page.locator("#kb-history li[data-version='1'] button").click()
    old = page.locator("#kb-old-version")
    await expect(old).to_contain_text("打开订单，点击退款。")
    await expect(old.locator("dd").nth(3)).to_contain_text("怎么退钱")  # every field, not only the text
    # taken back: into the editor, saved as the newest version (history is never rewritten)
    await page.click("#kb-restore")
    await expect(page.locator("#kb-answer")).to_have_value("打开订单，点击退款。")
    await expect(page.locator("#kb-title")).to_have_value("如何申请退款")
    await page.click("#kb-save")
    await expect(page.locator("[role=status]").first).to_contain_text("已保存为第 3 版")
    restored = await hub.store.knowledge.get_article("refund")
    assert restored is not None and restored.version == 3 and restored.answer == "打开订单，点击退款。"
    assert restored.examples == ("怎么退钱",) and restored.tags == () and restored.category == "faq"


async def test_an_edit_made_as_the_editor_appears_is_kept(hub_url: tuple[Hub, str], browser: Any) -> None:  # noqa: F811
    """An agent on a loaded machine may type before the editor's first effects ran: the
    draft was reset after the first render, undoing a category just picked (a CI failure)."""
    from playwright.async_api import expect

    hub, url = hub_url
    await hub.services.knowledge.create(
        {
            "id": "refund",
            "title": "如何申请退款",
            "answer": "打开订单，点击退款。",
            "status": "published",
            "category": "faq",
        }
    )
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-knowledge")
    await expect(page.locator("#kb-articles li")).to_have_count(1)
    await type_the_moment_it_appears(page, "#kb-title", "如何申请退款？")
    await page.locator("#kb-articles li button").click()
    await page.wait_for_timeout(300)  # the effects have run by now
    await expect(page.locator("#kb-title")).to_have_value("如何申请退款？")


async def test_an_unsaved_edit_is_never_dropped_without_asking(hub_url: tuple[Hub, str], browser: Any) -> None:  # noqa: F811
    """A trial's admin lost an edit twice: another article clicked in the list, and one Esc in
    the answer box closed the whole knowledge base. Esc in a field now only leaves it (as the
    README's shortcuts say); leaving an edit asks first, in the agent's language."""
    from playwright.async_api import expect

    hub, url = hub_url
    kb = hub.services.knowledge
    await kb.create({"id": "refund", "title": "如何申请退款", "answer": "打开订单，点击退款。", "status": "published"})
    await kb.create({"id": "refund-en", "title": "How to get a refund", "answer": "Open the order.", "language": "en",
                     "group": "refund", "status": "published"})  # fmt: skip
    await kb.create({"id": "invoice", "title": "如何开发票", "answer": "在订单详情申请。", "status": "published"})
    page = await sign_in(browser, url, "zh-CN")
    asked: list[str] = []

    async def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    await page.click("#open-knowledge")
    await page.fill("#kb-search", "退款")  # the list follows the typing, no Enter needed
    await expect(page.locator("#kb-articles li")).to_have_count(1)
    await page.locator("#kb-articles li[data-id='refund'] button").click()
    await page.fill("#kb-answer", "新的答案")

    page.once("dialog", lambda d: answer(d, accept=False))
    await page.locator("#kb-search").fill("")
    await expect(page.locator("#kb-articles li")).to_have_count(3)
    # the agent's own language first (the server sorts "How to..." before the Chinese titles)
    await expect(page.locator("#kb-articles li").last).to_have_attribute("data-id", "refund-en")
    await page.locator("#kb-articles li[data-id='invoice'] button").click()
    await expect(page.locator("#kb-answer")).to_have_value("新的答案")  # kept: the agent said no
    assert asked == ["放弃未保存的修改？"]

    # Esc that closes a Chinese input method's candidates (composing) is the input method's
    await page.locator("#kb-answer").focus()
    await page.evaluate(
        """() => document.querySelector("#kb-answer").dispatchEvent(new KeyboardEvent("keydown",
             { key: "Escape", isComposing: true, bubbles: true, cancelable: true }))"""
    )
    await expect(page.locator("#kb-answer")).to_be_focused()
    page.once("dialog", lambda d: answer(d, accept=False))
    await page.click("dialog#knowledge button.close")  # x asks too
    page.once("dialog", lambda d: answer(d, accept=False))
    await page.click("#kb-new")  # and a new article
    await expect(page.locator("#kb-answer")).to_have_value("新的答案")
    assert len(asked) == 3
    await page.locator("#kb-answer").press("Escape")  # leaves the field, the dialog stays
    await expect(page.locator("dialog#knowledge")).to_be_visible()
    await expect(page.locator("#kb-answer")).not_to_be_focused()
    page.once("dialog", lambda d: answer(d, accept=False))
    await page.keyboard.press("Escape")  # now the dialog would close: it asks, and stays
    await expect(page.locator("dialog#knowledge")).to_be_visible()
    await expect(page.locator("#kb-answer")).to_have_value("新的答案")
    assert len(asked) == 4

    # the same article clicked again, its edit discarded: the stored answer, not the edit
    page.once("dialog", lambda d: answer(d, accept=True))
    await page.locator("#kb-articles li[data-id='refund'] button").click()
    await expect(page.locator("#kb-answer")).to_have_value("打开订单，点击退款。")
    await page.fill("#kb-answer", "新的答案")
    assert len(asked) == 5

    # the translation is a link to it; leaving for it, said yes to, drops the edit
    page.once("dialog", lambda d: answer(d, accept=True))
    await page.locator("#kb-translations button[data-id='refund-en']").click()
    await expect(page.locator("#kb-title")).to_have_value("How to get a refund")
    assert len(asked) == 6
    stored = await hub.store.knowledge.get_article("refund")
    assert stored is not None and stored.answer == "打开订单，点击退款。"
    await page.fill("#kb-answer", "Open the order, then tap Refund.")
    page.once("dialog", lambda d: answer(d, accept=True))
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")  # asked once, said yes to: closed
    await expect(page.locator("dialog#knowledge")).to_have_count(0)
    assert len(asked) == 7

    await page.click("#open-knowledge")
    await page.locator("#kb-articles li[data-id='invoice'] button").click()
    await page.keyboard.press("Escape")  # nothing unsaved: closes without asking
    await expect(page.locator("dialog#knowledge")).to_have_count(0)
    assert len(asked) == 7

    # Esc on a checkbox is not "leaving a field": the dialog closes at once
    await page.click("#open-knowledge")
    await expect(page.locator("#kb-articles li")).to_have_count(3)
    await page.evaluate(
        """() => { const box = document.createElement("input"); box.type = "checkbox"; box.id = "probe";
                   document.querySelector("dialog#knowledge .dialog-head").append(box); }"""
    )
    await page.locator("#probe").focus()
    await expect(page.locator("#probe")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.locator("dialog#knowledge")).to_have_count(0)

    # closing the tab (or reloading) with an edit open: the browser's own question
    await page.click("#open-knowledge")
    await page.locator("#kb-articles li[data-id='invoice'] button").click()
    await page.fill("#kb-answer", "未保存")
    kinds: list[str] = []

    async def leaving(dialog: Any) -> None:
        kinds.append(dialog.type)
        await dialog.dismiss()

    page.once("dialog", leaving)
    await page.close(run_before_unload=True)
    await eventually(lambda: kinds == ["beforeunload"])


async def test_a_late_answer_to_an_older_search_does_not_replace_the_list(
    hub_url: tuple[Hub, str],  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    """The list follows the typing: the answer for "如" arriving after the one for "如何开"
    (a slow network) is dropped, not shown under the newer words (a review)."""
    import asyncio
    from urllib.parse import quote

    from playwright.async_api import expect

    hub, url = hub_url
    kb = hub.services.knowledge
    await kb.create({"id": "refund", "title": "如何申请退款", "answer": "打开订单，点击退款。", "status": "published"})
    await kb.create({"id": "invoice", "title": "如何开发票", "answer": "在订单详情申请。", "status": "published"})
    page = await sign_in(browser, url, "zh-CN")
    older = f"q={quote('如')}"

    async def slowly(route: Any) -> None:
        await asyncio.sleep(1.5)
        await route.continue_()

    await page.route(lambda address: address.endswith(older), slowly)
    await page.click("#open-knowledge")
    await expect(page.locator("#kb-articles li")).to_have_count(2)
    await page.locator("#kb-search").type("如")
    await page.wait_for_timeout(400)  # its request is on its way (and slow)
    await page.locator("#kb-search").type("何开")
    await expect(page.locator("#kb-articles li")).to_have_count(1)
    await page.wait_for_timeout(1800)  # the older answer has come by now
    await expect(page.locator("#kb-articles li")).to_have_count(1)
    await expect(page.locator("#kb-articles li")).to_have_attribute("data-id", "invoice")
