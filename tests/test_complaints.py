"""The `complaints` plugin end to end: a complaint on Telegram (Chinese) and by email
(English) with its number, moves and outcome told to the customer, and its ticket held open
until the outcome is sent; a complaint about an agent that this agent never sees (API,
lists, search, counts, live feed) while the supervisors do; suggestions grouped in the
monthly report mailed through the loopback SMTP server, once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation import complaints as rules
from conversation.desk import Team
from conversation.inbound import Sender
from conversation.model import AuthorType, Conversation, MessageKind, Role, Status
from conversation.timers import timer_key
from hub.agents import add_agent
from hub.api.framework import SAFE
from hub.api.routes import api
from hub.api.serialize import shown_text
from hub.app import Hub, build_app
from hub.app_keys import HUB
from hub.i18n import hub_texts, texts
from tests.email_servers import Sink, start_sink
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import clear_proxies, customer_message, eventually, make_config, running_hub, serve
from tests.test_api import ADMIN, AGENT, sign_in
from tests.test_email import SUPPORT, customer_mail

SECRET = "telegram-webhook-secret"
SUPERVISOR = ("sam@example.com", "supervisor password 1")
REPORT_TO = ["product@example.com", "pm@example.com"]


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    clear_proxies(monkeypatch)
    fake = FakeTelegram()
    runner, url = await serve(fake.app())
    fake.base = url  # type: ignore[attr-defined]
    yield fake
    await runner.cleanup()


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    sink, server, port = await start_sink()
    yield sink, port
    server.close()
    await server.wait_closed()


@pytest.fixture
async def server(
    request: pytest.FixtureRequest, tmp_path: Path, bot: FakeTelegram, sink: tuple[Sink, int]
) -> AsyncIterator[TestServer]:
    """`request.param` (indirect): the hub's clock, a fixed moment, set before the hub starts."""
    from tests.conftest import free_port

    config = make_config(
        tmp_path,
        {
            "storage": {"timeout_seconds": 10},
            "channels": {
                "chat": {"type": "recording"},
                "telegram": {
                    "token": bot.token,
                    "mode": "webhook",
                    "webhook_secret": SECRET,
                    "api_base_url": bot.base,  # type: ignore[attr-defined]
                },
                "email": {
                    "address": SUPPORT,
                    "listen_port": free_port(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": sink[1],
                    "smtp_tls": "none",
                },
            },
            "plugins": {
                "enabled": ["complaints"],
                "complaints": {
                    "report_recipients": {"product": REPORT_TO},
                    "departments": {"agent": "supervisors"},
                    "escalation_team": "managers",
                },
            },
        },
    )
    hub = Hub(config)
    moment: datetime | None = getattr(request, "param", None)
    if moment is not None:  # before the start: the plugin sets its monthly timer by the hub's clock then
        hub.actions.clock = lambda: moment  # type: ignore[method-assign]
    server = TestServer(build_app(hub))
    await server.start_server()
    await add_agent(hub.store, ADMIN[0], Role.ADMIN, ADMIN[1], name="Boss")
    await add_agent(hub.store, AGENT[0], Role.AGENT, AGENT[1], name="Li Na")
    sam = await add_agent(hub.store, SUPERVISOR[0], Role.SUPERVISOR, SUPERVISOR[1], name="Sam")
    await hub.store.desk.save_team(Team("supervisors", {"en": "Supervisors", "zh-CN": "主管"}, [sam.id], "supervisors"))
    await hub.store.desk.save_team(Team("managers", {"en": "Managers", "zh-CN": "经理"}, [], "supervisors"))
    yield server
    await server.close()


@pytest.fixture
def hub(server: TestServer) -> Hub:
    return server.app[HUB]


async def telegram(client: TestClient, update: dict[str, Any]) -> None:
    resp = await client.post(
        "/channels/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert resp.status == 200


def said(fake: FakeTelegram, chat: int = 777) -> list[str]:
    return [m["text"] for m in fake.sent("sendMessage") if int(m["chat_id"]) == chat]


async def said_count(fake: FakeTelegram, count: int) -> list[str]:
    await eventually(lambda: len(said(fake)) >= count, timeout=15.0)
    return said(fake)


def mail_text(sink: Sink, index: int) -> str:
    return sink.mails[index].get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def by_number(hub: Hub, number: int) -> Conversation:
    found = await hub.store.tickets.get_conversation_by_number(number)
    assert found is not None
    return found


async def complaint_of(hub: Hub, conversation_id: str) -> dict[str, Any]:
    async def found() -> list[Any]:
        return await hub.services.records.query("complaints", "complaint", conversation_id=conversation_id)

    for _ in range(150):
        if records := await found():
            return {"id": records[0].id, **records[0].data, "status": records[0].status}
        await asyncio.sleep(0.1)
    raise AssertionError("no complaint was filed")


async def test_a_complaint_on_telegram_is_numbered_moved_and_answered_and_its_ticket_waits_for_the_outcome(
    server: TestServer, hub: Hub, bot: FakeTelegram
) -> None:
    admin = await sign_in(server, ADMIN)
    try:
        await telegram(admin.client, text_update(1, "我要投诉这个卖家，收到的货和描述完全不一样"))
        [received] = await said_count(bot, 1)
        ticket = await by_number(hub, 1000)
        complaint = await complaint_of(hub, ticket.id)
        assert complaint["number"] == "C-1000" and complaint["subject"] == "seller"
        assert complaint["department"] == "customer-service" and complaint["status"] == "received"
        assert received.startswith("您的投诉已受理（编号 C-1000），已转交客服跟进处理。")
        ticket = await by_number(hub, 1000)
        assert ticket.team == "customer-service"

        base = f"/api/v1/complaints/{complaint['id']}"
        await admin.call("POST", f"{base}/move", {"status": "investigating"})
        assert (await said_count(bot, 2))[-1] == "您的投诉 C-1000 正在调查中。"
        refused = await admin.call("POST", f"{base}/move", {"status": "closed"}, status=422)
        assert "moves to awaiting_outcome, not closed" in refused["message"]

        # the ticket cannot be resolved before the outcome is sent: refused, nothing changed
        answer = await admin.call("PATCH", f"/api/v1/conversations/{ticket.id}", {"status": "resolved"}, status=422)
        assert answer["error"] == "resolve_refused" and "C-1000" in answer["message"]
        zh = await admin.client.patch(  # said in the caller's language
            f"/api/v1/conversations/{ticket.id}?lang=zh-CN",
            json={"status": "resolved"},
            headers={"X-CSRF-Token": admin.csrf},
        )
        message = (await zh.json())["message"]
        assert zh.status == 422 and message == hub_texts("zh-CN").get("error.resolve_refused") and "投诉" in message
        assert (await by_number(hub, 1000)).status is Status.OPEN
        # nor can the generic records API mark the outcome sent behind the plugin's back
        skipped = await admin.call(
            "PATCH", f"/api/v1/records/complaints/complaint/{complaint['id']}", {"status": "outcome_sent"}, status=409
        )
        assert skipped["error"] == "managed_record"

        await admin.call("POST", f"{base}/move", {"status": "awaiting_outcome"})
        await admin.call("POST", f"{base}/outcome", {"outcome": "卖家已同意全额退款，3 个工作日内到账。"})
        told = await said_count(bot, 4)
        assert told[-1] == "您的投诉 C-1000 的处理结果：卖家已同意全额退款，3 个工作日内到账。"
        again = await admin.call("POST", f"{base}/outcome", {"outcome": "again"}, status=422)
        assert "sent already" in again["message"]
        await admin.call("PATCH", f"/api/v1/conversations/{ticket.id}", {"status": "resolved"})
        assert (await by_number(hub, 1000)).status is Status.RESOLVED
        await asyncio.sleep(0.2)
        assert len(said(bot)) == 4  # each news told once
        # more words about it reopen the ticket for the agents; no second complaint, no plugin error
        await telegram(admin.client, text_update(2, "我还要投诉，退款太慢了", message_id=2))
        await eventually(lambda: hub.pipeline._tasks == set())
        assert len(await hub.services.records.query("complaints", "complaint")) == 1
        assert hub.metrics.plugin_errors.labels("complaints")._value.get() == 0
        await asyncio.sleep(0.2)
        assert len(said(bot)) == 4  # not asked what the complaint is about all over again
    finally:
        await admin.client.close()


async def test_a_complaint_by_email_is_told_in_english_and_an_agent_converts_another_ticket(
    server: TestServer, hub: Hub, sink: tuple[Sink, int]
) -> None:
    mails, _ = sink
    admin = await sign_in(server, ADMIN)
    try:
        email = hub.adapters["email"]
        mail = customer_mail(
            "Complaint", "I want to complain: the order arrived broken.", sender="Ann <ann@example.org>"
        )
        await aiosmtplib.send(
            mail,
            hostname="127.0.0.1",
            port=email.listen_port,  # type: ignore[attr-defined]
            sender="ann@example.org",
            recipients=[SUPPORT],
        )
        await eventually(lambda: len(mails.mails) >= 1, timeout=15.0)
        # the team by its name, never "The Customer service team" (a trial)
        received = "We have recorded your complaint C-1000 and passed it to Finance / refunds, who will look into it."
        assert received in mail_text(mails, 0)
        ticket = await by_number(hub, 1000)
        complaint = await complaint_of(hub, ticket.id)
        assert (complaint["subject"], complaint["department"], ticket.team) == ("order", "finance", "finance")
        await admin.call("POST", f"/api/v1/complaints/{complaint['id']}/move", {"status": "investigating"})
        await admin.call("POST", f"/api/v1/complaints/{complaint['id']}/move", {"status": "awaiting_outcome"})
        await admin.call(
            "POST", f"/api/v1/complaints/{complaint['id']}/outcome", {"outcome": "A new one is on its way."}
        )
        await eventually(lambda: len(mails.mails) >= 4, timeout=15.0)
        texts = [mail_text(mails, i) for i in range(4)]
        assert "Your complaint C-1000 is being investigated." in texts[1]
        assert "The outcome of your complaint C-1000: A new one is on its way." in texts[3]

        # an agent converts a ticket (critical: urgent) and gives it a follow-up
        other = await hub.ingest(customer_message("x1", "the search page is very slow", thread="x"))
        wrong = {"kind": "complaint", "subject": "agent", "about_agent": "nobody"}
        refused = await admin.call(
            "POST", f"/api/v1/conversations/{other.conversation.id}/complaint", wrong, status=422
        )
        assert refused["message"] == "about_agent: not an agent"
        body = {"kind": "complaint", "subject": "feature", "severity": "critical", "summary": "search slow"}
        filed = await admin.call("POST", f"/api/v1/conversations/{other.conversation.id}/complaint", body, status=201)
        assert filed["data"]["number"] == f"C-{other.conversation.number}"
        converted = await hub.store.tickets.get_conversation(other.conversation.id)
        assert converted is not None and converted.priority.value == "urgent"
        assert converted.team == "technical-support"
        await admin.call("POST", f"/api/v1/conversations/{other.conversation.id}/complaint", body, status=422)
        due = datetime.now(UTC) + timedelta(hours=1)
        body = {"text": "call the search team", "owner": admin.id, "due": due.isoformat()}
        followed = await admin.call("POST", f"/api/v1/complaints/{filed['id']}/follow-ups", body, status=201)
        assert followed["deadline"] is not None
        assert (await admin.call("GET", "/api/v1/complaints?overdue=true"))["items"] == []
        # overdue by the hub's clock (the one its timers fire by), not the wall clock
        hub.actions.clock = lambda: due + timedelta(minutes=1)  # type: ignore[method-assign]
        overdue = await admin.call("GET", "/api/v1/complaints?overdue=true")
        assert [c["id"] for c in overdue["items"]] == [filed["id"]]
        assert await hub.plugin_host.fire_due_timers() == 1
        notes = [m for m in await hub.store.tickets.list_messages(other.conversation.id) if m.kind is MessageKind.NOTE]
        assert "Follow-up overdue on complaint" in notes[-1].text and "call the search team" in notes[-1].text
        [item] = followed["data"]["follow_ups"]
        await admin.call("POST", f"/api/v1/complaints/{filed['id']}/follow-ups/{item['id']}/done")
        assert (await admin.call("GET", "/api/v1/complaints?overdue=true"))["items"] == []
    finally:
        await admin.client.close()


async def ticket_frames(ws: Any, seconds: float) -> list[str]:
    """The tickets named by the frames a socket gets within `seconds`."""
    seen: list[str] = []
    try:
        while True:
            frame = await ws.receive_json(timeout=seconds)
            if frame.get("conversation_id"):
                seen.append(frame["conversation_id"])
    except TimeoutError:
        return seen


async def her_ticket_and_another(hub: Hub, admin: Any, lina: Any) -> tuple[str, Any]:
    """Li Na's ticket (assigned to her, her answer in it) and another of her team's."""
    await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["customer-service"]})
    first = await hub.ingest(customer_message("m1", "where is my parcel", thread="t1", sender=Sender("u1")))
    conv = first.conversation.id
    await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "customer-service", "assignee_id": lina.id})
    await lina.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": "Please wait."}, status=201)
    other = await hub.ingest(customer_message("o1", "hello", thread="t2", sender=Sender("u2")))
    await admin.call("PATCH", f"/api/v1/conversations/{other.conversation.id}", {"team": "customer-service"})
    return conv, other


