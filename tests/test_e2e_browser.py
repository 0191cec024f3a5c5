"""End to end in a real browser: a visitor writes in Chinese from a website's widget, an
agent answers from the inbox, both see it live and still after a reload.

Debian's chromium, driven by Playwright (no downloaded browser). Screenshots are saved
under test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from conversation.model import Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from tests.conftest import IN_CI, ROOT
from tests.helpers import GREETING_ALWAYS_OPEN, eventually, make_config, serve

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--lang=zh-CN",
]


def require_browser() -> None:
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append("Debian's chromium (apt-get install chromium fonts-noto-cjk)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[test]')")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[Hub, str, str]]:
    """The hub, and a separate website (another origin) that embeds its widget."""
    require_browser()
    config = make_config(tmp_path, {"channels": {"webchat": {"secret": "e2e-visitor-secret"}}})
    hub = Hub(config)
    hub_runner, hub_url = await serve(build_app(hub))
    await add_agent(hub.store, "agent@example.com", Role.ADMIN, "agent password 1", name="王芳")

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            content_type="text/html",
            text=f"""<!doctype html><html lang="zh"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>小店</title></head>
<body><h1>欢迎光临小店</h1><p>Any page of the platform's website.</p>
<script src="{hub_url}/channels/webchat/widget/helpline.js" data-site="default" data-lang="zh" async></script>
</body></html>""",
        )

    site = web.Application()
    site.router.add_get("/", page)
    site_runner, site_url = await serve(site)
    yield hub, hub_url, site_url
    await site_runner.cleanup()
    await hub_runner.cleanup()


async def test_visitor_and_agent_talk_live_through_widget_and_inbox(servers: tuple[Hub, str, str]) -> None:
    from playwright.async_api import async_playwright, expect

    _hub, hub_url, site_url = servers
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            agent = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
            await agent.goto(f"{hub_url}/inbox/")
            await agent.fill("input[name=email]", "agent@example.com")
            await agent.fill("input[name=password]", "agent password 1")
            await agent.click("button[type=submit]")
            await expect(agent.locator("#me-name")).to_have_text("王芳")

            visitor = await (
                await browser.new_context(viewport={"width": 390, "height": 760}, locale="zh-CN")
            ).new_page()
            await visitor.goto(site_url)
            await visitor.click("button.launcher")
            await visitor.fill("textarea", "你好，我的订单三天了还没有到")
            await visitor.keyboard.press("Enter")
            await expect(visitor.locator(".msg.visitor[data-id]")).to_have_text("你好，我的订单三天了还没有到")
            await expect(visitor.locator(".ticket")).to_contain_text("工单 #1000")

            # the agent never reloads: the ticket arrives over the live socket
            item = agent.locator("#conversations li").first
            await expect(item).to_contain_text("#1000 你好，我的订单三天了还没有到")
            await item.click()
            await expect(agent.locator(".thread .msg.inbound")).to_contain_text("你好，我的订单三天了还没有到")
            await agent.fill(".compose textarea", "您好，我们正在为您查询物流，请稍等。")
            await agent.click(".compose button[type=submit]")

            reply = visitor.locator(".msg.agent")
            await expect(reply).to_have_text("您好，我们正在为您查询物流，请稍等。")
            await expect(agent.locator(".thread .msg.outbound .delivery")).to_have_text("sent")
            await visitor.screenshot(path=str(ARTIFACTS / "widget.png"))
            await agent.screenshot(path=str(ARTIFACTS / "inbox.png"))

            # after a reload both still see the whole thread
            await visitor.reload()
            await expect(visitor.locator(".msg[data-id]")).to_have_count(2)
            # the widget's own greeting still heads the chat (it is no stored message)
            await expect(visitor.locator(".msg").first).to_have_text("您好！请问有什么可以帮您？")
            await expect(visitor.locator(".msg.agent")).to_have_text("您好，我们正在为您查询物流，请稍等。")
            await agent.reload()
            await agent.locator("#conversations li").first.click()
            await expect(agent.locator(".thread .msg.inbound")).to_contain_text("你好，我的订单三天了还没有到")
            await expect(agent.locator(".thread .msg.outbound")).to_contain_text("您好，我们正在为您查询物流")
            await visitor.screenshot(path=str(ARTIFACTS / "widget-after-reload.png"))
        finally:
            await browser.close()


HOSTILE = '<img src=x onerror="window.__pwned=1">'


async def test_hostile_names_subjects_messages_and_file_names_are_shown_as_text(
    servers: tuple[Hub, str, str],
) -> None:
    from playwright.async_api import async_playwright, expect

    from conversation.inbound import Inbound, Sender
    from conversation.model import Attachment

    hub, hub_url, _site_url = servers
    ref = await hub.blobs.put(b"not really an image")
    await hub.ingest(
        Inbound(
            channel="webchat",
            external_id="x1",
            thread_key="v_hostile",
            sender=Sender(address="v_hostile", display_name=f"Mallory {HOSTILE}"),
            subject=f"Subject {HOSTILE}",
            text=f"Message {HOSTILE}<script>window.__pwned=2</script>",
            attachments=(Attachment(name=f"{HOSTILE}.png", content_type="image/png", size=19, blob_ref=ref),),
        )
    )
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            await page.goto(f"{hub_url}/inbox/")
            await page.fill("input[name=email]", "agent@example.com")
            await page.fill("input[name=password]", "agent password 1")
            await page.click("button[type=submit]")
            item = page.locator("#conversations li").first
            await expect(item).to_contain_text(f"Mallory {HOSTILE}")  # the markup, shown as text
            await item.click()
            await expect(page.locator(".thread .msg.inbound")).to_contain_text(f"Message {HOSTILE}<script>")
            await expect(page.locator(".thread .msg.inbound a")).to_contain_text(f"{HOSTILE}.png")
            assert await page.locator(".thread img, #conversations img, .detail header img").count() == 0
            assert await page.evaluate("window.__pwned") is None and dialogs == []
        finally:
            await browser.close()


async def test_remote_images_in_mail_load_only_when_the_agent_asks(servers: tuple[Hub, str, str]) -> None:
    import asyncio

    from playwright.async_api import async_playwright, expect

    from adapters.email.parse import sanitise_html
    from conversation.inbound import Inbound, Sender

    hub, hub_url, _site_url = servers
    hits: list[str] = []

    async def pixel(request: web.Request) -> web.Response:
        hits.append(request.path)  # what a tracking pixel would learn: the mail was opened
        return web.Response(body=b"GIF89a", content_type="image/gif")

    tracker = web.Application()
    tracker.router.add_get("/pixel.gif", pixel)
    tracker_runner, tracker_url = await serve(tracker)
    try:
        html = f'<p>Our <b>newsletter</b></p><img src="{tracker_url}/pixel.gif" alt="">'
        await hub.ingest(
            Inbound(
                channel="email",
                external_id="<n1@shop.example>",
                thread_key="<n1@shop.example>",
                sender=Sender("news@shop.example"),
                subject="Deals",
                text="Our newsletter",
                html=sanitise_html(html),
            )
        )
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = await browser.new_page()
                await page.goto(f"{hub_url}/inbox/")
                await page.fill("input[name=email]", "agent@example.com")
                await page.fill("input[name=password]", "agent password 1")
                await page.click("button[type=submit]")
                await page.locator("#conversations li").first.click()
                frame = page.frame_locator("iframe.html")
                await expect(frame.locator("b")).to_have_text("newsletter")  # the formatting shows ...
                await asyncio.sleep(0.5)
                assert hits == []  # ... but the remote image was not fetched
                await page.click("text=load remote images")
                for _ in range(50):
                    if hits:
                        break
                    await asyncio.sleep(0.1)
                assert hits == ["/pixel.gif"]
            finally:
                await browser.close()
    finally:
        await tracker_runner.cleanup()


SHOP_SECRET = "e2e-shop-identity-secret"


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[str]:
    """A website whose pages embed the widget: `/` for anyone, `/account` as signed-in
    Jane (id and hash), `/elsewhere` on a site id whose allowed origins exclude it,
    `/forged` claiming to be Jane with a wrong hash."""
    import hashlib
    import hmac

    require_browser()
    config = make_config(
        tmp_path,
        {
            "channels": {
                "webchat": {
                    "secret": "e2e-visitor-secret",
                    "sites": {
                        "default": {"identity_secret": SHOP_SECRET},
                        "locked": {"allowed_origins": ["https://shop.example.com"]},
                    },
                }
            }
        },
    )
    hub_runner, hub_url = await serve(build_app(Hub(config)))
    jane_hash = hmac.new(SHOP_SECRET.encode(), b"jane", hashlib.sha256).hexdigest()
    pages = {
        "/": 'data-site="default"',
        "/account": f'data-site="default" data-user-id="jane" data-user-name="Jane" data-user-hash="{jane_hash}"',
        "/elsewhere": 'data-site="locked"',
        "/forged": f'data-site="default" data-user-id="jane" data-user-hash="{"0" * 64}"',
    }

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            content_type="text/html",
            text=f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head><body>
<script src="{hub_url}/channels/webchat/widget/helpline.js" {pages[request.path]} async></script></body></html>""",
        )

    site = web.Application()
    for path in pages:
        site.router.add_get(path, page)
    site_runner, site_url = await serve(site)
    yield site_url
    await site_runner.cleanup()
    await hub_runner.cleanup()


