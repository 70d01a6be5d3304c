"""place_bid: the one way a bid enters the system (WebSocket, HTTP, fixtures and tests alike).

Check, then do: cheap checks first, outside any lock; then, under the lot lock and inside one transaction, the
lot row is re-read FOR UPDATE and every rule is checked again against the database, which decides.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from auctions.models import Lot
from bidding import events, statements
from bidding.exceptions import (
    Forbidden,
    InvalidBid,
    LotClosed,
    LotNotFound,
    LotNotOpen,
    NotAuthenticated,
    TooLow,
    Unavailable,
)
from bidding.floors import committed_floor
from bidding.locks import alot_lock, lot_lock
from bidding.money import check_cents
from bidding.models import Bid

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BidOutcome:
    lot_id: int
    bid_id: str
    amount: int
    seq: int
    ends_at: datetime
    min_next_bid: int | None = None
    duplicate: bool = False
    # Personal notices this bid causes (the outbid leader): sent after the lock is released, not under it.
    notices: tuple[tuple[int, dict], ...] = ()


def check_bid_fields(amount: object, bid_id: object) -> tuple[int, str]:
    if not isinstance(bid_id, str) or not 0 < len(bid_id) <= 64:
        raise InvalidBid("bid_id must be a non-empty string of at most 64 characters.", field="bid_id")
    return check_cents(amount, field="amount"), bid_id


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


def check_lot_accepts(lot: Lot, now: datetime) -> None:
    if lot.is_over_at(now):
        raise LotClosed()
    if not lot.accepts_bids_at(now):
        raise LotNotOpen(starts_at=events.iso(lot.starts_at))


def check_amount(lot: Lot, amount: int) -> None:
    minimum = events.lot_min_next_bid(lot)
    if amount < minimum:
        raise TooLow(f"The minimum next bid is {minimum} cents.", min_next_bid=minimum)


def _earlier_outcome(user, *, lot_id: int, amount: int, bid_id: str) -> BidOutcome | None:
    """A retry of a bid already accepted gets the original answer; a reused id for another bid is invalid."""
    row = (
        Bid.objects.filter(bidder_id=user.pk, bid_id=bid_id)
        .values_list("lot_id", "amount", "seq", "lot__ends_at")
        .first()
    )
    return _outcome_of_earlier(row, lot_id=lot_id, amount=amount, bid_id=bid_id)


def _outcome_of_earlier(row, *, lot_id: int, amount: int, bid_id: str) -> BidOutcome | None:
    if row is None:
        return None
    earlier_lot, earlier_amount, seq, ends_at = row
    if (earlier_lot, earlier_amount) != (lot_id, amount):
        raise InvalidBid("This bid_id was already used for a different bid.", field="bid_id")
    return BidOutcome(lot_id=lot_id, bid_id=bid_id, amount=amount, seq=seq, ends_at=ends_at, duplicate=True)


def place_bid(*, user, lot_id: int, amount: object, bid_id: object) -> BidOutcome:
    """Place `amount` cents on lot `lot_id` for `user`; return the outcome or raise a BidRefused.

    Takes the lot lock itself (callers hold none). The bid is committed, and its broadcast scheduled, before this
    returns, so whoever tells the bidder "accepted" tells the truth.
    """
    amount, bid_id = check_bid_fields(amount, bid_id)
    earlier = _guarded(_precheck, user, lot_id=lot_id, amount=amount, bid_id=bid_id)
    if earlier:
        return earlier
    with lot_lock(lot_id):
        outcome = _guarded(_record_bid, user, lot_id=lot_id, amount=amount, bid_id=bid_id)
    events.notify_on_commit(list(outcome.notices))  # at once, or at the caller's commit if it holds a transaction
    return outcome


async def aplace_bid(*, user, lot_id: int, amount: object, bid_id: object) -> BidOutcome:
    """place_bid for the socket path: the same checks and the same decision; the ORM runs in the shared thread
    pool and the lock is awaited in the event loop, so a hot lot never ties up the pool."""
    amount, bid_id = check_bid_fields(amount, bid_id)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    fields = {"lot_id": lot_id, "amount": amount, "bid_id": bid_id}
    earlier = await _below_floor(user, **fields) or await _in_thread(_guarded)(_precheck, user, **fields)
    if earlier:
        return earlier
    async with alot_lock(lot_id):
        # Checked again in the queue: in a sniping burst most waiting bids have been beaten by the time their turn
        # comes. Such a bid gives its turn up at once; the rest of its refusal happens outside the lock.
        beaten = _beaten(lot_id, amount)
        if not beaten:
            outcome = await _decide_in_thread(_record_bid, user, **fields)
    if beaten:
        return await _below_floor(user, **fields)
    if outcome.min_next_bid is not None:
        committed_floor.raise_to(lot_id, outcome.min_next_bid)
    events.send_notices_soon(list(outcome.notices))  # the bidder's answer does not wait for them
    return outcome


def _beaten(lot_id: int, amount: int) -> bool:
    floor = committed_floor.get(lot_id)
    return floor is not None and amount < floor


async def _below_floor(user, *, lot_id: int, amount: int, bid_id: str) -> BidOutcome | None:
    """Refuse a bid already beaten by one this process saw commit (exact: the floor only rises, and only with
    committed bids). Only a retry of a bid accepted earlier can still succeed, with its original outcome."""
    if not _beaten(lot_id, amount):
        return None
    earlier = await _in_thread(_guarded)(_earlier_outcome, user, lot_id=lot_id, amount=amount, bid_id=bid_id)
    if earlier:
        return earlier
    floor = committed_floor.get(lot_id)
    raise TooLow(f"The minimum next bid is {floor} cents.", min_next_bid=floor)


# Not one thread per socket, nor Django's single "sync" thread: a shared pool, bounded, so database connections
# are bounded by threads, never by open sockets.
def _in_thread(function):
    return database_sync_to_async(function, thread_sensitive=False)


# The decision runs while the lot's lock is held; on its own small pool it never queues behind other sockets'
# pre-checks and reads, which keeps the lock's critical section to the transaction itself.
_decision_pool = ThreadPoolExecutor(max_workers=settings.BID_DECISION_THREADS, thread_name_prefix="bid-decision")


async def _decide_in_thread(step, user, **fields) -> BidOutcome | None:
    return await database_sync_to_async(_guarded, thread_sensitive=False, executor=_decision_pool)(step, user, **fields)


def _precheck(user, *, lot_id: int, amount: int, bid_id: str) -> BidOutcome | None:
    """Everything that can be refused without the lock, from one read. Returns the earlier outcome of a retry."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    found = statements.read_precheck(lot_id=lot_id, user_id=user.pk, bid_id=bid_id)
    earlier = _outcome_of_earlier(found.earlier, lot_id=lot_id, amount=amount, bid_id=bid_id)
    if earlier:
        return earlier
    if found.lot is None:
        raise LotNotFound()
    check_bidder(user, found.lot, can_bid=found.can_bid, banned=found.banned)
    check_lot_accepts(found.lot, timezone.now())
    check_amount(found.lot, amount)
    return None


