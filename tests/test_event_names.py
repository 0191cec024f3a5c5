"""System events in the reader's language (review 15, #9): teams and categories by name, not
id, in the inbox's event parameters and in the API's `text`, and the keyword-priority line."""

# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
from __future__ import annotations

from hub.i18n import hub_texts
from tests.test_api import Agent, admin, agent, new_ticket, server  # noqa: F401  (fixtures)


async def test_category_and_team_events_name_them_in_the_readers_language(admin: Agent) -> None:
    await admin.call("PATCH", "/api/v1/me", {"language": "zh-CN"})
    ticket = await new_ticket(admin, text="有人诈骗我")  # an urgent keyword of the defaults
    await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"category": "dispute"})
    await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"team": "technical-support"})
    events = [m for m in (await admin.call("GET", f"/api/v1/conversations/{ticket}/messages"))["items"] if m["event"]]
    said = {m["event"]["key"]: m for m in events}
    assert said["event.keyword_priority"]["text"] == "关键词「诈骗」将优先级提高为「紧急」"
    changed = said["event.category_changed"]
    assert "交易纠纷" in changed["text"] and "dispute" not in changed["text"]
    assert changed["event"]["names"]["category"]["zh-CN"] == "交易纠纷"  # for the inbox's own catalog
    moved = said["event.category_team"]
    assert "交易纠纷" in moved["text"] and "财务/退款" in moved["text"] and "finance" not in moved["text"]
    # an English reader reads the same events in English
    await admin.call("PATCH", "/api/v1/me", {"language": "en"})
    events = (await admin.call("GET", f"/api/v1/conversations/{ticket}/messages"))["items"]
    text = {m["event"]["key"]: m["text"] for m in events if m["event"]}
    assert "Transaction dispute" in text["event.category_changed"]


def test_the_zh_cn_team_lines_have_no_space_before_zu_and_a_paged_backup_is_named() -> None:
    zh, en = hub_texts("zh-CN"), hub_texts("en")
    for key in ("event.backup_paged.queue", "event.backup_paged.wait"):
        assert "} 组" not in zh.get(key), key
    assert zh.get("event.how.backup") == "作为备班被呼叫" and en.get("event.how.backup") == "paged as backup"


async def test_a_failed_delivery_names_its_cause_by_code_for_the_inbox(agent: Agent) -> None:
    """The inbox says "no callback address" in the agent's language (delivery.error.<code>);
    the channel's English detail stays beside it for the log and admins."""
    import json

    from hub.app_keys import HUB
    from hub.sdk import PermanentDeliveryError
    from tests.conftest import ROOT
    from tests.helpers import eventually

    conv = await new_ticket(agent)
    hub = agent.client.server.app[HUB]
    detail = "channel webhook has no callback_url: it cannot send replies"
    hub.adapters["chat"].script = [PermanentDeliveryError(detail, code="no_callback_url")]
    reply = await agent.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": "hello"}, status=201)

    async def delivery() -> dict[str, str] | None:
        thread = (await agent.call("GET", f"/api/v1/conversations/{conv}/messages"))["items"]
        found = [m for m in thread if m["id"] == reply["id"]][0]["delivery"]
        return found if found["status"] == "failed" else None

    await eventually(delivery)
    failed = await delivery()
    assert failed is not None and (failed["error_code"], failed["error"]) == ("no_callback_url", detail)
    for language in ("en", "zh-CN"):
        catalog = json.loads((ROOT / "hub" / "static" / "inbox" / "i18n" / f"{language}.json").read_text("utf-8"))
        assert "callback" in catalog["delivery.error.no_callback_url"]
    assert (
        "回调地址"
        in json.loads((ROOT / "hub/static/inbox/i18n/zh-CN.json").read_text("utf-8"))["delivery.error.no_callback_url"]
    )


