"""Signed requests from outside systems: the platform's webhook channel and the telephony webhook.

`X-Helpline-Signature: v1=<hex>` is HMAC-SHA256, keyed with the shared secret, over
`v1:<X-Helpline-Timestamp>:<raw body>`; the timestamp (Unix seconds) must be within the
configured skew of the hub's clock, so a captured request cannot be replayed later. The
comparison takes constant time. One implementation, so both webhooks sign alike.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping

SIGNATURE = "X-Helpline-Signature"
TIMESTAMP = "X-Helpline-Timestamp"
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() also takes "²" and "٣"


class BadSignature(Exception):
    """The request is not signed with the secret, or not recently."""


class MalformedTimestamp(BadSignature):
    """The timestamp header cannot be what a sender computes (not Unix seconds)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The headers a sender adds (what README's signing examples compute)."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP: timestamp, SIGNATURE: sign(secret, timestamp, body), "Content-Type": "application/json"}


def check_signature(secret: str, headers: Mapping[str, str], body: bytes, *, now: float, max_skew: float) -> None:
    """Return when the request is signed with `secret` within the replay window; BadSignature otherwise."""
    timestamp = headers.get(TIMESTAMP, "")
    signature = headers.get(SIGNATURE, "")
    if not timestamp or not signature:
        raise BadSignature(f"sign the request: {TIMESTAMP} and {SIGNATURE} are required")
    if not UNIX_SECONDS.fullmatch(timestamp):
        raise MalformedTimestamp(f"{TIMESTAMP} must be a Unix time in whole seconds")
    if abs(now - int(timestamp)) > max_skew:
        raise BadSignature("the timestamp is too old or in the future")
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header may hold any byte.
    # Hex in either case: Java's and .NET's helpers write it in capitals (an integrator's 401).
    given = signature.strip()
    given = given[:3] + given[3:].lower() if given.startswith("v1=") else given
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), given.encode("utf-8", "surrogateescape")):
        raise BadSignature("the signature does not match")
