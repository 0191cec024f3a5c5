"""SQLite: agents, their sessions and API tokens, and the canned responses they share."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from conversation.areas.accounts import Accounts
from conversation.codec import (
    agent_to_doc,
    from_epoch_ms,
    to_epoch_ms,
    token_narrowing_to_doc,
)
from conversation.model import (
    Agent,
    ApiToken,
    CannedResponse,
    Session,
)
from conversation.rules import agent_changes
from conversation.sqlite.db import (
    Area,
    _agent,
    _api_token,
    _insert,
    _row,
)
from conversation.store import (
    AlreadyExists,
    NotFound,
)


class SQLiteAccounts(Area, Accounts):
    async def get_agent(self, agent_id: str) -> Agent | None:
        return await self._one("SELECT * FROM agents WHERE id = ?", (agent_id,), _agent)

    async def list_agents(self) -> list[Agent]:
        return await self._call(
            lambda conn: [_agent(r) for r in conn.execute("SELECT * FROM agents ORDER BY email_key")], write=False
        )

    async def update_agent(self, agent_id: str, changes: dict[str, Any]) -> Agent:
        values = _row(agent_changes(changes))

        def job(conn: sqlite3.Connection) -> Agent:
            if values:
                assignments = ", ".join(f"{key} = ?" for key in values)  # whitelisted names
                conn.execute(f"UPDATE agents SET {assignments} WHERE id = ?", (*values.values(), agent_id))
            row = conn.execute("SELECT * FROM agents WHERE id = ?", (agent_id,)).fetchone()
            if row is None:
                raise NotFound(f"agent {agent_id}")
            return _agent(row)

        return await self._call(job)

    async def add_session(self, session: Session) -> None:
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO sessions VALUES (?,?,?,?,?)",
                (
                    session.token_hash,
                    session.agent_id,
                    session.csrf_token,
                    to_epoch_ms(session.created_at),
                    to_epoch_ms(session.expires_at),
                ),
            )
        )

    async def get_session(self, token_hash: str) -> Session | None:
        def job(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute("SELECT * FROM sessions WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None:
                return None
            return Session(
                token_hash=row["token_hash"],
                agent_id=row["agent_id"],
                csrf_token=row["csrf_token"],
                created_at=from_epoch_ms(row["created_at"]),  # type: ignore[arg-type]
                expires_at=from_epoch_ms(row["expires_at"]),  # type: ignore[arg-type]
            )

        return await self._call(job, write=False)

    async def delete_session(self, token_hash: str) -> None:
        await self._call(lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)))

    async def delete_agent_sessions(self, agent_id: str) -> int:
        return await self._call(
            lambda conn: conn.execute("DELETE FROM sessions WHERE agent_id = ?", (agent_id,)).rowcount
        )

    async def add_api_token(self, token: ApiToken) -> ApiToken:
        narrowing = token_narrowing_to_doc(token)
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO api_tokens"
                " (id, agent_id, name, token_hash, created_at, revoked_at, role, teams, expires_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    token.id,
                    token.agent_id,
                    token.name,
                    token.token_hash,
                    to_epoch_ms(token.created_at),
                    to_epoch_ms(token.revoked_at),
                    narrowing["role"],
                    None if narrowing["teams"] is None else json.dumps(narrowing["teams"]),
                    to_epoch_ms(token.expires_at),
                ),
            )
        )
        return token

    async def get_api_token(self, token_hash: str) -> ApiToken | None:
        return await self._one("SELECT * FROM api_tokens WHERE token_hash = ?", (token_hash,), _api_token)

    async def list_api_tokens(self) -> list[ApiToken]:
        return await self._call(
            lambda conn: [_api_token(r) for r in conn.execute("SELECT * FROM api_tokens ORDER BY created_at")],
            write=False,
        )

    async def revoke_api_token(self, token_id: str, *, now: datetime) -> ApiToken:
        def job(conn: sqlite3.Connection) -> ApiToken:
            conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (to_epoch_ms(now), token_id)
            )
            row = conn.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
            if row is None:
                raise NotFound(f"token {token_id}")
            return _api_token(row)

        return await self._call(job)

    async def list_canned(self) -> list[CannedResponse]:
        return await self._call(
            lambda conn: [
                CannedResponse(
                    id=r["id"],
                    shortcut=r["shortcut"],
                    title=r["title"],
                    text=r["text"],
                    created_at=from_epoch_ms(r["created_at"]),  # type: ignore[arg-type]
                )
                for r in conn.execute("SELECT * FROM canned ORDER BY shortcut")
            ],
            write=False,
        )

    async def add_canned(self, canned: CannedResponse) -> CannedResponse:
        def job(conn: sqlite3.Connection) -> CannedResponse:
            try:
                conn.execute(
                    "INSERT INTO canned VALUES (?,?,?,?,?)",
                    (canned.id, canned.shortcut, canned.title, canned.text, to_epoch_ms(canned.created_at)),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"the shortcut /{canned.shortcut} is taken") from None
            return canned

        return await self._call(job)

    async def delete_canned(self, canned_id: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM canned WHERE id = ?", (canned_id,)).rowcount == 0:
                raise NotFound(f"canned response {canned_id}")

        await self._call(job)

    async def add_agent(self, agent: Agent) -> Agent:
        doc = agent_to_doc(agent)

        def job(conn: sqlite3.Connection) -> Agent:
            try:
                _insert(conn, "agents", _row(doc))
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"an agent with email {agent.email} exists") from None
            return agent

        return await self._call(job)

    async def get_agent_by_email(self, email: str) -> Agent | None:
        return await self._one("SELECT * FROM agents WHERE email_key = ?", (email.lower(),), _agent)

    async def count_agents(self) -> int:
        return await self._call(lambda conn: conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0], write=False)