async def test_an_sla_escalation_names_the_team_it_moves_to_or_stays_with(admin: Agent) -> None:
    """ "升级至 技术支持", not "升级至 technical-support": events stored once (the SLA ladder's)
    get the names too."""
    from hub.app_keys import HUB
    from hub.thread_events import ThreadEvent

    hub = admin.client.server.app[HUB]
    conversation = await hub.store.tickets.get_conversation(await new_ticket(admin))
    for key in ("event.sla_escalated", "event.sla_already_with"):
        event = ThreadEvent(key, {"clock": "resolution", "team": "technical-support"})
        stored, _ = await hub.services.conversations.add_thread_event_once(conversation, event, f"once-{key}")
        named = ThreadEvent(key, stored.raw["event"]["params"], stored.raw["event"]["names"])
        assert "技术支持" in named.text("zh-CN") and "technical-support" not in named.text("zh-CN")
        assert "Technical support" in named.text("en")


async def test_an_agent_who_chose_no_language_reads_events_in_their_browsers(admin: Agent) -> None:
    """The inbox shows itself in the browser's language when the agent chose none; the API
    said events and bots' notes in the hub's (English) until 简体中文 was picked by hand (a trial)."""
    ticket = await new_ticket(admin, text="有人诈骗我")
    resp = await admin.client.get(
        f"/api/v1/conversations/{ticket}/messages", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    )
    said = (await resp.json())["items"]
    assert any("关键词「诈骗」将优先级提高为「紧急」" in m["text"] for m in said), said
    english = await (await admin.client.get(f"/api/v1/conversations/{ticket}/messages")).json()
    assert any("raised the priority" in m["text"] for m in english["items"] if m["event"])
    # a language the agent chose wins over the browser's
    await admin.call("PATCH", "/api/v1/me", {"language": "en"})
    resp = await admin.client.get(f"/api/v1/conversations/{ticket}/messages", headers={"Accept-Language": "zh-CN"})
    assert not any("关键词" in m["text"] for m in (await resp.json())["items"])


async def test_a_backup_page_names_the_team_and_says_itself_in_each_readers_language(admin: Agent) -> None:
    """The page's event and its note (mailed to the backup in their language) read 客服 and
    Chinese in a Chinese inbox, "Customer service" in an English one; a digest of one page
    says "1 page", not "1 pages"."""
    from conversation.model import MessageKind
    from hub.api.serialize import shown_text
    from hub.app_keys import HUB
    from hub.i18n import hub_texts

    hub = admin.client.server.app[HUB]
    conversation = await hub.store.tickets.get_conversation(await new_ticket(admin))
    conversation = await hub.services.conversations.update_conversation(conversation, {"team": "customer-service"})
    backup = admin.id
    routing = hub.services.routing
    event = await routing._team_event(
        "event.backup_paged.wait", "customer-service", agent="Boss", minutes="7", limit="5"
    )
    await routing._send_page(conversation, event, backup, ("chat", "boss-pager"))
    thread = await hub.store.tickets.list_messages(conversation.id)
    [note] = [m for m in thread if m.kind is MessageKind.NOTE]
    assert "客服" in shown_text(note, "zh-CN") and "工单" in shown_text(note, "zh-CN")
    assert "Customer service" in shown_text(note, "en") and note.text == shown_text(note, "en")  # Boss has no language
    assert "客服" in event.text("zh-CN") and "Customer service" not in event.text("zh-CN")
    # the ticket list previews what the customer wrote, not the page's note (conversation/inbox_rows.py)
    resp = await admin.client.get("/api/v1/conversations", headers={"Accept-Language": "zh-CN"})
    [listed] = [c for c in (await resp.json())["items"] if c["id"] == conversation.id]
    assert listed["preview"]["author_type"] == "contact", listed["preview"]
    assert hub_texts("en").plural("page.digest", 1, lines="- x").startswith("1 page since")
    assert hub_texts("en").plural("page.digest", 2, lines="- x").startswith("2 pages since")
