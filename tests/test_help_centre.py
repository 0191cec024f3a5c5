"""The public help centre at /help/: published articles only, both languages, searchable,
canonical URLs, escaped, and no script."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from hub.app_keys import HUB
from hub.services.knowledge import KnowledgeService
from tests.conftest import ROOT
from tests.test_api import server

__all__ = ["server"]


async def fill(service: KnowledgeService) -> None:
    await service.create(
        {"id": "refund", "title": "如何申请退款", "answer": "打开**订单**，点击退款。<script>alert(1)</script>",
         "category": "订单", "status": "published"}
    )  # fmt: skip
    await service.create(
        {"id": "refund-en", "title": "How to <b>get</b> a refund", "answer": "Open the *order*.", "group": "refund",
         "language": "en", "status": "published"}
    )  # fmt: skip
    await service.create({"id": "secret-plan", "title": "内部草稿 退款", "answer": "draft", "status": "draft"})


async def test_published_articles_are_listed_searched_and_shown_without_script(server: TestServer) -> None:
    await fill(server.app[HUB].services.knowledge)
    client = TestClient(server)
    await client.start_server()
    try:
        resp = await client.get("/help/", headers={"Accept-Language": "en-GB,en;q=0.9"}, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/help/en/"

        page = await (await client.get("/help/zh-CN/")).text()
        assert "帮助中心" in page and "如何申请退款" in page and "<h2>订单</h2>" in page
        assert "内部草稿" not in page and "<script" not in page
        assert (
            'href="/help/zh-CN/articles/refund-如何申请退款"' in page or "/help/zh-CN/articles/refund-%E5%A6%82" in page
        )

        found = await (await client.get("/help/zh-CN/", params={"q": "退款"})).text()
        assert "如何申请退款" in found and "内部草稿" not in found
        nothing = await (await client.get("/help/zh-CN/", params={"q": '"><script>x</script>'})).text()
        assert "没有找到" in nothing and "<script>x" not in nothing and "&lt;script&gt;x" in nothing

        resp = await client.get("/help/zh-CN/articles/refund", allow_redirects=False)
        assert resp.status == 301 and resp.headers["Location"].startswith("/help/zh-CN/articles/refund-")
        article = await client.get(resp.headers["Location"])
        body = await article.text()
        assert article.status == 200 and "<strong>订单</strong>" in body and "&lt;script&gt;alert(1)" in body
        assert "script-src" not in article.headers["Content-Security-Policy"]  # default-src 'none': no script
        assert (
            'rel="canonical"' in body
            and 'hreflang="en" href="/help/en/articles/refund-en-how-to-b-get-b-a-refund"' in body
        )

        english = await (await client.get("/help/en/articles/refund-en-how-to-b-get-b-a-refund")).text()
        assert "How to &lt;b&gt;get&lt;/b&gt; a refund" in english and "<em>order</em>" in english

        assert (await client.get("/help/zh-CN/articles/secret-plan")).status == 404  # drafts are not public
        sitemap = await (await client.get("/help/sitemap.xml")).text()
        assert sitemap.count("<loc>") == 2 and "/help/en/articles/refund-en-how-to-b-get-b-a-refund</loc>" in sitemap
        assert "secret-plan" not in sitemap
        assert (await client.get("/help/fr/")).status == 404
        resp = await client.get("/help/zh-CN", allow_redirects=False)
        assert resp.status == 301 and resp.headers["Location"] == "/help/zh-CN/"
    finally:
        await client.close()


async def test_the_web_chat_widget_links_to_the_help_centre_in_its_language(server: TestServer) -> None:
    client = TestClient(server)
    await client.start_server()
    try:
        for lang, words in (("zh-CN", "帮助中心"), ("en", "Help centre")):
            catalog = await (await client.get(f"/i18n/widget/{lang}.json")).json()
            assert catalog["messages"]["help"] == words
    finally:
        await client.close()
    script = (ROOT / "adapters" / "webchat" / "static" / "helpline.js").read_text(encoding="utf-8")
    assert (
        'href: `${hubRoot}help/${locale.startsWith("zh") ? "zh-CN" : "en"}/`' in script
        and "helpLink, closeButton" in script
    )
