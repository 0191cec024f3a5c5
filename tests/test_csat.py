"""The `csat` plugin end to end: a resolved ticket's customer rates the service on web chat
(buttons, Chinese) and by email (one-click links to the status page over loopback SMTP,
English; typed words in Chinese); the answer neither reopens the ticket nor opens one, a low
score tells the team lead, late answers count until the survey's window, and the rules of
who is asked (bot-only and automatic tickets, categories, cooldown, the delay)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.webhook import parse_message
from conversation.desk import Team
from conversation.model import AuthorType, Conversation, MessageKind, Role, Status, utcnow
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.settings import ConfigError
from plugins.csat import CsatPlugin
from tests.conftest import free_port
from tests.email_servers import Sink, start_sink
from tests.helpers import GREETING_ALWAYS_OPEN, eventually, make_config
from tests.test_email import SUPPORT
from tests.test_webchat import frames_until, visitor

PUBLIC = "https://help.example.com"


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    sink, server, port = await start_sink()
    yield sink, port
    server.close()
    await server.wait_closed()


def csat_config(tmp_path: Path, smtp_port: int, *, more_channels: dict[str, Any] | None = None, **settings: Any) -> Any:
    return make_config(
        tmp_path,
        {
            "hub": {"public_url": PUBLIC},
            "storage": {"timeout_seconds": 10},
            "status_page": {"enabled": True, "secret": "env:HELPLINE_STATUS_SECRET"},
            "channels": {
                "webchat": {"secret": "visitor-token-secret"},
                "email": {
                    "address": SUPPORT,
                    "listen_port": free_port(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_tls": "none",
                },
                **(more_channels or {}),
            },
            "plugins": {
                "enabled": ["csat", "greeting"],
                "csat": {"delay_minutes": 0, **settings},
                "greeting": GREETING_ALWAYS_OPEN,
            },
        },
    )


async def started(tmp_path: Path, smtp_port: int, **settings: Any) -> AsyncIterator[tuple[TestClient, Hub]]:
    hub = Hub(csat_config(tmp_path, smtp_port, **settings))
    plugin = next(p for p in hub.plugins if isinstance(p, CsatPlugin))
    plugin.clock = lambda: hub.actions.clock()  # one clock for the hub and the plugin (tests move it)
    async with TestClient(TestServer(build_app(hub))) as client:
        lead = await add_agent(hub.store, "lead@example.com", Role.SUPERVISOR, "lead password 1", name="Zhao Lei")
        await add_agent(hub.store, "li.na@example.com", Role.AGENT, "agent password 1", name="Li Na")
        await hub.store.desk.save_team(Team("care", {"en": "Care", "zh-CN": "客服组"}, lead=lead.id))
        yield client, hub


@pytest.fixture
async def desk(
    tmp_path: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient, Hub]]:
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    async for pair in started(tmp_path, sink[1]):
        yield pair


async def ticket(hub: Hub, number: int) -> Conversation:
    found = await hub.store.tickets.get_conversation_by_number(number)
    assert found is not None
    return found


async def work_and_resolve(hub: Hub, number: int, *, agent_reply: bool = True, **changes: Any) -> Conversation:
    """An agent answers the ticket (or not), takes it for team care, and resolves it."""
    conv = await ticket(hub, number)
    agent = await hub.store.accounts.get_agent_by_email("li.na@example.com")
    assert agent is not None
    service = hub.services.conversations
    changes = {"assignee_id": agent.id, "team": "care", **changes}
    conv = await service.update_by(conv, changes, who="Li", names={}, agent_id=agent.id)
    if agent_reply:
        await service.send(conv, "已为您处理好了。", author_type=AuthorType.AGENT, author_id=agent.id)
    conv = await service.update_by(
        await ticket(hub, number), {"status": "resolved"}, who="Li", names={}, agent_id=agent.id
    )
    await hub.plugin_host.settle()
    return conv


async def bot_said(hub: Hub, number: int, start: str) -> None:
    """The csat plugin said something starting so on the ticket (read from the store: a live
    frame may come before the socket's ack of the customer's message)."""

    async def said() -> bool:
        messages = await hub.store.tickets.list_messages((await ticket(hub, number)).id)
        return any(m.author_id == "csat" and m.text.startswith(start) for m in messages)

    await eventually(said, timeout=10.0)


def events(messages: list[Any], key: str) -> list[Any]:
    return [m for m in messages if m.kind is MessageKind.EVENT and (m.raw or {}).get("event", {}).get("key") == key]


async def test_the_survey_speaks_the_customers_latest_language_as_the_resolved_notice_before_it(
    tmp_path: Path,
) -> None:
    """A trial: a zh-CN contact who wrote in English read "Your ticket #1002 has been resolved"
    and then the survey in Chinese."""
    from hub.sdk import Sender
    from tests.helpers import customer_message, running_hub

    config = make_config(tmp_path, {"plugins": {"enabled": ["progress", "csat"], "csat": {"delay_minutes": 0}}})
    async with running_hub(config) as hub:
        sender = Sender("user-7", language="zh-CN")
        record = await hub.ingest(customer_message("m1", "My parcel never arrived, please help", sender=sender))
        service = hub.services.conversations
        await service.send(record.conversation, "Sent again today.", author_type=AuthorType.AGENT, author_id="ag")
        await service.update_by(await ticket(hub, 1000), {"status": "resolved"}, who="Li", names={})
        await hub.plugin_host.settle()

        async def told() -> list[str]:
            messages = await hub.store.tickets.list_messages(record.conversation.id)
            said = [m.text for m in messages if m.author_id in ("progress", "csat")]
            return said if len(said) == 2 else []

        notice, survey = await eventually(told)
        assert notice.startswith("Your ticket #1000 has been resolved")
        # the survey does not say "resolved" again (a trial's delay 0 sent it twice in a row)
        assert survey.startswith("How satisfied are you with our help on ticket #1000?") and "resolved" not in survey


async def surveyed_after(ws: Any, hub: Hub, text: str) -> dict[str, Any]:
    """The visitor writes `text`, an agent answers and resolves ticket #1000: the survey's frame."""
    await ws.send_json({"type": "message", "client_id": "c1", "text": text})
    await frames_until(ws, "ack")
    await work_and_resolve(hub, 1000)
    survey = await frames_until(ws, "message")
    while not survey["message"].get("choices"):
        survey = await frames_until(ws, "message")
    return survey


