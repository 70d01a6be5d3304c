"""place_bid: the one way a bid enters the system (WebSocket, HTTP, fixtures and tests alike).

Check, then do: cheap checks first, outside any lock; then, under the lot lock and inside one transaction, the
lot row is re-read FOR UPDATE and every rule is checked again against the database, which decides.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from auctions import lot_events, rules
from auctions import payloads as lot_payloads
from auctions.exceptions import (
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
from auctions.models import Lot
from auctions.money import check_cents
from bidding import broadcast, payloads, proxy, statements
from bidding.closing import close_lot
from bidding.floors import committed_floor
from bidding.group_commit import GroupCommit, Queue
from bidding.locks import alot_lock, lot_lock
from bidding.models import Bid, MaximumRaise
from bidding.retries import BidOutcome, Recorded, Request

log = structlog.get_logger(__name__)


def _retry_of(earlier: tuple | None, request: Request, *, bid_id: str) -> BidOutcome | None:
    """The original answer if `bid_id` already named an accepted action of this bidder (InvalidBid if that action
    was a different one); None if it is new."""
    if earlier is None:
        return None
    return BidOutcome.of(Recorded.from_row(earlier).answer(request), bid_id=bid_id, duplicate=True)


def check_bid_id(bid_id: object) -> str:
    if not isinstance(bid_id, str) or not 0 < len(bid_id) <= 64:
        raise InvalidBid("bid_id must be a non-empty string of at most 64 characters.", field="bid_id")
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
    if lot.is_over_at(received_at):
        raise LotClosed()
    if not lot.accepts_bids_at(received_at):
        raise LotNotOpen(starts_at=lot_payloads.iso(lot.starts_at))


def check_in_time(received_at: datetime, now: datetime) -> None:
    """A bid is decided within BID_LOCK_WAIT_SECONDS of its receipt or answered `busy`: the closing worker relies on
    it to know when every bid received before a lot's end has been decided."""
    if (now - received_at).total_seconds() > settings.BID_LOCK_WAIT_SECONDS:
        raise Busy()


def check_amount(lot: Lot, amount: int) -> None:
    minimum = rules.lot_min_next_bid(lot)
    if amount < minimum:
        raise TooLow(min_next_bid=minimum)


def _earlier(
    user, *, lot_id: int, amount: int | None, bid_id: str, max_amount: int | None = None, action: str = "bid"
) -> BidOutcome | None:
    """A retry of an action accepted earlier gets its original answer; a reused id for another action is invalid."""
    return _retry_of(
        statements.read_earlier(user_id=user.pk, bid_id=bid_id),
        Request(action, lot_id, amount, max_amount),
        bid_id=bid_id,
    )


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
    earlier = _guarded(_precheck, user, **fields, received_at=received_at)
    if earlier:
        return earlier
    with lot_lock(lot_id, wait=_wait_left(received_at)):
        outcome = _guarded(_record_bid, user, **fields, received_at=received_at)
    lot_events.notify_on_commit(list(outcome.notices))  # at once, or at the caller's commit if it holds a transaction
    return outcome


