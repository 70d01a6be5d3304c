"""Absentee bids against the room, as LiveAuctioneers publishes them: where a lot opens and how a maximum answers."""

from __future__ import annotations

import pytest

from auctions.live_rules import absentee_answer, absentee_leader, absentee_opening
from auctions.rules import fixed_increment, parse_increments

pytestmark = pytest.mark.pure

START = 10_000  # 100.00: increments of 5.00 up to 500.00, then 10.00 (the site table)


def test_no_absentee_bid_opens_nothing():
    assert absentee_opening(START, []) is None and absentee_leader([]) is None


def test_a_lone_absentee_bid_opens_at_the_start_price_whatever_its_maximum():
    assert absentee_opening(START, [("ann", 80_000)]) == (START, "ann")


def test_several_open_one_increment_above_the_second_highest_maximum():
    assert absentee_opening(START, [("ann", 50_000), ("bob", 30_000)]) == (30_500, "ann")
    assert absentee_opening(START, [("cat", 20_000), ("bob", 45_000), ("ann", 50_000)]) == (45_500, "ann")
    assert absentee_opening(START, [("bob", 30_000), ("ann", 50_000)]) == (30_500, "ann")  # order: ties only


def test_the_opening_never_passes_the_leaders_own_maximum():
    assert absentee_opening(START, [("ann", 30_200), ("bob", 30_000)]) == (30_200, "ann")


def test_equal_maxima_go_to_the_one_placed_first():
    assert absentee_opening(START, [("bob", 30_000), ("ann", 30_000)]) == (30_000, "bob")
    assert absentee_opening(START, [("ann", 30_000), ("bob", 30_000), ("cat", 20_000)]) == (30_000, "ann")


def test_the_opening_is_never_below_the_start_price():
    assert absentee_opening(40_000, [("ann", 50_000), ("bob", 30_000)]) == (40_000, "ann")


def test_the_clerks_increments_decide_the_step():
    hundreds = fixed_increment(10_000)
    assert absentee_opening(START, [("ann", 100_000), ("bob", 50_000)], hundreds) == (60_000, "ann")
    house = parse_increments([[0, 1_000], [40_000, 2_000]])
    assert absentee_opening(START, [("ann", 100_000), ("bob", 45_000)], house) == (47_000, "ann")


def test_each_competing_bid_is_answered_one_increment_up_while_the_maximum_allows():
    assert absentee_answer(30_000, 50_000) == 30_500
    assert absentee_answer(49_500, 50_000) == 50_000  # exactly the maximum
    assert absentee_answer(49_600, 50_000) is None  # 50,100 is past it: the room's bid stands
    assert absentee_answer(50_000, 50_000) is None
    assert absentee_answer(30_000, 50_000, fixed_increment(10_000)) == 40_000


def test_the_room_against_an_absentee_maximum_bid_by_bid():
    """The room bids at each ask; the absentee answers until its maximum runs out (an odd maximum counts only to
    the last increment under it): the room then holds the lot at its own bid."""
    increments = fixed_increment(1_000)
    price, leader = absentee_opening(START, [("ann", 14_500)], increments)
    history = [(price, leader)]
    while True:
        room = price + 1_000  # the auctioneer's ask
        history.append((room, "room"))
        answer = absentee_answer(room, 14_500, increments)
        if answer is None:
            break
        price = answer
        history.append((price, "ann"))
    assert history == [
        (10_000, "ann"),
        (11_000, "room"),
        (12_000, "ann"),
        (13_000, "room"),
        (14_000, "ann"),
        (15_000, "room"),
    ]
