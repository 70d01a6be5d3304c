"""place_bid against real PostgreSQL (and Redis, unless in single-process mode)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings
from django.utils import timezone

from auctions.exceptions import BidRefused
from auctions.models import Lot, LotEvent
from bidding import broadcast
from bidding.models import Bid
from bidding.services import place_bid

pytestmark = pytest.mark.django_db


def refusal(callable_, **kwargs) -> BidRefused:
    with pytest.raises(BidRefused) as info:
        callable_(**kwargs)
    return info.value


def assert_nothing_written(lot: Lot) -> None:
    before = (lot.high_bid_amount, lot.bid_count, lot.seq, lot.ends_at)
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.bid_count, lot.seq, lot.ends_at) == before
    assert not Bid.objects.filter(lot=lot).exists() or Bid.objects.filter(lot=lot).count() == lot.bid_count


def test_accepted_bid_updates_the_lot_and_is_stored_with_its_sequence(lot, bidder, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b1")
    lot.refresh_from_db()
    assert (outcome.amount, outcome.seq) == (1_000, 1)
    assert (lot.high_bid_amount, lot.high_bidder, lot.bid_count, lot.seq) == (1_000, bidder, 1, 1)
    bid = Bid.objects.get(lot=lot)
    assert (bid.amount, bid.bidder, bid.bid_id, bid.seq, bid.bidder_number) == (1_000, bidder, "b1", 1, 1)
    event = LotEvent.objects.get(lot=lot, seq=1)
    assert event.payload["type"] == "high_bid" and event.payload["bidder"] == "Bidder 1"
    assert bidder.username not in str(event.payload)
    assert len(callbacks) == 1, "the broadcast waits for the commit"


@pytest.mark.parametrize(
    ("amount", "bid_id", "field"),
    [
        (10.5, "b", "amount"),
        (1000.0, "b", "amount"),
        ("1000", "b", "amount"),
        (True, "b", "amount"),
        (None, "b", "amount"),
        (-100, "b", "amount"),
        (0, "b", "amount"),
        (10**40, "b", "amount"),
        (1_000, "", "bid_id"),
        (1_000, None, "bid_id"),
        (1_000, 7, "bid_id"),
        (1_000, "x" * 65, "bid_id"),
    ],
)
def test_malformed_amount_or_bid_id_is_invalid_and_changes_nothing(lot, bidder, amount, bid_id, field):
    error = refusal(place_bid, user=bidder, lot_id=lot.pk, amount=amount, bid_id=bid_id)
    assert (error.code, error.details["field"]) == ("invalid", field)
    assert_nothing_written(lot)
    assert not Bid.objects.exists()


def test_anonymous_user_is_not_authenticated(lot):
    assert refusal(place_bid, user=AnonymousUser(), lot_id=lot.pk, amount=1_000, bid_id="b").code == "not_authenticated"
    assert not Bid.objects.exists()


@pytest.mark.parametrize(
    ("flags", "reason"),
    [({"can_bid": False}, "not_verified"), ({"banned": True}, "banned")],
)
def test_unverified_or_banned_user_is_forbidden(lot, make_user, flags, reason):
    user = make_user(**flags)
    error = refusal(place_bid, user=user, lot_id=lot.pk, amount=1_000, bid_id="b")
    assert (error.code, error.details["reason"]) == ("forbidden", reason)
    assert not Bid.objects.exists()


def test_a_ban_applies_to_the_very_next_bid(lot, bidder):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b1")
    bidder.profile.banned = True
    bidder.profile.save()
    assert refusal(place_bid, user=bidder, lot_id=lot.pk, amount=2_000, bid_id="b2").code == "forbidden"
    assert Bid.objects.count() == 1


def test_seller_cannot_bid_on_own_lot(make_lot, make_user):
    seller = make_user(can_bid=True)
    own = make_lot(seller=seller)
    error = refusal(place_bid, user=seller, lot_id=own.pk, amount=1_000, bid_id="b")
    assert (error.code, error.details["reason"]) == ("forbidden", "own_lot")


def test_unknown_lot_is_not_found(bidder):
    assert refusal(place_bid, user=bidder, lot_id=999_999, amount=1_000, bid_id="b").code == "not_found"


def test_lot_not_yet_open_refuses(make_lot, bidder):
    later = make_lot(starts_in=timedelta(minutes=5), status=Lot.Status.SCHEDULED)
    assert refusal(place_bid, user=bidder, lot_id=later.pk, amount=1_000, bid_id="b").code == "not_open"
    assert_nothing_written(later)


@pytest.mark.parametrize(
    "fields",
    [
        {"ends_in": timedelta(seconds=-1)},  # end passed, closing worker not yet run
        {"status": Lot.Status.CLOSED},
        {"status": Lot.Status.CANCELLED},
    ],
)
def test_ended_closed_or_cancelled_lot_refuses(make_lot, bidder, fields):
    if "ends_in" in fields:
        fields["starts_in"] = timedelta(hours=-1)
    ended = make_lot(**fields)
    assert refusal(place_bid, user=bidder, lot_id=ended.pk, amount=1_000, bid_id="b").code == "closed"
    assert_nothing_written(ended)


def test_first_bid_below_starting_price_is_too_low(lot, bidder):
    error = refusal(place_bid, user=bidder, lot_id=lot.pk, amount=999, bid_id="b")
    assert (error.code, error.details["min_next_bid"]) == ("too_low", 1_000)


def test_next_bid_must_beat_the_high_bid_by_one_increment(lot, bidder, make_user):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_950, bid_id="b1")
    rival = make_user()
    error = refusal(place_bid, user=rival, lot_id=lot.pk, amount=2_049, bid_id="r1")
    assert (error.code, error.details["min_next_bid"]) == ("too_low", 2_050)
    assert place_bid(user=rival, lot_id=lot.pk, amount=2_050, bid_id="r2").seq == 2
    error = refusal(place_bid, user=bidder, lot_id=lot.pk, amount=2_299, bid_id="b2")
    assert error.details["min_next_bid"] == 2_300  # 2,050 is in the 2.50 band


def test_repeated_bid_id_returns_the_original_outcome_and_writes_nothing(lot, bidder, make_user):
    first = place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="same")
    place_bid(user=make_user(), lot_id=lot.pk, amount=1_100, bid_id="other")
    again = place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="same")
    assert (again.amount, again.seq, again.bid_id) == (first.amount, first.seq, first.bid_id)
    assert again.duplicate
    assert Bid.objects.count() == 2


def test_reused_bid_id_for_a_different_amount_is_invalid(lot, bidder):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="same")
    error = refusal(place_bid, user=bidder, lot_id=lot.pk, amount=1_500, bid_id="same")
    assert (error.code, error.details["field"]) == ("invalid", "bid_id")
    assert Bid.objects.count() == 1


def test_bid_in_soft_close_window_extends_the_end(make_lot, bidder):
    closing = make_lot(ends_in=timedelta(seconds=30), soft_close_window=60, soft_close_extension=90)
    before = timezone.now()
    place_bid(user=bidder, lot_id=closing.pk, amount=1_000, bid_id="b")
    closing.refresh_from_db()
    assert closing.ends_at >= before + timedelta(seconds=90)
    assert LotEvent.objects.get(lot=closing).payload["extended"] is True


def test_bid_outside_soft_close_window_leaves_the_end(make_lot, bidder):
    early = make_lot(ends_in=timedelta(hours=1), soft_close_window=60, soft_close_extension=90)
    ends_at = early.ends_at
    place_bid(user=bidder, lot_id=early.pk, amount=1_000, bid_id="b")
    early.refresh_from_db()
    assert early.ends_at == ends_at


@override_settings(BID_LOCK_WAIT_SECONDS=0.2)
def test_lock_held_elsewhere_answers_busy_without_hanging(lot, bidder, hold_lot_lock):
    with hold_lot_lock(lot.pk):
        started = timezone.now()
        assert refusal(place_bid, user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b").code == "busy"
        assert timezone.now() - started < timedelta(seconds=2)
    assert_nothing_written(lot)
    assert place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b").seq == 1


@pytest.mark.redis_only
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_redis_down_answers_unavailable_and_changes_nothing(lot, bidder):
    assert refusal(place_bid, user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b").code == "unavailable"
    assert_nothing_written(lot)


def test_outbid_bidder_is_told_only_after_commit(lot, bidder, make_user, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(broadcast.user_group(bidder.pk), channel)
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b1")
    rival = make_user()
    with django_capture_on_commit_callbacks() as callbacks:
        place_bid(user=rival, lot_id=lot.pk, amount=1_100, bid_id="r1")

    async def deliveries():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.2)  # nothing before the commit
        await sync_to_async(lambda: [callback() for callback in callbacks])()
        return await asyncio.wait_for(layer.receive(channel), 2)

    notice = async_to_sync(deliveries)()["payload"]
    assert notice == {**notice, "type": "outbid", "lot": lot.pk, "amount": 1_100, "min_next_bid": 1_200, "seq": 2}