async def test_a_complaint_about_an_agent_is_never_visible_to_that_agent_and_goes_to_the_supervisors(
    server: TestServer, hub: Hub
) -> None:
    admin, lina, sam = await sign_in(server, ADMIN), await sign_in(server, AGENT), await sign_in(server, SUPERVISOR)
    try:
        conv, other = await her_ticket_and_another(hub, admin, lina)

        await hub.ingest(
            customer_message("m2", "I want to complain about the agent, she was rude", thread="t1", sender=Sender("u1"))
        )
        complaint = await complaint_of(hub, conv)
        assert complaint["subject"] == "agent" and complaint["about_agent"] == lina.id
        ticket = await hub.store.tickets.get_conversation(conv)
        assert ticket is not None and (ticket.team, ticket.assignee_id) == ("supervisors", "")

        async with lina.client.ws_connect("/api/v1/live") as ws:
            await hub.ingest(customer_message("m3", "rude agent, still no answer", thread="t1", sender=Sender("u1")))
            await sam.call("POST", f"/api/v1/complaints/{complaint['id']}/move", {"status": "investigating"})
            await hub.ingest(customer_message("o2", "hello again", thread="t2", sender=Sender("u2")))
            frames = await ticket_frames(ws, 1.0)
            assert other.conversation.id in frames and conv not in frames  # the live feed says nothing of it

        # the ticket, its records and its messages: 404 to her, as if they did not exist
        await lina.call("GET", f"/api/v1/conversations/{conv}", status=404)
        await lina.call("GET", f"/api/v1/conversations/{conv}/messages", status=404)
        await lina.call("GET", f"/api/v1/conversations/{conv}/records", status=404)
        await lina.call("GET", f"/api/v1/records/complaints/complaint/{complaint['id']}", status=404)
        await lina.call("POST", f"/api/v1/complaints/{complaint['id']}/move", {"status": "closed"}, status=404)
        await lina.call("POST", f"/api/v1/conversations/{conv}/complaint", {"kind": "suggestion"}, status=404)
        # no list, search or count has it
        for path in (
            "/api/v1/conversations",
            "/api/v1/conversations?q=rude",
            f"/api/v1/conversations?assignee_id={lina.id}",
            "/api/v1/complaints",
            "/api/v1/complaints?status=investigating",
            "/api/v1/records/complaints/complaint",
        ):
            text = await (await lina.client.get(path)).text()
            assert conv not in text and complaint["id"] not in text and "rude" not in text, path
        assert (await lina.call("GET", "/api/v1/conversations/counts"))["all"] == 1
        for route in api.routes:  # and no other answer she may ask for (audit log, exports, views...)
            if route.method in SAFE and "{" not in route.path and route.path != "/v1/live":
                text = await (await lina.client.get("/api" + route.path)).text()
                assert conv not in text and complaint["id"] not in text and "rude" not in text, route.path

        # the supervisors see it; an admin too
        assert (await sam.call("GET", f"/api/v1/conversations/{conv}"))["conversation"]["id"] == conv
        assert [c["id"] for c in (await sam.call("GET", "/api/v1/complaints"))["items"]] == [complaint["id"]]
        assert conv in [c["id"] for c in (await sam.call("GET", "/api/v1/conversations?q=rude"))["items"]]
        assert (await admin.call("GET", f"/api/v1/conversations/{conv}"))["conversation"]["team"] == "supervisors"
        # assigning it to her later still shows her nothing
        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"assignee_id": lina.id})
        await lina.call("GET", f"/api/v1/conversations/{conv}", status=404)
        # nor does a team of hers that reads every ticket
        await admin.call("PATCH", "/api/v1/teams/customer-service", {"visibility": "all"})
        await lina.call("GET", f"/api/v1/conversations/{conv}", status=404)
        assert conv not in await (await lina.client.get("/api/v1/conversations?q=rude")).text()
        assert other.conversation.id in await (await lina.client.get("/api/v1/conversations")).text()
    finally:
        for who in (admin, lina, sam):
            await who.client.close()


