"""place_bid: the one way a bid enters the system (WebSocket, HTTP, fixtures and tests alike).

Check, then do: cheap checks first, outside any lock; then, under the lot lock and inside one transaction, the
lot row is re-read FOR UPDATE and every rule is checked again against the database, which decides.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Profile
from auctions.models import Lot
from bidding import events, proxy, statements
from bidding.exceptions import (
    BidRefused,
    Busy,
    BuyNowUnavailable,
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
from bidding.group_commit import GroupCommit, Queue
from bidding.locks import alot_lock, lot_lock
from bidding.money import check_cents
from bidding.models import Bid, MaximumRaise

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
    leading: bool = True  # False when a hidden maximum answered and beat the bid at once
    automatic: bool = False  # the system raised the bid above the amount sent (the other maximum, or the reserve)
    max_amount: int | None = None  # the requester's own maximum: told to them, never to anyone else
    # Personal notices this bid causes (the outbid leader): sent after the lock is released, not under it.
    notices: tuple[tuple[int, dict], ...] = ()


def check_bid_id(bid_id: object) -> str:
    if not isinstance(bid_id, str) or not 0 < len(bid_id) <= 64:
        raise InvalidBid("bid_id must be a non-empty string of at most 64 characters.", field="bid_id")
    return bid_id


def check_bid_fields(amount: object, bid_id: object, max_amount: object = None) -> tuple[int, str, int | None]:
    bid_id = check_bid_id(bid_id)
    amount = check_cents(amount, field="amount")
    if max_amount is not None and check_cents(max_amount, field="max_amount") < amount:
        raise InvalidBid("max_amount cannot be below amount.", field="max_amount")
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


def check_lot_accepts(lot: Lot, now: datetime) -> None:
    if lot.is_over_at(now):
        raise LotClosed()
    if not lot.accepts_bids_at(now):
        raise LotNotOpen(starts_at=events.iso(lot.starts_at))


def check_amount(lot: Lot, amount: int) -> None:
    minimum = events.lot_min_next_bid(lot)
    if amount < minimum:
        raise TooLow(f"The minimum next bid is {minimum} cents.", min_next_bid=minimum)


def _earlier_outcome(user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None = None
                     ) -> BidOutcome | None:
    """A retry of a bid already accepted gets the original answer; a reused id for another bid is invalid."""
    row = (
        Bid.objects.filter(bidder_id=user.pk, bid_id=bid_id)
        .annotate(sent=Coalesce("requested_amount", "amount"))
        .values_list("lot_id", "sent", "max_amount", "amount", "seq", "lot__ends_at", "outbid_at_once")
        .first()
    )
    return _outcome_of_earlier(row, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount)


def _outcome_of_earlier(row, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None = None
                        ) -> BidOutcome | None:
    """`row`: (lot_id, amount sent, max_amount sent, amount recorded, seq, lot ends_at, outbid_at_once)."""
    if row is None:
        return None
    earlier_lot, sent, earlier_max, recorded, seq, ends_at, outbid_at_once = row
    if (earlier_lot, sent, earlier_max) != (lot_id, amount, max_amount):
        raise InvalidBid("This bid_id was already used for a different bid.", field="bid_id")
    return BidOutcome(lot_id=lot_id, bid_id=bid_id, amount=recorded, seq=seq, ends_at=ends_at, duplicate=True,
                      leading=not outbid_at_once, automatic=recorded != sent, max_amount=earlier_max)


def place_bid(*, user, lot_id: int, amount: object, bid_id: object, max_amount: object = None) -> BidOutcome:
    """Place `amount` cents on lot `lot_id` for `user`, optionally with a hidden maximum for automatic bidding
    (bidding/proxy.py); return the outcome or raise a BidRefused.

    Takes the lot lock itself (callers hold none). The bid is committed, and its broadcast scheduled, before this
    returns, so whoever tells the bidder "accepted" tells the truth.
    """
    amount, bid_id, max_amount = check_bid_fields(amount, bid_id, max_amount)
    fields = {"lot_id": lot_id, "amount": amount, "bid_id": bid_id, "max_amount": max_amount}
    earlier = _guarded(_precheck, user, **fields)
    if earlier:
        return earlier
    with lot_lock(lot_id):
        outcome = _guarded(_record_bid, user, **fields)
    events.notify_on_commit(list(outcome.notices))  # at once, or at the caller's commit if it holds a transaction
    return outcome


async def aplace_bid(*, user, lot_id: int, amount: object, bid_id: object, max_amount: object = None,
                     received: int | None = None) -> BidOutcome:
    """place_bid for the socket path: the same checks and the same decision; the ORM runs in the shared thread
    pool and the lock is awaited in the event loop, so a hot lot never ties up the pool. Bids queued for a lot
    in this process are decided in groups (bidding/group_commit.py), in the order they were `received`
    (time.monotonic_ns(); default: now), not the order their pre-checks ended."""
    received = time.monotonic_ns() if received is None else received
    amount, bid_id, max_amount = check_bid_fields(amount, bid_id, max_amount)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    fields = {"lot_id": lot_id, "amount": amount, "bid_id": bid_id, "max_amount": max_amount}
    earlier = await _below_floor(user, **fields) or await _in_thread(_guarded)(_precheck, user, **fields)
    if earlier:
        return earlier
    result = await _lot_decisions.submit(lot_id, QueuedBid(
        user=user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount, received=received,
        deadline=time.monotonic() + settings.BID_LOCK_WAIT_SECONDS,
    ))
    if result is _BEATEN:
        return await _below_floor(user, **fields)
    outcome: BidOutcome = result
    events.send_notices_soon(list(outcome.notices))  # the bidder's answer does not wait for them
    return outcome


@dataclass(frozen=True)
class QueuedBid:
    """A bid past its pre-check, waiting in this process's queue for its lot (bidding/group_commit.py)."""

    user: object
    lot_id: int
    amount: int
    bid_id: str
    max_amount: int | None
    received: int  # time.monotonic_ns() when the socket handed it over: the queue's order
    deadline: float  # time.monotonic() after which it is answered `busy` instead of waiting on


