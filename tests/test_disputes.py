"""The `disputes` plugin end to end: the buyer by email, the seller on the platform's signed
webhook channel, each in a ticket of their own; a missed deadline, a decision, a refund
through the platform (retried, paid once), an appeal; the API's access and supervisor rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.webhook import signed_headers
from conversation.inbox_rows import ROW_WINDOW, waiting_since
from conversation.model import Role, utcnow
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.i18n import texts
from hub.registry import discover
from hub.sdk import Inbound, Sender
from hub.settings import ConfigError
from plugins.disputes import Edit
from tests.conftest import free_port
from tests.email_servers import Sink, start_sink
from tests.fake_platform import FakePlatform
from tests.helpers import RecordingAdapter, clear_proxies, customer_message, eventually, make_config, serve
from tests.test_api import ADMIN, AGENT, sign_in

SUPPORT = "help@shop.example"
BUYER = "li.na@gmail.com"
HOOK_SECRET = "platform-channel-secret-0123456789"
PLATFORM_SECRET = "platform-api-secret-0123456789abcdef"
BUYER_WORDS = "付款三天了还没收到货，也没有物流单号"
SELLER_WORDS = "We shipped it late, sorry: tracking SF123"
SUPERVISOR = ("wang@example.com", "supervisor password 1")


def platform_fake() -> FakePlatform:
    """The platform: Li Na bought earphones 9 days ago (no tracking) and a laptop 2 days ago."""
    fake = FakePlatform(PLATFORM_SECRET)
    fake.add_user("u-buyer", BUYER)
    fake.add_user("u-seller", "seller@shop.example", name="深圳音频小店")
    fake.users["u-buyer"]["language"], fake.users["u-seller"]["language"] = "zh-CN", "en"
    ordered = (utcnow() - timedelta(days=9)).isoformat()
    fake.add_order("A-1001", "u-buyer", "u-seller", "199.00", title="蓝牙耳机", created_at=ordered)
    recent = (utcnow() - timedelta(days=2)).isoformat()
    fake.add_order(
        "A-2002", "u-buyer", "u-seller", "5000.00", title="笔记本电脑", created_at=recent, tracking_number="SF1"
    )
    return fake


def platform_settings(url: str) -> dict[str, Any]:
    return {
        "base_url": url,
        "secret": "env:HELPLINE_PLATFORM_SECRET",
        "allow_http": True,  # the fake, on loopback
        "base_delay_seconds": 0.01,
        "max_delay_seconds": 0.02,
        "max_attempts": 2,
        "timeout_seconds": 2,
    }


class Seller:
    """The platform's end of its webhook channel: receives what Helpline sends the seller."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        async def receive(request: web.Request) -> web.Response:
            self.posts.append(json.loads(await request.read()))
            return web.json_response({"id": f"p{len(self.posts)}"})

        app = web.Application()
        app.router.add_post("/helpline", receive)
        return app

    def texts(self) -> list[str]:
        return [p["message"]["text"] for p in self.posts]


def registry() -> Any:
    found = discover()
    found.adapters.add("recording", "hub.testing:RecordingAdapter", lambda: RecordingAdapter)
    return found


def config(
    tmp_path: Path,
    smtp_port: int,
    seller_url: str,
    platform_url: str = "",
    storage_url: str = "sqlite://",
    **settings: Any,
) -> Any:
    return make_config(
        tmp_path,
        {
            "storage": {"timeout_seconds": 10},
            "platform": platform_settings(platform_url or "http://127.0.0.1:1"),
            "channels": {
                "email": {
                    "address": SUPPORT,
                    "listen_port": free_port(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_tls": "none",
                },
                "platform": {"type": "webhook", "secret": "env:PLATFORM_HOOK_SECRET", "callback_url": seller_url},
            },
            "plugins": {
                "enabled": ["disputes"],
                "disputes": {
                    "seller_channel": "platform",
                    "respond_days": 3,
                    "remind_hours": [2],
                    "appeal_days": 7,
                    "supervisor_above": {"CNY": "2000"},
                    "rules": [
                        {
                            "name": "not received, no tracking after 7 days",
                            "reason": "not_received",
                            "no_tracking": True,
                            "min_days": 7,
                            "propose": "refund_buyer",
                        }
                    ],
                    **settings,
                },
            },
        },
        registry=registry(),
        storage_url=storage_url,
    )


@dataclass
class Scene:
    hub: Hub
    server: TestServer
    mails: Sink
    seller: Seller
    platform: FakePlatform
    clock: list[datetime]


@pytest.fixture
async def scene(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Scene]:
    """The hub on SQLite, or on MongoDB for a test parametrized with `scene="mongo"` (indirect)."""
    storage = (
        "sqlite://" if getattr(request, "param", "sqlite") == "sqlite" else request.getfixturevalue("mongo_db_uri")
    )
    clear_proxies(monkeypatch)
    monkeypatch.setenv("PLATFORM_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", PLATFORM_SECRET)
    sink, smtp, smtp_port = await start_sink()
    seller = Seller()
    runner, base = await serve(seller.app())
    platform = platform_fake()
    platform_runner, platform_url = await serve(platform.app())
    hub = Hub(config(tmp_path, smtp_port, f"{base}/helpline", platform_url, storage))
    server = TestServer(build_app(hub))
    await server.start_server()
    await add_agent(hub.store, ADMIN[0], Role.ADMIN, ADMIN[1], name="Boss")
    await add_agent(hub.store, AGENT[0], Role.AGENT, AGENT[1], name="Li Na")
    await add_agent(hub.store, SUPERVISOR[0], Role.SUPERVISOR, SUPERVISOR[1], name="Wang")
    plugin = hub.plugin_host.plugins["disputes"]
    clock = [utcnow()]
    plugin.clock = lambda: clock[0]  # type: ignore[attr-defined]
    hub.actions.clock = hub.outbox.clock = lambda: clock[0]  # timers and deliveries in the test's time
    yield Scene(hub, server, sink, seller, platform, clock)
    await server.close()
    await runner.cleanup()
    await platform_runner.cleanup()
    smtp.close()
    await smtp.wait_closed()


async def mail(scene: Scene, text: str, *, reply_to: EmailMessage | None = None, photo: bytes = b"") -> None:
    message = EmailMessage()
    message["From"] = f"Li Na <{BUYER}>"
    message["To"] = SUPPORT
    message["Subject"] = "Re: " + str(reply_to["Subject"]).removeprefix("Re: ") if reply_to else "订单纠纷"
    message["Message-ID"] = make_msgid(domain="gmail.com")
    if reply_to is not None:
        message["In-Reply-To"] = reply_to["Message-ID"]
        message["References"] = reply_to["Message-ID"]
    if reply_to is not None:  # quoted below, with no "wrote:" line, as a trial's mail program did
        text += "\n\n" + "\n".join(f"> {line}" for line in body(reply_to).splitlines())
    message.set_content(text)
    if photo:
        message.add_attachment(photo, maintype="image", subtype="png", filename="parcel.png")
    port = scene.hub.adapters["email"].listen_port  # type: ignore[attr-defined]
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, sender=BUYER, recipients=[SUPPORT])


