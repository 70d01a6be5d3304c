"""The lot's rules, pure: the status a bidder observes at a moment, how a finished lot turned out (and where a
bidder stands), the bid increment table, the minimum next bid, whether buy now is offered, what the winner owes.
All money in cents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from auctions.exceptions import InvalidBid

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

# A clerk's or house's schedule stays small enough to show on a console and check at a glance.
MAX_INCREMENT_STEPS = 50


@dataclass(frozen=True)
class Increments:
    """An increment schedule: (from amount, increment) steps in cents, the first from 0, amounts rising. The
    increment at an amount is that of the last step starting at or below it. Timed lots use SITE_INCREMENTS; a live
    sale's clerk may set another (a flat one, or a house's table) and the automatic-bidding rule follows it."""

    steps: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        _check_steps(self.steps)

    def at(self, amount: int) -> int:
        step = self.steps[0][1]
        for start, increment in self.steps:
            if amount < start:
                break
            step = increment
        return step


def _check_steps(steps: object) -> None:
    if not isinstance(steps, tuple | list) or not 0 < len(steps) <= MAX_INCREMENT_STEPS:
        raise InvalidBid(f"An increment table has 1 to {MAX_INCREMENT_STEPS} steps.", field="increments")
    previous = -1
    for step in steps:
        if not isinstance(step, tuple | list) or len(step) != 2:
            raise InvalidBid("Each step is [from amount, increment], in cents.", field="increments")
        start, increment = step
        if not all(type(value) is int for value in step) or increment <= 0 or start < 0:
            raise InvalidBid("Amounts and increments are whole cents; increments above 0.", field="increments")
        if start <= previous:
            raise InvalidBid("The steps' amounts must rise.", field="increments")
        previous = start
    if steps[0][0] != 0:
        raise InvalidBid("The first step starts at 0.", field="increments")


SITE_INCREMENTS = Increments(
    tuple(zip((0, *(upper for upper, _ in INCREMENTS[:-1])), (step for _, step in INCREMENTS), strict=True))
)


def fixed_increment(increment: object) -> Increments:
    """One flat increment whatever the amount (a clerk's "bid in 100s")."""
    return parse_increments([[0, increment]])


def parse_increments(value: object) -> Increments:
    """A schedule from a clerk's or house's JSON (a list of [from amount, increment] pairs, in cents), checked:
    InvalidBid (field `increments`) says what is wrong."""
    _check_steps(value)
    return Increments(tuple((start, increment) for start, increment in value))


def increment_for(high_bid: int, increments: Increments = SITE_INCREMENTS) -> int:
    return increments.at(high_bid)


def min_next_bid(*, starting_price: int, high_bid: int | None, increments: Increments = SITE_INCREMENTS) -> int:
    """The lowest amount the next bid may have: the starting price, then the high bid plus one increment."""
    if high_bid is None:
        return starting_price
    return high_bid + increment_for(high_bid, increments)


def lot_status_at(lot: Lot, now: datetime) -> str:
    """The status a bidder would observe now, even before the closing worker has run."""
    if lot.status in (lot.Status.CLOSED, lot.Status.CANCELLED):
        return lot.status
    if lot.is_live:  # no clock: open while on the block, else waiting for its turn
        on_block = lot.live_state in (lot.LiveState.OPEN, lot.LiveState.FAIR_WARNING)
        return lot.Status.OPEN if on_block else lot.Status.SCHEDULED
    if now < lot.starts_at:
        return lot.Status.SCHEDULED
    if now < lot.ends_at:
        return lot.Status.OPEN
    return lot.Status.CLOSED


# How a lot turned out, as everyone may know it. `sold`: to its winner, at the high bid. `not_sold`: closed without a
# winner, for a reason (NOT_SOLD_*). `withdrawn`: cancelled by its seller or staff. `ending`: its end has passed but
# the closing pass has not yet decided it (bids received before the end may still be deciding): no result yet.
SOLD, NOT_SOLD, WITHDRAWN, ENDING = "sold", "not_sold", "withdrawn", "ending"
NOT_SOLD_NO_BIDS, NOT_SOLD_RESERVE_NOT_MET = "no_bids", "reserve_not_met"


def lot_result_at(lot: Lot, now: datetime) -> tuple[str, str | None] | None:
    """(result, not-sold reason or None) for a lot that is over at `now`; None while it runs or has not started."""
    if lot.status == lot.Status.CANCELLED:
        return WITHDRAWN, None
    if lot.status == lot.Status.CLOSED:
        if lot.winner_id is not None:
            return SOLD, None
        return NOT_SOLD, NOT_SOLD_NO_BIDS if lot.high_bid_amount is None else NOT_SOLD_RESERVE_NOT_MET
    if lot.is_live:  # the hammer closes it in the same transaction: never `ending`
        return None
    if now >= lot.ends_at:
        return ENDING, None
    return None


def bidder_standing(lot: Lot, *, user_id: int, now: datetime) -> str:
    """Where one of the lot's bidders stands: `leading` or `outbid` while it runs; then `won`, `lost` (sold to
    someone else), `not_sold`, `withdrawn`, or `ending` until the closing pass has decided it."""
    result = lot_result_at(lot, now)
    if result is None:
        return "leading" if lot.high_bidder_id == user_id else "outbid"
    if result[0] == SOLD:
        return "won" if lot.winner_id == user_id else "lost"
    return result[0]


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


def outage_extension(
    *,
    ends_at: datetime,
    outage_start: datetime,
    outage_end: datetime,
    now: datetime,
    min_remaining: timedelta,
    grace: timedelta = timedelta(0),
) -> datetime | None:
    """Fairness through an outage: a lot whose end fell while no bid could be placed (from `outage_start`, the last
    moment the bid path was seen healthy, to `outage_end`) ends later by the outage's length, and at least
    `min_remaining` after `now`, so everyone locked out gets the last moments they lost. `grace`: how long after
    its end a lot's bids may still be deciding (a lot that ended that little before the outage had bids in flight
    when it began). The new end, or None when the end was not in the outage."""
    if not outage_start - grace < ends_at <= outage_end:
        return None
    return max(ends_at + (outage_end - outage_start), now + min_remaining)


class WinnerTotal(NamedTuple):
    """What the winner owes, itemised, in cents: `shipping` is None for collection only (nothing to add)."""

    hammer: int
    premium_percent: Decimal
    premium: int
    shipping: int | None
    total: int


def buyers_premium(hammer: int, percent: Decimal) -> int:
    """The buyer's premium on a hammer price, in cents: `percent` (0 to 25, at most one decimal) of it, rounded to
    the nearest cent, a half cent up (12.5 % of 25.05 = 3.13125 → 3.13; 10 % of 0.05 = 0.005 → 0.01). Integer
    arithmetic in tenths of a percent: no float ever touches the amount."""
    tenths = percent * 10
    if tenths != tenths.to_integral_value() or not 0 <= tenths <= 250:
        raise ValueError(f"a buyer's premium is 0 to 25 percent to one decimal, not {percent}")
    # hammer × tenths / 1000, half up: floor((2 × hammer × tenths + 1000) / 2000).
    return (2 * hammer * int(tenths) + 1000) // 2000


def winner_total(*, hammer: int, premium_percent: Decimal, shipping: int | None) -> WinnerTotal:
    """Hammer price + buyer's premium + shipping as listed (none for collection only)."""
    premium = buyers_premium(hammer, premium_percent)
    return WinnerTotal(hammer, premium_percent, premium, shipping, hammer + premium + (shipping or 0))


def lot_winner_total(lot: Lot) -> WinnerTotal | None:
    """The winner's total for a sold lot; None for any other."""
    if lot.status != lot.Status.CLOSED or lot.winner_id is None or lot.high_bid_amount is None:
        return None
    return winner_total(
        hammer=lot.high_bid_amount, premium_percent=lot.buyers_premium_percent, shipping=lot.shipping_price
    )
