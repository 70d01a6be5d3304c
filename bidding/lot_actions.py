"""What staff (and a seller cancelling) do to a live lot: cancel, extend, ban one of its bidders. Each is decided
under the lot's lock and row lock, like a bid, so it and the lot's bids are decided one at a time; each stores its
lot event and tells the people affected after commit."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import Profile
from auctions import lot_events, payloads
from auctions.exceptions import Forbidden, InvalidBid, LiveLot, LotClosed, LotNotFound
from auctions.models import Lot
from auctions.services import check_staff, checked_reason, lot_for_change
from bidding.locks import lot_lock
from bidding.models import Bid
from bidding.selectors import interested_user_ids

log = structlog.get_logger(__name__)


def cancel_lot(*, user, lot_id: int, reason: str) -> Lot:
    """Withdraw a lot with a reason: its seller before the first bid; staff at any time before it closes.

    Under the lot's lock and row lock, like a bid: the cancel and the lot's bids are decided one at a time.
    """
    reason = checked_reason(reason)
    with lot_lock(lot_id), transaction.atomic():
        lot = lot_for_change(user, lot_id)
        if lot.bid_count and not user.is_staff:
            raise Forbidden("Only staff can cancel a lot that has bids.", reason="has_bids")
        now = timezone.now()
        lot.status = Lot.Status.CANCELLED
        lot.closed_at = now
        lot.seq += 1
        lot.leader_max_amount = None  # the maximum is spent; it stays secret forever
        lot.save(update_fields=["status", "closed_at", "seq", "leader_max_amount"])
        notice = payloads.lot_cancelled(lot, reason=reason, now=now)
        told = interested_user_ids(lot.pk) | ({lot.seller_id} - {user.pk})  # the seller, unless it was them
        lot_events.record_and_broadcast(lot, notice, notify=[(uid, notice) for uid in told])
    log.info("lot_cancelled", lot_id=lot.pk, user_id=user.pk, had_bids=bool(lot.bid_count))
    return lot


MAX_EXTENSION_SECONDS = 7 * 24 * 3600


def extend_lot(*, user, lot_id: int, seconds: object, reason: str) -> Lot:
    """Staff move a running lot's end later by `seconds`, with a reason told to its bidders, watchers and seller.

    Under the lot's lock and row lock, like a bid. The `extended` event carries the new end, to the millisecond it
    is stored at, so verify_lot replays it exactly. Never past the lot's hard end.
    """
    check_staff(user)
    reason = checked_reason(reason)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_EXTENSION_SECONDS:
        raise InvalidBid(f"Extend by 1 to {MAX_EXTENSION_SECONDS} seconds.", field="seconds")
    with lot_lock(lot_id), transaction.atomic():
        lot = lot_for_change(user, lot_id)
        now = timezone.now()
        if lot.is_live:
            raise LiveLot("A live lot has no end to extend: the clerk's hammer ends it.")
        if lot.is_over_at(now):
            raise LotClosed("This lot has already ended.")
        new_end = lot.ends_at + timedelta(seconds=seconds)
        if lot.hard_end_at is not None and new_end > lot.hard_end_at:
            raise InvalidBid("An extension cannot pass the lot's hard end.", field="seconds")
        move_end(lot, new_end, now=now, reason=reason)
    log.info("lot_extended", lot_id=lot.pk, user_id=user.pk, seq=lot.seq, ends_at=payloads.iso(lot.ends_at))
    return lot


def move_end(
    lot: Lot,
    new_end: datetime,
    *,
    now: datetime,
    reason: str,
    cause: str = "staff",
    outage: timedelta | None = None,
) -> None:
    """Move a running lot's end later to `new_end` (to the millisecond: the `extended` event carries it as stored,
    so verify_lot replays it exactly) and tell its bidders, watchers and seller. Expects the lot's lock and row
    lock held. After an outage (`cause` "outage") the hard end moves by as much: the lost time is given back even
    to a lot that had reached its hard end."""
    new_end = new_end.replace(microsecond=new_end.microsecond // 1000 * 1000)
    extended_by = new_end - lot.ends_at
    lot.ends_at = new_end
    if cause == "outage" and lot.hard_end_at is not None:
        lot.hard_end_at += extended_by
    lot.seq += 1
    lot.closing_soon_sent_at = None  # bidders hear "closing soon" again before the new end
    lot.save(update_fields=["ends_at", "hard_end_at", "seq", "closing_soon_sent_at"])
    notice = payloads.extended(lot, reason=reason, now=now, cause=cause, extended_by=extended_by, outage=outage)
    told = interested_user_ids(lot.pk) | {lot.seller_id}
    lot_events.record_and_broadcast(lot, notice, notify=[(uid, notice) for uid in told])


def ban_bidder(*, user, bidder_id: int, reason: str, lot_id: int | None = None) -> bool:
    """Staff ban a user from bidding (they may still watch), telling them why; True if they were not banned yet.

    With `lot_id` (the lot where staff saw the abuse: the user must have bid on it) the ban is decided under that
    lot's lock, so no bid of theirs on it is decided after this returns. Their standing bids stand: a ban changes
    nothing on the lot, so it is no lot event; staff cancel the lot to void its bids.
    """
    check_staff(user)
    reason = checked_reason(reason)
    with lot_lock(lot_id) if lot_id is not None else nullcontext(), transaction.atomic():
        lot = None
        if lot_id is not None:
            lot = Lot.objects.filter(pk=lot_id).first()
            if lot is None:
                raise LotNotFound()
            if not Bid.objects.filter(lot_id=lot_id, bidder_id=bidder_id).exists():
                raise InvalidBid("That user has not bid on this lot.", field="bidder")
        profile = Profile.objects.select_for_update().filter(user_id=bidder_id).first()
        if profile is None:
            raise InvalidBid("There is no such user.", field="bidder")
        if profile.banned:
            return False
        profile.banned = True
        profile.save(update_fields=["banned"])
        lot_events.notify_on_commit([(bidder_id, payloads.banned(reason=reason, lot=lot, now=timezone.now()))])
    log.info("bidder_banned", bidder_id=bidder_id, user_id=user.pk, lot_id=lot_id)
    return True
