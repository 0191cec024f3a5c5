""" "How is my ticket?": the rules the `progress` plugin, the routing of a status question
and the status page share. Pure functions: no store, no channel.

What counts as a status question is deliberately narrow: the whole message must be one
of a few phrasings ("查询工单 1042", "工单进度", "status of #1042", "where is my ticket",
"my ticket status"), with at most one ticket number. A message that says anything more
("where is my ticket, the refund is wrong") is an ordinary message: it reopens, it opens a
ticket, an agent reads it. A bare number counts only as the answer to the greeting, and only
when it is one of the customer's own tickets, which the plugin alone can tell (routing never
treats a bare number as a question: it may be an order number an agent asked for).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from conversation.delivery_errors import WITHHELD
from conversation.identity import COPY_OF, seen_by_customer
from conversation.model import (
    AuthorType,
    Contact,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessageKind,
    Status,
)
from conversation.ticket_changes import TicketChange

CHOICE_PREFIX = "progress:"  # a button's id: "progress:1042"
LIVE = (Status.OPEN, Status.PENDING, Status.SNOOZED)
MAX_LISTED = 5  # tickets offered when the customer has several and named none
SNIPPET_CHARS = 80

_NUMBER = re.compile(r"(?<![\d])(?:#\s*|no\.\s*)?(\d{1,9})(?![\d])")
_EDGE_PUNCTUATION = " \t\r\n?!.,:;~…" + "？！。，：；～"
_ZH = r"(?:请|麻烦)?(?:帮我)?(?:查询一下|查一下|查询|查看|查)?(?:我的|下)?"
_PHRASES = re.compile(
    "|".join(
        (
            _ZH + r"工单(?:的)?(?:进度|状态|进展|处理情况)?(?:查询)?(?:怎么样了?|如何了?)?",
            _ZH + r"(?:工单)?(?:进度|进展)(?:查询)?",
            _ZH + r"工单(?:有)?(?:进展|进度|结果|消息)(?:了)?吗",
            _ZH + r"工单(?:处理)?(?:得)?(?:怎么样了?|如何了?)",
            r"(?:please )?(?:what(?: is|'s) )?(?:the )?status(?: of)?(?: my)?(?: ticket)?",
            r"(?:please )?(?:check|track)(?: my)?(?: ticket)?(?: status)?",
            r"(?:my )?ticket(?: status| progress)?",
            r"where(?: is|'s) my ticket",
            r"how(?: is|'s) my ticket(?: going| doing)?",
            # the ticket named first: "my ticket, how is it going?", "ticket 1042: any update?"
            r"(?:my )?ticket ?[,:]? (?:how(?: is|'s) it (?:going|doing)|any (?:news|updates?))",
            r"(?:is there )?any (?:news|updates?) (?:on|about|for) my ticket",
            r"what(?: is|'s) happening with my ticket",
        )
    )
)


# Courtesy around the question says nothing else: "hi, status of #1042 please, thanks" (a
# trial's "status of #1003 please" was filed as an ordinary message).
_GREETING = re.compile(r"^(?:(?:hi there|hi|hello|hey|dear support|您好|你好)[\s,，!！:：]*)+")
_THANKS = re.compile(
    r"(?:[\s,，]*(?:please|pls|plz|thanks in advance|thanks|thank you|thx|cheers"
    r"|谢谢您|谢谢|谢了|多谢|麻烦了|请回复))+$"
)


@dataclass(frozen=True, slots=True)
class StatusQuestion:
    number: int | None = None  # the ticket asked about; None: "my tickets"


def _normalised(text: str) -> str:
    # NFKC folds full-width digits and '＃' (typed on Chinese keyboards) into ASCII.
    folded = unicodedata.normalize("NFKC", text).replace("’", "'").lower()
    return " ".join(folded.split()).strip(_EDGE_PUNCTUATION)


def status_question(text: str) -> StatusQuestion | None:
    """The question when the whole message asks where a ticket stands, else None."""
    if len(text) > 80:  # a question this long says something else too
        return None
    normal = _normalised(text)
    numbers = _NUMBER.findall(normal)
    if len(numbers) > 1:
        return None
    rest = _NUMBER.sub(" ", normal) if numbers else normal
    rest = " ".join(rest.split()).strip(_EDGE_PUNCTUATION)
    rest = re.sub(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])", "", rest)  # "工单 的进度"
    rest = _THANKS.sub("", _GREETING.sub("", rest)).strip(_EDGE_PUNCTUATION)
    if not rest or not _PHRASES.fullmatch(rest):
        return None
    return StatusQuestion(int(numbers[0]) if numbers else None)


def bare_number(text: str) -> int | None:
    """A message that is only a ticket number ("1042", "#1042")."""
    found = re.fullmatch(r"#?\s*(\d{1,9})", _normalised(text))
    return int(found.group(1)) if found else None


def chosen_number(choice_id: str) -> int | None:
    """The ticket number of a button this plugin offered, else None."""
    if not choice_id.startswith(CHOICE_PREFIX):
        return None
    digits = choice_id[len(CHOICE_PREFIX) :]
    return int(digits) if digits.isdigit() and len(digits) <= 9 else None


def may_see(ticket: Conversation, asker: Contact, channel: str, address: str) -> bool:
    """Whether the person writing as (channel, address) may learn where `ticket` stands.

    Only its own customer: the identity that opened it, or another identity of the same
    contact that the channel verified (a mail from the address, a Slack account's email).
    One contact is not enough: agents may have merged two people into one contact, and an
    unverified identity joined by hand must not read the other's ticket. A ticket merged
    away stands nowhere of its own (see `merged_away`).
    """
    return not ticket.merged_into and owns(ticket, asker, channel, address)


def merged_away(ticket: Conversation, asker: Contact, channel: str, address: str) -> bool:
    """The asker's own ticket, merged into another: they are told so, and where it goes on
    when that one is theirs too (a trial's customer, merged into another customer's ticket,
    was told to ask "from the address you wrote from": the one they were writing from)."""
    return bool(ticket.merged_into) and owns(ticket, asker, channel, address)


def owns(ticket: Conversation, asker: Contact, channel: str, address: str) -> bool:
    """The ticket's own customer is writing (may_see's rule, merged or not)."""
    if ticket.contact_id != asker.id:
        return False
    if not ticket.customer_address or (ticket.channel, ticket.customer_address) == (channel, address):
        return True
    return any(i.channel == channel and i.address == address and i.verified for i in asker.identities)


def listed(tickets: Iterable[Conversation], asker: Contact, channel: str, address: str) -> list[Conversation]:
    """The asker's own live tickets, newest first (the offer shows MAX_LISTED of them)."""
    own = [t for t in tickets if t.status in LIVE and may_see(t, asker, channel, address)]
    own.sort(key=lambda t: t.last_message_at, reverse=True)
    return own