async def test_web_chat_rating_by_button_in_chinese_keeps_the_ticket_resolved_and_tells_the_lead(
    desk: tuple[TestClient, Hub],
) -> None:
    client, hub = desk
    me = await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=zh-CN") as ws:
        survey = await surveyed_after(ws, hub, "我的订单还没到")
        assert "您对工单 #1000 的处理满意吗？" in survey["message"]["text"]
        buttons = [(c["id"], c["label"]) for c in survey["message"]["choices"]]
        assert buttons == [
            ("csat:5", "很满意"),
            ("csat:4", "满意"),
            ("csat:3", "一般"),
            ("csat:2", "不满意"),
            ("csat:1", "很不满意"),
        ]

        await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "csat:2", "text": "不满意"})
        ack = await frames_until(ws, "ack")
        assert ack["conversation"] == {"number": 1000, "status": "resolved"}  # not reopened, no new ticket
        await bot_said(hub, 1000, "感谢您的评分")

        await ws.send_json({"type": "message", "client_id": "c3", "text": "态度不错，就是太慢了"})
        assert (await frames_until(ws, "ack"))["conversation"] == {"number": 1000, "status": "resolved"}
        await bot_said(hub, 1000, "感谢您的意见")

        conv = await ticket(hub, 1000)
        found = await hub.store.quality.get_survey(conv.id)
        assert found is not None and (found.score, found.comment, found.team) == (2, "态度不错，就是太慢了", "care")
        messages = await hub.store.tickets.list_messages(conv.id)
        [told] = events(messages, "event.csat_low_lead_told")
        assert "Zhao Lei" in told.text and "2" in told.text
        assert len(events(messages, "event.csat_rated")) == 1
        assert await hub.store.tickets.get_conversation_by_number(1001) is None

        # after the comment, the customer's next message is an ordinary one: it reopens the ticket
        await ws.send_json({"type": "message", "client_id": "c4", "text": "还有一个问题"})
        assert (await frames_until(ws, "ack"))["conversation"] == {"number": 1000, "status": "open"}


