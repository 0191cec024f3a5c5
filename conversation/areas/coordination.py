"""Work shared by hub processes: leases, small key-value state, per-plugin state."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any


class Coordination(ABC):
    """Work shared by hub processes: leases, small key-value state, per-plugin state."""

    async def get_plugin_state(self, conversation_id: str, plugin: str) -> dict[str, Any]:
        return (await self.load_plugin_state(conversation_id, plugin))[0]

    @abstractmethod
    async def load_plugin_state(self, conversation_id: str, plugin: str) -> tuple[dict[str, Any], int]:
        """The state and its version: 0 when none is stored yet; each write adds one."""

    @abstractmethod
    async def set_plugin_state(
        self, conversation_id: str, plugin: str, state: dict[str, Any], *, version: int | None = None
    ) -> bool:
        """Store the state; with `version`, only if the stored version is still that one (compare-and-set).

        False when another writer got there first: the caller's state is stale and is not written.
        """

    @abstractmethod
    async def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the named lease; False while another owner holds it unexpired."""

    @abstractmethod
    async def release_lease(self, name: str, owner: str) -> None: ...

    @abstractmethod
    async def get_value(self, key: str) -> Any:
        """A channel's own small state (an IMAP mailbox's UIDVALIDITY and last UID); None if unset."""

    @abstractmethod
    async def set_value(self, key: str, value: Any) -> None: ...