async def test_a_follow_up_of_a_complaint_about_an_agent_cannot_be_given_to_that_agent(
    server: TestServer, hub: Hub
) -> None:
    admin, lina, sam = await sign_in(server, ADMIN), await sign_in(server, AGENT), await sign_in(server, SUPERVISOR)
    try:
        first = await hub.ingest(customer_message("m1", "where is my parcel", thread="t1", sender=Sender("u1")))
        conv = first.conversation.id
        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"assignee_id": lina.id})
        await lina.call("POST", f"/api/v1/conversations/{conv}/messages", {"text": "Please wait."}, status=201)
        await hub.ingest(customer_message("m2", "I want to complain about the agent", thread="t1", sender=Sender("u1")))
        complaint = await complaint_of(hub, conv)
        assert complaint["about_agent"] == lina.id
        notes = [m.text for m in await hub.store.tickets.list_messages(conv) if m.kind is MessageKind.NOTE]
        said = texts("complaints", hub.language)  # the note names subject, severity and plugin, never their ids
        subject, severity = said.get("complaints.about.agent"), said.get("complaints.severity.normal")
        who = hub_texts(hub.language).get("event.plugin.complaints")
        assert {subject, severity, who}.isdisjoint({"agent", "normal", "complaints"})
        number = complaint["number"]
        assert said.get("complaints.note.filed", number=number, who=who, subject=subject, severity=severity) in notes
        [filed] = [m for m in await hub.store.tickets.list_messages(conv) if m.kind is MessageKind.NOTE]
        zh = texts("complaints", "zh-CN")  # and so to an agent reading Chinese
        assert shown_text(filed, "zh-CN") == zh.get(
            "complaints.note.filed",
            number=number,
            who=hub_texts("zh-CN").get("event.plugin.complaints"),
            subject=zh.get("complaints.about.agent"),
            severity=zh.get("complaints.severity.normal"),
        )
        assert "about our staff" in notes[-1] and "Our staff" not in notes[-1]  # a trial read "about Our staff"
        body = {"text": "talk to the agent", "owner": lina.id, "due": "2030-01-01T00:00:00Z"}
        refused = await sam.call("POST", f"/api/v1/complaints/{complaint['id']}/follow-ups", body, status=422)
        assert refused["error"] == "owner_is_subject" and "about this agent" in refused["message"]
        assert (await complaint_of(hub, conv)).get("follow_ups", []) == []  # nothing was added
        body["owner"] = sam.id
        await sam.call("POST", f"/api/v1/complaints/{complaint['id']}/follow-ups", body, status=201)
    finally:
        for who in (admin, lina, sam):
            await who.client.close()


