"""IMAP polling of a real dovecot mailbox: nothing lost, nothing twice, one poller."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.email.adapter import EmailAdapter
from adapters.email.parse_pool import MailReader
from conversation.model import ConversationQuery
from hub.app import Hub
from tests import mail_corpus as corpus
from tests import mail_wild as wild
from tests.email_servers import Dovecot, make_certificate, public_temp_dir, require_dovecot
from tests.helpers import eventually, make_config, running_hub


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    require_dovecot()
    directory = public_temp_dir()
    server = Dovecot(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def imap_config(tmp_path: Path, dovecot: Dovecot) -> Any:
    return make_config(
        tmp_path,
        {
            "channels": {
                "email": {
                    "type": "email",
                    "address": corpus.HELPDESK,
                    "imap_host": "127.0.0.1",
                    "imap_port": dovecot.port,
                    "imap_tls": False,
                    "imap_user": dovecot.user,
                    "imap_password": dovecot.password,
                    "imap_poll_seconds": 0.2,
                }
            }
        },
    )


def mail(number: int) -> bytes:
    return f"""From: customer{number}@example.com
To: {corpus.HELPDESK}
Subject: question {number}
Message-ID: <q{number}@example.com>
Content-Type: text/plain; charset=utf-8

问题 {number}
""".encode()


async def tickets(hub: Hub) -> list[str]:
    items, _ = await hub.store.inbox.list_conversations(ConversationQuery(limit=100))
    return sorted(c.subject for c in items)


async def test_mail_in_the_mailbox_becomes_tickets_and_is_marked_seen(tmp_path: Path, dovecot: Dovecot) -> None:
    dovecot.append(mail(1))
    dovecot.append(corpus.mail_163_gbk())
    async with running_hub(imap_config(tmp_path, dovecot)) as hub:
        await eventually(lambda: _count(hub, 2), timeout=15)
        assert await tickets(hub) == ["question 1", "登录问题"]
        await eventually(lambda: all(dovecot.seen()), timeout=10)
        dovecot.append(mail(2))  # arrives while the hub is IDLE
        await eventually(lambda: _count(hub, 3), timeout=15)


async def _count(hub: Hub, n: int) -> bool:
    return len(await tickets(hub)) == n


async def test_a_restart_in_the_middle_loses_and_duplicates_nothing(tmp_path: Path, dovecot: Dovecot) -> None:
    config = imap_config(tmp_path, dovecot)
    dovecot.append(mail(1))
    async with running_hub(config) as hub:
        await eventually(lambda: _count(hub, 1), timeout=15)
        channel = hub.adapters["email"]
        assert isinstance(channel, EmailAdapter)
        # a crash after storing mail 2 but before marking it: stored, not yet seen in the mailbox
        await channel.receive(mail(2))
    dovecot.append(mail(2))
    dovecot.append(mail(3))
    async with running_hub(config) as hub:
        await eventually(lambda: _count(hub, 3), timeout=15)
        await eventually(lambda: all(dovecot.seen()), timeout=10)
        assert await tickets(hub) == ["question 1", "question 2", "question 3"]


async def test_a_rebuilt_mailbox_is_read_again_without_duplicates(tmp_path: Path, dovecot: Dovecot) -> None:
    config = imap_config(tmp_path, dovecot)
    dovecot.append(mail(1))
    dovecot.append(mail(2))
    async with running_hub(config) as hub:
        await eventually(lambda: _count(hub, 2), timeout=15)
    before = await _state(tmp_path, dovecot)
    dovecot.stop()
    dovecot.rebuild_mailbox()
    dovecot.start()
    dovecot.append(mail(3))
    async with running_hub(config) as hub:
        await eventually(lambda: _count(hub, 3), timeout=15)
        assert await tickets(hub) == ["question 1", "question 2", "question 3"]
    after = await _state(tmp_path, dovecot)
    assert after["uidvalidity"] != before["uidvalidity"]


async def _state(tmp_path: Path, dovecot: Dovecot) -> dict[str, int]:
    from conversation.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "data" / "helpline.sqlite3")
    await store.open()
    try:
        value = await store.coordination.get_value(f"imap:email:{dovecot.user}:INBOX")
    finally:
        await store.close()
    assert isinstance(value, dict)
    return value


async def test_only_one_hub_polls_a_mailbox(tmp_path: Path, dovecot: Dovecot) -> None:
    config = imap_config(tmp_path, dovecot)
    dovecot.append(mail(1))
    async with running_hub(config) as first, running_hub(config) as second:
        await eventually(lambda: _count(first, 1), timeout=15)
        pollers = [h.adapters["email"]._poller for h in (first, second)]  # noqa: SLF001
        await eventually(lambda: any(p is not None and p.polls > 2 for p in pollers), timeout=15)
        assert sum(1 for p in pollers if p is not None and p.polls > 0) == 1


async def test_polling_over_imaps_with_a_private_ca(tmp_path: Path) -> None:
    require_dovecot()
    directory = public_temp_dir()
    cert, key = make_certificate(directory)
    server = Dovecot(directory / "imaps", tls=(cert, key))
    (directory / "imaps").mkdir()
    (directory / "imaps").chmod(0o755)
    server.start()
    try:
        server.append(mail(1))
        config = make_config(
            tmp_path,
            {
                "channels": {
                    "email": {
                        "type": "email",
                        "address": corpus.HELPDESK,
                        "imap_host": "127.0.0.1",
                        "imap_port": server.port,
                        "imap_tls": True,
                        "imap_ca_file": cert,
                        "imap_user": server.user,
                        "imap_password": server.password,
                        "imap_poll_seconds": 0.2,
                    }
                }
            },
        )
        async with running_hub(config) as hub:
            await eventually(lambda: _count(hub, 1), timeout=15)
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def test_one_bad_mail_neither_halts_intake_nor_vanishes(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11.11: each UID on its own; a mail that keeps failing is stored raw as a
    placeholder; a thousand nested multiparts are unreadable mail; refusals are logged."""
    read = MailReader.parse

    async def buggy(self: MailReader, raw: bytes, **kwargs: Any) -> Any:
        if b"question 1" in raw:
            raise RuntimeError("a parser bug this mail always triggers")
        return await read(self, raw, **kwargs)

    monkeypatch.setattr(MailReader, "parse", buggy)
    caplog.set_level(logging.WARNING)
    dovecot.append(mail(1))
    dovecot.append(wild.nested_multiparts())
    dovecot.append(b"From: nobody\r\nMessage-ID: <no-sender-2@example.com>\r\nSubject: x\r\n\r\nhello\r\n")
    dovecot.append(mail(2))
    async with running_hub(imap_config(tmp_path, dovecot)) as hub:
        await eventually(lambda: _count(hub, 3), timeout=20)
        assert await tickets(hub) == ["nested", "question 1", "question 2"]
        for subject in ("nested", "question 1"):
            [conv] = [
                c
                for c in (await hub.store.inbox.list_conversations(ConversationQuery(limit=9)))[0]
                if c.subject == subject
            ]
            [message] = await hub.store.tickets.list_messages(conv.id)
            assert [a.name for a in message.attachments] == ["original.eml"] and "could not be read" in message.text
        await eventually(lambda: all(dovecot.seen()), timeout=10)
    assert "<no-sender-2@example.com>" in caplog.text and "refused" in caplog.text
