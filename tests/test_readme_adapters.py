"""The README's adapter docs against the code: the entry-point snippet names the group the hub
reads, its SmsAdapter and its adapter test run verbatim, and the webhook channel's documented
payload (sender.language, sender.tier) works."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import tomllib
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.app import Hub, build_app
from hub.registry import ADAPTER_GROUP
from hub.sdk import Choice, Outcome, Plugin, PluginContext, signed_headers
from hub.testing import eventually, make_config, registry_with, replies, said_to_customer
from tests.test_readme_plugins import (
    README,
    code_blocks,
    installable,
    readme_module,
    readme_section,
    run_readme_test,
)

# The platform's endpoint for replies (nothing listens: a reply is queued, as the tests need;
# without a callback_url the channel only receives and refuses replies).
REPLIES_URL = "http://127.0.0.1:9/replies"

SECRET = "webhook-secret-for-the-readme-payload"


def test_the_adapter_entry_point_snippet_names_the_group_and_the_channel_type() -> None:
    section = readme_section("## Writing a channel adapter")
    [snippet] = code_blocks(section, "toml")
    [(name, target)] = tomllib.loads(snippet)["project"]["entry-points"][ADAPTER_GROUP].items()
    assert target.endswith(":SmsAdapter")
    installable(tomllib.loads(snippet))
    assert f'`type = "{name}"`' in section


async def test_the_documented_webhook_payload_sets_the_contacts_language_and_tier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = README.read_text(encoding="utf-8")
    payload = re.search(r"Inbound: `POST /channels/NAME/messages` with\n`(\{.*?\})`", text, re.S)
    assert payload is not None
    body = json.dumps(json.loads(payload.group(1))).encode()
    monkeypatch.setenv("HELPLINE_API_SECRET", SECRET)
    hub = Hub(make_config(tmp_path, {"channels": {"api": {"type": "webhook", "secret": "env:HELPLINE_API_SECRET"}}}))
    async with TestClient(TestServer(build_app(hub))) as client:
        resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
        answer = await resp.json()
        assert resp.status == 200, answer
        ticket = await hub.reads.get_conversation_by_number(answer["ticket"])
        assert ticket is not None
        contact = await hub.reads.get_contact(ticket.contact_id)
        assert contact is not None
        assert (contact.language, contact.tier) == ("zh-CN", "vip")


def sms_adapter() -> type:
    """The README's SmsAdapter, importable under the module its entry-point snippet names."""
    section = readme_section("## Writing a channel adapter")
    [snippet] = code_blocks(section, "toml")
    [target] = tomllib.loads(snippet)["project"]["entry-points"][ADAPTER_GROUP].values()
    module_name, _, class_name = target.partition(":")
    return getattr(readme_module(module_name, code_blocks(section, "python")[0]), class_name)


