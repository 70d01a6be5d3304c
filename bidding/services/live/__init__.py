"""The live bid path: what happens on the block of a live sale (docs/live-sales.md).

Check, then do, like every bid: each action checks its arguments, then, under the lot's lock (bidding.locks) and
inside one transaction, re-reads the sale and the lot on the block `SELECT … FOR UPDATE` (the sale's row first,
always, so a pause and a bid are ordered too) and decides. Every change is a sequenced LotEvent of the lot on the
block, broadcast after commit (auctions.lot_events); what only the clerks may see (who leads, the paddle, a missed
bid) goes to them as personal messages, never stored with the lot's public events.

Bids are decided in the order the lot lock grants them, which is the order the server received them for one
process's socket queue (live.socket_queue, which decides the bids queued meanwhile together); each carries its
receipt time, stamped before it queued, so a bid received before the hammer and one received after are told apart
whatever the queue did (`closed` with `late_ms`).
"""

from bidding.services.live.bidder import LiveBid, decide_live_bids, live_bid
from bidding.services.live.block import current_lot_id, next_ask
from bidding.services.live.clerk import CLERK_ACTIONS, clerk_action
from bidding.services.live.socket_queue import alive_bid

__all__ = [
    "CLERK_ACTIONS",
    "LiveBid",
    "alive_bid",
    "clerk_action",
    "current_lot_id",
    "decide_live_bids",
    "live_bid",
    "next_ask",
]