def latest_finished(tickets: Iterable[Conversation], asker: Contact, channel: str, address: str) -> Conversation | None:
    """The asker's own most recent resolved or closed ticket, merged away or not (not one kept
    only for a status question): what "how is my ticket?" is about when nothing is open. A
    trial's customer whose only ticket was merged into another's heard "you have no tickets"."""
    own = [
        t
        for t in tickets
        if t.status in (Status.RESOLVED, Status.CLOSED)
        and not only_a_question(t)
        and (may_see(t, asker, channel, address) or merged_away(t, asker, channel, address))
    ]
    return max(own, key=lambda t: t.last_message_at, default=None)


def only_a_question(ticket: Conversation) -> bool:
    """A ticket opened only to keep a status question (routing.Route.QUESTION_NEW): resolved
    from the moment it was opened. Both backends' inbox queries say the same in their own
    terms (NOT_ONLY_A_QUESTION) to leave these tickets out of the agents' views."""
    return ticket.status is Status.RESOLVED and ticket.resolved_at == ticket.created_at


ANSWERS = "answers"  # a bot message's raw: the id of the customer's message it answers


def left_midway(ticket: Conversation, reply: Message, code: str) -> bool:
    """A bot's message on an open ticket no person has taken or been asked for was held back
    on purpose (`code`, the delivery error's, in WITHHELD): the customer is left in the middle
    of what the bot was doing with them (a trial's dispute by mail stopped at its fourth
    question, with no one told), so the ticket must go to a person. Other failures (a relay
    outage, a forged sender's bounce, a channel that only receives) fail every bot message
    alike and stay failed in the thread. Not a copy of a message sent elsewhere."""
    return (
        code in WITHHELD
        and reply.author_type is AuthorType.BOT
        and not (reply.raw or {}).get(COPY_OF)
        and ticket.status is Status.OPEN
        and not ticket.merged_into
        and not ticket.human_owned
    )


