"""The signed client of the platform API (one per hub; see docs/platform-openapi.json).

Every operation is a POST of a JSON object, so the signature (hub/signing.py, the scheme
of the webhook channel: HMAC-SHA256 over `v1:<timestamp>:<body>`) covers every parameter,
and no address or user id ends up in a URL or an access log. Each request carries a fresh
`X-Request-Id`; the platform's answer must be signed the same way and echo that id in its
body, so an answer captured from another call cannot be passed off as this one's.

Side effects (a reset link, a lock, a refund) carry an `Idempotency-Key`: the platform does
the effect once per key and answers a repeat with the first answer, so the retries here,
and the durable retries of `hub.platform.tools`, never refund twice.

Lookups and effects are retried with backoff on what may pass (no connection, a timeout,
5xx, 429, 409 for a key still being carried out, an answer that fails its signature check);
another 4xx is the platform's refusal.
Nothing of a body is logged: only the operation, the outcome and the time it took.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import aiohttp

from hub.backoff import backoff
from hub.platform.models import (
    CodeCheck,
    DecisionNotice,
    Done,
    Order,
    PlatformBadAnswer,
    PlatformError,
    PlatformNotConfigured,
    PlatformRefused,
    PlatformUnavailable,
    PlatformUser,
)
from hub.platform.settings import PlatformSection
from hub.settings import ConfigError
from hub.signing import SIGNATURE, TIMESTAMP, BadSignature, check_signature, signed_headers

log = logging.getLogger(__name__)

REQUEST_ID = "X-Request-Id"
IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"  # "true" on an answer the platform kept for a repeated key
PATHS = {  # operation -> its path (docs/platform-openapi.json)
    "find_user": "/v1/users/lookup",
    "get_order": "/v1/orders/get",
    "list_orders": "/v1/orders/list",
    "password_reset": "/v1/users/password-reset",
    "lock_account": "/v1/users/lock",
    "unlock_account": "/v1/users/unlock",
    "refund": "/v1/refunds",
    "dispute_decision": "/v1/disputes/decisions",
    "send_code": "/v1/users/verification-code",
    "verify_code": "/v1/users/verification-code/check",
}
MAX_ORDERS = 50
RETRY_AFTER_CAP = 30.0  # seconds: a longer wait is the durable retry's job, not this call's

# The lookup a verified identity allows: exactly one of these keys (see conversation/platform_identity.py).
LOOKUP_KEYS = ("user_id", "email")


def check_section(prefix: str, section: PlatformSection) -> None:
    """At start: a base URL the client can call, and a secret to sign with."""
    url = section.base_url
    if not url:
        return
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"{prefix}.base_url: must be an https:// URL, not {url!r}")
    if url.startswith("http://") and not section.allow_http:
        raise ConfigError(f"{prefix}.base_url: http:// sends personal data unencrypted; use https:// (or allow_http)")
    if not section.secret:
        raise ConfigError(f"{prefix}.secret: required with base_url (requests and answers are signed with it)")


class PlatformClient:
    """The platform API's operations. Raise PlatformUnavailable (try later), PlatformRefused
    (4xx), PlatformBadAnswer (unsigned or malformed answer); lookups answer None for 404."""

    def __init__(
        self,
        settings: PlatformSection,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_call: Callable[[str, str], None] = lambda _operation, _outcome: None,
    ) -> None:
        self.settings = settings
        self.on_call = on_call  # (operation, outcome) of each call: the hub's metrics
        self.clock = clock
        self.sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- lookups ---------------------------------------------------------------------------
    async def find_user(self, *, user_id: str = "", email: str = "") -> PlatformUser | None:
        """The user with this platform id, or with this verified email; None when unknown."""
        query = {k: v for k, v in (("user_id", user_id), ("email", email)) if v}
        if len(query) != 1:
            raise ValueError("find_user(): give exactly one of user_id or email")
        answer = await self._call("find_user", query, missing_ok=True)
        return None if answer is None else PlatformUser.parse(answer.get("user"))

    async def get_order(self, order_id: str, *, user_id: str) -> Order | None:
        """The order when `user_id` is its buyer or seller; None otherwise (or unknown)."""
        answer = await self._call("get_order", {"order_id": order_id, "user_id": user_id}, missing_ok=True)
        if answer is None:
            return None
        order = Order.parse(answer.get("order"))
        return order if order.concerns(user_id) and order.id == order_id else None

    async def list_orders(self, user_id: str, *, limit: int = 10) -> list[Order]:
        """The user's orders (as buyer or seller), newest first: for a picker."""
        limit = max(1, min(limit, MAX_ORDERS))
        answer = await self._call("list_orders", {"user_id": user_id, "limit": limit})
        assert answer is not None
        orders = answer.get("orders")
        if not isinstance(orders, list):
            raise PlatformBadAnswer("the answer's 'orders' must be a list")
        return [o for o in (Order.parse(item) for item in orders[:limit]) if o.concerns(user_id)]

    # -- side effects (each with its Idempotency-Key) -----------------------------------------
    async def send_password_reset(self, user_id: str, *, key: str) -> Done:
        """The platform sends its reset link to the account's registered address."""
        return await self._effect("password_reset", {"user_id": user_id}, key)

    async def lock_account(self, user_id: str, *, reason: str, key: str) -> Done:
        return await self._effect("lock_account", {"user_id": user_id, "reason": reason}, key)

    async def unlock_account(self, user_id: str, *, key: str) -> Done:
        return await self._effect("unlock_account", {"user_id": user_id}, key)

    async def execute_refund(
        self, order_id: str, *, amount: Decimal, currency: str, decision: str, key: str, outcome: str = ""
    ) -> Done:
        """Refund `amount` of the order to its buyer, as decided (`decision`: the dispute's reference,
        `outcome`: refund_buyer or partial_refund, so an escrow platform releases the rest to the seller)."""
        if amount <= 0:
            raise ValueError("execute_refund(): the amount must be positive")
        body = {"order_id": order_id, "amount": str(amount), "currency": currency.upper(), "decision": decision}
        if outcome:
            body["outcome"] = outcome
        return await self._effect("refund", body, key)

    async def record_decision(self, notice: DecisionNotice, *, key: str) -> Done:
        """Tell the platform a dispute's decision (every one, for either party; see DecisionNotice)."""
        return await self._effect("dispute_decision", notice.body(), key)

    async def send_code(self, login: str, *, key: str) -> Done:
        """The platform sends a one-time code to the phone or email registered on the account
        `login` (a phone number or email the customer typed) names. `Done.reference` is the
        challenge to check the code against; the answer is the same for an unknown login."""
        return await self._effect("send_code", {"login": login}, key)

    async def verify_code(self, challenge: str, code: str) -> CodeCheck:
        """Whether `code` is the one sent for `challenge` (no retry by Idempotency-Key: a
        check is not carried out twice, the platform counts each)."""
        answer = await self._call("verify_code", {"challenge": challenge, "code": code})
        assert answer is not None
        return CodeCheck.parse(answer.get("result"))

    async def _effect(self, operation: str, body: dict[str, Any], key: str) -> Done:
        if not key:
            raise ValueError(f"{operation}: a side effect needs an idempotency key")
        holder: dict[str, bool] = {}
        answer = await self._call(operation, body, key=key, replayed=holder)
        assert answer is not None
        return Done.parse(operation, answer.get("result"), replayed=holder.get("replayed", False))

    # -- the one request path ------------------------------------------------------------------
    async def _call(
        self,
        operation: str,
        body: dict[str, Any],
        *,
        key: str = "",
        missing_ok: bool = False,
        replayed: dict[str, bool] | None = None,
    ) -> dict[str, Any] | None:
        if not self.enabled:
            raise PlatformNotConfigured("no [platform] base_url is configured")
        try:
            answer = await self._attempts(operation, body, key=key, missing_ok=missing_ok, replayed=replayed)
        except PlatformError as exc:
            self.on_call(operation, exc.code)
            raise
        self.on_call(operation, "ok" if answer is not None else "not_found")
        return answer

    async def _attempts(
        self,
        operation: str,
        body: dict[str, Any],
        *,
        key: str,
        missing_ok: bool,
        replayed: dict[str, bool] | None,
    ) -> dict[str, Any] | None:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        attempts = self.settings.max_attempts
        maybe_done = False  # whether any failed attempt may have been carried out
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                status, answer, was_replayed = await self._attempt(PATHS[operation], raw, key)
            except PlatformUnavailable as exc:
                log.warning("platform %s: attempt %d of %d failed: %s", operation, attempt, attempts, exc)
                maybe_done = maybe_done or exc.maybe_done
                if attempt == attempts:
                    exc.maybe_done = maybe_done
                    raise
                await self.sleep(self._delay(attempt, getattr(exc, "retry_after", None)))
                continue
            took = time.monotonic() - started
            if status == 404 and missing_ok:
                log.info("platform %s: not found (%.2fs)", operation, took)
                return None
            if status >= 400:
                error = answer.get("error")
                message = answer.get("message")
                log.info("platform %s: refused %d (%.2fs)", operation, status, took)
                raise PlatformRefused(
                    status, error if isinstance(error, str) else "refused", message if isinstance(message, str) else ""
                )
            log.info("platform %s: ok%s (%.2fs)", operation, " (replayed)" if was_replayed else "", took)
            if replayed is not None:
                replayed["replayed"] = was_replayed
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        wait = backoff(attempt, base=self.settings.base_delay_seconds, cap=self.settings.max_delay_seconds)
        if retry_after is not None:
            wait = max(wait, min(retry_after, RETRY_AFTER_CAP))
        return wait

    async def _attempt(self, path: str, raw: bytes, key: str) -> tuple[int, dict[str, Any], bool]:
        """One signed request: (status, verified answer, replayed) or PlatformUnavailable."""
        request_id = secrets.token_hex(12)
        headers = signed_headers(self.settings.secret, raw, now=self.clock())
        headers[REQUEST_ID] = request_id
        if key:
            headers[IDEMPOTENCY_KEY] = key
        url = self.settings.base_url.rstrip("/") + path
        try:
            async with self._client().post(url, data=raw, headers=headers) as resp:
                body = await resp.read()
                status, answer_headers = resp.status, resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            unreached = PlatformUnavailable(f"{exc.__class__.__name__}: no answer")
            unreached.maybe_done = not isinstance(exc, aiohttp.ClientConnectorError)  # refused: never arrived
            raise unreached from exc
        # 409: the platform is still carrying out this Idempotency-Key's first request.
        if status in (409, 429) or status >= 500:
            error = PlatformUnavailable(f"the platform answered {status}")
            error.retry_after = _seconds(answer_headers.get("Retry-After", ""))  # type: ignore[attr-defined]
            error.maybe_done = status != 429  # too many requests: it did nothing
            raise error
        if problem := answer_problem(self.settings, answer_headers, body, request_id, now=self.clock()):
            raise PlatformBadAnswer(problem)
        return status, json.loads(body), answer_headers.get(REPLAYED, "") == "true"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds))
        return self._session


def answer_problem(
    settings: PlatformSection, headers: Mapping[str, str], body: bytes, request_id: str, *, now: float | None = None
) -> str:
    """Why a platform's answer cannot be trusted ("" when it can): not signed with the shared
    secret, not a JSON object, or for another request (its request_id)."""
    if not headers.get(TIMESTAMP) or not headers.get(SIGNATURE):
        return f"the answer is not signed (it has no {TIMESTAMP} and {SIGNATURE})"
    try:
        check_signature(
            settings.secret, headers, body, now=time.time() if now is None else now, max_skew=settings.max_skew_seconds
        )
    except BadSignature as exc:
        return f"the answer's signature does not verify ({exc})"
    try:
        answer = json.loads(body)
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(answer, dict) or answer.get("request_id") != request_id:
        return "the answer is not for this request (request_id)"
    return ""


def _seconds(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


__all__ = ["PlatformClient", "PlatformError", "check_section"]