def body(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def next_mail(scene: Scene, count: int) -> EmailMessage:
    await eventually(lambda: len(scene.mails.mails) >= count, timeout=15.0)
    return scene.mails.mails[count - 1]


async def seller_says(scene: Scene, client: TestClient, text: str, thread: str, n: int) -> None:
    payload = {"id": f"s{n}", "sender": {"id": "u-seller", "language": "en"}, "thread": thread, "text": text}
    raw = json.dumps(payload).encode()
    resp = await client.post("/channels/platform/messages", data=raw, headers=signed_headers(HOOK_SECRET, raw))
    assert resp.status == 200, await resp.text()


async def the_case(scene: Scene) -> Any:
    cases = await scene.hub.services.records.query("disputes", "case", {})
    assert len(cases) == 1
    return cases[0]


async def nothing_in_flight(scene: Scene) -> bool:
    """No message queued or being sent, and no webhook delivery under way."""
    return not scene.hub.outbox._in_flight and await scene.hub.store.deliveries.count_queued() == 0


async def settle(scene: Scene, at: datetime) -> None:
    # The outbox runs on the test's clock: moving it hours ahead while a mail is being sent
    # would make that delivery's lease look expired and send the mail a second time.
    await eventually(lambda: nothing_in_flight(scene), timeout=15.0)
    scene.clock[0] = at
    await scene.hub.plugin_host.fire_due_timers()


async def open_by_mail(scene: Scene) -> Any:
    """The buyer opens a dispute by email: order, reason, statement with a photo."""
    await mail(scene, "我要就订单发起纠纷")
    listing = await next_mail(scene, 1)
    assert "A-1001 " in body(listing) and "A-2002 " in body(listing) and "回复订单号" in body(listing)
    await mail(scene, "A-1001", reply_to=listing)
    reasons = await next_mail(scene, 2)
    assert "1. 未收到货" in body(reasons)
    await mail(scene, "1", reply_to=reasons)
    ask = await next_mail(scene, 3)
    # asked for words, it is the buyer's turn: the agents' list shows no wait (a trial's did)
    ticket = await scene.hub.store.tickets.get_conversation_by_number(1000)
    assert ticket is not None and ticket.channel == "email"
    newest = (await scene.hub.store.inbox.newest_messages([ticket.id], ROW_WINDOW))[ticket.id]
    assert newest[0].author_type.value == "bot" and waiting_since(ticket, newest) is None
    await mail(scene, BUYER_WORDS, reply_to=ask, photo=b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    opened = await next_mail(scene, 4)
    case = await the_case(scene)
    assert case.data["reference"] in body(opened) and "A-1001" in body(opened)
    return case


async def buyer_on_the_platform(scene: Scene) -> tuple[Any, Any, Any]:
    """The disputes plugin, the buyer's ticket on the platform's channel, and a context on it."""
    hub = scene.hub
    plugin: Any = hub.plugin_host.plugins["disputes"]
    buyer = await hub.ingest(
        Inbound(channel="platform", external_id="b1", thread_key="u-buyer", sender=Sender("u-buyer"), text="hi")
    )
    await eventually(lambda: not hub.pipeline._tasks)
    return plugin, buyer, await hub.plugin_host.context(plugin, buyer.conversation)


@pytest.mark.parametrize("scene", ["sqlite", "mongo"], indirect=True)
async def test_a_dispute_from_opening_by_email_to_refund_with_the_seller_on_the_platform_channel(scene: Scene) -> None:
    async with TestClient(scene.server) as client:
        case = await open_by_mail(scene)
        assert case.status == "awaiting_seller"
        buyer_ticket = await scene.hub.store.tickets.get_conversation(case.conversation_id)
        assert buyer_ticket is not None and buyer_ticket.channel == "email"
        assert (buyer_ticket.category, buyer_ticket.team) == ("dispute", "finance")  # 交易纠纷 brings its team
        notes = [m for m in await scene.hub.store.tickets.list_messages(buyer_ticket.id) if m.kind.value == "note"]
        said = (notes[-1].raw or {}).get("texts", {})  # each agent reads it in theirs (a trial read English)
        assert case.data["reference"] in said["zh-CN"] and "开启纠纷" in said["zh-CN"] and "opened" in said["en"]
        [statement, photo] = case.data["evidence"]
        assert statement["party"] == "buyer" and BUYER_WORDS in statement["text"]
        assert photo["type"] == "attachment" and photo["name"] == "parcel.png"
        assert case.data["proposal"] == {"outcome": "refund_buyer", "rule": "not received, no tracking after 7 days"}

        # The seller is asked on the platform's channel, in English, in a ticket of their own.
        await eventually(lambda: len(scene.seller.posts) >= 1, timeout=15.0)
        asked = scene.seller.posts[0]
        assert asked["to"] == "u-seller" and case.data["reference"] in asked["message"]["text"]
        assert "Not received" in asked["message"]["text"] and BUYER_WORDS not in asked["message"]["text"]
        seller_ticket = await scene.hub.store.tickets.get_conversation(case.data["seller_conversation_id"])
        assert seller_ticket is not None and seller_ticket.channel == "platform"
        assert seller_ticket.id != buyer_ticket.id and asked["thread"] == seller_ticket.thread_key
        assert (seller_ticket.category, seller_ticket.team) == ("dispute", "finance")
        seller_contact = await scene.hub.store.contacts.get_contact(seller_ticket.contact_id)
        assert seller_contact is not None and seller_contact.name == "深圳音频小店"  # not "访客 u-seller"
        # the seller's lookup is told as the other party's, not the buyer's (a trial)
        buyer_events = [
            m.text for m in await scene.hub.store.tickets.list_messages(buyer_ticket.id) if m.kind.value == "event"
        ]
        assert "Platform: looked up the other party's account: done" in buyer_events, buyer_events
        assert "Platform: looked up the customer's account: done" in buyer_events  # the buyer, by their identity

        # A reminder two hours before the deadline; then the deadline passes unanswered.
        deadline = case.deadline
        await settle(scene, deadline - timedelta(hours=1))
        await eventually(lambda: len(scene.seller.posts) >= 2, timeout=15.0)
        assert "Reminder" in scene.seller.posts[1]["message"]["text"]
        await settle(scene, deadline + timedelta(seconds=1))
        case = await the_case(scene)
        assert case.status == "under_review" and case.deadline is None
        assert [m["party"] for m in case.data["missed"]] == ["seller"]
        told = await next_mail(scene, 5)
        assert "卖家未在期限内答复" in body(told)
        await settle(scene, deadline + timedelta(hours=1))  # a timer firing again changes nothing
        assert (await the_case(scene)).version == case.version

        # The seller answers late: kept as their evidence, never sent to the buyer.
        await seller_says(scene, client, SELLER_WORDS, asked["thread"], 1)

        async def seller_evidence_kept() -> bool:
            return [e["party"] for e in (await the_case(scene)).data["evidence"]] == ["buyer", "buyer", "seller"]

        await eventually(seller_evidence_kept, timeout=15.0)
        case = await the_case(scene)
        assert case.status == "under_review"

        # An agent decides: the refund is held while the decision can still be appealed.
        lina, wang = await sign_in(scene.server, AGENT), await sign_in(scene.server, SUPERVISOR)
        admin = await sign_in(scene.server, ADMIN)
        try:
            for agent in (lina, wang):  # the case's tickets are the finance team's (交易纠纷)
                await admin.call("PATCH", f"/api/v1/agents/{agent.id}", {"teams": ["finance"]})
            body_ = {"outcome": "refund_buyer", "grounds": "没有物流记录 / no tracking record"}
            decided = await lina.call("POST", f"/api/v1/disputes/{case.id}/decide", body_)
            assert decided["status"] == "decided" and decided["data"]["refund"]["status"] == "held"
            await lina.call("POST", f"/api/v1/disputes/{case.id}/decide", body_, status=422)  # decided once
            assert scene.platform.refunds == []

            decision = await next_mail(scene, 6)
            assert "裁决" in body(decision) and "no tracking record" in body(decision) and "申诉" in body(decision)
            assert "执行退款" in body(decision)  # when the refund is paid
            await eventually(lambda: any("Decision on dispute" in t for t in scene.seller.texts()), timeout=15.0)

            # The seller appeals on their channel, with reasons; both are told; the case is appealed.
            await seller_says(scene, client, "Appeal: the parcel left on time", asked["thread"], 2)
            await eventually(lambda: any("You appealed the decision" in t for t in scene.seller.texts()), timeout=15.0)
            assert "卖家对纠纷" in body(await next_mail(scene, 7))
            appealed = await the_case(scene)
            assert appealed.status == "appealed" and appealed.data["appeal"]["grounds"] == "the parcel left on time"
            await settle(scene, scene.clock[0] + timedelta(days=8))  # the old window's end pays nothing
            assert scene.platform.refunds == []

            # Not the agent whose decision is appealed: a supervisor upholds it, and it is paid
            # (the platform is down at first: the refund is retried, paid once).
            refused = await lina.call("POST", f"/api/v1/disputes/{case.id}/decide", body_, status=403)
            assert refused["error"] == "another_supervisor_needed"
            assert "a supervisor of team finance, or an admin" in refused["message"]  # who sees the case
            scene.platform.fail_next["refund"] = [503, 503]  # every attempt of the first call
            upheld = await wang.call("POST", f"/api/v1/disputes/{case.id}/decide", body_)
            assert upheld["status"] == "closed" and upheld["data"]["refund"]["status"] == "pending"
            await settle(scene, scene.clock[0] + timedelta(minutes=10))  # the hub repeats the stored refund
            await eventually(lambda: len(scene.platform.refunds) == 1, timeout=15.0)
            case = await the_case(scene)
            assert case.data["refund"]["status"] == "refunded"
            assert [(r["order_id"], r["amount"], r["currency"]) for r in scene.platform.refunds] == [
                ("A-1001", "199.00", "CNY")
            ]
            refund_keys = [
                key
                for key, (name, _) in zip(scene.platform.keys, scene.platform.calls_of_effects(), strict=True)
                if name == "refund"
            ]
            assert len(set(refund_keys)) == 1 and len(refund_keys) == 3  # one key, paid once
            # both decisions went to the platform: the first, then the appeal's, final, replacing it
            assert [(d["number"], d["final"]) for d in scene.platform.decisions] == [(1, False), (2, True)]
            [paid] = scene.platform.refunds  # the decision, as the platform's books name it, and its outcome
            assert (paid["decision"], paid["outcome"]) == (case.data["reference"], "refund_buyer")

            view = await lina.call("GET", f"/api/v1/disputes/{case.id}")
            assert [m["text"] for m in view["seller"]["messages"] if m["direction"] == "inbound"][-2:] == [
                SELLER_WORDS,
                "Appeal: the parcel left on time",
            ]
            assert any(BUYER_WORDS in m["text"] for m in view["buyer"]["messages"])
            assert view["seller"]["name"] == "深圳音频小店"
        finally:
            for who in (lina, wang, admin):
                await who.client.close()

    # Each side only ever heard its own words and the shared facts.
    assert not any(SELLER_WORDS in body(m) for m in scene.mails.mails)
    assert not any(BUYER_WORDS in t for t in scene.seller.texts())


async def test_above_the_limit_only_a_supervisor_decides_and_other_teams_never_see_the_case(scene: Scene) -> None:
    sender = Sender(BUYER, email=BUYER, verified=True)
    buyer = await scene.hub.ingest(
        customer_message("e1", "请帮我看看这个订单", channel="email", thread="t-1", sender=sender)
    )
    admin, lina, wang = [await sign_in(scene.server, who) for who in (ADMIN, AGENT, SUPERVISOR)]
    try:
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["finance"]})
        await admin.call("PATCH", f"/api/v1/agents/{wang.id}", {"teams": ["finance"]})
        ticket = buyer.conversation.id
        await admin.call("PATCH", f"/api/v1/conversations/{ticket}", {"team": "finance"})
        opened = {
            "conversation_id": ticket,
            "order_id": "A-2002",
            "reason": "not_as_described",
            "statement": "屏幕有划痕",
        }
        await lina.call("POST", "/api/v1/disputes", {**opened, "order_id": "B-9"}, status=422)  # not their order
        scene.clock[0] = utcnow() + timedelta(seconds=1)  # the test's clock: after the ticket's first message
        case = await lina.call("POST", "/api/v1/disputes", opened, status=201)
        assert case["status"] == "awaiting_seller" and case["data"]["amount"] == "5000.00"
        await lina.call("POST", "/api/v1/disputes", opened, status=422)  # one open case per order
        seller_ticket = await scene.hub.store.tickets.get_conversation(case["data"]["seller_conversation_id"])
        assert seller_ticket is not None and seller_ticket.team == "finance"  # seen by whoever sees the buyer's
        listed = await lina.call("GET", "/api/v1/disputes?status=awaiting_seller")
        assert [c["id"] for c in listed["items"]] == [case["id"]]
        view = await lina.call("GET", f"/api/v1/disputes/{case['id']}")
        assert view["needs_supervisor"] is True
        # The case view shows the dispute, not what the ticket held before it.
        assert not any("请帮我看看这个订单" in m["text"] for m in view["buyer"]["messages"])
        assert (await scene.hub.store.tickets.get_conversation(ticket)).category == "dispute"
        # The generic records API cannot move a case past its rules (or around the supervisor).
        await lina.call("PATCH", f"/api/v1/records/disputes/case/{case['id']}", {"status": "decided"}, status=409)

        decide = {"outcome": "partial_refund", "grounds": "scratched screen", "refund": "800.00"}
        early = await wang.call("POST", f"/api/v1/disputes/{case['id']}/decide", decide, status=422)
        assert "the seller has until their deadline" in early["message"]  # they were promised until then
        question = {"party": "buyer", "question": "请提供划痕的照片"}
        asked = await lina.call("POST", f"/api/v1/disputes/{case['id']}/ask", question)
        assert asked["status"] == "awaiting_buyer" and set(asked["data"]["deadlines"]) == {"seller", "buyer"}
        assert "请提供划痕的照片" in body(await next_mail(scene, 1))  # to the buyer only
        await eventually(lambda: len(scene.seller.posts) >= 1, timeout=15.0)
        assert not any("划痕" in text for text in scene.seller.texts())

        decide = {"outcome": "partial_refund", "grounds": "scratched screen", "refund": "800.00"}
        refused = await lina.call("POST", f"/api/v1/disputes/{case['id']}/decide", decide, status=403)
        assert refused["error"] == "supervisor_needed" and (await the_case(scene)).status == "awaiting_buyer"
        decided = await wang.call("POST", f"/api/v1/disputes/{case['id']}/decide", decide)
        assert decided["status"] == "decided" and decided["data"]["refund"]["amount"] == "800.00"
        assert scene.platform.refunds == []  # held: the decision may still be appealed

        # The seller's ticket moved to another team: the case view no longer opens it to her (an
        # audit: it showed that ticket's whole thread, notes included, to whoever read the buyer's).
        seller_id = case["data"]["seller_conversation_id"]
        note = {"text": "卖家内部备注 seller private note", "kind": "note"}
        await admin.call("POST", f"/api/v1/conversations/{seller_id}/messages", note, status=201)
        assert "seller private note" in str(await lina.call("GET", f"/api/v1/disputes/{case['id']}"))
        await admin.call("PATCH", f"/api/v1/conversations/{seller_id}", {"team": "technical-support"})
        view = await lina.call("GET", f"/api/v1/disputes/{case['id']}")
        assert view["seller"] is None and view["seller_hidden"] is True and "seller private note" not in str(view)
        assert view["buyer"]["ticket"]["id"] == ticket
        sidebar = await lina.call("GET", f"/api/v1/conversations/{ticket}/disputes")
        assert [(c["id"], c["seller_conversation_id"]) for c in sidebar["items"]] == [(case["id"], "")]
        await admin.call("PATCH", f"/api/v1/conversations/{seller_id}", {"team": "finance"})
        assert (await lina.call("GET", f"/api/v1/disputes/{case['id']}"))["seller_hidden"] is False

        # Another team's agent: the case does not exist for her, and nothing changes.
        await admin.call("PATCH", f"/api/v1/agents/{lina.id}", {"teams": ["technical-support"]})
        await lina.call("GET", f"/api/v1/disputes/{case['id']}", status=404)
        appeal = {"party": "buyer", "grounds": "more than that"}
        await lina.call("POST", f"/api/v1/disputes/{case['id']}/appeal", appeal, status=404)
        assert (await lina.call("GET", "/api/v1/disputes"))["items"] == []
        await lina.call("GET", f"/api/v1/conversations/{ticket}/disputes", status=404)
        assert (await the_case(scene)).status == "decided"
        appealed = await wang.call("POST", f"/api/v1/disputes/{case['id']}/appeal", appeal)
        assert appealed["status"] == "appealed"
        await wang.call("POST", f"/api/v1/disputes/{case['id']}/appeal", appeal, status=422)  # once

        # The appeal reverses the decision: the held refund is cancelled, nothing was ever paid.
        reverse = {"outcome": "favour_seller", "grounds": "the scratch is on the box"}
        await wang.call("POST", f"/api/v1/disputes/{case['id']}/decide", reverse, status=403)  # his own decision
        final = await admin.call("POST", f"/api/v1/disputes/{case['id']}/decide", reverse)
        assert final["status"] == "closed" and final["data"]["refund"]["status"] == "cancelled"
        await settle(scene, scene.clock[0] + timedelta(days=30))
        assert scene.platform.refunds == []
    finally:
        for who in (admin, lina, wang):
            await who.client.close()