async def test_the_readme_adapter_refuses_a_body_that_is_not_json_with_400(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_API_KEY", "sms-provider-key")
    config = make_config(
        tmp_path,
        {"channels": {"sms": {"type": "sms", "api_key": "env:SMS_API_KEY"}}},
        registry=registry_with(adapters={"sms": sms_adapter()}),
    )
    hub = Hub(config)  # started and stopped by the app, as `helpline run` does
    async with TestClient(TestServer(build_app(hub))) as client:
        body = b"<xml>not json</xml>"
        signature = hmac.new(b"sms-provider-key", body, hashlib.sha256).hexdigest()
        resp = await client.post("/channels/sms/inbound", data=body, headers={"X-Sms-Signature": signature})
        assert resp.status == 400
        answer = await resp.json()
        assert answer["error"] == "malformed" and "not valid JSON" in answer["message"]
        assert hub.metrics.refused.labels("sms", "malformed")._value.get() == 1
        # a field of the wrong type is refused too, not stored as its Python text ("['a']")
        body = json.dumps({"id": "m1", "from": "+8613800000000", "text": ["a"]}).encode()
        signature = hmac.new(b"sms-provider-key", body, hashlib.sha256).hexdigest()
        resp = await client.post("/channels/sms/inbound", data=body, headers={"X-Sms-Signature": signature})
        assert resp.status == 400
        said = "not an SMS notification: a JSON object with id, from and text, each a string"
        assert (await resp.json())["message"] == said
        # nor an empty object or a list answered with Python's internals (a developer's trial)
        for odd in (b"{}", b"[1, 2]", b"null"):
            signature = hmac.new(b"sms-provider-key", odd, hashlib.sha256).hexdigest()
            resp = await client.post("/channels/sms/inbound", data=odd, headers={"X-Sms-Signature": signature})
            assert resp.status == 400 and (await resp.json())["message"] == said, odd


def test_the_readmes_adapter_test_passes_as_written(tmp_path: Path) -> None:
    """README "Testing an adapter": its test file, run by pytest, against the README's adapter."""
    sms_adapter()  # importable as the pyproject snippet names it, as if installed
    assert run_readme_test(tmp_path, "### Testing an adapter", "test_sms.py") == pytest.ExitCode.OK


class AsksTheWay(Plugin):
    """Asks once, then says which choice came back."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.chosen:
            await ctx.reply(f"chosen: {ctx.chosen}")
        elif not ctx.state.get("asked"):
            ctx.state["asked"] = True
            await ctx.ask("Which way?", [Choice("left", "Left"), Choice("right", "Right")])
        return Outcome.STOP


@pytest.mark.parametrize("buttons", [True, False])
async def test_a_webhook_channel_whose_app_has_no_buttons_gets_a_numbered_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buttons: bool
) -> None:
    monkeypatch.setenv("HELPLINE_API_SECRET", SECRET)
    channel = {"type": "webhook", "secret": "env:HELPLINE_API_SECRET", "buttons": buttons, "callback_url": REPLIES_URL}
    config = make_config(
        tmp_path, {"channels": {"api": channel}, "plugins": {"enabled": ["ways"]}}, plugins={"ways": AsksTheWay}
    )
    hub = Hub(config)
    async with TestClient(TestServer(build_app(hub))) as client:

        async def says(message_id: str, text: str, **extra: str) -> str:
            payload = {"id": message_id, "thread": "t1", "text": text, "sender": {"id": "u1"}, **extra}
            body = json.dumps(payload).encode()
            resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
            assert resp.status == 200, await resp.text()
            await eventually(lambda: not hub.pipeline._tasks)  # the plugins ran on it
            ticket = await hub.reads.get_conversation_by_number((await resp.json())["ticket"])
            assert ticket is not None
            return ticket.id

        ticket_id = await says("m1", "hello")
        [question] = await replies(hub, ticket_id, 1)
        assert [c.id for c in question.choices] == ["left", "right"]  # kept for the inbox either way
        assert ("1. Left" in question.text) is (not buttons)
        await says("m2", "2")
        if buttons:  # where the app shows buttons a typed "2" is only text; a tap answers
            assert len(await said_to_customer(hub, ticket_id)) == 1
            await says("m3", "Right", choice="right")
        said = await replies(hub, ticket_id, 2)
        assert said[-1].text == "chosen: right"


async def test_a_webhook_thread_belongs_to_the_sender_who_started_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As README's webhook section says: another sender naming a thread gets a ticket of their own,
    on the thread "<thread>~<their id>"."""
    monkeypatch.setenv("HELPLINE_API_SECRET", SECRET)
    hub = Hub(make_config(tmp_path, {"channels": {"api": {"type": "webhook", "secret": "env:HELPLINE_API_SECRET"}}}))
    async with TestClient(TestServer(build_app(hub))) as client:
        tickets = []
        for message_id, sender in (("m1", "u1"), ("m2", "u2"), ("m3", "u1")):
            body = json.dumps({"id": message_id, "thread": "t1", "text": "hello", "sender": {"id": sender}}).encode()
            resp = await client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
            assert resp.status == 200, await resp.text()
            ticket = await hub.reads.get_conversation_by_number((await resp.json())["ticket"])
            assert ticket is not None
            tickets.append(ticket)
        first, other, again = tickets
        assert again.id == first.id and other.id != first.id
        assert (first.thread_key, other.thread_key) == ("t1", "t1~u2")
