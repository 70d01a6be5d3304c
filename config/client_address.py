"""Who the client is, for everything keyed by its address: the per-address socket cap (bidding/admission.py), the
HTTP API's throttles, the metrics endpoint's loopback rule, the logs.

The TCP peer is the client, unless the peer is one of TRUSTED_PROXIES: then the client is the rightmost address in
X-Forwarded-For that is not a trusted proxy, and X-Forwarded-Proto says whether it came over TLS. Anything a
client writes in those headers itself sits to the left of what our proxies append or is overwritten by them, so it
never counts. Daphne's own `--proxy-headers` takes the leftmost address, the one the client chose: it is not used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SECURE = {"http": "https", "websocket": "wss"}
_PLAIN = {"http": "http", "websocket": "ws"}


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES entries (addresses or CIDR networks) as networks; a clear error naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as error:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is neither an IP address nor a network (e.g. 10.0.0.0/8)"
            ) from error
    return tuple(networks)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address | None, proxies: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in proxies)


def resolve(peer: str, forwarded_for: list[str], proxies: tuple[Network, ...]) -> str:
    """The client's address: `peer` itself unless it is a trusted proxy; then, walking X-Forwarded-For from the
    right (the hop nearest to us), the first address that is not a trusted proxy. A hop that is not an address
    stops the walk: nothing written before it can be vouched for, so the last trusted hop is the client."""
    if not _trusted(_address(peer), proxies):
        return peer
    client = peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        client = str(address)
        if not _trusted(address, proxies):
            break
    return client


def _header(scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope.get("headers", ()) if key.lower() == name]


class ClientAddress:
    """ASGI middleware, outermost: rewrites the scope's `client` (and `scheme`, from a trusted proxy's
    X-Forwarded-Proto) for HTTP and WebSocket alike, so everything inside reads the resolved address."""

    def __init__(self, inner, proxies: tuple[Network, ...] | None = None) -> None:
        self.inner = inner
        self.proxies = parse_networks(settings.TRUSTED_PROXIES) if proxies is None else proxies

    async def __call__(self, scope, receive, send):
        peer = scope.get("client")
        if scope["type"] not in _PLAIN or not peer or not _trusted(_address(peer[0]), self.proxies):
            return await self.inner(scope, receive, send)
        scope = dict(scope)
        scope["client"] = [resolve(peer[0], _header(scope, b"x-forwarded-for"), self.proxies), 0]
        proto = [p.strip().lower() for value in _header(scope, b"x-forwarded-proto") for p in value.split(",")]
        if proto and proto[-1] in ("https", "http"):
            scope["scheme"] = (_SECURE if proto[-1] == "https" else _PLAIN)[scope["type"]]
        return await self.inner(scope, receive, send)