def _guarded(step, user, *, lot_id: int, amount: int, bid_id: str) -> BidOutcome | None:
    """Run a database step; database trouble becomes a refusal the client can act on, never a half-written bid."""
    try:
        return step(user, lot_id=lot_id, amount=amount, bid_id=bid_id)
    except IntegrityError:
        # Only a concurrent twin with the same bid_id gets here (the row lock orders everything else).
        earlier = _earlier_outcome(user, lot_id=lot_id, amount=amount, bid_id=bid_id)
        if earlier:
            return earlier
        log.exception("bid_integrity_error", lot_id=lot_id, bid_id=bid_id)
        raise Unavailable() from None
    except (OperationalError, InterfaceError) as exc:
        log.error("bid_database_unavailable", lot_id=lot_id, bid_id=bid_id, error=repr(exc))
        raise Unavailable() from exc
    except DatabaseError:
        log.exception("bid_database_error", lot_id=lot_id, bid_id=bid_id)
        raise Unavailable() from None


def _record_bid(user, *, lot_id: int, amount: int, bid_id: str) -> BidOutcome:
    """The decision. Expects the lot lock held; takes the row lock, so it stays right if the lot lock expired.

    Two round trips and a commit: the locked read (with this bidder's alias number) and one statement for the
    lot's new state, the bid and its event (bidding/statements.py).
    """
    with transaction.atomic():
        lot = (
            Lot.objects.select_for_update(of=("self",))
            .annotate(your_number=Subquery(
                Bid.objects.filter(lot=OuterRef("pk"), bidder_id=user.pk).values("bidder_number")[:1]))
            .get(pk=lot_id)
        )
        now = timezone.now()
        check_lot_accepts(lot, now)
        check_amount(lot, amount)

        number = lot.your_number
        if number is None:
            lot.bidder_count += 1
            number = lot.bidder_count
        outbid_user_id = lot.high_bidder_id if lot.high_bidder_id != user.pk else None

        extended = False
        if lot.ends_at - now <= timedelta(seconds=lot.soft_close_window):
            new_end = now + timedelta(seconds=lot.soft_close_extension)
            if lot.hard_end_at is not None:
                new_end = min(new_end, lot.hard_end_at)
            if new_end > lot.ends_at:
                lot.ends_at, extended = new_end, True
        lot.seq += 1
        lot.bid_count += 1
        lot.high_bid_amount = amount
        lot.high_bidder_id = user.pk
        lot.status = Lot.Status.OPEN
        payload = events.high_bid(lot, amount=amount, bidder_number=number, now=now, extended=extended)
        text = events.encode(payload)
        # A twin with the same bid_id that committed meanwhile makes this fail on the unique (bidder, bid_id)
        # constraint; _guarded then answers with the twin's outcome.
        statements.write_bid(lot=lot, user_id=user.pk, amount=amount, bid_id=bid_id, number=number, now=now,
                             event_text=text)
        events.broadcast_on_commit(lot.pk, lot.seq, text)
        notices = ((outbid_user_id, events.outbid(lot, now=now)),) if outbid_user_id else ()
    return BidOutcome(lot_id=lot_id, bid_id=bid_id, amount=amount, seq=lot.seq, ends_at=lot.ends_at,
                      min_next_bid=events.lot_min_next_bid(lot), notices=notices)
