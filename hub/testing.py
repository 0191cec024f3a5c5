"""A testing kit for plugin and adapter authors: a real hub in a temporary directory.

    from hub.testing import customer_message, make_config, replies, running_hub

    async def test_it(tmp_path):
        config = make_config(tmp_path, {"plugins": {"enabled": ["mine"]}}, plugins={"mine": MyPlugin})
        async with running_hub(config) as hub:
            record = await hub.ingest(customer_message("m1", "hello"))
            [said] = await replies(hub, record.conversation.id, 1)

README.md, "Testing a plugin", has a complete example.

The hub runs on the embedded SQLite store under `tmp_path`, with one channel "chat" of
type "recording" (`RecordingAdapter`: no buttons, keeps what it was asked to send). What
the bot said and the ticket are read through `hub.reads`, the view adapters read with.
Plugins run after a message is acknowledged, so their effects are awaited (`eventually`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from conversation.inbound import Inbound, Sender
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind
from conversation.records import Record
from hub.app import Hub
from hub.config import Config, parse_config
from hub.registry import Kind, Registry, discover
from hub.sdk import Adapter, Field, Outbound, Plugin, Sent

__all__ = [
    "RecordingAdapter",
    "customer_message",
    "change_ticket",
    "eventually",
    "fire_timers",
    "make_config",
    "records",
    "registry_with",
    "replies",
    "running_hub",
    "said_to_customer",
    "ticket",
]


class RecordingAdapter(Adapter):
    """A channel whose `send` follows a script of outcomes and records every call (`sent`).
    Like email it shows no buttons, unless its settings say `buttons = true` (like web chat)."""

    config_fields: ClassVar[dict[str, Field]] = {
        "token": Field(str, "t", secret=True),
        "buttons": Field(bool, False, "show a question's choices as buttons (Adapter.shows_choices)"),
    }

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        self.shows_choices = bool(settings.get("buttons", False))  # per channel here
        self.sent: list[Outbound] = []
        self.attempts: list[Outbound] = []
        self.script: list[BaseException | float] = []  # per attempt: raise it, or sleep that long
        self.started = False
        self.delivered = asyncio.Event()

    async def start(self, hub: Any) -> None:
        self.started = True

    async def send(self, out: Outbound) -> Sent:
        self.attempts.append(out)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            await asyncio.sleep(step)
        self.sent.append(out)
        self.delivered.set()
        return Sent(external_id=f"ext-{len(self.sent)}")


def registry_with(
    plugins: Mapping[str, type[Plugin]] | None = None, adapters: Mapping[str, type[Adapter]] | None = None
) -> Registry:
    """The installed adapters and plugins, the "recording" channel, and these classes by name
    (a plugin under test needs no installed entry point)."""
    registry = discover()
    registry.adapters.add("recording", "hub.testing:RecordingAdapter", lambda: RecordingAdapter)
    chosen: list[tuple[Kind, Mapping[str, type]]] = [
        (registry.adapters, adapters or {}),
        (registry.plugins, plugins or {}),
    ]
    for kind, classes in chosen:
        for name, cls in classes.items():
            kind.origins.pop(name, None)  # the class under test stands in for an installed one
            kind.add(name, f"{cls.__module__}:{cls.__qualname__}", _loader(cls))
    return registry


def _loader(cls: type) -> Callable[[], type]:
    return lambda: cls


def make_config(
    tmp_path: Path,
    raw: dict[str, Any] | None = None,
    *,
    plugins: Mapping[str, type[Plugin]] | None = None,
    storage_url: str = "sqlite://",
    registry: Registry | None = None,
) -> Config:
    """A hub.toml as a dict (sections merged over a small test base: data under `tmp_path`,
    a fast outbox, the "chat" recording channel, no plugins), checked as at start."""
    base: dict[str, Any] = {
        "hub": {"data_dir": str(tmp_path / "data"), "shutdown_grace_seconds": 2},
        "storage": {"url": storage_url, "timeout_seconds": 2},
        "outbox": {"base_delay_seconds": 0.01, "max_delay_seconds": 0.05, "poll_seconds": 0.02, "max_attempts": 4},
        "channels": {"chat": {"type": "recording"}},
        "plugins": {"enabled": []},
    }
    for section, values in (raw or {}).items():
        if isinstance(values, dict) and section in base:
            base[section] = {**base[section], **values}
        else:
            base[section] = values
    return parse_config(base, path=tmp_path / "hub.toml", registry=registry or registry_with(plugins))


@asynccontextmanager
async def running_hub(config: Config) -> AsyncIterator[Hub]:
    """A started hub (store open, plugins and outbox running), stopped on exit."""
    hub = Hub(config)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def customer_message(external_id: str, text: str = "I cannot log in", *, thread: str = "chat-1", **kw: Any) -> Inbound:
    """A customer's message on channel "chat" (or `channel=`), as an adapter hands it to `hub.ingest`;
    other `Inbound` fields by keyword (`sender=Sender(address=..., language="zh-CN")`, `choice_id=`)."""
    return Inbound(
        channel=kw.pop("channel", "chat"),
        external_id=external_id,
        sender=kw.pop("sender", Sender(address="user-1", display_name="Zhang Wei")),
        thread_key=thread,
        text=text,
        **kw,
    )


async def eventually(predicate: Any, timeout: float = 5.0) -> Any:
    """Wait until an async or plain predicate gives a true value, and return it; fail with
    AssertionError otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in time (last value: {value!r})")
        await asyncio.sleep(0.02)


