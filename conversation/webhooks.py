"""Outbound webhooks: subscriptions, their deliveries, and the rules the hub and both store
backends share (which events a subscription takes, which URLs it may name, how a body is
signed, what an attempt's outcome does to a delivery)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conversation.errors import InvalidInput

# The events a subscription can ask for. `record.*` is the family plugins' records publish
# (`record.created`, `record.updated`, `record.<kind>.<what>`...): any name in it is accepted.
EVENT_TYPES = ("ticket.created", "ticket.updated", "message.created")
FAMILIES = ("ticket", "message", "record")
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
SIGNATURE_HEADER = "Helpline-Signature"
MAX_URL = 2000
MAX_EVENTS = 30


class WebhookStatus(StrEnum):
    QUEUED = "queued"  # waiting for its first or next attempt
    SENT = "sent"  # the receiver answered 2xx
    FAILED = "failed"  # attempts ran out, or the subscription was removed meanwhile


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    events: list[str]  # exact event types or families ("ticket.*", "record.*", "*")
    secret: str  # the signing key: stored, since each body is signed with it; shown once
    include_private: bool = False  # private notes and system events of a thread too
    active: bool = True
    description: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    """One event for one subscription: the queue entry and its log line at once."""

    id: str
    subscription_id: str
    event_id: str  # the same for every subscription that got the event (receivers deduplicate on it)
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    status: WebhookStatus = WebhookStatus.QUEUED
    attempts: int = 0
    next_attempt_at: datetime | None = None
    response_code: int | None = None
    last_error: str = ""
    finished_at: datetime | None = None


def check_events(patterns: Iterable[Any]) -> list[str]:
    """Event filters as given, refused unless each is a known type, a family or `*`."""
    clean: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise InvalidInput("events: each must be a text")
        family = pattern[:-2] if pattern.endswith(".*") else pattern.split(".")[0]
        known = (
            pattern == "*"
            or pattern in EVENT_TYPES
            or (pattern.endswith(".*") and family in FAMILIES)
            or (family == "record" and bool(EVENT_NAME.match(pattern)))
        )
        if not known:
            raise InvalidInput(
                f"events: {pattern!r} is not an event"
                f" (use {', '.join(EVENT_TYPES)}, record.*, a family like ticket.*, or *)"
            )
        clean.append(pattern)
    if not clean:
        raise InvalidInput("events: name at least one event")
    if len(clean) > MAX_EVENTS:
        raise InvalidInput(f"events: at most {MAX_EVENTS}")
    return list(dict.fromkeys(clean))


def wants(subscription: Subscription, event_type: str, *, private: bool) -> bool:
    """Whether the subscription takes this event; a private one only when it asked for those."""
    if not subscription.active or (private and not subscription.include_private):
        return False
    return any(
        pattern == "*" or pattern == event_type or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
        for pattern in subscription.events
    )


ALLOW_PRIVATE = "allow it with [webhooks] allow_private_destinations"


def refused_address(address: str, *, allow_private: bool) -> str:
    """Why an IP address may not receive webhooks ("" when it may): loopback, private,
    link-local (cloud metadata), multicast and reserved ranges stay closed unless allowed."""
    ip = ipaddress.ip_address(address.split("%")[0])
    inside = _ipv4_inside(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if inside is not None and not allow_private and not inside.is_global:
        return f"{ip} carries {inside}, a private or loopback address ({ALLOW_PRIVATE})"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:a.b.c.d is that IPv4 address itself
    if ip.is_multicast or ip.is_unspecified:
        return f"{ip} is not a destination"
    if not allow_private and not ip.is_global:
        return f"{ip} is a private or loopback address ({ALLOW_PRIVATE})"
    return ""


# NAT64's well-known prefix (RFC 6052): on an IPv6-only host behind DNS64 a packet to
# 64:ff9b::a9fe:a9fe reaches 169.254.169.254 (a trial); IANA counts the prefix as global.
# The local-use 64:ff9b:1::/48 (RFC 8215), counted as global by Pythons before 3.11.9.
NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d (:: and ::1 are checked as they are)
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765): ::ffff:0:a.b.c.d


def _ipv4_inside(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to (mapped, NAT64, IPv4-compatible or translated,
    6to4, Teredo's client): a private one refuses the address, whatever the IPv6 address
    itself counts as (which is checked too); None when it carries none."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if any(ip in net for net in NAT64) or ip in IPV4_TRANSLATED or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo is not None else None


def check_url(url: str, *, allow_http: bool, allow_private: bool) -> str:
    """The URL, or InvalidInput saying why it cannot receive webhooks. A host name is checked
    again when it is resolved, before each connection."""
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise InvalidInput(f"url: at most {MAX_URL} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidInput("url: not a URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("url: give an https:// URL" + (" or http:// URL" if allow_http else ""))
    if parts.scheme == "http" and not allow_http:
        raise InvalidInput("url: must be https (allow http with [webhooks] allow_http)")
    if parts.username or parts.password:
        raise InvalidInput("url: must not carry a user name or password")
    if port == 0:
        raise InvalidInput("url: port 0 is not a port")
    host = canonical_host(parts.hostname)
    try:
        reason = refused_address(host, allow_private=allow_private)
    except ValueError:  # a name, not an address
        name = host.rstrip(".")
        local = name == "localhost" or name.endswith((".localhost", ".local", ".internal"))
        reason = "" if allow_private or not local else f"{host} is a local name"
    if reason:
        raise InvalidInput(f"url: {reason}")
    if host == parts.hostname:
        return url.strip()
    # A numeric host in another form: stored as the address it stands for.
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port is not None else ""
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def canonical_host(host: str) -> str:
    """A URL's host as it will be reached: an IPv6 or dotted IPv4 address, or a DNS name of
    letters, digits and hyphens (IDNA for other scripts). The numeric forms that resolvers
    also accept for IPv4 (0x7f000001, 2130706433, 0177.0.0.1, 127.1) become the dotted address
    they stand for, so the private-address check sees what the connection would reach.
    InvalidInput for anything else (a space, an empty label, a number that is no address)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if NUMERIC_LABEL.match(labels[-1]):  # the way resolvers read it: an IPv4 address, or nothing
        try:
            return socket.inet_ntoa(socket.inet_aton(name))
        except OSError:
            raise InvalidInput(f"url: {host!r} is not a valid IPv4 address") from None
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput("url: not a valid host name") from None
    if len(ascii_name) > 253 or not all(HOST_LABEL.match(label) for label in ascii_name.split(".")):
        raise InvalidInput(f"url: {host!r} is not a valid host name")
    return host


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Helpline-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (the README shows the same in a few lines of Python)."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def after_attempt(
    attempt: int, *, max_attempts: int, ok: bool, retry_at: datetime | None
) -> tuple[WebhookStatus, datetime | None]:
    """An attempt's outcome: sent; queued again for `retry_at`; or failed once attempts run out."""
    if ok:
        return WebhookStatus.SENT, None
    if attempt >= max_attempts or retry_at is None:
        return WebhookStatus.FAILED, None
    return WebhookStatus.QUEUED, retry_at


