"""The platform as a plugin sees it (`ctx.platform`, hub.sdk.PluginTools): one ticket's
customer, looked up only by a verified identity, and side effects that are durable,
idempotent and logged in the ticket's timeline.

Side effects (a reset link, a lock, an unlock, a refund) take the durable path:

1. the intent is stored first, as a plugin timer named PLATFORM_TIMER holding the operation,
   its arguments and its Idempotency-Key (per ticket and operation: `idempotency_key`);
2. the call is made at once (the client retries briefly with backoff);
3. done: the timer is cancelled and the result returned; the platform is down or too slow:
   the result is None, the timer stays and the plugin host repeats the call later
   (`resume`, hub/plugin_host.py), across restarts and hubs, then gives the plugin its
   `on_platform_done` (or `on_platform_failed` once it gives up or the platform refuses).

The key is the same on every repeat, so the platform (which must honour Idempotency-Key)
carries the effect out once however often it is asked. Every call, lookups included, leaves
a system event in the ticket's thread: which operation and its outcome, never a value.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from conversation.model import Contact, Conversation, utcnow
from conversation.platform_identity import PlatformIdentity, platform_identity
from conversation.timers import MAX_TIMER_ATTEMPTS, Timer, timer_key
from hub.platform.client import PlatformClient
from hub.platform.models import (
    DecisionNotice,
    Done,
    NotVerified,
    Order,
    PlatformError,
    PlatformNotConfigured,
    PlatformRefused,
    PlatformUnavailable,
    PlatformUser,
)

if TYPE_CHECKING:
    from hub.platform.verification import CodeVerifications
    from hub.sdk import HubPort, PluginRuntime

log = logging.getLogger(__name__)

PLATFORM_TIMER = "platform.retry"  # a plugin timer of this name is a side effect to repeat
RETRY_MARGIN = timedelta(seconds=30)
EVENT = "event.platform_call"  # "Platform: {platform_op}: {platform_result}" in the hub catalog
EFFECTS = ("password_reset", "lock_account", "unlock_account", "refund", "dispute_decision", "send_code")
LOOKUP_MARK = "platform_lookup"  # in a lookup event's raw: its lookup_mark


def lookup_mark(operation: str, outcome: str, target: str) -> str:
    """What a lookup's timeline event is kept under: the same lookup with the same outcome is
    shown once per ticket; hashed, so it names no user or order."""
    return f"{operation}:{outcome}:{hashlib.sha256(target.encode()).hexdigest()[:16]}"


def idempotency_key(conversation_id: str, operation: str, target: str, occasion: str = "") -> str:
    """The key of one side effect: the same ticket, operation, target (and occasion) give the
    same key, so a repeat is recognised by the platform; hashed, so it names no user or order."""
    digest = hashlib.sha256("\x1f".join((conversation_id, operation, target, occasion)).encode()).hexdigest()
    return f"helpline-{operation}-{digest[:40]}"


@dataclass
class PlatformTools:
    """One ticket's customer on the platform. The identity is the writer's (the message's
    channel and address), not the contact's: contacts may be merged by hand."""

    client: PlatformClient | None
    plugin: str
    conversation: Conversation | None
    contact: Contact | None
    channel: str
    address: str
    hub: HubPort | None
    runtime: PluginRuntime | None
    codes: CodeVerifications | None = None  # verification by a one-time code (hub/platform/verification.py)
    clock: Callable[[], datetime] = utcnow

    @property
    def available(self) -> bool:
        """A platform API is configured."""
        return self.client is not None and self.client.enabled

    def identity(self) -> PlatformIdentity | None:
        """The writer's verified identity, or None (say how to verify; reveal nothing)."""
        channel_type = self.hub.channel_type(self.channel) if self.hub is not None else self.channel
        return platform_identity(channel_type, self.address, self.contact)

    async def verified_identity(self) -> PlatformIdentity | None:
        """`identity()`, or the platform user a one-time code proved this writer to be."""
        identity = self.identity()
        if identity is None and self.codes is not None:
            identity = await self.codes.identity(self.channel, self.address)
        return identity

    @property
    def offers_code(self) -> bool:
        """Whether a customer may verify with a one-time code sent through the platform."""
        return self.available and self.codes is not None and self.conversation is not None

    @property
    def code_minutes(self) -> float:
        """How long a code sent now may be typed ([platform] code_minutes)."""
        return self.client.settings.code_minutes if self.client is not None else 0.0

    async def send_code(self, login: str) -> Done:
        """Have the platform send a one-time code to the phone or email registered on the
        account `login` (a phone number or email the customer typed) names; the writer's next
        message with a code is checked (the hub takes it out before storing the message).
        Logged in the timeline (never the login); PlatformError when it could not be sent."""
        if self.codes is None:
            raise PlatformNotConfigured("one-time codes need a running hub")
        ticket = self._ticket()
        key = idempotency_key(ticket.id, "send_code", login, self.clock().isoformat())
        try:
            done = await self.codes.start(self.channel, self.address, login, key=key)
        except PlatformError as exc:
            await self._log("send_code", exc.code, exc)
            raise
        await self._log("send_code", "ok")
        return done

    # -- lookups -----------------------------------------------------------------------------
    async def user(self) -> PlatformUser | None:
        """The verified writer's platform account; None when the platform knows no such user.
        NotVerified without a verified identity: nothing is asked of the platform then."""
        identity = await self.verified_identity()
        if identity is None:
            await self._log("find_user", NotVerified.code)
            raise NotVerified("the customer has not proved who they are")
        return await self._logged(
            "find_user",
            lambda c: c.find_user(user_id=identity.user_id, email=identity.email),
            target=f"{identity.user_id}|{identity.email}",
        )

    async def order(self, order_id: str) -> Order | None:
        """One of the verified customer's orders (None: unknown, or not theirs)."""
        user = await self._required_user()
        return await self._logged("get_order", lambda c: c.get_order(order_id, user_id=user.id), target=order_id)

    async def orders(self, *, limit: int = 10) -> list[Order]:
        """The verified customer's orders, newest first (for a picker)."""
        user = await self._required_user()
        return await self._logged("list_orders", lambda c: c.list_orders(user.id, limit=limit), target=user.id)

    async def account(self, user_id: str) -> PlatformUser | None:
        """A platform account by an id the hub already trusts (an order's seller, a party an
        agent named): never with an id a customer typed. Logged like every call, as another
        party's account (a buyer's ticket read "looked up the customer's account: not found"
        of its seller, a trial)."""
        return await self._logged("find_account", lambda c: c.find_user(user_id=user_id), target=user_id)

    async def order_of(self, order_id: str, *, user_id: str) -> Order | None:
        """An order of a user the hub already trusts (see `account`); None: unknown or not theirs."""
        return await self._logged("get_order", lambda c: c.get_order(order_id, user_id=user_id), target=order_id)

    async def _required_user(self) -> PlatformUser:
        user = await self.user()
        if user is None:
            raise NotVerified("the platform knows no account for this customer")
        return user

    # -- side effects ------------------------------------------------------------------------
    async def send_password_reset(self, user: PlatformUser, *, occasion: str = "") -> Done | None:
        """The platform mails its reset link to the account's registered address. None: the
        platform did not answer in time; the hub repeats it (see the module docstring)."""
        return await self._effect("password_reset", user.id, {"user_id": user.id}, occasion)

    async def lock_account(self, user: PlatformUser, *, reason: str, occasion: str = "") -> Done | None:
        return await self._effect("lock_account", user.id, {"user_id": user.id, "reason": reason}, occasion)

    async def unlock_account(self, user: PlatformUser, *, occasion: str = "") -> Done | None:
        return await self._effect("unlock_account", user.id, {"user_id": user.id}, occasion)

    async def execute_refund(
        self, order_id: str, *, amount: Decimal, currency: str, decision: str, occasion: str = "", outcome: str = ""
    ) -> Done | None:
        """Refund as decided on this ticket; one refund per ticket, order and occasion, however often asked."""
        args = {"order_id": order_id, "amount": str(amount), "currency": currency, "decision": decision}
        if outcome:
            args["outcome"] = outcome
        return await self._effect("refund", order_id, args, occasion)

    async def record_decision(self, notice: DecisionNotice, *, occasion: str) -> Done | None:
        """Tell the platform a dispute's decision, durably: one call per ticket, order and
        occasion (the decision, or its becoming final), repeated until the platform answers."""
        return await self._effect("dispute_decision", notice.order_id, notice.args(), occasion)

    async def _effect(self, operation: str, target: str, args: dict[str, str], occasion: str) -> Done | None:
        ticket = self._ticket()
        key = idempotency_key(ticket.id, operation, target, occasion)
        data = {"operation": operation, "args": args, "key": key}
        due = self.clock() + first_retry(self._client())
        timer = Timer(timer_key(self.plugin, key), self.plugin, PLATFORM_TIMER, due, data, ticket.id)
        await self._runtime().schedule(timer)  # the intent is durable before the platform hears of it
        try:
            done = await perform(self._client(), operation, args, key)
        except PlatformUnavailable as exc:
            await self._log(operation, "retrying", exc)
            return None
        except PlatformError as exc:
            await self._runtime().cancel(timer.key)
            await self._log(operation, exc.code, exc)
            raise
        await self._runtime().cancel(timer.key)
        await self._log(operation, "replayed" if done.replayed else "ok")
        return done

    async def resume(self, timer: Timer) -> Done | None:
        """A stored side effect came due again (the plugin host calls this): repeat it with its
        own key. Raises PlatformUnavailable to be tried again later; None once given up."""
        operation, args, key = str(timer.data["operation"]), dict(timer.data["args"]), str(timer.data["key"])
        try:
            done = await perform(self._client(), operation, args, key)
        except PlatformUnavailable as exc:
            if timer.attempts < MAX_TIMER_ATTEMPTS:
                await self._log(operation, "retrying", exc)
                raise
            await self._log(operation, "failed", exc)
            return None
        except PlatformError as exc:
            await self._log(operation, exc.code, exc)
            return None
        await self._log(operation, "replayed" if done.replayed else "ok")
        return done

    # -- helpers -----------------------------------------------------------------------------
    async def _logged(self, operation: str, call: Callable[[PlatformClient], Any], *, target: str) -> Any:
        """A lookup: a failure is in the timeline each time; an answer once per ticket, what
        and outcome (every message of a ticket may look the customer up again)."""
        try:
            result = await call(self._client())
        except PlatformError as exc:
            await self._log(operation, exc.code, exc)
            raise
        outcome = "ok" if result is not None else "not_found"
        await self._log(operation, outcome, once=lookup_mark(operation, outcome, target))
        return result

    async def _log(self, operation: str, outcome: str, exc: Exception | None = None, *, once: str = "") -> None:
        """The call in the ticket's timeline (operation and outcome only) and the hub's log;
        with `once`, not when the timeline has that mark already."""
        if exc is not None:
            log.warning("platform %s for plugin %s: %s (%s)", operation, self.plugin, outcome, exc.__class__.__name__)
        if self.hub is None or self.conversation is None:
            return
        if once and any(
            (m.raw or {}).get(LOOKUP_MARK) == once for m in await self.hub.reads.list_messages(self.conversation.id)
        ):
            return
        params = {"platform_op": operation, "platform_result": outcome}
        await self.hub.post_event(self.conversation.id, EVENT, params, raw={LOOKUP_MARK: once} if once else None)

    def _client(self) -> PlatformClient:
        if self.client is None or not self.client.enabled:
            raise PlatformNotConfigured("no [platform] base_url is configured")
        return self.client

    def _runtime(self) -> PluginRuntime:
        if self.runtime is None:
            raise RuntimeError("side effects need a running hub (durable retries)")
        return self.runtime

    def _ticket(self) -> Conversation:
        if self.conversation is None:
            raise ValueError("a platform side effect belongs to a ticket")
        return self.conversation


