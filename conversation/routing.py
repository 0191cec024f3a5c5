"""Which conversation an inbound message belongs to: one rule, shared by every backend."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

from conversation.codec import subject_from
from conversation.inbound import Inbound
from conversation.model import AuthorType, Conversation, Direction, Message, MessageKind, Priority, Status, new_id
from conversation.priority_rules import KeywordMatch, KeywordRules, PrioritySource, priority_from_keywords
from conversation.progress import chosen_number, status_question


class Route(Enum):
    APPEND = "append"  # the conversation is live: add the message
    REOPEN = "reopen"  # resolved recently: reopen it and add the message
    OPEN_NEW = "open_new"  # nothing live on this thread: a new ticket
    # A status question ("查询工单 1042", conversation/progress.py) only asks: it is kept and
    # answered in the ticket of its thread, whose status it leaves as it is (asking does not
    # reopen a resolved ticket, nor bring back a pending one) ...
    QUESTION = "question"
    # ... and on a thread with no ticket to keep it in (or a closed one), it is kept in a new
    # ticket that is resolved from the start: the question and its answer are stored, the
    # agents' queue does not grow. Such a ticket stays out of the inbox views, their counts and
    # the contact card (ConversationQuery.hide_questions) and is no ticket.created. Writing again
    # there within the window reopens it as usual, and it is then a ticket like any other.
    QUESTION_NEW = "question_new"
    # The thread's newest ticket is another sender's (own_thread), open or closed: nothing is
    # stored here, ingest routes the message on its sender's own thread instead. A closed one
    # counts too, or the thread would pass to whoever wrote next, and its owner's next message
    # would go elsewhere.
    ELSEWHERE = "elsewhere"
    # A machine's answer (a vacation reply, an auto-acknowledgement: Inbound.auto_reply) on a thread
    # whose ticket is not closed: kept in it, its status left as it is. A customer's vacation
    # reply to the "resolved" notice reopened the ticket, whose next resolve it answered again
    # (a trial: three rounds), and one to "please send your order number" woke a pending ticket.
    AUTOMATIC = "automatic"


QUIET = (Route.QUESTION, Route.QUESTION_NEW, Route.AUTOMATIC)  # routes that change no ticket's status


def asks_status(inbound: Inbound, answered: bool, *, answers_bot: bool = False) -> bool:
    """Whether the message only asks where a ticket stands, when a plugin answers such
    questions (`answered`: Ticketing.status_questions), or only answers a bot's question
    (`answers_bot`: a satisfaction rating, which must neither reopen the ticket nor open one);
    else every message is ordinary."""
    if inbound.attachments or inbound.automatic:
        return False
    if answers_bot:
        return True
    if not answered:
        return False
    return chosen_number(inbound.choice_id) is not None or status_question(inbound.text) is not None


class RoutingPolicy(Protocol):
    """What routing reads of the ticketing policy (areas.tickets.Ticketing)."""

    @property
    def reopen_window(self) -> timedelta: ...

    @property
    def status_questions(self) -> bool: ...

    @property
    def answers_bot(self) -> bool: ...


def route_on_thread(inbound: Inbound, latest: Conversation | None, now: datetime, policy: RoutingPolicy) -> Route:
    """Both stores' decision for a message on its thread, whose newest ticket is `latest`."""
    if latest is not None and own_thread(inbound, latest):
        return Route.ELSEWHERE
    question = asks_status(inbound, policy.status_questions, answers_bot=policy.answers_bot)
    return route_inbound(latest, now, policy.reopen_window, question=question, auto_reply=inbound.auto_reply)


def route_inbound(
    latest: Conversation | None,
    now: datetime,
    reopen_window: timedelta,
    *,
    question: bool = False,
    auto_reply: bool = False,
) -> Route:
    """Decide for the newest conversation on the message's (channel, thread key);
    `question`: the message only asks where a ticket stands (see Route.QUESTION);
    `auto_reply`: a machine answered (see Route.AUTOMATIC)."""
    if latest is None or latest.status is Status.CLOSED:
        return Route.QUESTION_NEW if question else Route.OPEN_NEW
    if question:
        return Route.QUESTION
    if auto_reply:
        return Route.AUTOMATIC
    if latest.status is Status.RESOLVED:
        resolved_at = latest.resolved_at or latest.last_message_at
        return Route.REOPEN if now - resolved_at <= reopen_window else Route.OPEN_NEW
    return Route.APPEND


