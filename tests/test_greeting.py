"""The built-in greeting plugin: ticket number once, opening hours in the team's zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conversation.inbound import Sender
from hub.app import Hub
from plugins.greeting import DAYS, GreetingPlugin
from tests.helpers import customer_message, eventually, make_config, running_hub

SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SUNDAY_NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
THURSDAY_MORNING_UTC = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)  # 16:30 in Shanghai


def greeting_config(tmp_path: Path, **settings: Any) -> Any:
    return make_config(tmp_path, {"plugins": {"enabled": ["greeting"], "greeting": settings}})


async def replies(hub: Hub, count: int) -> list[str]:
    await eventually(lambda: len(hub.adapters["chat"].sent) >= count)
    return [o.message.text for o in hub.adapters["chat"].sent]


async def processed(hub: Hub, message_id: str) -> None:
    async def done() -> bool:
        message = await hub.store.tickets.get_message(message_id)
        return message is not None and message.plugins_done

    await eventually(done)


def at(hub: Hub, moment: datetime) -> None:
    plugin = hub.plugins[0]
    assert isinstance(plugin, GreetingPlugin)
    plugin.clock = lambda: moment


async def test_a_new_ticket_is_greeted_once_with_its_number_in_opening_hours(tmp_path: Path) -> None:
    async with running_hub(greeting_config(tmp_path, timezone="Asia/Shanghai")) as hub:
        at(hub, THURSDAY_MORNING_UTC)
        await hub.ingest(customer_message("m1", "我无法登录"))
        [greeting] = await replies(hub, 1)
        assert "#1000" in greeting and "away" not in greeting
        second = await hub.ingest(customer_message("m2", "还在吗？"))
        await processed(hub, second.message.id)
        assert len(hub.adapters["chat"].sent) == 1


async def test_out_of_hours_is_said_once_a_day(tmp_path: Path) -> None:
    async with running_hub(greeting_config(tmp_path, hours="09:00-17:30")) as hub:
        at(hub, SATURDAY_NOON)
        await hub.ingest(customer_message("m1", "order missing"))
        [first] = await replies(hub, 1)
        # the week as a range, and when the team is back (a trial read each day listed and no return)
        assert "#1000" in first and "away now (open Mon–Fri 09:00-17:30, UTC)" in first
        assert "We'll be back on Mon, Nov 30 09:00 and will answer you then." in first

        again = await hub.ingest(customer_message("m2", "hello?"))
        await processed(hub, again.message.id)
        assert len(hub.adapters["chat"].sent) == 1

        at(hub, SUNDAY_NOON)
        await hub.ingest(customer_message("m3", "anyone?"))
        texts = await replies(hub, 2)
        assert "away now" in texts[1] and "#1000" not in texts[1]


async def test_holidays_are_out_of_hours(tmp_path: Path) -> None:
    async with running_hub(greeting_config(tmp_path, holidays=["2026-11-26"], timezone="Asia/Shanghai")) as hub:
        at(hub, THURSDAY_MORNING_UTC)
        await hub.ingest(customer_message("m1", "refund"))
        [text] = await replies(hub, 1)
        assert "away now" in text


def test_opening_hours_are_read_in_the_configured_zone() -> None:
    settings = GreetingPlugin.Settings(timezone="Asia/Shanghai")
    plugin = GreetingPlugin("greeting", settings)
    assert plugin.is_open(THURSDAY_MORNING_UTC)  # 16:30 in Shanghai
    assert not plugin.is_open(datetime(2026, 11, 26, 11, 0, tzinfo=UTC))  # 19:00 in Shanghai
    assert not GreetingPlugin("greeting", replace(settings, timezone="UTC")).is_open(
        datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    )


async def test_the_team_calendar_decides_out_of_hours_over_the_plugin_settings(tmp_path: Path) -> None:
    from conversation.calendars import calendar_from_input

    config = greeting_config(tmp_path, timezone="Asia/Shanghai", team="customer-service")  # settings: open now
    async with running_hub(config) as hub:
        holiday = calendar_from_input(
            {
                "timezone": "Asia/Shanghai",
                "hours": {"mon": ["08:00-20:00"], "thu": ["08:00-20:00"]},
                "holidays": {"2026-11-26": "公司活动日"},
            }
        )
        await hub.store.calendars.save_calendar("customer-service", holiday)
        at(hub, THURSDAY_MORNING_UTC)
        await hub.ingest(customer_message("m1", "refund"))
        [text] = await replies(hub, 1)
        # the holiday by its name, the zone as people say it, and the next opening past the holiday
        assert (
            "Today is a holiday (公司活动日) and our team is away (usually open Mon, Thu 08:00-20:00, Beijing time)"
            in text
        )
        assert "We'll be back on Mon, Nov 30 08:00" in text


async def test_the_notice_reads_naturally_in_chinese_with_the_reopening_in_beijing_time(tmp_path: Path) -> None:
    """A trial's 7×24 team on a holiday read "服务时间：周一、周二、…周日 00:00-24:00，Asia/Shanghai"."""
    from conversation.calendars import calendar_from_input

    config = greeting_config(tmp_path, team="customer-service")
    every_day = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    async with running_hub(config) as hub:
        calendar = {
            "timezone": "Asia/Shanghai",
            "hours": every_day,
            "holidays": {"2026-11-28": "店庆 Store anniversary"},
        }
        await hub.store.calendars.save_calendar("customer-service", calendar_from_input(calendar))
        at(hub, SATURDAY_NOON)  # 20:00 in Shanghai, on the holiday
        await hub.ingest(customer_message("m1", "我的退款还没到"))
        [text] = await replies(hub, 1)
        assert "今天是店庆，我们的客服团队休息（平时服务时间：每天 00:00-24:00，北京时间）。" in text
        assert "我们将于11月29日周日 00:00恢复服务，届时会尽快答复您。" in text


