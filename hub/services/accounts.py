"""Agents, sessions and personal API tokens: every change to who may sign in.

The HTTP routes and the command line both come here, so a token issued from the CLI
is made exactly like one issued in the inbox (only its hash is stored).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from conversation.errors import InvalidInput
from conversation.model import ROLE_RANKS, Agent, ApiToken, Role, new_id, utcnow
from conversation.store import Store
from hub import agents as agent_accounts
from hub.actor import Actor
from hub.services import audit


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


MAX_TOKEN_DAYS = 3650  # ten years: a longer one is a token without end, which None says plainly


class AccountService:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        credentials_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.clock = clock
        # Told after any change that may end a sign-in (the live sockets re-check theirs).
        self.credentials_changed = credentials_changed

    async def add_agent(
        self, email: str, role: Role, password: str, *, name: str = "", teams: list[str] | None = None
    ) -> Agent:
        """`teams`: the (checked) teams the caller makes the new agent a member of next, recorded with it."""
        agent = await agent_accounts.add_agent(self.store, email, role, password, name=name)
        joined = {"teams": sorted(teams)} if teams is not None else {}
        await audit.record(
            self.store, "agent.create", "agent", agent.id, after=_agent_fields(agent) | joined, at=self.clock()
        )
        return agent

    async def update_agent(
        self, agent_id: str, changes: dict[str, Any], *, teams: tuple[list[str], list[str]] | None = None
    ) -> Agent:
        """`teams`: the agent's team ids before and after a membership change made with this one
        (membership is kept on the teams, DeskService.set_agent_teams): recorded with it."""
        before = await self.store.accounts.get_agent(agent_id)
        agent = await self.store.accounts.update_agent(agent_id, changes)
        if "active" in changes and not (before is not None and before.active and agent.active):
            # Deactivation signs the agent out for good: reactivating never revives an old cookie.
            # (Also on reactivation, for a sign-in that raced the deactivation.) API tokens are kept:
            # they are refused while the agent is inactive and work again after, until revoked.
            await self.store.accounts.delete_agent_sessions(agent.id)
        old_teams, new_teams = ({"teams": sorted(ids)} for ids in teams) if teams is not None else ({}, {})
        await audit.record(
            self.store,
            "agent.update",
            "agent",
            agent.id,
            before={k: v for k, v in _agent_fields(before).items() if k in changes} | old_teams,
            after={k: v for k, v in _agent_fields(agent).items() if k in changes} | new_teams,
            at=self.clock(),
        )
        self.credentials_changed()
        return agent

    async def set_password(self, agent_id: str, password: str) -> Agent:
        """A new password (the agent's own change, an admin's reset, the command line): every
        session of the agent ends, so a stolen cookie stops working with the old password."""
        agent_accounts.check_password(password)
        password_hash = await agent_accounts.hash_password_off_loop(password)
        agent = await self.store.accounts.update_agent(agent_id, {"password_hash": password_hash})
        await self.store.accounts.delete_agent_sessions(agent.id)
        await audit.record(
            self.store, "agent.password", "agent", agent.id, after={"email": agent.email}, at=self.clock()
        )
        self.credentials_changed()
        return agent

    async def signed_in(self, agent: Agent, *, address: str) -> None:
        """A successful sign-in, for the audit log (the request itself had no agent yet)."""
        actor = Actor(agent.id, agent.name or agent.email, "session")
        await audit.record(
            self.store, "auth.login", "agent", agent.id, after={"address": address}, at=self.clock(), actor=actor
        )

    async def sign_in_failed(self, email: str, *, address: str) -> None:
        """A wrong password (or an unknown or disabled account), for the audit log: the email
        as typed names the attempt, never the password."""
        typed = email.strip().lower()
        agent = await self.store.accounts.get_agent_by_email(typed)
        actor = Actor("", typed, "sign-in")
        await audit.record(
            self.store,
            "auth.login_failed",
            "agent",
            agent.id if agent else "",
            after={"email": typed, "address": address},
            at=self.clock(),
            actor=actor,
        )

    async def end_session(self, token_hash: str, *, agent_id: str = "") -> None:
        await self.store.accounts.delete_session(token_hash)
        if agent_id:
            await audit.record(self.store, "auth.logout", "agent", agent_id, at=self.clock())
        self.credentials_changed()

    async def issue_token(
        self,
        agent_id: str,
        name: str,
        *,
        role: Role | None = None,
        teams: list[str] | None = None,
        expires_in_days: int | None = None,
    ) -> tuple[ApiToken, str]:
        """A new personal token for the agent: the record, and its secret (shown once). `role`
        and `teams` narrow what the token may do to less than its agent may (None: the same);
        `expires_in_days` ends it that many days from now (None: it lasts until revoked)."""
        if not name.strip():
            raise InvalidInput("name: must not be empty")
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"expires_in_days: from 1 to {MAX_TOKEN_DAYS}")
        agent = await self.store.accounts.get_agent(agent_id)
        if agent is None:
            raise InvalidInput("agent_id: no such agent")
        known = {t.id for t in await self.store.desk.list_teams()}
        check_token_narrowing(agent.role, role, teams, known)
        secret = "hl_" + new_secret()
        token = await self.store.accounts.add_api_token(
            ApiToken(
                id=new_id(),
                agent_id=agent_id,
                name=name,
                token_hash=hash_secret(secret),
                role=role,
                teams=sorted(set(teams)) if teams is not None else None,
                expires_at=self.clock() + timedelta(days=expires_in_days) if expires_in_days else None,
            )
        )
        # The token's value and hash stay out: who it is for, its name, and how it is narrowed
        # (null: as its agent).
        narrowing: dict[str, Any] = {"role": token.role, "teams": token.teams}
        if token.expires_at is not None:
            narrowing["expires_at"] = token.expires_at
        await audit.record(
            self.store,
            "token.create",
            "token",
            token.id,
            after={"agent_id": agent_id, "name": name, **narrowing},
            at=self.clock(),
        )
        return token, secret

    async def revoke_token(self, token_id: str) -> ApiToken:
        token = await self.store.accounts.revoke_api_token(token_id, now=self.clock())
        await audit.record(
            self.store,
            "token.revoke",
            "token",
            token.id,
            before={"revoked_at": None},
            after={"agent_id": token.agent_id, "name": token.name, "revoked_at": token.revoked_at},
            at=self.clock(),
        )
        self.credentials_changed()
        return token


def check_token_narrowing(agent_role: Role, role: Role | None, teams: list[str] | None, known: set[str]) -> None:
    """A token may narrow its agent's role and teams, never widen them (InvalidInput says how)."""
    if role is not None and ROLE_RANKS.index(role) > ROLE_RANKS.index(agent_role):
        raise InvalidInput(f"role: a token cannot do more than its agent ({agent_role.value})")
    if teams is None:
        return
    unknown = sorted(set(teams) - known)
    if unknown:
        raise InvalidInput(f"teams: no team with id {', '.join(unknown)}")
    if role is Role.ADMIN:
        raise InvalidInput("role: a token kept to some teams cannot be an admin's")


def _agent_fields(agent: Agent | None) -> dict[str, Any]:
    """What the audit log may show of an agent (never the password hash)."""
    if agent is None:
        return {}
    return {
        "email": agent.email,
        "name": agent.name,
        "role": agent.role,
        "active": agent.active,
        "language": agent.language,
    }
