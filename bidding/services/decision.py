"""The locked decision: one bid, a group of queued bids, or a buy now, decided against the lot's row.

Every function here expects the lot's lock held (bidding/locks.py) and takes the row lock itself, inside one
transaction, so a decision stays right even when the lot lock expired: the database decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from auctions import lot_events, rules
from auctions import payloads as lot_payloads
from auctions.exceptions import BidRefused
from auctions.models import Lot
from bidding import payloads, proxy, statements
from bidding.models import Bid, MaximumRaise
from bidding.retries import BidOutcome, Recorded, Request
from bidding.services.checks import check_amount, check_bidder, check_in_time, check_lot_accepts
from bidding.services.precheck import guarded, retry_of

log = structlog.get_logger(__name__)


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


@dataclass(frozen=True)
class _Applied:
    """One bid decided against the locked lot, in memory: what to write, and what to answer."""

    outcome: BidOutcome
    bids: list[Bid]
    texts: list[str]  # the lot events of `bids`, encoded once for the log and the fan-out
    maximum_raise: MaximumRaise | None = None
    recorded_row: tuple = ()  # the action as bidding.retries reads it back, for retries later in the same group


def decide_one(
    user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None, received_at: datetime
) -> BidOutcome:
    """The decision. Expects the lot lock held; takes the row lock, so it stays right if the lot lock expired.

    Two round trips and a commit in the common case: the locked read (with the alias numbers of this bidder and
    of the leader, their flags and their earlier action under this bid_id) and one statement for the lot's new
    state, the bid and its event (bidding/statements/).
    """
    with transaction.atomic():
        locked = statements.lock_lot_for_decision(lot_id=lot_id, user_id=user.pk, bid_id=bid_id)
        retry = locked_checks(locked, user, Request("bid", lot_id, amount, max_amount), bid_id=bid_id)
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


def locked_checks(locked: statements.Locked, user, request: Request, *, bid_id: str) -> BidOutcome | None:
    """Under the row lock, before anything else: a retry of an accepted action gets its original answer; then the
    bidder's flags, read in the same statement, so a ban or a lost verification counts even for a queued bid."""
    retry = retry_of(locked.earlier.get((user.pk, bid_id)), request, bid_id=bid_id)
    if retry is not None:
        return retry
    can_bid, banned = locked.flags.get(user.pk, (False, False))
    check_bidder(user, locked.lot, can_bid=can_bid, banned=banned)
    return None


def decide_group(lot_id: int, queued: list[QueuedBid]) -> list[BidOutcome | BidRefused]:
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
                    retry = locked_checks(locked, item.user, request, bid_id=item.bid_id)
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
        return guarded(
            decide_one,
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
    new_end = None
    if decision.steps:
        new_end = rules.soft_close_end(
            ends_at=lot.ends_at,
            decided_at=now,
            window=lot.soft_close_window,
            extension=lot.soft_close_extension,
            hard_end=lot.hard_end_at,
        )
    extended = new_end is not None
    if extended:
        lot.ends_at = new_end
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
        # (bidder, bid_id) constraint; guarded then answers with the twin's outcome.
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
