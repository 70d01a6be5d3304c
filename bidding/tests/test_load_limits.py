"""Limits that keep one client from hurting others: a per-user budget shared by all of a user's sockets, caps on
sockets per user and per address, and a flooder next to an honest bidder on a real server."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import override_settings

from bidding.models import Bid
from bidding.protocol import CLOSE_FLOODING, CLOSE_TOO_MANY_SOCKETS
from bidding.tests.live import connect, until
from conftest import acookie_header, assert_lot_verifies

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(
    WS_RATE_PER_SECOND=0.01,
    WS_RATE_BURST=10,
    WS_USER_RATE_PER_SECOND=0.01,
    WS_USER_RATE_BURST=4,
    WS_FLOOD_CLOSE_AFTER=100,
)
async def test_one_users_sockets_share_one_budget(open_socket, lot, bidder):
    sockets = [await open_socket(lot.pk, bidder) for _ in range(3)]
    answers = []
    for socket in sockets:
        for _ in range(2):
            await socket.send_json_to({"type": "ping"})
            answers.append((await socket.receive_json_from(timeout=3)).get("code", "pong"))
    assert answers == ["pong"] * 4 + ["rate_limited"] * 2
    other = await open_socket(lot.pk)  # anonymous: its own budget only
    await other.send_json_to({"type": "ping"})
    assert (await other.receive_json_from(timeout=3))["type"] == "pong"


@override_settings(WS_MAX_SOCKETS_PER_USER=2)
async def test_a_user_may_hold_only_so_many_sockets(open_socket, lot, bidder):
    first, _ = await open_socket(lot.pk, bidder), await open_socket(lot.pk, bidder)
    third = await open_socket(lot.pk, bidder, expect_snapshot=False)
    assert (await third.receive_output(timeout=3))["code"] == CLOSE_TOO_MANY_SOCKETS
    await first.disconnect()
    again = await open_socket(lot.pk, bidder)
    assert again.snapshot["type"] == "snapshot"


@override_settings(WS_MAX_SOCKETS_PER_IP=3)
async def test_an_address_may_hold_only_so_many_sockets(open_socket, lot):
    for _ in range(3):
        await open_socket(lot.pk)
    fourth = await open_socket(lot.pk, expect_snapshot=False)
    assert (await fourth.receive_output(timeout=3))["code"] == CLOSE_TOO_MANY_SOCKETS


async def test_a_flooder_next_to_an_honest_bidder_hurts_only_itself(daphne_server, lot, bidder, make_user):
    mallory = await sync_to_async(make_user)("mallory")
    flood_cookie = await acookie_header(mallory)
    flooders = [await connect(daphne_server, lot.pk, flood_cookie) for _ in range(4)]
    honest = await connect(daphne_server, lot.pk, await acookie_header(bidder))

    async def flood(socket):
        closed_with = None
        try:
            for n in range(300):
                await socket.send(json.dumps({"type": "bid", "amount": 1, "bid_id": f"f{n}"}))
            while True:
                await asyncio.wait_for(socket.recv(), 5)
        except websockets.ConnectionClosed as closed:
            closed_with = closed.rcvd.code if closed.rcvd else None
        return closed_with

    async def bid_honestly():
        accepted = []
        amount = 1_000
        for n in range(8):
            bid_id = f"honest-{n}"
            await honest.send(json.dumps({"type": "bid", "amount": amount, "bid_id": bid_id}))
            while True:
                message = json.loads(await asyncio.wait_for(honest.recv(), 10))
                if message.get("bid_id") == bid_id:
                    break
            assert message["type"] == "bid_accepted", message
            accepted.append(message["amount"])
            amount = message["amount"] + 100
            await asyncio.sleep(0.25)  # not a wait: an honest bidder's pace, well inside its own rate limit
        return accepted

    codes, accepted = await asyncio.gather(asyncio.gather(*(flood(s) for s in flooders)), bid_honestly())
    assert len(accepted) == 8, "the honest bidder's bids were all accepted"
    assert all(code == CLOSE_FLOODING for code in codes), codes
    assert await Bid.objects.filter(lot=lot, bidder=mallory).acount() == 0
    await honest.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)


# --- limits that hold across worker processes (nginx spreads one user's sockets over all of them) -------------------
async def _try_socket(server, lot_id, cookie):
    """(socket, None) when admitted (its snapshot read), (None, close code) when refused."""
    try:
        return await connect(server.url, lot_id, cookie), None
    except websockets.ConnectionClosed as closed:
        return None, closed.rcvd.code


async def _admitted_within(seconds: float, server, lot_id, cookie, *, failure: str):
    async def admitted():
        return (await _try_socket(server, lot_id, cookie))[0]

    return await until(admitted, seconds, interval=0.25, failure=failure)


@pytest.mark.redis_only
async def test_socket_caps_and_the_user_budget_span_worker_processes(start_daphne, lot, bidder):
    limits = {
        "WS_MAX_SOCKETS_PER_USER": "3",
        "WS_USER_RATE_PER_SECOND": "0.01",
        "WS_USER_RATE_BURST": "6",
        "WS_RATE_BURST": "100",
        "PRESENCE_STALE_SECONDS": "2",
    }
    a, b = start_daphne("a", **limits), start_daphne("b", **limits)
    cookie = await acookie_header(bidder)

    on_a = [(await _try_socket(a, lot.pk, cookie))[0] for _ in range(2)]
    on_b, _ = await _try_socket(b, lot.pk, cookie)
    assert all(on_a) and on_b is not None
    for server in (a, b):  # a fourth socket is refused whichever worker it reaches
        refused, code = await _try_socket(server, lot.pk, cookie)
        assert refused is None and code == CLOSE_TOO_MANY_SOCKETS
    await on_a[0].close()
    # The worker releases the slot once it has seen the close.
    again = await _admitted_within(3, b, lot.pk, cookie, failure="a closed socket frees its slot for any worker")

    # One budget of 6 messages for the user, spent from two workers.
    answers = []
    for socket in (on_a[1], on_b, again, on_a[1]):
        for _ in range(2):
            await socket.send(json.dumps({"type": "ping"}))
            answers.append(json.loads(await asyncio.wait_for(socket.recv(), 5)).get("code", "pong"))
    assert answers == ["pong"] * 6 + ["rate_limited"] * 2

    # A worker that dies without a goodbye stops counting once its heartbeat is stale.
    a.proc.kill()
    a.proc.wait()
    extra = await _admitted_within(8, b, lot.pk, cookie, failure="the dead worker's sockets still counted")
    for socket in (on_b, again, extra):
        await socket.close()
