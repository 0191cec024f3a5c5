"""Service quality: customer satisfaction surveys (CSAT) and QA reviews with scorecards.

Pure rules shared by both store backends, the `csat` plugin, the status page and the API:
- which resolved ticket gets a survey (`survey_wanted`), what answer is a rating
  (`rating_from_text`, `rating_from_choice`) and until when one counts (`takes_answer`);
- what a valid scorecard and review are, a review's weighted score and whether a critical
  criterion failed it (`review_score`), two reviewers' disagreement (`disagreement`);
- the weekly sample of resolved tickets a reviewer gets (`weekly_sample`): random per
  agent, biased to low CSAT and SLA breaches, the same for the same seed.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from conversation.errors import InvalidInput
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, Status

# -- CSAT -------------------------------------------------------------------------------------
CHOICE_PREFIX = "csat:"  # a rating button's id: "csat:4"
SCORES = (5, 4, 3, 2, 1)  # best first, as the buttons are offered
LOW_SCORE = 2  # this or lower tells the team lead
MAX_COMMENT_CHARS = 2000
# Words customers answer with where there are no buttons (compared after folding: NFKC,
# lower case, surrounding punctuation and spaces removed). Longer phrases first so that
# "很不满意" is not read as "不满意" or "满意".
RATING_WORDS: dict[str, int] = {
    "很满意": 5,
    "非常满意": 5,
    "满意": 4,
    "一般": 3,
    "不满意": 2,
    "很不满意": 1,
    "非常不满意": 1,
    "very good": 5,
    "excellent": 5,
    "great": 5,
    "good": 4,
    "ok": 3,
    "okay": 3,
    "average": 3,
    "bad": 2,
    "poor": 2,
    "very bad": 1,
    "terrible": 1,
}
_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")
_DIGIT = re.compile(r"^([1-5])(?:\s*(?:分|星|stars?|/\s*5))?$")


class SurveyStatus(StrEnum):
    ASKED = "asked"  # the question went out; no answer yet
    RATED = "rated"  # a score came; a comment may follow
    COMMENTED = "commented"  # a comment came too


@dataclass(frozen=True)
class Survey:
    """One ticket's satisfaction survey; who and what it rates is kept as the ticket stood
    when it was asked (the agent who resolved it, the team, channel and category), so the
    figures per agent or team do not move when the ticket is handed on later."""

    conversation_id: str
    number: int
    contact_id: str
    channel: str
    asked_at: datetime
    agent_id: str = ""
    team: str = ""
    category: str = ""
    language: str = ""
    status: SurveyStatus = SurveyStatus.ASKED
    score: int | None = None
    comment: str = ""
    rated_at: datetime | None = None
    commented_at: datetime | None = None
    via: str = ""  # where the score came from: a channel's buttons or words, the status page
    answer_until: datetime | None = None  # answers after this no longer count (None: no limit)

    @property
    def low(self) -> bool:
        return self.score is not None and self.score <= LOW_SCORE


def survey_to_doc(survey: Survey) -> dict[str, Any]:
    return {
        "conversation_id": survey.conversation_id,
        "number": survey.number,
        "contact_id": survey.contact_id,
        "channel": survey.channel,
        "asked_at": survey.asked_at,
        "agent_id": survey.agent_id,
        "team": survey.team,
        "category": survey.category,
        "language": survey.language,
        "status": survey.status.value,
        "score": survey.score,
        "comment": survey.comment,
        "rated_at": survey.rated_at,
        "commented_at": survey.commented_at,
        "via": survey.via,
        "answer_until": survey.answer_until,
    }


def survey_from_doc(doc: Mapping[str, Any]) -> Survey:
    return Survey(
        conversation_id=doc["conversation_id"],
        number=int(doc["number"]),
        contact_id=doc["contact_id"],
        channel=doc["channel"],
        asked_at=_aware(doc["asked_at"]),
        agent_id=doc.get("agent_id", ""),
        team=doc.get("team", ""),
        category=doc.get("category", ""),
        language=doc.get("language", ""),
        status=SurveyStatus(doc.get("status", "asked")),
        score=doc.get("score"),
        comment=doc.get("comment", ""),
        rated_at=_aware(doc.get("rated_at")),
        commented_at=_aware(doc.get("commented_at")),
        via=doc.get("via", ""),
        answer_until=_aware(doc.get("answer_until")),
    )


def _aware(value: Any) -> Any:
    """MongoDB gives naive UTC datetimes back; every datetime here carries its zone."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def credited_agent(ticket: Conversation, resolver_id: str, thread: Iterable[Message]) -> str:
    """The agent a ticket's rating is theirs: its assignee, else the agent who resolved it,
    else the last agent who answered the customer (an unassigned ticket an agent answered and
    resolved was rated for nobody, a trial found)."""
    if ticket.assignee_id or resolver_id:
        return ticket.assignee_id or resolver_id
    replies = [
        m.author_id
        for m in thread
        if m.author_type is AuthorType.AGENT and m.kind is MessageKind.MESSAGE and m.direction is Direction.OUTBOUND
    ]
    return replies[-1] if replies else ""


