"""A `sync` of a few bytes can ask for hundreds of stored events: each socket pays for its replays per message, so a
reconnect gets its whole replay at once and a replay flood is refused until the budget refills."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from bidding.services import place_bid
from bidding.tests.live import connect
from conftest import acookie_header

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 120


@sync_to_async
def _lot_with_history(make_lot, make_user, seller) -> int:
    lot = make_lot(seller=seller)
    rivals = [make_user("replay-a"), make_user("replay-b")]
    amount = lot.starting_price
    for n in range(EVENTS):
        amount = place_bid(user=rivals[n % 2], lot_id=lot.pk, amount=amount, bid_id=f"history-{n}").min_next_bid
    return lot.pk


async def _replay(ws, since_seq: int) -> list[dict]:
    """What one `sync` brings: every message up to `synced`, or the refusal."""
    await ws.send(json.dumps({"type": "sync", "since_seq": since_seq}))
    received = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        received.append(message)
        if message["type"] in ("synced", "error", "snapshot"):
            return received


async def test_a_reconnect_gets_its_whole_replay_and_a_replay_flood_is_refused(
    start_daphne, make_lot, make_user, seller
):
    lot_id = await _lot_with_history(make_lot, make_user, seller)
    server = await sync_to_async(start_daphne)()

    # Anonymous, as the attacker was: the first full replay comes at once, in order.
    ws = await connect(server.url, lot_id)
    first = await _replay(ws, 0)
    assert [m["seq"] for m in first[:-1]] == list(range(1, EVENTS + 1))
    assert first[-1]["type"] == "synced"

    # Asking again and again for the same history: served while the socket's budget pays for it, then refused.
    served, started = len(first), time.monotonic()
    for _ in range(20):
        again = await _replay(ws, 0)
        if again[-1]["type"] == "error":
            break
        served += len(again)
    refilled = (time.monotonic() - started) * settings.SYNC_REPLAY_EVENTS_PER_SECOND
    assert served <= settings.SYNC_MAX_EVENTS + 1 + refilled, "replays were not paid for per message"
    assert len(again) == 1 and again[0]["code"] == "rate_limited", again
    assert again[0]["retry_after_ms"] > 0
    for _ in range(3):  # and stays refused while nothing has refilled
        assert (await _replay(ws, 0))[0]["code"] == "rate_limited"

    # A short sync is still cheap enough once a little budget has come back.
    await asyncio.sleep(again[0]["retry_after_ms"] / 1000)  # waits out the time the server named, as a client would
    tail = await _replay(ws, EVENTS - 1)
    assert [m["type"] for m in tail] == ["high_bid", "synced"]
    await ws.close()


async def test_every_socket_and_every_reconnect_has_its_own_budget(start_daphne, make_lot, make_user, seller, bidder):
    lot_id = await _lot_with_history(make_lot, make_user, seller)
    server = await sync_to_async(start_daphne)()
    cookie = await acookie_header(bidder)
    for _ in range(3):  # a bidder whose connection drops three times in a row loses nothing
        ws = await connect(server.url, lot_id, cookie)
        replay = await _replay(ws, 0)
        assert replay[-1]["type"] == "synced" and len(replay) == EVENTS + 1
        await ws.close()
