"""The `account` plugin end to end, against the fake platform, on web chat (a signed-in site
user and an anonymous visitor) and on email (loopback SMTP in and out): password recovery
with no secret in the chat, theft locked only after the customer's yes, and nothing told to
an unverified contact."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import AuthorType, Conversation, Direction, MessageKind, Priority, Role, utcnow
from hub.agents import add_agent
from hub.api.serialize import shown_text
from hub.app import Hub, build_app
from hub.i18n import hub_texts, texts
from hub.thread_events import event_of
from tests.conftest import free_port
from tests.email_servers import Sink, start_sink
from tests.fake_platform import FakePlatform
from tests.helpers import clear_proxies, eventually, make_config, serve
from tests.test_email import SUPPORT, customer_mail, mail_in

PLATFORM_SECRET = "platform-secret-0123456789abcdef"
IDENTITY_SECRET = "site-identity-secret-0123456789"
EN = texts("account", "en")
ZH = texts("account", "zh-CN")


@dataclass
class Desk:
    client: TestClient
    hub: Hub
    platform: FakePlatform
    sink: Sink


@pytest.fixture
async def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", PLATFORM_SECRET)
    monkeypatch.setenv("HELPLINE_SITE_SECRET", IDENTITY_SECRET)
    fake = FakePlatform(PLATFORM_SECRET)
    fake.add_user("u-1", "li.na@example.com")
    fake.add_user("u-2", "wang.fang@example.com")
    runner, url = await serve(fake.app())
    sink, smtp, smtp_port = await start_sink()
    config = make_config(
        tmp_path,
        {
            "storage": {"timeout_seconds": 10},
            "platform": {
                "base_url": url,
                "secret": "env:HELPLINE_PLATFORM_SECRET",
                "allow_http": True,
                "base_delay_seconds": 0.01,
                "max_delay_seconds": 0.02,
            },
            "channels": {
                "webchat": {
                    "secret": "visitor-token-secret-0123456789",
                    "sites": {"default": {}, "shop": {"identity_secret": "env:HELPLINE_SITE_SECRET"}},
                },
                "email": {
                    "address": SUPPORT,
                    "listen_port": free_port(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_tls": "none",
                    **getattr(request, "param", {}),  # a test's own email settings
                },
            },
            "plugins": {"enabled": ["account"]},
        },
    )
    hub = Hub(config)
    client = TestClient(TestServer(build_app(hub)))
    await client.start_server()
    assert await hub.store.desk.get_team("security") is not None  # a default team: theft needs no set-up
    try:
        yield Desk(client, hub, fake, sink)
    finally:
        await client.close()
        smtp.close()
        await runner.cleanup()


def user_hash(user_id: str) -> str:
    return hmac.new(IDENTITY_SECRET.encode(), user_id.encode(), hashlib.sha256).hexdigest()


async def chat_session(desk: Desk, user_id: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"site": "shop"}
    if user_id:
        body["user"] = {"id": user_id, "hash": user_hash(user_id)}
    resp = await desk.client.post("/channels/webchat/session", json=body)
    assert resp.status == 200
    return dict(await resp.json())


async def bot_frames(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    """The next `count` bot messages the widget shows."""
    seen: list[dict[str, Any]] = []
    while len(seen) < count:
        frame = await ws.receive_json(timeout=10)
        if frame.get("type") == "message" and frame.get("message", {}).get("from") == "bot":
            seen.append(frame["message"])
    return seen


async def the_ticket(hub: Hub) -> Conversation:
    found = await hub.store.tickets.get_conversation_by_number(1000)
    assert found is not None
    return found


async def everything_stored(hub: Hub, ticket: Conversation) -> str:
    return "\n".join(m.text for m in await hub.store.tickets.list_messages(ticket.id))


async def bot_said(hub: Hub, ticket: Conversation) -> list[str]:
    messages = await hub.store.tickets.list_messages(ticket.id)
    return [m.text for m in messages if m.direction is Direction.OUTBOUND and m.author_type is AuthorType.BOT]


def asks_for_a_secret(text: str) -> bool:
    """A bot text that asks the customer for a password or a code (it must say the opposite)."""
    asks = re.search(
        r"(?<!never )(?<!not )(?<!n't )(?:send|tell|give) (?:us|me) (?:your|the) (?:password|code)", text.lower()
    )
    return asks is not None or any(p in text for p in ("请发送密码", "告诉我们密码", "请提供验证码", "请输入验证码"))


# -- password recovery ---------------------------------------------------------------------
async def test_password_recovery_in_web_chat_sends_the_platforms_link_and_nothing_secret(desk: Desk) -> None:
    me = await chat_session(desk, "u-1")
    async with desk.client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=zh-CN") as ws:
        await ws.send_json({"type": "message", "client_id": "c1", "text": "忘记密码了，怎么找回？"})
        [answer] = await bot_frames(ws, 1)
    assert answer["text"] == ZH.get("account.password.sent", address="l***@example.com")
    assert desk.platform.resets == ["u-1"]
    assert desk.platform.called("find_user") == [{"user_id": "u-1"}]  # the signed widget identity, nothing typed
    ticket = await the_ticket(desk.hub)
    stored = await everything_stored(desk.hub, ticket)
    assert desk.platform.reset_links[0] not in stored and "token=" not in stored
    assert not any(asks_for_a_secret(t) for t in await bot_said(desk.hub, ticket))
    events = [m.text for m in await desk.hub.store.tickets.list_messages(ticket.id) if m.kind is MessageKind.EVENT]
    assert any("password-reset link: done" in e for e in events)  # the call is in the ticket's timeline


async def test_a_reset_ticket_is_filed_under_account_and_the_lookup_is_in_its_timeline_once(desk: Desk) -> None:
    me = await chat_session(desk, "u-1")
    async with desk.client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=zh-CN") as ws:
        await ws.send_json({"type": "message", "client_id": "c1", "text": "忘记密码了，怎么找回？"})
        await bot_frames(ws, 1)
        await ws.send_json({"type": "message", "client_id": "c2", "text": "还是没收到，我忘记密码了"})
        await bot_frames(ws, 1)
    ticket = await the_ticket(desk.hub)
    assert (ticket.category, ticket.team) == ("account", "customer-service")  # not open with no team
    events = [m.text for m in await desk.hub.store.tickets.list_messages(ticket.id) if m.kind is MessageKind.EVENT]
    assert len(desk.platform.called("find_user")) == 2  # asked each time: an account may change
    assert sum("looked up the customer's account" in e for e in events) == 1
    assert sum("password-reset link" in e for e in events) == 2  # each side effect is logged


async def test_password_recovery_by_email_goes_to_the_registered_address_and_a_stranger_learns_nothing(
    desk: Desk,
) -> None:
    await mail_in(desk.hub, customer_mail("Login", "I forgot my password", sender="Li Na <li.na@example.com>"))
    await eventually(lambda: len(desk.sink.mails) >= 1, timeout=15)
    reply = desk.sink.mails[0]
    assert reply["To"].addresses[0].addr_spec == "li.na@example.com"
    body = reply.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert EN.get("account.password.sent", address="l***@example.com") in body
    assert desk.platform.resets == ["u-1"] and desk.platform.called("find_user") == [{"email": "li.na@example.com"}]

    await mail_in(
        desk.hub, customer_mail("Password", "forgot password", sender="x@evil.example"), sender="x@evil.example"
    )
    await eventually(lambda: len(desk.sink.mails) >= 2, timeout=15)
    stranger = desk.sink.mails[1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert EN.get("account.not_found") in stranger and "***" not in stranger
    assert desk.platform.resets == ["u-1"]  # nothing sent for an address the platform does not know


async def test_an_anonymous_visitor_is_told_how_to_verify_and_the_platform_is_not_asked(desk: Desk) -> None:
    me = await chat_session(desk)
    async with desk.client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=en") as ws:
        await ws.send_json({"type": "message", "client_id": "c1", "text": "forgot my password, li.na@example.com"})
        [answer] = await bot_frames(ws, 1)
        await ws.send_json({"type": "message", "client_id": "c2", "text": "please delete my account"})
        [again] = await bot_frames(ws, 1)
    assert answer["text"] == again["text"] == EN.get("account.verify_how_code")  # a one-time code among the ways
    assert desk.platform.calls == [] and desk.platform.resets == []  # a typed address proves nothing
    assert "***" not in answer["text"]


# -- suspected theft ---------------------------------------------------------------------------
async def test_theft_in_web_chat_is_urgent_and_locked_only_after_the_customers_yes(desk: Desk) -> None:
    me = await chat_session(desk, "u-1")
    async with desk.client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=zh-CN") as ws:
        await ws.send_json({"type": "message", "client_id": "c1", "text": "我的账号被盗了"})
        [question] = await bot_frames(ws, 1)
        ticket = await the_ticket(desk.hub)
        assert ticket.priority is Priority.URGENT and desk.platform.locks == []  # not before the yes
        assert ticket.team == "security"  # the security team sees it at once, before any answer
        assert [c["id"] for c in question["choices"]] == ["account:lock", "account:keep"]
        # an agent of the team takes it before the customer answers: the answer is still heard
        agent = await add_agent(desk.hub.store, "sec@example.com", Role.AGENT, "agent password 1", name="Sec")
        await desk.hub.services.conversations.update_by(ticket, {"assignee_id": agent.id}, who="Sec", names={})
        await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "account:lock", "text": "冻结账号"})
        [told] = await bot_frames(ws, 1)
    assert told["text"] == ZH.get("account.theft.locked", number=1000)
    assert desk.platform.locks == ["u-1"] and desk.platform.users["u-1"]["status"] == "locked"
    ticket = await the_ticket(desk.hub)
    assert ticket.team == "security" and ticket.handed_off_at is not None and ticket.priority is Priority.URGENT


async def test_theft_by_email_is_locked_after_a_typed_yes_and_a_no_locks_nothing(desk: Desk) -> None:
    first = customer_mail("Help", "Someone logged into my account!", sender="Li Na <li.na@example.com>")
    await mail_in(desk.hub, first)
    await eventually(lambda: len(desk.sink.mails) >= 1, timeout=15)
    question = desk.sink.mails[0]
    assert EN.get("account.theft.confirm_typed") in question.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert desk.platform.locks == []
    answer = customer_mail("Re: Help", "Yes", sender="Li Na <li.na@example.com>", In_Reply_To=question["Message-ID"])
    await mail_in(desk.hub, answer)
    await eventually(lambda: len(desk.sink.mails) >= 2, timeout=15)
    told = desk.sink.mails[1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert EN.get("account.theft.locked", number=1000) in told
    assert desk.platform.locks == ["u-1"]
    ticket = await the_ticket(desk.hub)
    assert (ticket.team, ticket.priority) == ("security", Priority.URGENT)

    # Another customer says no: nothing is locked, the security team still takes it.
    mail = customer_mail("Hacked", "My account was hacked", sender="Wang Fang <wang.fang@example.com>")
    await mail_in(desk.hub, mail, sender="wang.fang@example.com")
    await eventually(lambda: len(desk.sink.mails) >= 3, timeout=15)
    no = customer_mail(
        "Re: Hacked", "no", sender="Wang Fang <wang.fang@example.com>", In_Reply_To=desk.sink.mails[2]["Message-ID"]
    )
    await mail_in(desk.hub, no, sender="wang.fang@example.com")
    await eventually(lambda: len(desk.sink.mails) >= 4, timeout=15)
    assert desk.platform.locks == ["u-1"]
    other = await desk.hub.store.tickets.get_conversation_by_number(1001)
    assert other is not None and other.team == "security" and other.priority is Priority.URGENT


@pytest.mark.parametrize("desk", [{"max_auto_replies_per_hour": 2}], indirect=True)
async def test_theft_by_email_tells_the_customer_the_lock_whatever_the_bot_said_before(desk: Desk) -> None:
    """The loop budget counts rounds: the warning and the question one mail of the customer's
    prompts are one; the lock notice answering their yes is the second, and it goes out."""
    first = customer_mail(
        "Help", "Someone logged into my account! password: Hunter2secret", sender="Li Na <li.na@example.com>"
    )
    await mail_in(desk.hub, first)
    await eventually(lambda: len(desk.sink.mails) >= 2, timeout=15)  # the secrets warning, the question
    question = desk.sink.mails[-1]
    body = question.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert EN.get("account.theft.confirm_typed") in body
    answer = customer_mail("Re: Help", "Yes", sender="Li Na <li.na@example.com>", In_Reply_To=question["Message-ID"])
    await mail_in(desk.hub, answer)
    await eventually(lambda: len(desk.sink.mails) >= 3, timeout=15)
    told = desk.sink.mails[-1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert EN.get("account.theft.locked", number=1000) in told and desk.platform.locks == ["u-1"]


async def test_a_forged_mailed_yes_locks_nothing(desk: Desk) -> None:
    """A mail's sender can be forged and ticket numbers guessed: a yes that does not reply to
    the question (which only the real mailbox received) is no answer, and is asked again."""
    forged = customer_mail("Help", "My account was hacked", sender="Li Na <li.na@example.com>")
    await mail_in(desk.hub, forged, sender="li.na@example.com")
    await eventually(lambda: len(desk.sink.mails) >= 1, timeout=15)
    token = customer_mail("Re: Help [#1000]", "yes", sender="Li Na <li.na@example.com>")  # the ticket's token only
    await mail_in(desk.hub, token, sender="li.na@example.com")
    await eventually(lambda: len(desk.sink.mails) >= 2, timeout=15)
    again = desk.sink.mails[1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert EN.get("account.theft.ask_again") in again and desk.platform.locks == []
    assert await desk.hub.store.tickets.get_conversation_by_number(1001) is None  # the token did thread it
    real = customer_mail(
        "Re: Help", "yes", sender="Li Na <li.na@example.com>", In_Reply_To=desk.sink.mails[1]["Message-ID"]
    )
    await mail_in(desk.hub, real, sender="li.na@example.com")
    await eventually(lambda: desk.platform.locks == ["u-1"], timeout=15)  # the real mailbox's reply


async def test_theft_from_an_unverified_visitor_goes_to_security_without_touching_the_platform(desk: Desk) -> None:
    me = await chat_session(desk)
    async with desk.client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=en") as ws:
        await ws.send_json({"type": "message", "client_id": "c1", "text": "someone logged into my account"})
        [told] = await bot_frames(ws, 1)
    assert told["text"] == EN.get("account.theft.to_security", number=1000) and not told.get("choices")
    assert desk.platform.calls == [] and desk.platform.locks == []
    ticket = await the_ticket(desk.hub)
    assert (ticket.team, ticket.priority) == ("security", Priority.URGENT)
    # the hand-off names the plugin and the reason in each agent's language
    messages = await desk.hub.store.tickets.list_messages(ticket.id)
    [handed] = [e for m in messages if (e := event_of(m.raw)) and e.key == "event.handed_off_because"]
    assert handed.text("zh-CN") == "账户助手 已转交人工处理：疑似账号被盗"
    assert handed.text("en").endswith("suspected account theft") and "Account help" in handed.text("en")


async def lock_by_chat(desk: Desk, user_id: str) -> tuple[dict[str, Any], aiohttp.ClientWebSocketResponse]:
    me = await chat_session(desk, user_id)
    ws = await desk.client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=en")
    await ws.send_json({"type": "message", "client_id": "c1", "text": "my account was hacked"})
    await bot_frames(ws, 1)
    await ws.send_json({"type": "choice", "client_id": "c2", "choice_id": "account:lock", "text": "Lock my account"})
    [told] = await bot_frames(ws, 1)
    return told, ws


async def test_a_lock_the_platform_could_not_take_at_once_is_done_later_and_the_customer_told(desk: Desk) -> None:
    desk.platform.fail_next["lock_account"] = [503, 503, 503]  # every attempt of the call made at once
    told, ws = await lock_by_chat(desk, "u-1")
    await ws.close()
    assert told["text"] == EN.get("account.theft.locking", number=1000) and desk.platform.locks == []
    desk.hub.actions.clock = lambda: utcnow() + timedelta(minutes=5)
    assert await desk.hub.plugin_host.fire_due_timers() == 1  # the stored intent, repeated
    said = await bot_said(desk.hub, await the_ticket(desk.hub))  # queued at the moved clock: read, not sent yet
    assert said[-1] == EN.get("account.theft.locked_later", number=1000)
    assert desk.platform.locks == ["u-1"] and len(set(desk.platform.keys)) == 1


async def test_a_lock_refused_on_its_repeat_leaves_the_agents_a_note(desk: Desk) -> None:
    desk.platform.fail_next["lock_account"] = [503, 503, 503, 403]
    _told, ws = await lock_by_chat(desk, "u-2")
    await ws.close()
    desk.hub.actions.clock = lambda: utcnow() + timedelta(minutes=5)
    assert await desk.hub.plugin_host.fire_due_timers() == 1
    ticket = await the_ticket(desk.hub)
    [note] = [m for m in await desk.hub.store.tickets.list_messages(ticket.id) if m.kind is MessageKind.NOTE]
    assert note.text == EN.get("account.note.failed", operation="lock the account")
    # each agent's inbox says it in theirs (hub/api/serialize.py)
    operation = hub_texts("zh-CN").get("event.platform_op.lock_account")
    assert shown_text(note, "zh-CN") == texts("account", "zh-CN").get("account.note.failed", operation=operation)
    assert "平台" in shown_text(note, "zh-CN") and shown_text(note, "en") == note.text
    assert desk.platform.locks == [] and ticket.team == "security"
    assert await desk.hub.plugin_host.fire_due_timers() == 0  # not repeated after a refusal


async def test_a_lock_question_left_unanswered_is_asked_once_more_then_left_to_people(desk: Desk) -> None:
    me = await chat_session(desk, "u-1")
    async with desk.client.ws_connect(f"/channels/webchat/ws?token={me['token']}&lang=en") as ws:
        await ws.send_json({"type": "message", "client_id": "c1", "text": "my account was hacked"})
        await bot_frames(ws, 1)
        await ws.send_json({"type": "message", "client_id": "c2", "text": "what does that mean for my orders?"})
        [again] = await bot_frames(ws, 1)
        assert again["text"] == EN.get("account.theft.ask_again")
        await ws.send_json({"type": "message", "client_id": "c3", "text": "and my balance?"})
        await eventually(lambda: _handed_off(desk.hub), timeout=10)  # no third question: people take it from here
        await ws.send_json({"type": "message", "client_id": "c4", "text": "yes"})  # too late to lock by chat
        await eventually(lambda: _plugins_ran_on(desk.hub, "yes"), timeout=10)
    ticket = await the_ticket(desk.hub)
    assert ticket.team == "security" and desk.platform.locks == []
    assert (await bot_said(desk.hub, ticket)).count(EN.get("account.theft.ask_again")) == 1


async def _handed_off(hub: Hub) -> bool:
    return (await the_ticket(hub)).handed_off_at is not None


async def _plugins_ran_on(hub: Hub, text: str) -> bool:
    messages = await hub.store.tickets.list_messages((await the_ticket(hub)).id)
    return any(m.text == text and m.plugins_done for m in messages)


def test_no_account_text_asks_for_a_secret() -> None:
    for catalog in (EN, ZH):
        assert len(catalog.messages) > 20
        for key in catalog.messages:
            assert not asks_for_a_secret(catalog.get(key)), key


async def test_once_a_person_has_the_ticket_account_help_waits_and_status_questions_are_still_answered(
    tmp_path: Path,
) -> None:
    """A trial found account help quiet after the FAQ bot's hand-off, and README silent about it:
    the bots that answer in an agent's place wait for the agent; progress still answers."""
    from hub.sdk import Sender
    from tests.helpers import customer_message, running_hub

    config = make_config(tmp_path, {"plugins": {"enabled": ["progress", "account"]}})
    async with running_hub(config) as hub:
        sender = Sender("user-9")
        first = await hub.ingest(customer_message("m1", "I forgot my password", sender=sender))
        ticket = first.conversation

        async def bots() -> list[str]:
            return [
                m.author_id
                for m in await hub.store.tickets.list_messages(ticket.id)
                if m.author_id in ("account", "progress")
            ]

        await eventually(lambda: _count(bots, 1))
        agent = await add_agent(hub.store, "li.na@example.com", Role.AGENT, "agent password 1", name="Li Na")
        ticket = await hub.services.conversations.update_by(ticket, {"assignee_id": agent.id}, who="Li", names={})
        await hub.ingest(customer_message("m2", "I forgot my password, please reset it", sender=sender))
        await hub.ingest(customer_message("m3", "where is my ticket", sender=sender))
        await eventually(lambda: _count(bots, 2))
        await hub.plugin_host.settle()
        assert await bots() == ["account", "progress"]


async def _count(bots: Any, n: int) -> bool:
    return len(await bots()) >= n