def new_survey(
    ticket: Conversation,
    now: datetime,
    language: str,
    answer_for: timedelta | None = None,
    *,
    agent_id: str | None = None,
) -> Survey:
    """The survey asked now on a resolved ticket; answers count for `answer_for` (None: always);
    `agent_id`: whose the rating is (credited_agent; None: the assignee)."""
    return Survey(
        conversation_id=ticket.id,
        number=ticket.number,
        contact_id=ticket.contact_id,
        channel=ticket.channel,
        asked_at=now,
        agent_id=ticket.assignee_id if agent_id is None else agent_id,
        team=ticket.team,
        category=ticket.category,
        language=language,
        answer_until=now + answer_for if answer_for is not None else None,
    )


def asked_of(surveyed: Conversation | None, address: str) -> bool:
    """Whether `address` may answer the survey of the ticket `surveyed`: the identity that
    opened it, whom the survey asked. Surveys are found by contact, and after agents merged two
    people's contacts one person's "1" must not rate the other's ticket."""
    return surveyed is not None and surveyed.customer_address in ("", address)


def rated(survey: Survey, score: int, now: datetime, via: str) -> Survey:
    """The survey with this score (a later answer replaces an earlier one: the customer changed their mind)."""
    if score not in SCORES:
        raise InvalidInput("score: expected a whole number from 1 to 5")
    status = SurveyStatus.COMMENTED if survey.status is SurveyStatus.COMMENTED else SurveyStatus.RATED
    return replace(survey, score=score, rated_at=now, via=via, status=status)


def commented(survey: Survey, comment: str, now: datetime) -> Survey:
    text = comment.strip()
    if not text:
        raise InvalidInput("comment: empty")
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"comment: at most {MAX_COMMENT_CHARS} characters")
    return replace(survey, comment=text, commented_at=now, status=SurveyStatus.COMMENTED)


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_EDGES.sub("", folded).split())


def rating_from_text(text: str) -> int | None:
    """A typed answer that is only a rating: "4", "５", "4分", "5 stars", "很满意", "very good"; else None."""
    folded = _fold(text)
    if not folded or len(folded) > 20:
        return None
    digit = _DIGIT.match(folded)
    if digit:
        return int(digit.group(1))
    return RATING_WORDS.get(folded)


def rating_from_choice(choice_id: str) -> int | None:
    """A tapped rating button ("csat:4"); None for any other choice."""
    if not choice_id.startswith(CHOICE_PREFIX):
        return None
    value = choice_id.removeprefix(CHOICE_PREFIX)
    return int(value) if value.isdigit() and int(value) in SCORES else None


def rating_choice(score: int) -> str:
    return f"{CHOICE_PREFIX}{score}"


class NoSurvey(StrEnum):
    """Why a resolved ticket gets no survey (for the log and the tests)."""

    NOT_RESOLVED = "not_resolved"
    CATEGORY_OFF = "category_off"
    AUTOMATIC = "automatic"  # opened by an auto-reply or bounce
    BOT_ONLY = "bot_only"  # no person of ours wrote to the customer
    COOLDOWN = "cooldown"  # this contact was asked recently
    QUESTION_ONLY = "question_only"  # a status question's own ticket


