"""Customer satisfaction (CSAT): a resolved ticket's customer is asked to rate the service 1-5.

- When a ticket is resolved (`on_event`), a timer asks `delay_minutes` later (0: at once),
  once per ticket, if it is still resolved and the rules of conversation/quality.survey_wanted
  hold: its category is not turned off, a person of ours wrote to the customer (not a
  bot-only ticket), it was not opened by an auto-reply, and this contact was not asked in
  the last `cooldown_days`.
- The question is in the customer's language: buttons where the channel shows them;
  elsewhere the digits and words it takes ("1".."5", "很满意 / 满意 / 一般 / 不满意 / 很不满意",
  "very good"...), and, when the status page is on, one-click rating links to it (email:
  hub/status_rating.py explains why the link asks for one more click).
- The answer is consumed here before it can do anything else: `answers_quietly` tells the
  hub, before the message is stored, that it only answers the survey, so it is kept in the
  ticket without reopening it (or in a quiet new ticket when that one is closed), and
  `on_message` records it and stops later plugins. Answers count until `answer_days` after
  the question, whatever became of the ticket meanwhile; a later answer replaces the score.
- After a score the customer may write one comment: the next message within `comment_minutes`,
  on the survey's own thread (the same ticket, or the thread its answer was kept on), that
  reads as a remark (conversation/quality.reads_as_comment: short, no question). Anything
  else — another thread, a question, a long message — is an ordinary message for the queue.
- A score of 2 or less reopens nothing but tells the team lead (hub/services/quality.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from conversation.inbound import Inbound
from conversation.model import Choice, Conversation, Direction, Status, utcnow
from conversation.progress import status_question
from conversation.quality import (
    SCORES,
    Survey,
    SurveyStatus,
    asked_of,
    awaits_comment,
    rating_choice,
    rating_from_choice,
    rating_from_text,
    reads_as_comment,
    survey_wanted,
    takes_answer,
)
from conversation.routing import own_thread_keys
from conversation.text_language import latest_clear_language, reply_language
from hub.sdk import (
    ConfigError,
    EventContext,
    HubPort,
    Outcome,
    Plugin,
    PluginContext,
    PluginRuntime,
    SurveyActions,
    Texts,
    TimerContext,
    setting,
    texts,
)

DOMAIN = "csat"
ASK = "ask"  # the timer's name
GOOD_SCORE = 4  # a score at or above it is praise: its comment is thanked as such


def catalog(language: str) -> Texts:
    return texts(DOMAIN, language)


class CsatPlugin(Plugin):
    always_run: ClassVar[bool] = True  # resolved tickets are owned by people; the survey still goes out
    events: ClassVar[frozenset[str]] = frozenset({"status"})

    @dataclass(frozen=True)
    class Settings:  # [plugins.csat]
        delay_minutes: int = setting(
            int, 10, "minutes after a ticket is resolved before the survey goes out; 0 at once"
        )
        cooldown_days: int = setting(int, 30, "at most one survey per contact in this many days")
        answer_days: int = setting(int, 14, "days after the question in which a rating still counts")
        comment_minutes: int = setting(int, 30, "minutes after a rating in which the next message is its comment")
        categories: dict[str, Any] = setting(
            dict, {}, "per category on/off, e.g. { spam = false }; a category not listed is surveyed"
        )

        @property
        def delay(self) -> timedelta:
            return timedelta(minutes=self.delay_minutes)

    settings: Settings

    def __init__(self, name: str, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(name, settings)
        self.clock = clock  # the hub's clock in tests (answers count until the survey's window ends)

    @classmethod
    def check_settings(cls, prefix: str, settings: Any) -> None:
        for name in ("delay_minutes", "cooldown_days", "answer_days", "comment_minutes"):
            if getattr(settings, name) < 0:
                raise ConfigError(f"{prefix}.{name}: must be 0 or more")
        for category, on in settings.categories.items():
            if not isinstance(on, bool):
                raise ConfigError(f"{prefix}.categories.{category}: true or false")

    # -- asking -------------------------------------------------------------------------------------
    async def on_event(self, ctx: EventContext) -> None:
        ticket = ctx.conversation
        if ctx.change.field != "status":
            return
        if ctx.change.after == Status.RESOLVED.value:
            if self.settings.delay_minutes == 0:
                await self._ask(ctx, ticket)
            else:
                at = (ticket.resolved_at or ticket.last_message_at) + self.settings.delay
                await ctx.schedule(at, ASK, key=ticket.id)  # resolved again: moved, not doubled
        elif ctx.change.before == Status.RESOLVED.value and ctx.change.after != Status.CLOSED.value:
            await ctx.cancel(ticket.id)  # reopened before the survey went out: no survey now

    async def on_timer(self, ctx: TimerContext) -> None:
        if ctx.timer.name == ASK and ctx.conversation is not None:
            await self._ask(ctx, ctx.conversation)

    async def _ask(self, ctx: EventContext | TimerContext, ticket: Conversation) -> None:
        surveys, hub = _surveys(ctx.runtime), ctx.hub
        if hub is None:
            return
        fresh = await hub.reads.get_conversation(ticket.id)
        if fresh is None:
            return
        latest = await surveys.latest(fresh.contact_id)
        thread = await hub.reads.list_messages(fresh.id)
        why_not = survey_wanted(
            fresh,
            thread,
            categories=self.settings.categories,
            last_asked=latest.asked_at if latest else None,
            cooldown=timedelta(days=self.settings.cooldown_days),
            now=self.clock(),
        )
        if why_not is not None:
            self.log.debug("ticket %s: no survey (%s)", fresh.number, why_not.value)
            return
        # The customer's latest clear language, as progress's "resolved" notice just before it:
        # not one message in English and the survey in Chinese.
        language = latest_clear_language(thread) or ctx.language
        survey = await surveys.ask(fresh, language, timedelta(days=self.settings.answer_days))
        if survey is None:
            return  # asked already (a repeated timer, another hub)
        ctx.conversation = fresh
        t = catalog(language)
        question = t.get("csat.ask", number=fresh.number)
        adapter = hub.channel_adapter(fresh.channel)
        if adapter is not None and adapter.shows_choices:
            await ctx.ask(question, [Choice(rating_choice(s), t.get(f"csat.score.{s}")) for s in SCORES])
            return
        lines = [question]
        links = hub.rating_links(fresh, t.locale)
        if links:
            lines += ["", t.get("csat.ask_links")]
            lines += [t.get("csat.link_line", label=t.get(f"csat.score.{s}"), url=links[s]) for s in SCORES]
        lines += ["", t.get("csat.ask_typed")]
        await ctx.reply("\n".join(lines))

    # -- answers ------------------------------------------------------------------------------------
    async def answers_quietly(self, inbound: Inbound, hub: HubPort, runtime: PluginRuntime | None) -> bool:
        if inbound.attachments or inbound.automatic or runtime is None or runtime.surveys is None:
            return False
        score = rating_from_choice(inbound.choice_id) or rating_from_text(inbound.text)
        if score is None and not inbound.text.strip():
            return False
        contact = await hub.reads.find_identity_contact(inbound.channel, inbound.sender.address)
        if contact is None:
            return False
        survey = await _survey_asked(runtime.surveys, hub, contact.id, inbound.channel, inbound.sender.address)
        if survey is None:
            return False
        # A rating button only ever answers a survey: kept quietly even after the survey closed
        # (on_message says so), never a new ticket for the queue. Typed words are read as a
        # rating only while the survey takes answers.
        if rating_from_choice(inbound.choice_id) is not None:
            return True
        answer = self._answer(survey, score, inbound.channel, inbound.text, inbound.choice_id)
        if answer is None and score is None and await self._rating_in_hand(survey, inbound, hub):
            answer = "comment"  # on_message reads it after the rating, which is rated by then
        if answer == "comment":
            return await self._on_survey_thread(survey, inbound, hub)
        return answer is not None

    async def _rating_in_hand(self, survey: Survey, inbound: Inbound, hub: HubPort) -> bool:
        """Whether a typed remark follows a rating tap whose plugins have not run yet: a comment
        sent a few milliseconds after the tap found the survey not rated, and reopened the
        resolved ticket (a trial). The ticket's runs go in order, so it is read after the rating."""
        if survey.channel != inbound.channel or survey.status is not SurveyStatus.ASKED:
            return False
        if inbound.choice_id or status_question(inbound.text) is not None or not reads_as_comment(inbound.text):
            return False
        thread = await hub.reads.list_messages(survey.conversation_id)
        latest = next((m for m in reversed(thread) if m.direction is Direction.INBOUND), None)
        return latest is not None and not latest.plugins_done and rating_from_choice(latest.choice_id) is not None

    @staticmethod
    async def _on_survey_thread(survey: Survey, inbound: Inbound, hub: HubPort) -> bool:
        """Whether the message continues the surveyed ticket's thread: an email answering it,
        or the same thread on its channel (web chat visitor, webhook "thread", chat)."""
        if inbound.conversation_hint:
            return inbound.conversation_hint == survey.conversation_id
        surveyed = await hub.reads.get_conversation(survey.conversation_id)
        # a webhook user writing on a thread another started is answered on one of their own
        return surveyed is not None and surveyed.thread_key in own_thread_keys(inbound)

    def _answer(self, survey: Survey, score: int | None, channel: str, text: str, choice_id: str) -> str | None:
        """What a message is to this survey: "score", "comment", or None (an ordinary message).
        Only on the survey's own channel: a "5" on another channel is another conversation. A
        comment is typed text, never another button nor a status question ("查询工单 1042")."""
        now = self.clock()
        if survey.channel != channel:
            return None
        if score is not None and takes_answer(survey, now):
            return "score"
        asks = choice_id != "" or status_question(text) is not None or not reads_as_comment(text)
        if not asks and awaits_comment(survey, now, timedelta(minutes=self.settings.comment_minutes)):
            return "comment"
        return None

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.message.automatic or ctx.runtime is None or ctx.runtime.surveys is None:
            return Outcome.CONTINUE
        surveys = ctx.runtime.surveys
        if ctx.hub is None:
            survey = await surveys.latest(ctx.contact.id)
        else:
            address = ctx.message.customer_address
            survey = await _survey_asked(surveys, ctx.hub, ctx.contact.id, ctx.message.channel, address)
        if survey is None:
            return Outcome.CONTINUE
        # In the survey's language (the customer's latest clear one when it was asked), or a typed
        # answer's own: a trial's English customer tapped "Good" and was thanked in Chinese, the
        # contact's language from the widget's browser.
        typed = None if ctx.chosen else ctx.message.text
        t = catalog(reply_language(typed, [], survey.language or ctx.language))
        score = rating_from_choice(ctx.chosen) or rating_from_text(ctx.message.text)
        answer = self._answer(survey, score, ctx.message.channel, ctx.message.text, ctx.chosen)
        if answer == "comment" and ctx.conversation.status not in (Status.RESOLVED, Status.CLOSED):
            # answers_quietly did not keep it (another thread): the queue has it as a new request
            answer = None
        if answer is None:
            if rating_from_choice(ctx.chosen) is not None:  # a button of a survey that has closed
                await ctx.reply(t.get("csat.closed"))
                ctx.stop()
                return Outcome.STOP
            return Outcome.CONTINUE
        if answer == "score" and score is not None:
            await surveys.rate(survey, score, via=ctx.message.channel)
            if not await _comment_already_sent(ctx):  # then its thanks says it all (a trial got the ask after it)
                await ctx.reply(t.get("csat.thanks_ask_comment"))
        else:
            await surveys.comment(survey, ctx.message.text)
            # after a good score the comment is praise more often than a complaint: "we will
            # improve" answered a compliment (a trial)
            praised = survey.score is not None and survey.score >= GOOD_SCORE
            await ctx.reply(t.get("csat.thanks_praise" if praised else "csat.thanks_comment"))
        ctx.stop()  # consumed: no greeting, no bot answers a rating
        return Outcome.STOP