# Joins the thread and the sender in the sealed key below: a control character, which the
# webhook refuses in every identifier and validate_inbound refuses in an own-threads channel's
# thread and sender (conversation/inbound.py), so no sender can name that key themselves.
THREAD_SEAL = "\x1f"
# "<thread>~<sender>", then (when another sender took that one first) the sealed key no one
# else can name: own_thread never leads further.
OWN_THREAD_STEPS = 2


def own_thread(inbound: Inbound, conversation: Conversation) -> str:
    """The thread key a message goes to instead of `conversation` when it names a thread that
    belongs to another sender (Inbound.own_threads): one of its sender's own, so a platform user
    naming a seller's dispute thread neither joins that ticket nor is answered as the seller.
    "" when the message may join. First "<thread>~<sender>", the key the platform is told
    (and may name back); when yet another sender holds that one (it named it first, to catch
    this sender's messages), the sealed key only this sender's messages can reach."""
    owner = conversation.customer_address
    if not inbound.own_threads or not owner or owner == inbound.sender.address:
        return ""
    return _next_own_key(inbound.thread_key, inbound.sender.address)


def _next_own_key(thread: str, sender: str) -> str:
    """Where `sender`'s message goes from `thread` when that is another's ("" from a sealed key:
    only this sender reaches it, so a ticket there of someone else's, an agent changed its
    customer, is still no other sender's thread to join)."""
    if THREAD_SEAL in thread:
        return ""
    if thread.endswith(f"~{sender}"):
        return f"{thread.removesuffix(f'~{sender}')}{THREAD_SEAL}{sender}"
    return f"{thread}~{sender}"


def own_thread_keys(inbound: Inbound) -> tuple[str, ...]:
    """Every thread key a message may be routed to: its own, and on a channel of own threads
    those `own_thread` leads its sender to when that thread is another's."""
    keys = [inbound.thread_key]
    for _ in range(OWN_THREAD_STEPS if inbound.own_threads else 0):
        if not (following := _next_own_key(keys[-1], inbound.sender.address)):
            break
        keys.append(following)
    return tuple(keys)


def shown_thread(thread_key: str) -> str:
    """A thread key as a channel's platform is told it: a sealed key reads as "<thread>~<sender>",
    which leads back to it when named (own_thread)."""
    return thread_key.replace(THREAD_SEAL, "~")


def team_for(own_team: str, category_team: str, default_team: str) -> str:
    """The team a ticket is in, or will be routed to: its own, else its category's default team,
    else `[routing] default_team` ("": it waits unrouted)."""
    return own_team or category_team or default_team


def opens_ticket(route: Route) -> bool:
    return route in (Route.OPEN_NEW, Route.QUESTION_NEW)


KEYWORD_RULE = PrioritySource("rule", "keywords")


def new_conversation(
    inbound: Inbound,
    contact_id: str,
    now: datetime,
    number: int,
    previous: Conversation | None,
    route: Route = Route.OPEN_NEW,
    keywords: KeywordRules | None = None,
    team: str = "",
) -> Conversation:
    """The ticket a message opens; `previous` is the one before it on the thread (linked).
    A status question's is resolved from the start (Route.QUESTION_NEW); otherwise a
    configured keyword in the message sets its priority from the start. `team`: the team it
    is opened in (a held complaint's, `held_team`)."""
    answered = route is Route.QUESTION_NEW
    match = priority_from_keywords(inbound.text, keywords, Priority.NORMAL) if keywords and not answered else None
    return Conversation(
        id=new_id(),
        number=number,
        channel=inbound.channel,
        thread_key=inbound.thread_key,
        contact_id=contact_id,
        subject=subject_from(inbound.subject, inbound.text, [a.name for a in inbound.attachments]),
        created_at=now,
        last_message_at=now,
        last_inbound_at=now,
        previous_id=previous.id if previous else "",
        participants=merged_participants([], inbound.participants),
        customer_address=inbound.sender.address,
        priority=match.priority if match else Priority.NORMAL,
        priority_set_by=KEYWORD_RULE.recorded if match else "",
        status=Status.RESOLVED if answered else Status.OPEN,
        resolved_at=now if answered else None,
        team=team,
    )