async def test_after_the_page_drops_the_signed_in_user_their_chat_is_not_shown(shop: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await (await browser.new_context(locale="en-US")).new_page()
            await page.goto(f"{shop}/account")
            await page.click("button.launcher")
            await page.fill("textarea", "Jane here: my IBAN is DE89 3704 0044")
            await page.keyboard.press("Enter")
            await expect(page.locator(".msg.visitor[data-id]")).to_have_text("Jane here: my IBAN is DE89 3704 0044")

            # Jane signs out; the next person on this computer opens the shop
            await page.goto(f"{shop}/")
            await page.wait_for_timeout(300)  # a widget that remembers a chat reopens it by itself
            if not await page.locator(".panel.open").count():
                await page.click("button.launcher")
            await expect(page.locator(".msg.visitor")).to_have_count(0)
            await expect(page.locator(".msg.system")).to_have_text("Hello! How can we help?")
            assert "IBAN" not in await page.locator("[data-helpline]").evaluate("h => h.shadowRoot.textContent")

            # Jane signs in again: her chat is back; Helpline.logout() clears it and revokes it
            await page.goto(f"{shop}/account")
            await page.click("button.launcher")
            await expect(page.locator(".msg.visitor[data-id]")).to_have_text("Jane here: my IBAN is DE89 3704 0044")
            await page.evaluate("Helpline.logout()")
            await expect(page.locator(".msg")).to_have_count(0)
            assert await page.evaluate("Object.keys(localStorage).length") == 0
        finally:
            await browser.close()


async def test_a_refused_widget_says_why_and_marks_the_message_unsent(shop: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for path, locale, words in (
                ("/elsewhere", "zh-CN", ("未获授权", "未发送")),
                ("/elsewhere", "en-US", ("not allowed", "not sent")),
                ("/forged", "zh-CN", ("无法验证您的登录身份", "未发送")),
            ):
                page = await (await browser.new_context(locale=locale)).new_page()
                await page.goto(f"{shop}{path}")
                await page.click("button.launcher")
                await expect(page.locator(".alert")).to_contain_text(words[0])
                await page.fill("textarea", "hello?")
                await page.keyboard.press("Enter")
                await expect(page.locator(".msg.visitor.failed")).to_contain_text(words[1])
        finally:
            await browser.close()


async def test_merging_two_customers_tickets_asks_first_saying_who_sees_what(servers: tuple[Hub, str, str]) -> None:
    from playwright.async_api import Dialog, async_playwright

    from conversation.inbound import Inbound, Sender

    hub, hub_url, _site_url = servers
    for visitor, text in (("v_alice", "where is my parcel?"), ("v_bob", "my home address is 5 Elm Street")):
        await hub.ingest(
            Inbound(channel="webchat", external_id=visitor, thread_key=visitor, sender=Sender(visitor), text=text)
        )
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            confirms: list[str] = []
            answers = {"confirm": [False, True]}  # first declined (nothing happens), then accepted

            async def answer(dialog: Dialog) -> None:
                if dialog.type == "prompt":
                    await dialog.accept("1000")
                else:
                    confirms.append(dialog.message)
                    await (dialog.accept() if answers["confirm"].pop(0) else dialog.dismiss())

            page.on("dialog", answer)
            await page.goto(f"{hub_url}/inbox/")
            await page.fill("input[name=email]", "agent@example.com")
            await page.fill("input[name=password]", "agent password 1")
            await page.click("button[type=submit]")
            await page.locator("#conversations li", has_text="#1001").click()
            await page.locator("button", has_text="Merge into").click()
            await page.fill("#merge-search", "1000")  # the merge dialog finds the target
            await page.locator("input[name=merge-target]").check()
            merge = page.locator("#merge-confirm")
            await merge.click()
            await eventually(lambda: len(confirms) == 1)
            assert "#1001" in confirms[0] and "#1000" in confirms[0] and "only the messages" in confirms[0]
            bobs = await hub.store.tickets.get_conversation_by_number(1001)
            assert bobs is not None and not bobs.merged_into  # declined: nothing merged
            await merge.click()
            await eventually(lambda: len(confirms) == 2)

            async def merged() -> bool:
                ticket = await hub.store.tickets.get_conversation_by_number(1001)
                return ticket is not None and bool(ticket.merged_into)

            await eventually(merged)
        finally:
            await browser.close()


@pytest.fixture
async def greeting_site(tmp_path: Path) -> AsyncIterator[str]:
    """A hub whose greeting bot answers, and a website with a Chinese and an English page."""
    require_browser()
    config = make_config(
        tmp_path,
        {
            "channels": {"webchat": {"secret": "e2e-visitor-secret", "messages_per_minute": 1}},
            "plugins": {"enabled": ["greeting"], "greeting": GREETING_ALWAYS_OPEN},
        },
    )
    hub_runner, hub_url = await serve(build_app(Hub(config)))

    async def page(request: web.Request) -> web.Response:
        lang = request.match_info["lang"]
        return web.Response(
            content_type="text/html",
            text=f"""<!doctype html><html><head><meta charset="utf-8"><title>shop</title></head><body>
<script src="{hub_url}/channels/webchat/widget/helpline.js" data-lang="{lang}" async></script></body></html>""",
        )

    site = web.Application()
    site.router.add_get("/{lang}", page)
    site_runner, site_url = await serve(site)
    yield site_url
    await site_runner.cleanup()
    await hub_runner.cleanup()


async def test_the_widget_and_its_bot_speak_the_visitors_language(greeting_site: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for lang, placeholder, greeting, limit, too_fast in (
                (
                    "zh-CN",
                    "输入消息…",
                    "感谢您联系我们。您的工单号是 #1000",
                    "这条消息有 4,001 个字符，最多可发送 4,000 个。请缩短或分几次发送。",
                    "请求太频繁，请稍后再试。",
                ),
                (
                    "en",
                    "Type a message…",
                    "Thanks for contacting us. Your ticket number is #1001",
                    "This message has 4,001 characters; 4,000 at most can be sent. Shorten it or send it in parts.",
                    "Too many requests; please try again later.",  # the widget's catalog, as in Chinese
                ),
            ):
                page = await (await browser.new_context(locale="zh-CN")).new_page()
                await page.goto(f"{greeting_site}/{lang}")
                await page.click("button.launcher")
                await expect(page.locator("textarea")).to_have_attribute("placeholder", placeholder)
                await page.fill("textarea", "hello")
                await page.keyboard.press("Enter")
                await expect(page.locator(".msg.bot")).to_contain_text(greeting)
                stamp = await page.locator(".msg.bot").get_attribute("data-time")  # shown after the text
                assert stamp and stamp[:2].isdigit()  # its time, in the visitor's locale
                # over max_message_chars: kept, and said with the locale's digits (nothing is cut)
                await page.fill("textarea", "x" * 4001)
                await expect(page.locator(".note")).to_have_text(limit)
                await page.fill("textarea", "hello again")  # over messages_per_minute: the hub says why
                await page.keyboard.press("Enter")
                await expect(page.locator(".note")).to_contain_text(too_fast)
                if lang == "zh-CN":
                    await page.screenshot(path=str(ARTIFACTS / "widget-zh-CN-greeting.png"))
        finally:
            await browser.close()
