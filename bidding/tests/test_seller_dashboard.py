"""ws/seller/: a seller's lots live, with watcher counts added up across processes (through Redis)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from auctions.models import Lot, LotEvent
from auctions.services import create_lot
from bidding import presence
from bidding.locks import redis_client
from bidding.process import ALIVE_KEY
from bidding.protocol import CLOSE_NOT_AUTHENTICATED
from bidding.services import place_bid
from bidding.tests.live import connect

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def open_dashboard(open_path):
    return lambda user=None: open_path("/ws/seller/", user)


async def next_of(socket, kind: str, *, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


async def test_the_snapshot_comes_first_and_a_bid_committed_while_it_is_read_follows_it(
    open_dashboard, make_lot, seller, bidder, monkeypatch
):
    from bidding import fanout
    from bidding.consumers import seller as consumers

    lot = await sync_to_async(make_lot)(seller=seller)
    read_dashboard = consumers._seller_dashboard

    async def dashboard_while_a_bid_commits(seller_id):
        rows = await read_dashboard(seller_id)
        outcome = await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="meanwhile")
        event = await LotEvent.objects.aget(lot_id=lot.pk, seq=outcome.seq)
        await fanout.hub().deliver(lot.pk, json.dumps(event.payload))  # as the commit's broadcast would, now
        return rows

    monkeypatch.setattr(consumers, "_seller_dashboard", dashboard_while_a_bid_commits)
    dashboard = await open_dashboard(seller)
    first = await dashboard.receive_json_from(timeout=5)
    assert first["type"] == "seller_snapshot", "the snapshot is the first message"
    meanwhile = await dashboard.receive_json_from(timeout=3)
    assert (meanwhile["type"], meanwhile["lot"], meanwhile["seq"]) == ("high_bid", lot.pk, 1), "and nothing is lost"


async def test_anonymous_dashboard_is_closed_with_4401(open_dashboard):
    dashboard = await open_dashboard()
    assert (await dashboard.receive_output(timeout=3))["code"] == CLOSE_NOT_AUTHENTICATED


async def test_the_seller_sees_their_own_lots_only_with_their_reserve(open_dashboard, make_lot, seller, make_user):
    mine = await sync_to_async(make_lot)(seller=seller, reserve_price=5_000)
    await sync_to_async(make_lot)(seller=await sync_to_async(make_user)("other-seller"))
    dashboard = await open_dashboard(seller)
    snapshot = await next_of(dashboard, "seller_snapshot")
    assert [(row["id"], row["reserve_price"], row["reserve_met"], row["watchers"]) for row in snapshot["lots"]] == [
        (mine.pk, 5_000, False, 0)
    ]


async def test_bids_on_any_of_my_lots_arrive_live_without_anyones_maximum(
    open_dashboard, make_lot, seller, bidder, make_user
):
    first = await sync_to_async(make_lot)(seller=seller)
    second = await sync_to_async(make_lot)(seller=seller, reserve_price=3_000)
    dashboard = await open_dashboard(seller)
    await next_of(dashboard, "seller_snapshot")
    await sync_to_async(place_bid)(user=bidder, lot_id=second.pk, amount=1_000, bid_id="a", max_amount=9_000)
    bid = await next_of(dashboard, "high_bid")
    assert (bid["lot"], bid["amount"], bid["reserve_met"], bid["bid_count"]) == (second.pk, 3_000, True, 1)
    bob = await sync_to_async(make_user)("bob")
    await sync_to_async(place_bid)(user=bob, lot_id=first.pk, amount=1_000, bid_id="b")
    assert (await next_of(dashboard, "high_bid"))["lot"] == first.pk
    await dashboard.send_json_to({"type": "refresh"})
    rows = (await next_of(dashboard, "seller_snapshot"))["lots"]
    assert "9000" not in json.dumps(rows) and "max" not in json.dumps(rows)


async def test_a_lot_listed_while_the_dashboard_is_open_joins_it(open_dashboard, seller, bidder):
    dashboard = await open_dashboard(seller)
    assert (await next_of(dashboard, "seller_snapshot"))["lots"] == []
    now = timezone.now()
    lot = await sync_to_async(create_lot)(
        seller=seller, title="New", starting_price=500, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    listed = await next_of(dashboard, "seller_lot")
    assert (listed["lot"]["id"], listed["lot"]["title"], listed["lot"]["status"]) == (lot.pk, "New", "open")
    await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=500, bid_id="a")
    assert (await next_of(dashboard, "high_bid"))["lot"] == lot.pk


async def test_sync_is_checked_for_ownership_on_every_message(open_dashboard, make_lot, seller, bidder, make_user):
    mine = await sync_to_async(make_lot)(seller=seller)
    theirs = await sync_to_async(make_lot)(seller=await sync_to_async(make_user)("other-seller"))
    await sync_to_async(place_bid)(user=bidder, lot_id=mine.pk, amount=1_000, bid_id="a")
    dashboard = await open_dashboard(seller)
    await next_of(dashboard, "seller_snapshot")
    await dashboard.send_json_to({"type": "sync", "lot": theirs.pk, "since_seq": 0})
    refusal = await next_of(dashboard, "error")
    assert (refusal["code"], refusal["reason"]) == ("forbidden", "not_owner")
    await dashboard.send_json_to({"type": "sync", "lot": mine.pk, "since_seq": 0})
    assert (await next_of(dashboard, "high_bid"))["seq"] == 1
    assert (await next_of(dashboard, "synced"))["seq"] == 1
    for bad in (
        {"type": "sync", "lot": str(mine.pk), "since_seq": 0},
        {"type": "sync", "lot": True, "since_seq": 0},
        {"type": "sync", "lot": mine.pk, "since_seq": -1},
    ):
        await dashboard.send_json_to(bad)
        assert (await next_of(dashboard, "error"))["code"] == "invalid"
    assert (await Lot.objects.aget(pk=mine.pk)).seq == 1  # reads only: nothing changed
    await dashboard.send_json_to({"type": "bid", "amount": 5_000, "bid_id": "x"})  # not a dashboard message
    assert (await next_of(dashboard, "error"))["code"] == "invalid"


@override_settings(PRESENCE_INTERVAL_SECONDS=0.1)
async def test_watchers_are_counted_live(open_dashboard, open_socket, lot, seller):
    dashboard = await open_dashboard(seller)
    await next_of(dashboard, "seller_snapshot")
    a = await open_socket(lot.pk)
    await open_socket(lot.pk)
    await counted(dashboard, {str(lot.pk): 2})
    await a.disconnect()
    await counted(dashboard, {str(lot.pk): 1})


async def counted(dashboard, expected: dict, attempts: int = 10) -> None:
    """The dashboard's watcher counts reach `expected` (a tick may land between two sockets opening)."""
    for _ in range(attempts):
        if (await next_of(dashboard, "watchers"))["lots"] == expected:
            return
    raise AssertionError(f"the dashboard never counted {expected}")