def held_team(current: str, hold_team: str, held_teams: frozenset[str]) -> str:
    """The team a ticket must be in while a message that may complain about its agent waits
    for its plugins ("" when it may stay where it is): the hold team, unless the ticket is
    already in one kept to supervisors."""
    if not hold_team or current == hold_team or current in held_teams:
        return ""
    return hold_team


def merged_participants(current: list[str], new: tuple[str, ...]) -> list[str]:
    """The ticket's participants with the message's added (order kept, no repeats)."""
    return current + [p for p in dict.fromkeys(new) if p not in current]


def status_after_customer_message(status: Status, route: Route | None = None) -> Status:
    """A customer writing makes a waiting or snoozed ticket need attention again; a status
    question changes nothing."""
    if route in QUIET:
        return status
    return Status.OPEN if status in (Status.PENDING, Status.SNOOZED, Status.RESOLVED) else status


def inbound_message(
    inbound: Inbound, conversation_id: str, contact_id: str, now: datetime, *, plugins_pending: bool = True
) -> Message:
    """The stored form of a customer's message, marked for plugins to run on it. A record of
    contact (`record_only`) is a system event, never shown or sent on as the customer's text;
    it keeps the contact as author_id so a retry finds whom it was about."""
    return Message(
        id=new_id(),
        conversation_id=conversation_id,
        channel=inbound.channel,
        direction=Direction.INBOUND,
        kind=MessageKind.EVENT if inbound.record_only else MessageKind.MESSAGE,
        author_type=AuthorType.SYSTEM if inbound.record_only else AuthorType.CONTACT,
        author_id=contact_id,
        text=inbound.text,
        html=inbound.html,
        attachments=list(inbound.attachments),
        choice_id=inbound.choice_id,
        external_id=inbound.external_id,
        created_at=now,
        plugins_done=not plugins_pending,
        raw=inbound.raw,
        automatic=inbound.automatic,
        customer_address=inbound.sender.address,
    )


def system_event(
    conversation: Conversation, now: datetime, text: str, key: str, direction: Direction, **params: str
) -> Message:
    """A system line in the thread. `text` is the English fallback; the key and parameters let
    each agent read it in their language (hub/thread_events.py)."""
    return Message(
        id=new_id(),
        conversation_id=conversation.id,
        channel=conversation.channel,
        direction=direction,
        kind=MessageKind.EVENT,
        author_type=AuthorType.SYSTEM,
        text=text,
        created_at=now,
        raw={"event": {"key": key, "params": params}},
    )


def keyword_priority_event(conversation: Conversation, match: KeywordMatch, now: datetime) -> Message:
    """The thread's note of why a new ticket starts above normal priority."""
    priority = match.priority.value
    text = f"Keyword {match.keyword} raised the priority to {priority}"
    return system_event(
        conversation, now, text, "event.keyword_priority", Direction.OUTBOUND, keyword=match.keyword, priority=priority
    )


def reopen_event(conversation: Conversation, now: datetime, *, call: bool = False) -> Message:
    """The thread's note of a reopen: the customer wrote again, or (`call`) a call with them
    was logged, which no customer "wrote" (a trial's supervisor read it so)."""
    number = str(conversation.number)
    if call:
        text = f"Ticket #{number} reopened: a call with the customer was logged"
        return system_event(conversation, now, text, "event.reopened_by_call", Direction.INBOUND, number=number)
    text = f"Ticket #{number} reopened: the customer wrote again"
    return system_event(conversation, now, text, "event.reopened", Direction.INBOUND, number=number)
