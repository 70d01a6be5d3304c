"""Redis pub/sub is shared by every client of a Redis server, whatever database each selected: a deployment hears
only its own lots' events, and nothing published on Redis can change what a bid is told."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from bidding.fanout import lot_channel
from bidding.locks import redis_client
from bidding.tests.live import connect, reply_to
from conftest import acookie_header, assert_lot_verifies

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis_only]


def _forged_high_bid(lot_id: int, *, amount: int, min_next_bid: int, seq: int) -> str:
    # Shaped as the fan-out's own high_bid text, so a hub that trusted it would act on it.
    return json.dumps(
        {
            "type": "high_bid",
            "lot_id": lot_id,
            "seq": seq,
            "amount": amount,
            "min_next_bid": min_next_bid,
            "server_time": timezone.now().isoformat(),
        }
    )


def _other_database(url: str) -> str:
    base, _, db = url.rpartition("/")
    return f"{base}/{(int(db or 0) + 1) % 16}"


async def _next_message(ws, timeout: float) -> dict | None:
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except TimeoutError:
        return None


async def test_another_deployment_on_the_same_redis_server_is_not_heard(start_daphne, make_lot, seller):
    lot = await sync_to_async(make_lot)(seller=seller)
    server = await sync_to_async(start_daphne)()
    watcher = await connect(server.url, lot.pk)
    with override_settings(REDIS_URL=_other_database(settings.REDIS_URL)):
        elsewhere = lot_channel(lot.pk)
    with override_settings(REDIS_CHANNEL_PREFIX="staging"):
        same_db_other_prefix = lot_channel(lot.pk)

    for channel in (elsewhere, same_db_other_prefix):
        redis_client().publish(channel, _forged_high_bid(lot.pk, amount=999_00, min_next_bid=1000_00, seq=7))
    assert await _next_message(watcher, 1.0) is None, "another deployment's event reached this one's watcher"

    # The watcher does hear this deployment's own channel, so the silence above means something.
    redis_client().publish(lot_channel(lot.pk), _forged_high_bid(lot.pk, amount=5_00, min_next_bid=6_00, seq=1))
    assert (await _next_message(watcher, 5.0))["amount"] == 5_00
    await watcher.close()


async def test_a_forged_publish_cannot_freeze_a_lots_bidding(start_daphne, make_lot, make_user, seller, bidder):
    lot = await sync_to_async(make_lot)(seller=seller)
    server = await sync_to_async(start_daphne)()
    ws = await connect(server.url, lot.pk, await acookie_header(bidder))
    await ws.send(json.dumps({"type": "bid", "amount": 10_00, "bid_id": "first"}))
    accepted = await reply_to(ws, "first")
    assert accepted["type"] == "bid_accepted"

    forged = _forged_high_bid(lot.pk, amount=10**9, min_next_bid=10**12, seq=accepted["seq"] + 1)
    redis_client().publish(lot_channel(lot.pk), forged)
    while json.loads(await asyncio.wait_for(ws.recv(), 5)).get("amount") != 10**9:
        pass  # until the worker has read the forged event and passed it on

    rival = await connect(server.url, lot.pk, await acookie_header(await sync_to_async(make_user)("rival")))
    await rival.send(json.dumps({"type": "bid", "amount": 50_00, "bid_id": "honest"}))
    reply = await reply_to(rival, "honest")
    assert reply["type"] == "bid_accepted", reply
    await ws.close()
    await rival.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)
