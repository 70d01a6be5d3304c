"""The client's address behind a proxy (config/client_address.py): a client-written X-Forwarded-For never counts,
a trusted proxy's does, and the per-address socket cap follows the resolved address on a real worker started the
way docker-compose.yml starts it."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
import yaml

from bidding.protocol import CLOSE_TOO_MANY_SOCKETS
from config.client_address import ClientAddress, parse_networks, resolve
from conftest import ORIGIN, ROOT

VICTIM = "127.0.0.2"  # a second loopback address: a client of its own, as another machine would be


def _deployed_daphne_args() -> tuple[str, ...]:
    """The Daphne options docker-compose.yml gives each worker, bar the address it binds."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    args = command[command.index("config.serve") + 1 : command.index("config.asgi:application")]
    kept, skip = [], False
    for arg in args:
        if skip or arg in ("-b", "-p"):
            skip = not skip
            continue
        kept.append(arg)
    return tuple(kept)


async def _try_socket(server, lot_id: int, *, forwarded_for: str | None = None, local: str = "127.0.0.1"):
    """(socket, None) when admitted, (None, close code) when refused; sent from the loopback address `local`."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    socket = await websockets.connect(
        f"{server.url}/ws/auctions/{lot_id}/", origin=ORIGIN, additional_headers=headers, local_addr=(local, 0)
    )
    try:
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "snapshot"
    except websockets.ConnectionClosed as closed:
        return None, closed.rcvd.code
    return socket, None


@pytest.mark.django_db(transaction=True)
async def test_a_client_written_forwarded_for_neither_bypasses_the_cap_nor_locks_out_another(start_daphne, lot):
    server = start_daphne(daphne_args=_deployed_daphne_args(), WS_MAX_SOCKETS_PER_IP="1")

    first, _ = await _try_socket(server, lot.pk, forwarded_for="198.51.100.1")
    assert first is not None
    refused, code = await _try_socket(server, lot.pk, forwarded_for="198.51.100.2")
    assert refused is None and code == CLOSE_TOO_MANY_SOCKETS, "a made-up address bought a second socket"

    victim, code = await _try_socket(server, lot.pk, local=VICTIM)
    assert victim is not None, f"the socket claiming {VICTIM} was counted as {VICTIM}'s (closed {code})"
    for socket in (first, victim):
        await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_behind_a_trusted_proxy_the_forwarded_address_counts(start_daphne, lot):
    server = start_daphne(daphne_args=_deployed_daphne_args(), WS_MAX_SOCKETS_PER_IP="1", TRUSTED_PROXIES="127.0.0.1")

    one, _ = await _try_socket(server, lot.pk, forwarded_for="198.51.100.1")
    other, _ = await _try_socket(server, lot.pk, forwarded_for="198.51.100.2")
    assert one is not None and other is not None, "two clients behind one proxy are two addresses"
    # The client wrote the left address itself; the proxy appended the one it saw.
    refused, code = await _try_socket(server, lot.pk, forwarded_for="203.0.113.50, 198.51.100.1")
    assert refused is None and code == CLOSE_TOO_MANY_SOCKETS, "the address the client wrote was counted"
    # A peer outside TRUSTED_PROXIES is its own client whatever it forwards.
    direct, _ = await _try_socket(server, lot.pk, forwarded_for="198.51.100.1", local=VICTIM)
    assert direct is not None
    for socket in (one, other, direct):
        await socket.close()


PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


@pytest.mark.pure
@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),  # not a proxy: its header is ignored
        ("127.0.0.1", [], "127.0.0.1"),  # a proxy forwarding nothing is the client
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("127.0.0.1", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),  # the client wrote 1.2.3.4
        ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),  # two proxies: the rightmost untrusted
        ("127.0.0.1", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"),  # repeated headers read in order
        ("127.0.0.1", ["1.2.3.4, not-an-address, 10.1.2.3"], "10.1.2.3"),  # nothing left of garbage counts
        ("127.0.0.1", ["10.1.2.3"], "10.1.2.3"),  # only proxies: the farthest one
        ("127.0.0.1", [" 2001:db8::1 "], "2001:db8::1"),
    ],
)
def test_the_client_is_the_rightmost_address_no_trusted_proxy_wrote(peer, forwarded, client):
    assert resolve(peer, forwarded, PROXIES) == client


@pytest.mark.pure
def test_a_bad_trusted_proxy_entry_is_refused_by_name():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="'nginx'"):
        parse_networks(["10.0.0.0/8", "nginx"])


async def _scope_seen(scope: dict) -> dict:
    seen = {}

    async def inner(scope, receive, send):
        seen.update(scope)

    await ClientAddress(inner, PROXIES)(scope, None, None)
    return seen


@pytest.mark.pure
async def test_http_and_socket_scopes_get_the_forwarded_address_and_scheme_from_a_proxy_only():
    headers = [(b"x-forwarded-for", b"1.2.3.4, 198.51.100.1"), (b"x-forwarded-proto", b"https")]
    http = await _scope_seen({"type": "http", "scheme": "http", "client": ["127.0.0.1", 5000], "headers": headers})
    assert (http["client"][0], http["scheme"]) == ("198.51.100.1", "https")
    ws = await _scope_seen({"type": "websocket", "scheme": "ws", "client": ["10.0.0.5", 5000], "headers": headers})
    assert (ws["client"][0], ws["scheme"]) == ("198.51.100.1", "wss")
    direct = {"type": "http", "scheme": "http", "client": ["203.0.113.7", 5000], "headers": headers}
    assert await _scope_seen(dict(direct)) == direct
