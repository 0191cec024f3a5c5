"""A database written before delivered parts and recovery attempts were kept opens and works."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from conversation.inbound import Inbound, Sender
from conversation.model import AuthorType, Delivery, Direction, Message, MessageKind, new_id, utcnow
from conversation.sqlite import SQLiteStore
from conversation.store import Ticketing

POLICY = Ticketing(reopen_window=timedelta(days=3), first_number=1000, plugins_enabled=True)


async def test_an_earlier_sqlite_database_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "helpline.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    record = await store.tickets.record_inbound(
        Inbound(channel="telegram", external_id="1", sender=Sender(address="u1"), thread_key="t", text="hi"),
        now=utcnow(),
        policy=POLICY,
    )
    reply = await store.tickets.add_message(
        Message(
            id=new_id(),
            conversation_id=record.conversation.id,
            channel="telegram",
            direction=Direction.OUTBOUND,
            kind=MessageKind.MESSAGE,
            author_type=AuthorType.AGENT,
            text="long reply",
            delivery=Delivery(next_attempt_at=utcnow()),
        )
    )
    await store.close()
    with sqlite3.connect(path) as conn:  # as the previous release left it
        conn.execute("ALTER TABLE messages DROP COLUMN d_parts")
        conn.execute("ALTER TABLE messages DROP COLUMN plugin_attempts")

    store = SQLiteStore(path)
    await store.open()
    try:
        [claimed] = await store.deliveries.claim_deliveries("hub-a", now=utcnow(), lease=timedelta(minutes=1), limit=5)
        assert claimed.id == reply.id and claimed.delivery is not None and claimed.delivery.parts_sent == 0
        assert await store.deliveries.record_delivery_parts(reply.id, "hub-a", 1)
        later = utcnow() + timedelta(seconds=1)
        [waiting] = await store.tickets.messages_awaiting_plugins(before=later, limit=5, max_attempts=3)
        assert waiting.id == record.message.id and await store.tickets.count_plugin_attempt(waiting.id) == 1
    finally:
        await store.close()


async def test_api_tokens_of_an_earlier_database_keep_their_agents_role_and_teams(tmp_path: Path) -> None:
    path = tmp_path / "helpline.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:  # as the release before token narrowing left it
        conn.execute("ALTER TABLE api_tokens DROP COLUMN role")
        conn.execute("ALTER TABLE api_tokens DROP COLUMN teams")
        conn.execute("ALTER TABLE api_tokens DROP COLUMN expires_at")  # and before tokens could end
        conn.execute("INSERT INTO api_tokens VALUES ('t1', 'ag1', 'ci', 'hash1', 0, NULL)")
    store = SQLiteStore(path)
    await store.open()
    try:
        token = await store.accounts.get_api_token("hash1")
        assert token is not None and token.role is None and token.teams is None  # not narrowed
        assert token.expires_at is None  # and without an end, as it was made
    finally:
        await store.close()
