"""Issue 14's acceptance, end to end on real channels: a customer writes on Telegram (the real
python-telegram-bot against tests/fake_telegram.py), the ticket is categorised 交易纠纷 with
urgency high and handed to finance through the REST API, the customer asks "查询工单 <n>" by
email (the real SMTP listener on loopback) from a verified address of the same contact and
hears where the ticket stands in Chinese, and a stranger asking the same number hears nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import Role
from hub.app import Hub, build_app
from tests.conftest import free_port
from tests.email_servers import Sink, start_sink
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import GREETING_ALWAYS_OPEN, clear_proxies, eventually, make_config, serve
from tests.test_email import SUPPORT, customer_mail

WEBHOOK_SECRET = "telegram-webhook-secret-e2e"
PUBLIC = "https://help.example.com"
CUSTOMER_MAILBOX = "Li Na <li.na@gmail.com>"
STRANGER_MAILBOX = "Someone <someone@example.org>"


@pytest.fixture
async def telegram_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeTelegram, str]]:
    clear_proxies(monkeypatch)
    fake = FakeTelegram()
    monkeypatch.setenv("HELPLINE_TELEGRAM_TOKEN", fake.token)  # secrets as the README configures them
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-for-the-e2e-test")
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


@pytest.fixture
async def mail_sink() -> AsyncIterator[tuple[Sink, int]]:
    sink, server, port = await start_sink()
    yield sink, port
    server.close()
    await server.wait_closed()


@pytest.fixture(params=["sqlite", "mongo"])
async def desk(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    telegram_api: tuple[FakeTelegram, str],
    mail_sink: tuple[Sink, int],
) -> AsyncIterator[tuple[TestClient, Hub]]:
    """A hub with Telegram and email, over each store backend."""
    storage_url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("mongo_db_uri")
    config = make_config(
        tmp_path,
        {
            "hub": {"public_url": PUBLIC},
            "status_page": {"enabled": True, "secret": "env:HELPLINE_STATUS_SECRET"},
            "channels": {
                "telegram": {
                    "token": "env:HELPLINE_TELEGRAM_TOKEN",
                    "mode": "webhook",
                    "webhook_secret": WEBHOOK_SECRET,
                    "api_base_url": telegram_api[1],
                },
                "email": {
                    "address": SUPPORT,
                    "listen_port": free_port(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": mail_sink[1],
                    "smtp_tls": "none",
                },
            },
            "plugins": {"enabled": ["progress", "greeting"], "greeting": GREETING_ALWAYS_OPEN},
        },
        storage_url=storage_url,
    )
    hub = Hub(config)
    async with TestClient(TestServer(build_app(hub))) as client:
        yield client, hub


class Agent:
    """An agent using the REST API with a personal token, as an integration would."""

    def __init__(self, client: TestClient, secret: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {secret}"}

    async def call(self, method: str, path: str, body: Any = None, *, status: int = 200) -> Any:
        resp = await self.client.request(method, path, json=body, headers=self.headers)
        answer = await resp.json()
        assert resp.status == status, (method, path, resp.status, answer)
        return answer


async def agent(client: TestClient, hub: Hub, email: str, role: Role, teams: list[str]) -> Agent:
    account = await hub.services.accounts.add_agent(email, role, "a-long-password-1", name=email.split("@")[0])
    await hub.services.desk.set_agent_teams(account.id, teams)
    _token, secret = await hub.services.accounts.issue_token(account.id, "e2e")
    return Agent(client, secret)


def telegram_texts(fake: FakeTelegram, chat: int = 777) -> list[str]:
    return [m["text"] for m in fake.sent("sendMessage") if int(m["chat_id"]) == chat]


async def mail_question(hub: Hub, mailbox: str, text: str) -> None:
    await aiosmtplib.send(
        customer_mail("查询", text, sender=mailbox),
        hostname="127.0.0.1",
        port=hub.adapters["email"].listen_port,  # type: ignore[attr-defined]
        sender=mailbox.split("<")[-1].rstrip(">"),
        recipients=[SUPPORT],
    )


async def mailed_answer(sink: Sink, count: int) -> str:
    await eventually(lambda: len(sink.mails) >= count)
    return str(sink.mails[count - 1].get_body(("plain",)).get_content())  # type: ignore[union-attr]


async def test_a_dispute_from_telegram_goes_to_finance_and_only_its_customer_hears_its_status_by_email(
    desk: tuple[TestClient, Hub], telegram_api: tuple[FakeTelegram, str], mail_sink: tuple[Sink, int]
) -> None:
    client, hub = desk
    fake, _ = telegram_api
    sink, _ = mail_sink
    service = await agent(client, hub, "wang@example.com", Role.AGENT, ["customer-service"])
    admin = await agent(client, hub, "boss@example.com", Role.ADMIN, [])

    # 1. The customer writes on Telegram; the keyword 退款 makes the new ticket urgent (high).
    update = text_update(1, "我买的手机被重复扣款了两次，请尽快退款！订单号 A-5531")
    resp = await client.post(
        "/channels/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    )
    assert resp.status == 200
    await eventually(lambda: len(telegram_texts(fake)) >= 1)
    assert "#1000" in telegram_texts(fake)[0]  # the greeting names the ticket
    listed = await service.call("GET", "/api/v1/conversations")
    [ticket] = listed["items"]
    assert (ticket["number"], ticket["channel"], ticket["team"]) == (1000, "telegram", "")  # waits for triage
    assert ticket["priority"] == "high"

    # 2. Customer service takes it, files it under 交易纠纷 and hands it to finance with a reason.
    await service.call("PATCH", f"/api/v1/conversations/{ticket['id']}", {"team": "customer-service"})
    filed = await service.call("PATCH", f"/api/v1/conversations/{ticket['id']}", {"category": "dispute"})
    assert (filed["category"], filed["priority"], filed["team"]) == ("dispute", "high", "customer-service")
    category = {c["id"]: c for c in (await service.call("GET", "/api/v1/categories"))["items"]}["dispute"]
    assert category["names"]["zh-CN"] == "交易纠纷"
    reason = "重复扣款，需财务核实后退款"
    moved = await service.call(
        "POST", f"/api/v1/conversations/{ticket['id']}/handoff", {"team": "finance", "reason": reason}
    )
    assert (moved["team"], moved["category"], moved["priority"]) == ("finance", "dispute", "high")
    await eventually(lambda: len(telegram_texts(fake)) >= 2)
    assert telegram_texts(fake)[1] == "您的工单 #1000 已转交给财务/退款继续处理。"  # told once, in Chinese
    # Finance's ticket now: customer service no longer sees it; the thread keeps the reason as a note.
    await service.call("GET", f"/api/v1/conversations/{ticket['id']}", status=404)
    thread = (await admin.call("GET", f"/api/v1/conversations/{ticket['id']}/messages"))["items"]
    assert any(m["kind"] == "note" and m["text"] == reason for m in thread)
    assert any((m.get("event") or {}).get("key") == "event.handed_over" for m in thread)

    # 3. The customer asks by email before anyone knows the mailbox is theirs: the neutral answer.
    await mail_question(hub, CUSTOMER_MAILBOX, "查询工单 1000")
    neutral = await mailed_answer(sink, 1)
    assert "处理中" not in neutral and "财务" not in neutral

    # 4. An agent joins the two contacts (the mail's sender address is a verified identity).
    telegram_contact = (await admin.call("GET", f"/api/v1/conversations/{ticket['id']}"))["contact"]["id"]
    question = await hub.store.tickets.get_conversation_by_number(1001)
    assert question is not None and question.channel == "email"
    merged = await admin.call(
        "POST", f"/api/v1/contacts/{question.contact_id}/merge", {"into": telegram_contact}, status=200
    )
    email_identity = next(i for i in merged["identities"] if i["channel"] == "email")
    assert email_identity["address"] == "li.na@gmail.com" and email_identity["verified"] is True

    # 5. Asked again from that address, the answer is the ticket's status, team and next step in Chinese.
    await mail_question(hub, CUSTOMER_MAILBOX, "查询工单 1000")
    answer = await mailed_answer(sink, 2)
    assert "工单 #1000：处理中" in answer and "财务/退款" in answer and "下一步" in answer
    assert reason not in answer  # never the private note

    # 6. A stranger asking the same number hears the neutral words and nothing about the ticket.
    await mail_question(hub, STRANGER_MAILBOX, "查询工单 1000")
    refused = await mailed_answer(sink, 3)
    assert "处理中" not in refused and "财务" not in refused and "扣款" not in refused
    assert "/status/1000." not in refused and "#1000" not in refused
    assert neutral.split("\n")[0] == refused.split("\n")[0]  # the same words as any unknown asker gets
    assert sink.mails[2]["To"] and "someone@example.org" in sink.mails[2]["To"]
    final = await admin.call("GET", f"/api/v1/conversations/{ticket['id']}")
    assert (final["conversation"]["team"], final["conversation"]["status"]) == ("finance", "open")
    assert len(telegram_texts(fake)) == 2  # the greeting and the hand-off notice: no answer leaked to Telegram
