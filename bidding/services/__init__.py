"""Placing a bid: the one way a bid enters the system (WebSocket, HTTP, admin, fixtures and tests alike).

Check, then do: cheap checks first, outside any lock (checks, precheck); then, under the lot lock and inside one
transaction, the lot row is re-read and every rule is checked again against the database, which decides
(decision). Synchronous callers use placing; sockets use socket_queue, which groups the bids that queue for a lot.
"""

from bidding.retries import BidOutcome
from bidding.services.checks import check_amount, check_bid_fields, check_bid_id, check_bidder, check_lot_accepts
from bidding.services.placing import abuy_now, buy_now, place_bid
from bidding.services.socket_queue import aplace_bid

__all__ = [
    "BidOutcome",
    "abuy_now",
    "aplace_bid",
    "buy_now",
    "check_amount",
    "check_bid_fields",
    "check_bid_id",
    "check_bidder",
    "check_lot_accepts",
    "place_bid",
]