def test_bad_rules_and_limits_are_refused_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", PLATFORM_SECRET)
    with pytest.raises(ConfigError, match=r"plugins\.disputes\.rules\[0\]\.propose"):
        config(tmp_path, 1, "http://127.0.0.1:1/x", rules=[{"reason": "not_received", "propose": "maybe"}])
    with pytest.raises(ConfigError, match=r"plugins\.disputes\.supervisor_above\.CNY"):
        config(tmp_path, 1, "http://127.0.0.1:1/x", supervisor_above={"CNY": 2000.5})


@pytest.mark.parametrize("scene", ["sqlite", "mongo"], indirect=True)
async def test_changes_computed_from_a_stale_copy_never_undo_newer_ones(scene: Scene) -> None:
    """Two statements at once both stay; a late statement read before the decision never
    moves the decided case back to review (each change is a compare-and-set on the case)."""
    hub = scene.hub
    plugin: Any = hub.plugin_host.plugins["disputes"]
    buyer = await hub.ingest(
        Inbound(channel="platform", external_id="b1", thread_key="u-buyer", sender=Sender("u-buyer"), text="hi")
    )
    await eventually(lambda: not hub.pipeline._tasks)
    ctx = await hub.plugin_host.context(hub.plugin_host.plugins["disputes"], buyer.conversation)
    order = await ctx.platform.order_of("A-1001", user_id="u-buyer")
    stale = await plugin.open_case(ctx, order, "not_received", text=BUYER_WORDS, who="王芳")

    async def seller_message(n: int, text: str) -> Any:  # kept on a thread of its own: only the test adds it
        sender = Sender("u-seller")
        return (await hub.ingest(Inbound("platform", f"x{n}", sender, f"other-{n}", text=text))).message

    first, second = await seller_message(1, "photo of the parcel"), await seller_message(2, "and the receipt")
    await asyncio.gather(*(plugin.add_evidence(ctx, stale, "seller", m) for m in (first, second)))
    both = await the_case(scene)
    assert sorted(e.get("text") for e in both.data["evidence"][1:]) == ["and the receipt", "photo of the parcel"]
    assert both.status == "under_review"
    await plugin.add_evidence(ctx, stale, "seller", first)  # again, from the old copy: nothing new
    assert (await the_case(scene)).version == both.version

    await plugin.decide(ctx, stale, outcome="refund_buyer", grounds="untracked", refund=None, supervisor=False, who="x")
    late = await seller_message(9, "one more thing")
    await plugin.add_evidence(ctx, stale, "seller", late)  # read while it still waited for the seller
    case = await the_case(scene)
    assert case.status == "decided" and case.data["evidence"][-1]["text"] == "one more thing"

    assert scene.platform.refunds == []  # held while it may be appealed
    await settle(scene, scene.clock[0] + timedelta(days=7, seconds=1))  # the appeal window closes unappealed
    await eventually(lambda: len(scene.platform.refunds) == 1)
    case = await the_case(scene)
    assert case.status == "closed" and case.data["refund"]["status"] == "refunded"
    await settle(scene, scene.clock[0] + timedelta(days=1))  # the timer again: paid once
    assert len(scene.platform.refunds) == 1


