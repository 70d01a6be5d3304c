"""Every timed path leaves a live sale's lots alone: the clock (opening, closing soon, closing), soft close and staff
extensions, the timed bid path over HTTP and the socket (refused `live_lot`), the catalogue, the replay audit."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from auctions.exceptions import HTTP_STATUS, LiveLot
from auctions.models import Lot, LotEvent
from bidding.closing import close_due_lots, closing_pass
from bidding.lot_actions import extend_lot
from bidding.models import Bid
from bidding.services import buy_now, place_bid


def _first_lot(sale) -> Lot:
    return sale.lots.order_by("sale_position").first()


def _unchanged(lot: Lot) -> None:
    fresh = Lot.objects.get(pk=lot.pk)
    assert (fresh.status, fresh.live_state, fresh.seq, fresh.ends_at, fresh.closing_soon_sent_at) == (
        Lot.Status.SCHEDULED,
        Lot.LiveState.WAITING,
        0,
        None,
        None,
    )
    assert not LotEvent.objects.filter(lot=lot).exists() and not Bid.objects.filter(lot=lot).exists()


@pytest.mark.django_db
def test_the_closing_worker_opens_warns_and_closes_timed_lots_only(make_sale, make_lot, seller):
    sale = make_sale(starts_in=-timedelta(hours=2))  # the sale's start has passed: the clerk opens it, not the clock
    due = make_lot(seller=seller, status=Lot.Status.SCHEDULED, starts_in=-timedelta(minutes=1))
    ending = make_lot(seller=seller, ends_in=timedelta(seconds=30))
    ended = make_lot(seller=seller, starts_in=-timedelta(hours=1), ends_in=-timedelta(minutes=5))
    opened, closed = closing_pass()
    assert (opened, closed) == ([due.pk], [ended.pk])
    assert Lot.objects.get(pk=ending.pk).closing_soon_sent_at is not None  # within LOT_CLOSING_SOON_SECONDS
    assert close_due_lots(now=timezone.now() + timedelta(days=365)) == [ending.pk, due.pk]
    for lot in sale.lots.all():
        _unchanged(lot)


@pytest.mark.django_db
def test_a_timed_bid_or_buy_now_on_a_live_lot_is_refused_live_lot(make_sale, bidder):
    lot = _first_lot(make_sale(starts_in=-timedelta(minutes=1)))
    with pytest.raises(LiveLot) as refused:
        place_bid(user=bidder, lot_id=lot.pk, amount=5_000, bid_id="timed")
    assert (refused.value.code, HTTP_STATUS[refused.value.code]) == ("live_lot", 409)
    with pytest.raises(LiveLot):
        buy_now(user=bidder, lot_id=lot.pk, bid_id="buy")
    _unchanged(lot)


@pytest.mark.django_db
def test_over_http_a_bid_on_a_live_lot_is_a_409_live_lot(make_sale, bidder):
    lot = _first_lot(make_sale())
    api = APIClient()
    api.force_authenticate(bidder)
    response = api.post(f"/api/lots/{lot.pk}/bids/", {"amount": 5_000, "bid_id": "h"}, format="json")
    assert (response.status_code, response.json()["type"], response.json()["code"]) == (409, "bid_rejected", "live_lot")
    assert response.json()["message"]
    bought = api.post(f"/api/lots/{lot.pk}/buy-now/", {"bid_id": "b"}, format="json")
    assert (bought.status_code, bought.json()["code"]) == (409, "live_lot")
    # Its page and its API answer show it without an end time instead of failing.
    assert api.get(f"/api/lots/{lot.pk}/").status_code == 200
    page = api.get(f"/lots/{lot.pk}/")
    assert page.status_code == 200 and "Sold in a live sale" in page.content.decode()
    _unchanged(lot)


@pytest.mark.django_db(transaction=True)
async def test_over_the_socket_a_bid_on_a_live_lot_is_refused_live_lot(make_sale, open_socket, bidder):
    lot = await sync_to_async(lambda: _first_lot(make_sale()))()
    socket = await open_socket(lot.pk, bidder)
    await socket.send_json_to({"type": "bid", "amount": 5_000, "bid_id": "s"})
    reply = await socket.receive_json_from(timeout=3)
    assert (reply["type"], reply["code"], reply["bid_id"]) == ("bid_rejected", "live_lot", "s")
    await sync_to_async(_unchanged)(lot)


@pytest.mark.django_db
def test_staff_cannot_extend_a_live_lot_it_has_no_end(make_sale, staff):
    lot = _first_lot(make_sale())
    with pytest.raises(LiveLot):
        extend_lot(user=staff, lot_id=lot.pk, seconds=600, reason="Outage")
    _unchanged(lot)


@pytest.mark.django_db
def test_the_timed_catalogue_leaves_live_lots_out(make_sale, make_lot, seller):
    sale = make_sale(starts_in=-timedelta(minutes=1))
    timed = make_lot(seller=seller, title="A timed lot")
    cards = APIClient().get("/api/lots/").json()["lots"]
    assert [card["id"] for card in cards] == [timed.pk]
    assert APIClient().get("/").status_code == 200
    assert sale.lots.count() == 3


@pytest.mark.django_db
def test_verify_lot_passes_a_live_lot_with_nothing_to_replay(make_sale, make_lot, seller):
    sale = make_sale()
    make_lot(seller=seller)
    out = io.StringIO()
    call_command("verify_lot", "--all", stdout=out)
    assert out.getvalue().count(": ok") == Lot.objects.count() == 4
    assert sale.lots.live().count() == 3 and Lot.objects.timed().count() == 1


@pytest.mark.django_db
def test_the_seller_cannot_give_a_live_lot_an_end_time_by_editing_it(make_sale):
    sale = make_sale()
    lot = _first_lot(sale)
    end = (timezone.now() + timedelta(days=2)).isoformat()
    api = APIClient()
    api.force_authenticate(sale.house)
    response = api.patch(f"/api/lots/{lot.pk}/", {"ends_at": end, "title": "Renamed"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "live_lot")
    _unchanged(lot)
