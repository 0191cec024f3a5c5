"""The access rule itself (hub/access.py), role by role and team visibility by visibility,
and how an API token narrows its agent's reach."""

from __future__ import annotations

import pytest

from conversation.desk import Team
from conversation.model import Agent, ApiToken, Conversation, Role
from hub.access import Access, AccessPolicy, viewer_for

CS = Team("cs", {"en": "Customer service"}, ["me", "colleague"])
TECH = Team("tech", {"en": "Technical support"}, ["other"])


def agent(role: Role = Role.AGENT, agent_id: str = "me") -> Agent:
    return Agent(id=agent_id, email=f"{agent_id}@example.com", role=role, password_hash="x")


def ticket(team: str = "", assignee: str = "") -> Conversation:
    return Conversation(
        id="c1", number=1, channel="chat", thread_key="t", contact_id="p", team=team, assignee_id=assignee
    )


def sees(role: Role, team: Team, conv: Conversation, access: Access = Access.READ, **policy: str) -> bool:
    return AccessPolicy(**policy).allows(viewer_for(agent(role), [team, TECH]), conv, access)


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.READ_ONLY])
def test_a_team_member_sees_the_teams_tickets_and_not_another_teams(role: Role) -> None:
    assert sees(role, CS, ticket("cs")) and sees(role, CS, ticket("cs", "colleague"))
    assert not sees(role, CS, ticket("tech")) and not sees(role, CS, ticket("tech", "other"))
    assert sees(Role.ADMIN, CS, ticket("tech"), Access.WRITE)


def test_an_assigned_only_team_hides_colleagues_tickets_from_agents_not_from_supervisors() -> None:
    own = Team("cs", CS.names, CS.members, "assigned")
    assert sees(Role.AGENT, own, ticket("cs")) and sees(Role.AGENT, own, ticket("cs", "me"))
    assert not sees(Role.AGENT, own, ticket("cs", "colleague"))
    assert sees(Role.SUPERVISOR, own, ticket("cs", "colleague"), Access.WRITE)


def test_a_see_all_team_reads_every_ticket_and_changes_only_its_own() -> None:
    wide = Team("cs", CS.names, CS.members, "all")
    assert sees(Role.AGENT, wide, ticket("tech", "other"))
    assert not sees(Role.AGENT, wide, ticket("tech", "other"), Access.WRITE)
    assert sees(Role.AGENT, wide, ticket("cs"), Access.WRITE)


def test_read_only_reads_and_never_writes_and_is_never_an_assignee() -> None:
    assert sees(Role.READ_ONLY, CS, ticket("cs")) and not sees(Role.READ_ONLY, CS, ticket("cs"), Access.WRITE)
    assert not sees(Role.READ_ONLY, CS, ticket("tech", "me"))  # an assignment gives read-only nothing


def test_the_assignee_may_work_a_ticket_of_another_team() -> None:
    assert sees(Role.AGENT, CS, ticket("tech", "me"), Access.WRITE)


def test_tickets_without_a_team_are_everyones_unless_configured_for_supervisors() -> None:
    assert sees(Role.AGENT, CS, ticket(), Access.WRITE) and sees(Role.READ_ONLY, CS, ticket())
    assert not sees(Role.AGENT, CS, ticket(), no_team_visible_to="supervisors")
    assert not sees(Role.READ_ONLY, CS, ticket(), no_team_visible_to="supervisors")
    assert sees(Role.SUPERVISOR, CS, ticket(), Access.WRITE, no_team_visible_to="supervisors")
    with pytest.raises(ValueError):
        AccessPolicy(no_team_visible_to="nobody")


def test_an_inactive_agent_sees_nothing() -> None:
    gone = agent(Role.ADMIN)
    gone.active = False
    assert not AccessPolicy().allows(viewer_for(gone, [CS]), ticket(), Access.READ)


def test_a_token_narrows_its_agents_role_and_teams_never_widens_them() -> None:
    token = ApiToken(id="t", agent_id="me", name="bi", token_hash="h", role=Role.READ_ONLY)
    narrowed = viewer_for(agent(Role.AGENT), [CS, TECH], token)
    assert narrowed.agent.role is Role.READ_ONLY and [t.id for t in narrowed.teams] == ["cs"]
    widening = ApiToken(id="t", agent_id="me", name="x", token_hash="h", role=Role.ADMIN, teams=["cs", "tech"])
    viewer = viewer_for(agent(Role.AGENT), [CS, TECH], widening)
    assert viewer.agent.role is Role.AGENT and [t.id for t in viewer.teams] == ["cs"]  # not a member of tech
    admins = ApiToken(id="t", agent_id="boss", name="x", token_hash="h", teams=["tech"])
    viewer = viewer_for(agent(Role.ADMIN, "boss"), [CS, TECH], admins)
    assert viewer.agent.role is Role.SUPERVISOR and [t.id for t in viewer.teams] == ["tech"]
    assert not AccessPolicy().allows(viewer, ticket("cs"), Access.READ)
    assert AccessPolicy().allows(viewer, ticket("tech"), Access.WRITE)


