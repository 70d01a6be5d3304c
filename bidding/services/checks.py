"""The checks a bid meets, before the lock (cheaply, on a read that may be stale) and again under it."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from auctions import payloads, rules
from auctions.exceptions import (
    Busy,
    Forbidden,
    InvalidBid,
    LiveLot,
    LotClosed,
    LotNotOpen,
    NotAuthenticated,
    TooLow,
)
from auctions.models import Lot
from auctions.money import check_cents
from bidding.protocol import storable


def check_bid_id(bid_id: object) -> str:
    if not isinstance(bid_id, str) or not 0 < len(bid_id) <= 64:
        raise InvalidBid("bid_id must be a non-empty string of at most 64 characters.", field="bid_id")
    if not storable(bid_id):  # over HTTP too: PostgreSQL cannot store it, and the answer is the client's to act on
        raise InvalidBid("bid_id may not contain NUL characters or lone surrogates.", field="bid_id")
    return bid_id


def check_bid_fields(amount: object, bid_id: object, max_amount: object = None) -> tuple[int, str, int | None]:
    bid_id = check_bid_id(bid_id)
    amount = check_cents(amount, field="amount")
    if max_amount is not None and check_cents(max_amount, field="max_amount") < amount:
        raise InvalidBid("Your maximum cannot be below your bid.", field="max_amount")
    return amount, bid_id, max_amount


def check_bidder(user, lot: Lot, *, can_bid: bool, banned: bool) -> None:
    """Per-action permission, from flags read fresh for each bid, so a ban takes effect on the very next one."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    if banned:
        raise Forbidden("Your account may not bid.", reason="banned")
    if lot.seller_id == user.pk:
        raise Forbidden("You cannot bid on your own lot.", reason="own_lot")
    if not can_bid:
        raise Forbidden("Your account is not yet verified for bidding.", reason="not_verified")


def check_lot_accepts(lot: Lot, received_at: datetime) -> None:
    """On time means received before the end (and after the start), however long the bid then queued."""
    if lot.is_live:
        raise LiveLot()
    if lot.is_over_at(received_at):
        raise LotClosed()
    if not lot.accepts_bids_at(received_at):
        raise LotNotOpen(starts_at=payloads.iso(lot.starts_at))


def check_in_time(received_at: datetime, now: datetime) -> None:
    """A bid is decided within BID_LOCK_WAIT_SECONDS of its receipt or answered `busy`: the closing worker relies on
    it to know when every bid received before a lot's end has been decided."""
    if (now - received_at).total_seconds() > settings.BID_LOCK_WAIT_SECONDS:
        raise Busy()


def check_amount(lot: Lot, amount: int) -> None:
    minimum = rules.lot_min_next_bid(lot)
    if amount < minimum:
        raise TooLow(min_next_bid=minimum)


def wait_left(received_at: datetime) -> float:
    """What is left of a bid's wait for its lot, counted from its receipt."""
    return settings.BID_LOCK_WAIT_SECONDS - (timezone.now() - received_at).total_seconds()