MONTH_END = datetime(2026, 3, 31, 23, 59, 50, tzinfo=UTC)  # the last seconds of March (UTC)


@pytest.mark.parametrize("server", [MONTH_END], indirect=True)
async def test_suggestions_are_tagged_grouped_and_reported_to_the_departments_once_a_month(
    server: TestServer, hub: Hub, sink: tuple[Sink, int]
) -> None:
    """By the hub's clock, not the wall clock: a run at any time (even across a month's end)
    files the suggestions in the month the timer reports."""
    mails, _ = sink
    said = [
        ("s1", "建议增加夜间配送服务"),
        ("s2", "我有个建议：希望增加夜间配送"),
        ("s3", "Suggestion: please add a dark mode to the app"),
        ("s4", "A suggestion: add a dark mode to the app please"),
        ("s5", "提个建议：优惠券可以叠加使用"),
    ]
    for i, (external_id, text) in enumerate(said):
        await hub.ingest(customer_message(external_id, text, thread=f"s{i}", sender=Sender(f"s{i}")))

    async def suggestions() -> list[Any]:
        return await hub.services.records.query("complaints", "suggestion")

    for _ in range(150):
        if len(await suggestions()) == len(said):
            break
        await asyncio.sleep(0.1)
    found = {r.data["text"]: r.data["topics"] for r in await suggestions()}
    assert found["建议增加夜间配送服务"] == ["delivery", "service"]
    assert found["Suggestion: please add a dark mode to the app"] == ["app"]
    # Each ticket is filed for the complaints department with a note of what was recorded, and
    # the customer is told its number (a trial: open, unfiled, no trace, no number).
    first = next(r for r in await suggestions() if r.data["text"] == "建议增加夜间配送服务")
    ticket = await hub.store.tickets.get_conversation(first.conversation_id)
    assert ticket is not None and (ticket.category, ticket.team) == ("complaint", "complaints")
    thread = await hub.store.tickets.list_messages(ticket.id)
    [note] = [m for m in thread if m.kind is MessageKind.NOTE]
    assert "配送、客服服务" in (note.raw or {})["texts"]["zh-CN"] and "Delivery, Customer service" in note.text
    assert any(f"#{ticket.number}" in m.text for m in thread if m.author_type is AuthorType.BOT)

    # the standing timer, at the start of next month; fired then, it reports this month
    now = MONTH_END
    due = rules.next_month_start(now)
    assert due == datetime(2026, 4, 1, tzinfo=UTC)
    timer = await hub.store.timers.get_timer(timer_key("complaints", "monthly-report"))
    assert timer is not None and (timer.name, timer.due_at) == ("report", due)
    mails.script = ["451 4.3.0 try again later"]  # the relay is busy at first: the report is tried again
    hub.actions.clock = lambda: due + timedelta(minutes=1)  # type: ignore[method-assign]
    assert await hub.plugin_host.fire_due_timers() == 1
    assert mails.mails == []
    hub.actions.clock = lambda: due + timedelta(days=1)  # type: ignore[method-assign]
    assert await hub.plugin_host.fire_due_timers() == 1
    await eventually(lambda: len(mails.mails) >= 1)
    timer = await hub.store.timers.get_timer(timer_key("complaints", "monthly-report"))
    assert timer is not None and timer.due_at == rules.next_month_start(due)  # and next month's is set
    [report] = mails.mails
    assert sorted(mails.envelopes[0].rcpt_tos) == sorted(REPORT_TO)
    month = rules.month_of(now)
    assert report["Subject"] == f"Suggestions report {month}: 5 suggestions"
    body = report.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "App & website: 2" in body and "Delivery: 2" in body and "Prices: 1" in body  # topics by name
    groups = body.split("Similar suggestions:")[1]
    night, dark = groups.index("夜间配送"), groups.index("dark mode")
    assert groups.count("2 alike:") == 2 and "优惠券" not in groups
    assert night >= 0 and dark >= 0

    # the same month again (a repeated timer, another hub): not mailed twice
    sent = await hub.plugin_host.plugins["complaints"].send_reports(  # type: ignore[attr-defined]
        await hub.plugin_host.context(hub.plugin_host.plugins["complaints"], None), month
    )
    assert sent == 0 and len(mails.mails) == 1

    # an admin previews the report on demand, as the departments get it
    admin = await sign_in(server, ADMIN)
    try:
        preview = await admin.call("GET", f"/api/v1/suggestions/report?month={month}")
        assert preview["text"].split() == body.split()  # the mailed text (the mail has CRLF line ends)
        assert preview["subject"] == report["Subject"] and "Delivery: 2" in preview["text"]
        by_default = await admin.call("GET", "/api/v1/suggestions/report")
        assert by_default["month"] == "2026-04"  # the month of the hub's clock (moved on above), not the wall clock's
        refused = await admin.call("GET", "/api/v1/suggestions/report?month=2026-13", status=422)
        assert "YYYY-MM" in refused["message"]
    finally:
        await admin.client.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"departments": {"weather": "finance"}}, "plugins.complaints.departments.weather: a subject"),
        ({"topics": {"delivery": "快递"}}, "plugins.complaints.topics.delivery: a list of keywords"),
        ({"report_recipients": {"product": ["not-an-address"]}}, "plugins.complaints.report_recipients.product"),
        ({"group_similarity": 1.5}, "plugins.complaints.group_similarity: between 0 and 1"),
        ({"report_recipients": ["pm@example.com"]}, "plugins.complaints.report_recipients"),
    ],
)
def test_wrong_settings_name_the_key_at_start(settings: dict[str, Any], message: str) -> None:
    from hub.config import parse_config
    from hub.settings import ConfigError

    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config({"plugins": {"enabled": ["complaints"], "complaints": settings}})


