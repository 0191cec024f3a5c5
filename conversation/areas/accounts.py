"""Agents, their sessions and API tokens, and the canned responses they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from conversation.model import (
    Agent,
    ApiToken,
    CannedResponse,
    Session,
)


class Accounts(ABC):
    """Agents, their sessions and API tokens, and the canned responses they share."""

    @abstractmethod
    async def get_agent(self, agent_id: str) -> Agent | None: ...

    @abstractmethod
    async def list_agents(self) -> list[Agent]: ...

    @abstractmethod
    async def update_agent(self, agent_id: str, changes: dict[str, Any]) -> Agent:
        """Change name, role, active or password_hash; raise NotFound."""

    @abstractmethod
    async def add_session(self, session: Session) -> None: ...

    @abstractmethod
    async def get_session(self, token_hash: str) -> Session | None: ...

    @abstractmethod
    async def delete_session(self, token_hash: str) -> None: ...

    @abstractmethod
    async def delete_agent_sessions(self, agent_id: str) -> int:
        """Sign the agent out everywhere (deactivation); returns how many sessions ended."""

    @abstractmethod
    async def add_api_token(self, token: ApiToken) -> ApiToken: ...

    @abstractmethod
    async def get_api_token(self, token_hash: str) -> ApiToken | None: ...

    @abstractmethod
    async def list_api_tokens(self) -> list[ApiToken]: ...

    @abstractmethod
    async def revoke_api_token(self, token_id: str, *, now: datetime) -> ApiToken:
        """Raise NotFound for an unknown token."""

    @abstractmethod
    async def list_canned(self) -> list[CannedResponse]: ...

    @abstractmethod
    async def add_canned(self, canned: CannedResponse) -> CannedResponse:
        """Raise AlreadyExists when the shortcut is taken."""

    @abstractmethod
    async def delete_canned(self, canned_id: str) -> None:
        """Raise NotFound for an unknown canned response."""

    @abstractmethod
    async def add_agent(self, agent: Agent) -> Agent:
        """Raise AlreadyExists when the email (case-insensitive) is taken."""

    @abstractmethod
    async def get_agent_by_email(self, email: str) -> Agent | None: ...

    @abstractmethod
    async def count_agents(self) -> int: ...