def survey_wanted(
    ticket: Conversation,
    messages: Sequence[Message],
    *,
    categories: Mapping[str, bool],
    last_asked: datetime | None,
    cooldown: timedelta,
    now: datetime,
) -> NoSurvey | None:
    """None when the resolved ticket should be surveyed, else why not. `categories` turns
    single categories off (or on: a missing category is on); `last_asked` is when this
    contact was last asked, on any ticket."""
    if ticket.status is not Status.RESOLVED or ticket.merged_into:
        return NoSurvey.NOT_RESOLVED
    if ticket.resolved_at is not None and ticket.resolved_at == ticket.created_at:
        return NoSurvey.QUESTION_ONLY
    if not categories.get(ticket.category or "", True):
        return NoSurvey.CATEGORY_OFF
    customer = [m for m in messages if m.direction is Direction.INBOUND and m.kind is MessageKind.MESSAGE]
    if customer and all(m.automatic for m in customer):
        return NoSurvey.AUTOMATIC
    if not any(
        m.direction is Direction.OUTBOUND and m.kind is MessageKind.MESSAGE and m.author_type is AuthorType.AGENT
        for m in messages
    ):
        return NoSurvey.BOT_ONLY
    if last_asked is not None and now - last_asked < cooldown:
        return NoSurvey.COOLDOWN
    return None


def takes_answer(survey: Survey, now: datetime) -> bool:
    """A score still counts until the survey's `answer_until` (after a reopen or a close too)."""
    return survey.answer_until is None or now <= survey.answer_until


def awaits_comment(survey: Survey, now: datetime, window: timedelta) -> bool:
    """The next typed message is the survey's comment: rated, no comment yet, and soon after the score."""
    return survey.status is SurveyStatus.RATED and survey.rated_at is not None and now - survey.rated_at <= window


COMMENT_LOOKS_MAX_CHARS = 280  # longer than this after a rating reads as a new request, not a remark
# Words that ask for something: a message with one of them (or a question mark) goes to the
# queue as an ordinary message, even on the survey's thread right after a rating. A lost
# request costs far more than a comment kept as a message.
_ASKS = re.compile(
    r"[?？]|帮|请问|怎么|如何|为什么|为何|能不能|能否|可以吗|是否|还没|没有收到|问题"
    r"|\b(help|how|why|when|where|what|can you|could you|would you|need|still|issue|problem)\b",
    re.IGNORECASE,
)


def reads_as_comment(text: str) -> bool:
    """Whether a typed message right after a rating reads as a remark on the service ("态度不错，
    就是太慢了") rather than a new request: short, no question mark, no asking words."""
    folded = unicodedata.normalize("NFKC", text).strip()
    return 0 < len(folded) <= COMMENT_LOOKS_MAX_CHARS and _ASKS.search(folded) is None


@dataclass(frozen=True)
class Figure:
    """An average and its count for one group (an agent, team, channel or category; "" for all)."""

    key: str
    average: float | None
    count: int


GROUPS = ("agent_id", "team", "channel", "category")  # what CSAT and QA figures are grouped by


def check_group(by: str) -> str:
    if by and by not in GROUPS:
        raise InvalidInput(f"by: one of {', '.join(GROUPS)}")
    return by


# -- QA scorecards and reviews -------------------------------------------------------------------
class CriterionKind(StrEnum):
    YES_NO = "yes_no"  # 1 yes, 0 no
    SCALE = "scale"  # 1 to 5


MAX_CRITERIA = 30
MAX_NAME = 200
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Criterion:
    id: str
    label: str
    kind: CriterionKind = CriterionKind.SCALE
    weight: float = 1.0
    critical: bool = False  # a "no" (or a 1) fails the whole review


@dataclass(frozen=True)
class Scorecard:
    id: str
    name: str
    criteria: tuple[Criterion, ...]
    active: bool = True
    updated_at: datetime | None = None


def scorecard_to_doc(card: Scorecard) -> dict[str, Any]:
    return {
        "id": card.id,
        "name": card.name,
        "active": card.active,
        "updated_at": card.updated_at,
        "criteria": [
            {"id": c.id, "label": c.label, "kind": c.kind.value, "weight": c.weight, "critical": c.critical}
            for c in card.criteria
        ],
    }


def scorecard_from_doc(doc: Mapping[str, Any]) -> Scorecard:
    """A scorecard from stored or submitted JSON; InvalidInput naming the first problem."""
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput(f"name: a text of 1 to {MAX_NAME} characters")
    raw = doc.get("criteria")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CRITERIA:
        raise InvalidInput(f"criteria: a list of 1 to {MAX_CRITERIA} criteria")
    criteria: list[Criterion] = []
    for i, item in enumerate(raw):
        criteria.append(_criterion(item, f"criteria.{i}"))
    if len({c.id for c in criteria}) != len(criteria):
        raise InvalidInput("criteria: each id once")
    if sum(c.weight for c in criteria) <= 0:
        raise InvalidInput("criteria: at least one weight above 0")
    return Scorecard(
        id=str(doc.get("id", "")),
        name=name.strip(),
        criteria=tuple(criteria),
        active=bool(doc.get("active", True)),
        updated_at=_aware(doc.get("updated_at")),
    )


