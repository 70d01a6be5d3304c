"""Faults and races against real Daphne workers, PostgreSQL and Redis. Every test ends with the audit."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket as socketlib
import subprocess
import time

import pytest
import websockets
from asgiref.sync import sync_to_async

from auctions.models import Lot, LotEvent
from auctions.rules import min_next_bid
from bidding.models import Bid
from bidding.tests.live import bid_over_http, connect, reply_to, socket_to
from conftest import acookie_header, assert_lot_verifies, cookie_header, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


async def high_bid_seqs_until_quiet(ws, quiet: float = 1.0) -> list[int]:
    """The seq of every high_bid that arrives until the socket has been quiet for `quiet` seconds."""
    seqs = []
    try:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), quiet))
            if message["type"] == "high_bid":
                seqs.append(message["seq"])
    except TimeoutError:
        return seqs


async def test_fifty_bidders_one_amount_one_instant_one_winner(daphne_server, lot, make_user):
    users = [await sync_to_async(make_user)(f"racer{i}") for i in range(50)]
    sockets = [await connect(daphne_server, lot.pk, await acookie_header(u)) for u in users]
    watcher = await connect(daphne_server, lot.pk)
    frames = [json.dumps({"type": "bid", "amount": 1_000, "bid_id": f"same-{i}"}) for i in range(50)]
    await asyncio.gather(*(ws.send(frame) for ws, frame in zip(sockets, frames, strict=False)))
    replies = await asyncio.gather(*(reply_to(ws, f"same-{i}") for i, ws in enumerate(sockets)))
    accepted = [r for r in replies if r["type"] == "bid_accepted"]
    assert len(accepted) == 1 and accepted[0]["seq"] == 1
    assert {r["code"] for r in replies if r["type"] == "bid_rejected"} <= {"too_low", "busy"}
    assert await high_bid_seqs_until_quiet(watcher) == [1], "exactly one broadcast"
    fresh = await Lot.objects.aget(pk=lot.pk)
    assert (fresh.seq, fresh.bid_count, fresh.high_bid_amount) == (1, 1, 1_000)
    for ws in [*sockets, watcher]:
        await ws.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def test_one_bid_id_on_two_sockets_at_once_and_after_reconnect_is_one_bid(daphne_server, lot, bidder):
    cookie = await acookie_header(bidder)
    a, b = await connect(daphne_server, lot.pk, cookie), await connect(daphne_server, lot.pk, cookie)
    frame = json.dumps({"type": "bid", "amount": 1_500, "bid_id": "twin"})
    await asyncio.gather(a.send(frame), b.send(frame))
    first, second = await asyncio.gather(reply_to(a, "twin"), reply_to(b, "twin"))
    strip = lambda reply: {k: v for k, v in reply.items() if k != "duplicate"}  # noqa: E731
    assert first["type"] == second["type"] == "bid_accepted"
    assert strip(first) == strip(second), (first, second)
    await a.close()
    c = await connect(daphne_server, lot.pk, cookie)  # a reconnect, then the client's retry
    await c.send(frame)
    assert strip(await reply_to(c, "twin")) == strip(first)
    await c.send(json.dumps({"type": "bid", "amount": 2_000, "bid_id": "twin"}))  # same id, different bid
    changed = await reply_to(c, "twin")
    assert (changed["type"], changed["code"]) == ("bid_rejected", "invalid")
    assert await Bid.objects.filter(lot=lot).acount() == 1
    for ws in (b, c):
        await ws.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def _reconnect(base: str, lot_id: int, cookie: str | None, since_seq: int):
    """What the page does after a close: retry with backoff until a worker takes it, then `sync`."""
    for attempt in range(40):
        try:
            ws = await connect(base, lot_id, cookie)
            await ws.send(json.dumps({"type": "sync", "since_seq": since_seq}))
            return ws
        except (TimeoutError, OSError, websockets.WebSocketException, AssertionError):
            await asyncio.sleep(min(1.0, 0.05 * 2**attempt))  # not a wait: the page's reconnect backoff, copied
    raise AssertionError("could not reconnect")


async def _closed_code(ws, timeout: float) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@pytest.mark.redis_only
async def test_redis_killed_and_restarted_empty_mid_auction(start_daphne, start_redis, lot, bidder, make_user):
    redis = start_redis()
    server = start_daphne("worker", REDIS_URL=f"redis://127.0.0.1:{redis.port}/0")
    rival = await sync_to_async(make_user)("bob")
    cookies = {u: await acookie_header(u) for u in (bidder, rival)}
    alice = await connect(server.url, lot.pk, cookies[bidder])
    watcher = await connect(server.url, lot.pk)
    await alice.send(json.dumps({"type": "bid", "amount": 1_000, "bid_id": "before"}))
    assert (await reply_to(alice, "before"))["type"] == "bid_accepted"

    redis.kill()
    # Sockets are told to go and come back (4503), not left hanging or dropped with a bare 1011.
    assert await _closed_code(watcher, 10) == 4503
    assert await _closed_code(alice, 10) == 4503
    status, during = await sync_to_async(bid_over_http)(server, rival, lot.pk, 1_100, "during")
    assert (status, during["code"]) == (503, "unavailable")
    assert await Bid.objects.filter(lot=lot).acount() == 1  # nothing half-applied

    redis.start()  # empty: no lock keys, no groups, no subscriptions; the worker is not restarted
    alice = await _reconnect(server.url, lot.pk, cookies[bidder], since_seq=1)
    watcher = await _reconnect(server.url, lot.pk, None, since_seq=1)
    bob = await _reconnect(server.url, lot.pk, cookies[rival], since_seq=1)
    await bob.send(json.dumps({"type": "bid", "amount": 1_100, "bid_id": "after"}))
    assert (await reply_to(bob, "after"))["type"] == "bid_accepted"
    while True:  # the watcher hears it live again
        message = json.loads(await asyncio.wait_for(watcher.recv(), 10))
        if message["type"] == "high_bid":
            assert (message["seq"], message["amount"]) == (2, 1_100)
            break
    notice = json.loads(await asyncio.wait_for(alice.recv(), 10))
    while notice["type"] != "outbid":  # personal notices work again: fresh sockets joined fresh groups
        notice = json.loads(await asyncio.wait_for(alice.recv(), 10))
    assert notice["amount"] == 1_100
    for ws in (alice, bob, watcher):
        await ws.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)
    assert await LotEvent.objects.filter(lot=lot).acount() == 2


@pytest.mark.redis_only
async def test_the_first_logged_in_socket_after_redis_returns_gets_its_snapshot_within_a_second(
    start_daphne, start_redis, lot, bidder
):
    redis = start_redis()
    server = start_daphne("worker", REDIS_URL=f"redis://127.0.0.1:{redis.port}/0")
    cookie = await acookie_header(bidder)
    before = await connect(server.url, lot.pk, cookie)  # every pool (layer, caps, lock) now holds connections
    await before.send(json.dumps({"type": "bid", "amount": 1_000, "bid_id": "before"}))
    assert (await reply_to(before, "before"))["type"] == "bid_accepted"

    redis.kill()
    assert await _closed_code(before, 10) == 4503
    redis.start()  # on the same port; the worker is not restarted
    started = time.monotonic()
    after = await connect(server.url, lot.pk, cookie)  # the first try, not a retry loop
    took = time.monotonic() - started
    assert took < 1.0, f"the first socket after Redis returned waited {took:.1f} s for its snapshot"
    await after.send(json.dumps({"type": "bid", "amount": 1_100, "bid_id": "after"}))
    reply = await reply_to(after, "after", timeout=1.0)
    assert reply["type"] == "bid_accepted", reply
    await after.close()


async def test_a_worker_killed_after_commit_the_retry_on_another_gets_the_original_answer(start_daphne, lot, bidder):
    """The worker committed the bid and died before answering (the same state: the row is in, no reply left):
    the client retries the same bid_id on another worker and gets the original outcome; there is one row."""
    from bidding.services import place_bid

    a, b = start_daphne("worker-a"), start_daphne("worker-b")
    cookie = await acookie_header(bidder)
    on_a = await connect(a.url, lot.pk, cookie)
    committed = await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=1_200, bid_id="lost-ack")
    a.proc.kill()
    assert await _closed_code(on_a, 5) in (None, 1006)
    on_b = await connect(b.url, lot.pk, cookie)
    await on_b.send(json.dumps({"type": "bid", "amount": 1_200, "bid_id": "lost-ack"}))
    reply = await reply_to(on_b, "lost-ack")
    assert (reply["type"], reply["seq"], reply["amount"]) == ("bid_accepted", committed.seq, 1_200)
    assert await Bid.objects.filter(lot=lot).acount() == 1
    await on_b.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)


def _postgres(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    if action == "start":
        wait_until(
            lambda: subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0,
            timeout=10,
            interval=0.1,
            failure="PostgreSQL did not come back",
        )


@pytest.mark.restarts_postgres
def test_postgres_restarted_mid_auction(start_daphne, lot, bidder, make_user):
    """A sync test driving its sockets with asyncio.run, so that it can replace its own database connection, which
    dies with the server, before the checks and the teardown."""
    if not (shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql")):
        pytest.fail("this test restarts the local PostgreSQL cluster and needs pg_ctlcluster (Debian)")
    from django.db import connection, connections

    server = start_daphne("worker")
    rival = make_user("bob")
    cookies = cookie_header(bidder), cookie_header(rival)

    async def auction() -> tuple[dict, dict]:
        alice = await connect(server.url, lot.pk, cookies[0])
        bob = await connect(server.url, lot.pk, cookies[1])
        await alice.send(json.dumps({"type": "bid", "amount": 1_000, "bid_id": "before"}))
        assert (await reply_to(alice, "before"))["type"] == "bid_accepted"
        try:
            await asyncio.to_thread(_postgres, "stop")
            await bob.send(json.dumps({"type": "bid", "amount": 1_100, "bid_id": "gap"}))
            gap = await reply_to(bob, "gap")
        finally:
            await asyncio.to_thread(_postgres, "start")
        await bob.send(json.dumps({"type": "bid", "amount": 1_100, "bid_id": "gap"}))  # the same bid, retried
        resumed = await reply_to(bob, "gap")
        for ws in (alice, bob):
            await ws.close()
        return gap, resumed

    gap, resumed = asyncio.run(auction())
    # Ours died with the server (here, and in the thread async tests use for the ORM); the next query reconnects.
    connection.close()
    asyncio.run(sync_to_async(connections.close_all)())
    assert (gap["type"], gap["code"]) == ("bid_rejected", "unavailable")
    assert (resumed["type"], resumed["amount"], resumed["seq"]) == ("bid_accepted", 1_100, 2)
    assert Bid.objects.filter(lot=lot).count() == 2  # nothing half-written in the gap
    assert_lot_verifies(lot.pk)


async def test_a_slow_consumer_misses_events_then_sync_restores_every_one(start_daphne, lot, bidder, make_user):
    """A watcher whose page stops reading for a while (a frozen tab, a phone in a tunnel): the worker does not
    buffer for it without bound. Once WS_MAX_PENDING_BYTES wait unsent, lot events skip it (at most once) while
    everyone else gets them. When it reads again it gets what was queued, sees a seq jump on the next event, and
    `sync` restores every missed event, in order, with no gap and no duplicate.

    The buffers are scaled down (a 64 KiB backlog, an 8 KiB kernel buffer) so that a few hundred bids overflow
    them; the backlog limit stays above the largest burst the worker itself sends (a `sync` replay)."""
    server = start_daphne(
        WS_MAX_PENDING_BYTES="65536",
        WS_SEND_BUFFER_BYTES="8192",
        DB_CONN_MAX_AGE="60",
        WS_RATE_PER_SECOND="1000",
        WS_RATE_BURST="1000",
        WS_USER_RATE_PER_SECOND="1000",
        WS_USER_RATE_BURST="1000",
    )
    rival = await sync_to_async(make_user)("rival")
    bidders = [await connect(server.url, lot.pk, await acookie_header(user)) for user in (bidder, rival)]
    watcher = await connect(server.url, lot.pk)
    raw = socketlib.socket()
    raw.setsockopt(socketlib.SOL_SOCKET, socketlib.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    raw.setblocking(False)
    # max_queue=1: the client library stops reading from the network while one message waits unread.
    slow = await socket_to(server.url, f"/ws/auctions/{lot.pk}/", max_queue=1, sock=raw)
    start_seq = json.loads(await slow.recv())["seq"]
    amount = 1_000

    async def bid(n: int) -> None:
        nonlocal amount
        ws = bidders[n % 2]
        await ws.send(json.dumps({"type": "bid", "amount": amount, "bid_id": f"b{n}"}))
        reply = await reply_to(ws, f"b{n}")
        assert reply["type"] == "bid_accepted", reply
        amount = min_next_bid(starting_price=0, high_bid=reply["amount"])

    rounds = 0
    while "ws_peer_behind" not in server.log_path.read_text() or rounds % 50:
        await bid(rounds)  # the slow page reads nothing meanwhile
        rounds += 1
        assert rounds < 3_000, "the worker never noticed the peer that stopped reading"
    for n in range(rounds, rounds + 100):  # well past the point where its events are skipped
        await bid(n)
    rounds += 100

    live, replayed = await high_bid_seqs_until_quiet(slow), []  # the page resumes: first what was queued for it
    await bid(rounds)  # the next event: the page sees the seq jump and syncs, as static/js/lot.js does
    rounds += 1
    jumped = json.loads(await asyncio.wait_for(slow.recv(), 5))
    assert jumped["type"] == "high_bid" and jumped["seq"] > live[-1] + 1, jumped
    await slow.send(json.dumps({"type": "sync", "since_seq": live[-1]}))
    while (message := json.loads(await asyncio.wait_for(slow.recv(), 5)))["type"] != "synced":
        replayed.append(message["seq"])
    final_seq = start_seq + rounds
    assert live == list(range(start_seq + 1, start_seq + 1 + len(live))), "what was queued arrived in order"
    assert len(live) < rounds - 100, "events were skipped rather than buffered without bound"
    assert live + replayed == list(range(start_seq + 1, final_seq + 1)), "sync restored every missed event"

    watched = []
    while len(watched) < rounds:  # the reading watcher missed nothing and was never cut off
        message = json.loads(await asyncio.wait_for(watcher.recv(), 5))
        if message["type"] == "high_bid":
            watched.append(message["seq"])
    assert watched == list(range(start_seq + 1, final_seq + 1))
    for ws in (*bidders, watcher, slow):
        await ws.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)
