"""The email channel's state tells the truth: degraded while its mailbox cannot be read or
its listener cannot listen (with the reason, never a secret), up again once it works."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from tests import mail_corpus as corpus
from tests.conftest import free_port
from tests.email_servers import Dovecot, public_temp_dir, require_dovecot
from tests.helpers import eventually, make_config, running_hub

PASSWORD = "mailbox-secret"  # tests.email_servers.Dovecot's


def email_config(tmp_path: Path, **email: Any) -> Any:
    return make_config(
        tmp_path,
        {"channels": {"email": {"type": "email", "address": corpus.HELPDESK, **email}}},
    )


def imap(port: int) -> dict[str, Any]:
    return {
        "imap_host": "127.0.0.1",
        "imap_port": port,
        "imap_tls": False,
        "imap_user": "support",
        "imap_password": "env:HL_IMAP_PASSWORD",
        "imap_poll_seconds": 0.05,
    }


def state(hub: Hub) -> dict[str, Any]:
    return hub.channels.snapshot()["email"]


async def test_an_unreachable_imap_server_degrades_the_channel_until_a_poll_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_dovecot()
    monkeypatch.setenv("HL_IMAP_PASSWORD", PASSWORD)
    port = free_port()  # nothing listens there yet
    async with running_hub(email_config(tmp_path, **imap(port))) as hub:
        await eventually(lambda: state(hub)["state"] == "degraded")
        reason = state(hub)["reason"]
        assert f"IMAP 127.0.0.1:{port}" in reason and "Connect" in reason and PASSWORD not in reason
        assert hub.metrics.channel_up.labels("email")._value.get() == 0
        directory = public_temp_dir()
        server = Dovecot(directory, port=port)
        server.start()
        try:
            await eventually(lambda: state(hub)["state"] == "up", timeout=10)
            assert hub.metrics.channel_up.labels("email")._value.get() == 1
        finally:
            server.stop()
            shutil.rmtree(directory, ignore_errors=True)


async def test_a_refused_imap_login_degrades_the_channel_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_dovecot()
    monkeypatch.setenv("HL_IMAP_PASSWORD", "not-the-mailbox-password")
    directory = public_temp_dir()
    server = Dovecot(directory)
    server.start()
    try:
        async with running_hub(email_config(tmp_path, **imap(server.port))) as hub:
            await eventually(lambda: state(hub)["state"] == "degraded", timeout=10)
            reason = state(hub)["reason"]
            assert "login refused for support" in reason and "imap_password" in reason
            assert "not-the-mailbox-password" not in reason
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def test_an_smtp_listener_that_cannot_bind_degrades_the_channel(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        async with running_hub(email_config(tmp_path, listen_port=port)) as hub:
            reason = state(hub)["reason"]
            assert state(hub)["state"] == "degraded" and f"cannot listen on 127.0.0.1:{port}" in reason, reason
            assert "address already in use" in reason and "listen_port" in reason
    finally:
        taken.close()