async def aplace_bid(
    *,
    user,
    lot_id: int,
    amount: object,
    bid_id: object,
    max_amount: object = None,
    received: int | None = None,
    received_at: datetime | None = None,
) -> BidOutcome:
    """place_bid for the socket path: the same checks and the same decision; the ORM runs in the shared thread
    pool and the lock is awaited in the event loop, so a hot lot never ties up the pool. Bids queued for a lot
    in this process are decided in groups (bidding/group_commit.py), in the order they were `received`
    (time.monotonic_ns(); default: now), not the order their pre-checks ended; `received_at` is the same moment
    on the wall clock, which decides whether the bid is on time (place_bid)."""
    received = time.monotonic_ns() if received is None else received
    received_at = received_at or timezone.now()
    amount, bid_id, max_amount = check_bid_fields(amount, bid_id, max_amount)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    fields = {"lot_id": lot_id, "amount": amount, "bid_id": bid_id, "max_amount": max_amount}
    earlier = await _below_floor(user, **fields) or await _in_thread(_guarded)(
        _precheck, user, **fields, received_at=received_at
    )
    if earlier:
        return earlier
    try:
        result = await _lot_decisions.submit(
            lot_id,
            QueuedBid(
                user=user,
                lot_id=lot_id,
                amount=amount,
                bid_id=bid_id,
                max_amount=max_amount,
                received=received,
                received_at=received_at,
                deadline=received / 1e9 + settings.BID_LOCK_WAIT_SECONDS,
            ),
        )
    except BidRefused:
        raise
    except Exception:
        # The decider itself broke: every bid it held hears `unavailable`, and the socket stays open.
        log.exception("bid_decision_failed", lot_id=lot_id, bid_id=bid_id)
        raise Unavailable() from None
    if result is _BEATEN:
        return await _below_floor(user, **fields)
    outcome: BidOutcome = result
    broadcast.send_notices_soon(list(outcome.notices))  # the bidder's answer does not wait for them
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
    received_at: datetime  # the same moment on the wall clock: on time or not
    deadline: float  # time.monotonic() after which it is answered `busy` instead of waiting on


_BEATEN = object()  # a queued bid that a bid committed meanwhile has already beaten


async def _decide_queued(lot_id: int, queue: Queue[QueuedBid]) -> None:
    """Take the lot lock, then decide every bid queued by then as one group (_record_bids). The group is formed
    once the lock is held, so it includes whatever arrived while the lock was awaited: formed earlier, a group
    waiting on another process would hold bids computed before that process's latest, all of them beaten."""
    while True:
        now = time.monotonic()
        expired = queue.take(lambda bid, now=now: bid.deadline <= now)
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
                    results.update(zip(deciding, decided, strict=False))
                    # Before the next group is decided, so that a retry queued behind its own bid is seen as one.
                    for result in decided:
                        if isinstance(result, BidOutcome) and result.min_next_bid is not None:
                            committed_floor.raise_to(lot_id, result.min_next_bid)
            queue.answer(group, [results[index] for index in range(len(group))])
            return
        except Busy:
            continue  # the earliest deadline passed: those bids are answered busy, the rest try again


_lot_decisions: GroupCommit[QueuedBid] = GroupCommit(
    _decide_queued, max_group=settings.BID_GROUP_MAX, order=lambda bid: bid.received
)


def _beaten(lot_id: int, amount: int) -> bool:
    floor = committed_floor.get(lot_id)
    return floor is not None and amount < floor


async def _below_floor(user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None) -> BidOutcome | None:
    """Refuse a bid already beaten by one this process saw commit (exact: the floor only rises, and only with
    committed bids). Only a retry of a bid accepted earlier can still succeed, with its original outcome."""
    if not _beaten(lot_id, amount):
        return None
    earlier = await _in_thread(_guarded)(
        _earlier, user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount
    )
    if earlier:
        return earlier
    floor = committed_floor.get(lot_id)
    raise TooLow(min_next_bid=floor)


# Not one thread per socket, nor Django's single "sync" thread: a shared pool, bounded, so database connections
# are bounded by threads, never by open sockets.
def _in_thread(function):
    return database_sync_to_async(function, thread_sensitive=False)


# The decision runs while the lot's lock is held; on its own small pool it never queues behind other sockets'
# pre-checks and reads, which keeps the lock's critical section to the transaction itself.
_decision_pool = ThreadPoolExecutor(max_workers=settings.BID_DECISION_THREADS, thread_name_prefix="bid-decision")


async def _decide_in_thread(step, *args):
    return await database_sync_to_async(step, thread_sensitive=False, executor=_decision_pool)(*args)