_BEATEN = object()  # a queued bid that a bid committed meanwhile has already beaten


async def _decide_queued(lot_id: int, queue: Queue[QueuedBid]) -> None:
    """Take the lot lock, then decide every bid queued by then as one group (_record_bids). The group is formed
    once the lock is held, so it includes whatever arrived while the lock was awaited: formed earlier, a group
    waiting on another process would hold bids computed before that process's latest, all of them beaten."""
    while True:
        now = time.monotonic()
        expired = queue.take(lambda bid: bid.deadline <= now)
        queue.answer(expired, [Busy() for _ in expired])
        if not queue.waiting:
            return
        try:
            async with alot_lock(lot_id, deadline=min(bid.deadline for bid in queue.waiting)):
                group = queue.take()
                # Checked again in the queue: in a sniping burst most waiting bids have been beaten by the time
                # their turn comes. Such a bid gives its turn up at once; its refusal happens outside the lock.
                results: dict[int, object] = {}
                for index, bid in enumerate(group):
                    if _beaten(lot_id, bid.amount):
                        results[index] = _BEATEN
                deciding = [index for index in range(len(group)) if index not in results]
                if deciding:
                    decided = await _decide_in_thread(_record_bids, lot_id, [group[index] for index in deciding])
                    results.update(zip(deciding, decided))
                    # Before the next group is decided, so that a retry queued behind its own bid is seen as one.
                    for result in decided:
                        if isinstance(result, BidOutcome) and result.min_next_bid is not None:
                            committed_floor.raise_to(lot_id, result.min_next_bid)
            queue.answer(group, [results[index] for index in range(len(group))])
            return
        except Busy:
            continue  # the earliest deadline passed: those bids are answered busy, the rest try again


_lot_decisions: GroupCommit[QueuedBid] = GroupCommit(_decide_queued, max_group=settings.BID_GROUP_MAX,
                                                     order=lambda bid: bid.received)


def _beaten(lot_id: int, amount: int) -> bool:
    floor = committed_floor.get(lot_id)
    return floor is not None and amount < floor


async def _below_floor(user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None) -> BidOutcome | None:
    """Refuse a bid already beaten by one this process saw commit (exact: the floor only rises, and only with
    committed bids). Only a retry of a bid accepted earlier can still succeed, with its original outcome."""
    if not _beaten(lot_id, amount):
        return None
    earlier = await _in_thread(_guarded)(_earlier_outcome, user, lot_id=lot_id, amount=amount, bid_id=bid_id,
                                         max_amount=max_amount)
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


