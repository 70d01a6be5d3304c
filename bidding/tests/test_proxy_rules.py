"""The automatic-bidding rules as a pure function: what bidders on the large marketplaces would expect."""

from __future__ import annotations

import pytest

from auctions.exceptions import InvalidBid
from auctions.rules import fixed_increment
from bidding.proxy import Step, resolve

ALICE, BOB = 1, 2

pytestmark = pytest.mark.pure


def test_first_bid_with_a_maximum_shows_only_the_amount_sent():
    decision = resolve(
        price=None, leader_id=None, leader_max=None, bidder_id=ALICE, amount=1_000, max_amount=5_000, reserve=None
    )
    assert decision.steps == (Step(ALICE, 1_000, automatic=False, is_request=True),)
    assert (decision.leader_id, decision.leader_max, decision.price) == (ALICE, 5_000, 1_000)


def test_a_maximum_at_or_above_the_reserve_lifts_the_price_straight_to_the_reserve():
    decision = resolve(
        price=None, leader_id=None, leader_max=None, bidder_id=ALICE, amount=1_000, max_amount=5_000, reserve=3_000
    )
    assert decision.price == 3_000
    assert decision.steps[0].automatic
    below = resolve(
        price=None, leader_id=None, leader_max=None, bidder_id=ALICE, amount=1_000, max_amount=2_000, reserve=3_000
    )
    assert below.price == 1_000


def test_a_lower_challenger_is_answered_by_the_leaders_maximum_one_increment_above():
    # Alice leads at 10.00 with a hidden 50.00; Bob bids 20.00: Bob's bid stands in history, beaten at 22.50.
    decision = resolve(
        price=1_000, leader_id=ALICE, leader_max=5_000, bidder_id=BOB, amount=2_000, max_amount=None, reserve=None
    )
    assert decision.steps == (
        Step(BOB, 2_000, automatic=False, outbid_at_once=True, is_request=True),
        Step(ALICE, 2_250, automatic=True),
    )
    assert (decision.leader_id, decision.leader_max, decision.outbid_user_ids) == (ALICE, 5_000, (BOB,))


def test_the_answer_never_exceeds_the_leaders_maximum():
    decision = resolve(
        price=1_000, leader_id=ALICE, leader_max=2_100, bidder_id=BOB, amount=2_000, max_amount=None, reserve=None
    )
    assert decision.steps[-1] == Step(ALICE, 2_100, automatic=True)
    assert decision.leader_max is None  # spent


def test_equal_maxima_the_earlier_one_leads():
    decision = resolve(
        price=1_000, leader_id=ALICE, leader_max=5_000, bidder_id=BOB, amount=1_100, max_amount=5_000, reserve=None
    )
    assert decision.leader_id == ALICE
    assert [(s.bidder_id, s.amount, s.outbid_at_once) for s in decision.steps] == [
        (BOB, 5_000, True),
        (ALICE, 5_000, False),
    ]


def test_a_higher_maximum_takes_the_lead_at_the_other_maximum_plus_one_increment():
    decision = resolve(
        price=1_000, leader_id=ALICE, leader_max=5_000, bidder_id=BOB, amount=1_100, max_amount=9_000, reserve=None
    )
    assert decision.steps == (
        Step(ALICE, 5_000, automatic=True, outbid_at_once=True),
        Step(BOB, 5_250, automatic=True, is_request=True),  # 50.00 + 2.50
    )
    assert (decision.leader_id, decision.leader_max, decision.outbid_user_ids) == (BOB, 9_000, (ALICE,))


def test_a_jump_past_the_leaders_maximum_keeps_that_maximum_secret():
    decision = resolve(
        price=1_000, leader_id=ALICE, leader_max=5_000, bidder_id=BOB, amount=8_000, max_amount=None, reserve=None
    )
    assert decision.steps == (Step(BOB, 8_000, automatic=False, is_request=True),)
    assert all(step.amount != 5_000 for step in decision.steps)


def test_raising_your_own_maximum_while_leading_does_not_raise_the_price():
    decision = resolve(
        price=1_000, leader_id=ALICE, leader_max=5_000, bidder_id=ALICE, amount=1_100, max_amount=9_000, reserve=None
    )
    assert decision.steps == ()
    assert (decision.leader_max, decision.price) == (9_000, None)


def test_raising_your_maximum_over_the_reserve_lifts_the_price_to_it():
    decision = resolve(
        price=1_000, leader_id=ALICE, leader_max=2_000, bidder_id=ALICE, amount=1_100, max_amount=9_000, reserve=4_000
    )
    assert decision.steps == (Step(ALICE, 4_000, automatic=True, is_request=True),)


def test_lowering_your_own_maximum_is_refused():
    with pytest.raises(InvalidBid) as info:
        resolve(
            price=1_000,
            leader_id=ALICE,
            leader_max=5_000,
            bidder_id=ALICE,
            amount=1_100,
            max_amount=3_000,
            reserve=None,
        )
    assert info.value.details == {"field": "max_amount"}


def test_plain_bids_behave_as_before():
    decision = resolve(
        price=1_000, leader_id=ALICE, leader_max=None, bidder_id=BOB, amount=1_100, max_amount=None, reserve=None
    )
    assert decision.steps == (Step(BOB, 1_100, automatic=False, is_request=True),)
    assert decision.outbid_user_ids == (ALICE,)


def test_automatic_bidding_follows_the_schedule_it_is_given():
    kwargs = {"price": 10_000, "leader_id": ALICE, "leader_max": 50_000, "bidder_id": BOB, "reserve": None}
    site = resolve(**kwargs, amount=11_000, max_amount=None)
    flat = resolve(**kwargs, amount=11_000, max_amount=None, increments=fixed_increment(10_000))
    assert site.steps[-1] == Step(ALICE, 11_500, automatic=True)  # 11,000 + the table's 5.00
    assert flat.steps[-1] == Step(ALICE, 21_000, automatic=True)  # 11,000 + the clerk's 100.00
    flat_100 = fixed_increment(10_000)
    beaten = resolve(**{**kwargs, "leader_max": 30_000}, amount=20_000, max_amount=60_000, increments=flat_100)
    assert beaten.price == 40_000 and beaten.leader_id == BOB  # Alice's 300.00 + 100.00
