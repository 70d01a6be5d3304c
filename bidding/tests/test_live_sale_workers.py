"""A live sale across real processes: two Daphne workers on one Redis and PostgreSQL, and the closing worker.
Internet bidders on both workers race at one ask; the driving console's socket dies and the sale pauses itself."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from auctions.models import Lot, Sale, SaleRegistration
from bidding.models import Bid
from bidding.services import live
from bidding.tests.live import socket_to
from conftest import assert_lot_verifies, cookie_header

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis_only]

RACERS = 8


async def open_sale(base: str, sale_id: int, cookie: str | None = None):
    ws = await socket_to(base, f"/ws/sales/{sale_id}/", cookie, max_queue=None)
    ws.snapshot = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ws.snapshot["type"] == "sale_snapshot", ws.snapshot
    ws.kept = []
    return ws


async def next_of(ws, match, timeout: float = 10) -> dict:
    """The first message matching, in arrival order; the others are kept for a later look."""
    for index, message in enumerate(ws.kept):
        if match(message):
            return ws.kept.pop(index)
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if match(message):
            return message
        ws.kept.append(message)


@pytest.fixture
def sale_on_block(make_sale, make_user):
    clerk = make_user("clerk", can_bid=False)
    sale = make_sale(lots=1, starting_price=1_000)
    sale.clerks.add(clerk)
    racers = [make_user(f"racer{i}") for i in range(RACERS)]
    for i, user in enumerate(racers):
        SaleRegistration.objects.create(sale=sale, user=user, paddle=5_000 + i, approved=True)
    live.clerk_action(user=clerk, sale_id=sale.pk, action="start")
    live.clerk_action(user=clerk, sale_id=sale.pk, action="offer")
    sale.refresh_from_db()
    return sale, clerk, [cookie_header(user) for user in racers], cookie_header(clerk)


async def test_racing_internet_bids_on_two_workers_one_is_taken_the_rest_told_the_new_ask_at_once(
    start_daphne, sale_on_block
):
    sale, _clerk, cookies, _ = sale_on_block
    workers = [start_daphne(), start_daphne()]
    sockets = [await open_sale(workers[i % 2].url, sale.pk, cookie) for i, cookie in enumerate(cookies)]
    assert {ws.snapshot["block"]["ask"] for ws in sockets} == {1_000}
    for i, ws in enumerate(sockets):
        await ws.send(json.dumps({"type": "live_bid", "amount": 1_000, "bid_id": f"r{i}"}))
    replies = [
        await next_of(ws, lambda m, i=i: m.get("bid_id") == f"r{i}" and m["type"] != "live")
        for i, ws in enumerate(sockets)
    ]
    taken = [r for r in replies if r["type"] == "live_bid_accepted"]
    refused = [r for r in replies if r["type"] == "bid_rejected"]
    assert len(taken) == 1 and len(refused) == RACERS - 1
    assert {(r["code"], r["ask"]) for r in refused} == {("too_low", 1_100)}
    lot = await Lot.objects.aget(pk=sale.current_lot_id)
    assert (lot.high_bid_amount, lot.bid_count, lot.live_ask) == (1_000, 1, 1_100)
    assert await Bid.objects.filter(lot=lot).acount() == 1
    for ws in sockets:  # everyone, on both workers, hears the one bid
        seen = await next_of(ws, lambda m: m["type"] == "live" and m["event"] == "bid")
        assert (seen["amount"], seen["ask"]) == (1_000, 1_100)
        await ws.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def test_the_driving_console_dies_and_the_closing_worker_pauses_the_sale_for_everyone(
    start_daphne, start_closer, sale_on_block
):
    sale, _clerk, cookies, clerk_cookie = sale_on_block
    console_worker, bidder_worker = start_daphne(), start_daphne()
    start_closer()
    bidder = await open_sale(bidder_worker.url, sale.pk, cookies[0])
    console = await open_sale(console_worker.url, sale.pk, clerk_cookie)
    await console.send(json.dumps({"type": "clerk", "action": "claim"}))
    await next_of(console, lambda m: m["type"] == "clerk_done")
    console_worker.proc.kill()  # the console's worker dies, and its socket with it
    paused = await next_of(bidder, lambda m: m["type"] == "live" and m["event"] == "paused", timeout=20)
    assert paused["unattended"] and paused["sale_status"] == "paused"
    assert (await Sale.objects.aget(pk=sale.pk)).driver_channel == ""
    await bidder.close()
    await sync_to_async(assert_lot_verifies)(paused["lot"])
