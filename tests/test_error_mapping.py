"""Only input the caller got wrong is a 4xx; anything else is a logged 500 with an error id,
and no broad `except` in the code base swallows an exception without a trace."""

from __future__ import annotations

import ast
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.webhook import signed_headers
from conversation.store import StoreUnavailable
from hub.agents import DEFAULT_ADMIN_EMAIL
from hub.app import Hub, build_app
from hub.failures import logged_failure
from tests import mail_corpus as corpus
from tests.conftest import ROOT, free_port
from tests.helpers import customer_message, make_config, running_hub

SECRET = "webhook-secret-for-error-tests"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    config = make_config(tmp_path, {"channels": {"api": {"type": "webhook", "secret": SECRET}}})
    client = TestClient(TestServer(build_app(Hub(config))))
    await client.start_server()
    yield client
    await client.close()


def hub_of(client: TestClient) -> Hub:
    from hub.app_keys import HUB

    return client.server.app[HUB]


async def bearer(hub: Hub) -> dict[str, str]:
    admin = await hub.store.accounts.get_agent_by_email(DEFAULT_ADMIN_EMAIL)
    assert admin is not None
    _token, secret = await hub.services.accounts.issue_token(admin.id, "errors")
    return {"Authorization": f"Bearer {secret}"}


def logged_ids(caplog: pytest.LogCaptureFixture) -> list[tuple[str, bool]]:
    """(message, has a traceback) of every ERROR record."""
    return [(r.getMessage(), r.exc_info is not None) for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_undecodable_row_is_a_logged_500_with_an_id_not_a_client_error(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    hub = hub_of(client)
    record = await hub.ingest(customer_message("m-1", channel="api"))
    database = hub.config.data_dir / "helpline.sqlite3"
    with sqlite3.connect(database) as db:  # a row written by a newer version, or damaged
        db.execute("UPDATE messages SET kind = 'poll' WHERE id = ?", (record.message.id,))
    caplog.set_level(logging.ERROR)

    resp = await client.get(f"/api/v1/conversations/{record.conversation.id}/messages", headers=await bearer(hub))

    body = await resp.json()
    assert resp.status == 500, body
    assert body["error"] == "internal" and len(body["id"]) >= 8
    assert "poll" not in body["message"]  # internals stay in the log
    assert any(body["id"] in message and traced for message, traced in logged_ids(caplog))


async def test_a_domain_rule_the_input_breaks_is_still_422(client: TestClient) -> None:
    hub = hub_of(client)
    record = await hub.ingest(customer_message("m-1", channel="api"))
    conversation_id = record.conversation.id
    resp = await client.post(
        f"/api/v1/conversations/{conversation_id}/merge", json={"into": conversation_id}, headers=await bearer(hub)
    )
    body = await resp.json()
    assert resp.status == 422 and body["error"] == "invalid" and "cannot be merged" in body["message"]


async def test_a_bug_behind_a_channel_route_is_a_logged_json_500_with_an_id(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = hub_of(client)

    async def broken(inbound: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(hub, "ingest", broken)
    caplog.set_level(logging.ERROR)
    body = b'{"id": "p-1", "sender": {"id": "u-1"}, "text": "hello"}'
    resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    assert resp.status == 500 and resp.content_type == "application/json"
    answer = await resp.json()
    assert answer["error"] == "internal"
    assert any(answer["id"] in message and traced for message, traced in logged_ids(caplog))


# -- the email channel's bounce handling ----------------------------------------------------------
@pytest.fixture
async def email_hub(tmp_path: Path) -> AsyncIterator[Hub]:
    settings = {
        "type": "email",
        "address": corpus.HELPDESK,
        "listen_port": free_port(),
        "smtp_host": "127.0.0.1",
        "smtp_port": free_port(),
        "smtp_tls": "none",
    }
    async with running_hub(make_config(tmp_path, {"channels": {"email": settings}})) as hub:
        yield hub


async def send_bounce(hub: Hub) -> aiosmtplib.SMTPResponseException:
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await aiosmtplib.send(
            corpus.bounce(f"<{'ab' * 12}@support.example.com>"),
            hostname="127.0.0.1",
            port=hub.adapters["email"].listen_port,  # type: ignore[attr-defined]
            sender="MAILER-DAEMON@mx.example.com",
            recipients=[corpus.HELPDESK],
        )
    return refused.value


@pytest.mark.parametrize(
    ("failure", "level", "logged"),
    [
        (StoreUnavailable("the disk is gone"), logging.WARNING, "ab" * 12),  # names the message it is about
        (RuntimeError("a bug"), logging.ERROR, "RuntimeError: a bug"),  # with the traceback
    ],
    ids=["store-down", "bug"],
)
async def test_a_bounce_that_cannot_be_recorded_is_retried_and_logged(
    email_hub: Hub,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    level: int,
    logged: str,
) -> None:
    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(email_hub.store.tickets, "get_message", fail)  # the reply it is about cannot be read
    caplog.set_level(logging.WARNING)
    refused = await send_bounce(email_hub)
    assert refused.code == 451  # the reporting server tries again later
    assert any(r.levelno == level and logged in _text(r) for r in caplog.records), caplog.text


def _text(record: logging.LogRecord) -> str:
    return record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")


# -- no silent broad except anywhere ---------------------------------------------------------------
SOURCES = [p for folder in ("hub", "conversation", "adapters", "plugins") for p in (ROOT / folder).rglob("*.py")]
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def _is_broad(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return handler.type is None or any(
        isinstance(n, ast.Name) and n.id in ("Exception", "BaseException") for n in names
    )


def _accounts_for_it(handler: ast.ExceptHandler) -> bool:
    """It re-raises, logs, or hands the exception object on (to a future, a caller)."""
    for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS:
                return True
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if handler.name and any(
                isinstance(n, ast.Name) and n.id == handler.name for a in arguments for n in ast.walk(a)
            ):
                return True
    return False


def _silent_handlers(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and _is_broad(node) and not _accounts_for_it(node):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: except without a log or re-raise")
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("contextlib.suppress", "suppress")
            and any(ast.unparse(a) in ("Exception", "BaseException") for a in node.args)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: suppress(Exception) hides failures")
    return found


def test_every_broad_except_logs_re_raises_or_hands_the_exception_on() -> None:
    assert SOURCES
    silent = [line for path in SOURCES for line in _silent_handlers(path)]
    assert silent == [], "\n".join(silent)


def test_a_best_effort_step_that_fails_is_logged_and_the_rest_runs_on(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("helpline.test")
    with logged_failure(log, "closing the widget client"):
        raise ConnectionResetError("peer went away")
    (record,) = [r for r in caplog.records if r.name == "helpline.test"]
    assert record.levelno == logging.WARNING and record.exc_info is not None
    assert record.getMessage() == "closing the widget client failed"
