"""Phone calls: one record per call id, so a telephony system's retries never duplicate one."""

from __future__ import annotations

from abc import ABC, abstractmethod

from conversation.calls import Call, CallState


class Calls(ABC):
    @abstractmethod
    async def insert_call(self, call: Call) -> bool:
        """Store a new call; False (and nothing written) when a call with this id exists."""

    @abstractmethod
    async def get_call(self, call_id: str) -> Call | None: ...

    @abstractmethod
    async def replace_call(self, call: Call, *, expected_state: CallState) -> bool:
        """Write the call only while the stored one is still in `expected_state` (compare-and-set):
        of two hubs applying the same report, one wins."""