async def test_a_tapped_rating_is_thanked_in_the_surveys_language_not_the_browsers(
    desk: tuple[TestClient, Hub],
) -> None:
    """A trial's visitor (a Chinese browser) wrote in English and was surveyed in English, then
    thanked in Chinese for tapping "Good", and for an English comment."""
    client, hub = desk
    me = await visitor(client)
    async with client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=zh-CN") as ws:
        survey = await surveyed_after(ws, hub, "My parcel never arrived")
        assert survey["message"]["text"].startswith("How satisfied are you")
        await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "csat:4", "text": "Good"})
        await bot_said(hub, 1000, "Thank you for your rating!")
        await ws.send_json({"type": "message", "client_id": "c3", "text": "Quick answer, thanks"})
        await bot_said(hub, 1000, "Thank you, we are glad we could help.")


def mail(text: str, *, subject: str = "Order", language: str = "", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann Lee <ann@example.org>"
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    if language:
        message["Content-Language"] = language
    for key, value in headers.items():
        message[key.replace("_", "-")] = value
    message.set_content(text)
    return message


async def mail_in(hub: Hub, message: EmailMessage) -> None:
    port = hub.adapters["email"].listen_port  # type: ignore[attr-defined]
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, sender="ann@example.org", recipients=[SUPPORT])


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


async def survey_mail(outbox: Sink, marker: str) -> EmailMessage:
    def found() -> EmailMessage | None:
        return next((m for m in outbox.mails if marker in text_of(m)), None)

    await eventually(lambda: found() is not None, timeout=15.0)
    result = found()
    assert result is not None
    return result


async def test_email_rating_links_ask_once_more_then_record_without_sign_in_in_english(
    desk: tuple[TestClient, Hub], sink: tuple[Sink, int]
) -> None:
    client, hub = desk
    outbox, _ = sink
    await mail_in(hub, mail("My parcel never arrived, please check.", language="en"))
    await eventually(lambda: ticket(hub, 1000))
    await work_and_resolve(hub, 1000)
    body = text_of(await survey_mail(outbox, "How satisfied"))
    assert "How satisfied are you with our help on ticket #1000?" in body
    assert "Click a rating (no sign-in needed):" in body
    links = dict(re.findall(r"^(Very good|Good|OK|Bad|Very bad): (https://\S+)$", body, re.M))
    assert list(links) == ["Very good", "Good", "OK", "Bad", "Very bad"]
    good = links["Good"].removeprefix(PUBLIC)
    assert re.fullmatch(r"/status/1000\.\d+\.[\w-]+/rate/4\?lang=en", good)

    conv = await ticket(hub, 1000)
    for link in links.values():  # a mail scanner fetches every link: nothing is recorded
        assert (await client.get(link.removeprefix(PUBLIC))).status == 200
    survey = await hub.store.quality.get_survey(conv.id)
    assert survey is not None and survey.score is None

    page = await (await client.get(good)).text()
    assert "Your rating: <strong>Good</strong>" in page and "Send rating" in page
    form = dict(re.findall(r'name="(nonce|proof)" value="([^"]+)"', page))
    forged = await client.post(good, data={**form, "proof": "x" * 43}, allow_redirects=False)
    assert forged.status == 403
    sent = await client.post(good, data={**form, "comment": "Quick and kind."}, allow_redirects=False)
    assert sent.status == 303 and sent.headers["Location"].endswith("done=1")
    assert "It is recorded" in await (await client.get(sent.headers["Location"])).text()
    survey = await hub.store.quality.get_survey(conv.id)
    assert survey is not None and (survey.score, survey.comment, survey.via) == (4, "Quick and kind.", "status_page")
    assert (await ticket(hub, 1000)).status is Status.RESOLVED

    tampered = good.replace("/rate/4", "/rate/4").replace("1000.", "1001.")
    assert (await client.get(tampered)).status == 403
    assert (await client.get(good.replace("/rate/4", "/rate/9"))).status == 404

    # a later click changes the score until the survey's window ends; then the page says it closed
    page = await (await client.get(links["Very good"].removeprefix(PUBLIC))).text()
    form = dict(re.findall(r'name="(nonce|proof)" value="([^"]+)"', page))
    await client.post(links["Very good"].removeprefix(PUBLIC), data=form, allow_redirects=False)
    assert (await hub.store.quality.get_survey(conv.id)).score == 5  # type: ignore[union-attr]
    hub.actions.clock = lambda: utcnow() + timedelta(days=15)
    assert (await client.get(good)).status == 410


