"""The watchlist and the personal socket ws/me/: outbid, lot_closing_soon, lot_closed, won, wherever one is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from auctions.models import Lot, Watch
from bidding.closing import close_due_lots, send_closing_soon
from bidding.protocol import CLOSE_NOT_AUTHENTICATED
from bidding.services import place_bid
from conftest import long_ended


@pytest.fixture
def open_me(open_path):
    return lambda user=None: open_path("/ws/me/", user)


@pytest.mark.django_db
def test_watch_and_unwatch_over_http(lot, bidder):
    api = APIClient()
    assert api.put(f"/api/me/watchlist/{lot.pk}/").status_code == 401
    api.force_authenticate(bidder)
    assert api.put(f"/api/me/watchlist/{lot.pk}/").json() == {"lot": lot.pk, "watching": True}
    assert api.put(f"/api/me/watchlist/{lot.pk}/").status_code == 200  # idempotent
    assert api.get("/api/me/watchlist/").json() == {"lots": [lot.pk]}
    assert api.put("/api/me/watchlist/987654/").status_code == 404
    assert api.delete(f"/api/me/watchlist/{lot.pk}/").json() == {"lot": lot.pk, "watching": False}
    assert not Watch.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_anonymous_personal_socket_is_closed_with_4401(open_me):
    socket = await open_me()
    assert (await socket.receive_output(timeout=3)).get("code") == CLOSE_NOT_AUTHENTICATED


@pytest.mark.django_db(transaction=True)
async def test_personal_socket_greets_with_the_watchlist_and_hears_outbid(open_me, lot, bidder, make_user):
    await Watch.objects.acreate(user=bidder, lot=lot)
    me = await open_me(bidder)
    hello = await me.receive_json_from(timeout=3)
    assert (hello["type"], hello["watching"]) == ("me", [lot.pk])
    await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a")
    rival = await sync_to_async(make_user)("bob")
    await sync_to_async(place_bid)(user=rival, lot_id=lot.pk, amount=1_100, bid_id="b")
    notice = await me.receive_json_from(timeout=3)
    assert (notice["type"], notice["lot"], notice["amount"]) == ("outbid", lot.pk, 1_100)
    await me.send_json_to({"type": "bid", "amount": 5_000, "bid_id": "nope"})  # not a message this socket takes
    assert (await me.receive_json_from(timeout=3))["code"] == "invalid"


@pytest.mark.django_db(transaction=True)
async def test_watchers_and_bidders_hear_closing_soon_once_then_the_result(open_me, make_lot, bidder, make_user):
    lot = await sync_to_async(make_lot)(ends_in=timedelta(seconds=30), soft_close_window=5, soft_close_extension=5)
    watcher = await sync_to_async(make_user)("wendy")
    await Watch.objects.acreate(user=watcher, lot=lot)
    await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a")
    seller = await sync_to_async(lambda: lot.seller)()
    watcher_me, bidder_me, seller_me = await open_me(watcher), await open_me(bidder), await open_me(seller)
    for socket in (watcher_me, bidder_me, seller_me):
        await socket.receive_json_from(timeout=3)  # the greeting
    assert await sync_to_async(send_closing_soon)() == [lot.pk]
    assert await sync_to_async(send_closing_soon)() == []  # once only
    for socket in (watcher_me, bidder_me):
        soon = await socket.receive_json_from(timeout=3)
        assert (soon["type"], soon["lot"], soon["high_bid"]) == ("lot_closing_soon", lot.pk, 1_000)
    await Lot.objects.filter(pk=lot.pk).aupdate(**long_ended())
    await sync_to_async(close_due_lots)()
    closed = await watcher_me.receive_json_from(timeout=3)
    assert (closed["type"], closed["winner"], closed["amount"], closed["you_won"]) == (
        "lot_closed",
        "Bidder 1",
        1_000,
        False,
    )
    heard = {}
    for _ in range(2):
        message = await bidder_me.receive_json_from(timeout=3)
        heard[message["type"]] = message
    assert set(heard) == {"won", "lot_closed"} and heard["lot_closed"]["you_won"] is True
    result = await seller_me.receive_json_from(timeout=3)  # the seller, who neither bid nor watched
    assert (result["type"], result["amount"], result["you_won"]) == ("lot_closed", 1_000, False)
