""" "How is my ticket?" on every channel, and news of a ticket told to its customer.

- A status question ("查询工单 1042", "工单进度", "status of #1042", "where is my ticket",
  a tapped ticket button, or the bare number in answer to the greeting) is answered with
  the ticket's status, team, last public update and next step, in the customer's
  language; only to the ticket's own customer (conversation/progress.may_see), anyone
  else gets the same neutral answer whether the ticket exists or not. Named no number
  and has several open tickets: a short list, as buttons where the channel shows them.
- The question is kept in the ticket of the thread it came on and changes no status: the
  hub routes it so (conversation/routing.Route.QUESTION) because this plugin says it
  `answers_status_questions`. List it before `greeting`, so that a question which arrived
  on a new thread is not greeted as a new ticket.
- A ticket passed to another team, waiting for the customer (pending) or resolved is told
  to its customer once, on its channel, through the outbox (`notify_*` turn each off):
  `on_event` hears the ticket's team and status changes (after the change's thread events
  are stored, so the notice follows its cause), and `ctx.tell_once` says each news once
  however many times (or hubs) the change is delivered; "resolved" once per customer
  message (conversation/progress.notice_for).

The decisions are pure functions in conversation/progress.py; this module only words them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo

from conversation.calendars import Opening
from conversation.model import AuthorType, Choice, Conversation, Direction, Message, MessageKind
from conversation.progress import (
    CHOICE_PREFIX,
    LIVE,
    MAX_LISTED,
    StatusQuestion,
    bare_number,
    chosen_number,
    last_update,
    latest_finished,
    listed,
    may_see,
    merged_away,
    next_step,
    notice_for,
    notice_key,
    only_a_question,
    snippet,
    status_question,
)
from conversation.text_language import latest_clear_language
from hub.sdk import EventContext, HubPort, Outcome, Plugin, PluginContext, Texts, setting, texts, ticket_zone

DOMAIN = "progress"
MAX_MERGE_HOPS = 5  # merges of merges followed; a longer chain is told as merged elsewhere
GREETING_PLUGIN = "greeting"


def catalog(language: str) -> Texts:
    return texts(DOMAIN, language)


async def describe(
    hub: HubPort,
    ticket: Conversation,
    language: str,
    *,
    with_link: bool = True,
    away: Opening | None = None,
    timezone: str = "UTC",
) -> str:
    """The answer about one ticket, for its own customer; `with_link` adds its status-page link;
    `away`: its team's calendar says it is closed now (when it is back); `timezone`: the team
    calendar's, in which the last update's time is told (as its return is)."""
    t = catalog(language)
    # a finished ticket with no team was never "not yet" given one (a trial read 尚未分配团队 on a closed one)
    unteamed = "progress.team.none" if ticket.status in LIVE else "progress.team.none_finished"
    team = await hub.team_name(ticket.team, language) if ticket.team else t.get(unteamed)
    update = last_update(await hub.reads.list_messages(ticket.id), ticket)
    lines = [
        t.get("progress.answer.head", number=ticket.number, status=t.get(f"progress.status.{ticket.status.value}")),
        t.get("progress.answer.team", team=team),
        _update_line(t, update, finished=ticket.status not in LIVE, timezone=timezone),
        t.get("progress.answer.next", next=_next(t, ticket, team, away)),
    ]
    link = hub.status_link(ticket, t.locale) if with_link else ""
    if link:
        lines.append(t.get("progress.link", url=link))
    return "\n".join(lines)


def _next(t: Texts, ticket: Conversation, team: str, away: Opening | None) -> str:
    step = next_step(ticket, team_away=away is not None and away.reopens is not None)
    if step != "progress.next.team_away" or away is None or away.reopens is None:
        return t.get(step, team=team)
    return t.get(step, team=team, reopens=t.when_back(away.reopens, away.timezone))


def _update_line(t: Texts, update: Message | None, *, finished: bool, timezone: str) -> str:
    """The last public update, or a plain sentence when the team has not written yet; a
    finished one (the bot's answer helped) was not "still waiting for an agent" (a trial).
    Its time is in the team's zone: a trial's answer gave it in UTC and the return in 北京时间."""
    if update is None:
        return t.get("progress.answer.no_update_finished" if finished else "progress.answer.no_update")
    text = snippet(update.text) if update.text.strip() else t.get("progress.update_attachment")
    local = update.created_at.astimezone(ZoneInfo(timezone))
    return t.get(
        "progress.answer.update", when=f"{local:%Y-%m-%d %H:%M} {texts('hub', t.locale).zone_name(timezone)}", text=text
    )


class ProgressPlugin(Plugin):
    answers_status_questions: ClassVar[bool] = True  # the hub routes status questions quietly (see above)
    always_run: ClassVar[bool] = True  # a customer may ask on a ticket a person owns: the answer is facts only
    events: ClassVar[frozenset[str]] = frozenset({"team", "status"})  # for the notices (on_event)

    @dataclass(frozen=True)
    class Settings:  # [plugins.progress]
        notify_team: bool = setting(bool, True, "tell the customer when their ticket is passed to another team")
        notify_pending: bool = setting(bool, True, "tell the customer when their ticket waits for them (pending)")
        notify_resolved: bool = setting(bool, True, "tell the customer when their ticket is resolved")

        def notifies(self, event: str) -> bool:
            return {"team": self.notify_team, "pending": self.notify_pending, "resolved": self.notify_resolved}[event]

    settings: Settings

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.hub is None or ctx.message.automatic:
            return Outcome.CONTINUE
        question = await self.question(ctx, ctx.hub)
        if question is None:
            return Outcome.CONTINUE
        language = latest_clear_language(await ctx.hub.reads.list_messages(ctx.message.conversation_id))
        await self.answer(ctx, ctx.hub, question, language or ctx.language)
        ctx.stop()  # answered: no greeting of a ticket that only holds a question, no other bot
        return Outcome.STOP

    async def question(self, ctx: PluginContext, hub: HubPort) -> StatusQuestion | None:
        picked = chosen_number(ctx.chosen)
        if picked is not None:
            return StatusQuestion(picked)
        asked = status_question(ctx.message.text)
        if asked is not None:
            return asked
        number = bare_number(ctx.message.text)
        if number is not None and await self._answers_greeting(hub, ctx.message):
            # Only a number of the customer's own tickets: a bare "1" is as likely a rating, a
            # quantity or the answer to some question. The same silence for a ticket that is not
            # theirs as for none, so nothing tells whether a number exists.
            ticket = await hub.reads.get_conversation_by_number(number)
            if ticket is not None and may_see(ticket, ctx.contact, ctx.message.channel, ctx.message.customer_address):
                return StatusQuestion(number)
        return None

    @staticmethod
    async def _answers_greeting(hub: HubPort, message: Message) -> bool:
        """The customer's last word before this one was answered by the greeting, and nothing else."""
        earlier = [m for m in await hub.reads.list_messages(message.conversation_id) if m.id != message.id]
        said = [m for m in earlier if m.kind is MessageKind.MESSAGE and m.direction is Direction.OUTBOUND]
        return bool(said) and said[-1].author_type is AuthorType.BOT and said[-1].author_id == GREETING_PLUGIN

    async def answer(self, ctx: PluginContext, hub: HubPort, question: StatusQuestion, language: str) -> None:
        """In `language`: the question's own when it is clearly written in one ("status of
        #1042" from a contact whose client says zh-CN), else the customer's latest clear
        message's on the ticket, else the contact's (conversation/text_language.py)."""
        channel, address = ctx.message.channel, ctx.message.customer_address
        t = catalog(language)
        if question.number is not None:
            ticket = await hub.reads.get_conversation_by_number(question.number)
            if ticket is not None and merged_away(ticket, ctx.contact, channel, address):
                await ctx.reply(await self._merged(ctx, hub, ticket, language))
                return
            if ticket is None or not may_see(ticket, ctx.contact, channel, address):
                # the same words whether it exists or not; a link only where the status page sends one
                await ctx.reply(
                    t.get("progress.neutral" if hub.status_link(ctx.conversation) else "progress.neutral_no_link")
                )
                return
            await ctx.reply(await self._describe(ctx, hub, ticket, language))
            return
        theirs = await hub.reads.conversations_of(ctx.contact.id, limit=100)
        mine = listed(theirs, ctx.contact, channel, address)
        here = ctx.conversation  # nothing live: the ticket asked in, when it is a real one (resolved, say)
        if not mine and may_see(here, ctx.contact, channel, address) and not only_a_question(here):
            mine = [here]
        if not mine:
            # nothing open: where their latest one ended (a trial's only ticket, closed, got
            # "you have no open tickets" and no word of it)
            latest = latest_finished(theirs, ctx.contact, channel, address)
            if latest is None:
                await ctx.reply(t.get("progress.none"))
            elif latest.merged_into:
                await ctx.reply(await self._merged(ctx, hub, latest, language))
            else:
                await ctx.reply(await self._describe(ctx, hub, latest, language))
        elif len(mine) == 1:
            await ctx.reply(await self._describe(ctx, hub, mine[0], language))
        else:
            await self._offer(ctx, hub, mine, t)

    async def _offer(self, ctx: PluginContext, hub: HubPort, tickets: list[Conversation], t: Texts) -> None:
        # the latest few, saying there are more (an integrator's user with 7 saw 5 and no word of the rest)
        head = t.get("progress.several")
        if len(tickets) > MAX_LISTED:
            head = t.get("progress.several_more", shown=MAX_LISTED, count=len(tickets))
        tickets = tickets[:MAX_LISTED]
        items = [
            t.get(
                "progress.list_item",
                number=ticket.number,
                status=t.get(f"progress.status.{ticket.status.value}"),
                subject=snippet(ticket.subject, 40) or "-",
            )
            for ticket in tickets
        ]
        adapter = hub.channel_adapter(ctx.message.channel)
        if adapter is not None and adapter.shows_choices:
            text = "\n".join([head, *items, "", t.get("progress.pick")])
            await ctx.ask(text, [Choice(id=f"{CHOICE_PREFIX}{x.number}", label=f"#{x.number}") for x in tickets])
        else:
            # Routing keeps an explicit question quiet, never a bare number: ask for the phrase.
            hint = t.get("progress.reply_with_number", number=tickets[0].number)
            await ctx.reply("\n".join([head, *items, "", hint]))

    async def _merged(self, ctx: PluginContext, hub: HubPort, ticket: Conversation, language: str) -> str:
        """The asker's ticket merged into another: that one's status when it is theirs too;
        else only that it is closed and how to go on (another customer's ticket is never told)."""
        t = catalog(language)
        survivor: Conversation | None = ticket
        for _ in range(MAX_MERGE_HOPS):  # merged into one that was merged on in turn
            if survivor is None or not survivor.merged_into:
                break
            survivor = await hub.reads.get_conversation(survivor.merged_into)
        channel, address = ctx.message.channel, ctx.message.customer_address
        if survivor is None or survivor.merged_into or not may_see(survivor, ctx.contact, channel, address):
            return t.get("progress.merged_elsewhere", number=ticket.number)
        head = t.get("progress.merged_into", number=ticket.number, into=survivor.number)
        return head + "\n" + await self._describe(ctx, hub, survivor, language)

    async def _describe(self, ctx: PluginContext, hub: HubPort, ticket: Conversation, language: str) -> str:
        """The answer, given in the ticket the question arrived in. When that is another ticket,
        it is filed under the described ticket's team (so only agents who may see that ticket see
        the answer), and the status-page link is left out: whoever can read the answer's ticket
        must not be handed the described ticket's page (it shows the thread and takes replies)."""
        here = ctx.conversation
        if here.id != ticket.id and ticket.team and here.team != ticket.team:
            await ctx.set_team(ticket.team)
        away = await ctx.team_away(ticket.team) if ticket.team else None
        zone = await ticket_zone(ctx.actions, ticket.team, hub.timezone)
        return await describe(hub, ticket, language, with_link=here.id == ticket.id, away=away, timezone=zone)

    async def on_event(self, ctx: EventContext) -> None:
        notice = notice_for(ctx.change)
        if notice is None or not self.settings.notifies(notice.event):
            return
        if ctx.change.told:  # its maker told the customer ("glad that helped" as the bot resolves)
            await ctx.mark_told(notice.event, notice.mark)  # so a resolve again, nothing said since, is no news
            return
        ticket = ctx.conversation
        thread = await ctx.hub.reads.list_messages(ticket.id) if ctx.hub else []
        # The customer's latest clear language, as a reply to them: a "thanks" in English that
        # the FAQ bot answered in English is not followed by the "resolved" notice in Chinese.
        language = latest_clear_language(thread) or ctx.language
        team = await ctx.hub.team_name(ticket.team, language) if ctx.hub else ticket.team
        written = last_update(thread, ticket)
        key = notice_key(notice, agent_wrote=written is not None)
        text = catalog(language).get(key, number=ticket.number, team=team)
        await ctx.tell_once(notice.event, text, mark=notice.mark)
