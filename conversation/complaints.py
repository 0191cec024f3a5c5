"""Complaints and suggestions: the pure rules the `complaints` plugin words and stores.

- A complaint is about a seller, an order, an agent, a platform feature (or something
  else); it moves received -> investigating -> awaiting_outcome -> outcome_sent -> closed,
  and only sending an outcome puts it in outcome_sent. Its ticket may not be resolved or
  closed before then (`resolve_refusal`).
- Routing: the subject picks the department (team), the severity the ticket's priority. A
  complaint about an agent goes to the supervisors' team (a team whose visibility is
  "supervisors", hub/access.py), and the agent is taken off the ticket.
- The complaint number is the ticket's number ("C-1000"): unique already, the one the
  customer's status questions use, and no second sequence to keep in step on two stores.
- Suggestions are tagged by topic (keywords per topic) and grouped by text similarity (the
  FAQ matcher's n-grams, `conversation.faq.ngram.text_similarities`); the monthly report is
  built from them here and only sent by the plugin.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from conversation.errors import InvalidInput

SUBJECTS = ("seller", "order", "agent", "feature", "other")
SEVERITIES = ("low", "normal", "high", "critical")
STATUSES = ("received", "investigating", "awaiting_outcome", "outcome_sent", "closed")
OPEN = ("received", "investigating", "awaiting_outcome")  # the outcome is not sent yet
# An agent's moves; outcome_sent is reached only by sending the outcome (`send_outcome`).
MOVES: Mapping[str, tuple[str, ...]] = {
    "received": ("investigating",),
    "investigating": ("awaiting_outcome",),
    "awaiting_outcome": ("investigating",),
    "outcome_sent": ("closed", "investigating"),
    "closed": (),
}
SEVERITY_PRIORITY = {"low": "low", "normal": "normal", "high": "high", "critical": "urgent"}
SUGGESTION_STATUSES = ("new", "reviewed")
DEFAULT_DEPARTMENTS = {
    "seller": "customer-service",
    "order": "finance",
    "agent": "supervisors",
    "feature": "technical-support",
    "other": "complaints",
}
DEFAULT_TOPICS: Mapping[str, tuple[str, ...]] = {
    "delivery": ("配送", "快递", "物流", "发货", "delivery", "shipping", "parcel", "courier"),
    "payment": ("支付", "付款", "退款", "payment", "pay", "refund", "checkout"),
    "app": ("app", "应用", "页面", "界面", "网站", "website", "page", "screen", "search", "搜索"),
    "service": ("客服", "服务", "service", "support", "agent"),
    "price": ("价格", "优惠", "价", "price", "discount", "coupon", "cheaper"),
}
OTHER_TOPIC = "other"

_COMPLAINT_WORDS = ("投诉", "举报", "控告", "complain", "complaint", "report a seller", "report the seller")
# "建议" alone is also "what do you suggest I do?": a suggestion is offered, not asked for.
_SUGGESTION_WORDS = (
    "我有个建议",
    "我有一个建议",
    "我的建议",
    "提个建议",
    "建议:",  # "建议：…" (NFKC folds the full-width colon): a suggestion written out
    "我建议",
    "提一个建议",
    "提建议",
    "建议你们",
    "建议平台",
    "建议增加",
    "建议添加",
    "建议改进",
    "希望你们",
    "希望平台",
    "意见反馈",
    "suggestion:",
    "a suggestion",
    "my suggestion",
    "i suggest",
    "feature request",
    "would be nice",
    "feedback:",
)
_SUBJECT_WORDS: Mapping[str, tuple[str, ...]] = {
    "agent": ("客服", "工作人员", "人工", "agent", "staff", "representative", "support person"),
    "seller": ("卖家", "商家", "店铺", "seller", "merchant", "shop", "store"),
    "order": ("订单", "order"),
    "feature": ("功能", "页面", "app", "网站", "feature", "website", "page"),
}
NUMBER = re.compile(r"^C-(\d{1,12})$", re.IGNORECASE)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _has_word(text: str, words: Iterable[str]) -> bool:
    """Chinese words as substrings; Latin words on word boundaries ("reported" is not "report")."""
    for word in words:
        if re.search(r"[a-z]", word):
            if re.search(rf"\b{re.escape(word)}", text):
                return True
        elif word in text:
            return True
    return False


def recognise(text: str) -> str | None:
    """ "complaint", "suggestion" or None: what a customer's message asks to file."""
    folded = _folded(text)
    if _has_word(folded, _COMPLAINT_WORDS):
        return "complaint"
    if _has_word(folded, _SUGGESTION_WORDS):
        return "suggestion"
    return None


def guess_subject(text: str) -> str | None:
    """The subject a complaint names, if it names one (an agent first: it changes who sees it)."""
    folded = _folded(text)
    return next((subject for subject, words in _SUBJECT_WORDS.items() if _has_word(folded, words)), None)


def complaint_number(ticket_number: int) -> str:
    return f"C-{ticket_number}"


def ticket_of_number(number: str) -> int | None:
    found = NUMBER.match(number.strip())
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Route:
    team: str
    priority: str
    about_agent: str  # "" unless the complaint is about an agent: kept from that agent


