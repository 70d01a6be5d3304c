"""place_bid and buy_now for synchronous callers (the HTTP API, the admin, fixtures and tests)."""

from __future__ import annotations

from datetime import datetime

from channels.db import database_sync_to_async
from django.utils import timezone

from auctions import lot_events
from auctions.exceptions import NotAuthenticated
from bidding.locks import lot_lock
from bidding.retries import BidOutcome
from bidding.services import decision, precheck, purchase
from bidding.services.checks import check_bid_fields, check_bid_id, wait_left


def place_bid(
    *, user, lot_id: int, amount: object, bid_id: object, max_amount: object = None, received_at: datetime | None = None
) -> BidOutcome:
    """Place `amount` cents on lot `lot_id` for `user`, optionally with a hidden maximum for automatic bidding
    (bidding/proxy.py); return the outcome or raise a BidRefused. `received_at`: when the request arrived (the
    transport stamps it first thing; default: now); the bid is on time if that is before the end.

    Takes the lot lock itself (callers hold none). The bid is committed, and its broadcast scheduled, before this
    returns, so whoever tells the bidder "accepted" tells the truth.
    """
    received_at = received_at or timezone.now()
    amount, bid_id, max_amount = check_bid_fields(amount, bid_id, max_amount)
    fields = {"lot_id": lot_id, "amount": amount, "bid_id": bid_id, "max_amount": max_amount}
    earlier = precheck.guarded(precheck.check_before_lock, user, **fields, received_at=received_at)
    if earlier:
        return earlier
    with lot_lock(lot_id, wait=wait_left(received_at)):
        outcome = precheck.guarded(decision.decide_one, user, **fields, received_at=received_at)
    lot_events.notify_on_commit(list(outcome.notices))  # at once, or at the caller's commit if it holds a transaction
    return outcome


def buy_now(*, user, lot_id: int, bid_id: object, received_at: datetime | None = None) -> BidOutcome:
    """End the lot at once at its buy-now price for `user`: offered until the first bid (the simpler rule for
    bidders: once anyone has bid, the auction runs its course). The purchase is a bid row and the lot closes in
    the same transaction, with the usual closing broadcast and notices."""
    received_at = received_at or timezone.now()
    bid_id = check_bid_id(bid_id)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    with lot_lock(lot_id, wait=wait_left(received_at)):
        return precheck.guarded(
            purchase.decide_buy_now,
            user,
            lot_id=lot_id,
            amount=None,
            bid_id=bid_id,
            action="buy_now",
            received_at=received_at,
        )


abuy_now = database_sync_to_async(buy_now, thread_sensitive=False)