def first_retry(client: PlatformClient) -> timedelta:
    """When the stored intent first fires again: after the longest the call made now can
    take (every attempt timing out, every delay at its cap), so the repeat never overlaps it."""
    settings = client.settings
    worst = settings.max_attempts * settings.timeout_seconds + (settings.max_attempts - 1) * settings.max_delay_seconds
    return timedelta(seconds=worst * 1.2) + RETRY_MARGIN  # backoff's jitter adds up to 20 %


async def perform(client: PlatformClient, operation: str, args: dict[str, str], key: str) -> Done:
    """One side effect by name (the durable retry stores the name and its arguments)."""
    if operation == "password_reset":
        return await client.send_password_reset(args["user_id"], key=key)
    if operation == "lock_account":
        return await client.lock_account(args["user_id"], reason=args.get("reason", ""), key=key)
    if operation == "unlock_account":
        return await client.unlock_account(args["user_id"], key=key)
    if operation == "refund":
        return await client.execute_refund(
            args["order_id"],
            amount=Decimal(args["amount"]),
            currency=args["currency"],
            decision=args["decision"],
            key=key,
            outcome=args.get("outcome", ""),  # a refund stored before outcomes were sent has none
        )
    if operation == "dispute_decision":
        return await client.record_decision(DecisionNotice.from_args(args), key=key)
    raise PlatformRefused(400, "unknown_operation", operation)


__all__ = ["EFFECTS", "PLATFORM_TIMER", "PlatformTools", "idempotency_key", "perform"]
