"""One pure builder per message of the bid path and the sockets: bids (high_bid, outbid, bid_accepted,
bid_rejected), the greetings and keep-alives of ws/me/, and the seller dashboard's counts. Builders only: sending is
bidding/broadcast.py's. Messages about a lot as a whole are in auctions/payloads.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from auctions import rules
from auctions.payloads import Payload, bidder_alias, iso

if TYPE_CHECKING:
    from auctions.exceptions import BidRefused
    from auctions.models import Lot
    from bidding.retries import BidOutcome


def high_bid(
    lot: Lot,
    *,
    amount: int,
    bidder_number: int,
    now: datetime,
    extended: bool,
    automatic: bool = False,
    outbid_at_once: bool = False,
    buy_now: bool = False,
) -> Payload:
    """One bid row. A client bid answered by a hidden maximum makes two or three of these, in sequence order; the
    last one is the lot's state. Never carries anyone's maximum."""
    return {
        "type": "high_bid",
        "lot": lot.pk,
        "seq": lot.seq,
        "amount": amount,
        "bidder": bidder_alias(bidder_number),
        "automatic": automatic,
        "outbid_at_once": outbid_at_once,
        "buy_now": buy_now,
        "bid_count": lot.bid_count,
        "bidder_count": lot.bidder_count,  # distinct bidders so far (their aliases are numbered: public anyway)
        "ends_at": iso(lot.ends_at),
        "extended": extended,
        "server_time": iso(now),
        "min_next_bid": rules.lot_min_next_bid(lot),
        "reserve_met": lot.reserve_met,
    }


def outbid(lot: Lot, *, now: datetime) -> Payload:
    return {
        "type": "outbid",
        "lot": lot.pk,
        "title": lot.title,
        "seq": lot.seq,
        "amount": lot.high_bid_amount,
        "min_next_bid": rules.lot_min_next_bid(lot),
        "ends_at": iso(lot.ends_at),
        "server_time": iso(now),
    }


def watchers(counts: dict[int, int], *, now: datetime) -> Payload:
    return {
        "type": "watchers",
        "lots": {str(lot_id): count for lot_id, count in counts.items()},
        "server_time": iso(now),
    }


def seller_snapshot(rows: list[Payload], *, now: datetime) -> Payload:
    return {"type": "seller_snapshot", "lots": rows, "server_time": iso(now)}


def me(*, watching: list[int], last_id: int, now: datetime) -> Payload:
    """The greeting on ws/me/: `last_id` is the user's latest notice (a client with none stored starts there)."""
    return {"type": "me", "watching": watching, "last_id": last_id, "server_time": iso(now)}


def pong(*, now: datetime) -> Payload:
    return {"type": "pong", "server_time": iso(now)}


def bid_accepted(outcome: BidOutcome) -> Payload:
    """To the bidder alone: `leading` false means a hidden maximum beat the bid at once; `max_amount` is theirs.
    A retry of an accepted bid gets exactly the original fields, with `duplicate` true."""
    return {
        "type": "bid_accepted",
        "lot": outcome.lot_id,
        "bid_id": outcome.bid_id,
        "amount": outcome.amount,
        "seq": outcome.seq,
        "leading": outcome.leading,
        "automatic": outcome.automatic,
        "max_amount": outcome.max_amount,
        "duplicate": outcome.duplicate,
    }


def bid_rejected(bid_id: object, refusal: BidRefused) -> Payload:
    # Echo the client's id only when it is one we could have accepted, so the reply stays small and plain.
    echo = bid_id if isinstance(bid_id, str) and 0 < len(bid_id) <= 64 else None
    return {"type": "bid_rejected", "bid_id": echo, "code": refusal.code, "message": refusal.message, **refusal.details}