def _precheck(
    user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None, received_at: datetime
) -> BidOutcome | None:
    """Everything that can be refused without the lock, from one read. Returns the earlier outcome of a retry."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    found = statements.read_precheck(lot_id=lot_id, user_id=user.pk, bid_id=bid_id)
    earlier = _retry_of(found.earlier, Request("bid", lot_id, amount, max_amount), bid_id=bid_id)
    if earlier:
        return earlier
    if found.lot is None:
        raise LotNotFound()
    check_bidder(user, found.lot, can_bid=found.can_bid, banned=found.banned)
    check_lot_accepts(found.lot, received_at)
    check_amount(found.lot, amount)
    return None


def _guarded(
    step,
    user,
    *,
    lot_id: int,
    amount: int | None,
    bid_id: str,
    max_amount: int | None = None,
    action: str = "bid",
    **more,
) -> BidOutcome | None:
    """Run a database step; database trouble becomes a refusal the client can act on, never a half-written bid."""
    try:
        return step(user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount, **more)
    except BidRefused:
        raise
    except Lot.DoesNotExist:
        raise LotNotFound() from None  # deleted after the pre-check
    except IntegrityError:
        # A twin with the same bid_id on another lot, committed meanwhile (one lot's row lock orders its own).
        earlier = _earlier(user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount, action=action)
        if earlier:
            return earlier
        log.exception("bid_integrity_error", lot_id=lot_id, bid_id=bid_id)
        raise Unavailable() from None
    except (OperationalError, InterfaceError) as exc:
        log.error("bid_database_unavailable", lot_id=lot_id, bid_id=bid_id, error=repr(exc))
        raise Unavailable() from exc
    except Exception:
        # Whatever else went wrong, the transaction rolled back: the bidder hears `unavailable`, never a raw error.
        log.exception("bid_decision_failed", lot_id=lot_id, bid_id=bid_id)
        raise Unavailable() from None


@dataclass(frozen=True)
class _Applied:
    """One bid decided against the locked lot, in memory: what to write, and what to answer."""

    outcome: BidOutcome
    bids: list[Bid]
    texts: list[str]  # the lot events of `bids`, encoded once for the log and the fan-out
    maximum_raise: MaximumRaise | None = None
    recorded_row: tuple = ()  # the action as bidding.retries reads it back, for retries later in the same group


def _record_bid(
    user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None, received_at: datetime
) -> BidOutcome:
    """The decision. Expects the lot lock held; takes the row lock, so it stays right if the lot lock expired.

    Two round trips and a commit in the common case: the locked read (with the alias numbers of this bidder and
    of the leader, their flags and their earlier action under this bid_id) and one statement for the lot's new
    state, the bid and its event (bidding/statements.py).
    """
    with transaction.atomic():
        locked = statements.lock_lot_for_decision(lot_id=lot_id, user_id=user.pk, bid_id=bid_id)
        retry = _locked_checks(locked, user, Request("bid", lot_id, amount, max_amount), bid_id=bid_id)
        if retry is not None:
            return retry
        now = timezone.now()
        applied = _apply_bid(
            locked.lot,
            locked.numbers,
            user,
            now,
            amount=amount,
            bid_id=bid_id,
            max_amount=max_amount,
            received_at=received_at,
        )
        _write_applied(locked.lot, [applied], now)
    return applied.outcome


def _locked_checks(locked: statements.Locked, user, request: Request, *, bid_id: str) -> BidOutcome | None:
    """Under the row lock, before anything else: a retry of an accepted action gets its original answer; then the
    bidder's flags, read in the same statement, so a ban or a lost verification counts even for a queued bid."""
    retry = _retry_of(locked.earlier.get((user.pk, bid_id)), request, bid_id=bid_id)
    if retry is not None:
        return retry
    can_bid, banned = locked.flags.get(user.pk, (False, False))
    check_bidder(user, locked.lot, can_bid=can_bid, banned=banned)
    return None


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
            locked = statements.lock_lot_for_group(
                lot_id=lot_id, requests=[(item.user.pk, item.bid_id) for item in queued]
            )
            now = timezone.now()
            results: list[BidOutcome | BidRefused] = []
            applied = []
            for item in queued:
                request = Request("bid", lot_id, item.amount, item.max_amount)
                try:
                    retry = _locked_checks(locked, item.user, request, bid_id=item.bid_id)
                    if retry is not None:
                        results.append(retry)
                        continue
                    done = _apply_bid(
                        locked.lot,
                        locked.numbers,
                        item.user,
                        now,
                        amount=item.amount,
                        bid_id=item.bid_id,
                        max_amount=item.max_amount,
                        received_at=item.received_at,
                    )
                except BidRefused as refusal:
                    results.append(refusal)
                    continue
                applied.append(done)
                results.append(done.outcome)
                # A retry sent while this one was still queued, later in this very group, finds it here.
                locked.earlier[(item.user.pk, item.bid_id)] = done.recorded_row
            _write_applied(locked.lot, applied, now)
        return results
    except (DatabaseError, Lot.DoesNotExist) as exc:
        log.warning("bid_group_decided_one_by_one", lot_id=lot_id, bids=len(queued), error=repr(exc))
        return [_decided_alone(item) for item in queued]


