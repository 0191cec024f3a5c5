"""The Store contract for full-text search over messages (both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation.model import (
    ConversationQuery,
    utcnow,
)
from conversation.search_text import SearchRejected, SearchTimedOut
from conversation.store import (
    Store,
)
from tests.store_contract.common import POLICY, inbound


async def test_search_finds_words_in_english_and_chinese_newest_first(store: Store) -> None:
    texts = ["My order #5531 never arrived", "我无法登录我的账户", "Refund for order 77 please", "密码 重置 100%_done"]
    for i, text in enumerate(texts):
        await store.tickets.record_inbound(inbound(f"m{i}", thread=f"t{i}", text=text), now=utcnow(), policy=POLICY)

    assert [m.text for m in await store.tickets.search_messages("order")] == [texts[2], texts[0]]
    assert [m.text for m in await store.tickets.search_messages("ORDER never")] == [texts[0]]
    assert [m.text for m in await store.tickets.search_messages("无法登录")] == [texts[1]]
    assert [m.text for m in await store.tickets.search_messages("登录")] == [texts[1]]
    assert [m.text for m in await store.tickets.search_messages("密码")] == [texts[3]]
    assert await store.tickets.search_messages("d_n") == []  # "_" is no wildcard: it does not match the "o" of "done"
    assert await store.tickets.search_messages("%") == []  # punctuation is not a word
    assert await store.tickets.search_messages("   ") == []
    assert await store.tickets.search_messages("nothing-like-this") == []


async def test_one_cjk_character_finds_the_words_it_is_part_of(store: Store) -> None:
    texts = ["我的订单还没到", "单号是 5531", "账单", "订"]
    for i, text in enumerate(texts):
        await store.tickets.record_inbound(inbound(f"m{i}", thread=f"t{i}", text=text), now=utcnow(), policy=POLICY)
    assert [m.text for m in await store.tickets.search_messages("单")] == [
        texts[2],
        texts[1],
        texts[0],
    ]  # end, start, middle
    assert [m.text for m in await store.tickets.search_messages("订")] == [texts[3], texts[0]]
    assert [m.text for m in await store.tickets.search_messages("到")] == [texts[0]]  # the last character of a run
    assert [m.text for m in await store.tickets.search_messages("单 5531")] == [texts[1]]


async def test_a_number_is_found_however_its_digits_are_grouped(store: Store) -> None:
    """A trial's 13900001111 did not find "139-0000-1111", nor "138 1234 5678" 13812345678."""
    texts = ["请打 139-0000-1111 找我", "我的手机 13812345678", "座机 +86 21 6288 8888", "订单 5531 没到"]
    for i, text in enumerate(texts):
        await store.tickets.record_inbound(inbound(f"m{i}", thread=f"t{i}", text=text), now=utcnow(), policy=POLICY)
    # Typed as plain digits, the embedded store finds it however it was written; MongoDB (its
    # text index keeps words) finds it written so only, and a grouped search however grouped.
    plain = await store.tickets.search_messages("13900001111")
    assert [m.text for m in plain] == ([texts[0]] if store.serves_one_process else [])
    for query, found in (
        ("139-0000-1111", texts[0]),
        ("139 0000 1111", texts[0]),
        ("13812345678", texts[1]),
        ("138 1234 5678", texts[1]),
        ("138-1234-5678", texts[1]),
        ("+86 21 6288 8888", texts[2]),
    ):
        assert [m.text for m in await store.tickets.search_messages(query)] == [found], query
    assert [m.text for m in await store.tickets.search_messages("5531")] == [texts[3]]  # a short number as before
    # two numbers side by side stay two words (a review: "88231 599" was one number, found nothing)
    await store.tickets.record_inbound(
        inbound("m9", thread="t9", text="退款 599 元，订单 88231"), now=utcnow(), policy=POLICY
    )
    assert [m.text for m in await store.tickets.search_messages("88231 599")] == ["退款 599 元，订单 88231"]
    assert [m.text for m in await store.tickets.search_messages("+86 139 0000 1111")] == [texts[0]]  # +86: at home
    items, _ = await store.inbox.list_conversations(ConversationQuery(search="138 1234 5678"))
    assert len(items) == 1


async def test_complaint_and_dispute_references_are_found_whole(store: Store) -> None:
    """ "C-1002" or "D-1000-1203" is one reference, not a one-letter word to refuse."""
    texts = ["投诉 C-1002 已由 complaints 登记", "纠纷 D-1000-1203 已裁决", "Your complaint C-1003 is closed"]
    for i, text in enumerate(texts):
        await store.tickets.record_inbound(inbound(f"m{i}", thread=f"t{i}", text=text), now=utcnow(), policy=POLICY)
    assert [m.text for m in await store.tickets.search_messages("C-1002")] == [texts[0]]
    assert [m.text for m in await store.tickets.search_messages("c-1003")] == [texts[2]]
    assert [m.text for m in await store.tickets.search_messages("D-1000-1203")] == [texts[1]]
    assert await store.tickets.search_messages("D-1002") == []
    items, _ = await store.inbox.list_conversations(ConversationQuery(search="C-1002"))
    assert len(items) == 1