async def _survey_asked(
    surveys: SurveyActions, hub: HubPort, contact_id: str, channel: str, address: str
) -> Survey | None:
    """The latest survey this identity was asked: the contact's latest when it asked them, else
    (agents merged two people's contacts, the latest asked the other) the newest of their own
    tickets on the channel that has one. Never another person's: their "1" is not this one's."""
    survey = await surveys.latest(contact_id)
    if survey is None or asked_of(await hub.reads.get_conversation(survey.conversation_id), address):
        return survey
    for ticket in await hub.reads.conversations_of(contact_id, channel=channel, limit=10):
        if ticket.customer_address == address and (own := await surveys.of_ticket(ticket.id)) is not None:
            return own
    return None


def _surveys(runtime: PluginRuntime | None) -> SurveyActions:
    if runtime is None or runtime.surveys is None:
        raise RuntimeError("the csat plugin needs the hub's surveys (a running hub)")
    return runtime.surveys


async def _comment_already_sent(ctx: PluginContext) -> bool:
    """Whether the customer's remark after this rating is in already, its plugins still to run
    (sent a moment after the tap): asking for one then comes after it."""
    if ctx.hub is None:
        return False
    later = await ctx.hub.reads.list_messages(ctx.message.conversation_id, after=ctx.message.id)
    return any(
        m.direction is Direction.INBOUND and not m.plugins_done and not m.choice_id and reads_as_comment(m.text)
        for m in later
    )
