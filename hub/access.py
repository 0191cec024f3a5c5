"""Who may see and change which ticket: the one authorisation check of the agent side.

Every API route on tickets, messages, contacts and attachments, the inbox search, list
and counts, and the live feed's event filter ask `AccessPolicy` (`allows` for one ticket,
`reach` for a store query: the same rule, `Reach.covers`, which both stores also apply as
a filter). A denied ticket answers 404, as if it did not exist, so its number or id
reveals nothing.

The rule, by role (an API token may narrow its agent's role and teams, never widen them):
- admin: every ticket.
- supervisor: every ticket of their teams.
- agent: the tickets of their teams as each team's `visibility` says ("assigned": the
  team's unassigned tickets and their own; "team": all the team's; "all": they may also
  read every other ticket, and change only their teams').
- read-only: reads what an agent of the same teams reads, changes nothing.
- Everyone but read-only may read and change the tickets assigned to them (who assigned
  it meant them to work it), whatever its team; the owner of a callback task reads and
  changes its ticket the same way while the task is open, and always sees and closes the
  task (`allows_callback`).
- A team whose visibility is "supervisors" (complaints about agents, kept from the agent
  they are about) is seen by its supervisors and admins only: its agents, agents of "all"
  teams, and anyone it is assigned to outside its supervisors never see its tickets.
- An API token kept to some teams acts for those teams only: not on its agent's tickets of
  other teams, nor on tickets without a team.
- Tickets without a team are everyone's by default: a new ticket has none until a rule,
  its category or an agent gives it one, and hiding that queue would leave customers
  unanswered. `[desk] no_team_visible_to = "supervisors"` keeps them to supervisors and
  admins, for desks where routing always sets a team and supervisors triage the rest.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from aiohttp import web

from conversation.desk import Team, teams_of
from conversation.model import ROLE_RANKS, Agent, ApiToken, Conversation, Reach, Role

NO_TEAM_CHOICES = ("everyone", "supervisors")
SUPERVISORS_ONLY = "supervisors"  # a team visibility: its tickets are for its supervisors (and admins) alone


class Access(StrEnum):
    READ = "read"  # the ticket, its messages and notes, its contact, its attachments
    WRITE = "write"  # reply, note, change, merge, move, hand off, edit its contact


@dataclass(frozen=True)
class Viewer:
    """Who asks, as the policy needs it: the agent (with the role its credential leaves it)
    and the teams it acts for."""

    agent: Agent
    teams: tuple[Team, ...] = ()
    every_ticket: bool = False  # an admin, or an admin's token narrowed in role only: no team limits it
    token_limits: str = ""  # an admin's token that narrows: how ("teams (finance)"), to say why admin routes refuse
    withheld: frozenset[str] = frozenset()  # "supervisors" teams this viewer does not supervise: never seen
    # A token kept to these teams: none of the agent's tickets of other teams or of no team
    # (None: a session, or a token kept to no teams).
    kept_to: frozenset[str] | None = None


VIEWER: web.RequestKey[Viewer] = web.RequestKey("viewer")
NOTHING = Reach(agent_id="", no_team=False)  # covers no ticket


def lower_role(first: Role, second: Role) -> Role:
    return min(first, second, key=ROLE_RANKS.index)


def viewer_for(agent: Agent, teams: Iterable[Team], token: ApiToken | None = None) -> Viewer:
    """The viewer an agent is, signed in or through `token` (which may only narrow)."""
    teams = list(teams)
    role, acting = agent.role, teams_of(agent.id, teams)
    if token is not None and token.role is not None:
        role = lower_role(role, token.role)
    if token is not None and token.teams is not None:
        wanted = set(token.teams)
        acting = [t for t in (teams if agent.role is Role.ADMIN else acting) if t.id in wanted]
        role = lower_role(role, Role.SUPERVISOR)  # a token kept to some teams is never an admin
    every_ticket = agent.role is Role.ADMIN and (token is None or token.teams is None)
    supervised = {t.id for t in acting} if role in (Role.SUPERVISOR, Role.ADMIN) else set()
    withheld = frozenset(t.id for t in teams if t.visibility == SUPERVISORS_ONLY and t.id not in supervised)
    # The teams it acts for: those it names that its agent is in (an admin: any it names).
    kept_to = frozenset(t.id for t in acting) if token is not None and token.teams is not None else None
    return Viewer(
        replace(agent, role=role), tuple(acting), every_ticket, admin_token_limits(agent, token), withheld, kept_to
    )


def admin_token_limits(agent: Agent, token: ApiToken | None) -> str:
    """How an admin's token narrows the admin ("" when it does not): named in the refusal of an
    admin route, so the caller knows it is the token, not the account, that falls short."""
    if agent.role is not Role.ADMIN or token is None:
        return ""
    if token.teams is not None:
        return f"teams ({', '.join(token.teams) or 'none'})"
    if token.role is not None and token.role is not Role.ADMIN:
        return f"the role {token.role.value}"
    return ""


def changes_allowed(agent: Agent) -> bool:
    """Whether this agent may change anything at all (besides its own settings and sign-out)."""
    return agent.active and agent.role is not Role.READ_ONLY


class AccessPolicy:
    def __init__(self, *, no_team_visible_to: str = "everyone") -> None:
        if no_team_visible_to not in NO_TEAM_CHOICES:
            raise ValueError(f"no_team_visible_to must be one of {NO_TEAM_CHOICES}")
        self.no_team_visible_to = no_team_visible_to

    def reach(self, viewer: Viewer, access: Access) -> Reach | None:
        """The tickets `viewer` may `access`, as a store filter; None: every ticket."""
        agent = viewer.agent
        if not agent.active or (access is Access.WRITE and not changes_allowed(agent)):
            return NOTHING
        if viewer.every_ticket:
            return None
        # A team whose agents read every ticket ("all"): not through a token kept to teams,
        # which acts for those teams only.
        every_team = (
            access is Access.READ and viewer.kept_to is None and any(t.visibility == "all" for t in viewer.teams)
        )
        if every_team and not viewer.withheld:
            return None
        supervisor = agent.role is Role.SUPERVISOR
        seen = [t for t in viewer.teams if t.id not in viewer.withheld]
        full = frozenset(t.id for t in seen if supervisor or t.visibility != "assigned")
        own = frozenset(t.id for t in seen) - full
        return Reach(
            agent_id=agent.id if agent.role is not Role.READ_ONLY else "",
            teams=full,
            own_teams=own,
            no_team=(supervisor or self.no_team_visible_to == "everyone") and viewer.kept_to is None,
            every_team=every_team,
            hidden_teams=viewer.withheld,
            assigned_teams=viewer.kept_to,
        )

    def allows(self, viewer: Viewer, conversation: Conversation, access: Access) -> bool:
        """Whether `viewer` may `access` this ticket."""
        reach = self.reach(viewer, access)
        return reach is None or reach.covers(conversation)

    def allows_callback(self, viewer: Viewer, conversation: Conversation, access: Access, *, owner_id: str) -> bool:
        """Whether `viewer` may `access` the ticket of a callback task that `owner_id` owns. The
        owner always may (read, and change unless read-only): they were given the call to make,
        whoever the ticket is assigned to or whichever team has it now."""
        agent = viewer.agent
        if conversation.team in viewer.withheld:
            return False  # a complaint about an agent: not even a callback task shows it to them
        kept_out = viewer.kept_to is not None and conversation.team not in viewer.kept_to
        if owner_id and owner_id == agent.id and agent.active and not kept_out:
            return access is Access.READ or changes_allowed(agent)
        return self.allows(viewer, conversation, access)

    def restricts(self, viewer: Viewer) -> bool:
        """Whether `allows` can say no to this viewer's reading some ticket. When it cannot,
        hot paths (the live feed) skip looking up each ticket."""
        return self.reach(viewer, Access.READ) is not None


NO_TEAM = ""  # a report's team of the tickets without one


def members_of(teams: Iterable[Team], chosen: Collection[str]) -> set[str]:
    """The members of the teams `chosen` (a supervisor's own) among `teams`: whose figures
    per agent they read (reports' agents table and quality figures by agent)."""
    return {member for team in teams if team.id in chosen for member in team.members}


def report_teams(viewer: Viewer) -> tuple[str, ...] | None:
    """The teams whose figures the viewer may read in reports and quality figures: None for
    every team (an admin not narrowed to teams), a supervisor's own teams and NO_TEAM (figures
    by agent then list only their teams' people: hub/reports.ReportService.agents); PermissionError
    for agents and read-only accounts, whose figures a report would compare with their
    colleagues'."""
    if viewer.every_ticket and viewer.agent.role is Role.ADMIN:
        return None
    if viewer.agent.role in (Role.ADMIN, Role.SUPERVISOR):
        own = tuple(team.id for team in viewer.teams)
        # and the tickets without a team, which they see and triage (reach): a trial's report
        # said 1 new ticket while the supervisor's inbox held 16 of them
        return own if viewer.kept_to is not None else (*own, NO_TEAM)
    raise PermissionError("reports are for supervisors and admins")


# -- a team's operations data: roster, coverage, roster CSV, page log, presence, contact fields --
# Not tickets, but the same viewer decides: who works when, who was paged about what and how
# to reach an agent privately are for the team itself, its supervisors and admins.
def sees_team(viewer: Viewer, team: str) -> bool:
    """Whether `viewer` may read `team`'s roster, coverage, roster CSV, settings and page log:
    its members (any role) and admins."""
    return viewer.every_ticket or any(t.id == team for t in viewer.teams)


def manages_team(viewer: Viewer, team: str) -> bool:
    """Whether `viewer` may change `team`'s roster (entries, patterns, swaps, leave, CSV import)
    and its operational settings: admins, and supervisors of that team."""
    role = viewer.agent.role
    if role is Role.ADMIN and viewer.every_ticket:
        return True
    return role in (Role.SUPERVISOR, Role.ADMIN) and any(t.id == team for t in viewer.teams)


def shares_team(viewer: Viewer, agent_id: str, teams: Iterable[Team]) -> bool:
    """Whether `viewer` sees the agent `agent_id` at work (presence): admins see everyone,
    others themselves and the members of their teams."""
    if viewer.every_ticket or agent_id == viewer.agent.id:
        return True
    mine = {t.id for t in viewer.teams}
    return any(t.id in mine for t in teams_of(agent_id, teams))


def sees_presence_of(viewer: Viewer, agent_id: str) -> bool:
    """`shares_team` from the viewer's own teams alone (their members), for hot paths such as
    the live feed's presence frames."""
    if viewer.every_ticket or agent_id == viewer.agent.id:
        return True
    return any(agent_id in t.members for t in viewer.teams)


def sees_contact_fields(viewer: Viewer, agent_id: str, teams: Iterable[Team]) -> bool:
    """Whether `viewer` may read how the agent is reached privately (page channel and address):
    admins, the agent, and supervisors of one of the agent's teams."""
    if (viewer.every_ticket and viewer.agent.role is Role.ADMIN) or agent_id == viewer.agent.id:
        return True
    return viewer.agent.role is Role.SUPERVISOR and shares_team(viewer, agent_id, teams)