def subscription_to_doc(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.events),
        "secret": subscription.secret,
        "include_private": subscription.include_private,
        "active": subscription.active,
        "description": subscription.description,
        "created_at": subscription.created_at,
    }


def subscription_from_doc(doc: dict[str, Any]) -> Subscription:
    return Subscription(
        id=doc["id"],
        url=doc["url"],
        events=list(doc["events"]),
        secret=doc["secret"],
        include_private=bool(doc.get("include_private", False)),
        active=bool(doc.get("active", True)),
        description=doc.get("description", ""),
        created_at=doc.get("created_at"),
    )


def delivery_to_doc(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "subscription_id": delivery.subscription_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "payload": delivery.payload,
        "created_at": delivery.created_at,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "response_code": delivery.response_code,
        "last_error": delivery.last_error,
        "finished_at": delivery.finished_at,
    }


def delivery_from_doc(doc: dict[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=doc["id"],
        subscription_id=doc["subscription_id"],
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        payload=dict(doc["payload"]),
        created_at=doc["created_at"],
        status=WebhookStatus(doc["status"]),
        attempts=int(doc.get("attempts") or 0),
        next_attempt_at=doc.get("next_attempt_at"),
        response_code=doc.get("response_code"),
        last_error=doc.get("last_error") or "",
        finished_at=doc.get("finished_at"),
    )


def check_redeliver(status: WebhookStatus) -> None:
    """Only a failed delivery is sent again by an admin's retry (a queued one is still coming)."""
    if status is not WebhookStatus.FAILED:
        raise InvalidInput("only a failed delivery can be sent again")
