"""The Store contract for opening, versions and migrations (both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation.model import (
    utcnow,
)
from conversation.store import (
    SCHEMA_VERSION,
    SchemaMismatch,
    Store,
)
from tests.store_contract.common import POLICY, inbound


async def test_a_database_from_a_newer_helpline_is_refused(store: Store) -> None:
    from conversation.mongo import MongoStore
    from conversation.sqlite import SQLiteStore

    await store.close()
    if isinstance(store, SQLiteStore):
        import sqlite3

        def set_version(version: int) -> None:
            with sqlite3.connect(store.path) as conn:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))

        again: Store = SQLiteStore(store.path)
    else:
        assert isinstance(store, MongoStore)
        from pymongo import MongoClient

        def set_version(version: int) -> None:
            with MongoClient(store.url) as client:
                client.get_default_database().meta.update_one({"_id": "schema"}, {"$set": {"version": version}})

        again = MongoStore(store.url)
    set_version(99)
    with pytest.raises(SchemaMismatch, match="schema version 99"):
        await again.open()
    await again.close()
    set_version(SCHEMA_VERSION)
    await store.open()  # the current version opens; the fixture closes it


async def test_reopening_keeps_everything_and_is_idempotent(store: Store) -> None:
    record = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    await store.close()
    await store.open()
    assert await store.tickets.get_conversation(record.conversation.id) == record.conversation
    again = await store.tickets.record_inbound(inbound("m1"), now=utcnow(), policy=POLICY)
    assert again.duplicate


async def test_an_embedded_database_of_schema_1_gains_plugin_state_versions(tmp_path: Path) -> None:
    import sqlite3

    from conversation.sqlite import SQLiteStore

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # what version 1 wrote
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        conn.execute(
            "CREATE TABLE plugin_state (conversation_id TEXT NOT NULL, plugin TEXT NOT NULL, state TEXT NOT NULL,"
            " PRIMARY KEY (conversation_id, plugin))"
        )
        conn.execute("INSERT INTO plugin_state VALUES ('c1', 'greeting', '{\"greeted\": true}')")
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.coordination.load_plugin_state("c1", "greeting") == ({"greeted": True}, 1)
        assert await store.coordination.set_plugin_state("c1", "greeting", {"greeted": True, "x": 1}, version=1)
    finally:
        await store.close()
