"""Who is calling: a personal API token (bearer) or a signed-in browser session.

Sessions and tokens are random secrets of which only a SHA-256 hash is stored. A
session cookie is HttpOnly and SameSite=Strict, Secure when the hub is served over
HTTPS; a request that changes something with a cookie must also carry the session's
CSRF token in `X-CSRF-Token`. Failed sign-ins are limited per address and per email.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web

from conversation.model import Agent, Session, utcnow
from conversation.store import Store
from hub.agents import hash_password, verify_password
from hub.api.framework import PUBLIC, ApiError
from hub.ratelimit import SlidingWindow

SESSION: web.RequestKey[Session] = web.RequestKey("session")
SESSION_COOKIE = "helpline_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL = timedelta(days=7)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both answers take as long."""
    return hash_password(secrets.token_hex(16))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Authenticator:
    def __init__(self, store: Store, *, secure_cookies: bool, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.secure_cookies = secure_cookies
        self.clock = clock
        self.by_address = SlidingWindow(limit=20, window=900)
        self.by_email = SlidingWindow(limit=5, window=900)

    async def authenticate(self, request: web.Request, level: str) -> tuple[Agent | None, bool]:
        if level == PUBLIC:
            return None, False
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "unauthenticated", "use Authorization: Bearer <token>")
            record = await self.store.get_api_token(hash_secret(token.strip()))
            if record is None or record.revoked_at is not None:
                raise ApiError(401, "unauthenticated", "the token is unknown or revoked")
            return await self._active(record.agent_id), False
        session = await self.session_of(request)
        if session is None:
            raise ApiError(401, "unauthenticated", "sign in first")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
        request[SESSION] = session
        return await self._active(session.agent_id), True

    async def session_of(self, request: web.Request) -> Session | None:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if not cookie:
            return None
        session = await self.store.get_session(hash_secret(cookie))
        if session is None or session.expires_at <= self.clock():
            return None
        return session

    async def _active(self, agent_id: str) -> Agent:
        agent = await self.store.get_agent(agent_id)
        if agent is None or not agent.active:
            raise ApiError(401, "unauthenticated", "this account is disabled")
        return agent

    async def login(self, request: web.Request, email: str, password: str) -> tuple[Agent, Session, str]:
        address = request.remote or "?"
        email_key = email.strip().lower()
        wait = max(self.by_address.retry_after(address) or 0, self.by_email.retry_after(email_key) or 0)
        if wait:
            raise ApiError(
                429, "rate_limited", "too many failed sign-ins; try again later", {"Retry-After": str(int(wait) + 1)}
            )
        agent = await self.store.get_agent_by_email(email_key)
        # argon2 is slow on purpose: keep it off the event loop.
        ok = await asyncio.to_thread(verify_password, agent.password_hash if agent else _dummy_hash(), password)
        if agent is None or not ok or not agent.active:
            self.by_address.hit(address)
            self.by_email.hit(email_key)
            raise ApiError(401, "bad_credentials", "wrong email or password")
        self.by_email.reset(email_key)
        token = new_secret()
        now = self.clock()
        session = Session(hash_secret(token), agent.id, new_secret(), created_at=now, expires_at=now + SESSION_TTL)
        await self.store.add_session(session)
        return agent, session, token

    def set_cookie(self, response: web.StreamResponse, request: web.Request, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(SESSION_TTL.total_seconds()),
            httponly=True,
            samesite="Strict",
            secure=self.secure_cookies or request.secure,
            path="/",
        )
