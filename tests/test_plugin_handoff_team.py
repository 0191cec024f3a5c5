"""A plugin's `ctx.hand_off(team=...)` and `ctx.set_team(...)` only give a ticket to a team
that exists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from conversation.errors import InvalidInput
from conversation.inbound import Sender
from conversation.model import MessageKind
from hub.app import Hub
from hub.sdk import Outcome, Plugin, PluginContext
from tests.helpers import customer_message, eventually, make_config, registry_with_doubles


class HandToPlugin(Plugin):
    """ "to <team>" hands the ticket to that team, "file <team>" files it there; what either
    raised is kept."""

    refused: ClassVar[list[Exception]] = []

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        words = ctx.message.text.split()
        if len(words) == 2 and words[0] == "to":
            try:
                await ctx.hand_off("the customer asked", team=words[1])
            except ValueError as exc:
                HandToPlugin.refused.append(exc)
        if len(words) == 2 and words[0] == "file":
            try:
                await ctx.set_team(words[1])
            except ValueError as exc:
                HandToPlugin.refused.append(exc)
        return None


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    HandToPlugin.refused.clear()
    registry = registry_with_doubles()
    registry.plugins.add("handto", "tests.test_plugin_handoff_team:HandToPlugin", lambda: HandToPlugin)
    hub = Hub(make_config(tmp_path, {"plugins": {"enabled": ["handto"]}}, registry=registry))
    await hub.start()
    yield hub
    await hub.stop()


async def settled(hub: Hub) -> None:
    await eventually(lambda: not hub.pipeline._tasks)


async def test_a_hand_off_to_a_team_that_does_not_exist_is_refused_and_changes_nothing(hub: Hub) -> None:
    record = await hub.ingest(customer_message("m1", "to no-such-team", sender=Sender("u1")))
    await settled(hub)
    [refusal] = HandToPlugin.refused
    assert "team" in str(refusal) and "'no-such-team' is not a team" in str(refusal)
    stored = await hub.store.tickets.get_conversation(record.conversation.id)
    assert stored is not None and stored.team == "" and stored.handed_off_at is None
    thread = await hub.store.tickets.list_messages(stored.id)
    assert [m.kind for m in thread] == [MessageKind.MESSAGE]  # no "handed off" event either


async def test_a_hand_off_to_a_team_that_exists_moves_the_ticket(hub: Hub) -> None:
    record = await hub.ingest(customer_message("m1", "to finance", sender=Sender("u1")))
    await settled(hub)
    assert HandToPlugin.refused == []
    stored = await hub.store.tickets.get_conversation(record.conversation.id)
    assert stored is not None and stored.team == "finance" and stored.handed_off_at is not None


async def test_filing_a_ticket_under_a_team_that_does_not_exist_is_refused_and_changes_nothing(hub: Hub) -> None:
    record = await hub.ingest(customer_message("m1", "file no-such-team", sender=Sender("u1")))
    await settled(hub)
    [refusal] = HandToPlugin.refused
    assert isinstance(refusal, InvalidInput) and "team: 'no-such-team' is not a team" in str(refusal)
    stored = await hub.store.tickets.get_conversation(record.conversation.id)
    assert stored is not None and stored.team == ""
    assert [m.kind for m in await hub.store.tickets.list_messages(stored.id)] == [MessageKind.MESSAGE]

    filed = await hub.ingest(customer_message("m2", "file finance", sender=Sender("u2")))
    await settled(hub)
    assert len(HandToPlugin.refused) == 1
    stored = await hub.store.tickets.get_conversation(filed.conversation.id)
    assert stored is not None and stored.team == "finance" and stored.handed_off_at is None
