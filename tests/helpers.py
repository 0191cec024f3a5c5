"""Test doubles that live in the tests: a scripted channel and a few plugins."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hub import testing
from hub.config import Config
from hub.registry import Registry
from hub.sdk import Outcome, Plugin, PluginContext

# The public testing kit (hub.testing), which the project's own tests use too.
from hub.testing import RecordingAdapter, customer_message, eventually, running_hub

__all__ = ["RecordingAdapter", "customer_message", "eventually", "running_hub"]


class EchoPlugin(Plugin):
    """Replies with what it got and counts messages in its persisted state."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        ctx.state["seen"] = ctx.state.get("seen", 0) + 1
        await ctx.reply(f"echo {ctx.state['seen']}: {ctx.message.text or ctx.chosen}")
        return None


class TriagePlugin(Plugin):
    """Asks with buttons, classifies on the answer, hands refunds to people."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.chosen == "refund":
            await ctx.set_category("dispute")
            await ctx.set_priority("high")
            await ctx.add_tags("money")
            await ctx.hand_off("refunds need a person", team="finance")
            return None
        if not ctx.state.get("asked"):
            ctx.state["asked"] = True
            await ctx.ask("What is it about?", ["refund", "login"])
            return Outcome.STOP
        return None


class BrokenPlugin(Plugin):
    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        raise RuntimeError("boom")


class HangPlugin(Plugin):
    """Never finishes: stands for a hub that stops while plugins run."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        await asyncio.Event().wait()
        return None


class GatePlugin(Plugin):
    """Waits at a gate the test opens; counts how many runs are inside at once."""

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        self.gate = asyncio.Event()
        self.running = 0
        self.peak = 0
        self.seen: list[str] = []

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
        self.seen.append(ctx.message.text)
        return None


class AlwaysPlugin(Plugin):
    always_run = True

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        await ctx.note(f"seen by always: {ctx.message.text}")
        return None


def registry_with_doubles() -> Registry:
    registry = testing.registry_with()
    for name, cls in (
        ("echo", EchoPlugin),
        ("triage", TriagePlugin),
        ("broken", BrokenPlugin),
        ("always", AlwaysPlugin),
        ("hang", HangPlugin),
        ("gate", GatePlugin),
    ):
        registry.plugins.add(name, f"tests.helpers:{cls.__name__}", lambda cls=cls: cls)
    from tests.sdk_plugins import DisputesPlugin, FailingPlugin

    registry.plugins.origins.pop("disputes", None)  # the SDK tests' small double stands in for the real plugin

    for name, cls in (("disputes", DisputesPlugin), ("failing", FailingPlugin)):
        registry.plugins.add(name, f"tests.sdk_plugins:{cls.__name__}", lambda cls=cls: cls)
    return registry


# The greeting plugin's settings for tests about something else: open around the clock, so
# no run (at night, at a weekend, across closing time) adds the out-of-hours notice.
GREETING_ALWAYS_OPEN = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": "00:00-24:00"}


def make_config(
    tmp_path: Path,
    raw: dict[str, Any] | None = None,
    *,
    storage_url: str = "sqlite://",
    registry: Registry | None = None,
) -> Config:
    return testing.make_config(tmp_path, raw, storage_url=storage_url, registry=registry or registry_with_doubles())


async def serve(app: Any) -> tuple[Any, str]:
    """Run an aiohttp application on a free loopback port: (runner to clean up, base URL)."""
    from aiohttp import web

    from tests.conftest import free_port

    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def clear_proxies(monkeypatch: Any) -> None:
    """Outside APIs are fakes on loopback: no proxy from the environment may stand between."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


async def poison_message(store: Any, message_id: str) -> None:
    """Make a stored message undecodable (a kind this version does not know), as a newer or buggy writer might."""
    from conversation.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        await store._call(lambda conn: conn.execute("UPDATE messages SET kind = 'poll' WHERE id = ?", (message_id,)))
    else:
        await store._conn.db.messages.update_one({"_id": message_id}, {"$set": {"kind": "poll"}})


def break_claims(store: Any, error: Exception, times: int) -> dict[str, int]:
    """The next `times` outbox claims raise `error`; the returned counts can be changed to mend it."""
    real_claim = store.deliveries.claim_deliveries
    counts = {"left": times, "calls": 0}

    async def claim(*args: Any, **kwargs: Any) -> Any:
        counts["calls"] += 1
        if counts["left"] > 0:
            counts["left"] -= 1
            raise error
        return await real_claim(*args, **kwargs)

    store.deliveries.claim_deliveries = claim
    return counts
