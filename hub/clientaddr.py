"""Who is calling: the one place that decides a request's client address.

Per-address limits (sign-in attempts, new web-chat visitors, sockets, uploads) and the
access log key on it. By default it is the TCP peer: a header is written by whoever sends
the request, so trusting it would let anyone pick the address they are counted under.
Behind a reverse proxy every request comes from the proxy, so `[hub] trusted_proxies`
lists the proxies' addresses (or networks). Only when the TCP peer is one of them is the
forwarding header (`[hub] forwarded_header`) read, right to left: each trusted proxy
appended the address it saw, so the right-most address that is not a trusted proxy is
the client. Whatever a client wrote further left is never used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web

from hub.settings import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
HEADERS = ("X-Forwarded-For", "Forwarded")  # the forwarding headers a proxy may be set up to write

TRUSTED_PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("trusted_proxies", tuple)
FORWARDED_HEADER: web.AppKey[str] = web.AppKey("forwarded_header", str)


def trusted_networks(key: str, values: Iterable[object]) -> tuple[Network, ...]:
    """`["10.0.0.5", "192.168.0.0/16", "::1"]` as networks; anything else is a ConfigError naming `key`."""
    networks = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ConfigError(f"{key}[{index}]: expected an address or network as a string, got {value!r}")
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"{key}[{index}]: {value!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def client_address(request: web.BaseRequest) -> str:
    """The client's address: the TCP peer, or what trusted proxies say they received from."""
    peer = request.remote or "?"
    settings = _settings(request)
    trusted: tuple[Network, ...] = settings.get(TRUSTED_PROXIES, ())
    if not trusted or not _is_trusted(_address(peer), trusted):
        return peer
    header = settings.get(FORWARDED_HEADER) or HEADERS[0]
    lines = request.headers.getall(header, [])
    hops = _forwarded_for(lines) if header == "Forwarded" else _comma_list(lines)
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # not an address ("unknown", garbage): the hop that reported it is as far as we can see
        client = str(address)
        if not _is_trusted(address, trusted):
            break
    return client


def _settings(request: web.BaseRequest) -> Mapping[Any, Any]:
    """The application's settings, or none for a request that was never routed.

    A bare BaseRequest has no config_dict, and a request whose head could not be parsed
    (a duplicate Content-Type, a bad header) reaches the access log unrouted: asking it
    for config_dict fails an assertion inside aiohttp. Its address is then the TCP peer.
    """
    try:
        return request.config_dict  # type: ignore[attr-defined]
    except (AttributeError, AssertionError):
        return {}


def _is_trusted(address: Address | None, trusted: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


def _address(text: str) -> Address | None:
    """An address from a header entry, with the port or IPv6 brackets some proxies add."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _comma_list(lines: Sequence[str]) -> list[str]:
    return [item for line in lines for item in line.split(",") if item.strip()]


def _forwarded_for(lines: Sequence[str]) -> list[str]:
    """The `for=` of each element of RFC 7239 Forwarded headers, in order (one per hop)."""
    hops = []
    for element in _comma_list(lines):
        pairs = (pair.partition("=") for pair in element.split(";"))
        found = [value for name, _, value in pairs if name.strip().lower() == "for"]
        hops.append(found[0] if found else "")
    return hops
