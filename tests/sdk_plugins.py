"""Plugins that exercise the SDK in tests: records, timers, ticket events, templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from hub.sdk import EventContext, Outcome, Plugin, PluginContext, RecordKind, TimerContext, setting

DISPUTE = RecordKind(
    "dispute",
    {
        "type": "object",
        "title": "Dispute",
        "x-title-zh-CN": "交易纠纷",
        "x-statuses": {
            "open": {"title": "Open", "x-title-zh-CN": "处理中"},
            "waiting": {"title": "Waiting for the customer", "x-title-zh-CN": "等待客户"},
            "resolved": {"title": "Resolved", "x-title-zh-CN": "已解决"},
        },
        "properties": {
            "order": {"type": "string", "title": "Order number", "x-title-zh-CN": "订单号", "minLength": 1},
            "amount": {"type": "integer", "title": "Amount", "x-title-zh-CN": "金额", "minimum": 0},
            "refund": {"type": "boolean", "title": "Refund", "x-title-zh-CN": "退款"},
            "reason": {"type": "string", "enum": ["not_received", "damaged"], "title": "Reason"},
        },
        "required": ["order"],
        "additionalProperties": False,
    },
    queries=("order", "amount"),
    statuses=("open", "waiting", "resolved"),
)

# What the plugins saw, across hub instances (two hubs in one test share it).
SEEN: list[tuple[str, Any]] = []


class DisputesPlugin(Plugin):
    """Opens a dispute record for "order <n>" and checks on it a day later."""

    record_kinds: ClassVar[tuple[RecordKind, ...]] = (DISPUTE,)
    events: ClassVar[frozenset[str]] = frozenset({"status", "assignment", "team", "field"})

    @dataclass(frozen=True)
    class Settings:
        opened: str | dict[str, str] = setting(
            (str, dict), "", "said when a dispute is opened; a text or a table by language"
        )

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        words = ctx.message.text.split()
        if len(words) == 2 and words[0] == "order":
            record = await ctx.records.create("dispute", {"order": words[1]}, deadline=ctx.message.created_at)
            await ctx.schedule(
                ctx.message.created_at + timedelta(days=1), "check", {"record": record.id}, key=record.id
            )
            await ctx.reply(ctx.text("bot.greeting", setting="opened", number=str(ctx.conversation.number)))
        return None

    async def on_timer(self, ctx: TimerContext) -> None:
        SEEN.append(("timer", (ctx.timer.name, ctx.timer.data, ctx.conversation.id if ctx.conversation else "")))
        if ctx.timer.name == "check":
            await ctx.records.update("dispute", ctx.timer.data["record"], status="waiting")
            await ctx.note("dispute checked")

    async def on_event(self, ctx: EventContext) -> None:
        SEEN.append(("event", (ctx.change.kind, ctx.change.field, ctx.change.before, ctx.change.after)))


class FailingPlugin(Plugin):
    """Raises wherever it is called."""

    events: ClassVar[frozenset[str]] = frozenset({"status"})

    async def on_timer(self, ctx: TimerContext) -> None:
        SEEN.append(("failing timer", ctx.timer.attempts))
        raise RuntimeError("timer broke")

    async def on_event(self, ctx: EventContext) -> None:
        raise RuntimeError("event broke")