def route(subject: str, severity: str, departments: Mapping[str, str], *, about_agent: str = "") -> Route:
    """Which team handles a complaint and at what priority."""
    check_choice("subject", subject, SUBJECTS)
    check_choice("severity", severity, SEVERITIES)
    team = departments.get(subject) or DEFAULT_DEPARTMENTS[subject]
    return Route(team, SEVERITY_PRIORITY[severity], about_agent if subject == "agent" else "")


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def check_move(current: str, wanted: str) -> str:
    """The status an agent may move a complaint to, or InvalidInput saying which they may."""
    check_choice("status", wanted, STATUSES)
    if wanted == "outcome_sent":
        raise InvalidInput("a complaint reaches outcome_sent by sending its outcome (POST .../outcome)")
    allowed = MOVES.get(current, ())
    if wanted not in allowed:
        raise InvalidInput(f"a complaint that is {current} moves to {', '.join(allowed) or 'nothing'}, not {wanted}")
    return wanted


def check_outcome(current: str, text: str) -> str:
    if current not in OPEN:
        raise InvalidInput(f"the outcome of this complaint was sent already (it is {current})")
    text = text.strip()
    if not text:
        raise InvalidInput("outcome: write what was decided")
    return text


def resolve_refusal(complaints: Iterable[tuple[str, str]]) -> str:
    """Why a ticket may not be resolved yet ("" when it may): (number, status) of its complaints."""
    waiting = [number for number, status in complaints if status in OPEN]
    if not waiting:
        return ""
    return f"send the outcome of complaint {', '.join(waiting)} to the customer before resolving this ticket"


def may_see(about_agent: str, agent_id: str) -> bool:
    """A complaint about an agent is never shown to that agent (the access policy keeps its
    ticket from them; this holds for anything that lists complaints beside tickets)."""
    return not about_agent or about_agent != agent_id


# -- follow-ups ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FollowUp:
    id: str
    text: str
    owner: str  # an agent id
    due: datetime
    done: bool = False


def follow_ups(data: Mapping[str, object]) -> list[FollowUp]:
    items = data.get("follow_ups") or []
    assert isinstance(items, list)
    return [
        FollowUp(f["id"], f["text"], f["owner"], datetime.fromisoformat(f["due"]), bool(f.get("done")))
        for f in items
        if isinstance(f, dict)
    ]


def follow_up_doc(item: FollowUp) -> dict[str, object]:
    return {"id": item.id, "text": item.text, "owner": item.owner, "due": item.due.isoformat(), "done": item.done}


def overdue(items: Iterable[FollowUp], now: datetime) -> list[FollowUp]:
    return [f for f in items if not f.done and f.due <= now]


def next_due(items: Iterable[FollowUp]) -> datetime | None:
    """The record's deadline: its soonest open follow-up."""
    return min((f.due for f in items if not f.done), default=None)


# -- suggestions and the monthly report -------------------------------------------------
def topics_of(text: str, topics: Mapping[str, Sequence[str]]) -> list[str]:
    folded = _folded(text)
    found = [topic for topic, words in topics.items() if _has_word(folded, [_folded(w) for w in words])]
    return found or [OTHER_TOPIC]


def month_of(moment: datetime) -> str:
    return f"{moment:%Y-%m}"


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(moment: datetime) -> datetime:
    return month_start(month_start(moment) + timedelta(days=32))


def previous_month(moment: datetime) -> str:
    return month_of(month_start(moment) - timedelta(days=1))


def groups(similarities: Sequence[Sequence[float]], threshold: float) -> list[list[int]]:
    """Similar texts together (single link: a text joins a group when it is at least
    `threshold` similar to any member), biggest group first, each in input order."""
    parent = list(range(len(similarities)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, row in enumerate(similarities):
        for j in range(i + 1, len(row)):
            if row[j] >= threshold:
                parent[root(j)] = root(i)
    found: dict[int, list[int]] = {}
    for i in range(len(similarities)):
        found.setdefault(root(i), []).append(i)
    return sorted(found.values(), key=lambda g: (-len(g), g[0]))


@dataclass(frozen=True)
class TopicLine:
    topic: str
    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    month: str
    total: int
    topics: tuple[TopicLine, ...]  # most suggestions first
    groups: tuple[tuple[str, ...], ...] = field(default=())  # similar suggestions (two or more), biggest first


def report(
    month: str,
    suggestions: Sequence[tuple[str, Sequence[str]]],
    similar: Sequence[Sequence[int]],
    *,
    top: int = 10,
    examples: int = 3,
) -> Report:
    """The month's report from (text, topics) of each suggestion and its groups of indexes."""
    counts = Counter(topic for _text, topics in suggestions for topic in topics)
    lines = tuple(
        TopicLine(topic, count, tuple(text for text, topics in suggestions if topic in topics)[:examples])
        for topic, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    )
    grouped = tuple(tuple(suggestions[i][0] for i in g) for g in similar if len(g) > 1)
    return Report(month, len(suggestions), lines, grouped)
