"""SQLite: plugin records, one row each with its data as JSON.

A declared query field gets an expression index over the JSON,
`(plugin, kind, json_extract(data, '$.<field>'))`: SQLite uses an index on an
expression when a query repeats that expression exactly, which `query_records` does.
No side table to keep in step, and a kind that declares a new query field just gets
one more index at the next start. Names are checked by `conversation.records.NAME`
before they reach SQL, since an index's expression cannot be a bound parameter.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from conversation.areas.records import Records
from conversation.codec import from_epoch_ms, to_epoch_ms
from conversation.records import NAME, Record, RecordKind, RecordQuery, record_from_doc, record_to_doc
from conversation.sqlite.db import Area
from conversation.store import AlreadyExists

COLUMNS = (
    "id, plugin, kind, conversation_id, contact_id, status, deadline, created_at, updated_at, version, data, timeline"
)


def query_index_name(kind: RecordKind, name: str) -> str:
    return f"records_q_{kind.plugin}__{kind.name}__{name}"


def field_expression(name: str) -> str:
    """The JSON path of a query field, written the same in the index and in the query."""
    if not NAME.match(name):
        raise ValueError(f"not a query field name: {name!r}")
    return f"json_extract(data, '$.{name}')"


def _row(record: Record) -> tuple[Any, ...]:
    doc = record_to_doc(record)
    return (
        record.id,
        record.plugin,
        record.kind,
        record.conversation_id,
        record.contact_id,
        record.status,
        to_epoch_ms(record.deadline),
        to_epoch_ms(record.created_at),
        to_epoch_ms(record.updated_at),
        record.version,
        json.dumps(doc["data"], ensure_ascii=False),
        json.dumps(doc["timeline"], ensure_ascii=False),
    )


def _record(row: sqlite3.Row) -> Record:
    return record_from_doc(
        {
            **{key: row[key] for key in ("id", "plugin", "kind", "conversation_id", "contact_id", "status", "version")},
            "deadline": from_epoch_ms(row["deadline"]),
            "created_at": from_epoch_ms(row["created_at"]),
            "updated_at": from_epoch_ms(row["updated_at"]),
            "data": json.loads(row["data"]),
            "timeline": json.loads(row["timeline"]),
        }
    )


class SQLiteRecords(Area, Records):
    async def ensure_indexes(self, kinds: Sequence[RecordKind]) -> None:
        statements = []
        for kind in kinds:
            if not (NAME.match(kind.plugin) and NAME.match(kind.name)):
                raise ValueError(f"record kind {kind.plugin}/{kind.name}: not a safe name")
            for name in kind.queries:
                statements.append(
                    f"CREATE INDEX IF NOT EXISTS {query_index_name(kind, name)}"
                    f" ON records (plugin, kind, {field_expression(name)})"
                )

        def job(conn: sqlite3.Connection) -> None:
            for statement in statements:
                conn.execute(statement)

        await self._call(job, deadline=False)

    async def create_record(self, record: Record) -> None:
        row = _row(record)

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(f"INSERT INTO records ({COLUMNS}) VALUES ({', '.join('?' * 12)})", row)
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"record {record.id} exists") from None

        await self._call(job)

    async def create_record_once(self, record: Record) -> tuple[Record, bool]:
        row = _row(record)

        def job(conn: sqlite3.Connection) -> tuple[Record, bool]:
            # One job on the writer thread: nothing runs between the insert and the read.
            insert = f"INSERT INTO records ({COLUMNS}) VALUES ({', '.join('?' * 12)}) ON CONFLICT (id) DO NOTHING"
            if conn.execute(insert, row).rowcount == 1:
                return record, True
            stored = conn.execute(
                f"SELECT {COLUMNS} FROM records WHERE id = ? AND plugin = ? AND kind = ?",
                (record.id, record.plugin, record.kind),
            ).fetchone()
            if stored is None:  # the id is another kind's: keyed ids name their kind, so never
                raise AlreadyExists(f"record {record.id} exists")
            return _record(stored), False

        return await self._call(job)  # type: ignore[no-any-return]

    async def replace_record(self, record: Record, *, version: int) -> bool:
        row = _row(record)
        sql = (
            "UPDATE records SET status = ?, deadline = ?, updated_at = ?, version = ?, data = ?, timeline = ?"
            " WHERE id = ? AND plugin = ? AND kind = ? AND version = ?"
        )
        params = (row[5], row[6], row[8], row[9], row[10], row[11], record.id, record.plugin, record.kind, version)
        return bool(await self._call(lambda conn: conn.execute(sql, params).rowcount == 1))

    async def get_record(self, plugin: str, kind: str, record_id: str) -> Record | None:
        def job(conn: sqlite3.Connection) -> Record | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM records WHERE id = ? AND plugin = ? AND kind = ?", (record_id, plugin, kind)
            ).fetchone()
            return _record(row) if row else None

        return await self._call(job, write=False)

    async def query_records(self, query: RecordQuery) -> list[Record]:
        where, params = _where(query)
        sql = f"SELECT {COLUMNS} FROM records WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ?"

        def job(conn: sqlite3.Connection) -> list[Record]:
            return [_record(row) for row in conn.execute(sql, (*params, query.limit))]

        return await self._call(job, write=False)

    async def count_records(self, query: RecordQuery, by: str) -> dict[tuple[Any, str], int]:
        where, params = _where(query)
        value = field_expression(by)
        sql = f"SELECT {value} AS value, status, COUNT(*) FROM records WHERE {where} GROUP BY {value}, status"

        def job(conn: sqlite3.Connection) -> dict[tuple[Any, str], int]:
            return {(row[0], row[1]): row[2] for row in conn.execute(sql, params)}

        return await self._call(job, write=False)


def _where(query: RecordQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of a query (without its limit), and its parameters."""
    where = ["plugin = ?", "kind = ?"]
    params: list[Any] = [query.plugin, query.kind]
    for column in ("conversation_id", "contact_id", "status"):
        if value := getattr(query, column):
            where.append(f"{column} = ?")
            params.append(value)
    for name, value in query.filters.items():
        where.append(f"{field_expression(name)} = ?")
        params.append(json.dumps(value) if isinstance(value, dict | list) else value)
    return " AND ".join(where), params
