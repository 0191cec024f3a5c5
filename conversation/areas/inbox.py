"""The agent's inbox: ticket lists, previews, view counts, read markers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from conversation.model import (
    Conversation,
    ConversationQuery,
    Message,
    Reach,
)


class Inbox(ABC):
    """The agent's inbox: ticket lists, previews, view counts, read markers."""

    @abstractmethod
    async def list_conversations(self, query: ConversationQuery) -> tuple[list[Conversation], int]:
        """One page matching the query, newest activity first, and how many match (counted up
        to 1,000; a search looks at the newest 1,000 matching messages)."""

    @abstractmethod
    async def newest_messages(self, conversation_ids: list[str], per_ticket: int) -> dict[str, list[Message]]:
        """Each ticket's newest `per_ticket` messages and notes (system events left out), newest
        first: what its row in the list shows (conversation/inbox_rows.py)."""

    @abstractmethod
    async def count_views(self, agent_id: str, reach: Reach | None = None) -> dict[str, int]:
        """Tickets per status, plus open "mine" and "unassigned", and "all" (merged ones left out),
        of the tickets `reach` covers (None: all)."""

    @abstractmethod
    async def mark_read(self, agent_id: str, conversation_id: str, at: datetime) -> None: ...

    @abstractmethod
    async def read_markers(self, agent_id: str, conversation_ids: list[str]) -> dict[str, datetime]: ...
