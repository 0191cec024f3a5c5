"""System events are kept by catalog key and parameters and said in each reader's language."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from conversation.model import Conversation, Priority, Status
from conversation.routing import reopen_event
from hub.services.conversations import describe_changes
from hub.thread_events import ThreadEvent, event_of

BEFORE = Conversation(
    id="c1", number=1000, channel="webchat", thread_key="v1", contact_id="k1", category="billing", tags=["vip"]
)
CHANGES = [
    {"status": Status.RESOLVED},
    {"status": Status.SNOOZED, "snoozed_until": datetime(2030, 1, 2, 9, 30, tzinfo=UTC)},
    {"assignee_id": "a2"},
    {"team": "billing"},
    {"priority": Priority.URGENT},
    {"category": ""},
    {"category": "refunds"},
    {"tags": []},
    {"tags": ["refund", "vip"]},
]


@pytest.mark.parametrize("changes", CHANGES)
@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_every_change_has_words_in_every_language(changes: dict[str, object], locale: str) -> None:
    after = replace(BEFORE, **changes)  # type: ignore[arg-type]
    [event] = describe_changes(BEFORE, after, who="Li Na", names={"a2": "王芳"})
    said = event.text(locale)
    assert event.key.startswith("event.") and event.key not in said and "{" not in said
    assert "Li Na" in said


def test_values_with_their_own_words_are_translated_and_others_kept() -> None:
    event = ThreadEvent("event.status_changed", {"who": "王芳", "status": "resolved"})
    assert event.text("zh-CN") == "王芳 将状态设为「已解决」"
    assert event.text("en") == "王芳 set the status to resolved"
    assert (
        ThreadEvent("event.team_changed", {"who": "Li", "team": "resolved"}).text("en")
        == "Li moved this to team resolved"
    )


def test_the_key_survives_storage_and_old_events_have_none() -> None:
    reopened = reopen_event(replace(BEFORE, number=1042), datetime(2030, 1, 1, tzinfo=UTC))
    assert event_of(reopened.raw) == ThreadEvent("event.reopened", {"number": "1042"})
    assert event_of(reopened.raw).text("zh-CN") == "工单 #1042 已重新打开：客户再次来信"  # type: ignore[union-attr]
    assert event_of(None) is None and event_of({"event": "text"}) is None
