"""The shipped nginx config (deploy/nginx.conf) run by a real nginx in front of a real worker: what a client writes in
X-Forwarded-For never decides which address it counts as, one address's handshake burst meets 429 at the edge, and a
lot's photos pass the lot API's body limit (not the rest's) and are served by nginx.
nginx comes from `make test` (scripts/ensure-nginx.sh)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import websockets
from django.test.client import encode_multipart
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token

from bidding.protocol import CLOSE_TOO_MANY_SOCKETS
from conftest import ORIGIN, ROOT


@pytest.fixture
def edge(start_edge):
    """nginx with deploy/nginx.conf in front of `upstream_port`; its ws:// URL."""
    return lambda upstream_port: start_edge([upstream_port]).ws_url


async def _try_socket(url: str, lot_id: int, *, forwarded_for: str | None = None, local: str = "127.0.0.1"):
    """(socket, None) when admitted, (None, close code) when the worker refuses it, (None, HTTP status) when nginx
    does."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    try:
        socket = await websockets.connect(
            f"{url}/ws/auctions/{lot_id}/", origin=ORIGIN, additional_headers=headers, local_addr=(local, 0)
        )
    except websockets.InvalidStatus as refused:
        return None, refused.response.status_code
    try:
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "snapshot"
    except websockets.ConnectionClosed as closed:
        return None, closed.rcvd.code
    return socket, None


def _deployed(start_daphne, **env: str):
    """A worker with the Daphne options and the TRUSTED_PROXIES that docker-compose.yml gives it (nginx is on
    loopback here)."""
    import yaml

    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    command = web["command"]
    args = command[command.index("config.serve") + 1 : command.index("config.asgi:application")]
    options = [a for i, a in enumerate(args) if a not in ("-b", "-p") and (i == 0 or args[i - 1] not in ("-b", "-p"))]
    trusted = "127.0.0.1" if "TRUSTED_PROXIES" in web["environment"] else ""
    return start_daphne(daphne_args=tuple(options), TRUSTED_PROXIES=trusted, **env)


@pytest.mark.django_db(transaction=True)
async def test_through_nginx_a_client_counts_as_its_own_address_whatever_it_forwards(start_daphne, edge, lot):
    url = edge(_deployed(start_daphne, WS_MAX_SOCKETS_PER_IP="1").port)

    first, _ = await _try_socket(url, lot.pk, forwarded_for="127.0.0.2")  # poses as the victim
    assert first is not None
    again, code = await _try_socket(url, lot.pk, forwarded_for="198.51.100.7")
    assert again is None and code == CLOSE_TOO_MANY_SOCKETS, "a made-up address bought a second socket"
    victim, code = await _try_socket(url, lot.pk, local="127.0.0.2")
    assert victim is not None, f"the victim's address was taken by a client that only claimed it (closed {code})"
    for socket in (first, victim):
        await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_nginx_answers_429_to_a_burst_of_handshakes_from_one_address(start_daphne, edge, lot):
    url = edge(_deployed(start_daphne).port)

    outcomes = await asyncio.gather(*(_try_socket(url, lot.pk, local="127.0.0.3") for _ in range(40)))
    admitted = [socket for socket, _ in outcomes if socket is not None]
    limited = [code for _, code in outcomes if code == 429]
    assert admitted and limited, f"{len(admitted)} admitted, {len(limited)} refused with 429"
    assert len(admitted) <= 25, "the handshake burst is 20 at 2 a second"
    other, _ = await _try_socket(url, lot.pk, local="127.0.0.4")
    assert other is not None, "another address is not limited by the first one's burst"
    for socket in [*admitted, other]:
        await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_an_address_the_operator_exempts_passes_the_edge_limits(start_daphne, start_edge, lot):
    url = start_edge([_deployed(start_daphne).port], exempt=("127.0.0.5",)).ws_url

    outcomes = await asyncio.gather(*(_try_socket(url, lot.pk, local="127.0.0.5") for _ in range(40)))
    admitted = [socket for socket, _ in outcomes if socket is not None]
    assert len(admitted) == 40, f"a load generator named in limits-exempt.conf was limited: {outcomes}"
    for socket in admitted:
        await socket.close()


@pytest.mark.django_db(transaction=True)
def test_through_nginx_a_lot_takes_photos_over_1_mb_which_nginx_then_serves(start_daphne, start_edge, make_user):
    side = 700  # random pixels do not compress: a PNG of about 1.4 MB, over the server's 1 MB body limit
    png = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(png, format="PNG")
    photo = io.BytesIO(png.getvalue())
    photo.name = "noise.png"
    assert len(png.getvalue()) > 1024 * 1024
    lot = {"title": "Noise", "starting_price": 1_000, "ends_at": (timezone.now() + timedelta(hours=1)).isoformat()}
    body = encode_multipart("BoUnDaRy", {"lot": json.dumps(lot), "photos": [photo]})
    token = Token.objects.create(user=make_user("seller", can_bid=False))
    url = start_edge([_deployed(start_daphne).port]).url

    def post(path: str) -> tuple[int, bytes]:
        request = urllib.request.Request(
            url + path,
            data=body,
            method="POST",
            headers={"Content-Type": "multipart/form-data; boundary=BoUnDaRy", "Authorization": f"Token {token.key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    assert post("/accounts/login/")[0] == 413, "elsewhere the server's 1 MB body limit holds"
    status, answer = post("/api/lots/")
    assert status == 201, answer
    display = json.loads(answer)["lot"]["photos"][0]["display"]
    with urllib.request.urlopen(url + display, timeout=10) as response:
        assert response.headers["Content-Type"] == "image/jpeg"
        assert "max-age=2592000" in response.headers["Cache-Control"], "served by nginx itself (expires 30d)"
        assert Image.open(io.BytesIO(response.read())).size == (side, side)