async def _decide_in_thread(step, *args):
    return await database_sync_to_async(step, thread_sensitive=False, executor=_decision_pool)(*args)


def _precheck(user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None) -> BidOutcome | None:
    """Everything that can be refused without the lock, from one read. Returns the earlier outcome of a retry."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    found = statements.read_precheck(lot_id=lot_id, user_id=user.pk, bid_id=bid_id)
    earlier = _outcome_of_earlier(found.earlier, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount)
    if earlier:
        return earlier
    if found.lot is None:
        raise LotNotFound()
    check_bidder(user, found.lot, can_bid=found.can_bid, banned=found.banned)
    check_lot_accepts(found.lot, timezone.now())
    check_amount(found.lot, amount)
    return None


def _guarded(step, user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None = None
             ) -> BidOutcome | None:
    """Run a database step; database trouble becomes a refusal the client can act on, never a half-written bid."""
    try:
        return step(user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount)
    except IntegrityError:
        # Only a concurrent twin with the same bid_id gets here (the row lock orders everything else).
        earlier = _earlier_outcome(user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount)
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


@dataclass(frozen=True)
class _Applied:
    """One bid decided against the locked lot, in memory: what to write, and what to answer."""

    outcome: BidOutcome
    bids: list[Bid]
    texts: list[str]  # the lot events of `bids`, encoded once for the log and the fan-out
    maximum_raise: MaximumRaise | None = None


def _record_bid(user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None = None) -> BidOutcome:
    """The decision. Expects the lot lock held; takes the row lock, so it stays right if the lot lock expired.

    Two round trips and a commit in the common case: the locked read (with the alias numbers of this bidder and
    of the leader) and one statement for the lot's new state, the bid and its event (bidding/statements.py).
    """
    with transaction.atomic():
        lot = statements.lock_lot_for_decision(lot_id=lot_id, user_id=user.pk)
        numbers = {lot.high_bidder_id: lot.leader_number, user.pk: lot.your_number}
        now = timezone.now()
        applied = _apply_bid(lot, numbers, user, now, amount=amount, bid_id=bid_id, max_amount=max_amount)
        _write_applied(lot, [applied], now)
    return applied.outcome


def _record_bids(lot_id: int, queued: list[QueuedBid]) -> list[BidOutcome | BidRefused]:
    """Group commit: the bids queued in this process for one lot, decided in arrival order in one transaction.

    Each is checked against the lot as the ones before it left it, exactly as if they had come one by one; the
    lock, the locked read, the writes and the commit are paid once. A database error on the shared writes (a twin
    bid_id committed meanwhile, say) rolls the whole group back, and each bid is then decided on its own.
    """
    if len(queued) == 1 or connection.vendor != "postgresql":
        return [_decided_alone(item) for item in queued]
    try:
        with transaction.atomic():
            lot, numbers = statements.lock_lot_for_group(lot_id=lot_id, user_ids=[item.user.pk for item in queued])
            now = timezone.now()
            results: list[BidOutcome | BidRefused] = []
            applied = []
            accepted: dict[tuple[int, str], tuple[QueuedBid, BidOutcome]] = {}
            for item in queued:
                twin = accepted.get((item.user.pk, item.bid_id))
                if twin is not None:  # a retry sent while the first was still queued: the first one's answer
                    results.append(_twin_outcome(item, *twin))
                    continue
                try:
                    done = _apply_bid(lot, numbers, item.user, now, amount=item.amount, bid_id=item.bid_id,
                                      max_amount=item.max_amount)
                except BidRefused as refusal:
                    results.append(refusal)
                    continue
                applied.append(done)
                results.append(done.outcome)
                accepted[(item.user.pk, item.bid_id)] = (item, done.outcome)
            _write_applied(lot, applied, now)
        return results
    except DatabaseError as exc:
        log.warning("bid_group_decided_one_by_one", lot_id=lot_id, bids=len(queued), error=repr(exc))
        return [_decided_alone(item) for item in queued]


def _twin_outcome(item: QueuedBid, first: QueuedBid, outcome: BidOutcome) -> BidOutcome | BidRefused:
    if (item.amount, item.max_amount) != (first.amount, first.max_amount):
        return InvalidBid("This bid_id was already used for a different bid.", field="bid_id")
    return replace(outcome, duplicate=True, min_next_bid=None, notices=())


def _decided_alone(item: QueuedBid) -> BidOutcome | BidRefused:
    try:
        return _guarded(_record_bid, item.user, lot_id=item.lot_id, amount=item.amount, bid_id=item.bid_id,
                        max_amount=item.max_amount)
    except BidRefused as refusal:
        return refusal


def _apply_bid(lot: Lot, numbers: dict[int | None, int | None], user, now: datetime, *, amount: int, bid_id: str,
               max_amount: int | None) -> _Applied:
    """Decide one bid against `lot` (row-locked, updated here in memory) and `numbers` (bidder id -> alias on this
    lot, None: none yet; updated too). Raises a BidRefused, leaving both untouched, when the bid cannot stand."""
    check_lot_accepts(lot, now)
    check_amount(lot, amount)
    decision = proxy.resolve(price=lot.high_bid_amount, leader_id=lot.high_bidder_id,
                             leader_max=lot.leader_max_amount, bidder_id=user.pk, amount=amount,
                             max_amount=max_amount, reserve=lot.reserve_price)
    extended = _extend_for_soft_close(lot, now) if decision.steps else False
    bids, texts = [], []
    for step in decision.steps:
        if numbers.get(step.bidder_id) is None:
            lot.bidder_count += 1
            numbers[step.bidder_id] = lot.bidder_count
        lot.seq += 1
        lot.bid_count += 1
        lot.high_bid_amount, lot.high_bidder_id = step.amount, step.bidder_id
        bids.append(Bid(
            lot_id=lot.pk, bidder_id=step.bidder_id, amount=step.amount, seq=lot.seq,
            bidder_number=numbers[step.bidder_id], created_at=now,
            kind=Bid.Kind.AUTOMATIC if step.automatic else Bid.Kind.MANUAL,
            outbid_at_once=step.outbid_at_once,
            bid_id=bid_id if step.is_request else None,
            requested_amount=amount if step.is_request else None,
            max_amount=max_amount if step.is_request else None,
        ))
        texts.append(events.encode(events.high_bid(
            lot, amount=step.amount, bidder_number=numbers[step.bidder_id], now=now,
            extended=extended and len(texts) == 0, automatic=step.automatic,
            outbid_at_once=step.outbid_at_once)))
    lot.leader_max_amount = decision.leader_max
    lot.status = Lot.Status.OPEN
    maximum_raise = None
    if not bids:
        # The leader raised their own maximum: nothing visible changes, so no event and no sequence number; the
        # log keeps it for replay.
        maximum_raise = MaximumRaise(lot_id=lot.pk, bidder_id=user.pk, max_amount=max_amount, bid_id=bid_id,
                                     after_seq=lot.seq)
    notices = tuple((user_id, events.outbid(lot, now=now)) for user_id in decision.outbid_user_ids)
    request = next((bid for bid in bids if bid.bid_id == bid_id), None)
    leading = decision.leader_id == user.pk
    outcome = BidOutcome(
        # The bid's own sequence number (its retry answers the same); an automatic answer after it has the next.
        lot_id=lot.pk, bid_id=bid_id, amount=request.amount if request else lot.high_bid_amount,
        seq=request.seq if request else lot.seq,
        ends_at=lot.ends_at, min_next_bid=events.lot_min_next_bid(lot), leading=leading,
        automatic=request is not None and request.kind == Bid.Kind.AUTOMATIC,
        max_amount=lot.leader_max_amount if leading else None, notices=notices,
    )
    return _Applied(outcome=outcome, bids=bids, texts=texts, maximum_raise=maximum_raise)


def _write_applied(lot: Lot, applied: list[_Applied], now: datetime) -> None:
    """Write what `applied` decided, inside the caller's transaction; its events leave after the commit."""
    bids = [bid for done in applied for bid in done.bids]
    texts = [text for done in applied for text in done.texts]
    if bids:
        # A twin with the same bid_id that committed meanwhile makes this fail on the unique (bidder, bid_id)
        # constraint; _guarded then answers with the twin's outcome.
        statements.write_decision(lot=lot, bids=bids, event_texts=texts, now=now)
        for bid, text in zip(bids, texts):
            events.broadcast_on_commit(lot.pk, bid.seq, text)
    elif applied:
        Lot.objects.filter(pk=lot.pk).update(leader_max_amount=lot.leader_max_amount, status=lot.status)
    raises = [done.maximum_raise for done in applied if done.maximum_raise is not None]
    if raises:
        MaximumRaise.objects.bulk_create(raises)


