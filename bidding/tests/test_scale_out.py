"""Two Daphne workers and a closing worker on one PostgreSQL and one Redis, as in production (all real processes).

A bid sent to worker A reaches watchers on worker B; watcher counts add up across both; killing A mid-auction
loses no accepted bid, its clients reconnect to B and `sync` with no gap in sequence numbers; the lot closes
exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.utils import timezone

from auctions.models import Lot, LotEvent
from bidding.models import Bid
from bidding.tests.live import connect, reply_to, socket_to, until
from conftest import acookie_header, assert_lot_verifies

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis_only]


class LotClient:
    """What the lot page does: follow events by seq, repair gaps with `sync`, fail over to another worker, retry a
    bid with its bid_id."""

    def __init__(self, name: str, lot_id: int, servers: list, cookie: str | None = None) -> None:
        self.name, self.lot_id, self.servers, self.cookie = name, lot_id, servers, cookie
        self.events: dict[int, dict] = {}
        self.last_seq: int | None = None
        self.min_next = 0
        self.replies: dict[str, asyncio.Future] = {}
        self.socket = None
        self.reconnects = 0
        self.connected = asyncio.Event()

    async def connect(self, server) -> None:
        self.socket = await connect(server.url, self.lot_id, self.cookie)
        self.server = server
        snapshot = self.socket.snapshot
        self.min_next = max(self.min_next, snapshot["min_next_bid"])
        if self.last_seq is None:
            self.last_seq = snapshot["seq"]
        else:
            await self.socket.send(json.dumps({"type": "sync", "since_seq": self.last_seq}))
        self.connected.set()
        self.reader = asyncio.create_task(self._read(self.socket))

    async def _read(self, socket) -> None:
        try:
            async for raw in socket:
                self._handle(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        if socket is self.socket:
            await self._fail_over()

    async def _fail_over(self) -> None:
        """Reconnect with backoff, trying the other workers first, as the page does."""
        self.connected.clear()
        self.reconnects += 1
        failed = self.server
        candidates = [server for server in self.servers if server is not failed] + [failed]
        for attempt in range(20):
            await asyncio.sleep(min(1.0, 0.05 * 2**attempt))  # not a wait: the page's reconnect backoff, copied
            try:
                await self.connect(candidates[attempt % len(candidates)])
                return
            except (TimeoutError, OSError, websockets.WebSocketException):
                continue
        raise AssertionError(f"{self.name} could not reconnect")

    def _handle(self, message: dict) -> None:
        if "min_next_bid" in message:
            self.min_next = max(self.min_next, message["min_next_bid"])
        if message["type"] in ("high_bid", "closed"):
            seq = message["seq"]
            if seq > self.last_seq + 1:  # a gap: ask the database for what was missed
                asyncio.create_task(self.socket.send(json.dumps({"type": "sync", "since_seq": self.last_seq})))
                return
            if seq == self.last_seq + 1:
                self.events[seq] = message
                self.last_seq = seq
        elif message["type"] == "resync":
            asyncio.create_task(self.socket.send(json.dumps({"type": "sync", "since_seq": self.last_seq})))
        elif message["type"] in ("bid_accepted", "bid_rejected"):
            future = self.replies.get(message["bid_id"])
            if future is not None and not future.done():
                future.set_result(message)

    async def bid(self, amount: int) -> dict:
        """Send a bid; if the worker dies before answering, send the same bid_id again on the other one."""
        bid_id = uuid.uuid4().hex
        for _ in range(5):
            await self.connected.wait()
            future = self.replies[bid_id] = asyncio.get_running_loop().create_future()
            sent_on = self.socket
            try:
                await sent_on.send(json.dumps({"type": "bid", "amount": amount, "bid_id": bid_id}))
                return await asyncio.wait_for(future, 3)
            except websockets.ConnectionClosed:
                await until(lambda sent_on=sent_on: self.socket is not sent_on)  # the reader has begun failing over
            except TimeoutError:
                continue  # no answer yet: the same bid_id again (a retry gets the original answer)
        raise AssertionError(f"{self.name}: no answer to bid {bid_id}")

    async def close(self) -> None:
        socket, self.socket = self.socket, None
        await socket.close()


async def _dashboard_count(server, cookie: str, lot_id: int, expected: int) -> int:
    socket = await socket_to(server.url, "/ws/seller/", cookie)
    seen = None
    deadline = time.monotonic() + 10
    try:
        while seen != expected and time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if message["type"] == "seller_snapshot":
                seen = next(row["watchers"] for row in message["lots"] if row["id"] == lot_id)
            elif message["type"] == "watchers":
                seen = message["lots"].get(str(lot_id), seen)
    finally:
        await socket.close()
    return seen


async def test_two_workers_and_a_closer_run_one_auction_and_survive_losing_a_worker(
    start_daphne, start_closer, make_lot, seller, make_user
):
    a, b = start_daphne("worker-a"), start_daphne("worker-b")
    start_closer()
    try:
        lot = await sync_to_async(make_lot)(seller=seller, ends_in=timedelta(minutes=5), soft_close_window=0)
        alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")
        cookies = {user: await acookie_header(user) for user in (alice, bob, seller)}
        servers = [a, b]

        bidder_a = LotClient("alice@A", lot.pk, servers, cookies[alice])
        bidder_b = LotClient("bob@B", lot.pk, servers, cookies[bob])
        watchers = [LotClient(f"watcher{i}@{'AB'[i % 2]}", lot.pk, servers) for i in range(5)]
        await bidder_a.connect(a)
        await bidder_b.connect(b)
        for i, watcher in enumerate(watchers):
            await watcher.connect(servers[i % 2])
        clients = [bidder_a, bidder_b, *watchers]

        # 1. A bid sent to worker A reaches everyone on worker B (and A).
        first = await bidder_a.bid(bidder_a.min_next)
        assert first["type"] == "bid_accepted" and first["seq"] == 1
        await until(
            lambda: all(1 in client.events for client in clients),
            timeout=5,
            failure=lambda: f"not heard by {[c.name for c in clients if 1 not in c.events]}",
        )

        # 2. Watcher counts add up across both workers (3 lot sockets on A, 4 on B).
        assert await _dashboard_count(b, cookies[seller], lot.pk, expected=7) == 7

        # 3. Both bid on; worker A is SIGKILLed mid-auction; its clients fail over to B and resync.
        accepted: dict[int, int] = {first["seq"]: first["amount"]}

        async def keep_bidding(client: LotClient, rounds: int) -> None:
            for _ in range(rounds):
                reply = await client.bid(client.min_next)
                if reply["type"] == "bid_accepted":
                    accepted[reply["seq"]] = reply["amount"]
                else:
                    assert reply["code"] in ("too_low", "busy"), reply
                await asyncio.sleep(0.25)  # not a wait: a bidder's pace, inside the per-connection rate limit

        async def kill_a_mid_auction() -> None:
            await until(lambda: len(accepted) >= 4, timeout=30)
            a.proc.kill()

        await asyncio.gather(keep_bidding(bidder_a, 12), keep_bidding(bidder_b, 12), kill_a_mid_auction())
        assert a.proc.wait(5) == -9
        assert bidder_a.reconnects >= 1 and all(w.reconnects >= 1 for w in watchers[0::2])

        await sync_to_async(assert_lot_verifies)(lot.pk)  # the log replays to exactly what is stored

        # 4. The lot closes exactly once, by the closing worker, heard by everyone (now all on B).
        await Lot.objects.filter(pk=lot.pk).aupdate(ends_at=timezone.now() + timedelta(seconds=1))

        async def closed_and_heard() -> Lot | None:
            final = await Lot.objects.aget(pk=lot.pk)
            heard = final.status == Lot.Status.CLOSED and all(final.seq in c.events for c in clients)
            return final if heard else None

        final = await until(
            closed_and_heard,
            timeout=10,
            interval=0.1,
            failure=lambda: (
                "the close was not heard by "
                + str([c.name for c in clients if "closed" not in [e["type"] for e in c.events.values()]])
            ),
        )

        # The audit: nothing acknowledged is missing, no gaps, one close, one winner.
        stored = await sync_to_async(lambda: dict(Bid.objects.filter(lot=lot).values_list("seq", "amount")))()
        assert accepted.items() <= stored.items(), "an acknowledged bid is not in the database"
        assert sorted(stored) == list(range(1, final.seq)), "bid sequence numbers have gaps"
        assert final.high_bid_amount == max(stored.values()) == stored[final.seq - 1]
        closes = await LotEvent.objects.filter(lot=lot, payload__type="closed").acount()
        assert closes == 1
        assert final.winner_id in (alice.pk, bob.pk)
        for client in clients:
            assert sorted(client.events) == list(range(1, final.seq + 1)), f"{client.name} has a gap"
            assert [e["type"] for e in client.events.values()].count("closed") == 1
    finally:
        for client in locals().get("clients", []):
            if client.socket is not None:
                client.reader.cancel()
                await client.socket.close()


async def test_a_personal_notice_reaches_every_socket_of_its_user_on_another_worker(
    start_daphne, lot, bidder, make_user
):
    """Personal notices cross workers (the channel layer's user groups): Bob outbids on worker B, and Alice hears
    it on both of her sockets on worker A, the lot page and her personal socket."""
    a, b = start_daphne("worker-a"), start_daphne("worker-b")
    rival = await sync_to_async(make_user)("bob")
    alice_cookie = await acookie_header(bidder)
    alice = await connect(a.url, lot.pk, alice_cookie)
    me = await socket_to(a.url, "/ws/me/", alice_cookie)
    assert json.loads(await asyncio.wait_for(me.recv(), 5))["type"] == "me"
    await alice.send(json.dumps({"type": "bid", "amount": 1_000, "bid_id": "a1"}))
    assert (await reply_to(alice, "a1"))["type"] == "bid_accepted"
    bob = await connect(b.url, lot.pk, await acookie_header(rival))
    await bob.send(json.dumps({"type": "bid", "amount": 1_100, "bid_id": "b1"}))
    assert (await reply_to(bob, "b1"))["type"] == "bid_accepted"
    for socket in (alice, me):
        while (notice := json.loads(await asyncio.wait_for(socket.recv(), 5)))["type"] != "outbid":
            pass
        assert (notice["lot"], notice["amount"], notice["min_next_bid"]) == (lot.pk, 1_100, 1_200)
    for socket in (alice, me, bob):
        await socket.close()
