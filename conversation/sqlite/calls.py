"""SQLite: phone calls (one JSON document per call id, its state beside it for compare-and-set)."""

from __future__ import annotations

import json
import sqlite3

from conversation.areas.calls import Calls
from conversation.calls import Call, CallState, call_from_doc, call_to_doc
from conversation.codec import state_from_doc, state_to_doc
from conversation.sqlite.db import Area


def _encoded(call: Call) -> str:
    return json.dumps(state_to_doc(call_to_doc(call)), ensure_ascii=False)


class SQLiteCalls(Area, Calls):
    async def insert_call(self, call: Call) -> bool:
        doc = _encoded(call)
        sql = "INSERT INTO calls VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING"
        return bool(await self._call(lambda conn: conn.execute(sql, (call.id, call.state.value, doc)).rowcount))

    async def get_call(self, call_id: str) -> Call | None:
        def job(conn: sqlite3.Connection) -> Call | None:
            row = conn.execute("SELECT doc FROM calls WHERE id = ?", (call_id,)).fetchone()
            return call_from_doc(state_from_doc(json.loads(row[0]))) if row else None

        return await self._call(job, write=False)

    async def replace_call(self, call: Call, *, expected_state: CallState) -> bool:
        doc = _encoded(call)
        sql = "UPDATE calls SET state = ?, doc = ? WHERE id = ? AND state = ?"
        params = (call.state.value, doc, call.id, expected_state.value)
        return bool(await self._call(lambda conn: conn.execute(sql, params).rowcount))
