"""Table-driven automatic-bidding scenarios through place_bid on real PostgreSQL: each row a sequence of bids
(bidder, amount, max) and what every bidder would then see: the price, the leader, and every bid row written.
Starting price 10.00; increments: 1.00 under 20.00, 2.50 under 100.00 (auctions/rules.py)."""

from __future__ import annotations

import uuid

import pytest

from auctions.exceptions import BidRefused
from bidding.models import Bid
from bidding.services import place_bid
from conftest import assert_lot_verifies

pytestmark = pytest.mark.django_db

# (name, reserve, bids [(who, amount, max)], expected price, expected leader, expected rows [(who, amount, kind)],
#  refusals {index: code})
SCENARIOS = [
    (
        "plain bids step up",
        None,
        [("A", 1_000, None), ("B", 1_100, None)],
        1_100,
        "B",
        [("A", 1_000, "manual"), ("B", 1_100, "manual")],
        {},
    ),
    ("a maximum shows only the opening amount", None, [("A", 1_000, 5_000)], 1_000, "A", [("A", 1_000, "manual")], {}),
    (
        "a lower manual bid is answered one increment above",
        None,
        [("A", 1_000, 5_000), ("B", 1_500, None)],
        1_600,
        "A",
        [("A", 1_000, "manual"), ("B", 1_500, "manual"), ("A", 1_600, "automatic")],
        {},
    ),
    (
        "manual bid equal to the maximum: the earlier maximum keeps the lead",
        None,
        [("A", 1_000, 3_000), ("B", 3_000, None)],
        3_000,
        "A",
        [("A", 1_000, "manual"), ("B", 3_000, "manual"), ("A", 3_000, "automatic")],
        {},
    ),
    (
        "tie on maxima: the earlier one leads",
        None,
        [("A", 1_000, 4_000), ("B", 1_100, 4_000)],
        4_000,
        "A",
        [("A", 1_000, "manual"), ("B", 4_000, "automatic"), ("A", 4_000, "automatic")],
        {},
    ),
    (
        "higher maximum wins at the other maximum plus one increment",
        None,
        [("A", 1_000, 4_000), ("B", 1_100, 6_000)],
        4_250,
        "B",
        [("A", 1_000, "manual"), ("A", 4_000, "automatic"), ("B", 4_250, "automatic")],
        {},
    ),
    (
        "higher maximum within one increment wins at its own maximum",
        None,
        [("A", 1_000, 4_000), ("B", 1_100, 4_100)],
        4_100,
        "B",
        [("A", 1_000, "manual"), ("A", 4_000, "automatic"), ("B", 4_100, "automatic")],
        {},
    ),
    (
        "a manual jump past a maximum keeps that maximum secret",
        None,
        [("A", 1_000, 4_000), ("B", 6_000, None)],
        6_000,
        "B",
        [("A", 1_000, "manual"), ("B", 6_000, "manual")],
        {},
    ),
    (
        "raising your own maximum while leading does not move the price",
        None,
        [("A", 1_000, 2_000), ("A", 1_100, 9_000), ("B", 3_000, None)],
        3_250,
        "A",
        [("A", 1_000, "manual"), ("B", 3_000, "manual"), ("A", 3_250, "automatic")],
        {},
    ),
    (
        "lowering your own maximum is refused",
        None,
        [("A", 1_000, 5_000), ("A", 1_100, 2_000)],
        1_000,
        "A",
        [("A", 1_000, "manual")],
        {1: "invalid"},
    ),
    ("a maximum below the amount is refused", None, [("A", 1_000, 900)], None, None, [], {0: "invalid"}),
    (
        "a maximum below the minimum next bid cannot be placed",
        None,
        [("A", 1_000, None), ("B", 1_050, 1_080)],
        1_000,
        "A",
        [("A", 1_000, "manual")],
        {1: "too_low"},
    ),
    (
        "the leader's maximum is spent exactly",
        None,
        [("A", 1_000, 1_500), ("B", 1_500, 1_500)],
        1_500,
        "A",
        [("A", 1_000, "manual"), ("B", 1_500, "manual"), ("A", 1_500, "automatic")],
        {},
    ),
    (
        "a maximum over the reserve lifts the price to it",
        3_000,
        [("A", 1_000, 5_000)],
        3_000,
        "A",
        [("A", 3_000, "automatic")],
        {},
    ),
    (
        "a maximum under the reserve leaves the price alone",
        3_000,
        [("A", 1_000, 2_000)],
        1_000,
        "A",
        [("A", 1_000, "manual")],
        {},
    ),
    (
        "a challenger's maximum over the reserve lifts past a lower leader",
        3_000,
        [("A", 1_000, 2_000), ("B", 1_100, 5_000)],
        3_000,
        "B",
        [("A", 1_000, "manual"), ("A", 2_000, "automatic"), ("B", 3_000, "automatic")],
        {},
    ),
    (
        "the leader raising a maximum over the reserve lifts the price to it",
        3_000,
        [("A", 1_000, 2_000), ("A", 1_100, 4_000)],
        3_000,
        "A",
        [("A", 1_000, "manual"), ("A", 3_000, "automatic")],
        {},
    ),
    (
        "a bid below the reserve-lifted price is too low",
        3_000,
        [("A", 1_000, 6_000), ("B", 1_200, None)],
        3_000,
        "A",
        [("A", 3_000, "automatic")],
        {1: "too_low"},
    ),
    (
        "a challenger over the reserve meets a leader whose maximum covers it",
        3_000,
        [("A", 1_000, 6_000), ("B", 3_500, None)],
        3_750,
        "A",
        [("A", 3_000, "automatic"), ("B", 3_500, "manual"), ("A", 3_750, "automatic")],
        {},
    ),
]


@pytest.mark.parametrize("name,reserve,bids,price,leader,rows,refusals", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_automatic_bidding(name, reserve, bids, price, leader, rows, refusals, make_lot, make_user, seller):
    lot = make_lot(seller=seller, reserve_price=reserve)
    users = {"A": make_user("bidder-a"), "B": make_user("bidder-b")}
    for index, (who, amount, maximum) in enumerate(bids):
        try:
            place_bid(user=users[who], lot_id=lot.pk, amount=amount, bid_id=uuid.uuid4().hex, max_amount=maximum)
            assert index not in refusals, f"bid {index} should have been refused"
        except BidRefused as refusal:
            assert refusals.get(index) == refusal.code, (index, refusal.code, refusal.message)
    lot.refresh_from_db()
    names = {user.pk: key for key, user in users.items()}
    assert (lot.high_bid_amount, names.get(lot.high_bidder_id)) == (price, leader)
    written = [
        (names[b], amount, kind)
        for b, amount, kind in Bid.objects.filter(lot=lot).order_by("seq").values_list("bidder_id", "amount", "kind")
    ]
    assert written == rows
    assert lot.seq == lot.bid_count == len(rows)
    assert_lot_verifies(lot.pk)
