"""Account help on every channel: login trouble, a forgotten password, registration, a
phone or email change, account deletion, and suspected theft (rules in
conversation/account_intents.py; the platform through `ctx.platform`, hub/platform/).

- Nothing account-specific is done or said for a customer without a verified identity
  (conversation/platform_identity.py): the bot says how to verify, and no more.
- A forgotten password: the platform sends its own reset link to the address registered on
  the account. The chat never carries a password, a link or a code, and the bot never asks
  for one.
- Suspected theft ("账号被盗", "someone logged into my account"): the ticket becomes urgent,
  the customer is asked to confirm, the account is locked through the platform after a
  yes, and the ticket goes to the security team (`security_team`); the customer is told what
  happens next. Without a verified identity the ticket still goes to the team, urgent.
- A phone or email change and a deletion are done by people after checking it is the
  customer: the ticket goes to `team` with the customer told so.

List it after `greeting` (which gives the ticket number) and before a general bot:
`enabled = ["progress", "greeting", "account", ...]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from conversation.account_intents import account_intent, answers_mail, confirmation
from conversation.errors import InvalidInput
from conversation.model import Choice
from conversation.platform_code import login_in
from hub.sdk import (
    Done,
    NotVerified,
    Outcome,
    PlatformError,
    PlatformUser,
    Plugin,
    PluginContext,
    Texts,
    TimerContext,
    hub_texts,
    in_every_language,
    said_in_every_language,
    setting,
    texts,
)

DOMAIN = "account"
LOCK = "account:lock"  # the buttons' ids
KEEP = "account:keep"
AWAITING = "awaiting"  # the state key while a lock waits for the customer's yes
ASKED = "asked"  # how often the lock question was asked
QUESTION = "question"  # the id of the message that asked it
MAX_ASKS = 2
CODE_STEP = "code_step"  # verification by a one-time code: "login" (asked for the account), "code" (sent)
RESUME = "resume"  # the matter a right code takes up again
MATTERS = ("password", "contact_change", "deletion")  # those that need a verified customer to go on


def catalog(language: str) -> Texts:
    return texts(DOMAIN, language)


class AccountPlugin(Plugin):
    # A theft ticket goes to the security team at once (and may be assigned before the customer
    # answers the lock question): the plugin still hears that answer, and nothing else, then.
    always_run: ClassVar[bool] = True

    @dataclass(frozen=True)
    class Settings:  # [plugins.account]
        security_team: str = setting(str, "security", "team (id) that takes suspected account theft", team=True)
        team: str = setting(
            str, "", "team (id) for phone/email changes, deletions, registration; empty: unchanged", team=True
        )
        offer_lock: bool = setting(bool, True, "offer to lock a stolen account through the platform")
        category: str = setting(
            str, "account", "category (id) a ticket gets once a reset link went out (and its team); empty: none"
        )
        offer_code: bool = setting(bool, True, "offer an unverified customer a one-time code sent through the platform")

    settings: Settings

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.message.automatic:
            return Outcome.CONTINUE
        if ctx.verification:  # the message held the one-time code we asked for (taken out before storing)
            await self._code_checked(ctx)
            return Outcome.STOP
        if ctx.state.get(CODE_STEP) in ("login", "code") and not ctx.conversation.human_owned:  # (again: a new code)
            login = login_in(ctx.message.text)
            if login:
                await self._send_code(ctx, login)
                return Outcome.STOP
        awaiting = ctx.state.get(AWAITING) == "lock"
        if ctx.conversation.human_owned and not awaiting:
            return Outcome.CONTINUE  # people have it; only our own open question is still ours to hear
        intent = account_intent(ctx.message.text)
        if awaiting:
            answer = self._lock_answer(ctx)
            if answer is not None:
                self._forget_question(ctx)
                await (self._lock(ctx) if answer else self._keep(ctx))
                return Outcome.STOP
            if intent is None or ctx.conversation.human_owned:
                return await self._unanswered(ctx)
            self._forget_question(ctx)  # another matter: the security team has the theft already
        if intent is None:
            return Outcome.CONTINUE
        await ctx.add_tags(f"account-{intent.value}")
        await getattr(self, f"_{intent.value}")(ctx)
        return Outcome.STOP

    async def _unanswered(self, ctx: PluginContext) -> Outcome:
        """Neither yes nor no: asked once more, then left to the security team (who have the ticket)."""
        if ctx.state.get(ASKED, 1) < MAX_ASKS:
            ctx.state[ASKED] = ctx.state.get(ASKED, 1) + 1
            await self._ask_lock(ctx, again=True)
            return Outcome.STOP
        self._forget_question(ctx)
        await ctx.hand_off(
            "suspected account theft (lock not confirmed)",
            team=self.settings.security_team,
            reasons=in_every_language(DOMAIN, "account.handoff.theft_not_confirmed"),
        )
        return Outcome.CONTINUE

    @staticmethod
    def _forget_question(ctx: PluginContext) -> None:
        for key in (AWAITING, ASKED, QUESTION):
            ctx.state.pop(key, None)

    # -- the matters -----------------------------------------------------------------------
    async def _theft(self, ctx: PluginContext) -> None:
        await ctx.set_priority("urgent")
        t = catalog(ctx.language)
        user = await self._user(ctx) if self.settings.offer_lock else None
        if user is None:  # not verified, unknown, or the platform is down: people take it at once
            await ctx.reply(t.get("account.theft.to_security", number=ctx.conversation.number))
            await ctx.hand_off(
                "suspected account theft",
                team=self.settings.security_team,
                reasons=in_every_language(DOMAIN, "account.handoff.theft"),
            )
            return
        await ctx.set_team(self.settings.security_team)  # seen by the security team before any answer
        ctx.state[AWAITING] = "lock"
        await self._ask_lock(ctx)

    async def _ask_lock(self, ctx: PluginContext, *, again: bool = False) -> None:
        t = catalog(ctx.language)
        adapter = ctx.hub.channel_adapter(ctx.message.channel) if ctx.hub is not None else None
        buttons = adapter is not None and adapter.shows_choices  # an email has none: say the word to reply
        question = t.get(
            "account.theft.ask_again"
            if again
            else "account.theft.confirm"
            if buttons
            else "account.theft.confirm_typed"
        )
        choices = [Choice(LOCK, t.get("account.theft.choice.lock")), Choice(KEEP, t.get("account.theft.choice.keep"))]
        asked = await ctx.ask(question, choices, numbered=False)  # confirm_typed words it for email
        ctx.state[QUESTION] = asked.id  # a mailed yes must reply to this very message

    @staticmethod
    def _lock_answer(ctx: PluginContext) -> bool | None:
        if ctx.chosen in (LOCK, KEEP):
            return ctx.chosen == LOCK
        answer = confirmation(ctx.message.text)
        if answer and ctx.hub is not None and ctx.hub.channel_type(ctx.message.channel) == "email":
            raw = ctx.message.raw or {}
            replies = answers_mail(
                str(ctx.state.get(QUESTION, "")), raw.get("in_reply_to", []), raw.get("references", [])
            )
            return True if replies else None  # a yes that does not reply to our question may be forged
        return answer

    async def _lock(self, ctx: PluginContext) -> None:
        t = catalog(ctx.language)
        number = ctx.conversation.number
        user = await self._user(ctx)
        done: Done | None = None
        if user is not None:
            try:
                done = await ctx.platform.lock_account(user, reason=f"suspected_theft: ticket #{number}")
            except PlatformError:
                user = None  # refused: the security team does it by hand (the timeline says why)
        if user is None:
            key = "account.theft.lock_failed"
        else:
            key = "account.theft.locked" if done is not None else "account.theft.locking"
        await ctx.reply(t.get(key, number=number))
        await ctx.hand_off(
            "suspected account theft",
            team=self.settings.security_team,
            reasons=in_every_language(DOMAIN, "account.handoff.theft"),
        )

    async def _keep(self, ctx: PluginContext) -> None:
        await ctx.reply(catalog(ctx.language).get("account.theft.not_locked", number=ctx.conversation.number))
        await ctx.hand_off(
            "suspected account theft (not locked)",
            team=self.settings.security_team,
            reasons=in_every_language(DOMAIN, "account.handoff.theft_not_locked"),
        )

    async def _password(self, ctx: PluginContext) -> None:
        t = catalog(ctx.language)
        user = await self._user(ctx, tell=True, matter="password")
        if user is None:
            return
        try:
            done = await ctx.platform.send_password_reset(user)
        except PlatformError:
            await ctx.reply(t.get("account.unavailable"))
            await ctx.hand_off(
                "the password-reset link could not be sent",
                team=self.settings.team,
                reasons=in_every_language(DOMAIN, "account.handoff.reset_failed"),
            )
            return
        if done is None:
            await ctx.reply(t.get("account.password.pending"))
        else:
            await ctx.reply(
                t.get("account.password.sent", address=self._address(t, done.sent_to_hint or user.email_hint))
            )
        await self._file_as_account(ctx)

    async def _file_as_account(self, ctx: PluginContext) -> None:
        """The ticket stays open (the customer may say the link never came) but is filed: the
        account category, and with it the category's team, or `team` when one is set."""
        if self.settings.category and not ctx.conversation.category:
            try:
                await ctx.set_category(self.settings.category)
            except InvalidInput as exc:  # no such category, or its required fields: the agents file it
                self.log.warning("reset ticket #%s not filed: %s", ctx.conversation.number, exc)
        if self.settings.team and not ctx.conversation.team:
            await ctx.set_team(self.settings.team)

    async def _login(self, ctx: PluginContext) -> None:
        t = catalog(ctx.language)
        user = await self._user(ctx) if await ctx.platform.verified_identity() is not None else None
        if user is not None and user.status == "locked":
            await ctx.reply(t.get("account.login.locked", number=ctx.conversation.number))
            await ctx.hand_off(
                "the customer's account is locked",
                team=self.settings.security_team,
                reasons=in_every_language(DOMAIN, "account.handoff.locked"),
            )
            return
        await ctx.reply(t.get("account.login.help"))

    async def _registration(self, ctx: PluginContext) -> None:
        await ctx.reply(catalog(ctx.language).get("account.registration.help", number=ctx.conversation.number))
        await ctx.hand_off(
            "registration problem",
            team=self.settings.team,
            reasons=in_every_language(DOMAIN, "account.handoff.registration"),
        )

    async def _contact_change(self, ctx: PluginContext) -> None:
        await self._for_people(ctx, "account.contact_change.next", "phone or email change", "contact_change")

    async def _deletion(self, ctx: PluginContext) -> None:
        await self._for_people(ctx, "account.deletion.next", "account deletion request", "deletion")

    async def _for_people(self, ctx: PluginContext, key: str, reason: str, why: str) -> None:
        """A change people make once they know it is the customer: only a verified customer's goes on."""
        if await self._user(ctx, tell=True, matter=why) is None:
            return
        await ctx.reply(catalog(ctx.language).get(key, number=ctx.conversation.number))
        await ctx.hand_off(reason, team=self.settings.team, reasons=in_every_language(DOMAIN, f"account.handoff.{why}"))

    # -- verification by a one-time code ------------------------------------------------------
    def _offers_code(self, ctx: PluginContext) -> bool:
        return self.settings.offer_code and ctx.platform.offers_code

    async def _send_code(self, ctx: PluginContext, login: str) -> None:
        """The platform sends a code to the account's registered phone or email; the customer's
        next message with a code is checked by the hub (never stored, never given to us)."""
        t = catalog(ctx.language)
        try:
            done = await ctx.platform.send_code(login)
        except PlatformError as exc:  # refused, down, or enough codes for now
            await ctx.reply(t.get("account.code.limited" if exc.code == "limited" else "account.unavailable"))
            return
        ctx.state[CODE_STEP] = "code"
        minutes = int(ctx.platform.code_minutes)
        sent = t.get("account.code.sent", address=self._address(t, done.sent_to_hint), minutes=minutes)
        await ctx.reply(sent, awaits_answer=True)

    async def _code_checked(self, ctx: PluginContext) -> None:
        """What the hub's check of the typed code said; a right code resumes the matter it was for."""
        t = catalog(ctx.language)
        outcome = ctx.verification
        if outcome == "verified":
            matter = str(ctx.state.pop(RESUME, ""))
            ctx.state.pop(CODE_STEP, None)
            await ctx.reply(t.get("account.code.verified"))
            if matter in MATTERS:
                await getattr(self, f"_{matter}")(ctx)
        elif outcome == "wrong":
            await ctx.reply(t.get("account.code.wrong"), awaits_answer=True)
        elif outcome == "used":  # a code again after a right one: taken out, nothing to say
            return
        elif outcome in ("too_many", "expired"):
            ctx.state[CODE_STEP] = "login"  # a new code for the same account
            await ctx.reply(t.get(f"account.code.{outcome}"), awaits_answer=True)
        else:  # the platform could not say: the customer may try again
            await ctx.reply(t.get("account.unavailable"))

    # -- the platform ------------------------------------------------------------------------
    async def _user(self, ctx: PluginContext, *, tell: bool = False, matter: str = "") -> PlatformUser | None:
        """The verified customer's account; None (told why when `tell`) when unverified,
        unknown, or the platform cannot be asked now. Unverified, the customer is offered a
        one-time code, and `matter` is taken up again once the code is right."""
        t = catalog(ctx.language)
        if not ctx.platform.available:
            reason = "account.unavailable"
            user = None
        else:
            try:
                user = await ctx.platform.user()
                reason = "account.not_found"
            except NotVerified:
                user, reason = None, "account.verify_how"
            except PlatformError:  # down, refused or an answer we cannot trust: people take it
                user, reason = None, "account.unavailable"
        if user is None and tell and reason == "account.verify_how" and self._offers_code(ctx):
            ctx.state[CODE_STEP], ctx.state[RESUME] = "login", matter
            await ctx.reply(t.get("account.verify_how_code"), awaits_answer=True)
        elif user is None and tell:
            await ctx.reply(t.get(reason))
            if reason == "account.unavailable":
                await ctx.hand_off(
                    "the platform could not be asked",
                    team=self.settings.team,
                    reasons=in_every_language(DOMAIN, "account.handoff.platform_unavailable"),
                )
        return user

    @staticmethod
    def _address(t: Texts, hint: str) -> str:
        return hint or t.get("account.registered_address")

    async def on_platform_done(self, ctx: TimerContext, done: Done) -> None:
        """A reset link or a lock that had to wait went through: the customer hears so."""
        t = catalog(ctx.language)
        if done.operation == "password_reset":
            await ctx.reply(t.get("account.password.sent_later", address=self._address(t, done.sent_to_hint)))
        elif done.operation == "lock_account" and ctx.conversation is not None:
            await ctx.reply(t.get("account.theft.locked_later", number=ctx.conversation.number))

    async def on_platform_failed(self, ctx: TimerContext, operation: str) -> None:
        """The agents do it by hand: a note (in each agent's language) says what did not happen."""
        if ctx.conversation is None:
            return
        language = ctx.hub.language if ctx.hub is not None else ctx.language

        def note(locale: str) -> str:  # the operation by the timeline's name for it
            what = hub_texts(locale).get(f"event.platform_op.{operation}")
            return catalog(locale).get("account.note.failed", operation=what)

        await ctx.note(note(language), texts=said_in_every_language(note))


__all__ = ["AccountPlugin"]
