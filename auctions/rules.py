"""The lot's rules, pure: the bid increment table and the minimum next bid. All cents."""

from __future__ import annotations

# (upper bound of the current high bid, exclusive; increment). The last row applies to everything above.
INCREMENTS: tuple[tuple[int | None, int], ...] = (
    (2_000, 100),  # under 20.00: 1.00
    (10_000, 250),  # under 100.00: 2.50
    (50_000, 500),  # under 500.00: 5.00
    (100_000, 1_000),  # under 1,000.00: 10.00
    (500_000, 2_500),  # under 5,000.00: 25.00
    (None, 5_000),  # from 5,000.00: 50.00
)


def increment_for(high_bid: int) -> int:
    for upper, step in INCREMENTS:
        if upper is None or high_bid < upper:
            return step
    raise AssertionError("the last row has no upper bound")


def min_next_bid(*, starting_price: int, high_bid: int | None) -> int:
    """The lowest amount the next bid may have: the starting price, then the high bid plus one increment."""
    if high_bid is None:
        return starting_price
    return high_bid + increment_for(high_bid)