async def test_searches_over_the_limits_are_refused_clearly(store: Store) -> None:
    await store.tickets.record_inbound(inbound("m1", text="the parcel arrived broken"), now=utcnow(), policy=POLICY)
    with pytest.raises(SearchRejected, match="at most 8 words"):
        await store.tickets.search_messages(" ".join("abcdefghijklmnopqrstuvwxyz"))  # 26 one-letter words
    with pytest.raises(SearchRejected, match="at least 2"):
        await store.tickets.search_messages("parcel b")
    with pytest.raises(SearchRejected):
        await store.inbox.list_conversations(ConversationQuery(search="a b c d e f g h i"))
    assert [m.text for m in await store.tickets.search_messages("parcel arrived")] == ["the parcel arrived broken"]
    assert await store.tickets.search_messages("pa") == []  # two letters: a whole word, not a prefix


async def test_a_search_that_runs_too_long_is_stopped(store: Store) -> None:
    for i in range(300):
        text = f"order {i} refund parcel 订单 number {i % 7}"
        await store.tickets.record_inbound(inbound(f"m{i}", thread=f"t{i}", text=text), now=utcnow(), policy=POLICY)
    assert len(await store.tickets.search_messages("订单 order", limit=500)) == 300
    store.search_seconds = 0.0  # type: ignore[attr-defined]
    with pytest.raises(SearchTimedOut, match="took longer than"):
        await store.tickets.search_messages("订单 order", limit=500)
    with pytest.raises(SearchTimedOut):
        await store.inbox.list_conversations(ConversationQuery(search="订单 order"))


async def test_an_embedded_search_index_of_an_older_format_is_rebuilt(tmp_path: Path) -> None:
    """Databases indexed before single CJK characters were searchable find them after the upgrade."""
    import sqlite3

    from conversation.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "old.sqlite3")
    await store.open()
    await store.tickets.record_inbound(inbound("m1", text="我的订单"), now=utcnow(), policy=POLICY)
    await store.close()
    with sqlite3.connect(store.path) as conn:  # as an older Helpline left it: bigrams only
        conn.execute("DELETE FROM meta WHERE key = 'search_index_format'")
        conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")
        conn.execute("INSERT INTO messages_fts (rowid, body) SELECT seq, '我的 的订 订单' FROM messages")
    await store.open()
    try:
        assert [m.text for m in await store.tickets.search_messages("单")] == ["我的订单"]
    finally:
        await store.close()


async def test_an_edited_message_is_found_by_its_new_words_only(store: Store) -> None:
    """An edit re-indexes the message: its old words no longer find it (both backends)."""
    record = await store.tickets.record_inbound(
        inbound("m1", text="a zebra ate my parcel"), now=utcnow(), policy=POLICY
    )
    assert [m.id for m in await store.tickets.search_messages("zebra")] == [record.message.id]  # indexed now
    await store.tickets.edit_inbound("telegram", "m1", text="a giraffe ate my parcel", deleted=False, at=utcnow())
    assert await store.tickets.search_messages("zebra") == []
    assert [m.id for m in await store.tickets.search_messages("giraffe")] == [record.message.id]
    assert [m.id for m in await store.tickets.search_messages("parcel")] == [record.message.id]
    await store.close()  # the index survives a restart as edited
    await store.open()
    assert await store.tickets.search_messages("zebra") == []
    assert [m.id for m in await store.tickets.search_messages("giraffe")] == [record.message.id]


@pytest.mark.parametrize("query", ['"', "*", "%", "\\", '" *', "% \\ ..."])
async def test_a_search_of_punctuation_alone_lists_no_ticket(store: Store, query: str) -> None:
    await store.tickets.record_inbound(
        inbound("m1", thread="t1", text='order 5531 \\ "late" 100%*'), now=utcnow(), policy=POLICY
    )
    assert await store.tickets.search_messages(query) == []
    assert await store.inbox.list_conversations(ConversationQuery(search=query)) == ([], 0)  # never "every ticket"
    assert (await store.inbox.list_conversations(ConversationQuery(search="  ")))[1] == 1  # blank: no search at all


async def test_search_finds_a_customers_tickets_by_their_name_or_address(store: Store) -> None:
    """A trial's agent searched "张伟" and "lilei@example.com" and found nothing: only the
    messages were searched, and the customers never wrote their own names."""
    from conversation.inbound import Sender

    people = [
        ("m1", "t1", Sender(address="zhangwei@example.cn", display_name="张伟")),
        ("m2", "t2", Sender(address="LiLei@Example.com", display_name="Li Lei")),
        ("m3", "t3", Sender(address="user-9", display_name="王芳")),
    ]
    tickets = {}
    for external_id, thread, sender in people:
        record = await store.tickets.record_inbound(
            inbound(external_id, thread=thread, text="订单没到", sender=sender), now=utcnow(), policy=POLICY
        )
        tickets[sender.display_name] = record.conversation.id

    async def found(search: str) -> set[str]:
        items, _total = await store.inbox.list_conversations(ConversationQuery(search=search, limit=20))
        return {c.id for c in items}

    assert await found("张伟") == {tickets["张伟"]}
    assert await found("lilei@example.com") == {tickets["Li Lei"]}  # any letter case
    assert await found("li lei") == {tickets["Li Lei"]}
    assert await found("example.cn") == {tickets["张伟"]}
    assert await found("王芳") == {tickets["王芳"]}
    assert await found("订单") == set(tickets.values())  # the words of the messages as before
    assert await found("赵六") == set()
    assert await found("li_lei") == set() and await found("zhang%") == set()  # no wildcards in what is typed
    # a number is not searched in people's addresses: a chat id holding it is no answer (a review)
    chat = Sender(address="tg-555312", display_name="赵敏")
    await store.tickets.record_inbound(
        inbound("m4", thread="t4", text="你好", sender=chat), now=utcnow(), policy=POLICY
    )
    assert await found("5553") == set()
    assert await found("tg-5553") == set()  # a chat id is not an email address