@pytest.mark.redis_only
async def test_counts_from_other_processes_add_up_and_dead_ones_drop_out(lot):
    key = presence.lot_key(lot.pk)
    redis_client().hset(key, mapping={"worker-a": 3, "worker-b": 4, "crashed": 50})
    redis_client().zadd(
        ALIVE_KEY,
        {
            "worker-a": time.time(),
            "worker-b": time.time(),
            "crashed": time.time() - settings.PRESENCE_STALE_SECONDS - 1,
        },
    )
    assert await presence.watcher_counts([lot.pk]) == {lot.pk: 7}


@pytest.mark.redis_only
async def test_watchers_on_another_daphne_process_are_counted(daphne_server, open_dashboard, lot, seller):
    """Watchers connect to a real Daphne in another process; the dashboard here sees them through Redis."""
    watchers = [await connect(daphne_server, lot.pk) for _ in range(3)]
    try:
        dashboard = await open_dashboard(seller)
        await next_of(dashboard, "seller_snapshot")
        deadline = time.monotonic() + 10
        seen = None
        while seen != 3 and time.monotonic() < deadline:
            seen = (await next_of(dashboard, "watchers", timeout=10))["lots"].get(str(lot.pk))
        assert seen == 3
    finally:
        for socket in watchers:
            await socket.close()
