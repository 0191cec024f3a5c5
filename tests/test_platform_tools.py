"""`ctx.platform` in a running hub: the verified-identity rule, the durable and idempotent
path of side effects (a stored intent repeated by the timer loop), the ticket's timeline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conversation.inbound import Sender
from conversation.model import Contact, Conversation, Identity, MessageKind, utcnow
from conversation.platform_identity import PlatformIdentity, platform_identity
from conversation.timers import timer_key
from hub.app import Hub
from hub.sdk import Done, NotVerified, Outcome, PlatformTools, Plugin, PluginContext, TimerContext
from hub.thread_events import event_of
from tests.fake_platform import FakePlatform
from tests.helpers import clear_proxies, customer_message, eventually, make_config, registry_with_doubles, serve

SECRET = "platform-secret-0123456789abcdef"
HEARD: list[tuple[str, Any]] = []


class ProbePlugin(Plugin):
    """Asks the platform for a reset link for whoever writes "reset"."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        try:
            user = await ctx.platform.user()
        except NotVerified:
            HEARD.append(("unverified", ctx.platform.identity()))
            await ctx.reply("please verify")
            return Outcome.STOP
        HEARD.append(("user", user))
        if user is not None:
            done = await ctx.platform.send_password_reset(user)
            HEARD.append(("reset", done))
        return Outcome.STOP

    async def on_platform_done(self, ctx: TimerContext, done: Done) -> None:
        HEARD.append(("done later", done))

    async def on_platform_failed(self, ctx: TimerContext, operation: str) -> None:
        HEARD.append(("failed", operation))


@pytest.fixture
async def platform(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakePlatform, str]]:
    clear_proxies(monkeypatch)
    HEARD.clear()
    fake = FakePlatform(SECRET)
    fake.add_user("u-1", "li.na@example.com")
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


@pytest.fixture(params=["sqlite", "mongo"])
def storage_url(request: pytest.FixtureRequest) -> str:
    """The stored intents are plugin timers: both backends keep them."""
    return "sqlite://" if request.param == "sqlite" else str(request.getfixturevalue("mongo_db_uri"))


@pytest.fixture
async def hub(
    tmp_path: Path, platform: tuple[FakePlatform, str], monkeypatch: pytest.MonkeyPatch, storage_url: str
) -> AsyncIterator[Hub]:
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", SECRET)
    registry = registry_with_doubles()
    registry.plugins.add("probe", "tests.test_platform_tools:ProbePlugin", lambda: ProbePlugin)
    config = make_config(
        tmp_path,
        {
            "plugins": {"enabled": ["probe"]},
            "platform": {
                "base_url": platform[1],
                "secret": "env:HELPLINE_PLATFORM_SECRET",
                "allow_http": True,
                "max_attempts": 2,
                "base_delay_seconds": 0.01,
                "timeout_seconds": 0.5,
            },
        },
        registry=registry,
        storage_url=storage_url,
    )
    running = Hub(config)
    await running.start()
    yield running
    await running.stop()


VERIFIED = Sender(address="user-1", display_name="Li Na", email="li.na@example.com", verified=True)


async def write(hub: Hub, external_id: str, sender: Sender, text: str = "reset") -> Conversation:
    record = await hub.ingest(customer_message(external_id, text, thread=sender.address, sender=sender))
    await eventually(lambda: len(HEARD) > 0)
    return record.conversation


async def timeline(hub: Hub, ticket: Conversation) -> list[tuple[str, str]]:
    events = [event_of(m.raw) for m in await hub.store.tickets.list_messages(ticket.id) if m.kind is MessageKind.EVENT]
    return [
        (e.params["platform_op"], e.params["platform_result"]) for e in events if e and e.key == "event.platform_call"
    ]


