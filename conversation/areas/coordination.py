"""Work shared by hub processes: leases, small key-value state, per-plugin state."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any

# Hub-wide values written by compare-and-set are kept beside plugin state under this scope,
# which no ticket id takes (ids are hex), so both backends keep them with no table of their own.
SHARED_SCOPE = "~shared"


class Coordination(ABC):
    """Work shared by hub processes: leases, small key-value state, per-plugin state."""

    async def load_shared(self, key: str) -> tuple[dict[str, Any], int]:
        """A hub-wide value and its version (0: none stored yet), for a change that several hub
        processes may make at once: read it, change it, `save_shared` with this version."""
        return await self.load_plugin_state(SHARED_SCOPE, key)

    async def save_shared(self, key: str, value: dict[str, Any], *, version: int) -> bool:
        """Store `value` only if the stored version is still `version` (compare-and-set). False
        when another process wrote first: nothing is written; read again and redo the change."""
        return await self.set_plugin_state(SHARED_SCOPE, key, value, version=version)

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