async def test_a_typed_rating_by_email_in_chinese_counts_and_a_late_one_after_close_too(
    desk: tuple[TestClient, Hub], sink: tuple[Sink, int]
) -> None:
    _client, hub = desk
    outbox, _ = sink
    first = mail("我的订单一直没到，请帮忙查一下。", subject="订单没到")
    await mail_in(hub, first)
    await eventually(lambda: ticket(hub, 1000))
    await work_and_resolve(hub, 1000, assignee_id="")  # answered and resolved, never taken
    survey_message = await survey_mail(outbox, "的处理满意吗")
    assert "很满意" in text_of(survey_message)
    li = await hub.store.accounts.get_agent_by_email("li.na@example.com")
    survey = await hub.store.quality.get_survey((await ticket(hub, 1000)).id)
    assert li is not None and survey is not None and survey.agent_id == li.id  # the rating is hers (a trial)
    conv = await hub.services.conversations.update_by(await ticket(hub, 1000), {"status": "closed"}, who="Li", names={})

    # answered above the quoted survey, as mail clients write it (a trial reported a reopen; this holds)
    quoted = "\n".join(f"> {line}" for line in text_of(survey_message).splitlines())
    answer = f"很满意\n\n在 2026年11月28日 17:20，客服 <help@support.example.com> 写道：\n{quoted}\n"
    reply = mail(answer, subject="Re: 订单没到", In_Reply_To=survey_message["Message-ID"])
    await mail_in(hub, reply)
    await eventually(lambda: _score(hub, conv.id, 5), timeout=15.0)
    assert (await ticket(hub, 1000)).status is Status.CLOSED  # closed stays closed
    # the answer on a closed ticket was kept quietly: no ticket for the inbox
    items, _ = await hub.store.inbox.list_conversations(_open_query())
    assert items == []


def _open_query() -> Any:
    from conversation.model import ConversationQuery

    return ConversationQuery(status=Status.OPEN, hide_questions=True)


async def _score(hub: Hub, conversation_id: str, score: int) -> bool:
    survey = await hub.store.quality.get_survey(conversation_id)
    return survey is not None and survey.score == score


# -- who is asked, and when ------------------------------------------------------------------------
async def chat_ticket(client: TestClient, text: str = "我的订单还没到") -> aiohttp.ClientWebSocketResponse:
    me = await visitor(client)
    ws = await client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=zh-CN")
    await ws.send_json({"type": "message", "client_id": "c1", "text": text})
    await frames_until(ws, "ack")
    return ws


async def asked(hub: Hub, number: int) -> bool:
    return await hub.store.quality.get_survey((await ticket(hub, number)).id) is not None


async def test_bot_only_tickets_turned_off_categories_and_recently_asked_contacts_get_no_survey(
    desk: tuple[TestClient, Hub],
) -> None:
    client, hub = desk
    ws = await chat_ticket(client)
    await work_and_resolve(hub, 1000, agent_reply=False)  # only the greeting bot wrote
    assert not await asked(hub, 1000)

    await ws.send_json({"type": "message", "client_id": "c2", "text": "还是没到"})  # reopens 1000
    await frames_until(ws, "ack")
    await work_and_resolve(hub, 1000)
    assert await asked(hub, 1000)

    # the same contact's next ticket within cooldown_days: not asked again
    await hub.services.conversations.update_by(await ticket(hub, 1000), {"status": "closed"}, who="Li", names={})
    await ws.send_json({"type": "message", "client_id": "c3", "text": "另一个问题"})  # closed: a new ticket
    assert (await frames_until(ws, "ack"))["conversation"]["number"] == 1001
    await work_and_resolve(hub, 1001)
    assert not await asked(hub, 1001)
    await ws.close()