async def test_a_complaint_that_names_no_subject_asks_with_buttons_and_files_the_pick(
    server: TestServer, hub: Hub, bot: FakeTelegram
) -> None:
    admin = await sign_in(server, ADMIN)
    try:
        await telegram(admin.client, text_update(1, "我要投诉！太过分了"))
        await said_count(bot, 1)
        asked = bot.sent("sendMessage")[-1]
        assert asked["text"] == "很抱歉给您带来不好的体验。请问您要投诉的是？"
        markup = asked["reply_markup"]
        keyboard = (markup if isinstance(markup, dict) else json.loads(markup))["inline_keyboard"]
        buttons = {b["callback_data"]: b["text"] for row in keyboard for b in row}
        assert buttons["complaint:agent"] == "客服人员" and len(buttons) == len(rules.SUBJECTS)
        ticket = await by_number(hub, 1000)
        assert await hub.services.records.query("complaints", "complaint", conversation_id=ticket.id) == []

        tap = {
            "update_id": 2,
            "callback_query": {
                "id": "cb1",
                "chat_instance": "ci",
                "data": "complaint:feature",
                "from": {"id": 777, "is_bot": False, "first_name": "Li"},
                "message": {"message_id": 101, "date": 0, "chat": {"id": 777, "type": "private"}, "text": "?"},
            },
        }
        await telegram(admin.client, tap)
        complaint = await complaint_of(hub, ticket.id)
        assert (complaint["subject"], complaint["summary"]) == ("feature", "我要投诉！太过分了")
        assert (await said_count(bot, 2))[-1].startswith("您的投诉已受理（编号 C-1000），已转交技术支持跟进处理")
        await telegram(admin.client, {**tap, "update_id": 3, "callback_query": {**tap["callback_query"], "id": "cb2"}})
        await asyncio.sleep(0.3)
        assert len(await hub.services.records.query("complaints", "complaint")) == 1  # a second tap files nothing
    finally:
        await admin.client.close()