async def test_an_unverified_contact_is_told_how_to_verify_and_learns_nothing(scene: Scene) -> None:
    chat = scene.hub.adapters["chat"]
    await scene.hub.ingest(
        customer_message("u1", "I want to open a dispute about my order A-1001", sender=Sender("anon"))
    )
    await eventually(lambda: len(chat.sent) >= 1)  # type: ignore[attr-defined]
    answer = chat.sent[0].message  # type: ignore[attr-defined]
    assert "sign in" in answer.text and not answer.choices
    assert "A-1001" not in answer.text and "A-2002" not in answer.text
    assert await scene.hub.services.records.query("disputes", "case", {}) == []
    # but told its ticket's number, and the ticket is a dispute with a person (a trial: unfiled,
    # no number, waiting)
    ticket = await scene.hub.store.tickets.get_conversation(answer.conversation_id)
    assert ticket is not None and f"#{ticket.number}" in answer.text
    assert ticket.handed_off_at is not None and (ticket.category, ticket.team) == ("dispute", "finance")


async def test_in_the_platform_app_the_buyer_picks_the_order_and_the_reason_with_buttons(scene: Scene) -> None:
    async with TestClient(scene.server) as client:

        async def buyer_says(n: int, *, text: str = "", choice: str = "", thread: str = "") -> dict[str, Any]:
            payload = {"id": f"b{n}", "sender": {"id": "u-buyer", "language": "zh-CN"}, "text": text, "choice": choice}
            payload |= {"thread": thread} if thread else {}
            raw = json.dumps(payload).encode()
            resp = await client.post("/channels/platform/messages", data=raw, headers=signed_headers(HOOK_SECRET, raw))
            assert resp.status == 200, await resp.text()
            await eventually(lambda: len([p for p in scene.seller.posts if p["to"] == "u-buyer"]) >= n, timeout=15.0)
            return [p for p in scene.seller.posts if p["to"] == "u-buyer"][n - 1]["message"]

        asked = await buyer_says(1, text="我要申请纠纷，耳机有问题")
        assert [c["id"] for c in asked["choices"]] == ["dispute:order:A-2002", "dispute:order:A-1001"]
        assert [c["label"] for c in asked["choices"]] == ["笔记本电脑 · 5000.00 CNY", "蓝牙耳机 · 199.00 CNY"]
        reasons = await buyer_says(2, choice="dispute:order:A-1001")
        assert [c["label"] for c in reasons["choices"]][:2] == ["未收到货", "货不对板"]
        assert reasons["text"] == "订单 A-1001 出了什么问题？请选择原因。"  # the buttons, not listed twice (a trial)
        statement = await buyer_says(3, choice="dispute:reason:not_received")
        # the platform's channel takes no files: no photos asked for (a trial)
        assert statement["text"] == "请用一条消息说明发生了什么。"
        opened = await buyer_says(4, text=BUYER_WORDS)
        assert "照片" not in opened["text"] and opened["text"].endswith("您可以随时在这里补充说明。")
        case = await the_case(scene)
        assert case.data["reference"] in opened["text"] and case.status == "awaiting_seller"
        assert (case.data["order_id"], case.data["reason"]) == ("A-1001", "not_received")
        assert [e["text"] for e in case.data["evidence"]] == [BUYER_WORDS]
        asked_seller = [p for p in scene.seller.posts if p["to"] == "u-seller"]
        assert len(asked_seller) == 1 and BUYER_WORDS not in asked_seller[0]["message"]["text"]
        # Each platform call is in the buyer's ticket's timeline (the operation, never a value).
        thread = await scene.hub.store.tickets.list_messages(case.conversation_id)
        calls = [(m.raw or {}).get("event", {}).get("params", {}).get("platform_op") for m in thread]
        assert {"find_user", "list_orders", "get_order"} <= set(calls)
        assert not any("u-buyer" in m.text or "A-1001" in m.text for m in thread if m.kind.value == "event")

        # In a conversation of its own: naming an order at once skips its question; the same
        # order again is told of its case at once (a trial: asked order, reason and statement,
        # then the plugin failed).
        again = await buyer_says(5, text="订单A-1001还是没收到货，我要发起纠纷", thread="second")
        assert case.data["reference"] in again["text"] and not again.get("choices")
        other = await buyer_says(6, text="订单 a-2002 也有问题，我要发起纠纷", thread="third")
        assert [c["label"] for c in other["choices"]][:1] == ["未收到货"] and "A-2002" in other["text"]
        # the reason said at once is not asked either (a trial was asked it again)
        said_all = await buyer_says(7, text="订单 A-2002 没收到货，我要发起纠纷", thread="fourth")
        assert said_all["text"].startswith("关于订单 A-2002（未收到货）") and not said_all.get("choices")
        listing = await buyer_says(8, text="我要发起纠纷", thread="fifth")  # A-1001 has its case: not offered
        assert [c["id"] for c in listing["choices"]] == ["dispute:order:A-2002"] and "例如 A-2002" in listing["text"]
        # the ticket told of a case elsewhere is filed, with a note naming the case's ticket (a
        # trial's waited open and unfiled)
        store = scene.hub.store.tickets
        case_ticket = await store.get_conversation(case.conversation_id)
        for number in range(1000, 1010):
            ticket = await store.get_conversation_by_number(number)
            said = [m for m in await store.list_messages(ticket.id)] if ticket else []
            if any(m.text.startswith("订单A-1001还是没收到货") for m in said):
                break
        assert ticket is not None and ticket.category == "dispute" and case_ticket is not None
        [note] = [m for m in said if m.kind.value == "note"]
        assert f"#{case_ticket.number}" in note.text and case.data["reference"] in note.text
        assert len(await scene.hub.services.records.query("disputes", "case", {})) == 1


