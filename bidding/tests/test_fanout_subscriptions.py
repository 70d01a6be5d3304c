"""The fan-out hub's subscriptions under concurrency: sockets of many users joining at once (a page of bidders
reconnecting after a deploy, say) must all be subscribed on the one connection the hub reads. Real Redis."""
from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from bidding import fanout

pytestmark = pytest.mark.redis_only


async def test_lot_events_and_notices_reach_sockets_that_joined_all_at_once():
    hub = fanout.LotHub(asyncio.get_running_loop())
    lot_id, users = 424_242, list(range(900_001, 900_041))
    events: dict[int, list[str]] = {user: [] for user in users}
    notices: dict[int, list[dict]] = {user: [] for user in users}

    class Socket:
        def __init__(self, user: int) -> None:
            self.user = user

        async def send(self, message: dict) -> None:
            events[self.user].append(message["text"])

        async def notice(self, payload: dict) -> None:
            notices[self.user].append(payload)

    sockets = [Socket(user) for user in users]

    async def open_socket(socket: Socket) -> None:  # in the order a socket opens: its user's notices, then its lot
        await hub.join_user(socket.user, socket, socket.notice)
        await hub.join(lot_id, socket, socket.send)

    try:
        await asyncio.gather(*(open_socket(socket) for socket in sockets))
        await asyncio.sleep(0.2)  # the subscriptions reach Redis
        event = json.dumps({"type": "high_bid", "lot": lot_id, "seq": 1, "amount": 1_000, "min_next_bid": 1_100,
                            "server_time": timezone.now().isoformat()})
        await sync_to_async(fanout.publish)(lot_id, event)
        await sync_to_async(fanout.publish_notices)([(user, json.dumps({"type": "outbid", "to": user}))
                                                     for user in users])
        for _ in range(50):
            if all(events[user] and notices[user] for user in users):
                break
            await asyncio.sleep(0.1)
        assert [user for user in users if events[user] != [event]] == []
        assert [user for user in users if notices[user] != [{"type": "outbid", "to": user}]] == []
    finally:
        for socket in sockets:
            await hub.leave(lot_id, socket)
            await hub.leave_user(socket.user, socket)
        if hub._reader is not None:
            hub._reader.cancel()
        if hub._pubsub is not None:
            await hub._pubsub.aclose()
