"""The knowledge base through /api/v1/kb: agents read, admins and supervisors write."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer

from hub.app_keys import HUB
from tests.helpers import eventually
from tests.test_api import ADMIN, AGENT, server, sign_in

__all__ = ["server"]

ZH = Path(__file__).resolve().parents[2] / "shared" / "data" / "faq-zh" / "articles.jsonl"
ARTICLE = {
    "id": "invoice",
    "title": "如何开发票",
    "answer": "在**订单详情**申请。<script>alert(1)</script> [x](javascript:alert(1))",
    "category": "faq",
    "tags": ["发票"],
    "examples": ["发票怎么开", "能开增值税发票吗"],
    "status": "published",
}


async def test_admins_write_agents_read_and_answers_are_rendered_safely(server: TestServer) -> None:
    admin, agent = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        await agent.call("POST", "/api/v1/kb/articles", ARTICLE, status=403)
        created = await admin.call("POST", "/api/v1/kb/articles", ARTICLE, status=201)
        assert created["html"].startswith("<p>在<strong>订单详情</strong>申请。&lt;script&gt;")
        assert 'href="javascript' not in created["html"] and "<script" not in created["html"]
        await admin.call("POST", "/api/v1/kb/articles", ARTICLE, status=409)
        english = {**ARTICLE, "id": "invoice-en", "title": "Invoices", "language": "en", "group": "invoice"}
        await admin.call("POST", "/api/v1/kb/articles", english, status=201)
        read = await agent.call("GET", "/api/v1/kb/articles/invoice")
        assert read["translations"] == [{"id": "invoice-en", "language": "en", "title": "Invoices"}]

        # the category is one of the desk's (its team takes the article's hand-offs), or nothing changes
        unknown = await admin.call(
            "PATCH", "/api/v1/kb/articles/invoice", {"version": 1, "category": "订单"}, status=422
        )
        assert "订单" in unknown["message"]
        await admin.call("POST", "/api/v1/kb/articles", {**ARTICLE, "id": "x", "category": "nope"}, status=422)
        await admin.call("GET", "/api/v1/kb/articles/x", status=404)
        changed = await admin.call("PATCH", "/api/v1/kb/articles/invoice", {"version": 1, "title": "开发票"})
        assert changed["version"] == 2 and changed["category"] == "faq" and changed["updated_by"] == "Boss"
        stale = await admin.call("PATCH", "/api/v1/kb/articles/invoice", {"version": 1, "title": "x"}, status=409)
        assert stale["error"] == "conflict"
        await agent.call("PATCH", "/api/v1/kb/articles/invoice", {"version": 2, "title": "y"}, status=403)
        # an agent is refused before the body is read: a bad one is no 422 telling its rules
        refused = await agent.call("PATCH", "/api/v1/kb/articles/invoice", {"title": "y"}, status=403)
        assert refused["message"] == "knowledge-base articles are changed by admins and supervisors"
        await agent.call("POST", "/api/v1/kb/import", {"format": "xml"}, status=403)
        exported = await agent.call("GET", "/api/v1/kb/export?format=pdf", status=403)
        assert exported["message"] == "the knowledge base is exported by admins and supervisors"
        await agent.call("GET", "/api/v1/kb/proposals?limit=0", status=403)
        history = (await agent.call("GET", "/api/v1/kb/articles/invoice/versions"))["items"]
        assert [(v["version"], v["changed"]) for v in history] == [(2, ["title"]), (1, history[1]["changed"])]
        old = await agent.call("GET", "/api/v1/kb/articles/invoice/versions/1")
        assert old["article"]["title"] == "如何开发票"
        await agent.call("GET", "/api/v1/kb/articles/invoice/versions/9", status=404)

        found = (await agent.call("GET", "/api/v1/kb/articles?q=开发票&language=zh-CN"))["items"]
        assert [a["id"] for a in found] == ["invoice"]
        preview = await agent.call("POST", "/api/v1/kb/preview", {"answer": "# 标题\n<img src=x onerror=alert(1)>"})
        assert preview["html"].startswith("<h1>标题</h1>") and "<img" not in preview["html"]
    finally:
        await admin.client.close()
        await agent.client.close()


async def test_import_export_and_suggestions_follow_the_changes(server: TestServer) -> None:
    admin = await sign_in(server, ADMIN)
    try:
        text = ZH.read_text(encoding="utf-8")
        bad = await admin.call("POST", "/api/v1/kb/import", {"format": "jsonl", "text": text + "{oops\n"}, status=422)
        assert "line 31" in bad["message"] and bad["line"] == 31  # a client points at it (a trial's wish)
        assert (await admin.call("GET", "/api/v1/kb/articles"))["items"] == []
        done = await admin.call("POST", "/api/v1/kb/import", {"format": "jsonl", "text": text})
        assert done == {"created": 30, "updated": 0, "unchanged": 0}
        again = await admin.call("POST", "/api/v1/kb/import", {"format": "jsonl", "text": text})
        assert again == {"created": 0, "updated": 0, "unchanged": 30}
        resp = await admin.client.get("/api/v1/kb/export?format=csv")
        assert resp.status == 200 and (await resp.text()).startswith("\ufeffid,language,group,status")

        hub = server.app[HUB]
        await eventually(lambda: hub.knowledge.trained is not None)  # retrained without a restart
        best = (await admin.call("GET", "/api/v1/kb/suggestions?q=忘记密码了怎么办"))["items"][0]
        assert best["id"] == "forgot_password" and 0 < best["confidence"] <= 1
    finally:
        await admin.client.close()
