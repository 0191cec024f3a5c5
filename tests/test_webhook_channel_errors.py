"""The signed webhook channel's refusals name the fields as its sender wrote them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.webhook import signed_headers
from conversation.routing import THREAD_SEAL
from hub.app import Hub, build_app
from tests.helpers import make_config

SECRET = "webhook-secret-for-field-names"
BODY: dict[str, Any] = {"id": "p-1", "sender": {"id": "user-9", "name": "陈静"}, "thread": "order-1", "text": "hi"}


@pytest.fixture
async def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    monkeypatch.setenv("HELPLINE_API_SECRET", SECRET)
    config = make_config(tmp_path, {"channels": {"api": {"type": "webhook", "secret": "env:HELPLINE_API_SECRET"}}})
    client = TestClient(TestServer(build_app(Hub(config))))
    await client.start_server()
    yield client
    await client.close()


def with_field(path: str, value: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(BODY))
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    target[last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("id", "m" * 5000, "id is longer than 512 characters"),
        ("thread", "t" * 5000, "thread is longer than 512 characters"),
        ("thread", "   ", "thread must not be blank"),
        ("sender.id", "u" * 5000, "sender.id is longer than 512 characters"),
        ("sender.id", 7, "sender.id must be a string"),
        ("sender.name", ["Li"], "sender.name must be a string"),
        ("sender.email", 1, "sender.email must be a string"),
        ("sender.tier", False, "sender.tier must be a string"),
        ("sender.language", "not a tag!", "sender.language must be a language tag"),
        # An identifier is refused, not cleaned: "user-9\x00" kept as "user-9" would write as user-9.
        ("sender.id", "user-9\x00", "sender.id must not contain control or invisible characters"),
        ("thread", "order-1\x1fuser-9", "thread must not contain control or invisible characters"),
        ("id", "p-1\x07", "id must not contain control or invisible characters"),
        # nor what makes another id look like user-9 in an agent's list (a trial)
        ("sender.id", "user-9\t", "sender.id must not contain control or invisible characters"),
        ("thread", "order-1\n", "thread must not contain control or invisible characters"),
        ("thread", "order-1\u0085", "thread must not contain control or invisible characters"),
        ("sender.id", "user-9\u200b", "sender.id must not contain control or invisible characters"),
        ("sender.id", "user-\u202e9", "sender.id must not contain control or invisible characters"),
        ("thread", "order-1\u2028", "thread must not contain control or invisible characters"),
        ("sender.id", "user-9\u3164", "sender.id must not contain control or invisible characters"),
        # a field the channel does not read is refused, not dropped (a trial's "threadd" went to
        # the default thread and its "attachments" were lost, each answered 200)
        (
            "threadd",
            "order-2",
            "threadd: unknown field (known: id, sender, thread, text, subject, choice, sent_at, metadata)",
        ),
        ("metadata", ["order-2"], "metadata must be an object"),  # (null: left out, as any field)
        (
            "attachments",
            [{"name": "x.png", "url": "https://x.example/x.png"}],
            "attachments: this channel takes no files",
        ),
        ("sender.nick", "Li", "sender.nick: unknown field (known: id, name, email, email_verified, language, tier)"),
    ],
)
async def test_a_refused_field_is_named_as_the_sender_wrote_it(
    client: TestClient, tmp_path: Path, path: str, value: Any, named: str
) -> None:
    body = json.dumps(with_field(path, value)).encode()
    resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    answer = await resp.json()
    assert resp.status == 400, answer
    assert answer["error"] == "invalid_message"
    assert answer["message"].startswith(named), answer
    for internal in ("external_id", "thread_key", "sender.address"):
        assert internal not in answer["message"]
    with sqlite3.connect(tmp_path / "data" / "helpline.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


async def test_control_characters_are_taken_out_of_what_is_kept(client: TestClient, tmp_path: Path) -> None:
    # A NUL or bell no one typed and no screen shows: the words around it are kept, it is not.
    body = json.dumps(
        {**with_field("sender.name", "陈\x00静\x07"), "text": "退款\x00还没到\x1b\n第二行\tend", "id": "p-nul"}
    ).encode()
    resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    assert resp.status in (200, 202), await resp.text()
    with sqlite3.connect(tmp_path / "data" / "helpline.sqlite3") as db:
        (text,) = db.execute("SELECT text FROM messages").fetchone()
        (name,) = db.execute("SELECT name FROM contacts").fetchone()
    assert text == "退款还没到\n第二行\tend"
    assert name == "陈静"


@pytest.mark.parametrize(
    "text", ["\x00\x00\x07", "\u200b\u200b", " \ufeff\u2060 "]
)  # zero-width: a trial's blank ticket
async def test_a_message_of_control_characters_only_is_refused(client: TestClient, tmp_path: Path, text: str) -> None:
    body = json.dumps(with_field("text", text)).encode()
    resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    answer = await resp.json()
    assert resp.status == 400, answer
    assert "no text" in answer["message"]
    with sqlite3.connect(tmp_path / "data" / "helpline.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_sanitised_html_is_kept_as_the_adapter_left_it_and_names_lose_overrides() -> None:
    """A control character taken out of sanitised HTML could join "java\x01script:" into a
    link the sanitiser never saw (a review); names lose bidirectional overrides, which show
    another name in a list ("\u202egnp.exe" reads "exe.png"); a form feed still parts words."""
    from conversation.inbound import Inbound, InboundLimits, Sender, validate_inbound
    from conversation.model import Attachment

    html = '<a href="java\x01script:alert(1)">x</a>'
    inbound = Inbound(
        channel="mail",
        external_id="m1",
        sender=Sender("a@b.cn", "Ann\u202e nnA"),
        thread_key="k",
        text="page one\x0cpage two\x1fend\x07",
        html=html,
        subject="Hi\x00",
        attachments=(Attachment("\u202egnp.exe\x00", "application/octet-stream", 3, "ref"),),
    )
    checked = validate_inbound(inbound, InboundLimits())
    assert checked.html == html
    assert checked.text == "page one\npage two end" and checked.subject == "Hi"
    assert checked.sender.display_name == "Ann nnA" and checked.attachments[0].name == "gnp.exe"


@pytest.mark.parametrize(
    ("thread", "sender"), [(f"order-9{THREAD_SEAL}buyer", "mallory"), ("order-9", f"buyer{THREAD_SEAL}")]
)
def test_an_own_threads_channel_refuses_a_sealed_thread_whatever_adapter_sent_it(thread: str, sender: str) -> None:
    """The key a squatted thread leads to (routing.own_thread) holds a control character: any
    own-threads adapter's message naming one, as thread or sender, is refused before routing."""
    from conversation.inbound import Inbound, InboundLimits, InvalidInbound, Sender, validate_inbound

    inbound = Inbound(
        channel="api", external_id="m1", sender=Sender(sender), thread_key=thread, text="hi", own_threads=True
    )
    with pytest.raises(InvalidInbound, match="must not contain control characters"):
        validate_inbound(inbound, InboundLimits())
    assert validate_inbound(replace(inbound, own_threads=False), InboundLimits()).thread_key == thread


async def test_without_a_callback_url_the_channel_only_receives(client: TestClient) -> None:
    """A trial: with no callback_url (which the README allows) each bot message was queued,
    failed, and reopened its resolved ticket. The channel only receives, as an email channel
    without a relay: an agent's reply is refused at once, and a bot's words are notes."""
    from conversation.calls import ReceiveOnly
    from conversation.model import AuthorType
    from hub.app_keys import HUB

    body = json.dumps(BODY).encode()
    resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    assert resp.status in (200, 201, 202), await resp.text()
    hub = client.server.app[HUB]
    assert not hub.actions.takes_replies("api")
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    assert conv is not None
    with pytest.raises(ReceiveOnly, match="only receives"):
        await hub.actions.send(conv, "Hello", author_type=AuthorType.AGENT, author_id="a1")
    assert [m for m in await hub.store.tickets.list_messages(conv.id) if m.delivery is not None] == []


async def test_metadata_sent_as_null_is_left_out_as_any_field(client: TestClient, tmp_path: Path) -> None:
    """README: an optional field sent as null counts as left out (a trial's null metadata got 400)."""
    body = json.dumps({**BODY, "id": "p-null", "metadata": None}).encode()
    resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    assert resp.status == 200, await resp.text()
