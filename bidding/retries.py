"""One bid_id names one action of one user: its retries, from any transport, process or group, get its original
answer; a different body under the same id is `invalid`.

Accepted actions are stored (a bid's request row, a buy-now, a maximum raised without a visible bid); refusals
are not, so a copy of a refused bid is simply decided again. The answer a retry gets is rebuilt from the stored
action by the same function that built the original (`Recorded.answer`), so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from auctions.exceptions import InvalidBid


@dataclass(frozen=True)
class Request:
    """What the client asked for, as far as telling a retry from a different action goes."""

    action: str  # "bid" (with or without a maximum) or "buy_now"
    lot_id: int
    amount: int | None = None  # cents sent (a bid); None for buy now
    max_amount: int | None = None  # the hidden maximum sent, if any


@dataclass(frozen=True)
class Recorded:
    """An accepted action and the answer it got (the fields of `bid_accepted`, bidding/payloads.py)."""

    request: Request
    amount: int  # the amount recorded (it may exceed the one sent: an automatic raise, the reserve)
    seq: int
    leading: bool
    automatic: bool
    max_amount: int | None  # the bidder's own maximum standing after it (theirs alone)

    @classmethod
    def from_row(cls, row: tuple) -> Recorded:
        """`row`: lot_id, kind, amount sent, maximum sent, amount recorded, seq, outbid_at_once, standing maximum
        (bidding/statements/reads.py reads it from a bid's request row or from a maximum raise)."""
        lot_id, kind, sent, max_sent, amount, seq, outbid_at_once, standing_max = row
        if kind == "buy_now":
            request = Request("buy_now", lot_id)
        else:
            request = Request("bid", lot_id, sent, max_sent)
        return cls(
            request=request,
            amount=amount,
            seq=seq,
            leading=not outbid_at_once,
            automatic=kind == "automatic",
            max_amount=standing_max if not outbid_at_once else None,
        )

    def answer(self, request: Request) -> Recorded:
        """The original answer for a retry of `request`; InvalidBid if the id was used for something else."""
        if request != self.request:
            raise InvalidBid("This bid_id was already used for a different bid.", field="bid_id")
        return self


@dataclass(frozen=True)
class BidOutcome:
    lot_id: int
    bid_id: str
    amount: int
    seq: int
    min_next_bid: int | None = None
    duplicate: bool = False  # a retry of an accepted action: every other field is the original answer's
    leading: bool = True  # False when a hidden maximum answered and beat the bid at once
    automatic: bool = False  # the system raised the bid above the amount sent (the other maximum, or the reserve)
    max_amount: int | None = None  # the requester's own maximum: told to them, never to anyone else
    # Personal notices this bid causes (the outbid leader): sent after the lock is released, not under it.
    notices: tuple[tuple[int, dict], ...] = ()

    @classmethod
    def of(cls, recorded: Recorded, *, bid_id: str, duplicate: bool, **extra) -> BidOutcome:
        """The answer to an accepted action, original or retried: both are built here from what was recorded."""
        return cls(
            lot_id=recorded.request.lot_id,
            bid_id=bid_id,
            amount=recorded.amount,
            seq=recorded.seq,
            leading=recorded.leading,
            automatic=recorded.automatic,
            max_amount=recorded.max_amount,
            duplicate=duplicate,
            **extra,
        )