async def test_a_category_can_be_turned_off(
    tmp_path: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    async for client, hub in started(tmp_path, sink[1], categories={"spam": False}):
        from conversation.desk import Category

        await hub.store.desk.save_category(Category("spam", {"en": "Spam"}))
        ws = await chat_ticket(client)
        await work_and_resolve(hub, 1000, category="spam")
        assert not await asked(hub, 1000)
        await ws.close()


async def test_the_survey_waits_delay_minutes_and_a_reopen_before_then_cancels_it(
    tmp_path: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    async for client, hub in started(tmp_path, sink[1], delay_minutes=10):
        ws = await chat_ticket(client)
        await work_and_resolve(hub, 1000)
        assert await hub.plugin_host.fire_due_timers() == 0 and not await asked(hub, 1000)
        hub.actions.clock = lambda: utcnow() + timedelta(minutes=11)
        assert await hub.plugin_host.fire_due_timers() == 1
        assert await asked(hub, 1000)
        await ws.close()

        ws = await chat_ticket(client, "新问题")  # a second contact
        await work_and_resolve(hub, 1001)
        conv = await hub.services.conversations.update_by(
            await ticket(hub, 1001), {"status": "open"}, who="Li", names={}
        )
        await hub.plugin_host.settle()
        hub.actions.clock = lambda: utcnow() + timedelta(minutes=30)
        await hub.plugin_host.fire_due_timers()
        assert not await asked(hub, conv.number)
        await ws.close()


def test_settings_are_checked_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    with pytest.raises(ConfigError, match="plugins.csat.delay_minutes"):
        Hub(csat_config(tmp_path, 25, delay_minutes=-1))
    with pytest.raises(ConfigError, match="plugins.csat.categories.spam"):
        Hub(csat_config(tmp_path, 25, categories={"spam": "no"}))


async def test_after_the_answer_window_a_button_is_told_the_survey_closed_and_typed_digits_are_ordinary(
    desk: tuple[TestClient, Hub],
) -> None:
    client, hub = desk
    ws = await chat_ticket(client)
    await work_and_resolve(hub, 1000)
    hub.actions.clock = hub.pipeline.clock = lambda: utcnow() + timedelta(days=15)  # answer_days is 14
    await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "csat:5", "text": "很满意"})
    assert (await frames_until(ws, "ack"))["conversation"] == {"number": 1000, "status": "resolved"}
    await bot_said(hub, 1000, "这次满意度调查已结束")
    survey = await hub.store.quality.get_survey((await ticket(hub, 1000)).id)
    assert survey is not None and survey.score is None  # too late: not counted

    await ws.send_json({"type": "message", "client_id": "c3", "text": "5"})  # an ordinary message now
    assert (await frames_until(ws, "ack"))["conversation"]["number"] == 1001  # past the reopen window: a new ticket
    await ws.close()


async def test_odd_rating_posts_are_refused_and_record_nothing(desk: tuple[TestClient, Hub]) -> None:
    client, hub = desk
    ws = await chat_ticket(client)
    await work_and_resolve(hub, 1000)
    assert hub.status_links is not None
    link = hub.status_links.rating_urls(1000, "zh-CN")[1].removeprefix(PUBLIC)
    page = await (await client.get(link)).text()
    assert "您选择的评分： <strong>很不满意</strong>" in page
    form = dict(re.findall(r'name="(nonce|proof)" value="([^"]+)"', page))
    odd = [
        (b'{"nonce": "x"}', "application/json"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    ]
    for body, content_type in odd:
        resp = await client.post(link, data=body, headers={"Content-Type": content_type}, allow_redirects=False)
        assert resp.status in (400, 403), (body, resp.status)
    cross = await client.post(link, data=form, headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert cross.status == 403
    long = await client.post(link, data={**form, "comment": "长" * 3000}, allow_redirects=False)
    assert long.status == 400
    survey = await hub.store.quality.get_survey((await ticket(hub, 1000)).id)
    assert survey is not None and survey.score is None and survey.comment == ""
    await ws.close()


async def test_a_status_question_after_a_rating_is_not_taken_for_its_comment(desk: tuple[TestClient, Hub]) -> None:
    client, hub = desk
    ws = await chat_ticket(client)
    await work_and_resolve(hub, 1000)
    await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "csat:4", "text": "满意"})
    assert (await frames_until(ws, "ack"))["conversation"] == {"number": 1000, "status": "resolved"}
    await bot_said(hub, 1000, "感谢您的评分")
    await ws.send_json({"type": "message", "client_id": "c3", "text": "查询工单 1000"})
    assert (await frames_until(ws, "ack"))["conversation"] == {"number": 1000, "status": "open"}  # an ordinary message
    survey = await hub.store.quality.get_survey((await ticket(hub, 1000)).id)
    assert survey is not None and (survey.score, survey.comment) == (4, "")
    await ws.close()


