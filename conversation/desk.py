"""Teams (departments) and the category tree: the records, their validation, the defaults
a new hub starts with, and the rules both store backends and the hub share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from conversation.errors import InvalidInput
from conversation.model import Priority

LANGUAGES = ("zh-CN", "en")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


# What a team's agents see (supervisors always see all their teams' tickets, admins all):
# "assigned": of the team's tickets, the unassigned ones and their own (not a colleague's);
# "team": every ticket of the team; "all": every ticket of every team, changing only their team's.
VISIBILITIES = ("assigned", "team", "all", "supervisors")


@dataclass(frozen=True)
class Team:
    id: str
    names: dict[str, str]
    members: list[str] = field(default_factory=list)
    visibility: str = "team"
    lead: str = ""  # the team lead's agent id: told when one of the team's SLA targets is missed


@dataclass(frozen=True)
class Category:
    id: str
    names: dict[str, str]
    parent_id: str | None = None
    default_team: str | None = None
    default_priority: Priority | None = None


DEFAULT_TEAMS = (
    Team("customer-service", {"zh-CN": "客服", "en": "Customer service"}),
    Team("technical-support", {"zh-CN": "技术支持", "en": "Technical support"}),
    Team("finance", {"zh-CN": "财务/退款", "en": "Finance / refunds"}),
    Team("complaints", {"zh-CN": "投诉", "en": "Complaints"}),
    # complaints about agents (the complaints plugin): seen by the team's supervisors only
    Team("supervisors", {"zh-CN": "主管", "en": "Supervisors"}, visibility="supervisors"),
    # suspected account theft (the account plugin's security_team)
    Team("security", {"zh-CN": "账户安全", "en": "Account security"}),
)

DEFAULT_CATEGORIES = (
    Category("faq", {"zh-CN": "常见问题", "en": "FAQ"}, None, "customer-service", Priority.LOW),
    Category("account", {"zh-CN": "账户", "en": "Account"}, None, "customer-service", Priority.NORMAL),
    Category("dispute", {"zh-CN": "交易纠纷", "en": "Transaction dispute"}, None, "finance", Priority.HIGH),
    Category("complaint", {"zh-CN": "投诉与建议", "en": "Complaint & suggestion"}, None, "complaints", Priority.NORMAL),
    Category("technical", {"zh-CN": "技术问题", "en": "Technical"}, None, "technical-support", Priority.NORMAL),
    Category("other", {"zh-CN": "其他", "en": "Other"}, None, "customer-service", Priority.NORMAL),
)


def _names(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput(f"names must be an object of language to name ({', '.join(LANGUAGES)})")
    clean = {}
    for lang, name in value.items():
        if lang not in LANGUAGES:
            raise InvalidInput(f"names: unknown language {lang!r} (use {', '.join(LANGUAGES)})")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise InvalidInput(f"names.{lang} must be a non-empty text of at most 100 characters")
        clean[lang] = name.strip()
    return clean


def _id(value: Any) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise InvalidInput("id must be 1-64 lowercase letters, digits, '-' or '_'")
    return value


def _optional_text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{key} must be a non-empty text or null")
    return value


def team_from_input(data: Mapping[str, Any]) -> Team:
    """A team from an API body; InvalidInput says what is wrong."""
    unknown = set(data) - {"id", "names", "members", "visibility", "lead"}
    if unknown:
        raise InvalidInput(f"unknown team field(s): {', '.join(sorted(unknown))}")
    members = data.get("members", [])
    if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
        raise InvalidInput("members must be a list of agent ids")
    visibility = data.get("visibility", "team")
    if visibility not in VISIBILITIES:
        raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITIES)}")
    lead = data.get("lead") or ""
    if not isinstance(lead, str):
        raise InvalidInput("lead must be an agent id (or empty for none)")
    return Team(_id(data.get("id")), _names(data.get("names")), sorted(set(members)), visibility, lead)


def category_from_input(data: Mapping[str, Any]) -> Category:
    """A category from an API body; InvalidInput says what is wrong."""
    unknown = set(data) - {"id", "names", "parent_id", "default_team", "default_priority"}
    if unknown:
        raise InvalidInput(f"unknown category field(s): {', '.join(sorted(unknown))}")
    priority = data.get("default_priority")
    if priority is not None:
        try:
            priority = Priority(priority)
        except ValueError:
            raise InvalidInput(f"default_priority must be one of {', '.join(p.value for p in Priority)}") from None
    return Category(
        _id(data.get("id")),
        _names(data.get("names")),
        _optional_text("parent_id", data.get("parent_id")),
        _optional_text("default_team", data.get("default_team")),
        priority,
    )


def check_category_links(category: Category, categories: Iterable[Category], team_ids: Iterable[str]) -> None:
    """Refuse a parent that does not exist or would make a cycle, and an unknown default team."""
    if category.default_team is not None and category.default_team not in set(team_ids):
        raise InvalidInput(f"default_team {category.default_team!r} is not a team")
    parents = {c.id: c.parent_id for c in categories if c.id != category.id}
    parent = category.parent_id
    seen = {category.id}
    while parent is not None:
        if parent in seen:
            raise InvalidInput("parent_id would make the category its own ancestor")
        if parent not in parents:
            raise InvalidInput(f"parent_id {parent!r} is not a category")
        seen.add(parent)
        parent = parents[parent]


def team_to_doc(team: Team) -> dict[str, Any]:
    return {
        "id": team.id,
        "names": dict(team.names),
        "members": list(team.members),
        "visibility": team.visibility,
        "lead": team.lead,
    }


def team_from_doc(doc: Mapping[str, Any]) -> Team:
    return Team(
        str(doc["id"]),
        dict(doc["names"]),
        list(doc.get("members", [])),
        doc.get("visibility") or "team",
        doc.get("lead") or "",
    )


def teams_of(agent_id: str, teams: Iterable[Team]) -> list[Team]:
    """The teams an agent is a member of."""
    return [team for team in teams if agent_id in team.members]


def with_member(team: Team, agent_id: str, member: bool) -> Team:
    """The team with `agent_id` added to or removed from its members."""
    members = set(team.members) | {agent_id} if member else set(team.members) - {agent_id}
    return replace(team, members=sorted(members))  # its lead and the rest stay


def category_to_doc(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "names": dict(category.names),
        "parent_id": category.parent_id,
        "default_team": category.default_team,
        "default_priority": category.default_priority.value if category.default_priority else None,
    }


def category_from_doc(doc: Mapping[str, Any]) -> Category:
    priority = doc.get("default_priority")
    return Category(
        str(doc["id"]),
        dict(doc["names"]),
        doc.get("parent_id"),
        doc.get("default_team"),
        Priority(priority) if priority else None,
    )


# How a ticket got its team: `[routing] default_team`, a category's default team, or a
# person's choice (an agent setting it, a hand-off, an escalation: all "manual" here).
TEAM_SOURCE_STATE = "team_source"  # the coordination area's per-ticket state that records it


def team_source(recorded: Mapping[str, Any], team: str) -> str:
    """The source of the ticket's current `team`: the one recorded with that very team
    ("default" or "category"), else "manual" (the team changed since, by someone's choice);
    "" for a ticket without a team."""
    if not team:
        return ""
    return str(recorded.get("source") or "manual") if recorded.get("team") == team else "manual"


def team_follows_category(source: str) -> bool:
    """Whether a newly set category may move the ticket to its default team: when the ticket
    has none, or got its team only from `[routing] default_team` or an earlier category;
    never over a person's choice (an agent's, a hand-off)."""
    return source in ("", "default", "category")


def category_defaults(
    category: Category, *, team: str, priority: Priority, chosen: Iterable[str], source: str = "manual"
) -> dict[str, Any]:
    """What filing a ticket under `category` changes: its default team when the ticket's team
    follows categories (`source`, see team_follows_category), its default priority while the
    ticket's is still the untouched `normal`. A field the same change sets (`chosen`) is the
    agent's choice and wins."""
    chosen = set(chosen)
    changes: dict[str, Any] = {}
    if (
        category.default_team
        and category.default_team != team
        and team_follows_category(source if team else "")
        and "team" not in chosen
    ):
        changes["team"] = category.default_team
    if (
        category.default_priority is not None
        and priority is Priority.NORMAL
        and category.default_priority is not priority
        and "priority" not in chosen
    ):
        changes["priority"] = category.default_priority
    return changes


MAX_REASON_CHARS = 2000


def handoff_changes(conversation_team: str, assignee_id: str, team: Team, reason: str) -> dict[str, Any]:
    """What handing a ticket to `team` changes: its team, and its assignee when they are not a
    member of the new team (the ticket then waits in that team's queue). InvalidInput when the
    hand-off makes no sense."""
    if team.id == conversation_team:
        raise InvalidInput(f"team: the ticket is already with {team.id!r}")
    if not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"reason: say why, in 1-{MAX_REASON_CHARS} characters")
    changes: dict[str, Any] = {"team": team.id}
    if assignee_id and assignee_id not in team.members:
        changes["assignee_id"] = ""
    return changes
