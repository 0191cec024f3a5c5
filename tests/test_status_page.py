"""The status page: a signed, expiring link per ticket, its public history and a reply box
whose replies are ingested like any message, once (tests through the real aiohttp app)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conversation.model import AuthorType, Direction, MessageKind, utcnow
from hub.app import Hub, build_app
from hub.settings import ConfigError
from tests.conftest import free_port
from tests.email_servers import start_sink
from tests.helpers import GREETING_ALWAYS_OPEN, customer_message, eventually, make_config
from tests.test_email import SUPPORT, customer_mail

PUBLIC = "https://help.example.com"


def page_config(tmp_path: Path, **page: Any) -> Any:
    return make_config(
        tmp_path,
        {
            "hub": {"public_url": PUBLIC},
            "status_page": {"enabled": True, "secret": "env:HELPLINE_STATUS_SECRET", **page},
            "plugins": {"enabled": ["progress", "greeting"], "greeting": GREETING_ALWAYS_OPEN},
        },
    )


@pytest.fixture
async def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    async with TestClient(TestServer(build_app(Hub(page_config(tmp_path))))) as client:
        yield client


def hub_of(client: TestClient) -> Hub:
    from hub.app_keys import HUB

    return client.server.app[HUB]


async def greeted_link(client: TestClient, text: str = "我的订单一直没到") -> str:
    """A customer writes; the greeting carries the ticket's link (the path, on this test server)."""
    hub = hub_of(client)
    await hub.ingest(customer_message("m1", text))
    await eventually(lambda: hub.adapters["chat"].sent)
    found = re.search(rf"{re.escape(PUBLIC)}(/status/\S+)", hub.adapters["chat"].sent[0].message.text)
    assert found is not None
    return found.group(1)


def form_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