async def test_a_comment_after_a_good_score_is_thanked_as_praise(desk: tuple[TestClient, Hub]) -> None:
    """A trial's compliment was answered "we will take it seriously and improve"."""
    client, hub = desk
    ws = await chat_ticket(client)
    await work_and_resolve(hub, 1000)
    await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "csat:5", "text": "很满意"})
    await frames_until(ws, "ack")
    await bot_said(hub, 1000, "感谢您的评分")
    await ws.send_json({"type": "message", "client_id": "c3", "text": "客服小王态度特别好，谢谢"})
    await frames_until(ws, "ack")
    await bot_said(hub, 1000, "感谢您的肯定，很高兴能帮到您")
    survey = await hub.store.quality.get_survey((await ticket(hub, 1000)).id)
    assert survey is not None and (survey.score, survey.comment) == (5, "客服小王态度特别好，谢谢")
    await ws.close()


@pytest.fixture
async def with_webhook(
    tmp_path: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient, Hub]]:
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    webhook = {"secret": "webhook-secret-0123456789", "callback_url": "http://127.0.0.1:9/replies"}
    hub = Hub(csat_config(tmp_path, sink[1], more_channels={"webhook": webhook}))
    plugin = next(p for p in hub.plugins if isinstance(p, CsatPlugin))
    plugin.clock = lambda: hub.actions.clock()
    async with TestClient(TestServer(build_app(hub))) as client:
        lead = await add_agent(hub.store, "lead@example.com", Role.SUPERVISOR, "lead password 1", name="Zhao Lei")
        await add_agent(hub.store, "li.na@example.com", Role.AGENT, "agent password 1", name="Li Na")
        await hub.store.desk.save_team(Team("care", {"en": "Care", "zh-CN": "客服组"}, lead=lead.id))
        yield client, hub


async def webhook_says(hub: Hub, key: str, text: str, *, thread: str, sender: str = "cust-7") -> Conversation:
    payload = {"id": key, "sender": {"id": sender, "language": "zh-CN"}, "thread": thread, "text": text}
    record = await hub.ingest(parse_message("webhook", payload))
    await hub.plugin_host.settle()
    return record.conversation


async def rated_on_thread(hub: Hub, thread: str) -> None:
    """Ticket #1000 on the webhook thread, resolved and rated 4 on that thread."""
    await webhook_says(hub, "m1", "我的订单还没到", thread=thread)
    await work_and_resolve(hub, 1000)
    await webhook_says(hub, "m2", "4", thread=thread)
    await bot_said(hub, 1000, "感谢您的评分")


async def test_a_new_question_on_another_thread_after_a_rating_is_a_new_ticket_not_a_comment(
    with_webhook: tuple[TestClient, Hub],
) -> None:
    _, hub = with_webhook
    await rated_on_thread(hub, "order-1")

    new = await webhook_says(hub, "m3", "另外，我想改一下收货地址", thread="order-2")  # within comment_minutes
    assert (new.number, new.status) == (1001, Status.OPEN)  # in the queue
    said = [m.text for m in await hub.store.tickets.list_messages(new.id) if m.author_id == "csat"]
    assert said == []
    survey = await hub.store.quality.get_survey((await ticket(hub, 1000)).id)
    assert survey is not None and (survey.score, survey.comment) == (4, "")


async def test_a_question_on_the_surveys_thread_right_after_a_rating_goes_to_the_queue(
    with_webhook: tuple[TestClient, Hub],
) -> None:
    _, hub = with_webhook
    await rated_on_thread(hub, "order-1")
    again = await webhook_says(hub, "m3", "退款什么时候到账？", thread="order-1")
    assert (again.number, again.status) == (1000, Status.OPEN)  # reopened for an agent, not a comment
    survey = await hub.store.quality.get_survey(again.id)
    assert survey is not None and survey.comment == ""


