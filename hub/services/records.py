"""Plugin records: the kinds plugins declare, and every create and change of a record
(from a plugin or an agent), validated by its kind's JSON Schema, stored with a timeline
entry, audited when an agent made it, and published live (`record.created`, `record.updated`
on the ticket)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from conversation.errors import InvalidInput
from conversation.model import Conversation, new_id, utcnow
from conversation.records import Change, Record, RecordChanged, RecordKind, RecordQuery, changed, keyed_id
from conversation.store import NotFound, Store
from hub.events import Event, EventBus
from hub.services import audit

MAX_RETRIES = 5  # compare-and-set rounds when others change the same record at once


class RecordService:
    def __init__(self, store: Store, bus: EventBus, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.kinds: dict[tuple[str, str], RecordKind] = {}

    def register(self, plugin: str, kinds: Iterable[RecordKind]) -> None:
        """A plugin's declared kinds; ValueError naming what is wrong (the hub refuses to start)."""
        for declared in kinds:
            kind = replace(declared, queries=tuple(declared.queries), plugin=plugin)
            kind.check()
            if (plugin, kind.name) in self.kinds:
                raise ValueError(f"plugin {plugin} declares the record kind {kind.name!r} twice")
            self.kinds[(plugin, kind.name)] = kind

    async def ensure_indexes(self) -> None:
        await self.store.records.ensure_indexes(list(self.kinds.values()))

    def kind(self, plugin: str, kind: str) -> RecordKind:
        found = self.kinds.get((plugin, kind))
        if found is None:
            raise NotFound(f"record_kind {plugin}/{kind}")
        return found

    async def create(
        self,
        plugin: str,
        kind: str,
        conversation: Conversation,
        data: dict[str, Any],
        *,
        status: str = "",
        deadline: datetime | None = None,
        who: str,
        action: str = "",
    ) -> Record:
        """A new record; audited (when an agent acts) as `action`, a name that says what the
        record is to the people reading the log (`complaint.file`), or "record.create"."""
        record = self._new(plugin, kind, conversation, data, status, deadline, new_id(), who)
        await self.store.records.create_record(record)
        await self._created(record, who, action)
        return record

    async def create_once(
        self,
        plugin: str,
        kind: str,
        conversation: Conversation,
        data: dict[str, Any],
        *,
        key: str,
        status: str = "",
        deadline: datetime | None = None,
        who: str,
        action: str = "",
    ) -> tuple[Record, bool]:
        """The one record of this kind with `key` (a ticket's complaint, an order's case):
        made now, (record, True), or the one made before, also by a racing writer in this
        hub or another, (that record, False). Creating is one atomic step in the store, so
        a check-then-create race never makes two."""
        record = self._new(plugin, kind, conversation, data, status, deadline, keyed_id(plugin, kind, key), who)
        stored, made = await self.store.records.create_record_once(record)
        if made:
            await self._created(stored, who, action)
        return stored, made

    def _new(
        self,
        plugin: str,
        kind: str,
        conversation: Conversation,
        data: dict[str, Any],
        status: str,
        deadline: datetime | None,
        record_id: str,
        who: str,
    ) -> Record:
        """The record as made, its timeline's first entry saying who made it, in which status
        (a trial's new record had an empty timeline: nothing said who created it)."""
        declared = self.kind(plugin, kind)
        now = self.clock()
        status = declared.check_status(status or declared.statuses[0])
        return Record(
            id=record_id,
            plugin=plugin,
            kind=kind,
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            status=status,
            data=declared.validate({k: v for k, v in data.items() if v is not None}),
            deadline=_aware(deadline),
            created_at=now,
            updated_at=now,
            timeline=(Change(at=now, who=who, changes={"status": [None, status]}),),
        )

    async def _created(self, record: Record, who: str, action: str) -> None:
        at = record.created_at
        await audit.record(self.store, action or "record.create", "record", record.id, after=_audited(record), at=at)
        self._published("record.created", record, who)

    async def update(
        self,
        plugin: str,
        kind: str,
        record_id: str,
        *,
        data: dict[str, Any] | None = None,
        status: str | None = None,
        deadline: datetime | None | bool = False,
        who: str,
        expect_version: int | None = None,
        action: str = "",
    ) -> Record:
        """Merge `data` into the record (a None value removes a field), set status and deadline
        (`deadline=False` leaves it); the whole result must pass the kind's schema. With
        `expect_version`, RecordChanged unless the record is still at that version (a change
        computed from what the record held: an appended list, a status move). Audited as
        `action` (`dispute.decide`), or "record.update"."""
        declared = self.kind(plugin, kind)
        if status is not None:
            declared.check_status(status)
        for _ in range(MAX_RETRIES):
            record = await self.get(plugin, kind, record_id)
            if record is None:
                raise NotFound(f"record {record_id}")
            if expect_version is not None and record.version != expect_version:
                raise RecordChanged(f"record {record_id} changed meanwhile (version {record.version})")
            after = changed(record, data=data, status=status, deadline=_aware(deadline), who=who, now=self.clock())
            if after is record:
                return record
            declared.validate(after.data)
            if await self.store.records.replace_record(after, version=record.version):
                await audit.record(
                    self.store,
                    action or "record.update",
                    "record",
                    record.id,
                    before=_audited(record),
                    after=_audited(after),
                )
                self._published("record.updated", after, who)
                return after
        raise InvalidInput("the record is being changed by others; try again")

    async def get(self, plugin: str, kind: str, record_id: str) -> Record | None:
        self.kind(plugin, kind)
        return await self.store.records.get_record(plugin, kind, record_id)

    async def query(
        self,
        plugin: str,
        kind: str,
        filters: dict[str, Any] | None = None,
        *,
        conversation_id: str = "",
        contact_id: str = "",
        status: str = "",
        limit: int = 50,
    ) -> list[Record]:
        declared = self.kind(plugin, kind)
        clean = {name: declared.filter_value(name, value) for name, value in (filters or {}).items()}
        query = RecordQuery(plugin, kind, clean, conversation_id, contact_id, status, limit)
        return await self.store.records.query_records(query)

    async def count(
        self, plugin: str, kind: str, by: str, filters: dict[str, Any] | None = None
    ) -> dict[tuple[Any, str], int]:
        """How many records match `filters`, by the value of query field `by` and status."""
        declared = self.kind(plugin, kind)
        declared.filter_value(by, "")  # InvalidInput unless `by` is a declared query field
        clean = {name: declared.filter_value(name, value) for name, value in (filters or {}).items()}
        return await self.store.records.count_records(RecordQuery(plugin, kind, clean), by)

    async def of_conversation(self, conversation_id: str) -> list[Record]:
        """Every record of every kind on one ticket (the inbox's sidebar)."""
        found: list[Record] = []
        for plugin, kind in self.kinds:
            found += await self.query(plugin, kind, conversation_id=conversation_id, limit=200)
        return found

    def _published(self, kind: str, record: Record, who: str) -> None:
        declared = self.kinds.get((record.plugin, record.kind))
        data: dict[str, Any] = {"plugin": record.plugin, "kind": record.kind, "record_id": record.id, "who": who}
        if declared is not None and declared.private:
            data["private"] = True  # hub/webhooks.py: for include_private subscriptions only
        self.bus.publish(Event(kind, record.conversation_id, data))


def _audited(record: Record) -> dict[str, Any]:
    """What the audit log keeps of a record (its timeline stays on the record)."""
    return {
        "plugin": record.plugin,
        "kind": record.kind,
        "ticket": record.conversation_id,
        "status": record.status,
        "deadline": record.deadline,
        "data": record.data,
    }


def _aware(moment: datetime | None | bool) -> Any:
    if isinstance(moment, datetime) and moment.tzinfo is None:
        raise InvalidInput("deadline: give the time zone")
    return moment