async def buyer_writes(hub: Hub, n: int, text: str) -> Any:
    """The buyer (Chinese) writes on their platform ticket; returns it once the plugins ran."""
    inbound = Inbound("platform", f"b{n}", Sender("u-buyer", language="zh-CN"), "u-buyer", text=text)
    record = await hub.ingest(inbound)
    await eventually(lambda: not hub.pipeline._tasks)
    return record.conversation


async def test_an_appeal_keeps_its_reasons_and_goes_to_the_case_whose_window_is_open(scene: Scene) -> None:
    """Two cases on one buyer ticket: "申诉：理由" is asked about when both may be appealed (a
    number answers), and goes straight to the only one still open afterwards."""
    hub = scene.hub
    plugin: Any = hub.plugin_host.plugins["disputes"]

    async def buyer_says(n: int, text: str) -> Any:
        return await buyer_writes(hub, n, text)

    def to_buyer() -> list[dict[str, Any]]:
        return [p["message"] for p in scene.seller.posts if p["to"] == "u-buyer"]

    ticket = await buyer_says(1, "你好")
    ctx = await hub.plugin_host.context(plugin, ticket)
    cases = [
        await plugin.open_case(ctx, await ctx.platform.order_of(order, user_id="u-buyer"), "other", text="x", who="x")
        for order in ("A-1001", "A-2002")
    ]
    await settle(scene, scene.clock[0] + timedelta(days=3, seconds=1))  # the seller never answers
    for case in cases:
        await plugin.decide(ctx, case, outcome="favour_seller", grounds="签收", refund=None, supervisor=True, who="W")
    asked_before = len(to_buyer())

    await buyer_says(2, "申诉：我从未收到包裹")
    await eventually(lambda: len(to_buyer()) > asked_before, timeout=15.0)
    question = to_buyer()[-1]
    listed = [c["id"].removeprefix("dispute:appeal:") for c in question["choices"]]
    assert sorted(listed) == sorted(c.id for c in cases) and "2." in question["text"]
    assert {(await hub.services.records.get("disputes", "case", c.id)).status for c in cases} == {"decided"}

    await buyer_says(3, "2")
    second = await hub.services.records.get("disputes", "case", listed[1])
    assert second.status == "appealed" and second.data["appeal"]["grounds"] == "我从未收到包裹"
    first = await hub.services.records.get("disputes", "case", listed[0])
    assert first.status == "decided"
    # the buyer hears of their own appeal as theirs; the seller hears the buyer appealed
    ref = second.data["reference"]
    assert DISPUTES_ZH.get("disputes.appealed_by_you", case=ref) in [m["text"] for m in to_buyer()]
    assert "买家" not in to_buyer()[-1]["text"]
    to_seller = [p["message"]["text"] for p in scene.seller.posts if p["to"] == "u-seller"]
    by_buyer = {t.get("disputes.appealed_by_buyer", case=ref) for t in (DISPUTES_ZH, texts("disputes", "en"))}
    assert [m for m in to_seller if m in by_buyer]

    await buyer_says(4, "appeal: the seller never shipped")  # only the other one is open now
    first = await hub.services.records.get("disputes", "case", listed[0])
    assert first.status == "appealed" and first.data["appeal"]["grounds"] == "the seller never shipped"
    # appealing again while the appeal is reviewed: said to be under review, not "decided, final" (a trial)
    told = len(to_buyer())
    await buyer_says(5, "申诉：还是没收到")
    await eventually(lambda: len(to_buyer()) > told, timeout=15.0)
    assert "正在复核" in to_buyer()[-1]["text"], to_buyer()[-1]["text"]