def buy_now(*, user, lot_id: int, bid_id: object) -> BidOutcome:
    """End the lot at once at its buy-now price for `user`: offered until the first bid (the simpler rule for
    bidders: once anyone has bid, the auction runs its course). The purchase is a bid row and the lot closes in
    the same transaction, with the usual closing broadcast and notices."""
    from auctions.services import close_lot  # auctions.services builds on bidding; the import runs at call time

    bid_id = check_bid_id(bid_id)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    with lot_lock(lot_id):
        try:
            with transaction.atomic():
                earlier = Bid.objects.filter(bidder_id=user.pk, bid_id=bid_id).values_list(
                    "lot_id", "kind", "amount", "seq", "lot__ends_at").first()
                if earlier is not None:
                    if earlier[:2] != (lot_id, Bid.Kind.BUY_NOW):
                        raise InvalidBid("This bid_id was already used for a different bid.", field="bid_id")
                    return BidOutcome(lot_id=lot_id, bid_id=bid_id, amount=earlier[2], seq=earlier[3],
                                      ends_at=earlier[4], duplicate=True)
                lot = Lot.objects.select_for_update(of=("self",)).filter(pk=lot_id).first()
                if lot is None:
                    raise LotNotFound()
                flags = Profile.objects.filter(user_id=user.pk).values_list("can_bid", "banned").first()
                can_bid, banned = flags or (False, False)
                check_bidder(user, lot, can_bid=can_bid, banned=banned)
                now = timezone.now()
                check_lot_accepts(lot, now)
                if events.buy_now_price(lot, now) is None:
                    raise BuyNowUnavailable()
                lot.bidder_count += 1
                lot.seq += 1
                lot.bid_count += 1
                lot.high_bid_amount, lot.high_bidder_id, lot.leader_max_amount = lot.buy_now_price, user.pk, None
                lot.status = Lot.Status.OPEN
                bid = Bid(lot_id=lot.pk, bidder_id=user.pk, amount=lot.buy_now_price, seq=lot.seq,
                          bidder_number=lot.bidder_count, created_at=now, kind=Bid.Kind.BUY_NOW, bid_id=bid_id,
                          requested_amount=lot.buy_now_price)
                text = events.encode(events.high_bid(lot, amount=bid.amount, bidder_number=bid.bidder_number,
                                                     now=now, extended=False, buy_now=True))
                statements.write_decision(lot=lot, bids=[bid], event_texts=[text], now=now)
                events.broadcast_on_commit(lot.pk, lot.seq, text)
                close_lot(lot, now)
        except (OperationalError, InterfaceError) as exc:
            log.error("buy_now_database_unavailable", lot_id=lot_id, bid_id=bid_id, error=repr(exc))
            raise Unavailable() from exc
    log.info("lot_bought_now", lot_id=lot_id, bid_id=bid_id, amount=bid.amount)
    return BidOutcome(lot_id=lot_id, bid_id=bid_id, amount=bid.amount, seq=bid.seq, ends_at=lot.ends_at)


abuy_now = database_sync_to_async(buy_now, thread_sensitive=False)


def _extend_for_soft_close(lot: Lot, now: datetime) -> bool:
    """A bid inside the soft-close window moves the end (never past the hard end): no sniping."""
    if lot.ends_at - now > timedelta(seconds=lot.soft_close_window):
        return False
    new_end = now + timedelta(seconds=lot.soft_close_extension)
    if lot.hard_end_at is not None:
        new_end = min(new_end, lot.hard_end_at)
    if new_end <= lot.ends_at:
        return False
    lot.ends_at = new_end
    return True
