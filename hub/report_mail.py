"""The supervisors' daily summary by email: yesterday's figures (hub/reports.py) to the
addresses of `[reports] daily_to`, once the local time passes `daily_at`, through an email
channel's relay (`EmailAdapter.send_mail`, as the complaints report).

Once a day across hubs: the sending hub holds the lease `reports-daily` and then records
the day in the coordination area's values; another hub (or a restart) sees the day as sent.
A hub that dies after sending but before recording leaves the day unsent, so another hub
sends it again: at least once, never skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from conversation.reports import ReportQuery, daily_due, daily_time
from conversation.store import Store, StoreUnavailable
from hub.i18n import Texts, texts
from hub.reports import SUMMARY_FIGURES, ReportService

log = logging.getLogger(__name__)

LEASE_NAME = "reports-daily"
LEASE = timedelta(minutes=5)
SENT_KEY = "reports.daily.sent"  # the local date whose summary went out last
CHECK_SECONDS = 60.0
RATES = {"sla_met", "reopen_rate", "deflection_rate"}

Sender = Callable[[list[str], str, str], Awaitable[None]]


def figure_text(words: Texts, key: str, value: Any) -> str:
    if value is None:
        return words.get("reports.none")
    if key in RATES:
        return f"{value * 100:.1f} %"
    if key.endswith("_s"):
        minutes = value / 60
        return f"{minutes / 60:.1f} h" if minutes >= 120 else f"{minutes:.1f} min"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def summary_text(summary: dict[str, Any], language: str, link: str = "") -> tuple[str, str]:
    """The mail's subject and text in `language`."""
    words = texts("reports", language)
    start, end = summary["from_local"], summary["to_local"]  # the recipients' calendar, offset shown
    lines = [words.get("reports.daily.intro", start=start, end=end, zone=summary["timezone"]), ""]
    for key in SUMMARY_FIGURES:
        lines.append(f"- {words.get('reports.figure.' + key)}: {figure_text(words, key, summary[key])}")
    if link:
        lines += ["", words.get("reports.daily.link", url=link)]
    return words.get("reports.daily.subject", date=summary["day"]), "\n".join(lines) + "\n"


class DailyReport:
    def __init__(
        self,
        store: Store,
        reports: ReportService,
        sender: Sender | None,
        *,
        recipients: tuple[str, ...],
        timezone: str,
        at: str,
        language: str,
        link: str,
        owner: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.reports = reports
        self.sender = sender
        self.recipients = list(recipients)
        self.timezone = timezone
        self.at = daily_time(at)
        self.language = language
        self.link = link
        self.owner = owner
        self.clock = clock
        self.check_seconds = CHECK_SECONDS
        # The lease tells hubs apart, not callers within one hub: a renewal by the same
        # owner succeeds, so the loop and a direct call could both send. One at a time here.
        self._sending = asyncio.Lock()

    async def send_if_due(self) -> bool:
        """Send today's summary (of yesterday) when it is due and no hub sent it; True when this one did."""
        if not self.recipients or self.sender is None:
            return False
        async with self._sending:
            return await self._send_if_due(self.sender)

    async def _send_if_due(self, sender: Sender) -> bool:
        now = self.clock()
        if daily_due(now, self.timezone, self.at, await self.store.coordination.get_value(SENT_KEY) or "") is None:
            return False
        if not await self.store.coordination.acquire_lease(LEASE_NAME, self.owner, now=now, ttl=LEASE):
            return False
        try:
            # read again under the lease: another hub may have sent it just before
            due = daily_due(now, self.timezone, self.at, await self.store.coordination.get_value(SENT_KEY) or "")
            if due is None:
                return False
            today, start, end = due
            summary = await self.reports.summary(ReportQuery(start, end, self.timezone))
            summary["day"] = start.astimezone(ZoneInfo(self.timezone)).date().isoformat()
            subject, text = summary_text(summary, self.language, self.link)
            await sender(self.recipients, subject, text)
            await self.store.coordination.set_value(SENT_KEY, today)
            log.info("reports: the daily summary of %s went to %d address(es)", summary["day"], len(self.recipients))
            return True
        finally:
            await self.store.coordination.release_lease(LEASE_NAME, self.owner)

    async def step(self) -> None:
        """One round of the supervised loop."""
        try:
            await self.send_if_due()
        except StoreUnavailable:
            log.warning("reports: the store is unavailable; the daily summary waits")
        except Exception:
            log.exception("reports: the daily summary could not be sent; retrying in %s s", self.check_seconds)
        await asyncio.sleep(self.check_seconds)
