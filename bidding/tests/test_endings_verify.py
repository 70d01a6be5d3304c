"""Every way a lot can end leaves `verify_lot --all` clean: the replayed log reproduces the stored lot."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from auctions.models import Lot
from bidding.closing import close_due_lots
from bidding.lot_actions import cancel_lot
from bidding.services import buy_now, place_bid
from conftest import assert_lot_verifies, closing_time

pytestmark = pytest.mark.django_db


def _bid(user, lot, amount, maximum=None) -> None:
    place_bid(user=user, lot_id=lot.pk, amount=amount, bid_id=uuid.uuid4().hex, max_amount=maximum)


def _close(lot) -> None:
    """The clock passes the lot's end (as it stands now) and the closing worker runs."""
    close_due_lots(now=closing_time(Lot.objects.get(pk=lot.pk).ends_at))


def closed_with_a_winner(lot, p):
    _bid(p.alice, lot, 1_000, 3_000)
    _bid(p.bob, lot, 1_500)
    _close(lot)


def closed_under_its_reserve(lot, p):
    _bid(p.alice, lot, 1_000, 2_000)  # a hidden maximum below the reserve: no winner, maximum spent
    _close(lot)


def closed_with_no_bids(lot, p):
    _close(lot)


def bought_now(lot, p):
    buy_now(user=p.alice, lot_id=lot.pk, bid_id="buy")


def cancelled_by_its_seller_before_bids(lot, p):
    cancel_lot(user=lot.seller, lot_id=lot.pk, reason="Changed my mind")


def cancelled_by_staff_with_bids_and_a_hidden_maximum(lot, p):
    _bid(p.alice, lot, 1_000, 4_000)
    _bid(p.bob, lot, 1_200)
    cancel_lot(user=p.staff, lot_id=lot.pk, reason="Counterfeit")


def cancelled_from_the_admin(lot, p):
    _bid(p.alice, lot, 1_000, 4_000)
    _bid(p.bob, lot, 1_200)
    p.staff_action("cancel_lots", [lot.pk], reason="Counterfeit")


def extended_from_the_admin_then_closed(lot, p):
    _bid(p.alice, lot, 1_000, 4_000)  # inside the soft-close window: the end moves
    p.staff_action("extend_lots", [lot.pk], minutes="30", reason="Site outage")
    assert Lot.objects.get(pk=lot.pk).ends_at > timezone.now() + timedelta(minutes=29)
    _bid(p.bob, lot, 1_200)  # no longer inside the window
    _close(lot)


def extended_from_the_admin_before_any_bid_then_closed(lot, p):
    p.staff_action("extend_lots", [lot.pk], minutes="5", reason="Late photos")
    _bid(p.alice, lot, 1_000)
    _close(lot)


ENDINGS = {
    "closed_with_a_winner": (closed_with_a_winner, {}, "closed"),
    "closed_under_its_reserve": (closed_under_its_reserve, {"reserve_price": 5_000}, "closed"),
    "closed_with_no_bids": (closed_with_no_bids, {}, "closed"),
    "bought_now": (bought_now, {"buy_now_price": 50_000}, "closed"),
    "cancelled_by_its_seller_before_bids": (cancelled_by_its_seller_before_bids, {}, "cancelled"),
    "cancelled_by_staff_with_bids": (cancelled_by_staff_with_bids_and_a_hidden_maximum, {}, "cancelled"),
    "cancelled_from_the_admin": (cancelled_from_the_admin, {}, "cancelled"),
    "extended_from_the_admin_then_closed": (extended_from_the_admin_then_closed, {}, "closed"),
    "extended_from_the_admin_before_any_bid_then_closed": (
        extended_from_the_admin_before_any_bid_then_closed,
        {},
        "closed",
    ),
}


class People:
    def __init__(self, **people):
        self.__dict__.update(people)


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_kind_of_ending_leaves_verify_lot_clean(ending, make_lot, seller, make_user, staff, staff_action):
    end, fields, status = ENDINGS[ending]
    lot = make_lot(
        seller=seller, ends_in=timedelta(seconds=60), soft_close_window=120, soft_close_extension=120, **fields
    )
    end(lot, People(alice=make_user("alice"), bob=make_user("bob"), staff=staff, staff_action=staff_action))
    lot.refresh_from_db()
    assert lot.status == status
    assert lot.leader_max_amount is None  # spent at the end, whatever the ending
    out = io.StringIO()
    call_command("verify_lot", "--all", stdout=out)  # raises CommandError on any difference
    assert out.getvalue().count(": ok") == Lot.objects.count()
    assert_lot_verifies(lot.pk)


def test_a_tampered_staff_extension_is_found(make_lot, seller, bidder, staff):
    from auctions.models import LotEvent
    from bidding.lot_actions import extend_lot

    lot = make_lot(seller=seller)
    _bid(bidder, lot, 1_000)
    extend_lot(user=staff, lot_id=lot.pk, seconds=600, reason="Outage")
    event = LotEvent.objects.get(lot=lot, seq=2)
    event.payload["ends_at"] = "2099-01-01T00:00:00.000+00:00"
    event.save()
    with pytest.raises(AssertionError, match="end time"):
        assert_lot_verifies(lot.pk)
