"""Keywords raise a new ticket's priority: the pure rule, the config section, and ingest."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation.model import MessageKind, Priority
from conversation.priority_rules import KeywordMatch, KeywordRules, priority_from_keywords
from hub.app import Hub
from hub.config import parse_config
from hub.settings import ConfigError
from tests.helpers import customer_message, make_config

RULES = KeywordRules(urgent=("盗号", "被盗", "fraud"), high=("退款", "refund"))


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("我的账号被盗了", Priority.NORMAL, KeywordMatch(Priority.URGENT, "被盗")),
        ("This looks like FRAUD", Priority.NORMAL, KeywordMatch(Priority.URGENT, "fraud")),
        ("请给我退款, 也可能是盗号", Priority.NORMAL, KeywordMatch(Priority.URGENT, "盗号")),  # urgent first
        ("refund please", Priority.LOW, KeywordMatch(Priority.HIGH, "refund")),
        ("refund please", Priority.URGENT, None),  # never lowered
        ("refund please", Priority.HIGH, None),
        ("where is my parcel", Priority.NORMAL, None),
    ],
)
def test_keywords_raise_the_priority(text: str, current: Priority, expected: KeywordMatch | None) -> None:
    assert priority_from_keywords(text, RULES, current) == expected


def test_the_desk_section_is_validated() -> None:
    config = parse_config({"desk": {"urgent_keywords": ["盗号"], "high_keywords": []}}, store_only=True)
    assert (config.desk.urgent_keywords, config.desk.high_keywords) == (("盗号",), ())
    assert "fraud" in parse_config({}, store_only=True).desk.urgent_keywords
    with pytest.raises(ConfigError, match="desk.urgent_keywords"):
        parse_config({"desk": {"urgent_keywords": ["盗号", ""]}}, store_only=True)
    with pytest.raises(ConfigError, match="desk.high_keywords"):
        parse_config({"desk": {"high_keywords": "refund"}}, store_only=True)
    with pytest.raises(ConfigError, match="desk.urgent"):
        parse_config({"desk": {"urgent": ["x"]}}, store_only=True)


async def test_a_new_ticket_with_a_keyword_is_urgent_with_an_event(tmp_path: Path) -> None:
    hub = Hub(make_config(tmp_path))
    await hub.start()
    try:
        record = await hub.ingest(customer_message("m1", "我的账号被盗了，请帮忙"))
        assert record.conversation.priority is Priority.URGENT
        stored = await hub.store.tickets.get_conversation(record.conversation.id)
        assert stored is not None and stored.priority is Priority.URGENT
        events = [m for m in await hub.store.tickets.list_messages(stored.id) if m.kind is MessageKind.EVENT]
        assert [m.text for m in events] == ["Keyword 被盗 raised the priority to urgent"]

        calm = await hub.ingest(customer_message("m2", "where is my parcel", thread="other"))
        assert calm.conversation.priority is Priority.NORMAL
    finally:
        await hub.stop()


@pytest.mark.parametrize("text", ["我要投诉卖家", "I want to complain about the seller", "This is a complaint"])
def test_the_default_high_words_take_a_complaint_in_either_language(text: str) -> None:
    """A trial: "投诉" raised a Chinese complaint to high, "I want to complain about…" stayed normal."""
    defaults = parse_config({}).keyword_rules
    assert priority_from_keywords(text, defaults, Priority.NORMAL) is not None
