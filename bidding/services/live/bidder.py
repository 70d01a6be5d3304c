"""The internet bidder's bid at the ask (the hammer rule included)."""

from __future__ import annotations

from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from auctions import lot_events
from auctions.exceptions import InvalidBid, LotClosed, LotNotOpen, TooLow
from auctions.models import Lot
from auctions.sales import check_sale_bidder
from bidding import live_payloads
from bidding.locks import lot_lock
from bidding.models import Bid
from bidding.services.checks import check_bid_id
from bidding.services.live.block import (
    BIDDING_STATES,
    check_amount,
    check_running,
    clerk_ids,
    current_lot_id,
    locked,
    next_ask,
    on_block,
    take_internet_bid,
)

log = structlog.get_logger(__name__)


def live_bid(*, user, sale_id: int, amount: object, bid_id: object, received_at: datetime | None = None) -> dict:
    """An internet bid at the ask it saw. Refused `too_low` with the ask when the ask has moved (never taken at a
    higher price); `closed` with `late_ms` when received after the hammer, which the clerks hear as a missed bid.
    With auto-accept it is taken at once; without, it waits for the clerk's Accept (the first one at the ask)."""
    received_at = received_at or timezone.now()
    amount = check_amount(amount, "amount")
    bid_id = check_bid_id(bid_id)
    lot_id = current_lot_id(sale_id)
    if lot_id is None:
        raise LotNotOpen("There is no lot on the block.", reason="no_lot")
    missed: dict | None = None
    try:
        with lot_lock(lot_id), transaction.atomic():
            sale, lot = locked(sale_id, lot_id)
            registration = check_sale_bidder(user, sale_id=sale.pk, house_id=sale.house_id)
            lot = on_block(sale, lot, lot_id)
            now = timezone.now()
            earlier = Bid.objects.filter(bidder=user, bid_id=bid_id).first()
            if earlier is not None:  # a retry: the original answer; an id used elsewhere is not this bid
                if earlier.lot_id != lot.pk:
                    raise InvalidBid("This bid_id was used for another bid.", field="bid_id")
                return live_payloads.live_bid_accepted(earlier, lot, duplicate=True)
            if lot.hammer_at is not None and lot.live_state in (Lot.LiveState.SOLD, Lot.LiveState.PASSED):
                # Received after the hammer: late by that much. Received before it but queued behind it (the
                # hammer took the lock first): refused too, with late_ms 0 and before_hammer, so the clerk, who
                # hears of it at once, may reopen.
                late_ms = round((received_at - lot.hammer_at).total_seconds() * 1000)
                before = late_ms < 0
                late_ms = max(0, late_ms)
                missed = live_payloads.missed_bid(
                    lot, amount=amount, late_ms=late_ms, paddle=registration.paddle, now=now, before_hammer=before
                )
                clerks = clerk_ids(sale)
                raise LotClosed("The hammer has fallen.", late_ms=late_ms, before_hammer=before)
            check_running(sale)
            if lot.live_state not in BIDDING_STATES:
                raise LotNotOpen("The lot is not open yet.", reason=lot.live_state)
            ask = lot.live_ask or next_ask(lot)
            if amount != ask or (lot.live_pending and lot.live_pending["user"] != user.pk):
                raise TooLow("The ask has moved.", min_next_bid=ask, ask=ask, waiting=bool(lot.live_pending))
            waiting = {
                "user": user.pk,
                "amount": amount,
                "bid_id": bid_id,
                "paddle": registration.paddle,
                "received_at": received_at.isoformat(),
            }
            if not sale.auto_accept:
                if lot.live_pending:  # the same bidder again: still waiting
                    return {"type": "live_bid_waiting", "bid_id": bid_id, "amount": amount, "lot": lot.pk}
                lot.live_pending = waiting
                lot.save(update_fields=["live_pending"])
                clerk = live_payloads.clerk_waiting(sale, lot, waiting, now=now)
                lot_events.notify_on_commit([(uid, clerk) for uid in clerk_ids(sale)], stored=False)
                return {"type": "live_bid_waiting", "bid_id": bid_id, "amount": amount, "lot": lot.pk}
            bid = take_internet_bid(sale, lot, waiting, now)
        return live_payloads.live_bid_accepted(bid, lot, duplicate=False)
    except LotClosed:
        if missed is not None:
            lot_events.notify_on_commit([(uid, missed) for uid in clerks], stored=False)
            log.info("missed_bid", sale_id=sale_id, lot_id=lot_id, late_ms=missed["late_ms"])
        raise
