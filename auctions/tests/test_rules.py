from datetime import UTC, datetime, timedelta

import pytest

from auctions.models import Lot
from auctions.rules import (
    bidder_standing,
    increment_for,
    lot_result_at,
    lot_status_at,
    min_next_bid,
    outage_extension,
)

pytestmark = pytest.mark.pure


@pytest.mark.parametrize(
    ("high", "step"),
    [
        (1, 100),
        (1_999, 100),
        (2_000, 250),
        (9_999, 250),
        (10_000, 500),
        (49_999, 500),
        (50_000, 1_000),
        (99_999, 1_000),
        (100_000, 2_500),
        (499_999, 2_500),
        (500_000, 5_000),
        (10**11, 5_000),
    ],
)
def test_increment_steps_up_at_each_boundary(high, step):
    assert increment_for(high) == step


def test_first_bid_may_be_the_starting_price():
    assert min_next_bid(starting_price=1_234, high_bid=None) == 1_234


def test_next_bid_is_high_plus_one_increment():
    assert min_next_bid(starting_price=100, high_bid=1_950) == 2_050
    assert min_next_bid(starting_price=100, high_bid=2_000) == 2_250


def _lot(status: str = "open", *, ends_in: int = 60, high_bid: int | None = None, leader=None, winner=None):
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    lot = Lot(
        status=status,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(seconds=ends_in),
        starting_price=1_000,
        high_bid_amount=high_bid,
        high_bidder_id=leader,
        winner_id=winner,
    )
    return lot, now


@pytest.mark.parametrize(
    ("fields", "result", "alice", "bob"),
    [
        ({"high_bid": 2_000, "leader": 1}, None, "leading", "outbid"),
        ({"ends_in": -1, "high_bid": 2_000, "leader": 1}, ("ending", None), "ending", "ending"),
        ({"status": "closed", "high_bid": 2_000, "leader": 1, "winner": 1}, ("sold", None), "won", "lost"),
        ({"status": "closed", "high_bid": 2_000, "leader": 1}, ("not_sold", "reserve_not_met"), "not_sold", "not_sold"),
        ({"status": "closed"}, ("not_sold", "no_bids"), "not_sold", "not_sold"),
        ({"status": "cancelled", "high_bid": 2_000, "leader": 1}, ("withdrawn", None), "withdrawn", "withdrawn"),
    ],
)
def test_a_lot_is_decided_one_way_and_each_bidder_stands_somewhere(fields, result, alice, bob):
    lot, now = _lot(**fields)
    assert lot_result_at(lot, now) == result
    assert (bidder_standing(lot, user_id=1, now=now), bidder_standing(lot, user_id=2, now=now)) == (alice, bob)


T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _outage(ends_at: datetime, *, now: datetime | None = None, grace: timedelta = 3 * SECOND):
    """An outage from T0 to T0 + 20 s; the minimum left after it is 30 s."""
    end = T0 + 20 * SECOND
    return outage_extension(
        ends_at=ends_at, outage_start=T0, outage_end=end, now=now or end, min_remaining=30 * SECOND, grace=grace
    )


def test_an_end_inside_an_outage_moves_by_its_length_and_at_least_the_minimum_from_now():
    assert _outage(T0 + 5 * SECOND) == T0 + 20 * SECOND + 30 * SECOND  # 5 s + 20 s is less than now + 30 s
    assert _outage(T0 + 20 * SECOND) == T0 + 50 * SECOND
    # A later pass (now past the outage's end) still gives the minimum from now.
    assert _outage(T0 + 5 * SECOND, now=T0 + 40 * SECOND) == T0 + 70 * SECOND


def test_a_long_outage_moves_the_end_by_its_whole_length():
    end = T0 + 600 * SECOND
    moved = outage_extension(
        ends_at=T0 + 500 * SECOND, outage_start=T0, outage_end=end, now=end, min_remaining=30 * SECOND
    )
    assert moved == T0 + 1100 * SECOND


def test_an_end_just_before_the_outage_counts_while_its_bids_were_deciding():
    assert _outage(T0 - 2 * SECOND) == T0 + 50 * SECOND  # within the grace: bids were in flight
    assert _outage(T0 - 3 * SECOND) is None  # decided before the outage began
    assert _outage(T0 - 2 * SECOND, grace=timedelta(0)) is None


def test_an_end_after_the_outage_is_not_moved():
    assert _outage(T0 + 20 * SECOND + timedelta(milliseconds=1)) is None
    assert _outage(T0 + 3600 * SECOND) is None


@pytest.mark.parametrize(
    ("live_state", "status", "observed"),
    [
        ("waiting", "scheduled", "scheduled"),
        ("open", "open", "open"),
        ("fair_warning", "open", "open"),
        ("sold", "closed", "closed"),
    ],
)
def test_a_live_lot_has_no_clock_its_state_on_the_block_says_where_it_is(live_state, status, observed):
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    lot = Lot(sale_id=1, sale_position=1, live_state=live_state, status=status, starts_at=now - timedelta(hours=1))
    assert lot.ends_at is None and not lot.accepts_bids_at(now)
    assert lot_status_at(lot, now) == observed
    assert lot_result_at(lot, now) is None or status == "closed"
