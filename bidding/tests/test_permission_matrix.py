"""Every action × every kind of user, through the one service each transport calls. Refused actions change
nothing; allowed ones happen. (The socket and the HTTP API map these codes identically: bidding/tests.)"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser

from auctions import services, watchlist
from auctions.exceptions import BidRefused
from auctions.models import Lot
from bidding import lot_actions
from bidding.models import Bid
from bidding.services import buy_now, place_bid

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "bidder", "banned", "owner", "other_seller", "staff")


@pytest.fixture
def people(make_user, seller, make_lot):
    other = make_user("other-seller")  # sells too, and is verified to bid
    make_lot(seller=other)
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    return {
        "anonymous": AnonymousUser(),
        "bidder": make_user("alice"),
        "banned": make_user("mallory", banned=True),
        "owner": seller,
        "other_seller": other,
        "staff": staff,
    }


def _bid(user, lot):
    place_bid(user=user, lot_id=lot.pk, amount=1_000, bid_id=uuid.uuid4().hex)


def _bid_with_max(user, lot):
    place_bid(user=user, lot_id=lot.pk, amount=1_000, bid_id=uuid.uuid4().hex, max_amount=5_000)


def _buy_now(user, lot):
    buy_now(user=user, lot_id=lot.pk, bid_id=uuid.uuid4().hex)


def _edit(user, lot):
    services.update_lot(user=user, lot_id=lot.pk, changes={"title": "Renamed"})


def _cancel(user, lot):
    lot_actions.cancel_lot(user=user, lot_id=lot.pk, reason="Withdrawn")


def _watch(user, lot):
    watchlist.watch_lot(user, lot.pk)


OK = None
NOT_AUTH = ("not_authenticated", None)
BANNED = ("forbidden", "banned")
OWN_LOT = ("forbidden", "own_lot")
NOT_OWNER = ("forbidden", "not_owner")

MATRIX = {
    #                anonymous  bidder     banned  owner     other_seller staff
    "bid": (NOT_AUTH, OK, BANNED, OWN_LOT, OK, OK),
    "bid_with_max": (NOT_AUTH, OK, BANNED, OWN_LOT, OK, OK),
    "buy_now": (NOT_AUTH, OK, BANNED, OWN_LOT, OK, OK),
    "edit": (NOT_AUTH, NOT_OWNER, BANNED, OK, NOT_OWNER, OK),
    "cancel": (NOT_AUTH, NOT_OWNER, BANNED, OK, NOT_OWNER, OK),
    "watch": (NOT_AUTH, OK, OK, OK, OK, OK),
}
ACTIONS = {
    "bid": _bid,
    "bid_with_max": _bid_with_max,
    "buy_now": _buy_now,
    "edit": _edit,
    "cancel": _cancel,
    "watch": _watch,
}


def _state(lot: Lot) -> tuple:
    lot.refresh_from_db()
    return (
        lot.title,
        lot.status,
        lot.seq,
        lot.high_bid_amount,
        lot.leader_max_amount,
        lot.watches.count(),
        Bid.objects.filter(lot=lot).count(),
    )


@pytest.mark.parametrize("action", list(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_permission(action, role, people, make_lot, seller):
    lot = make_lot(seller=seller, buy_now_price=50_000)
    before = _state(lot)
    expected = MATRIX[action][ROLES.index(role)]
    try:
        ACTIONS[action](people[role], lot)
        outcome = OK
    except BidRefused as refusal:
        outcome = (refusal.code, refusal.details.get("reason"))
    assert outcome == expected
    if expected is OK:
        assert _state(lot) != before, "an allowed action changed nothing"
    else:
        assert _state(lot) == before, "a refused action changed something"


def test_staff_may_cancel_a_lot_with_bids_its_seller_may_not(people, make_lot, seller):
    lot = make_lot(seller=seller)
    _bid(people["bidder"], lot)
    with pytest.raises(BidRefused) as info:
        _cancel(seller, lot)
    assert info.value.details == {"reason": "has_bids"}
    with pytest.raises(BidRefused) as info:
        _edit(seller, lot)
    assert info.value.details == {"reason": "has_bids"}
    _cancel(people["staff"], lot)
    lot.refresh_from_db()
    assert lot.status == "cancelled"
