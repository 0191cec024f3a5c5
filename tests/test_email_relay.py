"""An email channel without an smtp_host: its mail goes out through another email channel's
relay (`relay_channel`), from its own address; with neither it only receives, says so at
start, and a reply fails at once with a reason the inbox names (a trial's receive-only channel
queued bot replies that failed as relay errors)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from adapters.email.adapter import EmailAdapter
from conversation.calls import ReceiveOnly
from conversation.model import AuthorType, Direction, Message, MessageKind
from hub.app import Hub
from hub.sdk import RetryableDeliveryError
from hub.settings import ConfigError
from tests.conftest import free_port
from tests.email_servers import Sink
from tests.helpers import eventually, make_config, running_hub
from tests.test_email import customer_mail, email_settings, sink

__all__ = ["sink"]

BILLING = "billing@support.example.com"


def channels(smtp_port: int, **billing: Any) -> dict[str, Any]:
    return {
        "support": email_settings(smtp_port),
        "billing": {"type": "email", "address": BILLING, "listen_port": free_port(), **billing},
    }


async def mail_billing(hub: Hub, subject: str) -> Any:
    billing = hub.adapters["billing"]
    assert isinstance(billing, EmailAdapter)
    mail = customer_mail(subject, "Where is my invoice?")
    mail.replace_header("To", BILLING)
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=billing.listen_port, recipients=[BILLING])
    await eventually(lambda: hub.store.tickets.get_conversation_by_number(1000))
    conversation = await hub.store.tickets.get_conversation_by_number(1000)
    assert conversation is not None and conversation.channel == "billing"
    return conversation


async def test_a_channel_with_a_relay_channel_sends_through_it_from_its_own_address(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    outbox, port = sink
    config = make_config(tmp_path, {"channels": channels(port, relay_channel="support")})
    async with running_hub(config) as hub:
        conversation = await mail_billing(hub, "Invoice")
        await hub.actions.send(conversation, "Attached again.", author_type=AuthorType.AGENT, author_id="a1")
        await eventually(lambda: outbox.mails)
    [sent] = outbox.mails
    assert BILLING in str(sent["From"]) and sent["Subject"] == "Re: Invoice [#1000]"  # not support's address
    assert outbox.envelopes[0].mail_from == BILLING


async def test_a_receive_only_channel_warns_at_start_refuses_replies_and_bots_write_notes(
    tmp_path: Path, sink: tuple[Sink, int], caplog: pytest.LogCaptureFixture
) -> None:
    """A trial's receive-only channel queued every bot reply and agent reply, each then failed
    as a relay error: now a reply is refused at once, nothing stored, and the bots' words
    are notes for the agents (as on a phone ticket)."""
    outbox, port = sink
    caplog.set_level(logging.WARNING)
    config = make_config(tmp_path, {"channels": channels(port), "plugins": {"enabled": ["echo"]}})
    async with running_hub(config) as hub:
        assert any("billing only receives mail" in r.getMessage() for r in caplog.records)
        conversation = await mail_billing(hub, "Invoice")
        with pytest.raises(ReceiveOnly, match="only receives"):
            await hub.actions.send(conversation, "Hello", author_type=AuthorType.AGENT, author_id="a1")

        async def echoed() -> list[Message]:
            thread = await hub.store.tickets.list_messages(conversation.id)
            return [m for m in thread if m.author_type is AuthorType.BOT]

        [said] = await eventually(echoed)
        assert said.kind is MessageKind.NOTE and said.delivery is None  # the bot's reply, kept for the agents
        thread = await hub.store.tickets.list_messages(conversation.id)
        assert [m.direction for m in thread if m.kind is MessageKind.MESSAGE] == [Direction.INBOUND]
        assert not hub.actions.takes_replies("billing") and hub.actions.takes_replies("support")
    assert outbox.mails == []


@pytest.mark.parametrize(
    ("billing", "support", "problem"),
    [
        ({"relay_channel": "nope"}, {}, "channels.billing.relay_channel: no enabled channel named 'nope'"),
        ({"relay_channel": "chat"}, {}, "channels.billing.relay_channel: channel 'chat' is not an email channel"),
        ({"relay_channel": "support"}, {"smtp_host": ""}, "channel 'support' has no smtp_host"),
        ({"relay_channel": "support", "smtp_host": "127.0.0.1"}, {}, "set smtp_host or relay_channel, not both"),
    ],
)
def test_a_relay_channel_must_be_an_email_channel_that_sends(
    tmp_path: Path, billing: dict[str, Any], support: dict[str, Any], problem: str
) -> None:
    table = channels(2525, **billing)
    table["support"].update(support)
    table["chat"] = {"type": "recording"}
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(")):
        make_config(tmp_path, {"channels": table})


def test_before_the_channels_start_a_relayed_reply_waits_instead_of_failing(tmp_path: Path) -> None:
    """The outbox starts before the channels: a reply left from before a restart comes first."""
    config = make_config(tmp_path, {"channels": channels(2525, relay_channel="support")})
    billing = Hub(config).adapters["billing"]
    assert isinstance(billing, EmailAdapter)
    with pytest.raises(RetryableDeliveryError, match="has not started yet"):
        billing._sender()
