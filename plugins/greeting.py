"""Greets a new ticket with its number, and says when the team is out of hours.

The smallest useful plugin, and the SDK's first worked example (README, "Writing a
plugin"): a typed `Settings` section checked at start (`check_texts` for its per-language
texts), a reply, per-conversation state (greet once, warn about opening hours at most
once a day) that survives a restart, and templates: `ctx.text` picks the configured
text in the customer's language, else the hub catalog's (`bot.greeting`,
`bot.out_of_hours`).

A message may be one text for everyone, a table of texts by language
(`greeting = { en = "...", zh-CN = "..." }`, or `greeting.zh = "..."`), or left out for
the hub's catalog text in every language it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conversation.calendars import Opening, holiday_in, opening_of
from conversation.model import Direction, MessageKind, utcnow
from conversation.progress import only_a_question
from hub.sdk import ConfigError, Outcome, Plugin, PluginContext, check_texts, setting, texts

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PLACEHOLDERS = {
    "greeting": ("number",),
    "out_of_hours": ("week", "days", "hours", "timezone", "reopens", "holiday"),
}
WEEK_AHEAD = 15  # days looked through for the next opening of the settings' own hours


END_OF_DAY = "24:00"  # as team calendars and rosters write the day's end: "00:00-24:00" is all day
DAY_SECONDS = 24 * 3600


def parse_hours(text: str) -> tuple[float, float]:
    """ "09:00-18:00" -> seconds of the day (32400, 64800); "00:00-24:00" is the whole day."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError("expected HH:MM-HH:MM")
    opens = _seconds(time.fromisoformat(start.strip()))
    closes = DAY_SECONDS if end.strip() == END_OF_DAY else _seconds(time.fromisoformat(end.strip()))
    if opens >= closes:
        raise ValueError("the opening time must come before the closing time")
    return opens, closes


def _seconds(moment: time) -> float:
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6


