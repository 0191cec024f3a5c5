"""The plugin SDK on both store backends: records (plugin and REST), durable timers with
two hubs and across a restart, ticket events, templates by the contact's language."""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from conversation.inbound import Sender
from conversation.model import Agent as AgentModel
from conversation.model import Conversation, Role, utcnow
from conversation.ticket_changes import told_holder
from conversation.timers import TIMER_LEASE
from hub.access import Access, AccessPolicy
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.config import Config
from hub.i18n import texts
from hub.sdk import ConfigError, RecordKind, TimerContext, check_texts
from tests import sdk_plugins
from tests.conftest import ROOT
from tests.helpers import customer_message, make_config, registry_with_doubles
from tests.test_api import ADMIN, Agent, sign_in


@pytest.fixture(params=["sqlite", "mongo"])
def storage_url(request: pytest.FixtureRequest) -> str:
    return "sqlite://" if request.param == "sqlite" else request.getfixturevalue("mongo_db_uri")


@pytest.fixture(autouse=True)
def seen() -> list[tuple[str, Any]]:
    sdk_plugins.SEEN.clear()
    return sdk_plugins.SEEN


def sdk_config(tmp_path: Path, storage_url: str, *plugins: str, **settings: Any) -> Config:
    return make_config(tmp_path, {"plugins": {"enabled": list(plugins), **settings}}, storage_url=storage_url)


@dataclass
class Site:
    hub: Hub
    admin: Agent


@pytest.fixture
async def site(tmp_path: Path, storage_url: str) -> AsyncIterator[Site]:
    hub = Hub(sdk_config(tmp_path, storage_url, "disputes", "failing"))
    server = TestServer(build_app(hub))
    await server.start_server()
    await add_agent(hub.store, ADMIN[0], Role.ADMIN, ADMIN[1], name="Boss")
    admin = await sign_in(server, ADMIN)
    yield Site(hub, admin)
    await admin.client.close()
    await server.close()


async def dispute_ticket(hub: Hub, text: str = "order A-1", external_id: str = "m1") -> Conversation:
    record = await hub.ingest(customer_message(external_id, text, thread=external_id))
    for _ in range(200):
        if await hub.services.records.query("disputes", "dispute", conversation_id=record.conversation.id):
            break
        await asyncio.sleep(0.02)
    return record.conversation


# -- records ---------------------------------------------------------------------------------
async def test_a_plugin_keeps_records_agents_read_and_change_through_the_api(site: Site) -> None:
    ticket = await dispute_ticket(site.hub)
    [record] = await site.hub.services.records.query("disputes", "dispute", {"order": "A-1"})
    assert (record.conversation_id, record.contact_id, record.status) == (ticket.id, ticket.contact_id, "open")
    assert record.deadline is not None

    path = f"/api/v1/records/disputes/dispute/{record.id}"
    changed = await site.admin.call("PATCH", path, {"data": {"amount": 30, "refund": True}, "status": "waiting"})
    assert changed["data"] == {"order": "A-1", "amount": 30, "refund": True} and changed["version"] == 2
    cleared = await site.admin.call("PATCH", path, {"data": {"refund": None}, "deadline": None})
    assert cleared["data"] == {"order": "A-1", "amount": 30} and cleared["deadline"] is None
    assert [(c["who"], sorted(c["changes"])) for c in cleared["timeline"]] == [
        ("disputes", ["status"]),  # made by the plugin, in its first status (a trial: the timeline began empty)
        ("Boss", ["data.amount", "data.refund", "status"]),
        ("Boss", ["data.refund", "deadline"]),
    ]
    assert await site.admin.call("GET", path) == cleared

    created = await site.admin.call(
        "POST",
        "/api/v1/records/disputes/dispute",
        {"conversation_id": ticket.id, "data": {"order": "B-2", "amount": 30}, "deadline": "2030-01-01T08:00:00+08:00"},
        status=201,
    )
    assert created["status"] == "open" and created["deadline"] == "2030-01-01T00:00:00+00:00"
    by_amount = await site.admin.call("GET", "/api/v1/records/disputes/dispute?amount=30")
    assert [r["data"]["order"] for r in by_amount["items"]] == ["B-2", "A-1"]
    by_order = await site.admin.call("GET", f"/api/v1/records/disputes/dispute?order=B-2&conversation_id={ticket.id}")
    assert [r["id"] for r in by_order["items"]] == [created["id"]]
    waiting = await site.admin.call("GET", "/api/v1/records/disputes/dispute?status=waiting&limit=5")
    assert [r["id"] for r in waiting["items"]] == [record.id]

    sidebar = await site.admin.call("GET", f"/api/v1/conversations/{ticket.id}/records")
    assert [k["kind"] for k in sidebar["kinds"]] == ["dispute"]
    assert sidebar["kinds"][0]["schema"]["properties"]["order"]["x-title-zh-CN"] == "订单号"
    assert {r["id"] for r in sidebar["items"]} == {record.id, created["id"]}