def test_a_token_kept_to_teams_acts_for_them_only_also_on_its_agents_assigned_tickets() -> None:
    """An audit: a token kept to "cs" still reached its agent's assigned tickets of other teams
    and the tickets without a team."""
    kept = ApiToken(id="t", agent_id="me", name="bi", token_hash="h", teams=["cs"])
    viewer, policy = viewer_for(agent(Role.AGENT), [CS, TECH], kept), AccessPolicy()
    assert policy.allows(viewer, ticket("cs", "colleague"), Access.WRITE)
    assert policy.allows(viewer, ticket("cs", "me"), Access.WRITE)
    for outside in (ticket("tech", "me"), ticket("", "me"), ticket()):
        assert not policy.allows(viewer, outside, Access.READ), outside
        assert not policy.allows_callback(viewer, outside, Access.READ, owner_id="me"), outside
    nothing = ApiToken(id="t", agent_id="me", name="x", token_hash="h", teams=[])
    assert policy.reach(viewer_for(agent(Role.AGENT), [CS, TECH], nothing), Access.READ).covers_none  # type: ignore[union-attr]
    # A review: not through a team whose agents read every ticket, nor in a team the agent is not in.
    wide = Team("cs", CS.names, CS.members, "all")
    viewer = viewer_for(agent(Role.AGENT), [wide, TECH], kept)
    assert policy.allows(viewer, ticket("cs"), Access.READ) and not policy.allows(viewer, ticket("tech"), Access.READ)
    elsewhere = ApiToken(id="t", agent_id="me", name="x", token_hash="h", teams=["tech"])  # she is not in tech
    assert not policy.allows(viewer_for(agent(Role.AGENT), [CS, TECH], elsewhere), ticket("tech", "me"), Access.READ)
    # A session, or a token narrowed in role only, keeps the assignee's and the team-less tickets.
    for unkept in (None, ApiToken(id="t", agent_id="me", name="r", token_hash="h", role=Role.AGENT)):
        viewer = viewer_for(agent(Role.AGENT), [CS, TECH], unkept)
        assert policy.allows(viewer, ticket("tech", "me"), Access.WRITE) and policy.allows(
            viewer, ticket(), Access.READ
        )
    # An admin's token narrowed in role only still reaches every ticket, with that role's rights.
    reader = ApiToken(id="t", agent_id="boss", name="bi", token_hash="h", role=Role.READ_ONLY)
    viewer = viewer_for(agent(Role.ADMIN, "boss"), [CS, TECH], reader)
    assert policy.allows(viewer, ticket("tech"), Access.READ) and not policy.allows(
        viewer, ticket("tech"), Access.WRITE
    )


def test_a_supervisors_only_team_is_seen_by_its_supervisors_alone_whoever_it_is_assigned_to() -> None:
    board = Team("board", {"en": "Supervisors"}, ["me", "colleague"], "supervisors")
    wide = Team("cs", CS.names, CS.members, "all")
    policy = AccessPolicy()
    others = Team("board", board.names, ["colleague"], "supervisors")
    for teams in ([board], [board, wide], [others, wide]):  # a member agent, an agent of an "all" team, both
        viewer = viewer_for(agent(Role.AGENT), teams)
        for conv in (ticket("board"), ticket("board", "me")):
            assert not policy.allows(viewer, conv, Access.READ), (teams, conv)
        assert policy.restricts(viewer)
    assert policy.allows(viewer_for(agent(Role.AGENT), [others, wide]), ticket("tech"), Access.READ)  # the rest
    assert policy.allows(viewer_for(agent(Role.SUPERVISOR), [board]), ticket("board", "me"), Access.WRITE)
    outsider = viewer_for(agent(Role.SUPERVISOR, "other"), [board, TECH])  # supervises tech, not the board
    assert not policy.allows(outsider, ticket("board", "other"), Access.READ)
    assert policy.allows(viewer_for(agent(Role.ADMIN, "boss"), [board]), ticket("board"), Access.WRITE)
    member = viewer_for(agent(Role.AGENT), [board])
    assert not policy.allows_callback(member, ticket("board", "me"), Access.READ, owner_id="me")  # a task: still not
