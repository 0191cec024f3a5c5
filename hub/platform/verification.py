"""Verification by a one-time code sent through the platform (rules: conversation/platform_code.py).

One identity (a channel and an address) at a time: `start` has the platform send a code to
the account's registered phone or email and keeps the pending check; the pipeline takes the
code out of the customer's next message before it is stored and calls `check` with it, in
memory only; a right code leaves the identity verified as that platform user (`identity`)
for `[platform] verified_hours`. Attempts are counted before the platform is asked, by
compare-and-set, so neither a retry nor two hubs give a guesser more than `code_attempts`.
Nothing here logs or keeps the code or the login the customer typed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum

from conversation import platform_code as rules
from conversation.model import utcnow
from conversation.platform_identity import PlatformIdentity
from conversation.store import Store
from hub.platform.client import PlatformClient
from hub.platform.models import Done, PlatformError, PlatformNotConfigured, PlatformUnavailable

log = logging.getLogger(__name__)


class CodesLimited(PlatformError):
    """Enough codes were sent for this identity for now: none is sent (a chat must not flood a phone)."""

    code = "limited"


class Awaited(StrEnum):
    """How a code is awaited from an identity."""

    NO = ""
    IN_WORDS = "in_words"  # the check is open: the number in the next message is its code
    ALONE = "alone"  # the check ended (or its send had no answer): only a code typed by itself


MAX_ROUNDS = 5  # compare-and-set rounds against another writer of the same identity's state


class CodeVerifications:
    def __init__(self, store: Store, client: PlatformClient | None, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.client = client
        self.clock = clock

    @property
    def available(self) -> bool:
        return self.client is not None and self.client.enabled

    def _client(self) -> PlatformClient:
        if self.client is None or not self.client.enabled:
            raise PlatformNotConfigured("no [platform] base_url is configured")
        return self.client

    async def _state(self, channel: str, address: str) -> tuple[dict, int]:  # type: ignore[type-arg]
        return await self.store.coordination.load_plugin_state(rules.holder(channel, address), rules.PLUGIN)

    async def _save(self, channel: str, address: str, state: dict, version: int) -> bool:  # type: ignore[type-arg]
        return await self.store.coordination.set_plugin_state(
            rules.holder(channel, address), rules.PLUGIN, state, version=version
        )

    async def awaiting(self, channel: str, address: str) -> Awaited:
        """Whether a code is awaited from this identity now, and how (read only for messages with digits)."""
        state, _ = await self._state(channel, address)
        pending, now = rules.pending_of(state), self.clock()
        if not rules.awaited(pending, now):
            return Awaited.NO
        return Awaited.IN_WORDS if rules.check_open(pending, now, self._attempts()) else Awaited.ALONE

    async def identity(self, channel: str, address: str) -> PlatformIdentity | None:
        """The platform user a right code proved this identity to be, while it lasts."""
        state, _ = await self._state(channel, address)
        return rules.verified_identity(state, self.clock())

    async def start(self, channel: str, address: str, login: str, *, key: str) -> Done:
        """Have the platform send a code for the account `login` names; the check waits for it.
        CodesLimited after rules.MAX_SENDS codes within an hour for this identity."""
        state, _ = await self._state(channel, address)
        if not rules.may_send(state, self.clock()):
            raise CodesLimited(f"{rules.MAX_SENDS} codes were sent for this identity within the hour")
        valid = timedelta(minutes=self._client().settings.code_minutes)
        try:
            done = await self._client().send_code(login, key=key)
        except PlatformUnavailable as exc:
            # No answer is not a no: the code may be on its way, and what the customer types
            # next must not be stored. Kept as sent, with nothing to check a code against.
            # (A platform nothing reached, connection refused, sent nothing: no send counted.)
            if exc.maybe_done:
                await self._update(channel, address, lambda s: rules.unconfirmed(s, self.clock(), valid))
            raise
        if await self._update(
            channel, address, lambda s: rules.started(s, done.reference, self.clock(), valid, done.sent_to_hint)
        ):
            return done
        raise PlatformError("the verification state kept changing")

    async def _update(self, channel: str, address: str, change: Callable[[dict], dict]) -> bool:  # type: ignore[type-arg]
        for _ in range(MAX_ROUNDS):
            state, version = await self._state(channel, address)
            if await self._save(channel, address, change(state), version):
                return True
        return False

    async def check(self, channel: str, address: str, code: str) -> str:
        """One typed code: "verified", "wrong", "too_many" (no attempt left: a new code is
        needed), "expired", "used" (a right code came already), "none" (no check pending) or
        "unavailable" (the platform could not say; the attempt is counted all the same).
        Only "wrong" and "verified" come from the platform: past the end, nothing is asked."""
        for _ in range(MAX_ROUNDS):
            state, version = await self._state(channel, address)
            pending = rules.pending_of(state)
            if pending is None:
                return "none"
            if pending.unconfirmed:
                return "unavailable"  # the send had no answer: nothing to check the code against
            verdict = rules.may_try(pending, self.clock(), self._attempts())
            if verdict != "ok":
                return verdict
            counted = replace(pending, attempts=pending.attempts + 1)
            if await self._save(channel, address, rules.with_pending(state, counted), version):
                break  # the attempt is ours: counted before the platform hears the code
        else:
            return "unavailable"
        try:
            answer = await self._client().verify_code(pending.challenge, rules.normalised(code))
        except PlatformError as exc:
            log.warning("one-time code check on %s: %s", channel, exc.code)
            return "unavailable"
        if answer.verified and answer.user is not None:
            return await self._verified(channel, address, answer.user.id)
        return "wrong" if counted.attempts < self._attempts() else "too_many"

    async def _verified(self, channel: str, address: str, user_id: str) -> str:
        lasts = timedelta(hours=self._client().settings.verified_hours)
        for _ in range(MAX_ROUNDS):
            state, version = await self._state(channel, address)
            pending = rules.pending_of(state)
            if pending is None:  # another check replaced it meanwhile: the right code still proved it
                pending = rules.Pending("", 0, self.clock())
            if await self._save(
                channel, address, rules.verified(state, pending, user_id, self.clock(), lasts), version
            ):
                break
        return "verified"

    def _attempts(self) -> int:
        return self.client.settings.code_attempts if self.client is not None else 3


__all__ = ["Awaited", "CodeVerifications", "CodesLimited"]
