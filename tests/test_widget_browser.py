"""The chat widget in a real browser (Debian's chromium through Playwright): its one
connection per page (backoff with jitter, resync on open, a new session when the token
stops working), keyboard-only use, an axe-core scan, and the address-confirmation form.

The hub runs on a fixed loopback port so that it can be stopped and started again under
the widget, the way an operator restarts it (or rotates its webchat secret).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from conversation.model import AuthorType, ConversationQuery, Direction, MessageKind, Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.sdk import IngestUnavailable
from tests.conftest import free_port
from tests.email_servers import start_sink
from tests.helpers import eventually, make_config, serve
from tests.test_e2e_browser import CHROMIUM, FLAGS, require_browser
from tests.test_inbox_browser import serious_accessibility_problems

SECRET_ENV = "HELPLINE_TEST_WEBCHAT_SECRET"


class Shop:
    """A website (its own origin) embedding the widget of a hub that can be restarted."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path, self.monkeypatch = tmp_path, monkeypatch
        self.port = free_port()
        self.hub_url = f"http://127.0.0.1:{self.port}"
        self.hub: Hub | None = None
        self.runner: web.AppRunner | None = None
        self.site_url = ""
        self.smtp_port = 0  # the mail server confirmation codes go to (a sink on loopback)
        self.sink: Any = None

    async def start_hub(
        self, secret: str = "first webchat secret 1", *, email_answers: bool = True, max_message_chars: int = 4000
    ) -> Hub:
        self.monkeypatch.setenv(SECRET_ENV, secret)  # as the README says: secrets from the environment
        webchat = {"secret": f"env:{SECRET_ENV}", "max_message_chars": max_message_chars}
        channels = {
            "webchat": {**webchat, "email_channel": "email"} if email_answers else webchat,
            "email": {
                "type": "email",
                "address": "help@shop.example.com",
                "smtp_host": "127.0.0.1",
                "smtp_port": self.smtp_port,
                "smtp_tls": "none",
            },
        }
        config = make_config(self.tmp_path, {"channels": channels})
        self.hub = Hub(config)
        self.runner = web.AppRunner(build_app(self.hub))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self.hub

    async def stop_hub(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
        self.runner = None


@pytest.fixture
async def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Shop]:
    require_browser()
    shop = Shop(tmp_path, monkeypatch)
    shop.sink, smtp, shop.smtp_port = await start_sink()
    hub = await shop.start_hub()
    await add_agent(hub.store, "agent@example.com", Role.ADMIN, "agent password 1", name="王芳")

    async def page(request: web.Request) -> web.Response:
        lang = request.query.get("lang", "zh")  # the shop's English pages embed the widget in English
        return web.Response(
            content_type="text/html",
            text=f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>小店</title></head>
<body><h1>欢迎光临小店</h1><a href="#top">首页</a>
<script src="{shop.hub_url}/channels/webchat/widget/helpline.js" data-site="default" data-lang="{lang}" async></script>
</body></html>""",
        )

    site = web.Application()
    site.router.add_get("/", page)
    site_runner, shop.site_url = await serve(site)
    yield shop
    await site_runner.cleanup()
    if shop.runner is not None:
        await shop.stop_hub()
    smtp.close()
    await smtp.wait_closed()


@pytest.fixture
async def visitor(shop: Shop) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await (await browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 760})).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(shop.site_url)
            await page.locator("button.launcher").wait_for()  # the widget has its catalog and is drawn
            yield page
            assert errors == []
        finally:
            await browser.close()


async def inbound(hub: Hub) -> list[str]:
    """Every visitor message the hub stored, oldest first."""
    texts = []
    for number in range(1000, 1010):
        conversation = await hub.store.tickets.get_conversation_by_number(number)
        if conversation is None:
            break
        texts += [
            m.text
            for m in await hub.store.tickets.list_messages(conversation.id)
            if m.direction is Direction.INBOUND and m.kind is MessageKind.MESSAGE
        ]
    return texts


async def say(page: Any, text: str) -> None:
    await page.fill("textarea", text)
    await page.keyboard.press("Enter")


async def first_ticket(shop: Shop, page: Any, text: str) -> Any:
    """The visitor opens the chat and writes `text`: the ticket it opened, once acknowledged."""
    from playwright.async_api import expect

    assert shop.hub is not None
    await page.click("button.launcher")
    await say(page, text)
    await expect(shown(page, text)).to_have_count(1)
    conversation = await shop.hub.store.tickets.get_conversation_by_number(1000)
    assert conversation is not None
    return conversation


def shown(page: Any, text: str) -> Any:
    """The visitor's bubbles with this text that the hub acknowledged (they carry its id)."""
    return page.locator(".msg.visitor[data-id]", has_text=text)


async def test_a_rotated_webchat_secret_gets_the_widget_a_new_token(shop: Shop, visitor: Any) -> None:
    from playwright.async_api import expect

    await visitor.click("button.launcher")
    await say(visitor, "第一条")
    await expect(shown(visitor, "第一条")).to_have_count(1)
    old_token = await visitor.evaluate("Object.values(localStorage).map((v) => JSON.parse(v).token)[0]")

    await shop.stop_hub()
    hub = await shop.start_hub(secret="second webchat secret 2")  # every token signed before is void
    await expect(visitor.locator(".note")).to_have_text("", timeout=10_000)  # reconnected, not "Reconnecting…"
    await say(visitor, "第二条")
    await expect(shown(visitor, "第二条")).to_have_count(1)
    new_token = await visitor.evaluate("Object.values(localStorage).map((v) => JSON.parse(v).token)[0]")
    assert new_token != old_token
    assert "第二条" in await inbound(hub)


async def test_the_widget_reconnects_with_backoff_and_loses_or_repeats_nothing(shop: Shop, visitor: Any) -> None:
    from playwright.async_api import expect

    attempts: list[float] = []
    visitor.on("request", lambda r: attempts.append(r.timing["startTime"] or 0) if r.url.endswith("/session") else None)

    # The hub is away when the visitor first opens the chat: the widget keeps trying
    await shop.stop_hub()
    await visitor.click("button.launcher")
    await say(visitor, "一")
    await expect(visitor.locator(".note")).to_contain_text("重新连接")
    await visitor.wait_for_timeout(2500)
    assert 2 <= len(attempts) <= 5  # backed off: 0.25-0.5 s, 0.5-1 s, 1-2 s ... not a request per tick
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert all(later >= earlier * 0.9 for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps
    hub = await shop.start_hub()
    await expect(shown(visitor, "一")).to_have_count(1, timeout=10_000)

    # It goes away again: what is written meanwhile is sent once it is back, and an answer
    # given while the widget was away arrives once.
    await shop.stop_hub()
    await expect(visitor.locator(".note")).to_contain_text("重新连接")
    await say(visitor, "二")
    hub = await shop.start_hub()
    conversation = await hub.store.tickets.get_conversation_by_number(1000)
    assert conversation is not None
    await hub.actions.send(conversation, "您好，马上为您处理", author_type=AuthorType.AGENT, author_id="")
    await expect(shown(visitor, "二")).to_have_count(1, timeout=10_000)
    await expect(visitor.locator(".msg.agent", has_text="您好，马上为您处理")).to_have_count(1)
    assert await inbound(hub) == ["一", "二"]
    await expect(visitor.locator(".msg.visitor")).to_have_count(2)  # no copy left unacknowledged


async def test_the_widget_is_usable_with_the_keyboard_alone(shop: Shop, visitor: Any) -> None:
    from playwright.async_api import expect

    choosers: list[Any] = []
    visitor.on(
        "filechooser", lambda chooser: choosers.append(chooser)
    )  # listening from the start: the browser then hands the chooser over
    launcher = visitor.locator("button.launcher")
    for _ in range(4):  # from the page's link to the launcher
        await visitor.keyboard.press("Tab")
        if await launcher.evaluate("b => b.getRootNode().activeElement === b"):
            break
    await visitor.keyboard.press("Enter")
    await expect(visitor.locator(".panel")).to_have_attribute("role", "dialog")
    await expect(visitor.locator("textarea")).to_be_focused()
    await visitor.keyboard.type("键盘发送")
    await visitor.keyboard.press("Enter")
    await expect(shown(visitor, "键盘发送")).to_have_count(1)

    await visitor.keyboard.press("Shift+Tab")  # from the text to the attach button
    await expect(visitor.locator("button.attach")).to_be_focused()
    await visitor.keyboard.press("Enter")
    for _ in range(50):  # the chooser the button opened (Enter on a focused button clicks it)
        if choosers:
            break
        await visitor.wait_for_timeout(100)
    assert len(choosers) == 1
    await choosers[0].set_files(
        files=[{"name": "发票.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}]
    )
    await expect(visitor.locator(".msg.visitor[data-id] a", has_text="发票.pdf")).to_have_count(1)
    # a file sent alone starts on the bubble's first line (a trial saw a blank line above it)
    alone = visitor.locator(".msg.visitor[data-id]", has=visitor.locator("a", has_text="发票.pdf"))
    assert await alone.locator("br").count() == 0

    await visitor.keyboard.press("Escape")
    await expect(visitor.locator(".panel")).not_to_be_visible()
    assert await launcher.evaluate("b => b.getRootNode().activeElement === b")
    await expect(launcher).to_have_attribute("aria-expanded", "false")


async def test_the_open_widget_has_no_serious_accessibility_problems(shop: Shop, visitor: Any) -> None:
    from playwright.async_api import expect

    assert shop.hub is not None
    conversation = await first_ticket(shop, visitor, "你好")
    agent = await shop.hub.store.accounts.get_agent_by_email("agent@example.com")
    assert agent is not None
    await expect(visitor.locator(".offline")).to_be_visible()  # no agent online: its form is scanned too
    assert await serious_accessibility_problems(visitor) == []
    await shop.hub.actions.send(conversation, "您好", author_type=AuthorType.AGENT, author_id=agent.id)
    await shop.hub.actions.post_bot_message(conversation, "自动回复", plugin="greeting")
    # the agent by name, the bot as the bot: they look different, and both carry their time
    await expect(visitor.locator(".msg.agent")).to_have_attribute("data-author", "👤 王芳")
    await expect(visitor.locator(".msg.bot")).to_have_attribute("data-author", "🤖 智能助手")
    await expect(visitor.locator(".msg.agent")).to_have_attribute("data-time", re.compile(r"\d{2}:\d{2}"))
    assert await serious_accessibility_problems(visitor) == []


async def test_the_code_form_waits_until_an_address_was_left(shop: Shop, visitor: Any) -> None:
    from playwright.async_api import expect

    await visitor.click("button.launcher")
    await say(visitor, "请发邮件给我")
    await expect(shown(visitor, "请发邮件给我")).to_have_count(1)
    code = visitor.locator("input[autocomplete=one-time-code]")
    await expect(visitor.locator("input[type=email]")).to_be_visible()
    await expect(code).to_be_hidden()
    await visitor.fill("input[type=email]", "li@example.com")
    await visitor.locator("input[type=email]").press("Enter")
    await expect(code).to_be_visible()
    await expect(code).to_be_focused()
    # the same address again: no second mail, and said so (a trial waited for one)
    await visitor.locator("input[type=email]").press("Enter")
    await expect(visitor.locator(".note")).to_contain_text("我们之前已向该邮箱发送过确认码")
    # the mailed code typed in: the banner says where replies go at once, and asks no more (a trial)
    await eventually(lambda: shop.sink.mails)
    mailed = shop.sink.mails[-1].get_body(("plain",)).get_content()
    found = re.search(r"\b(\d{6,8})\b", mailed)
    assert found is not None, mailed
    await code.fill(found.group(1))
    await code.press("Enter")
    await expect(visitor.locator(".offline")).to_contain_text("l***@example.com")
    await expect(visitor.locator("input[type=email]")).to_be_hidden()
    # confirmed (as the mailed code does), the widget says where replies go and asks no more
    from adapters.webchat.email_optin import confirmed_claim

    assert shop.hub is not None
    webchat = shop.hub.adapters["webchat"]
    tickets, _ = await shop.hub.store.inbox.list_conversations(ConversationQuery(limit=10))
    [address] = [t.customer_address for t in tickets if t.channel == "webchat"]
    await shop.hub.set_state(webchat._email_key(address), confirmed_claim("li@example.com").to_json())  # type: ignore[attr-defined]
    await visitor.reload()
    await visitor.click("button.launcher")
    await expect(visitor.locator(".offline")).to_contain_text("我们会通过邮件（l***@example.com）回复您")
    await expect(visitor.locator("input[type=email]")).to_be_hidden()


async def test_a_message_the_hub_cannot_take_is_resent_a_few_times_then_marked_unsent(
    shop: Shop, visitor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.async_api import expect

    assert shop.hub is not None

    async def unavailable(inbound: Any) -> Any:
        raise IngestUnavailable("the store is away")

    monkeypatch.setattr(shop.hub, "ingest", unavailable)
    sent: list[str] = []
    visitor.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(str(frame))))
    await visitor.clock.install()  # the widget's waits pass at once: minutes of retries in a second
    await visitor.click("button.launcher")
    await say(visitor, "稍后再发")
    for _ in range(12):
        await visitor.clock.run_for(60_000)
        await visitor.wait_for_timeout(100)  # real time for the frame and its answer to travel
    await expect(visitor.locator(".msg.visitor.failed")).to_contain_text("未发送")
    assert len([frame for frame in sent if "稍后再发" in frame]) == 1 + 5  # sent, then resent five times, no more


class HeldBack:
    """A visitor's message limiter that lets `allowed` messages through, then holds the next
    ones back for the given seconds each (later ones for less: their window ends sooner)."""

    def __init__(self, allowed: int, waits: list[float]) -> None:
        self.allowed, self.waits = allowed, list(waits)

    async def take(self, key: str) -> float | None:
        if self.allowed:
            self.allowed -= 1
            return None
        return self.waits.pop(0) if self.waits else None


def hold_back(hub: Hub, allowed: int, waits: list[float]) -> None:
    hub.adapters["webchat"].per_visitor = HeldBack(allowed, waits)  # type: ignore[attr-defined]


async def test_messages_held_back_are_stored_in_the_order_they_were_written(shop: Shop, visitor: Any) -> None:
    from playwright.async_api import expect

    assert shop.hub is not None
    await visitor.click("button.launcher")
    await say(visitor, "msg 1")
    await expect(shown(visitor, "msg 1")).to_have_count(1)
    hold_back(shop.hub, allowed=1, waits=[1.0, 0.4])  # msg 3 waits longer than msg 4 is told to
    for n in (2, 3, 4):
        await say(visitor, f"msg {n}")
    await expect(visitor.locator(".msg.visitor[data-id]")).to_have_count(4, timeout=10_000)
    assert await inbound(shop.hub) == ["msg 1", "msg 2", "msg 3", "msg 4"]
    await expect(visitor.locator(".msg.visitor.failed")).to_have_count(0)


async def test_the_held_back_note_is_the_catalogs_and_goes_once_accepted(shop: Shop, visitor: Any) -> None:
    from playwright.async_api import expect

    assert shop.hub is not None
    await visitor.goto(f"{shop.site_url}?lang=en")
    await visitor.click("button.launcher")
    await say(visitor, "first")
    await expect(shown(visitor, "first")).to_have_count(1)
    hold_back(shop.hub, allowed=0, waits=[1.0])
    await say(visitor, "second")
    await expect(visitor.locator(".note")).to_have_text("Too many requests; please try again later.")
    await expect(shown(visitor, "second")).to_have_count(1, timeout=10_000)
    await expect(visitor.locator(".note")).to_have_text("")


async def test_addresses_in_the_teams_messages_are_links_and_nothing_else_is_markup(shop: Shop, visitor: Any) -> None:
    from playwright.async_api import expect

    await visitor.click("button.launcher")
    await say(visitor, "我的工单怎么样了 https://visitor.example.com/x")
    await expect(shown(visitor, "我的工单怎么样了")).to_have_count(1)
    assert shop.hub is not None
    conversation = await shop.hub.store.tickets.get_conversation_by_number(1000)
    assert conversation is not None
    text = (
        "在这里查看工单并回复：https://help.example.com/status/1000.x?lang=zh-CN。"
        ' <img src=x onerror="window.pwned=1"> javascript:alert(1) http://help.example.com/a'
    )
    await shop.hub.actions.send(conversation, text, author_type=AuthorType.AGENT, author_id="")
    bubble = visitor.locator(".msg.agent")
    await expect(bubble).to_have_count(1)
    links = bubble.locator("a")
    await expect(links).to_have_count(2)
    first = links.nth(0)
    assert await first.get_attribute("href") == "https://help.example.com/status/1000.x?lang=zh-CN"
    assert await first.get_attribute("target") == "_blank"
    assert await first.get_attribute("rel") == "noopener noreferrer"
    assert await links.nth(1).get_attribute("href") == "http://help.example.com/a"
    assert "<img src=x" in await bubble.inner_text()  # shown as the text it is
    assert await bubble.locator("img").count() == 0
    assert await visitor.evaluate("window.pwned") is None
    await expect(visitor.locator(".msg.visitor a")).to_have_count(0)  # the visitor's words stay text


async def test_a_questions_buttons_go_once_the_visitor_answers_it_in_words(shop: Shop, visitor: Any) -> None:
    """A trial's visitor still saw 是/否 under an answer they had turned down by typing 否."""
    from playwright.async_api import expect

    from conversation.model import Choice

    assert shop.hub is not None
    conversation = await first_ticket(shop, visitor, "怎么申请退款")
    choices = (Choice("faq:yes", "是"), Choice("faq:no", "否"))
    await shop.hub.actions.post_bot_message(conversation, "这解决了您的问题吗？", choices=choices, plugin="faq")
    buttons = visitor.locator(".msg.bot .choices button")
    await expect(buttons).to_have_count(2)
    await say(visitor, "否")  # in words, not a tap
    await expect(buttons).to_have_count(0)
    await visitor.reload()  # the history replayed: still none
    launcher = visitor.locator("button.launcher")
    await launcher.wait_for()
    if await launcher.get_attribute("aria-expanded") != "true":  # the chat may reopen by itself
        await launcher.click()
    await expect(visitor.locator(".msg.bot", has_text="这解决了您的问题吗？")).to_be_visible()
    await expect(buttons).to_have_count(0)

    # a tap from the keyboard: the button goes, the visitor stays in the chat (the text box)
    await shop.hub.actions.post_bot_message(conversation, "还有其他问题吗？", choices=choices, plugin="faq")
    await expect(buttons).to_have_count(2)
    await buttons.first.press("Enter")
    await expect(buttons).to_have_count(0)
    await expect(visitor.locator("textarea")).to_be_focused()

    # a file alone answers nothing: the question keeps its buttons
    await shop.hub.actions.post_bot_message(conversation, "需要发票吗？", choices=choices, plugin="faq")
    await expect(buttons).to_have_count(2)
    await visitor.locator("input.file").set_input_files(
        files=[{"name": "发票.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}]
    )
    await expect(visitor.locator(".msg.visitor[data-id] a", has_text="发票.pdf")).to_have_count(1)
    await expect(buttons).to_have_count(2)


async def test_without_email_answers_none_are_offered_and_an_agents_message_ends_the_offline_banner(
    shop: Shop, visitor: Any
) -> None:
    """A trial with the README's webchat block (no email_channel) was offered answers by email,
    then refused them; and the "nobody online" banner stayed while an agent answered."""
    from playwright.async_api import expect

    await shop.stop_hub()
    hub = await shop.start_hub(email_answers=False)
    await visitor.reload()
    conversation = await first_ticket(shop, visitor, "有人吗")
    banner = visitor.locator(".offline")
    await expect(banner).to_contain_text("客服暂时不在线，上线后会在这里尽快回复您。")
    await expect(banner.locator("form")).to_have_count(2)
    for form in await banner.locator("form").all():
        await expect(form).to_be_hidden()  # no address asked for
    await hub.actions.send(conversation, "您好，我在。", author_type=AuthorType.AGENT, author_id="a1")
    await expect(visitor.locator(".msg", has_text="您好，我在。")).to_have_count(1)
    await expect(banner).to_be_hidden()


async def test_a_message_longer_than_the_hub_takes_is_kept_and_said_not_cut(shop: Shop, visitor: Any) -> None:
    """A trial pasted 5,004 characters and 4,000 were sent, the rest lost with a faint note."""
    from playwright.async_api import expect

    await shop.stop_hub()
    await shop.start_hub(max_message_chars=50)
    await visitor.reload()
    await first_ticket(shop, visitor, "你好")
    long = "退款" * 30  # 60 characters; this hub takes 50
    await visitor.fill("textarea", long)
    await expect(visitor.locator("textarea")).to_have_value(long)  # nothing cut
    await expect(visitor.locator(".note")).to_contain_text("这条消息有 60 个字符，最多可发送 50 个")
    await expect(visitor.locator("button.send")).to_be_disabled()
    await visitor.keyboard.press("Enter")
    await visitor.fill("textarea", long[:40])
    await expect(visitor.locator("button.send")).to_be_enabled()
    await visitor.keyboard.press("Enter")
    await expect(shown(visitor, long[:40])).to_have_count(1)
    assert shop.hub is not None and await inbound(shop.hub) == ["你好", long[:40]]  # the long one never went


async def test_the_readmes_web_chat_block_and_tag_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's [channels.webchat] block and its <script> tag, only the host names changed
    to loopback: a Chinese browser gets the Chinese widget, titled in Chinese (the tag's
    data-title="Support" titled it in English for everyone, a trial found)."""
    import tomllib

    from playwright.async_api import async_playwright, expect

    from tests.test_readme_plugins import code_blocks, readme_section

    require_browser()
    section = readme_section("## Web chat")
    block, tag = code_blocks(section, "toml")[0], code_blocks(section, "html")[0]
    site_port = free_port()
    site_url = f"http://127.0.0.1:{site_port}"
    monkeypatch.setenv("HELPLINE_WEBCHAT_SECRET", "a webchat secret of enough length")
    monkeypatch.setenv("HELPLINE_SHOP_IDENTITY_SECRET", "a shop identity secret of enough length")
    channels = tomllib.loads(block.replace("https://shop.example.com", site_url))["channels"]
    port = free_port()
    hub = Hub(make_config(tmp_path, {"channels": channels}))
    runner = web.AppRunner(build_app(hub))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    tag = tag.replace("https://help.example.com", f"http://127.0.0.1:{port}")
    page_html = f"<!doctype html><html><head><meta charset='utf-8'><title>小店</title></head><body>{tag}</body></html>"

    async def shop_page(request: web.Request) -> web.Response:
        return web.Response(text=page_html, content_type="text/html")

    site = web.Application()
    site.router.add_get("/", shop_page)
    site_runner = web.AppRunner(site)
    await site_runner.setup()
    await web.TCPSite(site_runner, "127.0.0.1", site_port).start()
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = await (await browser.new_context(locale="zh-CN")).new_page()
                await page.goto(site_url)
                await page.click("button.launcher")
                await expect(page.locator("#helpline-title")).to_have_text("在线客服")
                await say(page, "你好，我的订单还没到")
                await expect(shown(page, "你好，我的订单还没到")).to_have_count(1)
            finally:
                await browser.close()
        assert await hub.store.tickets.get_conversation_by_number(1000) is not None
    finally:
        await site_runner.cleanup()
        await runner.cleanup()
