"""The telephony webhook's signature: how a PBX or cloud call centre proves a report is theirs.

`X-Helpline-Signature: v1=<hex>` is HMAC-SHA256, keyed with `hotline.webhook_secret`, over
`v1:<X-Helpline-Timestamp>:<raw body>`; the timestamp (Unix seconds) must be within
`hotline.webhook_max_skew_seconds` of the hub's clock, so a captured request cannot be
replayed later. The comparison takes constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

SIGNATURE = "X-Helpline-Signature"
TIMESTAMP = "X-Helpline-Timestamp"
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() also takes "²"


class BadSignature(Exception):
    """The request is not signed with the hub's secret, or not recently: 401."""


def telephony_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def check_signature(secret: str, headers: Mapping[str, str], body: bytes, *, now: float, max_skew: float) -> None:
    """Return when the request is signed with `secret` within the replay window; BadSignature otherwise."""
    timestamp = headers.get(TIMESTAMP, "")
    signature = headers.get(SIGNATURE, "")
    if not timestamp or not signature:
        raise BadSignature(f"sign the request: {TIMESTAMP} and {SIGNATURE} are required")
    if not UNIX_SECONDS.fullmatch(timestamp):
        raise BadSignature(f"{TIMESTAMP} must be Unix seconds")
    if abs(now - int(timestamp)) > max_skew:
        raise BadSignature("the timestamp is too old or in the future")
    expected = telephony_signature(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape")):
        raise BadSignature("the signature does not match")