def _decided_alone(item: QueuedBid) -> BidOutcome | BidRefused:
    try:
        return _guarded(
            _record_bid,
            item.user,
            lot_id=item.lot_id,
            amount=item.amount,
            bid_id=item.bid_id,
            max_amount=item.max_amount,
            received_at=item.received_at,
        )
    except BidRefused as refusal:
        return refusal


def _apply_bid(
    lot: Lot,
    numbers: dict[int | None, int | None],
    user,
    now: datetime,
    *,
    amount: int,
    bid_id: str,
    max_amount: int | None,
    received_at: datetime,
) -> _Applied:
    """Decide one bid against `lot` (row-locked, updated here in memory) and `numbers` (bidder id -> alias on this
    lot, None: none yet; updated too). Raises a BidRefused, leaving both untouched, when the bid cannot stand."""
    check_in_time(received_at, now)
    check_lot_accepts(lot, received_at)
    check_amount(lot, amount)
    decision = proxy.resolve(
        price=lot.high_bid_amount,
        leader_id=lot.high_bidder_id,
        leader_max=lot.leader_max_amount,
        bidder_id=user.pk,
        amount=amount,
        max_amount=max_amount,
        reserve=lot.reserve_price,
    )
    extended = _extend_for_soft_close(lot, now) if decision.steps else False
    bids, texts = [], []
    for step in decision.steps:
        if numbers.get(step.bidder_id) is None:
            lot.bidder_count += 1
            numbers[step.bidder_id] = lot.bidder_count
        lot.seq += 1
        lot.bid_count += 1
        lot.high_bid_amount, lot.high_bidder_id = step.amount, step.bidder_id
        bids.append(
            Bid(
                lot_id=lot.pk,
                bidder_id=step.bidder_id,
                amount=step.amount,
                seq=lot.seq,
                bidder_number=numbers[step.bidder_id],
                created_at=now,
                received_at=received_at,
                kind=Bid.Kind.AUTOMATIC if step.automatic else Bid.Kind.MANUAL,
                outbid_at_once=step.outbid_at_once,
                bid_id=bid_id if step.is_request else None,
                requested_amount=amount if step.is_request else None,
                max_amount=max_amount if step.is_request else None,
            )
        )
        texts.append(
            lot_payloads.encode(
                payloads.high_bid(
                    lot,
                    amount=step.amount,
                    bidder_number=numbers[step.bidder_id],
                    now=now,
                    extended=extended and len(texts) == 0,
                    automatic=step.automatic,
                    outbid_at_once=step.outbid_at_once,
                )
            )
        )
    lot.leader_max_amount = decision.leader_max
    lot.status = Lot.Status.OPEN
    standing_max = lot.leader_max_amount if decision.leader_id == user.pk else None
    request = next((bid for bid in bids if bid.bid_id == bid_id), None)
    maximum_raise = None
    if request is not None:
        request.standing_max = standing_max
        row = (
            lot.pk,
            request.kind,
            amount,
            max_amount,
            request.amount,
            request.seq,
            request.outbid_at_once,
            standing_max,
        )
    else:
        # The leader raised their own maximum: nothing visible changes, so no event and no sequence number; the
        # log keeps it for replay, and for its retries.
        maximum_raise = MaximumRaise(
            lot_id=lot.pk,
            bidder_id=user.pk,
            max_amount=max_amount,
            bid_id=bid_id,
            requested_amount=amount,
            amount=lot.high_bid_amount,
            after_seq=lot.seq,
        )
        row = (lot.pk, "raise", amount, max_amount, lot.high_bid_amount, lot.seq, False, standing_max)
    notices = tuple((user_id, payloads.outbid(lot, now=now)) for user_id in decision.outbid_user_ids)
    outcome = BidOutcome.of(
        Recorded.from_row(row),
        bid_id=bid_id,
        duplicate=False,
        min_next_bid=rules.lot_min_next_bid(lot),
        notices=notices,
    )
    return _Applied(outcome=outcome, bids=bids, texts=texts, maximum_raise=maximum_raise, recorded_row=row)


