"""Who is calling: a personal API token (bearer) or a signed-in browser session.

Sessions and tokens are random secrets of which only a SHA-256 hash is stored. A
session cookie is HttpOnly and SameSite=Strict, Secure when the hub is served over
HTTPS; a request that changes something with a cookie must also carry the session's
CSRF token in `X-CSRF-Token`.

Sign-in takes only a JSON body from this hub's own pages (Origin checked), so another
site cannot sign a browser in to an account of its choosing (login CSRF). Attempts are
counted before the password is checked, per (account, address) and per address: a
stranger's wrong guesses never lock the right person out, and parallel guesses cannot
all be checked before the first failure is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web

from conversation.model import Agent, Session, utcnow
from conversation.store import Store
from hub.access import VIEWER, Viewer, viewer_for
from hub.agents import hash_password_off_loop, verify_password_off_loop
from hub.api.framework import PUBLIC, ApiError
from hub.clientaddr import client_address
from hub.ratelimit import limiter_for
from hub.services.accounts import hash_secret, new_secret

SESSION: web.RequestKey[Session] = web.RequestKey("session")
TOKEN_HASH: web.RequestKey[str] = web.RequestKey("api_token_hash")
TOKEN_EXPIRES: web.RequestKey[datetime | None] = web.RequestKey("api_token_expires")
SESSION_COOKIE = "helpline_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL = timedelta(days=7)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Authenticator:
    def __init__(
        self,
        store: Store,
        *,
        secure_cookies: bool,
        public_url: str = "",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.secure_cookies = secure_cookies
        self.public_netloc = urlsplit(public_url).netloc
        self.clock = clock
        # counted for every hub process on the store: guesses spread over processes add up
        self.by_address = limiter_for(store, "signin:address", 20, 900)
        self.by_account = limiter_for(store, "signin:account", 5, 900)  # key: email and address together
        self._dummy_hash = ""  # verified against when the email is unknown, so both answers take as long
        self._changed = asyncio.Event()

    async def authenticate(self, request: web.Request, level: str) -> tuple[Agent | None, bool]:
        if level == PUBLIC:
            return None, False
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "unauthenticated", "use Authorization: Bearer <token>")
            record = await self.store.accounts.get_api_token(hash_secret(token.strip()))
            if record is None or record.refusal(self.clock()) == "revoked":
                raise ApiError(401, "unauthenticated", "the token is unknown or revoked")
            if record.refusal(self.clock()):  # its owner may know it: saying so saves them a search
                raise ApiError(401, "token_expired", f"the token expired at {record.expires_at:%Y-%m-%d %H:%M} UTC")
            request[TOKEN_HASH] = record.token_hash
            request[TOKEN_EXPIRES] = record.expires_at
            agent = await self._active(record.agent_id)
            request[VIEWER] = viewer_for(agent, await self.store.desk.list_teams(), record)
            return request[VIEWER].agent, False
        session = await self.session_of(request)
        if session is None:
            raise ApiError(401, "unauthenticated", "sign in first")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
        request[SESSION] = session
        agent = await self._active(session.agent_id)
        request[VIEWER] = viewer_for(agent, await self.store.desk.list_teams())
        return agent, True

    async def session_of(self, request: web.Request) -> Session | None:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if not cookie:
            return None
        session = await self.store.accounts.get_session(hash_secret(cookie))
        if session is None or session.expires_at <= self.clock():
            return None
        return session

    # -- long-lived connections (the live socket) re-check what let them in ----------------
    async def still_valid(self, request: web.Request) -> bool:
        """Whether the session or token this request came with still lets its agent in."""
        token_hash = request.get(TOKEN_HASH)
        if token_hash is not None:
            record = await self.store.accounts.get_api_token(token_hash)
            if record is None or record.refusal(self.clock()):
                return False
            agent_id = record.agent_id
        else:
            session = request.get(SESSION)
            current = await self.store.accounts.get_session(session.token_hash) if session is not None else None
            if current is None or current.expires_at <= self.clock():
                return False
            agent_id = current.agent_id
        agent = await self.store.accounts.get_agent(agent_id)
        return agent is not None and agent.active

    async def current_viewer(self, request: web.Request) -> Viewer:
        """The request's viewer as the agent's role and teams (and its token) stand now: a
        long-lived connection follows an admin's changes to them."""
        viewer = request[VIEWER]
        token_hash = request.get(TOKEN_HASH)
        token = await self.store.accounts.get_api_token(token_hash) if token_hash is not None else None
        agent = await self.store.accounts.get_agent(viewer.agent.id)
        if agent is None:
            return viewer_for(replace(viewer.agent, active=False), ())
        return viewer_for(agent, await self.store.desk.list_teams(), token)

    def seconds_left(self, request: web.Request) -> float | None:
        """Until the request's session or token expires; None for a token without an end."""
        session = request.get(SESSION)
        ends = session.expires_at if session is not None else request.get(TOKEN_EXPIRES)
        return None if ends is None else max(0.0, (ends - self.clock()).total_seconds())

    def credentials_changed(self) -> None:
        """A sign-out, revocation or deactivation: connections re-check now."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def _active(self, agent_id: str) -> Agent:
        agent = await self.store.accounts.get_agent(agent_id)
        if agent is None or not agent.active:
            raise ApiError(401, "unauthenticated", "this account is disabled")
        return agent

    def check_login_request(self, request: web.Request) -> None:
        """Only this hub's pages (or a script, which sends no Origin) may sign a browser in."""
        if request.content_type != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the sign-in as application/json")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc not in {request.host, self.public_netloc} - {""}:
            raise ApiError(403, "forbidden", "sign-in from another site refused")
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            raise ApiError(403, "forbidden", "sign-in from another site refused")

    async def login(self, request: web.Request, email: str, password: str) -> tuple[Agent, Session, str]:
        self.check_login_request(request)
        address = client_address(request)
        account = f"{email.strip().lower()}\n{address}"
        # Counted before checking (an atomic count in the store when it is shared), so
        # parallel guesses, through this process or another, see each other.
        wait = await self.by_address.take(address)
        if wait is None:
            wait = await self.by_account.take(account)
            if wait is not None:
                await self.by_address.give_back(address)  # refused: this attempt is not counted
        if wait is not None:
            raise ApiError(
                429, "rate_limited", "too many failed sign-ins; try again later", {"Retry-After": str(int(wait) + 1)}
            )
        agent = await self.store.accounts.get_agent_by_email(email.strip().lower())
        if not self._dummy_hash:
            self._dummy_hash = await hash_password_off_loop(secrets.token_hex(16))
        ok = await verify_password_off_loop(agent.password_hash if agent else self._dummy_hash, password)
        if agent is None or not ok or not agent.active:
            raise ApiError(401, "bad_credentials", "wrong email or password")
        await self.by_account.reset(account)
        await self.by_address.give_back(address)  # a right password costs the address nothing
        token = new_secret()
        now = self.clock()
        session = Session(hash_secret(token), agent.id, new_secret(), created_at=now, expires_at=now + SESSION_TTL)
        await self.store.accounts.add_session(session)
        return agent, session, token

    async def check_current_password(self, agent: Agent, password: str) -> None:
        """The password an agent types to change theirs: wrong guesses count as failed sign-ins
        do (five in 15 minutes), so a stolen session cannot try passwords without end and keep
        the account by changing it; the right one clears the count."""
        key = f"password-change\n{agent.id}"
        wait = await self.by_account.take(key)
        if wait is not None:
            raise ApiError(
                429, "rate_limited", "too many wrong passwords; try again later", {"Retry-After": str(int(wait) + 1)}
            )
        if not await verify_password_off_loop(agent.password_hash, password):
            raise ApiError(403, "wrong_password", "current_password: this is not your password")
        await self.by_account.reset(key)

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
