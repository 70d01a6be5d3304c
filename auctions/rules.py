"""The lot's rules, pure: the status a bidder observes at a moment, the bid increment table, the minimum next
bid, whether buy now is offered. All money in cents."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auctions.models import Lot

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


def lot_status_at(lot: Lot, now: datetime) -> str:
    """The status a bidder would observe now, even before the closing worker has run."""
    if lot.status in (lot.Status.CLOSED, lot.Status.CANCELLED):
        return lot.status
    if now < lot.starts_at:
        return lot.Status.SCHEDULED
    if now < lot.ends_at:
        return lot.Status.OPEN
    return lot.Status.CLOSED


def lot_min_next_bid(lot: Lot) -> int:
    return min_next_bid(starting_price=lot.starting_price, high_bid=lot.high_bid_amount)


def buy_now_price(lot: Lot, now: datetime) -> int | None:
    """Buy now is offered until the first bid (docs/protocol.md), while the lot takes bids."""
    if lot.buy_now_price is None or lot.bid_count or not lot.accepts_bids_at(now):
        return None
    return lot.buy_now_price


def soft_close_end(
    *, ends_at: datetime, decided_at: datetime, window: int, extension: int, hard_end: datetime | None
) -> datetime | None:
    """Anti-sniping: a bid decided within `window` seconds of the end moves it to `extension` seconds after the
    decision, never past the hard end. The new end, or None when the end stays."""
    if ends_at - decided_at > timedelta(seconds=window):
        return None
    new_end = decided_at + timedelta(seconds=extension)
    if hard_end is not None:
        new_end = min(new_end, hard_end)
    return new_end if new_end > ends_at else None