def _write_applied(lot: Lot, applied: list[_Applied], now: datetime) -> None:
    """Write what `applied` decided, inside the caller's transaction; its events leave after the commit."""
    bids = [bid for done in applied for bid in done.bids]
    texts = [text for done in applied for text in done.texts]
    if bids:
        # A twin with the same bid_id on another lot, committed meanwhile, makes this fail on the unique
        # (bidder, bid_id) constraint; _guarded then answers with the twin's outcome.
        statements.write_decision(
            lot=lot,
            bids=bids,
            event_texts=texts,
            now=now,
            notices=[notice for done in applied for notice in done.outcome.notices],
        )
        lot_events.broadcast_all_on_commit(lot.pk, [(bid.seq, text) for bid, text in zip(bids, texts, strict=False)])
    elif applied:
        Lot.objects.filter(pk=lot.pk).update(leader_max_amount=lot.leader_max_amount, status=lot.status)
    raises = [done.maximum_raise for done in applied if done.maximum_raise is not None]
    if raises:
        MaximumRaise.objects.bulk_create(raises)


def buy_now(*, user, lot_id: int, bid_id: object, received_at: datetime | None = None) -> BidOutcome:
    """End the lot at once at its buy-now price for `user`: offered until the first bid (the simpler rule for
    bidders: once anyone has bid, the auction runs its course). The purchase is a bid row and the lot closes in
    the same transaction, with the usual closing broadcast and notices."""
    received_at = received_at or timezone.now()
    bid_id = check_bid_id(bid_id)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    with lot_lock(lot_id, wait=_wait_left(received_at)):
        return _guarded(
            _record_buy_now, user, lot_id=lot_id, amount=None, bid_id=bid_id, action="buy_now", received_at=received_at
        )


def _record_buy_now(user, *, lot_id: int, bid_id: str, received_at: datetime, **_) -> BidOutcome:
    with transaction.atomic():
        locked = statements.lock_lot_for_decision(lot_id=lot_id, user_id=user.pk, bid_id=bid_id)
        retry = _locked_checks(locked, user, Request("buy_now", lot_id), bid_id=bid_id)
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


abuy_now = database_sync_to_async(buy_now, thread_sensitive=False)


def _wait_left(received_at: datetime) -> float:
    """What is left of a bid's wait for its lot, counted from its receipt."""
    return settings.BID_LOCK_WAIT_SECONDS - (timezone.now() - received_at).total_seconds()


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
