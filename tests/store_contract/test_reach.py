"""The Store contract for team-scoped visibility (both backends): a query's `reach` keeps
exactly the tickets `Reach.covers` (the access policy's rule) says, in lists, searches,
a contact's tickets and the view counts; and a team's visibility and a token's narrowing
are kept."""

from __future__ import annotations

import itertools
from datetime import timedelta

from conversation.desk import Team
from conversation.model import ApiToken, ConversationQuery, Reach, Role, new_id, utcnow
from conversation.store import Store
from tests.store_contract.common import POLICY, inbound

# (team, assignee) of each ticket: every case the rule tells apart
TICKETS = [
    ("", ""),
    ("", "ag1"),
    ("", "ag2"),
    ("a", ""),
    ("a", "ag1"),
    ("a", "ag2"),
    ("b", ""),
    ("b", "ag1"),
    ("b", "ag2"),
]
REACHES = [
    Reach("ag1", frozenset({"a"}), frozenset(), True),
    Reach("ag1", frozenset(), frozenset({"a"}), True),
    Reach("ag1", frozenset({"b"}), frozenset({"a"}), False),
    Reach("ag2", frozenset(), frozenset(), False),
    Reach("", frozenset({"a", "b"}), frozenset(), False),  # read-only: never an assignee
    Reach("", frozenset(), frozenset(), False),  # nothing
    # a "supervisors" team kept from whoever does not supervise it, even from its assignee
    Reach("ag1", frozenset({"b"}), frozenset(), True, hidden_teams=frozenset({"a"})),
    Reach("ag2", frozenset(), frozenset(), False, every_team=True, hidden_teams=frozenset({"a"})),
    Reach("", frozenset(), frozenset(), False, every_team=True, hidden_teams=frozenset({"a", "b"})),
    # a token kept to team b: of the agent's assigned tickets only b's, no team-less ones
    Reach("ag1", frozenset(), frozenset({"b"}), False, assigned_teams=frozenset({"b"})),
    Reach("ag1", frozenset(), frozenset(), False, assigned_teams=frozenset()),  # kept to no team: nothing
]


async def _tickets(store: Store) -> list[str]:
    ids = []
    for i, (team, assignee) in enumerate(TICKETS):
        message = inbound(f"r{i}", thread=f"r{i}", text=f"parcel {i} lost")
        record = await store.tickets.record_inbound(message, now=utcnow() + timedelta(seconds=i), policy=POLICY)
        changes = {k: v for k, v in (("team", team), ("assignee_id", assignee)) if v}
        if changes:
            await store.tickets.update_conversation(record.conversation.id, changes, now=utcnow())
        ids.append(record.conversation.id)
    return ids


async def test_a_reach_keeps_exactly_the_tickets_it_covers(store: Store) -> None:
    ids = await _tickets(store)
    everything = {c.id: c for c in (await store.inbox.list_conversations(ConversationQuery(limit=100)))[0]}
    contact = everything[ids[0]].contact_id
    for reach, search in itertools.product(REACHES, ("", "parcel")):
        expected = [i for i in reversed(ids) if reach.covers(everything[i])]
        items, total = await store.inbox.list_conversations(ConversationQuery(reach=reach, search=search, limit=100))
        assert ([c.id for c in items], total) == (expected, len(expected)), (reach, search)
        mine = ConversationQuery(reach=reach, contact_id=contact, include_merged=True, limit=100)
        assert [c.id for c in (await store.inbox.list_conversations(mine))[0]] == expected
        counts = await store.inbox.count_views("ag1", reach=reach)
        covered = [everything[i] for i in expected]
        assert counts["all"] == counts["open"] == len(covered), reach
        assert counts["mine"] == sum(c.assignee_id == "ag1" for c in covered)
        assert counts["unassigned"] == sum(not c.assignee_id for c in covered)
    assert (await store.inbox.count_views("ag1"))["all"] == len(TICKETS)


async def test_a_teams_visibility_and_a_tokens_narrowing_are_kept(store: Store) -> None:
    await store.desk.save_team(Team("vip", {"en": "VIP"}, ["ag1"], "assigned"))
    assert await store.desk.get_team("vip") == Team("vip", {"en": "VIP"}, ["ag1"], "assigned")
    narrowed = ApiToken(id=new_id(), agent_id="ag1", name="bi", token_hash="h1", role=Role.READ_ONLY, teams=["vip"])
    plain = ApiToken(id=new_id(), agent_id="ag1", name="ci", token_hash="h2")
    for token in (narrowed, plain):
        await store.accounts.add_api_token(token)
        assert await store.accounts.get_api_token(token.token_hash) == token
    assert {t.name: (t.role, t.teams) for t in await store.accounts.list_api_tokens()} == {
        "bi": (Role.READ_ONLY, ["vip"]),
        "ci": (None, None),
    }
