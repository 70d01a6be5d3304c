"""However a socket ends (a frame it cannot store, an unexpected exception in a handler, a flood close, a peer that
stops reading and vanishes), it gives back everything it held: its per-user and per-address slots, its place in
the lot's watcher count, its fan-out membership and its channel-layer groups. Real Daphne, Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import urllib.request

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from auctions.models import LotEvent
from bidding.services import place_bid
from bidding.tests.live import connect, socket_to
from conftest import acookie_header

pytestmark = pytest.mark.django_db(transaction=True)

INTERNAL_ERROR = 1011

# Frames carrying strings PostgreSQL cannot store: a lone surrogate (legal in JSON, not in UTF-8) or NUL.
UNSTORABLE_FRAMES = [
    r'{"type": "bid", "amount": 1100, "bid_id": "\ud800"}',
    r'{"type": "bid", "amount": 1100, "bid_id": "a\u0000b"}',
    r'{"type": "buy_now", "bid_id": "\udfff"}',
    r'{"type": "bid", "amount": 1100, "bid_id": "ok", "\ud800": 1}',
    r'{"type": "sync", "since_seq": 0, "note": ["\u0000"]}',
]


async def _open(base: str, lot_id: int, cookie: str | None = None):
    """(socket, None) when admitted, snapshot read; (None, close code) when refused."""
    socket = await socket_to(base, f"/ws/auctions/{lot_id}/", cookie)
    try:
        first = json.loads(await asyncio.wait_for(socket.recv(), 5))
    except websockets.ConnectionClosed as closed:
        return None, closed.rcvd.code if closed.rcvd else None
    assert first["type"] == "snapshot", first
    return socket, None


async def _frames_received(server, count: int, timeout: float = 10) -> bool:
    """Wait until the worker has read `count` frames from lot sockets (its /metrics, read from loopback)."""

    def scrape() -> float:
        with urllib.request.urlopen(f"{server.http}/metrics", timeout=5) as response:
            text = response.read().decode()
        return sum(
            float(value)
            for value in re.findall(r'^gavel_ws_messages_in_total\{socket="lot",[^}]*\} (\S+)$', text, re.M)
        )

    deadline = asyncio.get_running_loop().time() + timeout
    while await asyncio.to_thread(scrape) < count:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _watchers_become(observer, expected: int, timeout: float = 10) -> int:
    """Ping until the lot's watcher count (counted across processes, a second or so behind) is `expected`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await observer.send(json.dumps({"type": "ping"}))
        while (pong := json.loads(await asyncio.wait_for(observer.recv(), 5)))["type"] != "pong":
            pass
        if pong["watchers"] == expected or loop.time() > deadline:
            return pong["watchers"]
        await asyncio.sleep(0.3)  # the observer's own budget: 5 messages a second


async def test_frames_that_cannot_be_stored_are_invalid_and_leak_nothing(start_daphne, lot, bidder):
    server = start_daphne()
    cookie = await acookie_header(bidder)
    observer = await connect(server.url, lot.pk)
    for n in range(25):  # more than WS_MAX_SOCKETS_PER_USER (20): a leaked slot per frame would lock the user out
        socket, refused = await _open(server.url, lot.pk, cookie)
        assert socket is not None, f"socket {n} refused with {refused}"
        await socket.send(UNSTORABLE_FRAMES[n % len(UNSTORABLE_FRAMES)])
        reply = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert (reply["type"], reply["code"]) == ("error", "invalid"), reply
        await socket.close()
        await asyncio.sleep(0.12)  # about 8 messages a second: under the user's budget (twice WS_RATE_PER_SECOND)
    sockets = []
    for _ in range(5):
        socket, refused = await _open(server.url, lot.pk, cookie)
        assert socket is not None, f"refused with {refused}: slots leaked"
        sockets.append(socket)
    assert await _watchers_become(observer, 6) == 6, "the observer and the 5 sockets, no phantoms"
    assert await LotEvent.objects.filter(lot=lot).acount() == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log and "UnicodeEncodeError" not in log, log[-3000:]
    for socket in [*sockets, observer]:
        await socket.close()


@pytest.fixture
def lot_events_break():
    """Reading a lot's stored events fails inside PostgreSQL, as an unexpected database error would (the table is
    renamed away, and back at the end)."""
    table = LotEvent._meta.db_table

    def rename(old: str, new: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{old}" RENAME TO "{new}"')

    broken = [False]

    def break_() -> None:
        rename(table, f"{table}_away")
        broken[0] = True

    yield sync_to_async(break_)
    if broken[0]:
        rename(f"{table}_away", table)


async def test_an_unexpected_exception_in_a_handler_still_releases_everything(
    start_daphne, lot, bidder, lot_events_break
):
    server = start_daphne(WS_MAX_SOCKETS_PER_USER="2")
    cookie = await acookie_header(bidder)
    observer = await connect(server.url, lot.pk)
    doomed = [(await _open(server.url, lot.pk, cookie))[0] for _ in range(2)]
    assert all(doomed)
    assert await _watchers_become(observer, 3) == 3
    await lot_events_break()
    for socket in doomed:  # `sync` reads the events: the handler raises, and nothing in the consumer expects it
        await socket.send(json.dumps({"type": "sync", "since_seq": 0}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd.code == INTERNAL_ERROR
    assert await _watchers_become(observer, 1) == 1, "the crashed sockets still counted as watchers"
    again = [(await _open(server.url, lot.pk, cookie)) for _ in range(2)]
    assert [refused for _, refused in again] == [None, None], "the crashed sockets' slots were never given back"
    assert await _watchers_become(observer, 3) == 3
    for socket, _ in again:
        await socket.close()
    await observer.close()


async def test_a_flooder_that_stops_reading_and_vanishes_is_logged_once_and_leaks_nothing(start_daphne, lot, bidder):
    server = start_daphne(LOG_LEVEL="INFO")
    await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b1")
    observer = await connect(server.url, lot.pk)
    flooder = await connect(server.url, lot.pk)
    flooder.transport.pause_reading()  # it never reads again: the close frame it is sent stays unanswered
    sync = json.dumps({"type": "sync", "since_seq": 0})
    flood = 3 * settings.WS_FLOOD_CLOSE_AFTER + settings.WS_RATE_BURST
    for _ in range(flood):
        await flooder.send(sync)
    await _frames_received(server, flood)  # (never, when one of them ended its consumer)
    # Its bucket refills a token, so a frame now would be in budget, still within the second the worker waits for
    # an answer to its close frame (autobahn's closing handshake timeout) before dropping the connection.
    await asyncio.sleep(1.2 / settings.WS_RATE_PER_SECOND)
    with contextlib.suppress(websockets.ConnectionClosed):  # the worker may have dropped it already
        for _ in range(3):
            await flooder.send(sync)
    await _frames_received(server, flood + 3)  # (never, when the first of them ended its consumer)
    flooder.transport.abort()  # and it vanishes
    assert await _watchers_become(observer, 1) == 1, "the flooder still counted as a watcher"

    def closes_logged() -> list[dict]:
        lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("event") == "ws_close"]

    for _ in range(500):  # until the flooder's consumer has ended (its goodbye is logged)
        if closes_logged():
            break
        await asyncio.sleep(0.02)
    log = server.log_path.read_text()
    assert len(closes_logged()) == 1, log[-3000:]
    assert log.count('"ws_flood_closed"') == 1, log[-3000:]
    assert "Traceback" not in log and "closed protocol" not in log, log[-3000:]
    await observer.close()