async def test_a_complaint_about_a_supervisor_of_the_agent_department_goes_to_the_escalation_team(
    server: TestServer, hub: Hub
) -> None:
    admin, sam = await sign_in(server, ADMIN), await sign_in(server, SUPERVISOR)
    try:
        first = await hub.ingest(customer_message("m1", "where is my refund", thread="t1", sender=Sender("u1")))
        conv = first.conversation.id
        await admin.call("PATCH", f"/api/v1/conversations/{conv}", {"team": "supervisors", "assignee_id": sam.id})
        assert (await sam.call("GET", f"/api/v1/conversations/{conv}"))["conversation"]["id"] == conv
        body = {"kind": "complaint", "subject": "agent", "summary": "Sam hung up on me"}
        filed = await admin.call("POST", f"/api/v1/conversations/{conv}/complaint", body, status=201)
        assert (filed["data"]["about_agent"], filed["data"]["department"]) == (sam.id, "managers")
        await sam.call("GET", f"/api/v1/conversations/{conv}", status=404)  # he supervises "supervisors", not this
        assert conv not in await (await sam.client.get("/api/v1/conversations?q=refund")).text()
        assert (await sam.call("GET", "/api/v1/complaints"))["items"] == []
        assert (await admin.call("GET", f"/api/v1/conversations/{conv}"))["conversation"]["team"] == "managers"
    finally:
        await admin.client.close()
        await sam.client.close()


async def test_a_team_for_complaints_about_agents_that_would_not_hide_them_is_an_error_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(
        tmp_path,
        {"plugins": {"enabled": ["complaints"], "complaints": {"departments": {"agent": "customer-service"}}}},
    )
    with caplog.at_level(logging.ERROR, logger="helpline.plugin.complaints"):
        async with running_hub(config) as hub:
            said = [r.getMessage() for r in caplog.records if r.name == "helpline.plugin.complaints"]
            assert said == [
                "[plugins.complaints] departments.agent: team 'customer-service' has visibility 'team', not supervisors"
            ]
            default = await hub.store.desk.get_team("supervisors")  # a new hub has the safe one
            assert default is not None and default.visibility == "supervisors" and default.members == []