@pytest.mark.parametrize("scene", ["sqlite", "mongo"], indirect=True)
async def test_another_platform_user_naming_the_sellers_thread_gets_a_ticket_of_their_own(scene: Scene) -> None:
    hub = scene.hub
    plugin, buyer, ctx = await buyer_on_the_platform(scene)
    order = await ctx.platform.order_of("A-1001", user_id="u-buyer")
    case = await plugin.open_case(ctx, order, "not_received", text=BUYER_WORDS, who="王芳")
    thread = f"dispute-{case.id}"
    async with TestClient(scene.server) as client:

        async def post(n: int, sender: str, text: str) -> None:
            payload = {"id": f"m{n}", "sender": {"id": sender, "language": "en"}, "thread": thread, "text": text}
            raw = json.dumps(payload).encode()
            resp = await client.post("/channels/platform/messages", data=raw, headers=signed_headers(HOOK_SECRET, raw))
            assert resp.status == 200, await resp.text()
            await eventually(lambda: not hub.pipeline._tasks)

        await post(1, "u-other", "I am the seller, refund nothing")
        await post(2, "u-seller", SELLER_WORDS)

        case = await the_case(scene)
        assert [(e["party"], e["text"]) for e in case.data["evidence"]] == [
            ("buyer", BUYER_WORDS),
            ("seller", SELLER_WORDS),
        ]
        seller_thread = await hub.store.tickets.list_messages(case.data["seller_conversation_id"])
        assert not any("refund nothing" in m.text for m in seller_thread)
        to_other = [p for p in scene.seller.posts if p["to"] == "u-other"]
        assert all(p["thread"] != thread for p in to_other)  # never answered on the seller's thread
        assert not any(p["to"] == "u-seller" and "refund nothing" in p["message"]["text"] for p in scene.seller.posts)


