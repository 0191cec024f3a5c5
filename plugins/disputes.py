"""Transaction disputes between a buyer and a seller (`[plugins.disputes]`).

- Opening: the buyer writes about an order ("纠纷", "not received", "dispute"...): with a
  verified identity, the bot offers the buyer's orders from the platform as buttons, then
  the reasons, then asks for their statement; an agent may open a case from the inbox or
  the API (`POST /v1/disputes`). A case is a `disputes/case` record on the buyer's ticket.
- The seller is contacted on their own channel (`seller_channel`, the platform's webhook
  channel, where the platform knows them by their user id) in a ticket of their own that
  only this case uses: each party's words stay in their own ticket, and each is told only
  the shared facts (the order, the reason, deadlines, the decision and its grounds).
- Each party answers by a deadline, is reminded before it, and a deadline that passes
  unanswered is recorded in the case and moves it to review (durable timers, at least
  once: each checks the case still waits for that party and that deadline).
- The platform's rules (`[[plugins.disputes.rules]]`) propose a decision, naming the rule;
  an agent decides with grounds (a supervisor above `supervisor_above`); both parties are
  told in their language; a refund goes through the platform API under an idempotency key
  (a failed call is retried by a timer, never paid twice); an appeal window follows. Every
  decision, for the seller too, is told to the platform the same durable way (`record_decision`):
  when made, again once final, and the appeal's decision naming the one it replaces.

The rules are pure functions in conversation/disputes.py; this module words and sequences them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from conversation import disputes as rules
from conversation.disputes import Status
from conversation.errors import InvalidInput
from conversation.inbound import answer_words
from conversation.model import Conversation, Message, MessageKind, new_id, utcnow
from hub.sdk import Choice as Button
from hub.sdk import (
    ConfigError,
    DecisionNotice,
    Done,
    Inbound,
    NotVerified,
    Order,
    Outcome,
    PlatformError,
    PlatformNotConfigured,
    PlatformTools,
    PlatformUnavailable,
    PlatformUser,
    Plugin,
    PluginContext,
    PluginTools,
    Record,
    RecordChanged,
    RecordKind,
    Sender,
    Texts,
    TimerContext,
    best_locale,
    in_every_language,
    said_in_every_language,
    setting,
    texts,
)

DOMAIN = "disputes"
KIND = "case"
LIVE = tuple(s.value for s in Status if s is not Status.CLOSED)
MAX_EVIDENCE = 200
MAX_STATEMENT_CHARS = 4000
REFUND_RETRY = timedelta(minutes=1)
CATEGORY = "dispute"  # 交易纠纷: both parties' tickets are filed under it (it brings its team, finance)


def _titled(en: str, zh: str, **schema: Any) -> dict[str, Any]:
    return {"title": en, "x-title-zh-CN": zh, **schema}


PARTY = {"type": "object", "additionalProperties": True}
CASE = RecordKind(
    KIND,
    _titled(
        "Dispute",
        "交易纠纷",
        type="object",
        **{
            "x-statuses": {
                "opened": _titled("Opened", "已开启"),
                "awaiting_seller": _titled("Awaiting the seller", "等待卖家"),
                "awaiting_buyer": _titled("Awaiting the buyer", "等待买家"),
                "under_review": _titled("Under review", "审核中"),
                "decided": _titled("Decided", "已裁决"),
                "appealed": _titled("Appealed", "申诉中"),
                "closed": _titled("Closed", "已关闭"),
            },
        },
        properties={
            "reference": _titled("Case", "案件编号", type="string"),
            "order_id": _titled("Order", "订单号", type="string", minLength=1, maxLength=128),
            "order_title": _titled("Item", "商品", type="string", maxLength=500),
            "amount": _titled("Amount", "金额", type="string", pattern=r"^\d{1,12}(\.\d{1,4})?$"),
            "currency": _titled("Currency", "币种", type="string", pattern="^[A-Z]{3}$"),
            "reason": _titled("Reason", "原因", type="string", enum=list(rules.REASONS)),
            "ordered_at": _titled("Ordered", "下单时间", type="string"),
            "tracking_number": _titled("Tracking number", "物流单号", type="string"),
            "buyer": PARTY,
            "seller": PARTY,
            "seller_conversation_id": {"type": "string"},
            "evidence": {"type": "array", "maxItems": MAX_EVIDENCE, "items": {"type": "object"}},
            "deadlines": {"type": "object"},
            "missed": {"type": "array", "items": {"type": "object"}},
            "proposal": {"type": ["object", "null"]},
            "decisions": {"type": "array", "items": {"type": "object"}},
            "refund": {"type": "object"},
            "appeal": {"type": "object"},
            # each decision as told to the platform: "<number>" when made, "<number>-final" once final
            "platform_decisions": {"type": "object"},
        },
        required=["order_id", "amount", "currency", "reason"],
    ),
    queries=("order_id", "seller_conversation_id"),
    statuses=rules.STATUSES,
    managed=True,  # changed only through the plugin (its API, its case view): the generic records API refuses
)


def catalog(language: str) -> Texts:
    return texts(DOMAIN, language)


def when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True)
class Edit:
    """One change of a case, computed from its current values (see `DisputesPlugin.change`)."""

    data: dict[str, Any] | None = None
    status: str | None = None
    deadline: datetime | None | bool = False  # False: unchanged


MAX_CHANGE_TRIES = 20  # compare-and-set rounds lost to other writers of the same case
MAX_CASES_PER_ORDER = 200  # closed cases of one order counted for the next one's key (a query's most)


class DisputesPlugin(Plugin):
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (CASE,)
    always_run: ClassVar[bool] = True  # a seller's answer counts whoever owns their ticket

    @dataclass(frozen=True)
    class Settings:  # [plugins.disputes]
        seller_channel: str = setting(
            str, "", "the channel the platform knows sellers on by their user id (its webhook channel)"
        )
        respond_days: float = setting(float, 3.0, "days a party has to answer", minimum=0.001)
        remind_hours: list = setting(list, [24.0, 2.0], "hours before a deadline to remind the party")  # type: ignore[type-arg]
        appeal_days: float = setting(float, 7.0, "days after a decision either party may appeal", minimum=0.001)
        supervisor_above: dict = setting(  # type: ignore[type-arg]
            dict, {}, 'amounts above which a supervisor decides, by currency ({CNY = "2000"})'
        )
        rules: list = setting(list, [], "the platform's rules; the first that matches proposes the decision")  # type: ignore[type-arg]
        max_orders: int = setting(int, 5, "orders offered as buttons", minimum=1)

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Settings) -> None:
        try:
            cls._rules(prefix, settings)
            rules.supervisor_limits(settings.supervisor_above, f"{prefix}.supervisor_above")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        for hours in settings.remind_hours:
            if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
                raise ConfigError(f"{prefix}.remind_hours: expected positive numbers of hours, got {hours!r}")

    @staticmethod
    def _rules(prefix: str, settings: Settings) -> list[rules.Rule]:
        found = []
        for i, table in enumerate(settings.rules):
            if not isinstance(table, dict):
                raise ValueError(f"{prefix}.rules[{i}]: expected a table ([[{prefix}.rules]])")
            found.append(rules.Rule.from_table(table, f"{prefix}.rules[{i}]"))
        return found

    def __init__(self, name: str, settings: Any) -> None:
        super().__init__(name, settings)
        self.rules = self._rules(f"plugins.{name}", settings)
        self.limits = rules.supervisor_limits(settings.supervisor_above, f"plugins.{name}.supervisor_above")
        self.clock: Callable[[], datetime] = utcnow  # tests move it with the hub's clock

    # -- the platform ---------------------------------------------------------------------
    @staticmethod
    def _platform(ctx: PluginTools) -> PlatformTools:
        """The platform for the context's ticket (lookups by its customer's verified identity,
        every call in the ticket's timeline); PlatformNotConfigured without a [platform]."""
        tools = ctx.platform
        if not tools.available:
            raise PlatformNotConfigured("the platform API is not configured ([platform] base_url)")
        return tools

    async def buyer(self, ctx: PluginTools) -> PlatformUser | None:
        """The ticket's customer's platform account from a verified identity; None when they
        have none (the bot says how to verify) or the platform knows no such account."""
        try:
            return await self._platform(ctx).user()
        except NotVerified:
            return None

    async def order_of_buyer(self, ctx: PluginTools, order_id: str, user: PlatformUser) -> Order | None:
        """One of the verified customer's orders that they bought (not one they sold)."""
        order = await self._platform(ctx).order_of(order_id, user_id=user.id)  # the id just verified
        return order if order is not None and order.buyer_id == user.id else None

    # -- messages ---------------------------------------------------------------------------
    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.message.kind is not MessageKind.MESSAGE:
            # The record that opened a seller's ticket: nobody else answers it.
            return Outcome.STOP if (ctx.message.raw or {}).get("dispute") else Outcome.CONTINUE
        seller_case = await self._case_of_seller_ticket(ctx)
        if seller_case is not None:
            await self._from_party(ctx, seller_case, "seller")
            return Outcome.STOP
        # the buyer said which of their cases they appeal
        if ctx.state.get("step") == "appeal" and await self._appeal_picked(ctx):
            return Outcome.STOP
        if ctx.conversation.human_owned and not ctx.state.get("step"):
            live = [c for c in await ctx.records.of_ticket(KIND) if c.status in LIVE]
            if live:  # the buyer's words still join their case, quietly
                await self._from_party(ctx, live[0], "buyer")
            return Outcome.CONTINUE
        if ctx.state.get("step") or (ctx.chosen.startswith(rules.CHOICE_PREFIX) and not self._appeal(ctx)):
            await self._opening(ctx)
            return Outcome.STOP
        live = [c for c in await ctx.records.of_ticket(KIND) if c.status in LIVE]
        if live:
            await self._from_party(ctx, live[0], "buyer")
            return Outcome.STOP
        if self._appeal(ctx) and (ended := [c for c in await ctx.records.of_ticket(KIND) if c.data.get("decisions")]):
            # every case here is closed: told why it cannot be appealed, not greeted
            await self._appeal_case(ctx, max(ended, key=lambda c: c.data["decisions"][-1]["at"]), "buyer", "")
            return Outcome.STOP
        if rules.asks_for_dispute(ctx.message.text):
            await self._opening(ctx)
            return Outcome.STOP
        return Outcome.CONTINUE

    @staticmethod
    def _appeal(ctx: PluginContext) -> bool:
        return rules.asks_to_appeal(ctx.message.text, ctx.chosen)

    async def _case_of_seller_ticket(self, ctx: PluginContext) -> Record | None:
        if ctx.message.channel != self.settings.seller_channel:
            return None
        found = await ctx.records.query(KIND, seller_conversation_id=ctx.conversation.id, limit=1)
        return found[0] if found else None

    async def _from_party(self, ctx: PluginContext, case: Record, party: str) -> None:
        """A party wrote on their own ticket: an appeal, or their side (kept as evidence)."""
        t = catalog(ctx.language)
        if self._appeal(ctx):
            await self._appeal_from_chat(ctx, case, party)
            return
        if case.status in (Status.DECIDED, Status.CLOSED):
            await ctx.reply(t.get("disputes.already_decided", case=case.data.get("reference", "")))
            return
        await self.add_evidence(ctx, case, party, ctx.message)
        if not ctx.conversation.human_owned:  # a person talking with them says it in their own words
            await ctx.reply(t.get("disputes.received", case=case.data.get("reference", "")))

    def _appealable(self, case: Record) -> bool:
        decided = case.data.get("decisions", [])
        return rules.may_appeal(
            case.status,
            _iso(decided[-1]["at"]) if decided else None,
            self.clock(),
            self.settings.appeal_days,
            appealed=bool(case.data.get("appeal")),
        )

    async def _appeal_from_chat(self, ctx: PluginContext, case: Record, party: str) -> None:
        """ "申诉：理由" / "appeal: reasons" (or the button): the words after it are the grounds. A
        buyer's ticket may hold several cases: the one whose appeal window is open is appealed,
        and with several open the buyer is asked which (buttons, or its number)."""
        t = catalog(ctx.language)
        grounds = rules.appeal_grounds(ctx.message.text) or ""
        cases = [case]
        if party == "buyer":
            cases = [c for c in await ctx.records.of_ticket(KIND) if c.status in LIVE] or [case]
        picked = rules.picked(ctx.chosen, "appeal")
        open_ = [c for c in cases if self._appealable(c) and (not picked or c.id == picked)]
        if len(open_) > 1:
            ctx.state.clear()
            ctx.state.update(step="appeal", cases=[c.id for c in open_], grounds=grounds)
            lines = [t.get("disputes.pick_appeal")]
            lines += [
                f"{i}. {c.data.get('reference', '')} (#{c.data.get('order_id', '')})" for i, c in enumerate(open_, 1)
            ]
            buttons = [Button(f"{rules.CHOICE_PREFIX}appeal:{c.id}", c.data.get("reference", "")) for c in open_]
            await ctx.ask("\n".join(lines), buttons, numbered=False)
            return
        target = open_[0] if open_ else next((c for c in cases if c.id == picked), cases[0])
        await self._appeal_case(ctx, target, party, grounds)

    async def _appeal_picked(self, ctx: PluginContext) -> bool:
        """The answer to "which case do you appeal?": a button or a listed number. Anything else
        ends the question (False: the message is handled as usual)."""
        ids = [str(i) for i in ctx.state.get("cases", [])]
        grounds = str(ctx.state.get("grounds", ""))
        chosen = rules.picked(ctx.chosen, "appeal")
        word = ctx.message.text.strip().strip(".。")
        if not chosen and word.isdigit() and 1 <= int(word) <= len(ids):
            chosen = ids[int(word) - 1]
        ctx.state.clear()
        case = await ctx.records.get(KIND, chosen) if chosen in ids else None
        if case is None:
            return False
        await self._appeal_case(ctx, case, "buyer", grounds)
        return True

    async def _appeal_case(self, ctx: PluginContext, case: Record, party: str, grounds: str) -> None:
        try:
            await self.appeal(ctx, case, party=party, grounds=grounds, who=f"{party}:{ctx.contact.id}")
        except InvalidInput:
            await ctx.reply(self._why_not_appealed(catalog(ctx.language), case))

    def _why_not_appealed(self, t: Texts, case: Record) -> str:
        """Why this case's appeal is refused, in the party's language: appealed once already (the
        appeal's decision is final), or its window has closed (the decision is final)."""
        reference = case.data.get("reference", "")
        decided = case.data.get("decisions", [])
        decided_at = _iso(decided[-1]["at"]) if decided else None
        if case.data.get("appeal") and case.status == Status.APPEALED:  # not decided yet: not "final" (a trial)
            return t.get("disputes.appeal_pending", case=reference)
        if case.data.get("appeal"):
            return t.get("disputes.appealed_once", case=reference)
        if decided_at is not None and case.status in (Status.DECIDED, Status.CLOSED):
            return t.get(
                "disputes.appeal_closed",
                case=reference,
                until=when(rules.appeal_closes(decided_at, self.settings.appeal_days)),
            )
        return t.get("disputes.appeal_refused", case=reference)

    async def change(
        self, ctx: Any, case_id: str, edit: Callable[[Record], Edit | None], *, action: str = ""
    ) -> tuple[Record, bool]:
        """Apply `edit` to the case as it is now, by compare-and-set on its version: a change
        computed from the case's values (an appended statement, a status move) never undoes
        one another writer (a deadline timer, another hub, an agent) made meanwhile. `edit`
        answers None when there is nothing to do; whether the case changed. `action`: the
        audit log's name for an agent's change (`dispute.decide`)."""
        for _ in range(MAX_CHANGE_TRIES):
            current = await ctx.records.get(KIND, case_id)
            if current is None:
                raise InvalidInput(f"no dispute {case_id}")
            wanted = edit(current)
            if wanted is None:
                return current, False
            try:
                updated = await ctx.records.update(
                    KIND,
                    case_id,
                    data=wanted.data,
                    status=wanted.status,
                    deadline=wanted.deadline,
                    expect_version=current.version,
                    action=action,
                )
            except RecordChanged:
                continue
            return updated, True
        raise RecordChanged(f"dispute {case_id} kept changing; try again")

    async def add_evidence(self, ctx: Any, case: Record, party: str, message: Message) -> Record:
        """The party's statement and attachments join the case; their answer ends their wait.
        The same message again (a plugin run retried) adds nothing."""
        at = message.created_at.isoformat()
        new: list[dict[str, Any]] = []
        said = answer_words(message.text)  # without a mail program's quote of our question
        if said.strip():
            new.append(
                {
                    "party": party,
                    "type": "statement",
                    "text": said[:MAX_STATEMENT_CHARS],
                    "message_id": message.id,
                    "at": at,
                }
            )
        for a in message.attachments:
            new.append(
                {
                    "party": party,
                    "type": "attachment",
                    "name": a.name,
                    "content_type": a.content_type,
                    "size": a.size,
                    "ref": a.blob_ref,
                    "message_id": message.id,
                    "at": at,
                }
            )

        def edit(current: Record) -> Edit | None:
            items = list(current.data.get("evidence", []))
            if not new or any(e.get("message_id") == message.id for e in items):
                return None
            answered = rules.waited_party(current.status) == party
            return Edit(
                data={"evidence": [*items, *new][-MAX_EVIDENCE:]},
                status=Status.UNDER_REVIEW.value if answered else None,
                deadline=None if answered else False,
            )

        before = case.status
        updated, changed = await self.change(ctx, case.id, edit)
        if changed and updated.status != before:  # their answer ended their wait: no reminder, no deadline
            await self._cancel_timers(ctx, updated, party)
        return await self._repropose(ctx, updated) if changed else updated

    # -- opening by the buyer -----------------------------------------------------------------
    async def _opening(self, ctx: PluginContext) -> None:
        t = catalog(ctx.language)
        try:
            user = await self.buyer(ctx)
            if user is None:
                # No case without knowing whose orders they are; but the ticket is a dispute all
                # the same: filed there and handed to a person, its number said (a trial's visitor
                # was told to sign in, and the ticket waited unfiled, its number never given).
                ctx.state.clear()
                await self._file_under_disputes(ctx)
                await ctx.reply(t.get("disputes.verify", number=ctx.conversation.number))
                reasons = in_every_language("disputes", "disputes.handed_unverified")
                await ctx.hand_off(reasons.get(ctx.hub.language if ctx.hub else "en", ""), reasons=reasons)
                return
            await self._opening_step(ctx, t, user)
        except (PlatformNotConfigured, PlatformUnavailable) as exc:  # down, or not set up: say so, reveal nothing
            self.log.warning("platform call failed while opening a dispute: %s", exc.__class__.__name__)
            await ctx.reply(t.get("disputes.unavailable"))

    async def _opening_step(self, ctx: PluginContext, t: Texts, user: PlatformUser) -> None:
        step = ctx.state.get("step", "")
        if step and rules.asks_to_cancel(ctx.message.text):
            ctx.state.clear()
            await ctx.reply(t.get("disputes.cancelled"))
            return
        platform = self._platform(ctx)
        orders: list[Order] | None = None
        typed = answer_words(ctx.message.text).strip()  # a mail's answer, without its quote of the question
        order_id = rules.picked(ctx.chosen, "order") or (typed if step == "order" else "")
        if not step and not order_id:  # "订单 o-5531 没收到货": the order named at once is not asked for again
            orders = await self._orders_of(platform, user)
            order_id = rules.named_order(ctx.message.text, [o.id for o in orders])
        reason = rules.picked(ctx.chosen, "reason") or (rules.typed_reason(typed) if step == "reason" else "")
        if order_id:
            order = await self.order_of_buyer(ctx, order_id, user)
            if order is None:
                await ctx.reply(t.get("disputes.unknown_order"))
                return
            open_case = await self._open_case_of(ctx, order.id)
            if open_case is not None:  # said now, not after the statement (a trial: the plugin failed there)
                ctx.state.clear()
                await ctx.reply(t.get("disputes.already_open", order=order.id, case=open_case.data.get("reference")))
                await self._points_to_case(ctx, open_case)
                return
            stated = str(ctx.state.get("stated_reason", "")) or (rules.stated_reason(typed) if not step else "")
            if stated in rules.REASONS:  # "订单 A-1001 没收到货": the reason is not asked again either
                ctx.state.clear()
                ctx.state.update(step="statement", order=order.id, reason=stated)
                reason_label = t.get(f"disputes.reason.{stated}")
                await ctx.reply(
                    t.get(self._photos(ctx, "disputes.ask_statement_about"), order=order.id, reason=reason_label),
                    awaits_answer=True,
                )
                return
            ctx.state.update(step="reason", order=order.id)
            labels = [t.get(f"disputes.reason.{r}") for r in rules.REASONS]
            buttons = [
                Button(f"{rules.CHOICE_PREFIX}reason:{r}", label)
                for r, label in zip(rules.REASONS, labels, strict=True)
            ]
            if ctx.shows_choices():  # the buttons say it: not listed twice (a trial)
                await ctx.ask(t.get("disputes.pick_reason_buttons", order=order.id), buttons, numbered=False)
                return
            listed = [
                f"{i}. {label}" for i, label in enumerate(labels, 1)
            ]  # a channel without buttons: type the number
            await ctx.ask("\n".join([t.get("disputes.pick_reason", order=order.id), *listed]), buttons, numbered=False)
            return
        if reason and step == "reason" and reason in rules.REASONS:
            ctx.state.update(step="statement", reason=reason)
            await ctx.reply(t.get(self._photos(ctx, "disputes.ask_statement")), awaits_answer=True)
            return
        if step == "statement" and (ctx.message.text.strip() or ctx.message.attachments):
            order = await self.order_of_buyer(ctx, str(ctx.state.get("order", "")), user)
            reason = str(ctx.state.get("reason", ""))
            ctx.state.clear()
            if order is None:
                await ctx.reply(t.get("disputes.unknown_order"))
                return
            case = await self.open_case(ctx, order, reason, statement=ctx.message, who=self.name)
            await ctx.reply(
                t.get(
                    self._photos(ctx, "disputes.opened"),
                    case=case.data["reference"],
                    order=order.id,
                    deadline=self._deadline_text(case),
                )
            )
            return
        if orders is None:
            orders = await self._orders_of(platform, user)
        if not orders:
            ctx.state.clear()
            await ctx.reply(t.get("disputes.no_orders"))
            return
        # an order with a case under way is not offered again (a trial's list offered it, as the example too)
        free = [o for o in orders if await self._open_case_of(ctx, o.id) is None]
        orders = free or orders
        stated = rules.stated_reason(typed) if not step else ""
        ctx.state.clear()
        ctx.state["step"] = "order"
        if stated:
            ctx.state["stated_reason"] = stated
        lines = [
            t.get("disputes.order_item", order=o.id, title=o.title or "-", amount=o.amount, currency=o.currency)
            for o in orders
        ]
        buttons = [  # what the buyer recognises: the item and its price (the id is in the list above)
            Button(
                f"{rules.CHOICE_PREFIX}order:{o.id}",
                t.get("disputes.order_button", title=o.title or f"#{o.id}", amount=o.amount, currency=o.currency),
            )
            for o in orders
        ]
        await ctx.ask("\n".join([t.get("disputes.pick_order", example=orders[0].id), *lines]), buttons, numbered=False)

    @staticmethod
    def _photos(ctx: PluginContext, key: str) -> str:
        """`key`, or its words without photos where the customer cannot send files (the platform
        webhook refuses them: a trial's buyer was asked for photos it could not send)."""
        return key if ctx.receives_files() else f"{key}_no_files"

    async def _orders_of(self, platform: PlatformTools, user: PlatformUser) -> list[Order]:
        """The buyer's own orders among the platform's latest (at most `max_orders`)."""
        return [o for o in await platform.orders(limit=self.settings.max_orders) if o.buyer_id == user.id]

    async def _points_to_case(self, ctx: PluginContext, case: Record) -> None:
        """A ticket about an order whose case is elsewhere: filed under disputes, with a note
        naming the case's ticket, so it does not wait unfiled (a trial) and an agent can merge it."""
        await self._file_under_disputes(ctx)
        where = await ctx.hub.reads.get_conversation(case.conversation_id) if ctx.hub else None
        params = {"case": case.data.get("reference", ""), "order": case.data.get("order_id", "")}
        params["number"] = str(where.number) if where else "?"
        texts = in_every_language("disputes", "disputes.note.elsewhere", **params)
        await ctx.note(texts.get(ctx.hub.language if ctx.hub else "en", ""), texts=texts)

    @staticmethod
    async def _open_case_of(ctx: Any, order_id: str) -> Record | None:
        """The order's dispute still under way, if it has one."""
        cases = await ctx.records.query(KIND, order_id=order_id, limit=MAX_CASES_PER_ORDER)
        return next((case for case in cases if case.status in LIVE), None)

    @staticmethod
    def _deadline_text(case: Record) -> str:
        return when(case.deadline) if case.deadline else "-"

    # -- the case ------------------------------------------------------------------------------
    async def open_case(
        self, ctx: Any, order: Any, reason: str, *, statement: Message | None = None, text: str = "", who: str
    ) -> Record:
        """A new case on the context's (buyer's) ticket, and the seller asked on their channel."""
        if reason not in rules.REASONS:
            raise InvalidInput(f"reason must be one of {', '.join(rules.REASONS)}")
        earlier = await ctx.records.query(KIND, order_id=order.id, limit=MAX_CASES_PER_ORDER)
        for existing in earlier:
            if existing.status in LIVE:
                raise InvalidInput(f"order {order.id} has an open dispute already ({existing.data.get('reference')})")
        buyer = ctx.conversation
        data = {
            "reference": f"D-{buyer.number}-{new_id()[-4:].upper()}",  # said to both parties: short, unique
            "order_id": order.id,
            "order_title": order.title or "",
            "amount": str(order.amount),
            "currency": order.currency,
            "reason": reason,
            "ordered_at": order.created_at or "",
            "tracking_number": order.tracking_number or "",
            "buyer": {
                "user_id": order.buyer_id,
                "conversation_id": buyer.id,
                "channel": buyer.channel,
                "contact_id": buyer.contact_id,
            },
            "seller": {"user_id": order.seller_id},
            "evidence": [],
            "deadlines": {},
            "missed": [],
            "decisions": [],
            "opened_by": who,
        }
        # The order's next case, made in one atomic step: two openings at the same instant (the
        # buyer's bot dialogue and an agent) both found no open case, and only one makes it.
        case, made = await ctx.records.create_once(
            KIND,
            rules.case_key(order.id, len(earlier)),
            data,
            status=Status.OPENED.value,
            conversation=buyer,
            action="dispute.open",
        )
        if not made:
            raise InvalidInput(f"order {order.id} has an open dispute already ({case.data.get('reference')})")
        await self._file_under_disputes(ctx)
        if statement is not None:
            case = await self.add_evidence(ctx, case, "buyer", statement)
        elif text.strip():
            item = {
                "party": "buyer",
                "type": "statement",
                "text": text.strip()[:MAX_STATEMENT_CHARS],
                "by": who,
                "at": self.clock().isoformat(),
            }
            case, _ = await self.change(ctx, case.id, lambda c: Edit(data={"evidence": [*c.data["evidence"], item]}))
        case = await self._contact_seller(ctx, case)
        return await self._repropose(ctx, case)

    async def _file_under_disputes(self, ctx: Any) -> None:
        """The buyer's ticket is now about a dispute: its category (and with it the category's
        team, when the ticket has none). A hub whose admins removed the category keeps its own."""
        if ctx.conversation.category == CATEGORY or ctx.hub is None:
            return
        if await ctx.hub.store.desk.get_category(CATEGORY) is None:
            self.log.warning("no ticket category %r: dispute tickets keep theirs", CATEGORY)
            return
        await ctx.set_category(CATEGORY)

    async def _contact_seller(self, ctx: Any, case: Record) -> Record:
        """Open the seller's own ticket for this case on their channel and ask them to answer."""
        if ctx.hub is None or not self.settings.seller_channel:
            raise InvalidInput("plugins.disputes.seller_channel is not set: the seller cannot be contacted")
        seller_id = case.data["seller"]["user_id"]
        user = await self._platform(ctx).account(seller_id)  # an id from the platform's own order
        language = str(getattr(user, "language", "") or "")
        hub_t = catalog(ctx.hub.language)
        record = await ctx.hub.ingest(
            Inbound(
                channel=self.settings.seller_channel,
                external_id=f"dispute:{case.id}",  # a retry finds the same ticket
                sender=Sender(address=seller_id, language=language, display_name=user.display_name if user else ""),
                thread_key=f"dispute-{case.id}",
                subject=hub_t.get("disputes.seller_subject", case=case.data["reference"], order=case.data["order_id"]),
                text=hub_t.get("disputes.note.seller_ticket", case=case.data["reference"], order=case.data["order_id"]),
                raw={"dispute": case.id},
                record_only=True,
            )
        )
        seller_ticket = record.conversation
        team = ctx.conversation.team
        filing: dict[str, Any] = {}
        if team and seller_ticket.team != team:  # the seller's side is seen by the team that sees the buyer's
            filing["team"] = team
        if ctx.conversation.category == CATEGORY and seller_ticket.category != CATEGORY:
            filing["category"] = CATEGORY
        if filing:
            seller_ticket = await ctx.actions.update_conversation(seller_ticket, filing)
        now = self.clock()
        deadline = rules.respond_by(now, self.settings.respond_days)
        seller = {
            **case.data["seller"],
            "conversation_id": seller_ticket.id,
            "number": seller_ticket.number,
            "channel": seller_ticket.channel,
            "language": language,
        }
        case, _ = await self.change(
            ctx,
            case.id,
            lambda c: Edit(
                data={
                    "seller": seller,
                    "seller_conversation_id": seller_ticket.id,
                    "deadlines": {**c.data.get("deadlines", {}), "seller": deadline.isoformat()},
                },
                status=rules.check_move(c.status, Status.AWAITING_SELLER).value,
                deadline=deadline,
            ),
        )
        await self._tell(ctx, seller_ticket, "disputes.seller_asked", case, deadline=when(deadline))
        await self._schedule_deadline(ctx, case, "seller", now, deadline)
        buyer_ticket = ctx.conversation
        params = {
            "case": case.data["reference"],
            "order": case.data["order_id"],
            "number": seller_ticket.number,
            "deadline": when(deadline),
        }
        # in each agent's language, as the inbox reads it (a trial's Chinese desk read English)
        await ctx.actions.add_note(
            buyer_ticket,
            hub_t.get("disputes.note.opened", **params),
            author=self.name,
            texts=in_every_language("disputes", "disputes.note.opened", **params),
        )
        return case

    async def _schedule_deadline(self, ctx: Any, case: Record, party: str, now: datetime, deadline: datetime) -> None:
        data = {"case": case.id, "party": party, "deadline": deadline.isoformat()}
        for i, at in enumerate(rules.reminders(now, deadline, self.settings.remind_hours)):
            await ctx.schedule(at, "remind", data, key=f"{case.id}:{party}:remind:{i}")
        await ctx.schedule(deadline, "deadline", data, key=f"{case.id}:{party}:deadline")

    async def _cancel_timers(self, ctx: Any, case: Record, party: str) -> None:
        for i in range(len(self.settings.remind_hours)):
            await ctx.cancel(f"{case.id}:{party}:remind:{i}")
        await ctx.cancel(f"{case.id}:{party}:deadline")

    def facts(self, case: Record, now: datetime) -> rules.Facts:
        ordered = _iso(case.data.get("ordered_at", ""))
        days = (now - ordered).total_seconds() / 86400 if ordered else 0.0
        return rules.Facts(
            reason=case.data["reason"],
            amount=rules.amount(case.data["amount"]),
            currency=case.data["currency"],
            days_since_order=days,
            has_tracking=bool(case.data.get("tracking_number")),
            seller_answered=any(e.get("party") == "seller" for e in case.data.get("evidence", [])),
        )

    async def _repropose(self, ctx: Any, case: Record) -> Record:
        def edit(current: Record) -> Edit | None:
            proposal = rules.propose(self.rules, self.facts(current, self.clock()))
            value = {"outcome": proposal.outcome.value, "rule": proposal.rule} if proposal else None
            return None if value == current.data.get("proposal") else Edit(data={"proposal": value})

        updated, _ = await self.change(ctx, case.id, edit)
        return updated

    # -- timers ------------------------------------------------------------------------------
    async def on_timer(self, ctx: TimerContext) -> None:
        case = await ctx.records.get(KIND, str(ctx.timer.data.get("case", "")))
        if case is None:
            return
        if ctx.timer.name == "refund":
            await self._refund(ctx, case)
            return
        if ctx.timer.name == "decision":
            await self._retell_platform(ctx, case)
            return
        if ctx.timer.name == "close":
            await self._close_unappealed(ctx, case)
            return
        party, deadline = str(ctx.timer.data.get("party", "")), str(ctx.timer.data.get("deadline", ""))
        if not self._still_waiting(case, party, deadline):  # answered, decided, or a newer deadline: stale
            return
        ticket = await self._party_ticket(ctx, case, party)
        if ctx.timer.name == "remind" and ticket is not None:
            moment = _iso(deadline)
            await self._tell(ctx, ticket, "disputes.reminder", case, deadline=when(moment) if moment else "-")
        elif ctx.timer.name == "deadline":
            await self._missed(ctx, case, party, deadline)

    async def _close_unappealed(self, ctx: TimerContext, case: Record) -> None:
        """The appeal window closed without an appeal: the decision is final, the case closes and
        its held refund is paid now (a retried timer finds it closed and pays nothing again)."""
        now = self.clock()

        def edit(c: Record) -> Edit | None:
            if c.status != Status.DECIDED or c.deadline is None or now < c.deadline:
                return None
            released = rules.release_held(c.data.get("refund") or {})
            return Edit(data={"refund": released} if released else None, status=Status.CLOSED.value, deadline=None)

        case, closed = await self.change(ctx, case.id, edit)
        decided = case.data.get("decisions", [])
        if closed:  # once: a retried timer finds the case closed and changes nothing
            for side in rules.PARTIES:
                if (ticket := await self._party_ticket(ctx, case, side)) is not None:
                    await self._tell(ctx, ticket, "disputes.now_final", case)
        if case.status == Status.CLOSED and decided and not case.data.get("appeal"):
            case = await self._tell_platform(ctx, case, decided[-1], final=True, appeal_until=None)
        if (case.data.get("refund") or {}).get("status") == rules.PENDING:
            await self._refund(ctx, case)

    @staticmethod
    def _still_waiting(case: Record, party: str, deadline: str) -> bool:
        return rules.waited_party(case.status) == party and case.data.get("deadlines", {}).get(party) == deadline

    async def on_platform_done(self, ctx: TimerContext, done: Done) -> None:
        """A refund or a decision the platform did not answer at once is done (the hub repeated it)."""
        if ctx.timer.data.get("operation") == "dispute_decision":
            await self._decision_settled(ctx, {"status": str(done.status), "reference": str(done.reference)})
            return
        await self._refund_settled(ctx, {"status": str(done.status), "reference": str(done.reference), "error": None})

    async def on_platform_failed(self, ctx: TimerContext, operation: str) -> None:
        """A refund or a decision the platform refused, or that the hub gave up repeating: agents see it failed."""
        if operation == "refund":
            await self._refund_settled(ctx, {"status": "failed", "error": "platform"})
        elif operation == "dispute_decision":
            await self._decision_settled(ctx, {"status": "failed", "error": "platform"})

    async def _decision_settled(self, ctx: TimerContext, outcome: dict[str, Any]) -> None:
        args = dict(ctx.timer.data.get("args") or {})
        for case in await ctx.records.query(KIND, order_id=str(args.get("order_id", "")), limit=MAX_CASES_PER_ORDER):
            if case.data.get("reference") == args.get("decision"):
                await self._note_told(
                    ctx, case, self._occasion(int(args["number"]), args.get("final") == "true"), outcome
                )

    async def _refund_settled(self, ctx: TimerContext, outcome: dict[str, Any]) -> None:
        args = dict(ctx.timer.data.get("args") or {})
        if ctx.timer.data.get("operation") != "refund" or ctx.conversation is None:
            return
        for case in await ctx.records.of_ticket(KIND):
            if case.data.get("order_id") != args.get("order_id"):
                continue

            def edit(current: Record) -> Edit | None:
                state = dict(current.data.get("refund") or {})
                if state.get("status") != "pending":
                    return None
                merged = {k: v for k, v in {**state, **outcome}.items() if v is not None}
                return Edit(data={"refund": merged})

            updated, changed = await self.change(ctx, case.id, edit)
            await self._tell_refund_paid(ctx, updated, changed)

    async def _tell_refund_paid(self, ctx: Any, case: Record, changed: bool) -> None:
        """The buyer hears once that the platform paid their refund (the change that recorded it)."""
        refund = case.data.get("refund") or {}
        if not changed or refund.get("status") != "refunded":
            return
        if (ticket := await self._party_ticket(ctx, case, "buyer")) is not None:
            await self._tell(ctx, ticket, "disputes.refund_paid", case, refund=refund.get("amount", ""))

    async def _missed(self, ctx: TimerContext, case: Record, party: str, deadline: str) -> None:
        """No answer by the deadline: recorded, and the case moves on to review (once: a timer
        fired again finds the case no longer waiting and leaves it)."""
        now = self.clock()

        def edit(current: Record) -> Edit | None:
            target = rules.after_missed_deadline(current.status)
            if target is None or not self._still_waiting(current, party, deadline):
                return None
            missed = [*current.data.get("missed", []), {"party": party, "deadline": deadline, "at": now.isoformat()}]
            return Edit(data={"missed": missed}, status=target.value, deadline=None)

        case, changed = await self.change(ctx, case.id, edit)
        if not changed:
            return
        case = await self._repropose(ctx, case)
        hub_language = ctx.hub.language if ctx.hub else ctx.language
        buyer = await self._party_ticket(ctx, case, "buyer")
        if buyer is not None:
            moment = when(_iso(deadline) or self.clock())

            def missed_note(locale: str) -> str:
                t = catalog(locale)
                return t.get(
                    "disputes.note.missed",
                    case=case.data["reference"],
                    party=t.get(f"disputes.party.{party}"),
                    deadline=moment,
                )

            await ctx.actions.add_note(
                buyer, missed_note(hub_language), author=self.name, texts=said_in_every_language(missed_note)
            )
        other = await self._party_ticket(ctx, case, rules.other_party(party))
        if other is not None:
            await self._tell(ctx, other, f"disputes.missed_by_{party}", case)

    # -- decisions and appeals (agents, through the API) ----------------------------------------
    async def decide(
        self, ctx: Any, case: Record, *, outcome: str, grounds: str, refund: str | None, supervisor: bool, who: str
    ) -> Record:
        """An agent's decision with grounds: recorded first (so a retry or another hub sees it),
        both parties told, and the appeal window opened, its refund held until the window closes
        unappealed. After an appeal the decision is final: its refund is paid at once and the
        case closes."""
        now = self.clock()
        closes = rules.appeal_closes(now, self.settings.appeal_days)
        made: dict[str, Any] = {}

        def edit(current: Record) -> Edit:
            earlier = current.data.get("decisions", [])
            appealed = bool(current.data.get("appeal"))
            waited = rules.waited_party(current.status)
            decision = rules.check_decision(
                status=current.status,
                outcome=outcome,
                grounds=grounds,
                case_amount=rules.amount(current.data["amount"]),
                case_currency=current.data["currency"],
                refund=refund,
                supervisor=supervisor,
                limits=self.limits,
                waiting=rules.Waiting(
                    _iso(current.data.get("deadlines", {}).get(waited, "")),
                    any(e.get("party") == waited for e in current.data.get("evidence", [])),
                    now,
                )
                if waited
                else None,
                appealed=rules.Appealed(str(earlier[-1].get("by", "")) if earlier else "", who) if appealed else None,
            )
            number = len(earlier) + 1
            entry: dict[str, Any] = {
                "number": number,
                "outcome": decision.outcome.value,
                "grounds": decision.grounds,
                "refund": str(decision.refund),
                "by": who,
                "at": now.isoformat(),
                "proposal": current.data.get("proposal"),
            }
            made.update(entry=entry, appealed=appealed)
            return Edit(
                data={
                    "decisions": [*earlier, entry],
                    "refund": rules.refund_after_decision(
                        current.data.get("refund") or {},
                        key=rules.refund_key(current.id, number),
                        refund=decision.refund,
                        appeal_decision=appealed,
                    ),
                    "appeal_until": None if appealed else closes.isoformat(),
                },
                status=rules.check_move(current.status, Status.DECIDED).value,
                deadline=None if appealed else closes,
            )

        case, _ = await self.change(ctx, case.id, edit, action="dispute.decide")
        for party in rules.PARTIES:
            await self._cancel_timers(ctx, case, party)
        case = await self._tell_platform(ctx, case, made["entry"], final=made["appealed"], appeal_until=closes)
        if (case.data.get("refund") or {}).get("status") == rules.PENDING:
            case = await self._refund(ctx, case)
        for party in rules.PARTIES:
            ticket = await self._party_ticket(ctx, case, party)
            if ticket is not None:
                await self._tell_decision(ctx, ticket, case, made["entry"], appealed=made["appealed"], closes=closes)
        if made["appealed"]:
            case, _ = await self.change(
                ctx, case.id, lambda c: Edit(status=Status.CLOSED.value) if c.status == Status.DECIDED else None
            )
        else:
            await ctx.schedule(closes, "close", {"case": case.id}, key=f"{case.id}:close")
        return case

    @staticmethod
    def _occasion(number: int, final: bool) -> str:
        return f"{number}-final" if final else str(number)

    async def _tell_platform(
        self, ctx: Any, case: Record, entry: dict[str, Any], *, final: bool, appeal_until: datetime | None
    ) -> Record:
        """Tell the platform this decision, for whichever party, through the durable path of
        side effects (stored first, retried with its Idempotency-Key, in the ticket's timeline):
        when it is made, and once more when it becomes final. The appeal's decision is final at
        once and names the one it replaces."""
        number = int(entry["number"])
        occasion = self._occasion(number, final)
        notice = DecisionNotice(
            decision=case.data["reference"],
            number=number,
            order_id=case.data["order_id"],
            outcome=entry["outcome"],
            refund_amount=Decimal(entry.get("refund") or "0"),
            currency=case.data["currency"],
            decided_at=entry["at"],
            final=final,
            appeal_until=appeal_until.isoformat() if appeal_until and not final else "",
            supersedes=number - 1 if number > 1 else 0,
        )
        outcome: dict[str, Any]
        try:
            done = await self._platform(ctx).record_decision(notice, occasion=f"{case.id}:{occasion}")
            outcome = (
                {"status": "retrying"}  # stored: the hub repeats it (on_platform_done)
                if done is None
                else {"status": str(done.status), "reference": str(done.reference)}
            )
        except PlatformError as exc:  # refused (4xx), or no platform configured: agents see it
            outcome = {"status": "failed", "error": exc.code}
        except Exception as exc:  # a bug or an outage below the client: tried again by our own timer
            self.log.warning("decision of case %s not told to the platform yet (%s)", case.id, type(exc).__name__)
            outcome = {"status": "retrying"}
            data = {"case": case.id, "number": number, "final": final}
            await ctx.schedule(self.clock() + REFUND_RETRY, "decision", data, key=f"{case.id}:decision:{occasion}")
        return await self._note_told(ctx, case, occasion, {"final": final, **outcome})

    async def _note_told(self, ctx: Any, case: Record, occasion: str, outcome: dict[str, Any]) -> Record:
        """What the platform answered about one decision, kept on the case for agents."""

        def edit(current: Record) -> Edit | None:
            told = dict(current.data.get("platform_decisions") or {})
            before = dict(told.get(occasion) or {})
            if before.get("status") not in (None, "retrying") and outcome.get("status") == "retrying":
                return None  # answered already: a late "retrying" must not hide it
            now = {k: v for k, v in {**before, **outcome}.items() if k != "error" or outcome.get("status") == "failed"}
            return None if before == now else Edit(data={"platform_decisions": {**told, occasion: now}})

        updated, _ = await self.change(ctx, case.id, edit)
        return updated

    async def _retell_platform(self, ctx: TimerContext, case: Record) -> None:
        """Our own retry of a decision the client could not even store (see `_tell_platform`)."""
        number, final = int(ctx.timer.data.get("number", 0)), bool(ctx.timer.data.get("final"))
        entry = next((d for d in case.data.get("decisions", []) if int(d.get("number", 0)) == number), None)
        if entry is not None:
            until = _iso(case.data.get("appeal_until") or "")
            await self._tell_platform(ctx, case, entry, final=final, appeal_until=until)

    async def _refund(self, ctx: Any, case: Record) -> Record:
        """Pay the decided refund through the platform under the decision's idempotency key: a
        call that failed for now is retried by a timer, and the platform pays a key once."""
        state = dict(case.data.get("refund") or {})
        if state.get("status") != rules.PENDING:
            return case
        outcome: dict[str, Any]
        try:
            done = await self._platform(ctx).execute_refund(
                case.data["order_id"],
                amount=Decimal(state["amount"]),
                currency=case.data["currency"],
                decision=case.data["reference"],
                occasion=state["key"],  # one refund per decision, however often asked
                outcome=self._decided_outcome(case),
            )
            outcome = (
                {"error": "retrying"}  # the platform did not answer yet: the hub repeats it (on_platform_done)
                if done is None
                else {"status": str(done.status), "reference": str(done.reference)}
            )
        except PlatformError as exc:  # refused (4xx), not configured: agents see it failed
            outcome = {"status": "failed", "error": exc.code}
        except Exception as exc:  # a bug or an outage below the client: tried again by our own timer
            self.log.warning("refund of case %s not done yet (%s); retried", case.id, type(exc).__name__)
            outcome = {"error": "retrying"}
            await ctx.schedule(self.clock() + REFUND_RETRY, "refund", {"case": case.id}, key=f"{case.id}:refund")

        def edit(current: Record) -> Edit | None:
            now_state = dict(current.data.get("refund") or {})
            if now_state.get("key") != state["key"] or now_state.get("status") != "pending":
                return None  # another run recorded it already
            merged = {k: v for k, v in {**now_state, "error": None, **outcome}.items() if v is not None}
            return Edit(data={"refund": merged})

        updated, changed = await self.change(ctx, case.id, edit)
        await self._tell_refund_paid(ctx, updated, changed)
        return updated

    @staticmethod
    def _decided_outcome(case: Record) -> str:
        """The outcome of the decision whose refund is paid (refund_buyer or partial_refund)."""
        decided = case.data.get("decisions", [])
        return str(decided[-1].get("outcome", "")) if decided else ""

    async def appeal(self, ctx: Any, case: Record, *, party: str, grounds: str, who: str) -> Record:
        """A party's appeal within the window (once per case); both parties are told."""
        if party not in rules.PARTIES:
            raise InvalidInput("party must be buyer or seller")
        now = self.clock()

        def edit(current: Record) -> Edit:
            decided = current.data.get("decisions", [])
            decided_at = _iso(decided[-1]["at"]) if decided else None
            appealed = bool(current.data.get("appeal"))
            if not rules.may_appeal(current.status, decided_at, now, self.settings.appeal_days, appealed=appealed):
                raise InvalidInput("this dispute cannot be appealed (not decided, appealed once already, or too late)")
            entry = {"party": party, "grounds": grounds.strip()[:MAX_STATEMENT_CHARS], "by": who, "at": now.isoformat()}
            return Edit(
                data={"appeal": entry}, status=rules.check_move(current.status, Status.APPEALED).value, deadline=None
            )

        case, _ = await self.change(ctx, case.id, edit, action="dispute.appeal")
        await ctx.cancel(f"{case.id}:close")
        for side in rules.PARTIES:
            ticket = await self._party_ticket(ctx, case, side)
            if ticket is not None:
                # the appellant hears of their own appeal as theirs ("you"), the other party by who made it
                await self._tell(
                    ctx, ticket, "disputes.appealed_by_you" if side == party else f"disputes.appealed_by_{party}", case
                )
        return case

    async def ask(self, ctx: Any, case: Record, *, party: str, question: str, who: str) -> Record:
        """An agent asks one party for more (only that party reads the question, on their own
        ticket): the case waits for them until a new deadline, with its reminders."""
        text = question.strip()
        if not text:
            raise InvalidInput("question: say what the party should answer")
        ticket = await self._party_ticket(ctx, case, party)
        if ticket is None:
            raise InvalidInput(f"the {party} has no ticket in this case yet")
        now = self.clock()
        deadline = rules.respond_by(now, self.settings.respond_days)
        case, _ = await self.change(
            ctx,
            case.id,
            lambda c: Edit(
                data={"deadlines": {**c.data.get("deadlines", {}), party: deadline.isoformat()}},
                status=rules.check_move(c.status, rules.awaiting(party)).value,
                deadline=deadline,
            ),
            action="dispute.ask",
        )
        await self._tell(
            ctx, ticket, "disputes.asked", case, question=text[:MAX_STATEMENT_CHARS], deadline=when(deadline)
        )
        await self._schedule_deadline(ctx, case, party, now, deadline)
        return case

    # -- telling the parties -----------------------------------------------------------------
    async def _party_ticket(self, ctx: Any, case: Record, party: str) -> Conversation | None:
        ticket_id = case.data.get(party, {}).get("conversation_id", "")
        if not ticket_id or ctx.hub is None:
            return None
        return await ctx.hub.reads.get_conversation(ticket_id)  # type: ignore[no-any-return]

    async def _language_of(self, ctx: Any, ticket: Conversation) -> str:
        contact = await ctx.hub.reads.get_contact(ticket.contact_id) if ctx.hub else None
        return best_locale(contact.language if contact else "", ctx.hub.language if ctx.hub else ctx.language)

    async def _tell(self, ctx: Any, ticket: Conversation, key: str, case: Record, **params: Any) -> None:
        """Tell one party, on their own ticket and in their language, facts both may know."""
        t = catalog(await self._language_of(ctx, ticket))
        text = t.get(key, **self._shared(t, case), **params)
        await ctx.actions.post_bot_message(ticket, text, plugin=self.name)

    @staticmethod
    def _shared(t: Texts, case: Record) -> dict[str, Any]:
        return {
            "case": case.data.get("reference", ""),
            "order": case.data.get("order_id", ""),
            "amount": case.data.get("amount", ""),
            "currency": case.data.get("currency", ""),
            "reason": t.get(f"disputes.reason.{case.data.get('reason', 'other')}"),
        }

    async def _tell_decision(
        self, ctx: Any, ticket: Conversation, case: Record, entry: dict[str, Any], *, appealed: bool, closes: datetime
    ) -> None:
        t = catalog(await self._language_of(ctx, ticket))
        shared = self._shared(t, case)
        outcome = t.get(f"disputes.outcome.{entry['outcome']}", refund=entry["refund"], currency=shared["currency"])
        lines = [t.get("disputes.decided", **shared, outcome=outcome, grounds=entry["grounds"])]
        lines.append(t.get("disputes.final") if appealed else t.get("disputes.may_appeal", until=when(closes)))
        if (case.data.get("refund") or {}).get("status") == rules.HELD:  # paid only once it is final
            lines.append(t.get("disputes.refund_held", until=when(closes)))
        await ctx.actions.post_bot_message(ticket, "\n".join(lines), plugin=self.name)
