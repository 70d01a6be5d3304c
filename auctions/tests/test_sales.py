"""Live sales before the block: a house makes a sale of its lots, names clerks, bidders register for paddles
(approved where the house asks to) and leave absentee bids on lots not yet offered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auctions import sales
from auctions.exceptions import Forbidden, InvalidBid, LotClosed, LotNotFound, NotAuthenticated, TooLow
from auctions.models import AbsenteeBid, Lot, SaleRegistration

pytestmark = pytest.mark.django_db

TOMORROW, HOURS_2, HOURS_3 = timedelta(days=1), timedelta(hours=2), timedelta(hours=3)


@pytest.fixture
def house(make_user):
    return make_user("house", can_bid=False)


def _scheduled(make_lot, seller, n: int = 3) -> list[Lot]:
    return [
        make_lot(seller=seller, title=f"Lot {i}", status=Lot.Status.SCHEDULED, starts_in=HOURS_2, ends_in=HOURS_3)
        for i in range(n)
    ]


def test_a_sale_takes_the_houses_lots_in_the_order_given_and_off_the_clock(make_lot, house):
    first, second, third = _scheduled(make_lot, house)
    starts = timezone.now() + TOMORROW
    sale = sales.create_sale(house=house, title="Autumn", starts_at=starts, lot_ids=[third.pk, first.pk, second.pk])
    assert list(sale.lots.order_by("sale_position").values_list("pk", "sale_position", "live_state", "ends_at")) == [
        (third.pk, 1, "waiting", None),
        (first.pk, 2, "waiting", None),
        (second.pk, 3, "waiting", None),
    ]
    assert (sale.status, sale.auto_accept, sale.requires_approval) == ("scheduled", True, False)
    assert set(sale.lots.values_list("starts_at", flat=True)) == {starts}


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ("someone_elses", Forbidden),
        ("started", InvalidBid),
        ("already_in_a_sale", InvalidBid),
        ("missing", LotNotFound),
        ("twice", InvalidBid),
        ("not_a_seller", Forbidden),
    ],
)
def test_a_sale_refuses_lots_it_cannot_take_and_changes_nothing(make_lot, make_user, make_sale, house, change, refusal):
    lots = _scheduled(make_lot, house, 2)
    ids = [lot.pk for lot in lots]
    who = house
    if change == "someone_elses":
        ids.append(make_lot(status=Lot.Status.SCHEDULED, starts_in=HOURS_2, ends_in=HOURS_3).pk)
    elif change == "started":
        ids.append(make_lot(seller=house).pk)
    elif change == "already_in_a_sale":
        ids.append(make_sale(house=house).lots.first().pk)
    elif change == "missing":
        ids.append(987_654)
    elif change == "twice":
        ids.append(ids[0])
    else:
        who = make_user(can_sell=False)
        ids = [lot.pk for lot in _scheduled(make_lot, who, 1)]
    with pytest.raises(refusal):
        sales.create_sale(house=who, title="Autumn", starts_at=timezone.now() + TOMORROW, lot_ids=ids)
    assert not Lot.objects.filter(pk__in=[lot.pk for lot in lots]).live().exists()


def test_only_the_house_or_staff_name_clerks_and_clerks_may_approve(make_sale, make_user, house):
    sale = make_sale(house=house, requires_approval=True)
    clerk, stranger, bidder = make_user("clerk"), make_user("stranger"), make_user("bidder")
    with pytest.raises(Forbidden):
        sales.add_clerk(user=stranger, sale_id=sale.pk, clerk=stranger)
    sales.add_clerk(user=house, sale_id=sale.pk, clerk=clerk)
    assert sales.may_clerk(clerk, sale) and not sales.may_clerk(stranger, sale)
    registration, created = sales.register(user=bidder, sale_id=sale.pk)
    assert created and (registration.paddle, registration.approved) == (5_000, False)
    with pytest.raises(Forbidden):
        sales.approve(user=stranger, registration_id=registration.pk)
    assert sales.approve(user=clerk, registration_id=registration.pk).approved
    sales.remove_clerk(user=house, sale_id=sale.pk, clerk=clerk)
    assert not sales.may_clerk(clerk, sale)


def test_paddles_count_up_from_5000_and_registering_again_changes_nothing(make_sale, make_user, house):
    sale = make_sale(house=house)
    first, second = make_user(), make_user()
    assert sales.register(user=first, sale_id=sale.pk)[0].paddle == 5_000
    assert sales.register(user=second, sale_id=sale.pk)[0].paddle == 5_001
    again, created = sales.register(user=first, sale_id=sale.pk)
    assert (again.paddle, again.approved, created) == (5_000, True, False)
    assert sales.register(user=first, sale_id=make_sale().pk)[0].paddle == 5_000  # each sale numbers its own


@pytest.mark.parametrize(
    ("who", "refusal", "reason"),
    [("house", Forbidden, "own_sale"), ("unverified", Forbidden, "not_verified"), ("banned", Forbidden, "banned")],
)
def test_who_may_not_register(make_sale, make_user, house, who, refusal, reason):
    sale = make_sale(house=house)
    user = {"house": house, "unverified": make_user(can_bid=False), "banned": make_user(banned=True)}[who]
    with pytest.raises(refusal) as refused:
        sales.register(user=user, sale_id=sale.pk)
    assert refused.value.details["reason"] == reason
    assert not SaleRegistration.objects.exists()


def test_an_absentee_bid_is_placed_raised_and_withdrawn_before_the_lot_is_offered(make_sale, make_user, house):
    sale = make_sale(house=house, starting_price=2_000)
    lot = sale.lots.get(sale_position=1)
    bidder = make_user()
    sales.register(user=bidder, sale_id=sale.pk)
    bid, created = sales.set_absentee_bid(user=bidder, lot_id=lot.pk, max_amount=5_000)
    assert created and bid.max_amount == 5_000
    raised, created = sales.set_absentee_bid(user=bidder, lot_id=lot.pk, max_amount=7_500)
    assert (raised.pk, raised.max_amount, created) == (bid.pk, 7_500, False) and raised.placed_at >= bid.placed_at
    with pytest.raises(InvalidBid):
        sales.set_absentee_bid(user=bidder, lot_id=lot.pk, max_amount=6_000)
    assert sales.absentee_maxima(lot.pk) == [(raised.registration_id, 7_500)]
    assert sales.withdraw_absentee_bid(user=bidder, lot_id=lot.pk)
    assert not sales.withdraw_absentee_bid(user=bidder, lot_id=lot.pk)
    assert not AbsenteeBid.objects.exists()


def test_absentee_bids_are_refused_to_those_who_may_not_leave_them(make_sale, make_user, make_lot, house):
    sale = make_sale(house=house, starting_price=2_000, requires_approval=True)
    lot = sale.lots.get(sale_position=1)
    stranger, pending, approved = make_user(), make_user(), make_user()
    sales.register(user=pending, sale_id=sale.pk)
    registration, _ = sales.register(user=approved, sale_id=sale.pk)
    sales.approve(user=house, registration_id=registration.pk)

    def refusal(user, amount=5_000, lot_id=lot.pk):
        with pytest.raises((Forbidden, InvalidBid, TooLow, LotClosed, NotAuthenticated)) as refused:
            sales.set_absentee_bid(user=user, lot_id=lot_id, max_amount=amount)
        return refused.value.code, refused.value.details.get("reason") or refused.value.details.get("field")

    assert refusal(stranger) == ("forbidden", "not_registered")
    assert refusal(pending) == ("forbidden", "not_approved")
    assert refusal(house) == ("forbidden", "own_sale")
    assert refusal(approved, 1_999) == ("too_low", None)
    assert refusal(approved, 0) == ("invalid", "max_amount")
    assert refusal(approved, 2_500.0) == ("invalid", "max_amount")
    assert refusal(approved, lot_id=make_lot().pk) == ("invalid", "lot")
    Lot.objects.filter(pk=lot.pk).update(live_state=Lot.LiveState.OPEN)  # on the block: too late
    assert refusal(approved)[0] == "closed"
    assert not AbsenteeBid.objects.exists()