async def test_two_filings_of_one_ticket_at_the_same_instant_make_one_complaint(server: TestServer, hub: Hub) -> None:
    """The bot and an agent (or two agents) filing at once: each checked that the ticket had
    none, and each filed one. Now one files, routes and tells; the other is refused."""
    from plugins.complaints import Filing

    first = await hub.ingest(customer_message("r1", "where is my parcel", thread="race", sender=Sender("u9")))
    await eventually(lambda: not hub.pipeline._tasks)
    plugin: Any = hub.plugin_host.plugins["complaints"]
    contexts = [await hub.plugin_host.context(plugin, first.conversation) for _ in range(2)]
    results = await asyncio.gather(
        plugin.file(contexts[0], Filing("seller", summary="late"), who="agent-1"),
        plugin.file(contexts[1], Filing("order", summary="late"), who="agent-2"),
        return_exceptions=True,
    )
    filed = await hub.services.records.query("complaints", "complaint", conversation_id=first.conversation.id)
    assert len(filed) == 1
    [won] = [r for r in results if not isinstance(r, BaseException)]
    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert won.id == filed[0].id and "has a complaint already" in str(lost)
    ticket = await hub.store.tickets.get_conversation(first.conversation.id)
    assert ticket is not None and ticket.team == filed[0].data["department"]  # routed by the one filed
    notes = [m for m in await hub.store.tickets.list_messages(ticket.id) if m.kind is MessageKind.NOTE]
    assert len(notes) == 1  # told and noted once


async def test_the_agent_complained_about_never_gets_the_complaint_in_their_live_feed(
    server: TestServer, hub: Hub
) -> None:
    """Her inbox is open on her own ticket when the customer complains about her in it: the
    message, the move and the bot's answer never reach her socket, not even before the
    plugin has filed the ticket with the supervisors."""
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        conv, other = await her_ticket_and_another(hub, admin, lina)
        await eventually(lambda: not hub.pipeline._tasks)

        async with lina.client.ws_connect("/api/v1/live") as ws:
            complained = await hub.ingest(
                customer_message("m2", "我要投诉客服，态度太差了", thread="t1", sender=Sender("u1"))
            )
            await hub.ingest(customer_message("o2", "hello again", thread="t2", sender=Sender("u2")))
            frames = await ticket_frames(ws, 1.5)
        assert other.conversation.id in frames  # her feed is live
        assert conv not in frames  # and says nothing of the ticket she is complained about in
        complaint = await complaint_of(hub, conv)
        assert complaint["subject"] == "agent" and complaint["about_agent"] == lina.id
        await lina.call("GET", f"/api/v1/conversations/{conv}/messages", status=404)
        assert complained.message.conversation_id == conv
    finally:
        for who in (admin, lina):
            await who.client.close()


