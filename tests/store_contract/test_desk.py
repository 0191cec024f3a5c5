"""The Store contract for teams and the category tree (both backends)."""

from __future__ import annotations

import pytest

from conversation.areas.desk import InUse
from conversation.desk import DEFAULT_CATEGORIES, DEFAULT_TEAMS, Category, Team
from conversation.model import Priority, utcnow
from conversation.store import Store
from tests.store_contract.common import POLICY, inbound


async def test_defaults_are_created_once_and_a_deleted_default_stays_deleted(store: Store) -> None:
    await store.desk.create_defaults()
    await store.desk.create_defaults()  # a second start changes nothing
    teams = {t.id: t for t in await store.desk.list_teams()}
    assert set(teams) == {t.id for t in DEFAULT_TEAMS}
    assert teams["finance"].names == {"zh-CN": "财务/退款", "en": "Finance / refunds"}
    categories = {c.id: c for c in await store.desk.list_categories()}
    assert {c.names["zh-CN"] for c in categories.values()} == {
        "常见问题",
        "账户",
        "交易纠纷",
        "投诉与建议",
        "技术问题",
        "其他",
    }
    assert categories["dispute"].default_team == "finance"
    assert categories["dispute"].default_priority is Priority.HIGH
    assert all(c.default_team in teams for c in DEFAULT_CATEGORIES)

    assert await store.desk.delete_category("other")
    assert await store.desk.delete_team("complaints")
    await store.desk.create_defaults()
    assert await store.desk.get_category("other") is None
    assert await store.desk.get_team("complaints") is None


async def test_teams_are_saved_replaced_and_deleted(store: Store) -> None:
    await store.desk.save_team(Team("vip", {"en": "VIP"}, ["agent-1"]))
    await store.desk.save_team(Team("vip", {"en": "VIP desk", "zh-CN": "贵宾"}, ["agent-1", "agent-2"]))
    assert await store.desk.list_teams() == [Team("vip", {"en": "VIP desk", "zh-CN": "贵宾"}, ["agent-1", "agent-2"])]
    assert await store.desk.delete_team("vip")
    assert not await store.desk.delete_team("vip")
    assert await store.desk.list_teams() == []


async def test_a_category_with_children_or_tickets_is_not_deleted(store: Store) -> None:
    parent = Category("account", {"en": "Account"}, None, None, Priority.NORMAL)
    child = Category("stolen", {"zh-CN": "盗号"}, "account", "security", Priority.URGENT)
    await store.desk.save_category(parent)
    await store.desk.save_category(child)
    assert await store.desk.list_categories() == [parent, child]

    with pytest.raises(InUse, match="subcategories"):
        await store.desk.delete_category("account")
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.tickets.update_conversation(record.conversation.id, {"category": "stolen"}, now=utcnow())
    with pytest.raises(InUse, match="tickets"):
        await store.desk.delete_category("stolen")
    assert await store.desk.list_categories() == [parent, child]

    await store.tickets.update_conversation(record.conversation.id, {"category": "account"}, now=utcnow())
    assert await store.desk.delete_category("stolen")
    assert not await store.desk.delete_category("stolen")
