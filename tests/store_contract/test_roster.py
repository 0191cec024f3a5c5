"""The Store contract for rosters, routing profiles, presence and backup pages (both backends)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from conversation.assignment import AgentProfile
from conversation.paging import Page
from conversation.roster import RosterEntry, TeamRoster, entry_from_input
from conversation.store import Store

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def entry(entry_id: str, team: str = "cs", agents: tuple[str, ...] = ("li",)) -> RosterEntry:
    return entry_from_input(
        {
            "kind": "pattern",
            "agents": list(agents),
            "start": "22:00",
            "end": "06:00",
            "weekdays": "mon-fri",
            "label": "夜班",
        },
        entry_id=entry_id,
        team=team,
    )


async def test_entries_are_saved_per_team_replaced_and_deleted(store: Store) -> None:
    await store.roster.save_entry(entry("a"))
    await store.roster.save_entry(entry("b", team="finance"))
    await store.roster.save_entry(entry("a", agents=("li", "wang")))  # replaced
    assert await store.roster.list_entries("cs") == [entry("a", agents=("li", "wang"))]
    assert [e.id for e in await store.roster.list_entries()] == ["a", "b"]
    assert (await store.roster.get_entry("b")) == entry("b", team="finance")
    assert await store.roster.delete_entry("a")
    assert not await store.roster.delete_entry("a")
    assert await store.roster.list_entries("cs") == []


async def test_a_team_roster_is_replaced_as_a_whole_and_other_teams_keep_theirs(store: Store) -> None:
    await store.roster.save_entry(entry("old-1"))
    await store.roster.save_entry(entry("old-2"))
    await store.roster.save_entry(entry("other", team="finance"))
    await store.roster.replace_team_entries("cs", [entry("new-1"), entry("old-2", agents=("zhao",))])
    assert await store.roster.list_entries("cs") == [entry("new-1"), entry("old-2", agents=("zhao",))]
    assert [e.id for e in await store.roster.list_entries("finance")] == ["other"]


async def test_team_settings_and_profiles_round_trip(store: Store) -> None:
    assert await store.roster.get_team_roster("cs") is None
    settings = TeamRoster("cs", timezone="Asia/Shanghai", min_on_shift=2, page_queue=5, page_wait_minutes=7.5)
    await store.roster.save_team_roster(settings)
    assert await store.roster.get_team_roster("cs") == settings
    await store.roster.delete_team_roster("cs")  # its team deleted
    assert await store.roster.get_team_roster("cs") is None
    await store.roster.delete_team_roster("cs")  # twice is fine
    await store.roster.save_team_roster(settings)
    profile = AgentProfile(
        "li", capacity=4.0, languages=("zh",), channels=("web",), page_channel="mail", page_address="li@example.com"
    )
    await store.roster.save_profile(profile)
    await store.roster.save_profile(AgentProfile("wang"))
    assert await store.roster.get_profile("li") == profile
    assert [p.agent_id for p in await store.roster.list_profiles()] == ["li", "wang"]


async def test_presence_is_shared_and_touches_from_two_processes_keep_both(store: Store) -> None:
    until = NOW + timedelta(seconds=60)
    await store.roster.touch_presence("li", socket="hub-1", until=until, action_at=NOW)
    await store.roster.touch_presence("li", socket="hub-2", until=until + timedelta(seconds=5))
    record = await store.roster.get_presence("li")
    assert record is not None
    assert (record.status, dict(record.sockets), record.last_action_at) == (
        "online",
        {"hub-1": until, "hub-2": until + timedelta(seconds=5)},
        NOW,
    )
    away = await store.roster.set_presence_status("li", "away", now=NOW)
    assert (away.status, away.status_at, len(away.sockets)) == ("away", NOW, 2)
    await store.roster.drop_socket("li", "hub-1")
    record = await store.roster.get_presence("li")
    assert record is not None and list(record.sockets) == ["hub-2"] and record.status == "away"
    chose = await store.roster.set_presence_status("wang", "offline", now=NOW)  # before any inbox opened
    assert (chose.status, dict(chose.sockets), chose.last_action_at) == ("offline", {}, None)
    assert [p.agent_id for p in await store.roster.list_presence()] == ["li", "wang"]


async def test_pages_are_logged_newest_first_and_released_once(store: Store) -> None:
    first = Page(
        "p1", "cs", "chen", "queue", {"depth": "11", "threshold": "10"}, NOW, channel="mail", conversation_id="c1"
    )
    second = Page("p2", "cs", "zhou", "wait", {"minutes": "16", "limit": "15"}, NOW + timedelta(minutes=1))
    other = Page("p3", "finance", "qian", "sla", {"number": "1001"}, NOW + timedelta(minutes=2))
    for page in (first, second, other):
        assert await store.roster.add_page(page)
    assert not await store.roster.add_page(replace(first, reason="sla"))  # a retried page: logged once
    assert [p.id for p in await store.roster.list_pages()] == ["p3", "p2", "p1"]
    assert await store.roster.list_pages("cs", limit=1) == [second]
    released = await store.roster.release_pages("cs", now=NOW + timedelta(minutes=5))
    assert sorted(p.id for p in released) == ["p1", "p2"]
    assert await store.roster.release_pages("cs", now=NOW + timedelta(minutes=6)) == []
    assert await store.roster.list_pages("cs", active_only=True) == []
    assert [p.id for p in await store.roster.list_pages(active_only=True)] == ["p3"]
    (kept,) = [p for p in await store.roster.list_pages("cs") if p.id == "p1"]
    assert kept.released_at == NOW + timedelta(minutes=5) and kept.params == {"depth": "11", "threshold": "10"}
