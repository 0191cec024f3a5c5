"""A fake platform API on loopback, implementing docs/platform-openapi.json as a platform team would.

It checks each request's signature (401 otherwise) and signs each answer with the same
secret, echoing the request's X-Request-Id; side effects honour Idempotency-Key (a repeat
gets the first answer with `Idempotent-Replayed: true` and changes nothing; the same key
with another body is 422). Tests script trouble per operation with `fail_next` (a status,
"timeout", "unsigned", "wrong_request", or a raw odd payload) and read what happened in
`calls`, `resets`, `locks`, `refunds`, `decisions` and `sent_codes` (the one-time codes it
"texted": a test types them like a customer).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hub.signing import BadSignature, check_signature, signed_headers

PATHS = {
    "/v1/users/lookup": "find_user",
    "/v1/orders/get": "get_order",
    "/v1/orders/list": "list_orders",
    "/v1/users/password-reset": "password_reset",
    "/v1/users/lock": "lock_account",
    "/v1/users/unlock": "unlock_account",
    "/v1/refunds": "refund",
    "/v1/disputes/decisions": "dispute_decision",
    "/v1/users/verification-code": "send_code",
    "/v1/users/verification-code/check": "verify_code",
}
EFFECTS = {"password_reset", "lock_account", "unlock_account", "refund", "dispute_decision", "send_code"}
MAX_CODE_ATTEMPTS = 5  # the platform's own limit per code, above the hub's
OUTCOMES = {"refund_buyer", "partial_refund", "favour_seller"}
# Each operation's required fields (docs/platform-openapi.json): a request without them is
# refused 400 invalid_request before anything is looked up or done (the lookup needs one of two).
REQUIRED: dict[str, tuple[str, ...]] = {
    "get_order": ("order_id", "user_id"),
    "list_orders": ("user_id",),
    "password_reset": ("user_id",),
    "lock_account": ("user_id",),
    "unlock_account": ("user_id",),
    "refund": ("order_id", "amount", "currency", "decision"),
    "dispute_decision": (
        "decision",
        "number",
        "order_id",
        "outcome",
        "refund_amount",
        "currency",
        "decided_at",
        "final",
    ),
    "send_code": ("login",),
    "verify_code": ("challenge", "code"),
}


def mask(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


@dataclass
class FakePlatform:
    secret: str
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {"email", "phone", "status", "language"}
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> the order as the API answers it
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (operation, body) of signed requests
    refused: int = 0  # requests refused for their signature
    invalid: int = 0  # requests refused for missing fields (400 invalid_request)
    # operation -> scripted trouble, first first: a status (503, 429, 400...), "timeout" (carried
    # out, answered after timeout_seconds), "unsigned", "wrong_request", or a dict: an odd answer
    fail_next: dict[str, list[Any]] = field(default_factory=dict)
    timeout_seconds: float = 5.0  # how long a scripted "timeout" keeps the caller waiting
    checks_signatures: bool = True  # False: a careless platform that answers anyone
    resets: list[str] = field(default_factory=list)  # user ids a reset link went to (once per key)
    reset_links: list[str] = field(default_factory=list)  # the links "mailed" by the platform, never answered
    locks: list[str] = field(default_factory=list)
    unlocks: list[str] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # dispute decisions recorded (once per key)
    sent_codes: list[tuple[str, str]] = field(default_factory=list)  # (user id, code): the texts the platform sent
    challenges: dict[str, dict[str, Any]] = field(default_factory=dict)  # challenge -> {"user", "code", "attempts"}
    keys: list[str] = field(default_factory=list)  # the Idempotency-Key of each side-effect request
    _kept: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)  # key -> (body, status, answer)

    def add_user(self, user_id: str, email: str, *, phone: str = "", status: str = "active", name: str = "") -> None:
        self.users[user_id] = {"email": email.lower(), "phone": phone, "status": status, "language": "", "name": name}

    def add_order(self, order_id: str, buyer: str, seller: str, amount: str = "99.00", **extra: Any) -> None:
        self.orders[order_id] = {
            "id": order_id,
            "buyer_id": buyer,
            "seller_id": seller,
            "amount": amount,
            "currency": "CNY",
            "status": "paid",
            "title": extra.pop("title", "Order"),
            "created_at": "2026-11-01T10:00:00Z",
            **extra,
        }

    def calls_of_effects(self) -> list[tuple[str, dict[str, Any]]]:
        """The side-effect requests, in order: `keys[i]` is the Idempotency-Key of the i-th."""
        return [(name, body) for name, body in self.calls if name in EFFECTS]

    def called(self, operation: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == operation]

    def app(self) -> web.Application:
        app = web.Application()
        for path in PATHS:
            app.router.add_post(path, self.handle)
        return app

    # -- the one request path -------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        operation = PATHS[request.path]
        raw = await request.read()
        request_id = request.headers.get("X-Request-Id", "")
        try:
            if self.checks_signatures:
                check_signature(self.secret, request.headers, raw, now=time.time(), max_skew=300)
        except BadSignature as exc:
            self.refused += 1
            return self._answer(request_id, 401, {"error": "bad_signature", "message": str(exc)})
        body = json.loads(raw)
        if missing := self._missing(operation, body):
            self.invalid += 1
            return self._answer(request_id, 400, {"error": "invalid_request", "message": f"{missing} is required"})
        self.calls.append((operation, body))
        key = request.headers.get("Idempotency-Key", "")
        if operation in EFFECTS:
            self.keys.append(key)
        trouble = self.fail_next[operation].pop(0) if self.fail_next.get(operation) else None
        if trouble is not None and trouble != "timeout":
            return self._trouble(trouble, request_id)
        if operation in EFFECTS:
            if not key:
                return self._answer(request_id, 400, {"error": "idempotency_key_required"})
            if key in self._kept:
                kept_body, status, answer = self._kept[key]
                if kept_body != raw.decode():
                    return self._answer(request_id, 422, {"error": "idempotency_conflict"})
                if trouble == "timeout":  # a slow platform is slow for a repeat too
                    await asyncio.sleep(self.timeout_seconds)
                return self._answer(request_id, status, answer, replayed=True)
        status, answer = getattr(self, f"op_{operation}")(body)
        if operation in EFFECTS and status < 500:
            self._kept[key] = (raw.decode(), status, answer)
        if trouble == "timeout":  # done, but the answer comes too late for the caller
            await asyncio.sleep(self.timeout_seconds)
        return self._answer(request_id, status, answer)

    @staticmethod
    def _missing(operation: str, body: Any) -> str:
        """The first required field the request lacks ("" when none)."""
        if not isinstance(body, dict):
            return "a JSON object"
        if operation == "find_user":
            return "" if body.get("user_id") or body.get("email") else "user_id or email"
        return next((name for name in REQUIRED.get(operation, ()) if name not in body), "")

    def _trouble(self, trouble: Any, request_id: str) -> web.Response:
        if trouble == "unsigned":
            return web.json_response({"request_id": request_id, "user": None})
        if trouble == "wrong_request":
            return self._answer("someone-else", 200, {})
        if isinstance(trouble, int):
            return self._answer(request_id, trouble, {"error": "scripted", "message": f"scripted {trouble}"})
        return self._answer(request_id, 200, trouble)  # an odd payload, signed, for this request

    def _answer(self, request_id: str, status: int, answer: dict[str, Any], *, replayed: bool = False) -> web.Response:
        payload = {"request_id": request_id, **answer}
        body = json.dumps(payload).encode()
        headers = signed_headers(self.secret, body)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return web.Response(status=status, body=body, headers=headers)

    # -- operations -------------------------------------------------------------------------
    def _user_json(self, user_id: str) -> dict[str, Any]:
        user = self.users[user_id]
        return {
            "id": user_id,
            "status": user["status"],
            "email_hint": mask(user["email"]),
            "phone_hint": ("*" * 7 + user["phone"][-4:]) if user["phone"] else "",
            "language": user["language"],
            "display_name": user.get("name", ""),
        }

    def op_find_user(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "user_id" in body:
            found = body["user_id"] if body["user_id"] in self.users else None
        else:
            email = str(body.get("email", "")).lower()
            found = next((uid for uid, u in self.users.items() if u["email"] == email), None)
        if found is None:
            return 404, {"error": "not_found"}
        return 200, {"user": self._user_json(found)}

    def op_get_order(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(body.get("order_id", ""))
        if order is None or body.get("user_id") not in (order["buyer_id"], order["seller_id"]):
            return 404, {"error": "not_found"}
        return 200, {"order": order}

    def op_list_orders(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user_id = body.get("user_id")
        mine = [o for o in self.orders.values() if user_id in (o["buyer_id"], o["seller_id"])]
        mine.sort(key=lambda o: o["created_at"], reverse=True)
        return 200, {"orders": mine[: int(body.get("limit", 10))]}

    def _effect_user(self, body: dict[str, Any]) -> str | None:
        user_id = str(body.get("user_id", ""))
        return user_id if user_id in self.users else None

    def op_password_reset(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user_id = self._effect_user(body)
        if user_id is None:
            return 404, {"error": "not_found"}
        self.resets.append(user_id)
        self.reset_links.append(f"https://shop.example/reset?token={secrets.token_urlsafe(16)}")
        sent = {"id": f"reset-{len(self.resets)}", "status": "sent"}
        return 200, {"result": {**sent, "sent_to_hint": mask(self.users[user_id]["email"])}}

    def op_lock_account(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user_id = self._effect_user(body)
        if user_id is None:
            return 404, {"error": "not_found"}
        self.users[user_id]["status"] = "locked"
        self.locks.append(user_id)
        return 200, {"result": {"id": f"lock-{len(self.locks)}", "status": "locked"}}

    def op_unlock_account(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user_id = self._effect_user(body)
        if user_id is None:
            return 404, {"error": "not_found"}
        self.users[user_id]["status"] = "active"
        self.unlocks.append(user_id)
        return 200, {"result": {"id": f"unlock-{len(self.unlocks)}", "status": "unlocked"}}

    def op_refund(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(str(body.get("order_id", "")))
        if order is None:
            return 404, {"error": "not_found"}
        if body.get("currency") != order["currency"] or float(body.get("amount", 0)) > float(order["amount"]):
            return 422, {"error": "invalid_amount", "message": "more than the order, or another currency"}
        self.refunds.append(body)
        return 200, {"result": {"id": f"refund-{len(self.refunds)}", "status": "refunded"}}

    def op_dispute_decision(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(str(body.get("order_id", "")))
        if order is None:
            return 404, {"error": "not_found"}
        number = body.get("number")
        if (
            body.get("outcome") not in OUTCOMES
            or not isinstance(body.get("final"), bool)
            or not isinstance(number, int)
            or number < 1
            or body.get("currency") != order["currency"]
            or float(body.get("refund_amount", -1)) > float(order["amount"])
            or (body.get("outcome") == "favour_seller") != (float(body.get("refund_amount", -1)) == 0)
        ):
            return 422, {"error": "invalid_decision", "message": "outcome, number, final or refund_amount"}
        self.decisions.append(body)
        return 200, {"result": {"id": f"decision-{len(self.decisions)}", "status": "recorded"}}

    def _login_user(self, login: str) -> str | None:
        login = login.strip().lower()
        return next((uid for uid, u in self.users.items() if login and login in (u["email"], u["phone"])), None)

    def op_send_code(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A code to the account's registered phone (else email). An unknown login gets the same
        answer, with a challenge no code passes: the chat cannot probe which accounts exist."""
        login = str(body.get("login", ""))
        user_id = self._login_user(login)
        challenge = f"ch-{secrets.token_hex(6)}"
        code = f"{secrets.randbelow(10**6):06d}"
        self.challenges[challenge] = {"user": user_id, "code": code, "attempts": 0}
        if user_id is not None:
            self.sent_codes.append((user_id, code))
            user = self.users[user_id]
            hint = ("*" * 7 + user["phone"][-4:]) if user["phone"] else mask(user["email"])
        else:
            hint = ("*" * 7 + login[-4:]) if "@" not in login else mask(login)
        return 200, {"result": {"id": challenge, "status": "sent", "sent_to_hint": hint}}

    def op_verify_code(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        found = self.challenges.get(str(body.get("challenge", "")))
        if found is None or found["user"] is None or found["attempts"] >= MAX_CODE_ATTEMPTS:
            return 200, {"result": {"status": "wrong"}}
        found["attempts"] += 1
        if body.get("code") != found["code"]:
            return 200, {"result": {"status": "wrong"}}
        del self.challenges[str(body["challenge"])]  # a code passes once
        return 200, {"result": {"status": "verified", "user": self._user_json(found["user"])}}
