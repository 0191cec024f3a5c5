"""The README's adapter docs against the code: the entry-point snippet names the group the hub
reads, and the webhook channel's documented payload (sender.language, sender.tier) works."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.app import Hub, build_app
from hub.registry import ADAPTER_GROUP
from hub.sdk import signed_headers
from hub.testing import make_config
from tests.test_readme_plugins import README, code_blocks, readme_section

SECRET = "webhook-secret-for-the-readme-payload"


def test_the_adapter_entry_point_snippet_names_the_group_and_the_channel_type() -> None:
    section = readme_section("## Writing a channel adapter")
    [snippet] = code_blocks(section, "toml")
    [(name, target)] = tomllib.loads(snippet)["project"]["entry-points"][ADAPTER_GROUP].items()
    assert target.endswith(":SmsAdapter")
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