@pytest.mark.parametrize("scene", ["sqlite", "mongo"], indirect=True)
async def test_two_openings_of_one_order_at_the_same_instant_make_one_case(scene: Scene) -> None:
    """An agent opens a case while the buyer's bot dialogue opens one for the same order: each
    found no open case for it; only one is made, and only it asks the seller."""
    hub = scene.hub
    plugin: Any = hub.plugin_host.plugins["disputes"]
    buyer = await hub.ingest(
        Inbound(channel="platform", external_id="b1", thread_key="u-buyer", sender=Sender("u-buyer"), text="hi")
    )
    await eventually(lambda: not hub.pipeline._tasks)
    contexts = [await hub.plugin_host.context(plugin, buyer.conversation) for _ in range(2)]
    order = await contexts[0].platform.order_of("A-1001", user_id="u-buyer")
    results = await asyncio.gather(
        plugin.open_case(contexts[0], order, "not_received", text=BUYER_WORDS, who="王芳"),
        plugin.open_case(contexts[1], order, "not_as_described", text="broken", who=plugin.name),
        return_exceptions=True,
    )
    case = await the_case(scene)  # exactly one
    [opened] = [r for r in results if not isinstance(r, BaseException)]
    [refused] = [r for r in results if isinstance(r, BaseException)]
    assert opened.id == case.id and "has an open dispute already" in str(refused)
    await eventually(lambda: len(scene.seller.posts) >= 1, timeout=15.0)
    await eventually(lambda: nothing_in_flight(scene), timeout=15.0)
    assert len(scene.seller.posts) == 1  # the seller is asked once

    # Once that case is closed, the order may be disputed again: a new case, not the old one.
    await plugin.change(contexts[0], case.id, lambda c: Edit(status="closed"))
    again = await plugin.open_case(contexts[0], order, "other", text="again", who="王芳")
    assert again.id != case.id and again.status == "awaiting_seller"


def decision_calls(scene: Scene, order: str) -> list[dict[str, Any]]:
    return [d for d in scene.platform.decisions if d["order_id"] == order]


