"""The automatic-reply budget counts mail that was sent, not attempts (issue 10, point 4)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib

from conversation.model import AuthorType, DeliveryStatus
from tests.conftest import free_port
from tests.email_servers import start_sink
from tests.helpers import eventually, make_config, running_hub

SUPPORT = "help@shop.example"


async def test_a_relay_outage_does_not_spend_the_auto_reply_budget(tmp_path: Path) -> None:
    sink, server, smtp_port = await start_sink()
    sink.script = ["451 4.3.0 relay busy, try later"] * 3  # attempts 1-3 fail, the 4th (the last) is taken
    listen_port = free_port()
    settings = {
        "type": "email",
        "address": SUPPORT,
        "listen_port": listen_port,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_tls": "none",
        "max_auto_replies_per_hour": 2,
    }
    config = make_config(tmp_path, {"channels": {"email": settings}, "plugins": {"enabled": ["echo"]}})
    try:
        async with running_hub(config) as hub:
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = "Li Na <li.na@gmail.com>", SUPPORT, "Where is my order?"
            mail["Message-ID"] = make_msgid(domain="gmail.com")
            mail.set_content("It has been a week.")
            await aiosmtplib.send(mail, hostname="127.0.0.1", port=listen_port)
            await eventually(lambda: len(sink.mails) == 1, timeout=10)  # the bot's reply, on the 4th attempt
            conv = await hub.store.tickets.get_conversation_by_number(1000)
            assert conv is not None
            [reply] = [m for m in await hub.store.tickets.list_messages(conv.id) if m.author_type is AuthorType.BOT]
            await eventually(lambda: _status(hub, reply.id, DeliveryStatus.SENT))
            assert sink.mails[0]["To"] == "li.na@gmail.com"
    finally:
        server.close()
        await server.wait_closed()


async def _status(hub: object, message_id: str, status: DeliveryStatus) -> bool:
    found = await hub.store.tickets.get_message(message_id)  # type: ignore[attr-defined]
    return found is not None and found.delivery is not None and found.delivery.status is status
