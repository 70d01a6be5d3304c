"""Real concurrent clients over real sockets to a running Daphne, on real PostgreSQL (and Redis)."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import uuid

import pytest
from asgiref.sync import sync_to_async

from auctions.models import Lot
from bidding.models import Bid
from bidding.tests.live import connect, until
from conftest import assert_lot_verifies, cookie_header

pytestmark = pytest.mark.django_db(transaction=True)

BIDDERS = 32
BIDS_EACH = 12


@pytest.fixture
def racers(make_user):
    users = [make_user(f"racer{i:02d}") for i in range(BIDDERS)]
    return [(user, cookie_header(user)) for user in users]


async def _bidder(base: str, lot_id: int, cookie: str, acks: list, refusals: list, ready: list, start: asyncio.Event):
    socket = await connect(base, lot_id, cookie)
    min_next = socket.snapshot["min_next_bid"]
    ready.append(socket)
    await start.wait()
    try:
        for _ in range(BIDS_EACH):
            bid_id = uuid.uuid4().hex
            # Most bid exactly the minimum, so many race for one price; some jump ahead.
            amount = min_next + random.choice((0, 0, 0, 1, 50))
            await socket.send(json.dumps({"type": "bid", "amount": amount, "bid_id": bid_id}))
            while True:  # broadcasts interleave with our reply; they also keep min_next current
                message = json.loads(await asyncio.wait_for(socket.recv(), 15))
                if "min_next_bid" in message and message["type"] in ("high_bid", "bid_rejected"):
                    min_next = max(min_next, message["min_next_bid"])
                if message.get("bid_id") == bid_id:
                    break
            (acks if message["type"] == "bid_accepted" else refusals).append(message)
            # Not a wait: a bidder's pace, inside the per-connection rate limit.
            await asyncio.sleep(random.uniform(0.15, 0.3))
    finally:
        await socket.close()


async def test_racing_bidders_never_lose_an_update_or_accept_a_price_twice(daphne_server, lot, racers):
    watcher = await connect(daphne_server, lot.pk)
    acks: list[dict] = []
    refusals: list[dict] = []
    ready: list = []
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(_bidder(daphne_server, lot.pk, cookie, acks, refusals, ready, start))
        for _, cookie in racers
    ]
    await until(lambda: len(ready) == BIDDERS or any(task.done() for task in tasks), timeout=30)
    start.set()  # every racer has its socket and its snapshot: they start together
    await asyncio.gather(*tasks)

    accepted = sorted((ack["seq"], ack["amount"]) for ack in acks)
    seqs = [seq for seq, _ in accepted]
    amounts = [amount for _, amount in accepted]
    assert len(accepted) >= BIDS_EACH  # about one winner per round of 32 racing bids
    assert seqs == list(range(1, len(accepted) + 1)), "sequence numbers have gaps or repeats"
    assert all(a < b for a, b in itertools.pairwise(amounts)), "an accepted bid was not higher than the previous one"
    assert any(r["code"] == "too_low" for r in refusals), "the bidders never actually raced"
    assert {r["code"] for r in refusals} <= {"too_low", "busy"}, refusals

    broadcasts = []
    while len(broadcasts) < len(accepted):
        message = json.loads(await asyncio.wait_for(watcher.recv(), 10))
        if message["type"] == "high_bid":
            broadcasts.append((message["seq"], message["amount"]))
    await watcher.close()
    assert broadcasts == accepted, "the watcher did not see every accepted bid, in order"

    stored = await sync_to_async(
        lambda: list(Bid.objects.filter(lot=lot).order_by("seq").values_list("seq", "amount"))
    )()
    assert stored == accepted, "the database and the acknowledgements disagree"
    final = await Lot.objects.aget(pk=lot.pk)
    assert (final.high_bid_amount, final.seq, final.bid_count) == (broadcasts[-1][1], len(accepted), len(accepted))
    await sync_to_async(assert_lot_verifies)(lot.pk)
