"""The Store contract for team calendars (both backends)."""

from __future__ import annotations

from datetime import date

from conversation.business_time import Calendar, weekly_hours
from conversation.store import Store


async def test_calendars_are_saved_replaced_listed_and_deleted(store: Store) -> None:
    night = Calendar(
        "Asia/Shanghai",
        weekly_hours({"fri": ["22:00-06:00"], "mon": ["00:00-24:00"]}),
        holidays={date(2027, 10, 1): "国庆节"},
        workdays={date(2027, 10, 9): "国庆节调休"},
        makeup_weekday=4,
    )
    assert await store.calendars.get_calendar("customer-service") is None
    await store.calendars.save_calendar("customer-service", night)
    assert await store.calendars.get_calendar("customer-service") == night

    berlin = Calendar("Europe/Berlin", weekly_hours({"tue": ["09:00-17:00"]}))
    await store.calendars.save_calendar("finance", berlin)
    await store.calendars.save_calendar("customer-service", berlin)  # replaces
    assert await store.calendars.list_calendars() == {"customer-service": berlin, "finance": berlin}

    assert await store.calendars.delete_calendar("finance")
    assert not await store.calendars.delete_calendar("finance")
    assert list(await store.calendars.list_calendars()) == ["customer-service"]
