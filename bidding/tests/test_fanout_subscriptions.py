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
        await asyncio.sleep(0.2)  # the subscriptions reach Redis
        events = {lot_id: _high_bid(lot_id) for lot_id in lots}
        for lot_id, text in events.items():
            await sync_to_async(fanout.publish)(lot_id, text)
        for _ in range(50):
            if all(heard.values()):
                break
            await asyncio.sleep(0.1)
        assert [lot_id for lot_id in lots if heard[lot_id] != [events[lot_id]]] == []
    finally:
        for socket in sockets:
            await hub.leave(socket.lot_id, socket)
        if hub._reader is not None:
            hub._reader.cancel()
        if hub._pubsub is not None:
            await hub._pubsub.aclose()
