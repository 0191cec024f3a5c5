"""Agent assistance and learning through the API, on both store backends: the thread's
suggestions (top three, confidence, the contact's language), and the review queue that a
ticket an agent resolves feeds (masked, proposed once, learned only when approved)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer

from conversation.audit import AuditQuery
from conversation.inbound import Sender
from conversation.kb_learning import proposal_id
from conversation.knowledge import ArticleStatus
from conversation.model import Attachment, Role
from hub.agents import add_agent
from hub.app import Hub
from hub.app_keys import HUB
from tests.helpers import customer_message, eventually
from tests.test_api import ADMIN, AGENT, Agent, sign_in
from tests.test_handoff import server  # the API server on each store backend

__all__ = ["server"]

ARTICLES: list[dict[str, Any]] = [
    {"id": "refund", "title": "如何申请退款", "answer": "打开**订单**，点击申请退款。",
     "examples": ["怎么退款", "我要退钱", "退款在哪里申请", "可以退货退款吗"]},
    {"id": "refund-en", "title": "How to get a refund", "answer": "Open the **order** and tap Refund.",
     "language": "en", "group": "refund", "examples": ["how do I get my money back", "refund please"]},
    {"id": "invoice", "title": "如何开发票", "answer": "在订单详情申请发票。",
     "examples": ["发票怎么开", "能开增值税发票吗", "开票"]},
    {"id": "password", "title": "忘记密码怎么办", "answer": "在登录页点击忘记密码。",
     "examples": ["密码忘了", "登录不了", "重置密码"]},
    {"id": "address", "title": "如何修改收货地址", "answer": "发货前可在订单详情修改地址。",
     "examples": ["改地址", "收货地址写错了", "换个地址"]},
]  # fmt: skip


async def knowledge_base(hub: Hub, admin: Agent) -> None:
    for article in ARTICLES:
        await admin.call("POST", "/api/v1/kb/articles", {**article, "status": "published"}, status=201)
    await eventually(lambda: hub.knowledge.trained is not None and len(hub.knowledge.articles) == len(ARTICLES))


async def test_suggestions_are_the_top_three_for_the_latest_customer_message_in_the_contacts_language(
    server: TestServer,
) -> None:
    hub: Hub = server.app[HUB]
    admin = await sign_in(server, ADMIN)
    try:
        await knowledge_base(hub, admin)
        record = await hub.ingest(customer_message("s1", "发票怎么开？", thread="t-s", sender=Sender("u-s")))
        conv = record.conversation.id
        first = await admin.call("GET", f"/api/v1/conversations/{conv}/suggestions")
        assert first["question"] == "发票怎么开？" and first["language"] == "zh-CN"
        assert 1 <= len(first["items"]) <= 3 and first["items"][0]["id"] == "invoice"
        confidences = [item["confidence"] for item in first["items"]]
        assert confidences == sorted(confidences, reverse=True) and 0 < confidences[0] <= 1
        assert min(confidences) >= 0.05  # a trial's panel padded three with 0 - 4 % matches
        unlimited = await admin.call("GET", f"/api/v1/kb/suggestions?q={first['question']}&k=5")
        worth = [i["id"] for i in unlimited["items"] if i["confidence"] >= 0.05 and i["id"] != "refund-en"]
        assert [item["id"] for item in first["items"]] == worth[:3]
        assert first["items"][0]["answer"] == "在订单详情申请发票。"

        await hub.ingest(customer_message("s2", "还有，我想退款", thread="t-s", sender=Sender("u-s")))
        later = await admin.call("GET", f"/api/v1/conversations/{conv}/suggestions?k=1")
        assert [item["id"] for item in later["items"]] == ["refund"]  # the latest message counts
        assert later["items"][0]["answer"].startswith("打开**订单**")
        # "no, I want a person" asks nothing: the suggestions stay on the question before it
        await hub.ingest(customer_message("s2b", "不对，我要找人工客服", thread="t-s", sender=Sender("u-s")))
        await hub.ingest(customer_message("s2c", "谢谢", thread="t-s", sender=Sender("u-s")))
        still = await admin.call("GET", f"/api/v1/conversations/{conv}/suggestions?k=1")
        assert still["question"] == "还有，我想退款" and [item["id"] for item in still["items"]] == ["refund"]
        # a request for a person that says what it is about is matched by what it is about
        alone = await admin.call("GET", "/api/v1/kb/suggestions?q=退款三天还没到账")
        await hub.ingest(customer_message("s2d", "转人工，退款三天还没到账", thread="t-s", sender=Sender("u-s")))
        asked = await admin.call("GET", f"/api/v1/conversations/{conv}/suggestions?k=1")
        assert asked["question"] == "转人工，退款三天还没到账" and asked["items"][0]["id"] == "refund"
        assert asked["items"][0]["confidence"] == alone["items"][0]["confidence"]  # not halved by "转人工"

        # The customer writes Chinese: the answers are Chinese, whatever the contact's language says.
        await admin.call("PATCH", f"/api/v1/contacts/{record.contact.id}", {"language": "en"})
        chinese = (await admin.call("GET", f"/api/v1/conversations/{conv}/suggestions?k=1"))["items"][0]
        assert chinese["article_id"] == "refund" and chinese["language"] == "zh-CN"

        # English on a contact whose browser said zh-CN (a trial's): the bot answered in English
        # while the panel offered the Chinese article, twice (it and its translation's match).
        asked_en = await hub.ingest(
            customer_message("s4", "refund please, how do I get my money back", thread="t-en", sender=Sender("u-en"))
        )
        await admin.call("PATCH", f"/api/v1/contacts/{asked_en.contact.id}", {"language": "zh-CN"})
        listed = await admin.call("GET", f"/api/v1/conversations/{asked_en.conversation.id}/suggestions")
        assert listed["language"] == "en" and len(listed["items"]) >= 1
        shown = [item["article_id"] for item in listed["items"]]
        assert shown[0] == "refund-en" and "refund" not in shown  # one answer per article and translation
        english = listed["items"][0]
        assert english["answer"] == "Open the **order** and tap Refund."
        assert english["html"] == "<p>Open the <strong>order</strong> and tap Refund.</p>\n"
        assert english["text"] == "Open the order and tap Refund."  # what the reply box gets
        # A message in neither language ("1", "ok") keeps the customer's latest clear one.
        await hub.ingest(customer_message("s5", "ok?", thread="t-en", sender=Sender("u-en")))
        again = await admin.call("GET", f"/api/v1/conversations/{asked_en.conversation.id}/suggestions?k=1")
        assert again["language"] == "en"

        photo = Attachment("photo.png", "image/png", 8, await hub.blobs.put(b"\x89PNG\r\n\x1a\n"))
        quiet = await hub.ingest(customer_message("s3", "", thread="t-q", sender=Sender("u-q"), attachments=(photo,)))
        empty = await admin.call("GET", f"/api/v1/conversations/{quiet.conversation.id}/suggestions")
        assert empty["items"] == []
    finally:
        await admin.client.close()


async def resolved_ticket(hub: Hub, agent: Agent, admin: Agent, key: str, question: str, answer: str) -> str:
    record = await hub.ingest(customer_message(f"{key}-q", question, thread=f"t-{key}", sender=Sender(f"u-{key}")))
    conv = record.conversation.id
    await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "customer-service", "assignee_id": agent.id})
    await agent.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": answer}, status=201)
    await agent.call("PATCH", f"/api/v1/conversations/{conv}", {"status": "resolved"})
    return conv


async def test_a_ticket_an_agent_resolves_is_proposed_once_with_personal_data_masked(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service"]})
        await knowledge_base(hub, admin)
        question = "退款怎么还没到？订单2023112612345678，电话13812345678，邮箱zw@example.com，卡号4111 1111 1111 1111"
        conv = await resolved_ticket(hub, lina, admin, "p", question, "退款3天内原路退回，请留意13812345678的短信")
        queue = (await admin.call("GET", "/api/v1/kb/proposals"))["items"]
        assert len(queue) == 1
        proposal = queue[0]
        assert proposal["id"] == proposal_id(conv) and proposal["status"] == "pending"
        # The card number never reached the store (redacted at ingest); the rest is masked here.
        assert proposal["question"] == "退款怎么还没到？订单[order]，电话[phone]，邮箱[email]，卡号[银行卡号已隐藏]"
        assert proposal["answer"] == "退款3天内原路退回，请留意[phone]的短信"
        assert proposal["article_id"] == "refund" and 0 < proposal["confidence"] <= 1
        # preselected in the review queue only when the match is sure (else the reviewer chooses)
        assert proposal["preselected"] is (proposal["confidence"] >= 0.7)
        for secret in ("2023112612345678", "13812345678", "zw@example.com", "4111"):
            assert secret not in str(queue)
        await lina.call("GET", "/api/v1/kb/proposals", status=403)  # reviewers are admins and supervisors

        # reopened by the customer and resolved again (and a repeated resolve): still one proposal
        await hub.ingest(customer_message("p-again", "还是没到", thread="t-p", sender=Sender("u-p")))
        await lina.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": "已经加急处理。"}, status=201)
        await lina.call("PATCH", f"/api/v1/conversations/{conv}", {"status": "resolved"})
        await lina.call("PATCH", f"/api/v1/conversations/{conv}", {"status": "resolved"})
        assert [p["id"] for p in (await admin.call("GET", "/api/v1/kb/proposals"))["items"]] == [proposal["id"]]
        assert await hub.store.knowledge.get_article("refund") is not None
        assert (await hub.store.knowledge.get_article("refund")).examples == tuple(ARTICLES[0]["examples"])  # type: ignore[union-attr]
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_a_proposal_is_in_the_language_of_its_question_not_the_contacts(server: TestServer) -> None:
    """The review queue lists the articles of a proposal's language first: an English question
    from a contact whose browser said zh-CN was proposed as Chinese (a trial's)."""
    hub: Hub = server.app[HUB]
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service"]})
        await knowledge_base(hub, admin)
        record = await hub.ingest(
            customer_message("l-q", "I can't receive the SMS code", thread="t-l", sender=Sender("u-l"))
        )
        await admin.call("PATCH", f"/api/v1/contacts/{record.contact.id}", {"language": "zh-CN"})
        conv = record.conversation.id
        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "customer-service", "assignee_id": lina.id})
        await lina.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": "Please wait 60 s."}, status=201)
        await lina.call("PATCH", f"/api/v1/conversations/{conv}", {"status": "resolved"})
        [proposal] = (await admin.call("GET", "/api/v1/kb/proposals"))["items"]
        assert proposal["question"] == "I can't receive the SMS code" and proposal["language"] == "en"
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_only_tickets_an_agent_answered_and_resolved_are_proposed(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    admin = await sign_in(server, ADMIN)
    try:
        # the bot (or any plugin) resolving goes through the service, not an agent's change
        bot_done = await hub.ingest(customer_message("b1", "发票怎么开", thread="t-b", sender=Sender("u-b")))
        await hub.actions.post_bot_message(bot_done.conversation, "在订单详情申请发票。", plugin="faq")
        await hub.actions.update_conversation(bot_done.conversation, {"status": "resolved"})
        # an agent resolves without answering (spam, a duplicate): nothing to learn
        silent = await hub.ingest(customer_message("n1", "asdf", thread="t-n", sender=Sender("u-n")))
        await admin.call("PATCH", f"/api/v1/conversations/{silent.conversation.id}", {"status": "resolved"})
        # [knowledge] learn_from_resolved = false: an agent's answer and resolve propose nothing
        hub.services.learning.enabled = False
        off = await hub.ingest(customer_message("o1", "发票怎么开", thread="t-o", sender=Sender("u-o")))
        await admin.call(
            "POST", f"/api/v1/conversations/{off.conversation.id}/messages", {"text": "在订单页。"}, status=201
        )
        await admin.call("PATCH", f"/api/v1/conversations/{off.conversation.id}", {"status": "resolved"})
        assert (await admin.call("GET", "/api/v1/kb/proposals"))["items"] == []
        assert await hub.store.records.get_record("kb", "proposal", proposal_id(bot_done.conversation.id)) is None
    finally:
        await admin.client.close()


async def test_approving_adds_the_edited_example_and_the_matcher_learns_it_at_once(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service"]})
        await knowledge_base(hub, admin)
        conv = await resolved_ticket(hub, lina, admin, "a", "钱什么时候退回来 13812345678", "3天内原路退回。")
        pid = proposal_id(conv)
        trainings = hub.knowledge.trainings
        body = {"question": "钱什么时候退回来", "article_id": "refund"}
        await lina.call("POST", f"/api/v1/kb/proposals/{pid}/approve", body, status=403)
        approved = await admin.call("POST", f"/api/v1/kb/proposals/{pid}/approve", body)
        assert approved["status"] == "approved" and approved["learned_article_id"] == "refund"
        assert approved["example"] == "钱什么时候退回来"  # what was learned, beside what was proposed
        article = await hub.store.knowledge.get_article("refund")
        assert article is not None and article.examples[-1] == "钱什么时候退回来" and article.version == 2
        assert (await hub.store.knowledge.list_versions("refund"))[0].changed == ("examples",)
        await eventually(lambda: hub.knowledge.trainings > trainings)  # retrained through the KB change path
        assert "钱什么时候退回来" in hub.knowledge.articles["refund"].examples
        again = await admin.call("POST", f"/api/v1/kb/proposals/{pid}/approve", body, status=409)
        assert again["error"] == "conflict"
        await admin.call("POST", f"/api/v1/kb/proposals/{pid}/reject", None, status=409)
        assert (await admin.call("GET", "/api/v1/kb/proposals"))["items"] == []
        entries = [e for e in await hub.store.audit.list_entries(AuditQuery()) if e.action.startswith("kb.proposal")]
        assert [e.action for e in entries] == ["kb.proposal.approved"]
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_a_proposal_without_an_article_becomes_a_draft_and_a_rejected_one_teaches_nothing(
    server: TestServer,
) -> None:
    hub: Hub = server.app[HUB]
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service"]})
        new = await resolved_ticket(hub, lina, admin, "d", "能开发票到邮箱a@b.cn吗", "可以，在发票页填写邮箱。")
        drop = await resolved_ticket(hub, lina, admin, "r", "你们老板是谁", "抱歉，无法透露。")
        queue = (await admin.call("GET", "/api/v1/kb/proposals"))["items"]
        assert {p["id"] for p in queue} == {proposal_id(new), proposal_id(drop)}
        assert all(p["article_id"] == "" for p in queue)  # no knowledge base yet: draft articles

        body = {
            "question": "能开发票到邮箱吗",
            "title": "电子发票发到邮箱",
            "answer": "可以，在发票页填写邮箱 x@y.cn。",
        }
        done = await admin.call("POST", f"/api/v1/kb/proposals/{proposal_id(new)}/approve", body)
        draft = await hub.store.knowledge.get_article(done["learned_article_id"])
        assert draft is not None and draft.status is ArticleStatus.DRAFT and draft.language == "zh-CN"
        assert new not in draft.id  # its id goes in a public address once published: not the ticket's
        assert (draft.title, draft.examples) == ("电子发票发到邮箱", ("能开发票到邮箱吗",))
        assert draft.answer == "可以，在发票页填写邮箱 [email]。"  # masked even after the edit

        rejected = await admin.call("POST", f"/api/v1/kb/proposals/{proposal_id(drop)}/reject")
        assert rejected["status"] == "rejected"
        assert [a.id for a in await hub.store.knowledge.list_articles()] == [draft.id]
        assert (await admin.call("GET", "/api/v1/kb/proposals"))["items"] == []
        await admin.call("POST", "/api/v1/kb/proposals/nope/reject", status=404)
        await admin.call("POST", f"/api/v1/kb/proposals/{proposal_id(drop)}/approve", {"question": " "}, status=422)
    finally:
        await admin.client.close()
        await lina.client.close()


async def test_a_supervisor_reviews_only_what_tickets_of_their_teams_propose(server: TestServer) -> None:
    hub: Hub = server.app[HUB]
    boss = ("finance.lead@example.com", "supervisor password 3")
    await add_agent(hub.store, boss[0], Role.SUPERVISOR, boss[1], name="Zhao Lei")
    admin, lina, lead = await sign_in(server, ADMIN), await sign_in(server, AGENT), await sign_in(server, boss)
    try:
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service"]})
        await admin.call("PATCH", f"/api/v1/agents/{lead.id}", {"teams": ["finance"]})
        conv = await resolved_ticket(hub, lina, admin, "s", "发票抬头写错了怎么办", "可以在发票页重新申请。")
        assert [p["id"] for p in (await admin.call("GET", "/api/v1/kb/proposals"))["items"]] == [proposal_id(conv)]
        assert (await lead.call("GET", "/api/v1/kb/proposals"))["items"] == []
        body = {"question": "发票抬头写错了怎么办"}
        await lead.call("POST", f"/api/v1/kb/proposals/{proposal_id(conv)}/approve", body, status=404)
        await lead.call("POST", f"/api/v1/kb/proposals/{proposal_id(conv)}/reject", status=404)

        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "finance"})
        assert [p["id"] for p in (await lead.call("GET", "/api/v1/kb/proposals"))["items"]] == [proposal_id(conv)]
        assert (await lead.call("POST", f"/api/v1/kb/proposals/{proposal_id(conv)}/approve", body))["status"] == (
            "approved"
        )
    finally:
        for who in (admin, lina, lead):
            await who.client.close()