async def test_the_page_shows_the_public_history_only_escaped_in_the_readers_language(client: TestClient) -> None:
    hub = hub_of(client)
    link = await greeted_link(client)
    ticket = await hub.store.tickets.get_conversation_by_number(1000)
    assert ticket is not None
    ticket = await hub.services.conversations.update_by(ticket, {"team": "finance"}, who="王芳", names={})
    await hub.services.conversations.send(
        ticket, "<script>alert(1)</script> 已联系仓库", author_type=AuthorType.AGENT, author_id="a1"
    )
    await hub.services.conversations.add_note(ticket, "内部备注：客户很急", author="a1")

    resp = await client.get(link, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    page = await resp.text()
    assert resp.status == 200 and '<html lang="zh-CN">' in page
    assert "工单 #1000" in page and "处理中" in page and "财务/退款" in page and "我的订单一直没到" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 已联系仓库" in page and "<script>" not in page
    assert "内部备注" not in page and "王芳" not in page  # no note, no system event
    assert "script-src" not in resp.headers["Content-Security-Policy"]  # no script at all
    assert resp.headers["Referrer-Policy"] == "same-origin" and resp.headers["Cache-Control"] == "no-store"

    english = await (await client.get(f"{link.split('?')[0]}?lang=en")).text()
    assert '<html lang="en">' in english and "Ticket #1000" in english and "Finance / refunds" in english


async def test_the_page_tells_times_in_the_desks_zone_and_leaves_out_links_to_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial's Chinese customer read "2026-11-28 20:36 UTC" and, in the greeting shown on the
    page, a second link to the page they were on."""
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    config = page_config(tmp_path)
    config = replace(config, reports=replace(config.reports, timezone="Asia/Shanghai"))
    async with TestClient(TestServer(build_app(Hub(config)))) as client:
        link = await greeted_link(client)
        ticket = await hub_of(client).store.tickets.get_conversation_by_number(1000)
        assert ticket is not None
        words = f"请在 {PUBLIC}{link} 查看，如需补充请直接回复"  # an agent's own sentence with the link stays
        await hub_of(client).services.conversations.send(ticket, words, author_type=AuthorType.AGENT, author_id="a1")
        page = await (await client.get(link, headers={"Accept-Language": "zh-CN"})).text()
        local = ticket.created_at.astimezone(ZoneInfo("Asia/Shanghai"))
        assert f"{local:%Y-%m-%d %H:%M} 北京时间</time>" in page and " UTC</time>" not in page
        history = page.split("<form")[0].split("</header>")[1]
        assert "您的工单号是 #1000" in history and "在这里查看工单并回复" not in history
        assert html.escape(words) in history


async def test_a_tampered_or_expired_link_shows_nothing_of_the_ticket(client: TestClient) -> None:
    hub = hub_of(client)
    link = await greeted_link(client)
    path = link.split("?")[0]
    number, expires, signature = path.removeprefix("/status/").split(".")
    for forged in (
        f"/status/1001.{expires}.{signature}",  # another ticket's number
        f"/status/{number}.{int(expires) + 86400}.{signature}",  # a longer life
        f"/status/{number}.{expires}.{signature[:-2]}xx",
        "/status/garbage",
    ):
        resp = await client.get(forged)
        page = await resp.text()
        assert resp.status == 403 and "1000" not in page and "订单" not in page, forged
        posted = await client.post(forged, data={"text": "hi", "nonce": "n" * 16, "proof": "x"})
        assert posted.status == 403

    assert hub.status_links is not None
    hub.status_links.clock = lambda: utcnow() + timedelta(days=31)  # the default life is 30 days
    resp = await client.get(path)
    page = await resp.text()
    assert resp.status == 410 and "1000" not in page and "订单" not in page and "expired" in page


async def test_a_reply_is_ingested_once_whatever_the_retries(client: TestClient) -> None:
    hub = hub_of(client)
    link = await greeted_link(client)
    page = await (await client.get(link)).text()
    fields = form_fields(page)
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None and set(fields) == {"nonce", "proof"}
    target = action.group(1).replace("&amp;", "&")

    for _ in range(2):  # a double submit, or the browser's retry
        resp = await client.post(target, data={**fields, "text": "还是没收到"}, allow_redirects=False)
        assert resp.status == 303 and "sent=1" in resp.headers["Location"]
    ticket = await hub.store.tickets.get_conversation_by_number(1000)
    assert ticket is not None
    replies = [m for m in await hub.store.tickets.list_messages(ticket.id) if m.direction is Direction.INBOUND]
    assert [m.text for m in replies] == ["我的订单一直没到", "还是没收到"]  # the agent sees it in the ticket
    assert replies[-1].kind is MessageKind.MESSAGE and replies[-1].channel == "chat"
    shown = await (await client.get(resp.headers["Location"])).text()
    assert "谢谢" in shown or "Thank you" in shown


async def test_a_reply_on_a_ticket_merged_into_another_customers_opens_a_ticket_of_its_own(
    client: TestClient,
) -> None:
    """An audit: the reply followed the merge into the other customer's ticket, whose agents'
    answers go to that customer."""
    from hub.sdk import Sender

    hub = hub_of(client)
    link = await greeted_link(client)  # customer A, ticket 1000
    other = await hub.ingest(customer_message("b1", "where is my refund", thread="t-b", sender=Sender("user-b")))
    mine = await hub.store.tickets.get_conversation_by_number(1000)
    assert mine is not None and other.conversation.number == 1001
    await hub.services.conversations.merge(mine, other.conversation, who="Boss")
    page = await (await client.get(link)).text()
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None
    resp = await client.post(
        action.group(1).replace("&amp;", "&"), data={**form_fields(page), "text": "A 的私事"}, allow_redirects=False
    )
    assert resp.status == 303
    theirs = [m.text for m in await hub.store.tickets.list_messages(other.conversation.id)]
    assert "A 的私事" not in theirs
    new = await hub.store.tickets.get_conversation_by_number(1002)
    assert new is not None and new.customer_address == "user-1"
    assert "A 的私事" in [m.text for m in await hub.store.tickets.list_messages(new.id)]


async def test_a_forged_or_cross_site_form_stores_nothing(client: TestClient) -> None:
    hub = hub_of(client)
    link = await greeted_link(client)
    fields = form_fields(await (await client.get(link)).text())
    path = link.split("?")[0]
    forged = {"nonce": "attacker-nonce-123", "proof": fields["proof"], "text": "transfer"}
    assert (await client.post(path, data=forged)).status == 403
    for origin in ("https://evil.example", "null"):
        cross = await client.post(path, data={**fields, "text": "transfer"}, headers={"Origin": origin})
        assert cross.status == 403
    empty = await client.post(path, data={**fields, "text": "   "})
    assert empty.status == 400
    ticket = await hub.store.tickets.get_conversation_by_number(1000)
    assert ticket is not None
    assert len([m for m in await hub.store.tickets.list_messages(ticket.id) if m.direction is Direction.INBOUND]) == 1


async def test_without_a_secret_the_stored_key_signs_alike_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = page_config(tmp_path, secret="")
    async with TestClient(TestServer(build_app(Hub(config)))) as first:
        link = await greeted_link(first)
    async with TestClient(TestServer(build_app(Hub(config)))) as again:
        assert (await again.get(link)).status == 200


def test_the_page_needs_a_public_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hub.public_url"):
        make_config(tmp_path, {"status_page": {"enabled": True}})


async def test_every_email_reply_to_the_customer_alone_links_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_STATUS_SECRET", "status-links-secret-0123456789")
    sink, server, port = await start_sink()
    email = {
        "address": SUPPORT,
        "listen_port": free_port(),
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
    }
    config = make_config(
        tmp_path,
        {
            "hub": {"public_url": PUBLIC},
            "status_page": {"enabled": True, "secret": "env:HELPLINE_STATUS_SECRET"},
            "channels": {"email": email},
        },
    )
    try:
        async with TestClient(TestServer(build_app(Hub(config)))) as client:
            hub = hub_of(client)
            mail = customer_mail("Refund", "Where is my refund?", sender="Li Na <li.na@gmail.com>")
            await aiosmtplib.send(
                mail, hostname="127.0.0.1", port=email["listen_port"], sender="li.na@gmail.com", recipients=[SUPPORT]
            )
            await eventually(lambda: hub.store.tickets.get_conversation_by_number(1000))
            ticket = await hub.store.tickets.get_conversation_by_number(1000)
            assert ticket is not None
            send = hub.services.conversations.send
            await send(ticket, "We are on it.", author_type=AuthorType.AGENT, author_id="a1")
            await eventually(lambda: len(sink.mails) >= 1)
            body = sink.mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
            link = re.search(rf"{re.escape(PUBLIC)}(/status/\S+)", body)
            assert body.startswith("We are on it.") and link is not None
            assert (await client.get(link.group(1))).status == 200
            # a link in the HTML part too (a trial's was plain text), and a Date with its zone
            html = sink.mails[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
            assert f'<a href="{PUBLIC}{link.group(1)}">' in html.replace("&amp;", "&")
            assert sink.mails[0]["Date"].endswith("+0000")  # -0000 says "zone unknown" (RFC 5322)

            # a text that links to the page already (the greeting plugin's) gets no second link
            await send(ticket, f"See {PUBLIC}{link.group(1)}", author_type=AuthorType.AGENT, author_id="a1")
            await eventually(lambda: len(sink.mails) >= 2)
            linked = sink.mails[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert linked.count("/status/") == 1 and "\n-- \n" not in linked

            await send(
                ticket, "Adding finance.", author_type=AuthorType.AGENT, author_id="a1", raw={"cc": ["cfo@x.cn"]}
            )
            await eventually(lambda: len(sink.mails) >= 3)
            copied = sink.mails[2].get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "/status/" not in copied  # whoever holds the link reads the ticket: not for a Cc

            # A reply on the page, then the agent's: the mail threads on the customer's own mail,
            # not on the page reply's id (a trial's "In-Reply-To: status-page:…" lost the thread).
            page = await (await client.get(link.group(1))).text()
            action = re.search(r'<form method="post" action="([^"]+)"', page)
            assert action is not None
            target = action.group(1).replace("&amp;", "&")
            await client.post(target, data={**form_fields(page), "text": "Still waiting"}, allow_redirects=False)
            await send(ticket, "Sent today.", author_type=AuthorType.AGENT, author_id="a1")
            await eventually(lambda: len(sink.mails) >= 4)
            threaded = sink.mails[3]
            assert threaded["In-Reply-To"] == mail["Message-ID"], threaded["In-Reply-To"]
            assert "status-page:" not in str(threaded["References"])
    finally:
        server.close()
        await server.wait_closed()


ODD_TOKENS = ["", "1000", "1000..", "..", "%00", "１０００.1.x", "9" * 400, "1000.99999999999999999999.x", "é.é.é"]
ODD_BODIES: list[tuple[bytes, str]] = [
    (b"text=%ff%fe&nonce=%ff&proof=%ff", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00", "application/x-www-form-urlencoded"),
    (b"--x\r\nContent-Disposition: form-data\r\n\r\nbroken", "multipart/form-data"),
    (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    (b'{"text": "hi"}', "application/json"),
    (b"text=" + b"a" * 20_000, "application/x-www-form-urlencoded"),
]


async def test_odd_links_and_bodies_never_get_a_5xx_and_store_nothing(client: TestClient) -> None:
    hub = hub_of(client)
    link = (await greeted_link(client)).split("?")[0]
    for token in ODD_TOKENS:
        resp = await client.get(f"/status/{token}")
        assert resp.status < 500, token
    fields = form_fields(await (await client.get(link)).text())
    for body, content_type in ODD_BODIES:
        resp = await client.post(link, data=body, headers={"Content-Type": content_type})
        assert 400 <= resp.status < 500, (body[:40], content_type, resp.status)
    ticket = await hub.store.tickets.get_conversation_by_number(1000)
    assert ticket is not None

    async def customer_texts() -> list[str]:
        thread = await hub.store.tickets.list_messages(ticket.id)
        return [m.text for m in thread if m.direction is Direction.INBOUND]

    assert len(await customer_texts()) == 1  # the odd bodies stored nothing
    surrogate = await client.post(
        link,
        data=f"nonce={fields['nonce']}&proof={fields['proof']}&text=%ED%A0%80".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert surrogate.status < 500
    assert all(text.encode("utf-8") for text in await customer_texts())  # whatever was kept can be stored and sent


async def test_an_answer_given_in_another_ticket_carries_no_link_and_joins_the_described_teams_view(
    client: TestClient,
) -> None:
    """The customer asks about #1000 from a new thread: the answer lives in a question ticket.
    Agents who may read that ticket must not get #1000's page through it, so the answer leaves
    the link out and the question ticket is filed under #1000's team."""
    hub = hub_of(client)
    await greeted_link(client)
    first = await hub.store.tickets.get_conversation_by_number(1000)
    assert first is not None
    await hub.actions.update_conversation(first, {"team": "finance"})
    asked = await hub.ingest(customer_message("m2", "查询工单 1000", thread="another-thread"))
    assert asked.conversation.id != first.id
    await eventually(lambda: len(hub.adapters["chat"].sent) >= 2)
    answer = hub.adapters["chat"].sent[-1].message
    assert answer.conversation_id == asked.conversation.id and "#1000" in answer.text
    assert "/status/" not in answer.text
    question = await hub.store.tickets.get_conversation(asked.conversation.id)
    assert question is not None and question.team == "finance"


async def test_an_unexpected_error_on_a_status_link_keeps_its_token_out_of_the_log(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An audit: the 500's log line named the request's raw path, the signed link included."""
    hub = hub_of(client)
    link = await greeted_link(client)
    token = link.split("/status/", 1)[1].split("?", 1)[0]

    async def broken(number: int) -> None:
        raise RuntimeError("the store broke")

    monkeypatch.setattr(hub.store.tickets, "get_conversation_by_number", broken)
    resp = await client.get(link)
    assert resp.status == 500
    assert "internal error" in caplog.text and token not in caplog.text and "/status/[token]" in caplog.text
