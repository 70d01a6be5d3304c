"""The internet bidder's bid at the ask (the hammer rule included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from auctions.exceptions import BidRefused, InvalidBid, LotClosed, LotNotOpen, NotAuthenticated, TooLow
from auctions.models import Lot, SaleRegistration
from auctions.sales import sale_bidder
from bidding import live_payloads
from bidding.locks import lot_lock
from bidding.services.checks import check_bid_id
from bidding.services.live.block import (
    BIDDING_STATES,
    Block,
    check_amount,
    check_running,
    current_lot_id,
    locked,
    next_ask,
    on_block,
    take_internet_bid,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LiveBid:
    """An internet bid at the ask its bidder saw, its fields checked, waiting for its lot (one decision each)."""

    user: object
    amount: int
    bid_id: str
    received_at: datetime  # stamped on receipt, before any queue: the hammer rule reads it
    lot_id: int | None = None  # the lot its bidder saw on the block (None: whichever is on it)
    received: int = 0  # time.monotonic_ns() on receipt: its place in this process's queue
    deadline: float = 0.0  # time.monotonic() after which it is answered `busy` instead of waiting on


def live_bid_of(
    *, user, amount: object, bid_id: object, lot: object = None, received_at: datetime | None = None, **more
) -> LiveBid:
    """The bid's own fields checked (no database): a malformed or anonymous bid never waits for the lot."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    if lot is not None and (isinstance(lot, bool) or not isinstance(lot, int) or lot <= 0):
        raise InvalidBid("lot must be the id of the lot on the block.", field="lot")
    return LiveBid(
        user=user,
        amount=check_amount(amount, "amount"),
        bid_id=check_bid_id(bid_id),
        lot_id=lot,
        received_at=received_at or timezone.now(),
        **more,
    )


def on_block_id(sale_id: int) -> int:
    """The lot on the block, whose lock a bid waits for; `not_open` (`no_lot`) when there is none."""
    lot_id = current_lot_id(sale_id)
    if lot_id is None:
        raise LotNotOpen("There is no lot on the block.", reason="no_lot")
    return lot_id


def live_bid(
    *, user, sale_id: int, amount: object, bid_id: object, lot: object = None, received_at: datetime | None = None
) -> dict:
    """One internet bid, decided alone (synchronous callers; the sale socket queues bids: live.socket_queue)."""
    bid = live_bid_of(user=user, amount=amount, bid_id=bid_id, lot=lot, received_at=received_at)
    lot_id = bid.lot_id or on_block_id(sale_id)
    with lot_lock(lot_id):
        [result] = decide_live_bids(sale_id, lot_id, [bid])
    if isinstance(result, BidRefused):
        raise result
    return result


def decide_live_bids(sale_id: int, lot_id: int, bids: list[LiveBid]) -> list[dict | BidRefused]:
    """Decide `bids`, in order, under the caller's lock of `lot_id`, in one transaction: each one's reply, or its
    refusal. Every refusal happens before its bid changes anything, so one bid refused leaves the others' writes
    whole; any other error undoes them all (the caller answers each bid `unavailable`). What the group needs is
    read in one statement and what it decides written in one (bidding/statements/block.py)."""
    with transaction.atomic():
        try:
            block = locked(
                sale_id,
                lot_id,
                bidders={bid.user.pk for bid in bids},
                retries=[(bid.user.pk, bid.bid_id) for bid in bids],
            )
            sale = block.sale
            if sale.current_lot_id is not None and sale.current_lot_id != lot_id:
                # A bid for the lot its bidder saw, which the clerk has moved on from: never taken on the next one,
                # whose ask may be the same amount.
                raise LotNotOpen(
                    "That lot is no longer on the block.", reason="not_on_block", on_block=sale.current_lot_id
                )
            on_block(sale, block.lot, lot_id)
        except BidRefused as refusal:
            return [refusal for _ in bids]
        results: list[dict | BidRefused] = []
        for bid in bids:
            try:
                results.append(_decide(block, bid))
            except BidRefused as refusal:
                results.append(refusal)
        block.write()
    return results


def _registration(block: Block, user) -> SaleRegistration:
    registration, flags = block.bidders.get(user.pk, (None, None))
    return sale_bidder(user, house_id=block.sale.house_id, registration=registration, flags=flags)


def _decide(block: Block, bid: LiveBid) -> dict:
    """One bid at the ask, against the locked sale and lot on the block (kept current in memory as bids are taken).
    Refused `too_low` with the ask when the ask has moved (never taken at a higher price); `closed` with `late_ms`
    when received after the hammer, which the clerks hear as a missed bid. With auto-accept it is taken at once;
    without, it waits for the clerk's Accept (the first one at the ask). The refusals that need the bidder's
    registration come last: in a burst at one ask, all but the first are `too_low`."""
    sale, lot, now = block.sale, block.lot, block.now
    user, amount, bid_id, received_at = bid.user, bid.amount, bid.bid_id, bid.received_at
    earlier = block.earlier.get((user.pk, bid_id))
    if earlier is not None:  # a retry: the original answer; an id used elsewhere is not this bid
        if earlier.lot_id != lot.pk:
            raise InvalidBid("This bid_id was used for another bid.", field="bid_id")
        return live_payloads.live_bid_accepted(earlier, lot, duplicate=True)
    if lot.hammer_at is not None and lot.live_state in (Lot.LiveState.SOLD, Lot.LiveState.PASSED):
        # Received after the hammer: late by that much. Received before it but queued behind it (the hammer took
        # the lock first): refused too, with late_ms 0 and before_hammer, so the clerk, who hears of it at once,
        # may reopen.
        late_ms = round((received_at - lot.hammer_at).total_seconds() * 1000)
        before = late_ms < 0
        late_ms = max(0, late_ms)
        registration = _registration(block, user)
        block.tell_clerks(
            live_payloads.missed_bid(
                lot, amount=amount, late_ms=late_ms, paddle=registration.paddle, now=now, before_hammer=before
            )
        )
        log.info("missed_bid", sale_id=sale.pk, lot_id=lot.pk, late_ms=late_ms)
        raise LotClosed("The hammer has fallen.", late_ms=late_ms, before_hammer=before)
    check_running(sale)
    if lot.live_state not in BIDDING_STATES:
        raise LotNotOpen("The lot is not open yet.", reason=lot.live_state)
    ask = lot.live_ask or next_ask(lot)
    if amount != ask or (lot.live_pending and lot.live_pending["user"] != user.pk):
        raise TooLow("The ask has moved.", min_next_bid=ask, ask=ask, waiting=bool(lot.live_pending))
    registration = _registration(block, user)
    waiting = {
        "user": user.pk,
        "amount": amount,
        "bid_id": bid_id,
        "paddle": registration.paddle,
        "received_at": received_at.isoformat(),
    }
    if not sale.auto_accept:
        if not lot.live_pending:
            lot.live_pending = waiting
            block.tell_clerks(live_payloads.clerk_waiting(sale, lot, waiting, now=now))
        # else the same bidder again: still waiting
        return {"type": "live_bid_waiting", "bid_id": bid_id, "amount": amount, "lot": lot.pk}
    taken = block.earlier[(user.pk, bid_id)] = take_internet_bid(block, waiting)
    return live_payloads.live_bid_accepted(taken, lot, duplicate=False)
