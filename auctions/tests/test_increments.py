"""The increment schedule as a parameter: the site table by default, a clerk's flat increment or a house's table."""

from __future__ import annotations

import pytest

from auctions.exceptions import InvalidBid
from auctions.rules import (
    INCREMENTS,
    SITE_INCREMENTS,
    fixed_increment,
    increment_for,
    min_next_bid,
    parse_increments,
)

pytestmark = pytest.mark.pure


def test_the_default_schedule_is_the_site_table_at_every_boundary():
    bounds = [upper for upper, _ in INCREMENTS if upper is not None]
    for amount in [0, 1, *bounds, *(b - 1 for b in bounds), 10**11]:
        expected = next(step for upper, step in INCREMENTS if upper is None or amount < upper)
        assert increment_for(amount) == increment_for(amount, SITE_INCREMENTS) == expected


def test_a_flat_increment_applies_at_every_amount():
    hundreds = fixed_increment(10_000)
    assert [increment_for(amount, hundreds) for amount in (0, 1_999, 500_000, 10**9)] == [10_000] * 4
    assert min_next_bid(starting_price=5_000, high_bid=520_000, increments=hundreds) == 530_000
    assert min_next_bid(starting_price=5_000, high_bid=None, increments=hundreds) == 5_000


def test_a_house_table_steps_at_its_own_amounts():
    table = parse_increments([[0, 500], [10_000, 1_000], [50_000, 5_000]])
    assert [increment_for(amount, table) for amount in (0, 9_999, 10_000, 49_999, 50_000, 10**8)] == [
        500,
        500,
        1_000,
        1_000,
        5_000,
        5_000,
    ]


@pytest.mark.parametrize(
    "value",
    [
        [],
        "[[0, 100]]",
        [[0]],
        [[100, 100]],  # must start at 0
        [[0, 100], [0, 200]],  # amounts must rise
        [[0, 100], [5_000, 200], [2_000, 300]],
        [[0, 0]],
        [[0, -100]],
        [[0, 1.5]],
        [[0, True]],
        [[0, "100"]],
        [[0, 100]] * 51,
    ],
)
def test_a_malformed_schedule_is_refused_on_the_increments_field(value):
    with pytest.raises(InvalidBid) as refused:
        parse_increments(value)
    assert refused.value.details["field"] == "increments"


@pytest.mark.parametrize("increment", [0, -5, 2.5, None, "100", True])
def test_a_flat_increment_must_be_whole_cents_above_zero(increment):
    with pytest.raises(InvalidBid):
        fixed_increment(increment)
