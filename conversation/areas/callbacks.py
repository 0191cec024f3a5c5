"""Callback tasks: who calls whom back, by when; raised once when due."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from conversation.callbacks import Callback, CallbackStatus


class Callbacks(ABC):
    @abstractmethod
    async def add_callback(self, callback: Callback) -> bool:
        """Store a new task; False (nothing written) when a task with this id exists."""

    @abstractmethod
    async def get_callback(self, callback_id: str) -> Callback | None: ...

    @abstractmethod
    async def list_callbacks(
        self, *, status: CallbackStatus | None = CallbackStatus.OPEN, owner_id: str | None = None, limit: int = 200
    ) -> list[Callback]:
        """Tasks soonest due first; `owner_id` narrows to one agent's ("" for nobody's)."""

    @abstractmethod
    async def close_callback(
        self, callback_id: str, status: CallbackStatus, *, by: str, now: datetime
    ) -> Callback | None:
        """Mark an open task done or cancelled; None when it is not open (closed before)."""

    @abstractmethod
    async def due_callbacks(self, now: datetime, *, limit: int = 200) -> list[Callback]:
        """Open tasks due by `now` that were not raised yet, soonest due first."""

    @abstractmethod
    async def mark_raised(self, callback_id: str, now: datetime) -> bool:
        """Note that the task was raised; False when it was already (another hub did it)."""
