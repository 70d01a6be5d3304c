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
    """An accepted action and the answer it got (the fields of `bid_accepted`, bidding/events.py)."""

    request: Request
    amount: int  # the amount recorded (it may exceed the one sent: an automatic raise, the reserve)
    seq: int
    leading: bool
    automatic: bool
    max_amount: int | None  # the bidder's own maximum standing after it (theirs alone)

    @classmethod
    def from_row(cls, row: tuple) -> Recorded:
        """`row`: lot_id, kind, amount sent, maximum sent, amount recorded, seq, outbid_at_once, standing maximum
        (bidding/statements.py reads it from a bid's request row or from a maximum raise)."""
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