@pytest.mark.parametrize("scene", ["sqlite", "mongo"], indirect=True)
async def test_every_decision_for_either_party_is_told_to_the_platform_durably(scene: Scene) -> None:
    """An escrow platform must hear a decision for the seller too: each decision goes to the
    platform as a stored, signed side effect (retried with its key while the platform is
    down, in the buyer's ticket's timeline); again once it is final; and a decision reversed
    on appeal is followed by the appeal's decision, naming the one it replaces."""
    hub = scene.hub
    plugin, buyer, ctx = await buyer_on_the_platform(scene)
    appealed, unappealed = [
        await plugin.open_case(ctx, await ctx.platform.order_of(order, user_id="u-buyer"), "other", text="x", who="x")
        for order in ("A-1001", "A-2002")
    ]
    await settle(scene, scene.clock[0] + timedelta(days=3, seconds=1))  # the seller never answers

    # For the seller, with the platform down: stored and repeated later under one key.
    scene.platform.fail_next["dispute_decision"] = [503, 503]  # both attempts of the first call
    for case in (appealed, unappealed):
        await plugin.decide(
            ctx, case, outcome="favour_seller", grounds="签收记录", refund=None, supervisor=True, who="W"
        )
    assert decision_calls(scene, "A-1001") == []
    stored = await hub.services.records.get("disputes", "case", appealed.id)
    assert stored.data["platform_decisions"]["1"]["status"] == "retrying"
    await settle(scene, scene.clock[0] + timedelta(minutes=10))  # the hub repeats the stored call
    await eventually(lambda: len(decision_calls(scene, "A-1001")) == 1, timeout=15.0)
    [first] = decision_calls(scene, "A-1001")
    reference = stored.data["reference"]
    assert (first["decision"], first["number"], first["outcome"], first["refund_amount"]) == (
        reference,
        1,
        "favour_seller",
        "0",
    )
    assert first["final"] is False and first["appeal_until"] and "supersedes" not in first
    keys = [
        k
        for k, (name, body) in zip(scene.platform.keys, scene.platform.calls_of_effects(), strict=True)
        if name == "dispute_decision" and body["order_id"] == "A-1001"
    ]
    assert len(keys) == 3 and len(set(keys)) == 1  # two failed attempts and the repeat: one key
    stored = await hub.services.records.get("disputes", "case", appealed.id)
    told_1 = stored.data["platform_decisions"]["1"]
    assert (told_1["final"], told_1["status"]) == (False, "recorded") and told_1["reference"].startswith("decision-")

    # The buyer appeals the first; another supervisor reverses it: told at once, final.
    await plugin.appeal(ctx, stored, party="buyer", grounds="never arrived", who="buyer")
    stored = await hub.services.records.get("disputes", "case", appealed.id)
    await plugin.decide(ctx, stored, outcome="refund_buyer", grounds="no proof", refund=None, supervisor=True, who="Z")
    second = decision_calls(scene, "A-1001")[-1]
    assert (second["number"], second["outcome"], second["refund_amount"]) == (2, "refund_buyer", "199.00")
    assert second["final"] is True and second["supersedes"] == 1 and "appeal_until" not in second
    await eventually(lambda: len(scene.platform.refunds) == 1, timeout=15.0)  # its refund, by its own call

    # The other decision's window closes unappealed: the platform hears it is final now.
    await settle(scene, scene.clock[0] + timedelta(days=7, seconds=1))
    await eventually(lambda: len(decision_calls(scene, "A-2002")) == 2, timeout=15.0)
    made, final = decision_calls(scene, "A-2002")
    assert (made["final"], final["final"], final["number"], final["outcome"]) == (False, True, 1, "favour_seller")
    assert [d["final"] for d in decision_calls(scene, "A-1001")] == [False, True]  # the reversed one never final
    await settle(scene, scene.clock[0] + timedelta(days=1))  # timers again: nothing more is sent
    assert len(scene.platform.decisions) == 4

    # Each call is in the buyer's ticket's timeline: the operation and its outcome, no value.
    thread = await hub.store.tickets.list_messages(buyer.conversation.id)
    events = [(m.raw or {}).get("event", {}).get("params", {}) for m in thread]
    told = [e["platform_result"] for e in events if e.get("platform_op") == "dispute_decision"]
    assert told.count("retrying") >= 1 and told.count("ok") == 4
    assert not any(reference in m.text for m in thread if m.kind.value == "event")


DISPUTES_ZH = texts("disputes", "zh-CN")


async def test_a_late_appeal_is_told_the_window_closed_and_both_hear_the_decision_final_and_the_refund_paid(
    scene: Scene,
) -> None:
    """After the appeal window: the decision becomes final (both parties told), the held refund
    is paid (the buyer told), and "申诉：…" then gets a clear answer that the window has closed
    (no greeting, no appeal)."""
    hub = scene.hub
    plugin: Any = hub.plugin_host.plugins["disputes"]

    async def buyer_says(n: int, text: str) -> Any:
        return await buyer_writes(hub, n, text)

    def told(to: str) -> list[str]:
        return [p["message"]["text"] for p in scene.seller.posts if p["to"] == to]

    ticket = await buyer_says(1, "你好")
    ctx = await hub.plugin_host.context(plugin, ticket)
    order = await ctx.platform.order_of("A-1001", user_id="u-buyer")
    case = await plugin.open_case(ctx, order, "other", text="x", who="x")
    await settle(scene, scene.clock[0] + timedelta(days=3, seconds=1))  # the seller never answers
    case = await plugin.decide(
        ctx, case, outcome="refund_buyer", grounds="无签收", refund=None, supervisor=True, who="W"
    )
    ref = case.data["reference"]
    decided_at = scene.clock[0]

    await settle(scene, scene.clock[0] + timedelta(days=7, seconds=1))  # the window closes unappealed
    await eventually(lambda: len(scene.platform.refunds) == 1, timeout=15.0)
    final_zh = DISPUTES_ZH.get("disputes.now_final", case=ref)
    paid_zh = DISPUTES_ZH.get("disputes.refund_paid", case=ref, refund="199.00", currency="CNY", order="A-1001")
    # picked out by text: the decision's own notice is delivered by the outbox meanwhile
    await eventually(lambda: paid_zh in told("u-buyer"), timeout=15.0)
    assert [m for m in told("u-buyer") if m in (final_zh, paid_zh)] == [final_zh, paid_zh]
    seller_final = {t.get("disputes.now_final", case=ref) for t in (DISPUTES_ZH, texts("disputes", "en"))}
    assert [m for m in told("u-seller") if m in seller_final]  # in their language
    await settle(scene, scene.clock[0] + timedelta(days=1))  # the timer again: told once
    assert told("u-buyer").count(final_zh) == 1

    await buyer_says(2, "申诉：我从未收到包裹")
    until = f"{decided_at + timedelta(days=7):%Y-%m-%d %H:%M} UTC"
    assert told("u-buyer")[-1] == DISPUTES_ZH.get("disputes.appeal_closed", case=ref, until=until)
    closed = await hub.services.records.get("disputes", "case", case.id)
    assert closed.status == "closed" and not closed.data.get("appeal")
