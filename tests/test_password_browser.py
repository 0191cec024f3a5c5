"""Passwords from the inbox, in a real browser: an agent changes their own (with the current
one), an admin sets another agent's (a forgotten one). Either ends that agent's sessions."""

from __future__ import annotations

from typing import Any

from hub.agents import verify_password
from hub.app import Hub
from tests.test_inbox_browser import PASSWORD, browser, hub_url, no_script_errors, sign_in

__all__ = ["browser", "hub_url", "no_script_errors"]  # fixtures, used by name

NEW_PASSWORD = "a brand new password 9"


async def stored_hash(hub: Hub, email: str) -> str:
    agent = await hub.store.accounts.get_agent_by_email(email)
    assert agent is not None
    return agent.password_hash


async def test_an_agent_changes_their_own_password_in_chinese(hub_url: tuple[Hub, str], browser: Any) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    page = await sign_in(browser, url, "zh-CN")
    await page.click("#open-password")
    dialog = page.locator("#password-dialog")
    await expect(dialog.locator("h2")).to_have_text("修改您的密码")
    error = dialog.locator("#password-error")

    async def submit(current: str, new: str, repeated: str) -> None:
        await dialog.locator("input[name=current_password]").fill(current)
        await dialog.locator("input[name=new_password]").fill(new)
        await dialog.locator("input[name=repeated]").fill(repeated)
        await dialog.locator("#password-save").click()

    await submit(PASSWORD, "short", "short")
    await expect(error).to_have_text("新密码至少需要 10 个字符。")
    await submit(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")
    await expect(error).to_have_text("两次输入的新密码不一致。")
    await submit("not my password 1", NEW_PASSWORD, NEW_PASSWORD)
    await expect(error).to_have_text("当前密码不正确。")  # the hub's refusal, in the agent's language
    assert verify_password(await stored_hash(hub, "wang@example.com"), PASSWORD)  # nothing changed

    await submit(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    await expect(page.locator("#login-notice")).to_have_text("密码已修改，请用新密码登录。")
    await expect(page.locator("#me-name")).to_have_count(0)
    stored = await stored_hash(hub, "wang@example.com")
    assert verify_password(stored, NEW_PASSWORD) and not verify_password(stored, PASSWORD)
    # The old cookie is no session any more.
    assert (await page.request.get(f"{url}/api/v1/me")).status == 401
    await page.fill("input[name=email]", "wang@example.com")
    await page.fill("input[name=password]", NEW_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#me-name")).to_have_text("王芳")
    await expect(page.locator("#login-notice")).to_have_count(0)


async def test_an_admin_sets_a_forgotten_password_and_the_agent_signs_in_with_it(
    hub_url: tuple[Hub, str], browser: Any
) -> None:
    from playwright.async_api import expect

    hub, url = hub_url
    agent_page = await sign_in(browser, url, email="li@example.com", password="agent password 2")
    admin = await sign_in(browser, url, "en")
    await admin.click("#open-admin")
    row = admin.locator("#agents li").filter(has_text="li@example.com")
    await row.locator("button.set-password").click()
    await row.locator("input[name=new_password]").fill(NEW_PASSWORD)
    await row.locator("form.agent-password button[type=submit]").click()
    await expect(admin.locator(".notice")).to_have_text("Password of Li Na set; their sessions ended.")
    assert verify_password(await stored_hash(hub, "li@example.com"), NEW_PASSWORD)
    # Li Na's open inbox was signed out: her next call is refused and the form is back.
    await agent_page.reload()
    await expect(agent_page.locator("#login-form")).to_be_visible()
    page = await sign_in(browser, url, email="li@example.com", password=NEW_PASSWORD)
    await expect(page.locator("#me-name")).to_have_text("Li Na")