async def test_a_week_of_different_hours_is_told_day_by_day_in_both_languages(tmp_path: Path) -> None:
    """A trial's team, open 10:00-16:00 on Saturdays, was said to be open "Mon–Sat 09:00-12:00,
    13:00-18:00": the first open day's hours stood for the whole week (and the zh notice joined
    spans with an English comma)."""
    from conversation.calendars import calendar_from_input

    config = greeting_config(tmp_path, team="customer-service")
    weekdays = {day: ["09:00-12:00", "13:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    async with running_hub(config) as hub:
        calendar = {"timezone": "Asia/Shanghai", "hours": weekdays | {"sat": ["10:00-16:00"]}}
        await hub.store.calendars.save_calendar("customer-service", calendar_from_input(calendar))
        at(hub, SUNDAY_NOON)  # 20:00 in Shanghai, closed on Sundays
        await hub.ingest(customer_message("m1", "Where is my refund?"))
        other = Sender(address="user-2", display_name="李娜")
        await hub.ingest(customer_message("m2", "我的退款还没到", thread="chat-2", sender=other))
        english, chinese = await replies(hub, 2)
        assert "(open Mon–Fri 09:00-12:00, 13:00-18:00; Sat 10:00-16:00, Beijing time)" in english
        assert "We'll be back on Mon, Nov 30 09:00" in english
        assert "（服务时间：周一至周五 09:00-12:00、13:00-18:00；周六 10:00-16:00，北京时间）" in chinese


async def test_a_new_ticket_is_greeted_by_the_calendar_of_the_team_routing_gives_it(tmp_path: Path) -> None:
    """A trial: a 7x24 team's customers were told "we are offline" by the sample's weekday hours,
    since a new ticket has no team until the router's turn ([routing] default_team)."""
    from conversation.calendars import calendar_from_input

    config = make_config(
        tmp_path,
        {
            "routing": {"default_team": "customer-service"},
            "plugins": {"enabled": ["greeting"], "greeting": {"hours": "09:00-18:00"}},  # closed on Sunday
        },
    )
    every_day = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    async with running_hub(config) as hub:
        await hub.store.calendars.save_calendar(
            "customer-service", calendar_from_input({"timezone": "Asia/Shanghai", "hours": every_day})
        )
        at(hub, SUNDAY_NOON)
        await hub.ingest(customer_message("m1", "refund"))
        [text] = await replies(hub, 1)
        assert "#1000" in text and "away" not in text


async def test_a_routed_team_without_a_calendar_leaves_it_to_the_greetings_team(tmp_path: Path) -> None:
    """A review: with [routing] default_team naming a team that has no calendar (or none at all),
    the greeting's own `team` was skipped for its fallback hours."""
    from conversation.calendars import calendar_from_input

    config = make_config(
        tmp_path,
        {
            "routing": {"default_team": "no-such-team"},
            "plugins": {"enabled": ["greeting"], "greeting": {"team": "customer-service"}},
        },
    )
    every_day = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    async with running_hub(config) as hub:
        await hub.store.calendars.save_calendar(
            "customer-service", calendar_from_input({"timezone": "Asia/Shanghai", "hours": every_day})
        )
        at(hub, SUNDAY_NOON)  # the greeting's own hours (weekdays) are closed
        await hub.ingest(customer_message("m1", "refund"))
        [text] = await replies(hub, 1)
        assert "away" not in text


async def test_opening_hours_to_24_00_run_to_midnight(tmp_path: Path) -> None:
    """ "00:00-24:00" is the whole day (as calendars write it): a customer writing in the day's last
    minute is not told the team is away (with "23:59" as the end, they were)."""
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    async with running_hub(greeting_config(tmp_path, hours="00:00-24:00", days=every_day)) as hub:
        at(hub, datetime(2026, 11, 28, 23, 59, 30, tzinfo=UTC))  # a Saturday, half a minute before midnight
        await hub.ingest(customer_message("m1", "still open?"))
        [text] = await replies(hub, 1)
        assert "#1000" in text and "away" not in text
    plugin = GreetingPlugin("greeting", GreetingPlugin.Settings(hours="00:00-24:00", days=tuple(every_day)))
    assert plugin.is_open(datetime(2026, 11, 29, 0, 0, tzinfo=UTC)) and plugin.is_open(SATURDAY_NOON)


async def test_an_admins_out_of_hours_text_fills_in_the_week_and_the_return(tmp_path: Path) -> None:
    from conversation.calendars import calendar_from_input

    text = {"en": "Closed. Hours: {week} ({timezone}). Back {reopens}.", "zh-CN": "休息中，服务时间 {week}"}
    config = greeting_config(tmp_path, team="customer-service", out_of_hours=text)
    async with running_hub(config) as hub:
        hours = {"mon": ["09:00-18:00"], "sat": ["10:00-16:00"]}
        await hub.store.calendars.save_calendar(
            "customer-service", calendar_from_input({"timezone": "Asia/Shanghai", "hours": hours})
        )
        at(hub, SUNDAY_NOON)
        await hub.ingest(customer_message("m1", "Where is my refund?"))
        [reply] = await replies(hub, 1)
        assert reply.endswith("Closed. Hours: Mon 09:00-18:00; Sat 10:00-16:00 (Beijing time). Back Mon, Nov 30 09:00.")


async def test_the_greeting_is_in_the_messages_language_when_its_words_say_it_clearly(tmp_path: Path) -> None:
    """A trial's platform user, a Chinese contact, wrote "I forgot my password, can't log in"
    and was greeted (and answered by the account bot) in Chinese."""
    async with running_hub(greeting_config(tmp_path, hours="00:00-24:00", days=list(DAYS))) as hub:
        chinese_contact = Sender(address="u-1", display_name="Li Na", language="zh-CN")
        await hub.ingest(customer_message("m1", "I forgot my password, can't log in", sender=chinese_contact))
        english_contact = Sender(address="u-2", display_name="Ann", language="en")
        await hub.ingest(customer_message("m2", "我忘记密码了，登录不上", thread="chat-2", sender=english_contact))
        unclear = Sender(address="u-3", display_name="Wu", language="zh-CN")
        await hub.ingest(customer_message("m3", "ok", thread="chat-3", sender=unclear))  # says nothing: the contact's
        await replies(hub, 3)
        said = {o.address: o.message.text for o in hub.adapters["chat"].sent}  # type: ignore[attr-defined]
        assert said["u-1"].startswith("Thanks for contacting us.")
        assert said["u-2"].startswith("感谢您联系我们。")
        assert said["u-3"].startswith("感谢您联系我们。")
