"""The fan-out hub's subscriptions under concurrency: the first sockets of many lots opening at once (a page of
lots after a deploy, the benchmark's many-lots run) must all be subscribed on the one connection the hub reads.
Real Redis."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from bidding import fanout
from bidding.locks import redis_client
from bidding.tests.live import until

pytestmark = pytest.mark.redis_only


def _high_bid(lot_id: int) -> str:
    return json.dumps(
        {
            "type": "high_bid",
            "lot": lot_id,
            "seq": 1,
            "amount": 1_000,
            "min_next_bid": 1_100,
            "server_time": timezone.now().isoformat(),
        }
    )


async def test_every_lot_whose_first_socket_joined_at_the_same_time_hears_its_events():
    hub = fanout.LotHub(asyncio.get_running_loop())
    lots = list(range(900_001, 900_041))
    heard: dict[int, list[str]] = {lot_id: [] for lot_id in lots}

    class Socket:
        def __init__(self, lot_id: int) -> None:
            self.lot_id = lot_id

        async def send(self, message: dict) -> None:
            heard[self.lot_id].append(message["text"])

    sockets = [Socket(lot_id) for lot_id in lots]
    try:
        await asyncio.gather(*(hub.join(socket.lot_id, socket, socket.send) for socket in sockets))
        channels = [fanout.lot_channel(lot_id) for lot_id in lots]
        await until(lambda: all(count for _, count in redis_client().pubsub_numsub(*channels)), timeout=5)
        events = {lot_id: _high_bid(lot_id) for lot_id in lots}
        for lot_id, text in events.items():
            await sync_to_async(fanout.publish)(lot_id, text)
        await until(
            lambda: all(heard.values()),
            timeout=5,
            interval=0.1,
            failure=lambda: f"deaf lots: {[lot_id for lot_id in lots if not heard[lot_id]]}",
        )
        assert [lot_id for lot_id in lots if heard[lot_id] != [events[lot_id]]] == []
    finally:
        for socket in sockets:
            await hub.leave(socket.lot_id, socket)
        if hub._reader is not None:
            hub._reader.cancel()
        if hub._pubsub is not None:
            await hub._pubsub.aclose()