def unanswered_on_resolved(ticket: Conversation, reply: Message, thread: Sequence[Message]) -> bool:
    """A bot's answer failed for good (refused, bounced, over the auto-reply budget) on a
    resolved ticket: the customer's message it answered, written after the ticket was resolved
    (a status question, a question-only ticket's included), is unanswered and out of every
    view, unless the customer has been told something since. Then the ticket must go back to
    the agents. Not a notice or survey (a bot says those of its own accord), nor an agent's
    reply (the agent saw it fail), nor an answer to a message from before the resolution."""
    if reply.author_type is not AuthorType.BOT or ticket.status is not Status.RESOLVED or ticket.merged_into:
        return False
    answered_id = (reply.raw or {}).get(ANSWERS)
    answered = next((m for m in thread if m.id == answered_id and m.direction is Direction.INBOUND), None)
    if answered is None or ticket.resolved_at is None or answered.created_at < ticket.resolved_at:
        return False
    since = {m.id for m in thread if m.direction is Direction.INBOUND and m.created_at >= answered.created_at}

    def answers_them(m: Message) -> bool:
        """Delivered after the failed answer: an agent's reply, or a bot's answer to this
        message or a later one (a survey or notice answers nothing they asked)."""
        if (
            m.direction is not Direction.OUTBOUND
            or m.kind is not MessageKind.MESSAGE
            or m.created_at <= reply.created_at
        ):
            return False
        if m.delivery is None or m.delivery.status is not DeliveryStatus.SENT:
            return False
        return m.author_type is AuthorType.AGENT or (m.raw or {}).get(ANSWERS) in since

    return not any(answers_them(m) for m in thread)


def next_step(ticket: Conversation, *, team_away: bool = False) -> str:
    """The catalog key of what happens next on the ticket. `team_away`: its team is out of
    hours now (its calendar): it is back later, not "picking it up soon" (a trial's customer
    was promised that at 01:51 on a Sunday by a team closed until Monday 09:00)."""
    if ticket.status is Status.OPEN:
        if team_away and ticket.team:
            return "progress.next.team_away"
        step = "progress.next.working" if ticket.assignee_id else "progress.next.queued"
        return step if ticket.team else f"{step}_no_team"
    return f"progress.next.{ticket.status.value}"


def public_history(messages: Iterable[Message], ticket: Conversation) -> list[Message]:
    """What the ticket's customer may see of its thread: messages by or to them, never
    notes or system events (the same rule as the channels' own history)."""
    return [m for m in messages if seen_by_customer(m, ticket.customer_address)]


def last_update(messages: Sequence[Message], ticket: Conversation) -> Message | None:
    """The newest public message a person of the team wrote to the customer: bots' automatic
    texts (a greeting, an earlier status answer) are not news, nor the customer's own words."""
    public = public_history(messages, ticket)
    written = [m for m in public if m.direction is Direction.OUTBOUND and m.author_type is AuthorType.AGENT]
    return written[-1] if written else None


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- telling the customer about changes -------------------------------------------------
NOTICE_EVENTS = ("team", "pending", "resolved")


@dataclass(frozen=True, slots=True)
class Notice:
    event: str  # one of NOTICE_EVENTS
    mark: str  # what makes it this event and no other: told once per mark (EventContext.tell_once)


def notice_for(change: TicketChange) -> Notice | None:
    """What a change of a ticket tells its customer, if anything: a move from one team to
    another (a first team is no news), waiting for the customer (pending), resolved. The
    mark is the team it went to, or the customer's latest message it waits on or was resolved
    after: the same change seen twice (a double click, a retried request, two hubs) has the
    same mark, while a move back, or a resolve after the customer wrote again, is a new event."""
    ticket = change.conversation
    if change.kind == "team" and change.before and change.after:
        return Notice("team", str(change.after))
    if change.kind == "status" and change.after == Status.RESOLVED.value:
        # Once per customer message, not per resolve: resolved, reopened by an agent and
        # resolved again (a slip undone) is no news to a customer who wrote nothing since.
        return Notice("resolved", _moment(ticket.last_inbound_at))
    if change.kind == "status" and change.after == Status.PENDING.value:
        return Notice("pending", _moment(ticket.last_inbound_at))
    return None


def notice_key(notice: Notice, *, agent_wrote: bool) -> str:
    """The catalog key of a notice's text. "Please see our last message" only makes sense
    when the team wrote one: a ticket set to pending before any agent's reply asks neutrally."""
    if notice.event == "pending" and not agent_wrote:
        return "progress.notice.pending_no_message"
    return f"progress.notice.{notice.event}"


def _moment(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "-"
