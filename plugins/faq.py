"""The FAQ bot: answers what the knowledge base knows, offers choices when unsure, and
hands the ticket to a person otherwise.

- A question whose best article reaches `answer_threshold` is answered with that article,
  in the language of the question when it is clearly Chinese or English, else the one the
  bot spoke on the ticket so far, else the contact's (its linked translation when there is one), as plain text or,
  where the channel shows HTML (email), as the sanitised HTML of its Markdown; then "did
  this answer your question?", with buttons where the channel has them, else as a reply
  word or digit ("是/否", "yes/no", "1/2").
- Yes: the ticket is resolved (`pending_first`: set pending). No, a request for a person
  ("转人工", "human", "agent"...) or a question no article reaches `suggest_threshold` for:
  hand-off to the team of the ticket's (else the best article's) category, with the bot's
  best guesses (titles and confidence) as a private note for the agent.
- A ticket the bot resolved is no deflection once the customer comes back to it: "还是不行"
  ("no" in any form) hands it off at once, and any hand-off of it marks the answer
  `reopened` (the metrics and API count those apart).
- Between the thresholds it offers up to three article titles instead of guessing; a pick
  answers with that article. One title is asked as "did you mean ...?" with yes / no.
- Below `suggest_threshold` the customer is told a colleague has the question, in words true
  in and out of hours (the greeting plugin tells when the team is back).
- The "yes" button only ever answers the bot's question, so a press is kept quietly in the
  thread's ticket (`answers_quietly`): one tapped late, on a ticket an agent (or the bot)
  has resolved since, agrees with it and neither reopens it nor reaches a queue.
- Quiet on a ticket a person owns (assigned, handed off, or an agent replied), on automatic
  mail, and on anything but a customer's own message; never the same article (or its
  translation) twice in one ticket.
- Each article given is an `answer` record on the ticket (article id, confidence, the
  question's message id, outcome as its status): the deflection and "not helpful" figures
  per article (GET /api/v1/faq/stats, the `helpline_faq_*` metrics) are counted from them.
  Each hand-off is a `handoff` record (reason, question's message id, guesses): what the
  bot could not answer, for the agents' learning queue.

The decisions are pure functions in conversation/faq_bot.py; this module words and acts.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from html import escape
from typing import Any, ClassVar

from conversation.errors import InvalidInput
from conversation.faq_bot import (
    ANSWER_KIND,
    HANDOFF_KIND,
    HANDOFF_REASONS,
    NO,
    NONE,
    OUTCOMES,
    PICK,
    SHOWN_MIN_CONFIDENCE,
    YES,
    Action,
    Guess,
    Outcome,
    Reply,
    after_a_no,
    asks_back,
    asks_for_person,
    best_of_each_group,
    decide,
    markdown_text,
    may_answer,
    picked,
    read_reply,
    reassures,
    title_in_question,
)
from conversation.inbound import answer_words
from conversation.kb_learning import (
    in_language,
    kb_language,
    matched_words,
    only_greets_or_thanks,
    question_part,
)
from conversation.markdown_html import render_markdown
from conversation.placeholders import customer_words
from conversation.text_language import clear_language, reply_language
from hub.sdk import (
    Choice,
    ConfigError,
    EventContext,
    HubPort,
    Inbound,
    Plugin,
    PluginContext,
    PluginRuntime,
    RecordKind,
    Texts,
    in_every_language,
    said_in_every_language,
    setting,
    texts,
)
from hub.sdk import Outcome as Flow

DOMAIN = "faq"
# The matcher's default (conversation.faq.DEFAULT_THRESHOLD, which loads scikit-learn on
# import: the hub imports plugins at start, the matcher trains in a thread). A test holds
# them equal.
MATCHER_THRESHOLD = 0.7
GUESSES = 5  # asked of the matcher: translations of one article may take two places
NOTE_GUESSES = 3

ANSWER = RecordKind(
    ANSWER_KIND,
    {
        "type": "object",
        "title": "FAQ answer",
        "x-title-zh-CN": "FAQ 机器人回答",
        "properties": {
            "article_id": {"type": "string", "title": "Article", "x-title-zh-CN": "文章"},
            "group": {"type": "string", "title": "Article group", "x-title-zh-CN": "文章组"},
            "confidence": {"type": "number", "title": "Confidence", "x-title-zh-CN": "置信度"},
            "language": {"type": "string", "title": "Language", "x-title-zh-CN": "语言"},
            "question_id": {"type": "string", "title": "Question message", "x-title-zh-CN": "问题消息"},
            "answer_id": {"type": "string", "title": "Answer message", "x-title-zh-CN": "回答消息"},
            "offered": {"type": "boolean", "title": "Picked from a list", "x-title-zh-CN": "客户从列表中选择"},
        },
        "required": ["article_id", "group", "confidence"],
    },
    queries=("article_id",),
    statuses=OUTCOMES,
    # The bot's bookkeeping (its figures come from them): kept out of the ticket sidebar's
    # record forms, where a trial's agent met them as raw ids to edit, and the generic API's writes.
    managed=True,
)
# What the bot could not answer, for the agents' learning queue: one per hand-off, with the
# customer's question (a message id) and the bot's guesses.
HANDOFF = RecordKind(
    HANDOFF_KIND,
    {
        "type": "object",
        "title": "FAQ hand-off",
        "x-title-zh-CN": "FAQ 机器人转人工",
        "properties": {
            "reason": {"type": "string", "enum": list(HANDOFF_REASONS), "title": "Reason", "x-title-zh-CN": "原因"},
            "question_id": {"type": "string", "title": "Question message", "x-title-zh-CN": "问题消息"},
            "articles": {"type": "array", "items": {"type": "string"}, "title": "Guesses", "x-title-zh-CN": "猜测"},
            "confidences": {
                "type": "array",
                "items": {"type": "number"},
                "title": "Confidence",
                "x-title-zh-CN": "置信度",
            },
        },
        "required": ["reason", "question_id"],
    },
    queries=("reason",),
    statuses=("handed_off",),
    managed=True,  # as ANSWER: the agents read the hand-off as the bot's note in the thread
)


def catalog(language: str) -> Texts:
    return texts(DOMAIN, language)


class FaqPlugin(Plugin):
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (ANSWER, HANDOFF)
    # on a ticket people own too, only to tell a customer asking for a person again that they
    # are with the team (reassures); it answers nothing there (may_answer)
    always_run: ClassVar[bool] = True
    # a person took a deflected ticket after all; a person resolved one whose answer had no word
    events: ClassVar[frozenset[str]] = frozenset({"assignment", "status"})

    @dataclass(frozen=True)
    class Settings:  # [plugins.faq]
        answer_threshold: float = setting(
            float, MATCHER_THRESHOLD, "answer at or above this confidence (0-1; the matcher's default threshold)"
        )
        suggest_threshold: float = setting(
            float, 0.4, "below answer_threshold and at or above this: offer up to three article titles instead"
        )
        pending_first: bool = setting(
            bool, False, "when the customer says the answer helped, set the ticket pending instead of resolved"
        )
        team: str = setting(
            str, "", "hand-offs go here when neither the ticket's nor the article's category names a team", team=True
        )

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Settings) -> None:
        answer, suggest = settings.answer_threshold, settings.suggest_threshold
        if not 0 < answer <= 1:
            raise ConfigError(f"{prefix}.answer_threshold: must be above 0 and at most 1, not {answer!r}")
        if not 0 < suggest <= 1:
            raise ConfigError(f"{prefix}.suggest_threshold: must be above 0 and at most 1, not {suggest!r}")
        if suggest >= answer:
            raise ConfigError(
                f"{prefix}.suggest_threshold: must be below answer_threshold ({answer!r}), not {suggest!r}"
            )

    # -- a customer's message ----------------------------------------------------------------
    async def answers_quietly(self, inbound: Inbound, hub: HubPort, runtime: PluginRuntime | None) -> bool:
        """A tap of the "yes" button says the answer solved it: that changes no ticket's status
        by itself (on_message resolves the ticket when the bot is still asking), so a press on a
        ticket resolved since does not reopen it, nor open one on a closed thread."""
        return inbound.choice_id == YES and not inbound.attachments and not inbound.automatic

    async def on_message(self, ctx: PluginContext) -> Flow | None:
        if ctx.hub is not None and reassures(
            ctx.conversation,
            ctx.message,
            customer_words(answer_words(ctx.message.text)),
            ctx.state.get("reassured_at", ""),
        ):
            locale = clear_language(customer_words(answer_words(ctx.message.text))) or _language(ctx)
            await ctx.reply(catalog(locale).get("faq.customer.still_passed_on"))
            ctx.state["reassured_at"] = ctx.message.created_at.isoformat()
            return Flow.CONTINUE
        if ctx.hub is None or not may_answer(ctx.conversation, ctx.message):
            return Flow.CONTINUE
        hub, text, chosen = ctx.hub, customer_words(answer_words(ctx.message.text)), ctx.chosen
        if not text and not chosen:  # a sticker, a photo, a file alone: nothing the bot can read
            return Flow.CONTINUE
        if chosen == YES and (ctx.state.get("waiting") or {}).get("for") != "confirm":
            return Flow.STOP  # an answer's button confirmed (or overtaken) before: kept, nothing to do
        # The language the bot speaks on this ticket: the message's when it is clear, else that
        # of the customer's latest clear message on the ticket (one another bot answered, a
        # status question, included), else the one it spoke in so far, else the contact's. A
        # tapped button's text is the channel's (a label, or its data), not the customer's words.
        language = None if chosen else clear_language(text)
        if language is None:  # reply_language's rule, the thread read only when it is needed
            messages = await hub.reads.list_messages(ctx.message.conversation_id)
            language = reply_language(None, messages, _language(ctx))
        ctx.state["language"] = language
        waiting = ctx.state.pop("waiting", None)
        resolved = ctx.state.pop("resolved", None)  # the bot resolved the ticket: the customer is back
        if resolved and read_reply(text, chosen) in (Reply.NO, Reply.PERSON):  # "还是不行", "still doesn't work"
            await self._not_helped(ctx, hub, resolved, "person" if asks_for_person(text) else "not_helpful")
            return Flow.STOP
        if waiting and waiting.get("for") == "confirm":
            reply = read_reply(text, chosen)
            if reply is Reply.YES:
                await self._helped(ctx, hub, waiting)
                return Flow.STOP
            if reply in (Reply.NO, Reply.PERSON):
                await self._not_helped(ctx, hub, waiting, "person" if reply is Reply.PERSON else "not_helpful")
                return Flow.STOP
            if not chosen and asks_back(text):  # "对吗？": unsure, so asked again how to answer (a trial)
                t = catalog(_language(ctx))
                if ctx.shows_choices():  # the buttons again, not "reply 1 / 2" (a trial)
                    choices = [Choice(YES, t.get("faq.customer.yes")), Choice(NO, t.get("faq.customer.no"))]
                    await ctx.ask(t.get("faq.customer.confirm"), choices)
                else:
                    await ctx.reply(t.get("faq.customer.confirm_hint"))
                ctx.state["waiting"] = waiting
                return Flow.STOP
            meant = None if chosen else after_a_no(text)
            if meant is not None:  # "不是这个，我问的是发票": it did not help, and what they meant is asked anew
                await self._close(ctx, waiting["record"], Outcome.NOT_HELPFUL)
                await self._question(ctx, hub, meant, turned_down=_turn_down(ctx, await _answered(ctx, waiting)))
                return Flow.STOP
            await self._close(ctx, waiting["record"], Outcome.UNCONFIRMED)  # a new question, read below
        elif waiting and waiting.get("for") == "pick":
            offered = _guesses(waiting)
            index = picked(text, chosen, len(offered))
            if index is None and len(offered) == 1:  # "did you mean ...?": yes or no
                index = {Reply.YES: 0, Reply.NO: -1}.get(read_reply(text, chosen))
            if index == -1:
                await self._hand_off(ctx, hub, "none", offered, tell=True, question=waiting["question"])
                return Flow.STOP
            if index is not None:
                await self._answer(
                    ctx, hub, offered[index], offered=True, guesses=offered, question=waiting["question"]
                )
                return Flow.STOP
        if asks_for_person(text) or chosen in (NO, NONE) or chosen.startswith(PICK):
            # "no" to an earlier answer, or an earlier list's pick: a person reads the thread
            reason = "person" if asks_for_person(text) else "not_helpful"
            # The note is for the person who answers: "转人工，退款三天还没到账" is matched by what
            # it is about, as the suggestions panel does (the request itself halves a match).
            guesses = await self._guesses(hub, ctx, matched_words(text))
            await self._hand_off(ctx, hub, reason, guesses, tell=True, question=ctx.message.id)
            return Flow.STOP
        if not chosen and waiting is None and resolved is None and only_greets_or_thanks(text):
            # "你好", "在吗", "thanks" with nothing asked before: no question to answer or hand
            # on (handing it on would keep the bot off the question that follows)
            return Flow.CONTINUE
        if not chosen and not any(char.isalnum() for char in text):
            # emoji or punctuation alone: nothing to match (a trial's 😀😀😀🙏 was asked "您是想问
            # 如何提交意见和建议吗？"); it waits for a person, or for the words that follow
            return Flow.CONTINUE
        await self._question(ctx, hub, question_part(text))
        return Flow.STOP

    async def _question(
        self, ctx: PluginContext, hub: HubPort, text: str, *, turned_down: Sequence[Guess] = ()
    ) -> None:
        """Answer, offer titles or hand on; `turned_down`: the answer the customer just said no
        to (first in the agents' note when this one is handed on too)."""
        guesses = await self._guesses(hub, ctx, text)
        decision = decide(
            guesses,
            answered=ctx.state.get("answered", []),
            answer_threshold=self.settings.answer_threshold,
            suggest_threshold=self.settings.suggest_threshold,
        )
        if decision.action is Action.ANSWER:
            await self._answer(ctx, hub, decision.guesses[0], offered=False, guesses=guesses, question=ctx.message.id)
        elif decision.action is Action.OFFER:
            await self._offer(ctx, hub, list(decision.guesses))
        else:  # the customer is told: a neutral text, true in and out of hours (the greeting says when)
            reason = "not_helpful" if turned_down else decision.reason
            await self._hand_off(
                ctx, hub, reason, guesses, tell="passing_on", question=ctx.message.id, turned_down=turned_down
            )

    async def _guesses(self, hub: HubPort, ctx: PluginContext, text: str) -> list[Guess]:
        """The matcher's best articles, each as the customer's language has it (its translation),
        an article and its translation once: every use (answer, offers, the hand-off note) sees
        one answer once."""
        found = []
        for article, prediction in await hub.knowledge.match(text, GUESSES):
            shown = in_language(article, hub.knowledge.articles.values(), _language(ctx))
            found.append(Guess(shown.id, shown.group_id, shown.title, round(prediction.confidence, 4)))
        return list(best_of_each_group(found))

    # -- answering -----------------------------------------------------------------------------
    async def _answer(
        self, ctx: PluginContext, hub: HubPort, guess: Guess, *, offered: bool, guesses: list[Guess], question: str
    ) -> None:
        """Answer with the article, and ask whether it helped; `question` is the customer's
        message it answers (the one before a pick from a list)."""
        article = hub.knowledge.articles.get(guess.article_id)
        if article is None:  # unpublished since it was offered
            await self._hand_off(ctx, hub, "unsure", guesses, tell="passing_on", question=question)
            return
        t = catalog(_language(ctx))
        adapter = hub.channel_adapter(ctx.message.channel)
        buttons = adapter is not None and adapter.shows_choices
        confirm = t.get("faq.customer.confirm") + ("" if buttons else "\n" + t.get("faq.customer.confirm_hint"))
        # An article with no translation in the customer's language is still the answer; they
        # are told why it reads in the other language (a trial's zh customer got English unsaid).
        other = article.language and kb_language(_language(ctx)) not in ("", article.language)
        only_in = t.get("faq.customer.only_in", language=t.get(f"faq.language.{article.language}")) if other else ""
        text = f"{only_in}\n\n" if only_in else ""
        text += f"{article.title}\n\n{markdown_text(article.answer)}\n\n{confirm}"
        html = ""
        if adapter is not None and adapter.shows_html:
            html = f"<p>{escape(only_in)}</p>" if only_in else ""
            html += f"<p><strong>{escape(article.title)}</strong></p>{render_markdown(article.answer)}"
            html += "".join(f"<p>{escape(line)}</p>" for line in confirm.split("\n"))
        if buttons:
            choices = [Choice(YES, t.get("faq.customer.yes")), Choice(NO, t.get("faq.customer.no"))]
            said = await ctx.ask(text, choices, html=html)
        else:
            said = await ctx.reply(text, html=html)
        record = await ctx.records.create(
            ANSWER_KIND,
            {
                "article_id": article.id,
                "group": article.group_id,
                "confidence": guess.confidence,
                "language": article.language,
                "question_id": question,
                "answer_id": said.id,
                "offered": offered,
            },
        )
        ctx.state["answered"] = [*ctx.state.get("answered", []), article.group_id]
        ctx.state["waiting"] = {
            "for": "confirm",
            "record": record.id,
            "question": question,
            "guesses": [asdict(g) for g in guesses],
            "answered": asdict(guess),
        }
        ctx.stop()

    async def _offer(self, ctx: PluginContext, hub: HubPort, offers: list[Guess]) -> None:
        t = catalog(_language(ctx))
        if len(offers) == 1:
            await self._did_you_mean(ctx, hub, offers[0])
            return
        items = [t.get("faq.customer.offer_item", number=n, title=g.title) for n, g in enumerate(offers, 1)]
        adapter = hub.channel_adapter(ctx.message.channel)
        if adapter is not None and adapter.shows_choices:
            choices = [Choice(f"{PICK}{n}", g.title[:60]) for n, g in enumerate(offers, 1)]
            await ctx.ask(
                "\n".join([t.get("faq.customer.offer"), *items]), [*choices, Choice(NONE, t.get("faq.customer.none"))]
            )
        else:
            hint = t.get("faq.customer.offer_hint", count=len(offers))
            await ctx.reply("\n".join([t.get("faq.customer.offer"), *items, "", hint]))
        ctx.state["waiting"] = {"for": "pick", "question": ctx.message.id, "guesses": [asdict(g) for g in offers]}
        ctx.stop()

    async def _did_you_mean(self, ctx: PluginContext, hub: HubPort, guess: Guess) -> None:
        """One title worth offering: "did you mean ...?", answered yes (the article) or no (a person)."""
        t = catalog(_language(ctx))
        question = t.get("faq.customer.did_you_mean", title=title_in_question(guess.title))
        adapter = hub.channel_adapter(ctx.message.channel)
        if adapter is not None and adapter.shows_choices:
            await ctx.ask(
                question, [Choice(f"{PICK}1", t.get("faq.customer.yes")), Choice(NONE, t.get("faq.customer.no"))]
            )
        else:
            await ctx.reply(f"{question}\n{t.get('faq.customer.confirm_hint')}")
        ctx.state["waiting"] = {"for": "pick", "question": ctx.message.id, "guesses": [asdict(guess)]}
        ctx.stop()

    async def _helped(self, ctx: PluginContext, hub: HubPort, waiting: dict[str, Any]) -> None:
        """ "Yes": thanks, and the ticket is resolved (or pending) without a person."""
        await ctx.reply(catalog(_language(ctx)).get("faq.customer.thanks"))
        try:
            await ctx.set_status("pending" if self.settings.pending_first else "resolved", told=True)
        except InvalidInput:  # a required field of the ticket's category is empty: a person fills it in
            await self._close(ctx, waiting["record"], Outcome.HELPFUL)
            await self._hand_off(ctx, hub, "unresolved", _guesses(waiting), tell=False, question=waiting["question"])
            return
        await self._close(ctx, waiting["record"], Outcome.DEFLECTED)
        ctx.state["resolved"] = waiting
        ctx.stop()

    async def _not_helped(self, ctx: PluginContext, hub: HubPort, answer: dict[str, Any], reason: str) -> None:
        """A "no" to the answer kept in `answer` (the waiting or resolved state): it did not
        help, and a person takes the ticket, told which answer the customer turned down."""
        await self._close(ctx, answer["record"], Outcome.NOT_HELPFUL)
        guesses, question = _guesses(answer), answer["question"]
        turned_down = _turn_down(ctx, await _answered(ctx, answer))
        await self._hand_off(ctx, hub, reason, guesses, tell=True, question=question, turned_down=turned_down)

    async def _close(self, ctx: PluginContext, record_id: str, outcome: Outcome) -> None:
        await ctx.records.update(ANSWER_KIND, record_id, status=outcome.value)

    # -- handing off ---------------------------------------------------------------------------
    async def _hand_off(
        self,
        ctx: PluginContext,
        hub: HubPort,
        reason: str,
        guesses: list[Guess],
        *,
        tell: bool | str,
        question: str,
        turned_down: Sequence[Guess] = (),
    ) -> None:
        """To the team of the ticket's category, else of the best guess's category (when the
        guess was at least worth offering; the ticket is then filed under it), else `team`;
        the guesses go to the agents as a private note, after the answer the customer turned
        down (`turned_down`, labelled so); the ticket is filed by the guesses, not by that.
        Out of that team's hours the customer is told when people are back, not "soon" (a
        trial's hand-off at 3 a.m. on a holiday, 30 hours before anyone was)."""
        team = await self._team(ctx, hub, guesses)
        if tell:  # True: "all right, passing you on" after the customer asked; or the text's key
            text = tell if isinstance(tell, str) else "handing_off"
            said = catalog(_language(ctx))
            away = await ctx.team_away(
                team or ctx.conversation.team or await ctx.actions.expected_team(ctx.conversation)
            )
            if away is not None and away.reopens is not None:
                await ctx.reply(
                    said.get(f"faq.customer.{text}_away", reopens=said.when_back(away.reopens, away.timezone))
                )
            else:
                await ctx.reply(said.get(f"faq.customer.{text}"))
        # A ticket the bot resolved that now reaches a person was reopened: not deflected.
        for record in await ctx.records.of_ticket(ANSWER_KIND, status=Outcome.DEFLECTED.value):
            await self._close(ctx, record.id, Outcome.REOPENED)
        noted = list(best_of_each_group([*turned_down, *guesses]))
        declined = {g.group for g in turned_down}
        notes = said_in_every_language(lambda locale: _guesses_note(catalog(locale), noted, declined))
        await ctx.note(_guesses_note(catalog(hub.language), noted, declined), texts=notes)
        await ctx.records.create(
            HANDOFF_KIND,
            {
                "reason": reason,
                "question_id": question,
                "articles": [g.article_id for g in noted[:NOTE_GUESSES]],
                "confidences": [g.confidence for g in noted[:NOTE_GUESSES]],
            },
        )
        why = f"faq.agent.reason.{reason}"
        await ctx.hand_off(catalog(hub.language).get(why), team=team, reasons=in_every_language(DOMAIN, why))

    async def _team(self, ctx: PluginContext, hub: HubPort, guesses: list[Guess]) -> str:
        """The team the ticket goes to ("" keeps the one it has)."""
        category = await hub.reads.get_category(ctx.conversation.category)
        if category is None and guesses and guesses[0].confidence >= self.settings.suggest_threshold:
            article = hub.knowledge.articles.get(guesses[0].article_id)
            category = await hub.reads.get_category(article.category) if article is not None else None
            if category is not None:
                try:
                    await ctx.set_category(category.id)  # brings its default team to a ticket with none
                except InvalidInput:  # the category's required fields: the agent files it
                    pass
        if category is not None and category.default_team:
            return category.default_team
        return "" if ctx.conversation.team else self.settings.team

    # -- a person took the ticket -------------------------------------------------------------
    async def on_event(self, ctx: EventContext) -> None:
        """An agent assigned to a ticket the bot resolved: it was not deflected after all. The
        ticket resolved or closed by someone else (not the bot's own "yes", which says it told
        the customer) while an answer waited for the customer's word: that answer will get none,
        and stops counting as waiting."""
        change = ctx.change
        if change.kind == "assignment" and change.after:
            for record in await ctx.records.of_ticket(ANSWER_KIND, status=Outcome.DEFLECTED.value):
                await ctx.records.update(ANSWER_KIND, record.id, status=Outcome.HELPFUL.value)
        elif change.kind == "status" and change.after in ("resolved", "closed") and not change.told:
            for record in await ctx.records.of_ticket(ANSWER_KIND, status=Outcome.ASKED.value):
                await ctx.records.update(ANSWER_KIND, record.id, status=Outcome.UNCONFIRMED.value)


def _guesses_note(said: Texts, guesses: list[Guess], turned_down: Collection[str] = ()) -> str:
    """The agents' note of a hand-off: the bot's best guesses with their confidence; an answer
    the customer turned down (its group in `turned_down`) is listed as such, whatever it scored."""
    lines = [
        said.get(
            "faq.agent.guess_turned_down" if g.group in turned_down else "faq.agent.guess",
            number=n,
            title=g.title,
            article=g.article_id,
            confidence=round(g.confidence * 100),
        )
        for n, g in enumerate(
            [g for g in guesses[:NOTE_GUESSES] if g.confidence >= SHOWN_MIN_CONFIDENCE or g.group in turned_down], 1
        )
    ]
    return "\n".join([said.get("faq.agent.note"), *lines]) if lines else said.get("faq.agent.no_guess")


def _language(ctx: PluginContext) -> str:
    """What the bot says things in on this ticket (see on_message)."""
    return str(ctx.state.get("language") or ctx.language)


def _turn_down(ctx: PluginContext, answers: Sequence[Guess]) -> list[Guess]:
    """Every answer the customer turned down on this ticket, oldest first, `answers` added: a
    hand-off after the second "no" names both (the agent should not offer the first again)."""
    earlier = [Guess(**g) for g in ctx.state.get("turned_down", [])]
    known = {g.group for g in earlier}
    together = [*earlier, *(g for g in answers if g.group not in known)]
    ctx.state["turned_down"] = [asdict(g) for g in together]
    return together


def _guesses(waiting: dict[str, Any]) -> list[Guess]:
    return [Guess(**g) for g in waiting.get("guesses", [])]


async def _answered(ctx: PluginContext, waiting: dict[str, Any]) -> list[Guess]:
    """The answer the bot gave (the best guess, or the title picked from its list): one article.
    A state saved before "answered" was kept in it: the answer's record names the article
    (its list's first title may not be the one picked)."""
    if answered := waiting.get("answered"):
        return [Guess(**answered)]
    record = await ctx.records.get(ANSWER_KIND, waiting["record"])
    if record is None:
        return []
    data = record.data
    named = {g.article_id: g for g in _guesses(waiting)}
    title = named[data["article_id"]].title if data["article_id"] in named else data["article_id"]
    return [Guess(data["article_id"], data.get("group") or data["article_id"], title, float(data["confidence"]))]