def _criterion(item: Any, where: str) -> Criterion:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{where}: expected an object")
    cid, label = item.get("id"), item.get("label")
    if not isinstance(cid, str) or not _ID.match(cid):
        raise InvalidInput(f"{where}.id: lower-case letters, digits, - and _ (start with a letter)")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_NAME:
        raise InvalidInput(f"{where}.label: a text of 1 to {MAX_NAME} characters")
    try:
        kind = CriterionKind(item.get("kind", CriterionKind.SCALE.value))
    except ValueError:
        raise InvalidInput(f"{where}.kind: yes_no or scale") from None
    weight = item.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 100:
        raise InvalidInput(f"{where}.weight: a number from 0 to 100")
    critical = item.get("critical", False)
    if not isinstance(critical, bool):
        raise InvalidInput(f"{where}.critical: true or false")
    return Criterion(cid, label.strip(), kind, float(weight), critical)


@dataclass(frozen=True)
class Review:
    """One reviewer's review of one ticket against a scorecard; `score` is 0-100."""

    id: str
    conversation_id: str
    number: int
    scorecard_id: str
    reviewer_id: str
    agent_id: str  # whose work it reviews: the ticket's assignee when reviewed
    scores: Mapping[str, int]
    created_at: datetime
    score: float
    failed: bool  # a critical criterion failed: the review fails whatever its score
    comment: str = ""
    notes: Mapping[str, str] = field(default_factory=dict)  # a comment per criterion
    team: str = ""
    channel: str = ""
    category: str = ""


def review_to_doc(review: Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "conversation_id": review.conversation_id,
        "number": review.number,
        "scorecard_id": review.scorecard_id,
        "reviewer_id": review.reviewer_id,
        "agent_id": review.agent_id,
        "scores": dict(review.scores),
        "notes": dict(review.notes),
        "created_at": review.created_at,
        "score": review.score,
        "failed": review.failed,
        "comment": review.comment,
        "team": review.team,
        "channel": review.channel,
        "category": review.category,
    }


def review_from_doc(doc: Mapping[str, Any]) -> Review:
    return Review(
        id=doc["id"],
        conversation_id=doc["conversation_id"],
        number=int(doc["number"]),
        scorecard_id=doc["scorecard_id"],
        reviewer_id=doc["reviewer_id"],
        agent_id=doc.get("agent_id", ""),
        scores={k: int(v) for k, v in doc.get("scores", {}).items()},
        notes=dict(doc.get("notes", {})),
        created_at=_aware(doc["created_at"]),
        score=float(doc["score"]),
        failed=bool(doc.get("failed", False)),
        comment=doc.get("comment", ""),
        team=doc.get("team", ""),
        channel=doc.get("channel", ""),
        category=doc.get("category", ""),
    )


def check_scores(card: Scorecard, scores: Mapping[str, Any]) -> dict[str, int]:
    """Every criterion scored within its kind, nothing else; InvalidInput naming the first problem."""
    known = {c.id for c in card.criteria}
    extra = sorted(set(scores) - known)
    if extra:
        raise InvalidInput(f"scores.{extra[0]}: not a criterion of this scorecard")
    checked: dict[str, int] = {}
    for c in card.criteria:
        if c.id not in scores:
            raise InvalidInput(f"scores.{c.id}: missing (every criterion is scored)")
        value = scores[c.id]
        allowed = (0, 1) if c.kind is CriterionKind.YES_NO else (1, 2, 3, 4, 5)
        if isinstance(value, bool) and c.kind is CriterionKind.YES_NO:
            value = int(value)
        if isinstance(value, bool) or value not in allowed:
            wanted = "0 (no) or 1 (yes)" if c.kind is CriterionKind.YES_NO else "1 to 5"
            raise InvalidInput(f"scores.{c.id}: {wanted}")
        assert isinstance(value, int)
        checked[c.id] = value
    return checked


def _share(c: Criterion, value: int) -> float:
    """A criterion's answer as a share of its best: yes 1, no 0; a scale 1..5 as 0..1."""
    return float(value) if c.kind is CriterionKind.YES_NO else (value - 1) / 4