async def test_a_complaint_filed_by_a_hub_that_stopped_before_moving_the_ticket_is_moved_when_run_again(
    server: TestServer, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Filing makes the complaint first (once, atomically) and then moves the ticket: a hub that
    stops in between leaves the message to recovery, whose run moves it to the supervisors."""
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        conv, _other = await her_ticket_and_another(hub, admin, lina)
        plugin: Any = hub.plugin_host.plugins["complaints"]

        async def stopped(*args: Any) -> None:
            raise asyncio.CancelledError  # the hub went down here

        monkeypatch.setattr(plugin, "_route", stopped)
        record = await hub.ingest(customer_message("m2", "我要投诉客服，态度太差", thread="t1", sender=Sender("u1")))
        await asyncio.gather(*hub.pipeline._tasks, return_exceptions=True)
        assert (await complaint_of(hub, conv))["about_agent"] == lina.id
        ticket = await hub.store.tickets.get_conversation(conv)
        assert ticket is not None and ticket.team == "supervisors"  # kept from her as it was stored
        monkeypatch.undo()

        await hub.pipeline.run_plugins(record.message)  # recovery runs the message again
        ticket = await hub.store.tickets.get_conversation(conv)
        assert ticket is not None and (ticket.team, ticket.assignee_id) == ("supervisors", "")
        assert len(await hub.services.records.query("complaints", "complaint", conversation_id=conv)) == 1
        await lina.call("GET", f"/api/v1/conversations/{conv}", status=404)
    finally:
        for who in (admin, lina):
            await who.client.close()


async def test_the_agent_complained_about_never_reads_the_complaint_through_the_api_before_it_is_filed(
    server: TestServer, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the plugin is still filing (made slow here), she polls her ticket's messages, the
    ticket, her list, a search and the counts: the complaint is never in any answer. The ticket
    is kept to the supervisors in the same step as the message is stored."""
    admin, lina = await sign_in(server, ADMIN), await sign_in(server, AGENT)
    try:
        conv, _other = await her_ticket_and_another(hub, admin, lina)
        await eventually(lambda: not hub.pipeline._tasks)
        plugin: Any = hub.plugin_host.plugins["complaints"]
        filing = plugin.file

        async def slow_file(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0.6)
            return await filing(*args, **kwargs)

        monkeypatch.setattr(plugin, "file", slow_file)
        paths = (
            f"/api/v1/conversations/{conv}/messages",
            f"/api/v1/conversations/{conv}",
            "/api/v1/conversations",
            "/api/v1/conversations?q=rude",
            "/api/v1/conversations/counts",
        )
        answers: list[str] = []
        await hub.ingest(
            customer_message("m2", "I want to complain about the agent, rude", thread="t1", sender=Sender("u1"))
        )
        while hub.pipeline._tasks:
            for path in paths:
                answers.append(await (await lina.client.get(path)).text())
        assert len(answers) >= 10  # she asked all along the filing
        assert not [a for a in answers if "rude" in a or conv in a]
        assert (await complaint_of(hub, conv))["about_agent"] == lina.id
        ticket = await hub.store.tickets.get_conversation(conv)
        assert ticket is not None and (ticket.team, ticket.assignee_id) == ("supervisors", "")
    finally:
        for who in (admin, lina):
            await who.client.close()


async def test_a_second_complaint_message_on_a_ticket_filed_with_a_department_leaves_it_there(
    server: TestServer, hub: Hub
) -> None:
    """A complaint about the seller is with customer service; the customer complains again: the
    message is held with the supervisors while the plugin runs, and the ticket goes back."""
    conv = (
        await hub.ingest(customer_message("s1", "我要投诉卖家，一直不发货", thread="s", sender=Sender("s")))
    ).conversation
    assert (await complaint_of(hub, conv.id))["department"] == "customer-service"
    await eventually(lambda: not hub.pipeline._tasks)
    await hub.ingest(customer_message("s2", "我要投诉卖家，还是没有发货", thread="s", sender=Sender("s")))
    await eventually(lambda: not hub.pipeline._tasks)
    assert (await by_number(hub, conv.number)).team == "customer-service"


async def test_a_first_message_the_complaints_plugin_answers_gets_no_greeting_on_top(tmp_path: Path) -> None:
    """One answer, with its number, not two messages: README says the greeting keeps out."""
    from tests.helpers import GREETING_ALWAYS_OPEN, customer_message, eventually, make_config, running_hub

    # progress too: its "passed to another team" (held with the supervisors, then moved to the
    # seller complaints' department) said again what the complaint's notice says (a trial)
    enabled = ["progress", "complaints", "greeting"]
    config = make_config(tmp_path, {"plugins": {"enabled": enabled, "greeting": GREETING_ALWAYS_OPEN}})
    async with running_hub(config) as hub:
        filed = await hub.ingest(customer_message("c1", "我要投诉卖家，发错货还不理人"))
        greeted = await hub.ingest(customer_message("g1", "你好，请问怎么改地址", thread="chat-2"))

        async def bots(ticket_id: str) -> list[str]:
            return [
                m.author_id
                for m in await hub.store.tickets.list_messages(ticket_id)
                if m.kind is MessageKind.MESSAGE and m.author_id in ("complaints", "greeting", "progress")
            ]

        await eventually(lambda: _has(bots(greeted.conversation.id)))
        await eventually(lambda: _has(bots(filed.conversation.id)), timeout=10)
        await hub.plugin_host.settle()
        assert await bots(filed.conversation.id) == ["complaints"]
        assert await bots(greeted.conversation.id) == ["greeting"]
        # the 投诉 keyword raised it to high; filing the complaint (severity normal) does not lower it (a trial)
        complaint_ticket = await hub.store.tickets.get_conversation(filed.conversation.id)
        assert complaint_ticket is not None and complaint_ticket.priority.value == "high"
        # nor on the customer's next message, late (a review)
        second = await hub.ingest(customer_message("c2", "什么时候处理？"))

        async def done() -> bool:
            stored = await hub.store.tickets.get_message(second.message.id)
            return stored is not None and stored.plugins_done

        await eventually(done)
        await hub.plugin_host.settle()
        assert await bots(filed.conversation.id) == ["complaints"]


async def _has(found: Any) -> bool:
    return bool(await found)


async def test_a_complaint_is_told_in_the_language_it_was_written_in(tmp_path: Path) -> None:
    """A trial's contact tagged "en" complained in Chinese and was answered in English."""
    from hub.testing import customer_message, make_config, replies, running_hub

    async with running_hub(make_config(tmp_path, {"plugins": {"enabled": ["complaints"]}})) as hub:
        english_tag = Sender(address="u-7", display_name="Wang", language="en")
        filed = await hub.ingest(customer_message("c1", "我要投诉那个卖家，发的是假货", sender=english_tag))
        [told] = await replies(hub, filed.conversation.id, 1, timeout=10)
        assert told.text.startswith("您的投诉已受理"), told.text
