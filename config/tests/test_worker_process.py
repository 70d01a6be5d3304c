"""A real worker process (python -m config.serve): graceful shutdown, and database connections under many sockets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time

import psycopg
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings

from bidding.draining import GOING_AWAY
from bidding.models import Bid
from bidding.tests.live import connect, http_status, socket_to, until
from conftest import acookie_header, database_url

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sigterm_finishes_the_bid_in_flight_then_says_going_away(start_daphne, lot, bidder, hold_lot_row):
    server = start_daphne()
    bidding_socket = await connect(server.url, lot.pk, await acookie_header(bidder))
    watcher = await connect(server.url, lot.pk)

    # Hold the lot's row lock from outside, so the bid is caught mid-decision when the signal comes.
    held = await asyncio.to_thread(hold_lot_row, lot.pk)
    await bidding_socket.send(json.dumps({"type": "bid", "amount": 1_000, "bid_id": "in-flight"}))
    await asyncio.to_thread(held.wait_for_waiters, 1)
    server.proc.send_signal(signal.SIGTERM)

    # Draining: load balancers stop sending new work here while the bid is still being decided.
    async def draining() -> bool:
        return await asyncio.to_thread(http_status, f"{server.http}/readyz") == 503

    await until(draining, timeout=5, interval=0.05, failure="/readyz never answered 503 while draining")
    await asyncio.to_thread(held.release)

    replies = []
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            replies.append(json.loads(await asyncio.wait_for(bidding_socket.recv(), 10)))
    assert closed.value.rcvd.code == GOING_AWAY
    assert [m["type"] for m in replies if m.get("bid_id") == "in-flight"] == ["bid_accepted"]
    with pytest.raises(websockets.ConnectionClosed) as watcher_closed:
        while True:
            await asyncio.wait_for(watcher.recv(), 10)
    assert watcher_closed.value.rcvd.code == GOING_AWAY
    assert await asyncio.to_thread(server.proc.wait, 15) == 0
    assert await Bid.objects.filter(lot=lot, bid_id="in-flight").acount() == 1


APP_NAME = "gavel-connection-probe"


def _worker_connections() -> int:
    """Connections the worker under test holds: it names itself (application_name), so other tests' leftovers and
    this test's own connections are not counted."""
    with psycopg.connect(database_url().replace("postgres://", "postgresql://").rsplit("/", 1)[0] + "/postgres") as c:
        return c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)).fetchone()[0]


async def test_two_hundred_open_sockets_hold_a_small_fixed_number_of_database_connections(start_daphne, lot, make_user):
    # Realistic: connections are kept between requests (CONN_MAX_AGE), so only the thread pools bound them.
    server = start_daphne(DB_CONN_MAX_AGE="60", DATABASE_URL=f"{database_url()}?application_name={APP_NAME}")
    users = [await sync_to_async(make_user)(f"viewer{i}") for i in range(20)]
    cookies = [await acookie_header(user) for user in users]
    sockets = []
    for i in range(200):  # a tenth logged in (sessions read from the database), the rest anonymous
        sockets.append(await connect(server.url, lot.pk, cookies[i % 20] if i % 10 == 0 else None))
    await sockets[0].send(json.dumps({"type": "sync", "since_seq": 0}))
    while json.loads(await asyncio.wait_for(sockets[0].recv(), 10))["type"] != "synced":
        pass  # the worker has read the database for it
    held = await asyncio.to_thread(_worker_connections)
    for ws in sockets:
        await ws.close()
    # Threads, not sockets, own connections: Django's sync thread, the shared pool, and the bid decision pool.
    bound = 1 + min(32, (os.cpu_count() or 1) + 4) + settings.BID_DECISION_THREADS
    print(f"\n{held} database connections held by one worker with 200 open sockets (bound {bound})")
    assert 0 < held <= bound, f"{held} connections for 200 sockets (bound {bound})"


async def test_daphnes_own_frame_limit_drops_an_oversized_frame(start_daphne, lot):
    """Above the application's 4 KiB (answered `invalid`), Daphne's 1 MiB message limit (pinned with Daphne 4.2.3)
    ends the connection before the application sees the frame; nothing is written."""
    server = start_daphne()
    socket = await connect(server.url, lot.pk)
    try:
        await socket.send('{"type": "bid", "amount": 1000, "bid_id": "big", "pad": "' + "x" * (1024 * 1024) + '"}')
        while True:
            await asyncio.wait_for(socket.recv(), 10)
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is None or closed.rcvd.code == 1009  # autobahn may drop the TCP connection outright
    else:
        raise AssertionError("the oversized frame did not end the connection")
    assert await Bid.objects.filter(lot=lot).acount() == 0


@pytest.mark.redis_only
async def test_a_peer_that_stops_reading_is_dropped_and_nobody_else_waits(start_daphne, lot):
    from bidding.fanout import lot_channel
    from bidding.locks import redis_client

    server = start_daphne(WS_MAX_PENDING_BYTES="1048576", WS_STALL_SECONDS="0.5")
    reader = await connect(server.url, lot.pk)
    # A tiny receive buffer, and max_queue=1: the client stops reading from the network once one message waits.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    raw.setblocking(False)
    stalled = await socket_to(server.url, f"/ws/auctions/{lot.pk}/", max_queue=1, sock=raw)
    assert json.loads(await stalled.recv())["type"] == "snapshot"  # it has joined the lot; from now on it reads nothing
    await until(lambda: redis_client().pubsub_numsub(lot_channel(lot.pk))[0][1], timeout=5)  # the worker subscribed
    filler = "x" * 2000
    count = 5000

    def publish():  # 10 MB for each watcher (more than the kernel buffers), through the real fan-out
        for n in range(count):
            redis_client().publish(lot_channel(lot.pk), json.dumps({"type": "notice", "n": n, "filler": filler}))
            if n % 4 == 0:
                time.sleep(0.001)  # not a wait: a steady stream, as bids arrive, rather than one burst

    publishing = asyncio.create_task(asyncio.to_thread(publish))
    received = 0
    while received < count:
        message = json.loads(await asyncio.wait_for(reader.recv(), 10))
        received += message.get("type") == "notice"
    await publishing
    assert received == count  # the reading socket got everything, undelayed by the stalled one
    with pytest.raises(websockets.ConnectionClosed):
        for _ in range(count + 10):  # what was already in flight drains, then the abort shows
            await asyncio.wait_for(stalled.recv(), 10)
    await reader.close()
