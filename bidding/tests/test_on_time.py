""" "On time" has one rule: a bid received before the lot's end counts, however long it then waits for the lot.

The server stamps each bid with the wall-clock time it arrived; the decision, verify_lot and the closing worker all
judge by that stamp. Races are forced: the test holds the lot's row until the end has passed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from auctions.models import Lot
from bidding.closing import close_due_lots
from bidding.models import Bid
from bidding.services import place_bid
from bidding.tests.live import in_thread, receive_until
from conftest import assert_lot_verifies, closing_time, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _sleep_past(moment) -> None:
    wait_until(lambda: timezone.now() > moment, timeout=5)


def test_a_bid_received_before_the_end_and_decided_after_it_counts(make_lot, bidder, hold_lot_row):
    lot = make_lot(ends_in=timedelta(milliseconds=600), soft_close_window=0, soft_close_extension=0)
    held = hold_lot_row(lot.pk)
    thread, result = in_thread(place_bid, user=bidder, lot_id=lot.pk, amount=1_000, bid_id="just-in-time")
    held.wait_for_waiters(1)
    _sleep_past(lot.ends_at)  # the bid waits for the lot past its end
    held.release()
    thread.join()
    assert "outcome" in result, result.get("refusal")
    bid = Bid.objects.get(lot=lot)
    assert bid.received_at < lot.ends_at <= bid.created_at
    assert_lot_verifies(lot.pk)


async def test_a_socket_bid_received_before_the_end_and_decided_after_it_counts(
    open_socket, make_lot, bidder, hold_lot_row
):
    lot = await sync_to_async(make_lot)(ends_in=timedelta(milliseconds=600))
    socket = await open_socket(lot.pk, bidder)
    held = await asyncio.to_thread(hold_lot_row, lot.pk)
    await socket.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "just-in-time"})
    await asyncio.to_thread(held.wait_for_waiters, 1)
    await asyncio.to_thread(_sleep_past, lot.ends_at)
    await asyncio.to_thread(held.release)
    reply = await receive_until(socket, "bid_accepted", timeout=5)
    assert (reply["amount"], reply["seq"]) == (1_000, 1)
    await sync_to_async(assert_lot_verifies)(lot.pk)


def test_a_bid_received_after_the_end_is_closed(make_lot, bidder):
    lot = make_lot(ends_in=timedelta(milliseconds=200))
    _sleep_past(lot.ends_at)
    with pytest.raises(Exception) as refused:
        place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="late")
    assert getattr(refused.value, "code", None) == "closed"


def test_the_closing_worker_waits_until_every_bid_received_before_the_end_is_decided(make_lot, bidder):
    lot = make_lot(ends_in=timedelta(seconds=30))
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b")
    lot.refresh_from_db()
    assert close_due_lots(now=lot.ends_at + timedelta(milliseconds=1)) == []  # a bid received at the end may wait on
    assert Lot.objects.get(pk=lot.pk).status == "open"
    assert close_due_lots(now=closing_time(lot.ends_at)) == [lot.pk]
    assert Lot.objects.get(pk=lot.pk).winner == bidder