class GreetingPlugin(Plugin):
    @dataclass(frozen=True)
    class Settings:  # [plugins.greeting]
        greeting: str | dict[str, str] = setting(
            (str, dict),
            "",
            "first reply to a new ticket; {number} is the ticket number. A text, a table by language, "
            "or empty for the catalog's text",
        )
        out_of_hours: str | dict[str, str] = setting(
            (str, dict),
            "",
            "added outside opening hours; {week} (each day's hours), {days} and {hours} (the open days, and "
            "the first one's hours), {timezone}, {reopens} (when the team is back), {holiday} (today's holiday's "
            "name, on a team calendar) are filled in. A text, a table by language, or empty for the catalog's text",
        )
        timezone: str = setting(str, "UTC", "IANA zone of the opening hours, e.g. Asia/Shanghai")
        hours: str = setting(str, "09:00-18:00", "opening hours, HH:MM-HH:MM (24:00: the end of the day)")
        days: tuple[str, ...] = setting(list, ["mon", "tue", "wed", "thu", "fri"], "open days")
        holidays: tuple[str, ...] = setting(list, [], "closed dates, YYYY-MM-DD")
        team: str = setting(str, "", "the team whose calendar applies to a ticket without a team yet", team=True)

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Settings) -> None:
        try:
            ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{prefix}.timezone: unknown time zone {settings.timezone!r}") from None
        try:
            parse_hours(settings.hours)
        except ValueError as exc:
            raise ConfigError(f"{prefix}.hours: {exc}") from None
        for day in settings.days:
            if day not in DAYS:
                raise ConfigError(f"{prefix}.days: {day!r} is not one of {', '.join(DAYS)}")
        for holiday in settings.holidays:
            try:
                date.fromisoformat(holiday)
            except (TypeError, ValueError):
                raise ConfigError(f"{prefix}.holidays: {holiday!r} is not a YYYY-MM-DD date") from None
        check_texts(prefix, settings, PLACEHOLDERS)

    def __init__(self, name: str, settings: Settings, *, clock: Any = utcnow) -> None:
        super().__init__(name, settings)
        self.zone = ZoneInfo(settings.timezone)
        self.opens, self.closes = parse_hours(settings.hours)
        self.days = {DAYS.index(d) for d in settings.days}
        self.holidays = {date.fromisoformat(h) for h in settings.holidays}
        self.clock = clock

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return (
            local.weekday() in self.days
            and local.date() not in self.holidays
            and self.opens <= _seconds(local.time()) < self.closes
        )

    async def opening(self, ctx: PluginContext, now: datetime) -> Opening:
        """The calendar of the ticket's team (holidays, 调休 included), or of the team routing is
        about to give it (a new ticket is greeted before the router's turn); else these settings.
        `team` names the calendar for a ticket that will wait unrouted."""
        ticket = ctx.conversation
        teams = [ticket.team] if ticket.team else [await ctx.actions.expected_team(ticket), self.settings.team]
        for team in dict.fromkeys(t for t in teams if t):  # the routed team may have no calendar (or not exist)
            calendar = await ctx.actions.team_calendar(team)
            if calendar is not None:
                return opening_of(calendar, now)
        week = ((tuple(sorted(DAYS.index(d) for d in self.settings.days)), (self.settings.hours,)),)
        if self.is_open(now):
            return Opening(True, self.zone.key, week)
        return Opening(False, self.zone.key, week, self.reopens(now))

    def reopens(self, now: datetime) -> datetime | None:
        """When these settings' hours next begin after `now` (None: no open day ahead)."""
        today = now.astimezone(self.zone).date()
        for ahead in range(WEEK_AHEAD):
            day = today + timedelta(days=ahead)
            opens = datetime.combine(day, time(), self.zone) + timedelta(seconds=self.opens)
            if day.weekday() in self.days and day not in self.holidays and opens > now:
                return opens
        return None

    @staticmethod
    def _away(ctx: PluginContext, opening: Opening) -> str:
        """The out-of-hours notice: the usual week, today's holiday, and when the team is back."""
        said = ctx.catalog()
        key = "bot.out_of_hours_holiday" if opening.holiday else "bot.out_of_hours"
        if opening.reopens is None:
            key = "bot.out_of_hours_no_return"
        return ctx.text(
            key,
            setting="out_of_hours",
            week=said.week(opening.week),
            days=said.day_names(opening.days),
            hours=said.get("list.separator").join(opening.week[0][1]) if opening.week else "",
            timezone=said.zone_name(opening.timezone),
            reopens=said.day_and_time(opening.reopens, opening.timezone) if opening.reopens else "",
            holiday=holiday_in(opening.holiday, said.locale),
        )

    @staticmethod
    async def _answered_already(ctx: PluginContext) -> bool:
        """Whether the customer was answered on this ticket before this message: a complaint or
        a dispute answered the first message and stopped the plugins after it, and a greeting on
        the next one would come late and out of place (a review). A plugin's answer to this very
        message (one listed before the greeting that lets it run) is no reason to keep quiet."""
        if ctx.hub is None:
            return False
        thread = await ctx.hub.reads.list_messages(ctx.conversation.id)
        return any(
            m.direction is Direction.OUTBOUND
            and m.kind is MessageKind.MESSAGE
            and m.created_at < ctx.message.created_at
            for m in thread
        )

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if only_a_question(ctx.conversation):
            # Kept only for an answer to a bot ("yes" on a closed ticket's old answer) or a status
            # question: no new ticket to the customer, so nothing to greet or warn about.
            return Outcome.CONTINUE
        now = self.clock()
        parts = []
        if not ctx.state.get("greeted") and await self._answered_already(ctx):
            ctx.state["greeted"] = True  # a plugin before it answered the first message (a complaint's number)
        if not ctx.state.get("greeted"):
            parts.append(ctx.text("bot.greeting", setting="greeting", number=ctx.conversation.number))
            link = ctx.hub.status_link(ctx.conversation, ctx.language) if ctx.hub else ""
            if link:  # the status page is on: the customer can follow the ticket there
                parts.append(texts("progress", ctx.language).get("progress.link", url=link))
            ctx.state["greeted"] = True
        opening = await self.opening(ctx, now)
        today = now.astimezone(ZoneInfo(opening.timezone)).date().isoformat()
        if not opening.open and ctx.state.get("out_of_hours_told") != today:
            parts.append(self._away(ctx, opening))
            ctx.state["out_of_hours_told"] = today
        if parts:
            await ctx.reply("\n\n".join(parts))
        return Outcome.CONTINUE
