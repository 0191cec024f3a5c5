"""Plugin records: documents a plugin keeps beside a ticket (see conversation/records.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from conversation.records import Record, RecordKind, RecordQuery


class Records(ABC):
    """Each record is one document; its data is queried by the fields its kind declares,
    each of which gets an index (`ensure_indexes`, at start)."""

    @abstractmethod
    async def ensure_indexes(self, kinds: Sequence[RecordKind]) -> None:
        """Create the index each declared query field needs (idempotent; run at every start)."""

    @abstractmethod
    async def create_record(self, record: Record) -> None:
        """Store a new record (AlreadyExists for a used id)."""

    @abstractmethod
    async def create_record_once(self, record: Record) -> tuple[Record, bool]:
        """Store the record unless one with its id exists, in one atomic step: (the stored
        record, True) when this call made it, (the one already there, False) otherwise. Two
        writers racing with the same id (`records.keyed_id`) make exactly one record."""

    @abstractmethod
    async def replace_record(self, record: Record, *, version: int) -> bool:
        """Store the record's new state if the stored one still has `version` (compare-and-set);
        False when another writer changed it first (the caller reads it again)."""

    @abstractmethod
    async def get_record(self, plugin: str, kind: str, record_id: str) -> Record | None: ...

    @abstractmethod
    async def query_records(self, query: RecordQuery) -> list[Record]:
        """Records of one kind matching every filter, newest first, at most `query.limit`."""

    @abstractmethod
    async def count_records(self, query: RecordQuery, by: str) -> dict[tuple[Any, str], int]:
        """How many records of one kind match the query's filters (its limit aside), by the
        value of the declared query field `by` and by status: {(value, status): count}."""
