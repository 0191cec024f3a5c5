"""Signed, expiring links to a ticket's status page (`/status/<token>`).

A token is `<number>.<expires>.<signature>`: the ticket number, the Unix second it stops
working, and an HMAC-SHA256 of both under a key derived from `[status_page] secret` (or,
when none is configured, from a random key made once and kept in the store, so every hub
process and every restart signs alike). Whoever holds the link sees the ticket's public
history and may write on it, so it goes only to the ticket's customer: in the greeting,
in email replies, in a status answer to the verified customer.

A page form also carries a nonce and a proof: an HMAC of the token and the nonce, which
only the page itself can have produced (CSRF), and whose nonce is the idempotency key of
the reply (a double submit or a retry is stored once).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import quote

from conversation.model import utcnow
from conversation.store import Store

KEY_HOLDER = ("hub", "status-links")  # (conversation id, plugin) of the stored random key: compare-and-set
CONTEXT = b"helpline status links v1"


class LinkProblem(Enum):
    TAMPERED = "tampered"  # not a token we signed (or signed with another key): 403
    EXPIRED = "expired"  # ours, but too old: 410


@dataclass(frozen=True, slots=True)
class LinkCheck:
    number: int = 0
    problem: LinkProblem | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class StatusLinks:
    def __init__(
        self,
        master: bytes,
        *,
        lifetime: timedelta,
        public_url: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        # Derived, so the configured secret itself never signs anything another feature could reuse.
        self._key = hmac.new(master, CONTEXT, hashlib.sha256).digest()
        self.lifetime = lifetime
        self.public_url = public_url.rstrip("/")
        self.clock = clock

    def _sign(self, *parts: str) -> str:
        return _b64(hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).digest())

    def token(self, number: int) -> str:
        expires = int((self.clock() + self.lifetime).timestamp())
        return f"{number}.{expires}.{self._sign('status', str(number), str(expires))}"

    def url(self, number: int, language: str = "") -> str:
        link = f"{self.public_url}/status/{self.token(number)}"
        return f"{link}?lang={quote(language)}" if language else link

    def rating_urls(self, number: int, language: str = "") -> dict[int, str]:
        """The status page's one-click rating links (hub/status_page.py, `/rate/<score>`): the
        ticket's own signed token, so whoever may see the page may rate, and nobody else."""
        token, query = self.token(number), f"?lang={quote(language)}" if language else ""
        return {score: f"{self.public_url}/status/{token}/rate/{score}{query}" for score in (5, 4, 3, 2, 1)}

    def check(self, token: str) -> LinkCheck:
        """The ticket number a token names, or why it names none (tampered before expired:
        a forged expiry is a forgery)."""
        number, _, rest = token.partition(".")
        expires, _, signature = rest.partition(".")
        if not (number.isdigit() and expires.isdigit() and len(number) <= 9 and len(expires) <= 12):
            return LinkCheck(problem=LinkProblem.TAMPERED)
        if not hmac.compare_digest(signature.encode(), self._sign("status", number, expires).encode()):
            return LinkCheck(problem=LinkProblem.TAMPERED)
        if self.clock().timestamp() >= int(expires):
            return LinkCheck(int(number), LinkProblem.EXPIRED)
        return LinkCheck(int(number))

    def form_proof(self, token: str, nonce: str) -> str:
        return self._sign("form", token, nonce)

    def new_form(self, token: str) -> tuple[str, str]:
        """A nonce (the reply's idempotency key) and its proof, for one rendered form."""
        nonce = secrets.token_urlsafe(16)
        return nonce, self.form_proof(token, nonce)

    def form_ok(self, token: str, nonce: str, proof: str) -> bool:
        if not (8 <= len(nonce) <= 64) or not nonce.replace("-", "").replace("_", "").isalnum():
            return False
        return hmac.compare_digest(proof.encode(), self.form_proof(token, nonce).encode())


async def master_key(store: Store, secret: str) -> bytes:
    """The configured secret, else the store's random key (made by the first hub to ask)."""
    if secret:
        return secret.encode()
    conversation_id, holder = KEY_HOLDER
    for _ in range(3):
        state, version = await store.coordination.load_plugin_state(conversation_id, holder)
        if isinstance(state.get("key"), str):
            return base64.urlsafe_b64decode(state["key"])
        fresh = secrets.token_bytes(32)
        encoded = base64.urlsafe_b64encode(fresh).decode("ascii")
        if await store.coordination.set_plugin_state(conversation_id, holder, {"key": encoded}, version=version):
            return fresh
    raise RuntimeError("could not agree on a status-link key with the other hub processes")