async def test_a_comment_on_a_thread_another_user_started_reaches_the_survey_of_ones_own_ticket(
    with_webhook: tuple[TestClient, Hub],
) -> None:
    """A webhook user writing on a seller's thread has a ticket of their own ("<thread>~<id>"):
    their comment on that same thread after a rating is kept as the comment (a review found the
    survey's thread compared as written)."""
    _, hub = with_webhook
    await webhook_says(hub, "s1", "买家说没收到货", thread="order-9", sender="seller-1")  # #1000, the seller's
    own = await webhook_says(hub, "m1", "我的订单还没到", thread="order-9")
    assert (own.number, own.thread_key) == (1001, "order-9~cust-7")
    await work_and_resolve(hub, 1001)
    await webhook_says(hub, "m2", "4", thread="order-9")
    await bot_said(hub, 1001, "感谢您的评分")
    await webhook_says(hub, "m3", "送货员态度很好", thread="order-9")

    async def commented() -> bool:
        survey = await hub.store.quality.get_survey(own.id)
        return survey is not None and (survey.score, survey.comment) == (4, "送货员态度很好")

    await eventually(commented)


async def test_after_a_contact_merge_each_person_answers_only_their_own_survey(desk: tuple[TestClient, Hub]) -> None:
    """A security review: surveys were found by contact, so once agents merged two people's
    contacts Alice's "1" rated Bob's ticket, and Bob (merged away) could no longer rate his."""
    client, hub = desk
    alice, bob = await visitor(client), await visitor(client)
    sockets = []
    for person, number in ((alice, 1000), (bob, 1001)):
        ws = await client.ws_connect(f"/channels/webchat/ws?token={person['token']}&lang=en")
        await ws.send_json({"type": "message", "client_id": "c1", "text": "where is my parcel"})
        assert (await frames_until(ws, "ack"))["conversation"]["number"] == number
        sockets.append(ws)
    a_ws, b_ws = sockets
    alices = await work_and_resolve(hub, 1000)  # both are asked, Bob last
    await eventually(lambda: hub.store.quality.get_survey(alices.id), timeout=10.0)
    bobs = await work_and_resolve(hub, 1001)
    await eventually(lambda: hub.store.quality.get_survey(bobs.id), timeout=10.0)
    # Two people, one contact now (an agent confirmed the merge): Bob's merged into Alice's.
    await hub.services.conversations.merge_contacts(bobs.contact_id, alices.contact_id, who="agent")
    await a_ws.send_json({"type": "message", "client_id": "c2", "text": "1"})
    await frames_until(a_ws, "ack")
    await eventually(lambda: _score(hub, alices.id, 1), timeout=10.0)  # her own survey, not Bob's newer one
    survey = await hub.store.quality.get_survey(bobs.id)
    assert survey is not None and survey.score is None  # Alice's "1" is no answer to Bob's survey
    await b_ws.send_json({"type": "message", "client_id": "c2", "text": "4"})
    await frames_until(b_ws, "ack")
    await eventually(lambda: _score(hub, bobs.id, 4), timeout=10.0)
    for ws in sockets:
        await ws.close()


async def test_a_comment_sent_right_after_the_rating_tap_is_its_comment_and_reopens_nothing(
    with_webhook: tuple[TestClient, Hub],
) -> None:
    """A trial's platform posted the 很不满意 tap and the remark 3 ms apart: the remark found the
    survey not rated yet, reopened the resolved ticket and was no comment."""
    _, hub = with_webhook
    await webhook_says(hub, "m1", "我的订单还没到", thread="order-9")
    await work_and_resolve(hub, 1000)
    tap = {"id": "m2", "sender": {"id": "cust-7"}, "thread": "order-9", "text": "很不满意", "choice": "csat:1"}
    remark = {"id": "m3", "sender": {"id": "cust-7"}, "thread": "order-9", "text": "等了三天才回复"}
    for payload in (tap, remark):  # both stored before any plugin ran on either
        await hub.ingest(parse_message("webhook", payload))
    surveyed = (await ticket(hub, 1000)).id

    async def commented() -> bool:
        survey = await hub.store.quality.get_survey(surveyed)
        return survey is not None and survey.comment != ""

    await eventually(commented)
    survey = await hub.store.quality.get_survey(surveyed)
    assert survey is not None and (survey.score, survey.comment) == (1, "等了三天才回复")
    assert (await ticket(hub, 1000)).status is Status.RESOLVED
    # nor is the customer asked for the comment they have just sent (a trial got the ask after it)
    thread = await hub.store.tickets.list_messages(surveyed)
    said = [m.text for m in thread if m.author_type is AuthorType.BOT and m.kind is MessageKind.MESSAGE]
    assert not any("请直接回复一句意见" in text for text in said), said