async def test_bad_records_are_refused_and_change_nothing(site: Site) -> None:
    ticket = await dispute_ticket(site.hub)
    [record] = await site.hub.services.records.query("disputes", "dispute", conversation_id=ticket.id)
    path = f"/api/v1/records/disputes/dispute/{record.id}"
    for body in (
        {"data": {"amount": -1}},
        {"data": {"amount": "thirty"}},
        {"data": {"colour": "red"}},  # additionalProperties: false
        {"data": {"order": None}},  # required
        {"status": "lost"},
        {"deadline": "tomorrow"},
        {"deadline": "2030-01-01T08:00:00"},  # no offset
    ):
        answer = await site.admin.call("PATCH", path, body, status=422)
        assert answer["error"] == "invalid", body
    assert (await site.admin.call("GET", path))["version"] == 1

    refused = await site.admin.call(
        "POST", "/api/v1/records/disputes/dispute", {"conversation_id": ticket.id, "data": {}}, status=422
    )
    assert "order" in refused["message"]
    await site.admin.call("GET", "/api/v1/records/disputes/dispute?colour=red", status=422)  # not a query field
    await site.admin.call("GET", "/api/v1/records/disputes/dispute?amount=lots", status=422)
    await site.admin.call("GET", "/api/v1/records/disputes/refund", status=404)
    await site.admin.call("GET", "/api/v1/records/nobody/dispute", status=404)
    await site.admin.call(
        "POST", "/api/v1/records/disputes/dispute", {"conversation_id": "nope", "data": {"order": "x"}}, status=404
    )
    assert len(await site.hub.services.records.query("disputes", "dispute")) == 1


class OnlyTicket(AccessPolicy):
    """Lets agents see one ticket only (what the team-scoped policy will decide)."""

    def __init__(self, allowed: str, access: Access) -> None:
        self.allowed, self.access = allowed, access

    def allows(self, agent: AgentModel, conversation: Conversation, access: Access) -> bool:
        return conversation.id == self.allowed and (access is Access.READ or self.access is Access.WRITE)

    def restricts(self, agent: AgentModel) -> bool:
        return True


async def test_records_are_authorised_like_the_ticket_they_link_to(site: Site) -> None:
    mine = await dispute_ticket(site.hub, "order A-1", "m1")
    other = await dispute_ticket(site.hub, "order B-2", "m2")
    [visible] = await site.hub.services.records.query("disputes", "dispute", conversation_id=mine.id)
    [hidden] = await site.hub.services.records.query("disputes", "dispute", conversation_id=other.id)
    site.hub.access = OnlyTicket(mine.id, Access.READ)

    listed = await site.admin.call("GET", "/api/v1/records/disputes/dispute")
    assert [r["id"] for r in listed["items"]] == [visible.id]
    await site.admin.call("GET", f"/api/v1/records/disputes/dispute/{hidden.id}", status=404)
    await site.admin.call("GET", f"/api/v1/conversations/{other.id}/records", status=404)
    # a ticket the caller may read but not change: its record is not theirs to change (404), and a
    # new record on it is refused as a change of a ticket they only read (403)
    await site.admin.call("PATCH", f"/api/v1/records/disputes/dispute/{visible.id}", {"status": "waiting"}, status=404)
    await site.admin.call(
        "POST", "/api/v1/records/disputes/dispute", {"conversation_id": mine.id, "data": {"order": "x"}}, status=403
    )
    site.hub.access = OnlyTicket(mine.id, Access.WRITE)
    await site.admin.call("PATCH", f"/api/v1/records/disputes/dispute/{visible.id}", {"status": "waiting"})
    await site.admin.call("PATCH", f"/api/v1/records/disputes/dispute/{hidden.id}", {"status": "waiting"}, status=404)
    assert (await site.hub.services.records.get("disputes", "dispute", hidden.id)).status == "open"  # type: ignore[union-attr]


