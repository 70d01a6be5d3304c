"""Internet bids from sale sockets: queued per lot in this process and decided in groups, as the timed lots' bids
are (bidding/services/socket_queue.py), with the lot lock awaited in the event loop.

A live burst is many bidders tapping the same ask at once, and only the first can be taken: decided one by one,
each bid would hold a pool thread while it polled the lot's lock, and a burst would take every thread (one bid in
ten was accepted and the clerk heard it a second late in loadtests/bench.py's live-bid row). Here the bids that
queue while the lot is busy are decided together: one lock, one transaction, the first at the ask taken, the rest
told the new ask."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from bidding import broadcast
from bidding.group_commit import GroupCommit, Queue
from bidding.services.live.bidder import LiveBid, decide_live_bids, live_bid_of, on_block_id
from bidding.services.socket_queue import deadline_of, decide_in_thread, decide_under_lot_lock, submit_decision


async def alive_bid(
    *, user, sale_id: int, amount: object, bid_id: object, lot: object = None, received: int, received_at: datetime
) -> dict:
    """live_bid for the sale socket: the same checks and decision, queued per lot. `received`
    (time.monotonic_ns()) is the bid's place in the queue and `received_at` the same moment on the wall clock (the
    hammer rule), both stamped on receipt."""
    bid = live_bid_of(
        user=user,
        amount=amount,
        bid_id=bid_id,
        lot=lot,
        received_at=received_at,
        received=received,
        deadline=deadline_of(received),
    )
    # Queued by the lot the bid names, whose lock it needs; a bid naming none waits with the others naming none.
    # A refused bid's refusal is raised: the queue answers it with its exception.
    return await submit_decision(_decisions, (sale_id, bid.lot_id), bid, sale_id=sale_id, bid_id=bid.bid_id)


async def _decide_queued(key: tuple[int, int | None], queue: Queue[LiveBid]) -> None:
    # Which lot's lock: the one the bids name, else the one on the block, read once for the group (the decision
    # checks it is still there either way).
    sale_id, lot_id = key
    if lot_id is None:
        lot_id = await decide_in_thread(on_block_id, sale_id)

    async def decide(group: list[LiveBid]) -> list[object]:
        results, notices = await decide_in_thread(_decide_keeping_notices, sale_id, lot_id, group)
        broadcast.send_deferred_soon(notices)
        return results

    await decide_under_lot_lock(lot_id, queue, decide)


def _decide_keeping_notices(sale_id: int, lot_id: int, group: list[LiveBid]) -> tuple[list, list]:
    # The clerks' views and the outbid notices leave from the event loop, once the decision is back: the lot's
    # lock is not held while the channel layer is waited for.
    with broadcast.notices_deferred() as notices:
        return decide_live_bids(sale_id, lot_id, group), notices


_decisions: GroupCommit[LiveBid] = GroupCommit(
    _decide_queued, max_group=settings.BID_GROUP_MAX, order=lambda bid: bid.received
)