async def test_an_unverified_contact_gets_nothing_from_the_platform(
    hub: Hub, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    ticket = await write(hub, "m1", Sender(address="user-2", display_name="X", email="li.na@example.com"))
    assert HEARD == [("unverified", None)]  # a typed (claimed) email proves nothing
    assert fake.calls == [] and fake.resets == []
    assert await timeline(hub, ticket) == [("find_user", "not_verified")]


async def test_a_reset_goes_out_once_and_every_call_is_in_the_timeline(
    hub: Hub, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    ticket = await write(hub, "m1", VERIFIED)
    await eventually(lambda: len(HEARD) == 2)
    kind, done = HEARD[1]
    assert kind == "reset" and done is not None and done.status == "sent" and fake.resets == ["u-1"]
    assert fake.called("find_user") == [{"email": "li.na@example.com"}]
    assert await timeline(hub, ticket) == [("find_user", "ok"), ("password_reset", "ok")]
    metrics = hub.metrics.registry.get_sample_value
    assert metrics("helpline_platform_calls_total", {"operation": "password_reset", "outcome": "ok"}) == 1
    assert metrics("helpline_platform_calls_total", {"operation": "find_user", "outcome": "ok"}) == 1
    texts = [m.text for m in await hub.store.tickets.list_messages(ticket.id)]
    assert not any("li.na" in t or "u-1" in t for t in texts[1:])  # the timeline names no value
    assert (
        await hub.store.timers.claim_due_timers(
            "x", now=utcnow() + timedelta(hours=1), lease=timedelta(minutes=1), limit=9
        )
        == []
    )


async def test_a_platform_that_is_down_gets_the_effect_later_exactly_once(
    hub: Hub, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    fake.fail_next["password_reset"] = [503, "timeout"]  # the second attempt is carried out, answered too late
    fake.timeout_seconds = 1
    ticket = await write(hub, "m1", VERIFIED)
    await eventually(lambda: len(HEARD) == 2, timeout=10)
    assert HEARD[1] == ("reset", None)  # not done now: stored, repeated later
    assert fake.resets == ["u-1"]  # the late attempt did it
    hub.actions.clock = lambda: utcnow() + timedelta(seconds=20)
    assert await hub.plugin_host.fire_due_timers() == 0  # not while a call made now could still be running
    hub.actions.clock = lambda: utcnow() + timedelta(minutes=1)
    assert await hub.plugin_host.fire_due_timers() == 1
    kind, done = HEARD[2]
    assert kind == "done later" and done.replayed and fake.resets == ["u-1"]  # the same key: not sent twice
    assert len(fake.keys) == 3 and len(set(fake.keys)) == 1  # one key for the effect, every attempt
    assert await timeline(hub, ticket) == [
        ("find_user", "ok"),
        ("password_reset", "retrying"),
        ("password_reset", "replayed"),
    ]
    # a 503 is an answer: the event says the platform did not answer *or failed* (an integrator's trial)
    events = [event_of(m.raw) for m in await hub.store.tickets.list_messages(ticket.id) if m.kind is MessageKind.EVENT]
    retrying = next(e for e in events if e and e.params.get("platform_result") == "retrying")
    assert "平台无响应或出错，稍后重试" in retrying.text("zh-CN") and "did not answer or failed" in retrying.text("en")
    assert await hub.plugin_host.fire_due_timers() == 0


async def test_a_stored_intent_is_due_by_the_hubs_clock(hub: Hub, platform: tuple[FakePlatform, str]) -> None:
    """The repeat of an effect the platform did not answer is scheduled on the clock the hub's
    timers are claimed by (not the wall clock): with the hub's clock ahead, it must not come due
    at once and run beside the call still under way."""
    fake, _ = platform
    fake.fail_next["password_reset"] = [503, 503]
    ahead = utcnow() + timedelta(days=3)
    hub.actions.clock = lambda: ahead
    await write(hub, "m1", VERIFIED)
    await eventually(lambda: len(HEARD) == 2, timeout=10)
    assert HEARD[1] == ("reset", None)
    stored = await hub.store.timers.get_timer(timer_key("probe", fake.keys[0]))
    assert stored is not None and ahead < stored.due_at < ahead + timedelta(minutes=1)


async def test_a_refused_effect_is_not_repeated(hub: Hub, platform: tuple[FakePlatform, str]) -> None:
    fake, _ = platform
    fake.fail_next["password_reset"] = [403]
    ticket = await write(hub, "m1", VERIFIED)
    await eventually(lambda: len(HEARD) == 2 or hub.metrics.plugin_errors.labels("probe")._value.get() > 0)
    await asyncio.sleep(0.05)
    assert fake.resets == []
    assert ("password_reset", "refused") in await timeline(hub, ticket)
    refused = {"operation": "password_reset", "outcome": "refused"}
    assert hub.metrics.registry.get_sample_value("helpline_platform_calls_total", refused) == 1
    hub.actions.clock = lambda: utcnow() + timedelta(hours=1)
    assert await hub.plugin_host.fire_due_timers() == 0


def contact_with(*identities: Identity, email: str = "", verified: bool = False) -> Contact:
    return Contact(id="c1", email=email, email_verified=verified, identities=list(identities))


@pytest.mark.parametrize(
    ("channel_type", "address", "contact", "expected"),
    [
        ("webchat", "user:default:u-7", None, PlatformIdentity("widget", user_id="u-7")),
        ("webchat", "v_abc", None, None),  # an anonymous visitor
        ("webchat", "user:default", None, None),
        ("webhook", "u-7", None, PlatformIdentity("platform", user_id="u-7")),
        ("email", "Li.Na@Example.com", None, PlatformIdentity("email", email="li.na@example.com")),
        ("telegram", "12345", None, None),
        (
            "slack",
            "U1",
            contact_with(Identity("slack", "U1", "c1", verified=True), email="li@example.com", verified=True),
            PlatformIdentity("verified_email", email="li@example.com"),
        ),
        (  # a contact's verified email is not lent to an unverified identity joined to it
            "telegram",
            "12345",
            contact_with(Identity("telegram", "12345", "c1"), email="li@example.com", verified=True),
            None,
        ),
        (  # a claimed email proves nothing
            "slack",
            "U1",
            contact_with(Identity("slack", "U1", "c1", verified=True), email="li@example.com"),
            None,
        ),
    ],
)
def test_the_verified_identity_rule(
    channel_type: str, address: str, contact: Contact | None, expected: PlatformIdentity | None
) -> None:
    assert platform_identity(channel_type, address, contact) == expected


async def test_trusted_lookups_for_what_an_agent_decided(hub: Hub, platform: tuple[FakePlatform, str]) -> None:
    """An order's parties looked up by ids the hub trusts (a dispute opened by an agent)."""
    fake, _ = platform
    fake.add_order("o-1", buyer="u-1", seller="s-9")
    ticket = await write(hub, "m1", Sender(address="anon", display_name="X"), text="hello")
    tools = PlatformTools(hub.plugin_host.platform, "probe", ticket, None, "chat", "anon", hub, hub.plugin_host)
    assert tools.identity() is None  # the writer is not verified; these lookups do not ask them
    assert (await tools.account("u-1")) is not None and await tools.account("nobody") is None
    order = await tools.order_of("o-1", user_id="s-9")
    assert order is not None and order.buyer_id == "u-1"
    assert await tools.order_of("o-1", user_id="u-2") is None  # not a party to it
    assert await timeline(hub, ticket) == [
        ("find_user", "not_verified"),
        ("find_account", "ok"),  # another party's account, not the writer's (a trial)
        ("find_account", "not_found"),
        ("get_order", "ok"),
        ("get_order", "not_found"),
    ]


async def test_the_verified_customers_own_orders_and_no_one_elses(hub: Hub, platform: tuple[FakePlatform, str]) -> None:
    fake, _ = platform
    fake.add_order("o-1", buyer="u-1", seller="s-9", title="Headphones")
    fake.add_order("o-2", buyer="u-2", seller="s-9")
    ticket = await write(hub, "m1", VERIFIED, text="hello")
    contact = await hub.store.contacts.get_contact(ticket.contact_id)
    tools = PlatformTools(hub.plugin_host.platform, "probe", ticket, contact, "chat", "user-1", hub, hub.plugin_host)
    assert [o.title for o in await tools.orders()] == ["Headphones"]
    assert (await tools.order("o-1")) is not None and await tools.order("o-2") is None
    stranger = PlatformTools(hub.plugin_host.platform, "probe", ticket, None, "chat", "user-9", hub, hub.plugin_host)
    with pytest.raises(NotVerified):
        await stranger.orders()
    assert [b for n, b in fake.calls if n == "list_orders"] == [{"user_id": "u-1", "limit": 10}]