async def said_to_customer(hub: Hub, conversation_id: str) -> list[Message]:
    """What the bots said to the customer on a ticket, oldest first (notes and events left out)."""
    return [
        m
        for m in await hub.reads.list_messages(conversation_id)
        if m.direction is Direction.OUTBOUND and m.kind is MessageKind.MESSAGE and m.author_type is AuthorType.BOT
    ]


async def replies(hub: Hub, conversation_id: str, count: int, timeout: float = 5.0) -> list[Message]:
    """What the bots said to the customer on a ticket, once there are at least `count` messages
    (plugins run after a message is acknowledged); AssertionError if they do not come in time."""

    seen: list[Message] = []

    async def enough() -> list[Message]:
        seen[:] = await said_to_customer(hub, conversation_id)
        return list(seen) if len(seen) >= count else []

    try:
        return await eventually(enough, timeout)
    except AssertionError:  # say what did come: "last value: []" hid the one reply there was (a trial)
        texts = [m.text for m in seen]
        raise AssertionError(f"expected {count} replies within {timeout:g} s, got {len(texts)}: {texts!r}") from None


async def ticket(hub: Hub, conversation_id: str) -> Conversation:
    """The ticket as stored now (its status, category, tags, team)."""
    found = await hub.reads.get_conversation(conversation_id)
    if found is None:
        raise AssertionError(f"no ticket {conversation_id}")
    return found


async def change_ticket(hub: Hub, conversation_id: str, **changes: Any) -> Conversation:
    """Change a ticket as an agent does through the API (`status="resolved"`, `assignee_id=`,
    `team=`, `priority=`, `tags=`; checked, with the thread's "Test agent set the status..."
    events), and wait for the plugins' `on_event` calls it causes; the ticket as stored."""
    names = {a.id: a.name or a.email for a in await hub.store.accounts.list_agents()}  # assignees by name
    changed = await hub.actions.update_by(await ticket(hub, conversation_id), changes, who="Test agent", names=names)
    await hub.plugin_host.settle()
    return changed


async def fire_timers(hub: Hub, *, after: timedelta) -> int:
    """Move the hub's clock `after` into the future (for the rest of the test: its services,
    plugins and timers read it) and fire the plugins' timers due by then, as the hub's own
    loop would; how many fired. Plugins that read `ctx.now()` see the moved clock too."""
    later = hub.actions.clock() + after
    hub.actions.clock = lambda: later
    fired = await hub.plugin_host.fire_due_timers()
    await hub.plugin_host.settle()
    return fired


async def records(hub: Hub, plugin: str, kind: str, conversation_id: str = "") -> list[Record]:
    """A plugin's records of one kind (on one ticket, with `conversation_id`), newest first."""
    return await hub.plugin_host.records.query(plugin, kind, conversation_id=conversation_id)
