"""The Telegram channel: the real python-telegram-bot against a fake Bot API on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.telegram.adapter import LIMIT
from conversation.model import AuthorType, DeliveryStatus, MessageKind, Role
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.app_keys import HUB
from hub.sdk import split_text
from tests.fake_telegram import FakeTelegram, text_update
from tests.helpers import clear_proxies, eventually, make_config, serve

SECRET = "telegram-webhook-secret"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeTelegram, str]]:
    clear_proxies(monkeypatch)
    fake = FakeTelegram()
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


def telegram_config(tmp_path: Path, base: str, token: str, **settings: Any) -> Any:
    plugins = settings.pop("plugins", [])
    channel = {"token": token, "mode": "webhook", "webhook_secret": SECRET, "api_base_url": base, **settings}
    return make_config(tmp_path, {"channels": {"telegram": channel}, "plugins": {"enabled": plugins}})


@pytest.fixture
async def client(tmp_path: Path, fake: tuple[FakeTelegram, str]) -> AsyncIterator[TestClient]:
    bot, base = fake
    async with TestClient(TestServer(build_app(Hub(telegram_config(tmp_path, base, bot.token))))) as client:
        yield client


async def post(client: TestClient, update: Any, secret: str = SECRET) -> tuple[int, Any]:
    resp = await client.post(
        "/channels/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
    )
    return resp.status, await resp.json()


def hub_of(client: TestClient) -> Hub:
    return client.server.app[HUB]


async def inbound_texts(hub: Hub, number: int = 1000) -> list[str]:
    conv = await hub.store.tickets.get_conversation_by_number(number)
    assert conv is not None
    return [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.direction.value == "inbound"]


def test_long_text_is_split_on_paragraphs_then_sentences_never_inside_words() -> None:
    paragraph = "word " * 700  # 3,500 characters
    pieces = split_text(paragraph.strip() + "\n\n" + paragraph.strip(), LIMIT)
    assert len(pieces) == 2 and all(len(p) <= 4096 for p in pieces) and pieces[0].endswith("word")
    sentences = " ".join(f"Sentence number {i} ends here." for i in range(300))
    pieces = split_text(sentences, LIMIT)
    assert all(p.endswith(".") for p in pieces) and "".join(pieces).count("Sentence") == 300
    assert split_text("x" * 5000, LIMIT) == ["x" * 4096, "x" * 904]  # one huge word: cut it, nothing else works


async def test_a_verified_update_opens_a_ticket_once(client: TestClient) -> None:
    update = text_update(1, "你好，我的订单没到", first_name="Li", username="lina")
    assert await post(client, update) == (200, {"ok": True})
    assert await post(client, update) == (200, {"ok": True})  # Telegram's retry of the same update
    hub = hub_of(client)
    assert await inbound_texts(hub) == ["你好，我的订单没到"]
    contact = await hub.store.contacts.find_identity_contact("telegram", "777")
    assert contact is not None and contact.identities[0].display_name == "Li (@lina)"
    await post(client, text_update(2, "still there?", first_name="Li", username="li_na", message_id=2))
    contact = await hub.store.contacts.find_identity_contact("telegram", "777")
    assert contact is not None and contact.identities[0].display_name == "Li (@li_na)"  # kept up to date


@pytest.mark.parametrize(
    ("body", "secret", "status"),
    [
        # 401 bad_signature, as every channel's webhook (README "The REST API"; a trial saw 403)
        (text_update(1, "hi"), "wrong-secret", 401),
        (text_update(1, "hi"), "", 401),
        ({"message": {"text": "no update id"}}, SECRET, 400),
        ("not json at all", SECRET, 400),
    ],
)
async def test_bad_requests_store_nothing(client: TestClient, body: Any, secret: str, status: int) -> None:
    if isinstance(body, str):
        resp = await client.post(
            "/channels/telegram/webhook", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
        )
        got = resp.status
    else:
        got, _ = await post(client, body, secret)
    assert got == status
    assert await hub_of(client).store.tickets.get_conversation_by_number(1000) is None
    reason = "bad_signature" if status == 401 else "malformed"
    refused = hub_of(client).metrics.registry.get_sample_value(
        "helpline_requests_refused_total", {"channel": "telegram", "reason": reason}
    )
    assert refused == 1


async def test_unsupported_updates_are_acknowledged_and_logged_once(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    post_in_channel = {
        "update_id": 5,
        "channel_post": {
            "message_id": 1,
            "date": 0,
            "text": "news",
            "chat": {"id": -1001, "type": "channel", "title": "News"},
        },
    }
    with caplog.at_level(logging.INFO, logger="helpline.channel.telegram"):
        assert (await post(client, post_in_channel))[0] == 200
        assert (await post(client, {**post_in_channel, "update_id": 6}))[0] == 200
    assert sum("ignoring channel_post updates" in r.getMessage() for r in caplog.records) == 1
    # another bot in a group is nobody writing to support (a trial: it was stored as a customer)
    from_a_bot = text_update(7, "Daily digest", chat_id=-100555, chat_type="group", user_id=999)
    from_a_bot["message"]["from"]["is_bot"] = True
    assert (await post(client, from_a_bot))[0] == 200
    assert await hub_of(client).store.tickets.get_conversation_by_number(1000) is None
    ignored = hub_of(client).metrics.registry.get_sample_value(
        "helpline_updates_ignored_total", {"channel": "telegram", "kind": "message/from_a_bot"}
    )
    assert ignored == 1
    # a person posting as their channel, or as an anonymous admin, comes as Telegram's own bot
    as_channel = text_update(8, "我的订单呢", chat_id=-100555, chat_type="group", user_id=136817688)
    as_channel["message"]["from"]["is_bot"] = True
    as_channel["message"]["sender_chat"] = {"id": -1001234, "type": "channel", "title": "Li's shop"}
    assert (await post(client, as_channel))[0] == 200
    assert await hub_of(client).store.tickets.get_conversation_by_number(1000) is not None  # kept (a review)


async def test_edits_photos_documents_voice_and_stickers(client: TestClient, fake: tuple[FakeTelegram, str]) -> None:
    bot, _ = fake
    bot.files = {"small": b"s" * 10, "big": b"B" * 100, "doc": b"%PDF", "voice": b"OggS"}
    await post(client, text_update(1, "order 55 is late"))
    edited = text_update(2, "order 56 is late")
    edited["edited_message"] = edited.pop("message")
    await post(client, edited)
    photo = text_update(
        3,
        "",
        message_id=2,
        caption="broken box",
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 10},
            {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800, "file_size": 100},
        ],
    )
    await post(client, photo)
    document = text_update(
        4,
        "",
        message_id=3,
        document={
            "file_id": "doc",
            "file_unique_id": "d",
            "file_name": "invoice.pdf",
            "mime_type": "application/pdf",
            "file_size": 4,
        },
    )
    await post(client, document)
    await post(
        client,
        text_update(
            5,
            "",
            message_id=4,
            voice={"file_id": "voice", "file_unique_id": "v", "duration": 2, "mime_type": "audio/ogg", "file_size": 4},
        ),
    )
    await post(
        client,
        text_update(
            6,
            "",
            message_id=5,
            sticker={
                "file_id": "st",
                "file_unique_id": "st",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            },
        ),
    )
    hub = hub_of(client)
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    assert conv is not None
    messages = [m for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.MESSAGE]
    assert [m.text for m in messages] == ["order 56 is late", "broken box", "", "[voice message]", "[sticker 👍]"]
    assert messages[0].raw is not None and messages[0].raw["edits"][0]["previous_text"] == "order 55 is late"
    photo_file = hub.blobs.path(messages[1].attachments[0].blob_ref)
    assert photo_file is not None and photo_file.read_bytes() == b"B" * 100  # the largest size
    assert messages[2].attachments[0].name == "invoice.pdf"
    assert messages[3].attachments[0].content_type == "audio/ogg"


async def test_buttons_out_and_the_choice_back(tmp_path: Path, fake: tuple[FakeTelegram, str]) -> None:
    bot, base = fake
    hub = Hub(telegram_config(tmp_path, base, bot.token, plugins=["triage"]))
    async with TestClient(TestServer(build_app(hub))) as client:
        await post(client, text_update(1, "hello"))
        await eventually(lambda: bot.sent("sendMessage"))
        question = bot.sent("sendMessage")[0]
        assert question["text"] == "What is it about?" and int(question["chat_id"]) == 777
        markup = question["reply_markup"]
        keyboard = (markup if isinstance(markup, dict) else __import__("json").loads(markup))["inline_keyboard"]
        assert [[b["callback_data"] for b in row] for row in keyboard] == [["refund"], ["login"]]

        [shown] = [dict(m) for m in bot.shown if m.get("reply_markup")]  # the question as Telegram sends it back
        callback = {
            "update_id": 2,
            "callback_query": {
                "id": "cb1",
                "chat_instance": "ci",
                "data": "refund",
                "from": {"id": 777, "is_bot": False, "first_name": "Li"},
                "message": shown,
            },
        }
        assert (await post(client, callback))[0] == 200
        assert bot.sent("answerCallbackQuery")[0]["callback_query_id"] == "cb1"

        async def handed_off() -> bool:
            conv = await hub.store.tickets.get_conversation_by_number(1000)
            return conv is not None and conv.handed_off_at is not None and conv.category == "dispute"

        await eventually(handed_off)
        assert (await inbound_texts(hub))[-1] == "refund"  # the button's label, for the agents
        # once the tap is stored, the buttons go (a trial: a second tap answered the question twice)
        [edit] = bot.sent("editMessageReplyMarkup")
        assert (int(edit["chat_id"]), int(edit["message_id"])) == (777, shown["message_id"])
        assert "reply_markup" not in next(m for m in bot.shown if m["message_id"] == shown["message_id"])


async def test_agent_replies_split_retry_on_429_and_fail_when_blocked(
    client: TestClient, fake: tuple[FakeTelegram, str]
) -> None:
    bot, _ = fake
    hub = hub_of(client)
    await post(client, text_update(1, "help", chat_id=-100555, chat_type="group"))
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    assert conv is not None
    bot.fail_next["sendMessage"] = [
        (429, {"description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}})
    ]
    long_reply = ("First paragraph. " * 150).strip() + "\n\n" + ("Second paragraph. " * 150).strip()
    reply = await hub.actions.send(conv, long_reply, author_type=AuthorType.AGENT, author_id="agent-1")

    async def status_of(message_id: str) -> DeliveryStatus | None:
        found = await hub.store.tickets.get_message(message_id)
        return found.delivery.status if found and found.delivery else None

    async def sent() -> bool:
        return await status_of(reply.id) is DeliveryStatus.SENT

    await eventually(sent, timeout=10)
    texts = [c["text"] for c in bot.sent("sendMessage")]
    assert len(texts) == 3  # the refused try, then two pieces
    assert all(int(c["chat_id"]) == -100555 for c in bot.sent("sendMessage"))  # the group, not the user
    assert texts[1].endswith("First paragraph.") and texts[2].startswith("Second paragraph.")

    bot.fail_next["sendMessage"] = [(403, {"description": "Forbidden: bot was blocked by the user"})]
    blocked = await hub.actions.send(conv, "are you there?", author_type=AuthorType.AGENT, author_id="agent-1")

    async def failed() -> bool:
        return await status_of(blocked.id) is DeliveryStatus.FAILED

    await eventually(failed)
    message = await hub.store.tickets.get_message(blocked.id)
    assert message is not None and message.delivery is not None
    assert message.delivery.error == "403 Forbidden: bot was blocked by the user"
    events = [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.EVENT]
    assert any("bot was blocked by the user" in text and "unblock" in text for text in events)


async def test_long_polling_confirms_only_what_was_stored(tmp_path: Path, fake: tuple[FakeTelegram, str]) -> None:
    bot, base = fake
    bot.updates = [text_update(10, "first", message_id=1), text_update(11, "second", message_id=2)]
    config = telegram_config(tmp_path, base, bot.token, mode="polling", poll_timeout_seconds=0)
    hub = Hub(config)
    await hub.start()
    try:
        await eventually(lambda: _texts_equal(hub, ["first", "second"]), timeout=10)
        await eventually(lambda: bot.confirmed_offset == 12, timeout=10)
    finally:
        await hub.stop()
    bot.updates = [text_update(11, "second", message_id=2), text_update(12, "third", message_id=3)]  # a re-delivery
    hub = Hub(config)
    await hub.start()
    try:
        await eventually(lambda: _texts_equal(hub, ["first", "second", "third"]), timeout=10)
    finally:
        await hub.stop()


async def _texts_equal(hub: Hub, texts: list[str]) -> bool:
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    return conv is not None and await inbound_texts(hub) == texts


async def test_the_webhook_is_registered_when_public_url_is_set(tmp_path: Path, fake: tuple[FakeTelegram, str]) -> None:
    bot, base = fake
    hub = Hub(telegram_config(tmp_path, base, bot.token, public_url="https://help.example.com"))
    await hub.start()
    await hub.stop()
    [registered] = bot.sent("setWebhook")
    assert registered["url"] == "https://help.example.com/channels/telegram/webhook"
    assert registered["secret_token"] == SECRET


async def test_end_to_end_through_the_inbox_api(client: TestClient, fake: tuple[FakeTelegram, str]) -> None:
    bot, _ = fake
    hub = hub_of(client)
    await add_agent(hub.store, "agent@example.com", Role.AGENT, "agent password 1")
    login = await client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": "agent password 1"})
    headers = {"X-CSRF-Token": (await login.json())["csrf_token"]}
    await post(client, text_update(1, "My refund?"))
    [item] = (await (await client.get("/api/v1/conversations?channel=telegram")).json())["items"]
    assert item["subject"] == "My refund?"
    bot.fail_next["sendMessage"] = [
        (429, {"description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}})
    ]
    resp = await client.post(
        f"/api/v1/conversations/{item['id']}/messages", json={"text": "Refunded today."}, headers=headers
    )
    assert resp.status == 201
    await eventually(lambda: len(bot.sent("sendMessage")) == 2, timeout=10)
    assert (
        bot.sent("sendMessage")[-1]["text"] == "Refunded today." and int(bot.sent("sendMessage")[-1]["chat_id"]) == 777
    )


async def test_photos_and_documents_go_out_from_stored_attachments(
    client: TestClient, fake: tuple[FakeTelegram, str]
) -> None:
    from conversation.model import Attachment, Delivery, Direction, Message, new_id, utcnow

    bot, _ = fake
    hub = hub_of(client)
    await post(client, text_update(1, "send me the receipt"))
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    assert conv is not None
    photo, pdf = await hub.blobs.put(b"\x89PNG..."), await hub.blobs.put(b"%PDF-1.4")
    now = utcnow()
    await hub.store.tickets.add_message(
        Message(
            id=new_id(),
            conversation_id=conv.id,
            channel="telegram",
            direction=Direction.OUTBOUND,
            kind=MessageKind.MESSAGE,
            author_type=AuthorType.AGENT,
            author_id="a",
            text="Here you are",
            attachments=[
                Attachment("receipt.png", "image/png", 8, photo),
                Attachment("receipt.pdf", "application/pdf", 8, pdf),
            ],
            created_at=now,
            delivery=Delivery(next_attempt_at=now),
        )
    )
    hub.outbox.wake()
    await eventually(lambda: bot.sent("sendDocument"), timeout=10)
    assert bot.sent("sendMessage")[-1]["text"] == "Here you are"
    assert bot.sent("sendPhoto")[0]["photo"] == b"\x89PNG..."
    assert bot.sent("sendDocument")[0]["document"] == b"%PDF-1.4"


async def test_one_hub_of_several_polls(tmp_path: Path, fake: tuple[FakeTelegram, str]) -> None:
    from datetime import timedelta

    from conversation.model import utcnow

    bot, base = fake
    bot.updates = [text_update(20, "only once", message_id=9)]
    config = telegram_config(tmp_path, base, bot.token, mode="polling", poll_timeout_seconds=0)
    first, second = Hub(config), Hub(config)
    await first.start()
    await second.start()
    try:
        await eventually(lambda: _texts_equal(first, ["only once"]), timeout=10)
        lease = "telegram:telegram:polling"
        holders = [
            await h.store.coordination.acquire_lease(lease, h.instance_id, now=utcnow(), ttl=timedelta(seconds=60))
            for h in (first, second)
        ]
        assert sorted(holders) == [False, True]  # exactly one of them holds the polling lease
    finally:
        await first.stop()
        await second.stop()


async def test_a_customer_blocking_the_bot_is_said_on_their_ticket(client: TestClient) -> None:
    """A trial: Telegram's "kicked" my_chat_member update was only counted; the agents learned
    the customer blocked the bot from their first failed reply."""
    hub = hub_of(client)
    await post(client, text_update(1, "hello"))
    blocked = {
        "update_id": 2,
        "my_chat_member": {
            "chat": {"id": 777, "type": "private", "first_name": "Li"},
            "from": {"id": 777, "is_bot": False, "first_name": "Li"},
            "date": 1,
            "old_chat_member": {"user": {"id": 1, "is_bot": True, "first_name": "Bot"}, "status": "member"},
            "new_chat_member": {"user": {"id": 1, "is_bot": True, "first_name": "Bot"}, "status": "kicked",
                                "until_date": 0},
        },
    }  # fmt: skip
    assert (await post(client, blocked))[0] == 200
    assert (await post(client, blocked))[0] == 200  # Telegram's retry: said once
    conv = await hub.store.tickets.get_conversation_by_number(1000)
    assert conv is not None
    events = [m.text for m in await hub.store.tickets.list_messages(conv.id) if m.kind is MessageKind.EVENT]
    assert [e for e in events if "blocked the bot" in e] == [
        "Telegram refuses delivery to Li (@lina): they blocked the bot. Replies cannot reach them here until they"
        " unblock the bot."
    ]