def _fails(c: Criterion, value: int) -> bool:
    return c.critical and (value == 0 if c.kind is CriterionKind.YES_NO else value == 1)


class TicketNotDone(InvalidInput):
    """A review of a ticket still being worked: only resolved or closed tickets are reviewed."""

    code = "ticket_not_resolved"


def check_reviewable(ticket: Conversation) -> None:
    """TicketNotDone unless the ticket is resolved or closed (its work is finished)."""
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise TicketNotDone(
            f"ticket #{ticket.number} is {ticket.status.value}: only resolved or closed tickets are reviewed"
        )


def review_score(card: Scorecard, scores: Mapping[str, int]) -> tuple[float, bool]:
    """The weighted score (0-100, one decimal) and whether a critical criterion failed it.
    A failed review scores 0, whatever the other criteria earned: so every average of
    reviews (figures, reports) counts it as the fail it is, not as its points."""
    failed = any(_fails(c, scores[c.id]) for c in card.criteria)
    if failed:
        return 0.0, True
    total = sum(c.weight for c in card.criteria)
    earned = sum(c.weight * _share(c, scores[c.id]) for c in card.criteria)
    return round(100 * earned / total, 1), failed


@dataclass(frozen=True)
class Disagreement:
    """Two reviewers on one criterion: their answers and how far apart, as a share of the scale."""

    criterion: str
    scores: tuple[int, ...]
    spread: float  # 0 agree ... 1 opposite ends


def disagreement(card: Scorecard, reviews: Sequence[Review]) -> list[Disagreement]:
    """Per criterion, the reviewers' answers on one ticket (calibration): the spread between
    the highest and lowest, as a share of the criterion's scale."""
    same = [r for r in reviews if r.scorecard_id == card.id]
    if len(same) < 2:
        return []
    found = []
    for c in card.criteria:
        answers = tuple(r.scores[c.id] for r in same if c.id in r.scores)
        if len(answers) < 2:
            continue
        found.append(Disagreement(c.id, answers, round(_share(c, max(answers)) - _share(c, min(answers)), 3)))
    return found


# -- the weekly sample -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A resolved ticket that may be sampled for review."""

    conversation_id: str
    agent_id: str
    resolved_at: datetime
    csat: int | None = None
    sla_breached: bool = False


LOW_CSAT_WEIGHT = 4.0  # a ticket rated low is this many times likelier to be picked
BREACH_WEIGHT = 3.0  # and one whose SLA was breached


def week_of(day: date, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
    """The ISO week (Monday 00:00 to the next Monday in `zone`, as UTC instants) holding `day`."""
    monday = day - timedelta(days=day.weekday())
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    end = start + timedelta(days=7)  # wall-clock arithmetic: a DST change keeps Monday 00:00
    return start.astimezone(UTC), end.astimezone(UTC)


def week_name(day: date) -> str:
    """ "2027-W05": the ISO week holding `day`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
    """ "2027-W05" -> that ISO week in `zone`; InvalidInput otherwise."""
    match = re.fullmatch(r"(\d{4})-W(\d{2})", text)
    if not match:
        raise InvalidInput("week: like 2027-W05")
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise InvalidInput("week: no such ISO week") from None
    return week_of(monday, zone)


def candidate_weight(candidate: Candidate) -> float:
    weight = 1.0
    if candidate.csat is not None and candidate.csat <= LOW_SCORE:
        weight *= LOW_CSAT_WEIGHT
    if candidate.sla_breached:
        weight *= BREACH_WEIGHT
    return weight


def weekly_sample(candidates: Iterable[Candidate], size: int, seed: str) -> list[Candidate]:
    """Up to `size` tickets per agent, drawn without replacement with `candidate_weight`
    (Efraimidis-Spirakis keys), from a generator seeded by `seed` and the agent: the same
    seed and tickets give the same sample on any machine, another week or seed another."""
    by_agent: dict[str, list[Candidate]] = {}
    for c in sorted(candidates, key=lambda c: c.conversation_id):
        if c.agent_id:
            by_agent.setdefault(c.agent_id, []).append(c)
    picked: list[Candidate] = []
    for agent, tickets in sorted(by_agent.items()):
        digest = hashlib.sha256(f"{seed}\x1f{agent}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        keyed = [(rng.random() ** (1 / candidate_weight(c)), c) for c in tickets]
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        picked.extend(c for _, c in keyed[:size])
    return picked