async def test_sqlite_serves_a_query_field_from_its_expression_index(tmp_path: Path) -> None:
    hub = Hub(sdk_config(tmp_path, "sqlite://", "disputes"))
    await hub.start()
    try:
        plan = await hub.store._call(  # type: ignore[attr-defined]
            lambda conn: conn.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM records WHERE plugin = ? AND kind = ?"
                " AND json_extract(data, '$.order') = ?",
                ("disputes", "dispute", "A-1"),
            ).fetchall(),
            write=False,
        )
    finally:
        await hub.stop()
    assert "records_q_disputes__dispute__order" in " ".join(str(tuple(row)) for row in plan)


def test_a_wrong_record_kind_stops_the_hub_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = RecordKind("dispute", {"type": "object", "properties": {}}, queries=("order",))
    monkeypatch.setattr(sdk_plugins.DisputesPlugin, "record_kinds", (broken,))
    with pytest.raises(ConfigError, match="query field 'order' is not a property"):
        Hub(sdk_config(tmp_path, "sqlite://", "disputes"))
    reserved = RecordKind("dispute", {"type": "object", "properties": {"status": {"type": "string"}}}, ("status",))
    monkeypatch.setattr(sdk_plugins.DisputesPlugin, "record_kinds", (reserved,))
    with pytest.raises(ConfigError, match="'status' is a reserved name"):
        Hub(sdk_config(tmp_path, "sqlite://", "disputes"))
    monkeypatch.setattr(sdk_plugins.DisputesPlugin, "record_kinds", (RecordKind("d", {"type": "nope"}),))
    with pytest.raises(ConfigError, match="invalid JSON Schema"):
        Hub(sdk_config(tmp_path, "sqlite://", "disputes"))


# -- durable timers --------------------------------------------------------------------------
def move_clock(hub: Hub, by: timedelta) -> None:
    hub.actions.clock = lambda: utcnow() + by


async def test_a_timer_fires_once_with_two_hubs_on_one_store(
    tmp_path: Path, storage_url: str, seen: list[tuple[str, Any]]
) -> None:
    config = sdk_config(tmp_path, storage_url, "disputes")
    first, second = Hub(config), Hub(config)
    await first.start()
    await second.start()
    try:
        ticket = await dispute_ticket(first)
        [record] = await first.services.records.query("disputes", "dispute", conversation_id=ticket.id)
        for hub in (first, second):
            move_clock(hub, timedelta(days=1, minutes=1))
        fired = await asyncio.gather(*(h.plugin_host.fire_due_timers() for h in (first, second, first, second)))
        assert sum(fired) == 1
        assert [s for s in seen if s[0] == "timer"] == [("timer", ("check", {"record": record.id}, ticket.id))]
        checked = await second.services.records.get("disputes", "dispute", record.id)
        assert checked is not None and checked.status == "waiting" and checked.timeline[-1].who == "disputes"
        assert await second.store.timers.get_timer(f"disputes:{record.id}") is None
        assert sum(await asyncio.gather(first.plugin_host.fire_due_timers(), second.plugin_host.fire_due_timers())) == 0
    finally:
        await second.stop()
        await first.stop()


