"""Buy now, decided like a bid: under the lot's lock and row lock, the lot sold at once at its buy-now price (a bid
row of kind buy_now), closed in the same transaction. Expects the lot lock held."""

from __future__ import annotations

from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from auctions import lot_events, rules
from auctions import payloads as lot_payloads
from auctions.exceptions import BuyNowUnavailable
from auctions.models import Lot
from bidding import payloads, statements
from bidding.closing import close_lot
from bidding.models import Bid
from bidding.retries import BidOutcome, Recorded, Request
from bidding.services.checks import check_in_time, check_lot_accepts
from bidding.services.decision import locked_checks

log = structlog.get_logger(__name__)


def decide_buy_now(user, *, lot_id: int, bid_id: str, received_at: datetime, **_) -> BidOutcome:
    with transaction.atomic():
        locked = statements.lock_lot_for_decision(lot_id=lot_id, user_id=user.pk, bid_id=bid_id)
        retry = locked_checks(locked, user, Request("buy_now", lot_id), bid_id=bid_id)
        if retry is not None:
            return retry
        lot, now = locked.lot, timezone.now()
        check_in_time(received_at, now)
        check_lot_accepts(lot, received_at)
        if rules.buy_now_price(lot, received_at) is None:
            raise BuyNowUnavailable()
        lot.bidder_count += 1
        lot.seq += 1
        lot.bid_count += 1
        lot.high_bid_amount, lot.high_bidder_id, lot.leader_max_amount = lot.buy_now_price, user.pk, None
        lot.status = Lot.Status.OPEN
        bid = Bid(
            lot_id=lot.pk,
            bidder_id=user.pk,
            amount=lot.buy_now_price,
            seq=lot.seq,
            bidder_number=lot.bidder_count,
            created_at=now,
            received_at=received_at,
            kind=Bid.Kind.BUY_NOW,
            bid_id=bid_id,
            requested_amount=lot.buy_now_price,
        )
        text = lot_payloads.encode(
            payloads.high_bid(
                lot, amount=bid.amount, bidder_number=bid.bidder_number, now=now, extended=False, buy_now=True
            )
        )
        statements.write_decision(lot=lot, bids=[bid], event_texts=[text], now=now)
        lot_events.broadcast_on_commit(lot.pk, lot.seq, text)
        close_lot(lot, now)
    log.info("lot_bought_now", lot_id=lot_id, bid_id=bid_id, amount=bid.amount)
    row = (lot.pk, Bid.Kind.BUY_NOW, None, None, bid.amount, bid.seq, False, None)
    return BidOutcome.of(Recorded.from_row(row), bid_id=bid_id, duplicate=False)
