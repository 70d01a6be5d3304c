"""Absentee (commission) bids against the room, pure: where a lot opens, and how an absentee maximum answers a
competing bid. LiveAuctioneers' published rules, with our differences in docs/live-sales.md. All money in cents."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from auctions.rules import SITE_INCREMENTS, Increments, increment_for


def absentee_leader(maxima_in_order: Sequence[tuple[Hashable, int]]) -> tuple[Hashable, int] | None:
    """(bidder, maximum) of the highest maximum; of equal maxima, the one placed first. None without any."""
    leader = None
    for bidder, maximum in maxima_in_order:
        if leader is None or maximum > leader[1]:  # strictly higher: an equal one placed later never leads
            leader = (bidder, maximum)
    return leader


def absentee_opening(
    start_price: int, maxima_in_order: Sequence[tuple[Hashable, int]], increments: Increments = SITE_INCREMENTS
) -> tuple[int, Hashable] | None:
    """Where the lot opens on the absentee bids, and who leads: (opening amount, bidder); None without any.

    A lone absentee bid opens at the start price. Several open one increment above the second-highest maximum,
    never above the leader's own maximum: equal top maxima open at that maximum, for the one placed first.
    """
    leader = absentee_leader(maxima_in_order)
    if leader is None:
        return None
    bidder, top = leader
    others = [maximum for who, maximum in maxima_in_order if who != bidder]
    if not others:
        return start_price, bidder
    second = max(others)
    return max(start_price, min(top, second + increment_for(second, increments))), bidder


def absentee_answer(competing: int, leader_max: int, increments: Increments = SITE_INCREMENTS) -> int | None:
    """The absentee's answer to a competing (floor or internet) bid of `competing`: one increment up, while its
    maximum allows; None when it does not (the competing bid then stands: an odd maximum counts only to the last
    increment under it)."""
    answer = competing + increment_for(competing, increments)
    return answer if answer <= leader_max else None