async def test_a_timer_survives_a_restart_and_a_hub_that_died_holding_it(
    tmp_path: Path, storage_url: str, seen: list[tuple[str, Any]]
) -> None:
    config = sdk_config(tmp_path, storage_url, "disputes")
    hub = Hub(config)
    await hub.start()
    ticket = await dispute_ticket(hub)
    [record] = await hub.services.records.query("disputes", "dispute", conversation_id=ticket.id)
    move_clock(hub, timedelta(days=1, minutes=1))
    # a hub claims it and dies before on_timer ran: the claim is in the store, nobody finishes it
    claimed = await hub.store.timers.claim_due_timers("dead-hub", now=hub.actions.clock(), lease=TIMER_LEASE, limit=10)
    assert [t.key for t in claimed] == [f"disputes:{record.id}"]
    await hub.stop()

    restarted = Hub(config)
    await restarted.start()
    try:
        move_clock(restarted, timedelta(days=1, minutes=1))
        assert await restarted.plugin_host.fire_due_timers() == 0  # the dead hub's lease still runs
        move_clock(restarted, timedelta(days=1, minutes=1) + TIMER_LEASE * 2)
        assert await restarted.plugin_host.fire_due_timers() == 1
        assert [s[1][0] for s in seen if s[0] == "timer"] == ["check"]
        checked = await restarted.services.records.get("disputes", "dispute", record.id)
        assert checked is not None and checked.status == "waiting"
    finally:
        await restarted.stop()


async def test_a_failing_timer_is_retried_later_and_a_cancelled_one_never_fires(
    tmp_path: Path, storage_url: str, seen: list[tuple[str, Any]]
) -> None:
    hub = Hub(sdk_config(tmp_path, storage_url, "failing", "disputes"))
    await hub.start()
    try:
        ticket = await dispute_ticket(hub)
        [record] = await hub.services.records.query("disputes", "dispute", conversation_id=ticket.id)
        ctx = TimerContext("failing", None, None, None, {}, hub.actions, hub.plugin_host)  # type: ignore[arg-type]
        await ctx.schedule(utcnow() - timedelta(minutes=1), "boom", key="b")
        assert await hub.plugin_host.cancel(f"disputes:{record.id}")
        errors = hub.metrics.plugin_errors.labels("failing")
        before = errors._value.get()
        assert await hub.plugin_host.fire_due_timers() == 1
        assert errors._value.get() == before + 1
        assert await hub.plugin_host.fire_due_timers() == 0  # backing off
        move_clock(hub, timedelta(minutes=2))
        assert await hub.plugin_host.fire_due_timers() == 1
        assert [s for s in seen if s[0] == "failing timer"] == [("failing timer", 1), ("failing timer", 2)]
        move_clock(hub, timedelta(days=2))
        await hub.plugin_host.fire_due_timers()
        assert not [s for s in seen if s[0] == "timer"]  # the cancelled check never ran
        assert await ctx.cancel("b")
    finally:
        await hub.stop()


