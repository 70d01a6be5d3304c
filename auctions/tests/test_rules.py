import pytest

from auctions.rules import increment_for, min_next_bid

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
