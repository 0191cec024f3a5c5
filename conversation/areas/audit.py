"""The audit log: agent and admin actions, appended and never changed."""

from __future__ import annotations

from abc import ABC, abstractmethod

from conversation.audit import AuditEntry, AuditQuery


class Audit(ABC):
    """Append-only: there is no method that changes or removes an entry."""

    @abstractmethod
    async def append(self, entry: AuditEntry) -> None: ...

    @abstractmethod
    async def list_entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries passing the query's filters, newest first, `query.limit` from `query.offset`."""