# -- ticket events ---------------------------------------------------------------------------
async def test_plugins_hear_ticket_changes_after_they_are_stored_and_their_errors_break_nothing(
    site: Site, seen: list[tuple[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    ticket = await dispute_ticket(site.hub)
    errors = site.hub.metrics.plugin_errors.labels("failing")
    before = errors._value.get()
    changed = await site.admin.call(
        "PATCH",
        f"/api/v1/conversations/{ticket.id}",
        {"status": "resolved", "assignee_id": site.admin.id, "team": "finance", "priority": "high"},
    )
    assert changed["status"] == "resolved"
    await site.hub.plugin_host.settle()
    events = sorted(s[1] for s in seen if s[0] == "event")
    assert events == [
        ("assignment", "assignee_id", "", site.admin.id),
        ("field", "priority", "normal", "high"),
        ("status", "status", "open", "resolved"),
        ("team", "team", "", "finance"),
    ]
    assert errors._value.get() == before + 1  # the failing plugin hears status only, and fails
    assert f"plugin failing failed on the status change of conversation {ticket.id}" in caplog.text
    stored = await site.hub.store.tickets.get_conversation(ticket.id)
    assert stored is not None and stored.status.value == "resolved"


async def said_by_progress(hub: Hub, ticket_id: str) -> list[str]:
    return [m.text for m in await hub.store.tickets.list_messages(ticket_id) if m.author_id == "progress"]


async def test_a_notice_through_on_event_is_told_once_with_two_hubs_and_a_repeated_change(
    tmp_path: Path, storage_url: str
) -> None:
    # A notice is told at most once: a store call that times out in its delivery loses it for
    # good (logged, never retried). Two hubs' deliveries racing on one loaded database must
    # not trip the tests' 2 s store timeout, which this test is not about.
    config = make_config(
        tmp_path, {"plugins": {"enabled": ["progress"]}, "storage": {"timeout_seconds": 10}}, storage_url=storage_url
    )
    first, second = Hub(config), Hub(config)

    def errors() -> list[float]:
        return [h.metrics.plugin_errors.labels("progress")._value.get() for h in (first, second)]

    errors_before = errors()
    await first.start()
    await second.start()
    try:
        ticket = (await first.ingest(customer_message("m1", "my refund is late"))).conversation
        ticket = await first.actions.update_conversation(ticket, {"team": "customer-service"})  # a first team: no news
        moved = await first.store.tickets.update_conversation(ticket.id, {"team": "finance"}, now=utcnow())
        for hub in (first, second, second):  # both hubs hear the one stored change, one of them twice
            hub.plugin_host.ticket_changed(ticket, moved, ["team"])
        await asyncio.gather(first.plugin_host.settle(), second.plugin_host.settle())
        assert errors() == errors_before  # every delivery ran to its end (a failed one tells nothing)
        t = texts("progress", "en")
        finance = await first.team_name("finance", "en")
        told = [t.get("progress.notice.team", number=moved.number, team=finance)]
        assert await said_by_progress(first, ticket.id) == told

        # One request changes two fields (two events at once), sent to both hubs: each news once.
        back = {"team": "customer-service", "status": "resolved"}
        await asyncio.gather(*(h.actions.update_conversation(moved, back) for h in (first, second)))
        await asyncio.gather(first.plugin_host.settle(), second.plugin_host.settle())
        assert errors() == errors_before
        now_said = await said_by_progress(first, ticket.id)
        assert len(now_said) == 3 and now_said[0] == told[0]
        service = await first.team_name("customer-service", "en")
        assert set(now_said[1:]) == {
            t.get("progress.notice.team", number=moved.number, team=service),  # moved back: news again
            t.get("progress.notice.resolved", number=moved.number, team=service),
        }
    finally:
        await second.stop()
        await first.stop()


async def test_news_told_at_the_same_moment_are_each_told_and_a_repeat_is_not(tmp_path: Path, storage_url: str) -> None:
    """`tell_once`'s record: a lost compare-and-set is tried again, so news of other keys
    told meanwhile (another field of the same change, another hub) are neither lost nor
    taken for this one."""
    hub = Hub(sdk_config(tmp_path, storage_url))
    await hub.start()
    try:
        ticket = (await hub.ingest(customer_message("m1", "hello"))).conversation
        keys = [f"news-{n}" for n in range(8)]
        marked = await asyncio.gather(*(hub.plugin_host.mark_told(ticket.id, "p", key, "1") for key in keys))
        assert marked == [True] * len(keys)
        repeats = await asyncio.gather(*(hub.plugin_host.mark_told(ticket.id, "p", key, "1") for key in keys * 2))
        assert not any(repeats)
        assert await hub.plugin_host.mark_told(ticket.id, "p", "news-0", "2")  # a new mark is news again
        told = await hub.store.coordination.get_plugin_state(ticket.id, told_holder("p"))
        assert told == {**dict.fromkeys(keys, "1"), "news-0": "2"}
        assert await hub.store.coordination.get_plugin_state(ticket.id, "p") == {}  # on_message's state is apart
    finally:
        await hub.stop()


# -- templates -------------------------------------------------------------------------------
async def test_plugin_texts_follow_the_contacts_language(tmp_path: Path) -> None:
    opened = {"en": "Dispute opened on #{number}", "zh-CN": "已为工单 #{number} 登记纠纷"}
    hub = Hub(sdk_config(tmp_path, "sqlite://", "disputes", disputes={"opened": opened}))
    await hub.start()
    try:
        for external_id, language, expected in (
            ("m1", "zh-Hans", "已为工单 #"),
            ("m2", "en-GB", "Dispute opened on #"),
            ("m3", "fr", "Dispute opened on #"),  # no French text: the hub's language
        ):
            sender = Sender(address=f"user-{external_id}", display_name="Li", language=language)
            record = await hub.ingest(customer_message(external_id, "order X-1", thread=external_id, sender=sender))
            for _ in range(200):
                bot = [
                    m
                    for m in await hub.store.tickets.list_messages(record.conversation.id)
                    if m.author_type.value == "bot"
                ]
                if bot:
                    break
                await asyncio.sleep(0.02)
            assert bot and bot[0].text.startswith(expected), (language, bot)
    finally:
        await hub.stop()


async def test_without_a_setting_the_catalog_speaks_the_contacts_language(tmp_path: Path) -> None:
    hub = Hub(sdk_config(tmp_path, "sqlite://", "disputes"))
    await hub.start()
    try:
        sender = Sender(address="user-9", display_name="王芳", language="zh-CN")
        record = await hub.ingest(customer_message("m1", "order X-1", sender=sender))
        for _ in range(200):
            bot = [
                m for m in await hub.store.tickets.list_messages(record.conversation.id) if m.author_type.value == "bot"
            ]
            if bot:
                break
            await asyncio.sleep(0.02)
        from hub.i18n import hub_texts

        assert bot[0].text == hub_texts("zh-CN").get("bot.greeting", number=str(record.conversation.number))
    finally:
        await hub.stop()


async def test_the_record_routes_are_in_the_openapi_document(site: Site) -> None:
    document = await site.admin.call("GET", "/api/openapi.json")
    paths = document["paths"]
    assert set(paths["/api/v1/records/{plugin}/{kind}"]) == {"get", "post"}
    assert set(paths["/api/v1/records/{plugin}/{kind}/{record_id}"]) == {"get", "patch"}
    assert set(paths["/api/v1/conversations/{conversation_id}/records"]) == {"get"}
    listing = paths["/api/v1/records/{plugin}/{kind}"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"plugin", "kind", "conversation_id", "status", "limit"}
    body = paths["/api/v1/records/{plugin}/{kind}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["conversation_id", "data"]


def test_templates_and_their_checks_read_typed_settings_and_dicts_alike() -> None:
    typed = sdk_plugins.DisputesPlugin.Settings(opened={"en": "Opened #{number}", "zh-CN": "已登记 #{number}"})
    for settings in (typed, {"opened": typed.opened}):
        check_texts("plugins.disputes", settings, {"opened": ("number",)})
        ctx = TimerContext("disputes", None, None, None, settings, None, None, language="zh-CN")  # type: ignore[arg-type]
        assert ctx.text("bot.greeting", setting="opened", number=7) == "已登记 #7"
    for wrong in (sdk_plugins.DisputesPlugin.Settings(opened="#{order}"), {"opened": "#{order}"}):
        with pytest.raises(ConfigError, match=r"plugins.disputes.opened: unknown placeholder \{order\}"):
            check_texts("plugins.disputes", wrong, {"opened": ("number",)})


# -- the README's example --------------------------------------------------------------------
def readme_example() -> tuple[str, dict[str, Any]]:
    """The Python and TOML blocks of README's "Records, timers, events and templates"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Records, timers, events and templates") :]
    blocks = re.findall(r"```(python|toml)\n(.*?)```", section, re.S)
    code = next(body for lang, body in blocks if lang == "python")
    settings = tomllib.loads(next(body for lang, body in blocks if lang == "toml"))
    return code, settings


async def test_the_readme_example_plugin_works_as_documented(tmp_path: Path, storage_url: str) -> None:
    code, settings = readme_example()
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102  (our own documentation)
    registry = registry_with_doubles()
    registry.plugins.add("survey", "README.md", lambda: namespace["Survey"])
    settings["plugins"]["enabled"] = ["survey"]
    hub = Hub(make_config(tmp_path, settings, storage_url=storage_url, registry=registry))
    await hub.start()
    try:
        sender = Sender(address="user-7", display_name="王芳", language="zh-CN")
        record = await hub.ingest(customer_message("m1", "退款到账了吗", sender=sender))
        ticket = record.conversation
        resolved = await hub.actions.update_conversation(ticket, {"status": "resolved"})
        await hub.plugin_host.settle()
        assert await hub.plugin_host.fire_due_timers() == 0  # a day later, not now
        move_clock(hub, timedelta(days=1, minutes=1))
        assert await hub.plugin_host.fire_due_timers() == 1
        asked = [m.text for m in await hub.store.tickets.list_messages(ticket.id) if m.author_type.value == "bot"]
        assert asked == [settings["plugins"]["survey"]["ask"]["zh-CN"].format(number=resolved.number)]
        [survey] = await hub.services.records.query("survey", "survey", conversation_id=ticket.id)
        assert survey.status == "sent"

        await hub.ingest(customer_message("m2", "5", sender=sender))
        for _ in range(200):
            survey = await hub.services.records.get("survey", "survey", survey.id)  # type: ignore[assignment]
            if survey.status == "answered":
                break
            await asyncio.sleep(0.02)
        assert (survey.status, survey.data) == ("answered", {"score": 5})
        assert [r.id for r in await hub.services.records.query("survey", "survey", {"score": "5"})] == [survey.id]
    finally:
        await hub.stop()


def test_what_plugins_are_told_they_may_catch_is_in_the_sdk() -> None:
    """README: hand_off, set_team and records raise InvalidInput; a plugin imports only hub.sdk."""
    import hub.sdk
    from conversation.errors import InvalidInput

    assert hub.sdk.InvalidInput is InvalidInput and "InvalidInput" in hub.sdk.__all__
    assert issubclass(InvalidInput, ValueError)


async def test_the_testing_kit_changes_a_ticket_and_waits_for_the_plugins_events(tmp_path: Path) -> None:
    """README "Testing a plugin": change_ticket resolves a ticket as an agent would, and the
    plugin's on_event has run when it returns (a developer had no documented way to test it)."""
    from hub.sdk import EventContext, Plugin
    from hub.testing import change_ticket, make_config, running_hub, ticket

    heard: list[tuple[str, object]] = []

    class Listens(Plugin):
        events = frozenset({"status"})

        async def on_event(self, ctx: EventContext) -> None:
            await asyncio.sleep(0.05)  # slower than the change itself
            heard.append((ctx.change.field, ctx.change.after))

    config = make_config(tmp_path, {"plugins": {"enabled": ["listens"]}}, plugins={"listens": Listens})
    async with running_hub(config) as hub:
        record = await hub.ingest(customer_message("m1", "hello"))
        changed = await change_ticket(hub, record.conversation.id, status="resolved")
        assert changed.status.value == "resolved" == (await ticket(hub, record.conversation.id)).status.value
        assert heard == [("status", "resolved")]
        thread = await hub.store.tickets.list_messages(record.conversation.id)
        assert "Test agent set the status to resolved" in [m.text for m in thread]  # as the API's PATCH leaves it
        with pytest.raises(ValueError, match="is not a team"):  # checked as an agent's change is
            await change_ticket(hub, record.conversation.id, team="no-such-team")


async def test_the_testing_kits_replies_says_what_came_when_too_few_do(tmp_path: Path) -> None:
    """A developer's test waited for two replies and read "condition not met (last value: [])",
    which hid the one reply there was."""
    from hub.testing import replies
    from tests.helpers import make_config, running_hub

    async with running_hub(make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})) as hub:
        record = await hub.ingest(customer_message("m1", "hello"))
        assert [m.text for m in await replies(hub, record.conversation.id, 1)] == ["echo 1: hello"]
        with pytest.raises(AssertionError, match=r"expected 2 replies within 0.3 s, got 1: \['echo 1: hello'\]"):
            await replies(hub, record.conversation.id, 2, timeout=0.3)
