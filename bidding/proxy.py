"""Automatic (proxy) bidding and the reserve: what one incoming bid does to a lot, as a pure function.

The rules bidders know from the large marketplaces:
- a bid may carry a hidden maximum; the system bids for its owner only as much as needed to lead (the other
  maximum plus one increment, capped at the owner's maximum);
- when two maxima tie, the earlier one leads;
- the leader raising their own maximum does not raise the visible price;
- a maximum at or above the reserve lifts the visible price straight to the reserve.

The decision (bidding.services) calls `resolve` under the row lock and writes each step as a bid row with its own
sequence number, so history and replay stay exact; `verify_lot` replays the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auctions.exceptions import InvalidBid
from auctions.rules import SITE_INCREMENTS, Increments, increment_for


@dataclass(frozen=True)
class Step:
    """One visible bid the decision writes, in order."""

    bidder_id: int
    amount: int
    automatic: bool  # placed by the system on the bidder's behalf, not typed in at this amount
    outbid_at_once: bool = False  # beaten within the same decision (it never stood as the high bid)
    is_request: bool = False  # the row that answers the client's bid (carries its bid_id)


@dataclass(frozen=True)
class Resolution:
    steps: tuple[Step, ...]
    leader_id: int
    # The hidden maximum the leader keeps after this decision (None: no maximum above the visible price).
    leader_max: int | None
    outbid_user_ids: tuple[int, ...] = field(default=())

    @property
    def price(self) -> int | None:
        standing = [step for step in self.steps if not step.outbid_at_once]
        return standing[-1].amount if standing else None


def _lift_to_reserve(price: int, maximum: int, reserve: int | None) -> int:
    if reserve is not None and price < reserve <= maximum:
        return reserve
    return price


def _kept_max(maximum: int | None, price: int) -> int | None:
    return maximum if maximum is not None and maximum > price else None


def resolve(
    *,
    price: int | None,
    leader_id: int | None,
    leader_max: int | None,
    bidder_id: int,
    amount: int,
    max_amount: int | None,
    reserve: int | None,
    increments: Increments = SITE_INCREMENTS,
) -> Resolution:
    """`amount` has already been checked against the minimum next bid (with the same `increments`); `max_amount`,
    if given, is >= amount."""
    reach = max_amount if max_amount is not None else amount  # the most this bidder will pay now

    if price is None or leader_id is None:
        shown = _lift_to_reserve(amount, reach, reserve)
        return Resolution(
            steps=(Step(bidder_id, shown, automatic=shown > amount, is_request=True),),
            leader_id=bidder_id,
            leader_max=_kept_max(max_amount, shown),
        )

    defended = leader_max if leader_max is not None else price  # the leader's reach

    if leader_id == bidder_id:
        if max_amount is None:
            # A plain bid above your own lead raises the visible price, as you asked.
            return Resolution(
                steps=(Step(bidder_id, amount, automatic=False, is_request=True),),
                leader_id=bidder_id,
                leader_max=_kept_max(leader_max, amount),
            )
        if max_amount < defended:
            raise InvalidBid("Your maximum can only be raised, not lowered.", field="max_amount")
        shown = _lift_to_reserve(price, max_amount, reserve)
        steps = () if shown == price else (Step(bidder_id, shown, automatic=True, is_request=True),)
        return Resolution(steps=steps, leader_id=bidder_id, leader_max=_kept_max(max_amount, shown))

    if reach > defended:
        steps: list[Step] = []
        if price < defended and amount <= defended:
            # The leader's proxy answered up to its maximum before being beaten. (If the new bid jumps past the
            # leader's maximum outright, the proxy never had to move and the maximum stays secret.)
            steps.append(Step(leader_id, defended, automatic=True, outbid_at_once=True))
        shown = max(amount, min(reach, defended + increment_for(defended, increments)))
        shown = _lift_to_reserve(shown, reach, reserve)
        steps.append(Step(bidder_id, shown, automatic=shown > amount, is_request=True))
        return Resolution(
            steps=tuple(steps),
            leader_id=bidder_id,
            leader_max=_kept_max(max_amount, shown),
            outbid_user_ids=(leader_id,),
        )

    # The leader's maximum covers this bid (a tie goes to the earlier maximum): the bid stands in the history,
    # beaten at once by the leader's automatic answer.
    answer = min(defended, reach + increment_for(reach, increments))
    answer = _lift_to_reserve(answer, defended, reserve)
    steps = (
        Step(bidder_id, reach, automatic=reach > amount, outbid_at_once=True, is_request=True),
        Step(leader_id, answer, automatic=True),
    )
    return Resolution(
        steps=steps, leader_id=leader_id, leader_max=_kept_max(leader_max, answer), outbid_user_ids=(bidder_id,)
    )
